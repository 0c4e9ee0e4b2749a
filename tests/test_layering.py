"""Architecture rules, read from the source with ast (nothing is imported).

* routing/ is pure: it imports no database, web framework, scheduler, nor the layers above it.
* Exactly one module imports ortools, and it is routing/solver.py; one imports pyvrp and one vroom
  (routing/pyvrp_seed.py, routing/vroom_seed.py), besides the benchmarks.
* dispatch/ does not import api/.

Every import counts: module level, inside functions, under ``if TYPE_CHECKING:``, and
``importlib.import_module("x")`` / ``__import__("x")`` calls with a literal name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_ROUTING = frozenset({"sqlmodel", "sqlalchemy", "fastapi", "apscheduler", "starlette", "dispatch", "api"})
SKIPPED_DIRS = frozenset({"tests", "__pycache__", "build", "dist", "node_modules"})


def python_files(*packages: str) -> list[Path]:
    """The .py files under the given top-level directories of the repo (those that exist)."""
    return sorted(path for package in packages if (ROOT / package).is_dir() for path in (ROOT / package).rglob("*.py"))


def project_files() -> list[Path]:
    """Every .py file of the repo except the virtualenv, hidden and build directories, and the tests."""
    found = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts[:-1]
        if any(p.startswith(".") or p in SKIPPED_DIRS or p.endswith(".egg-info") for p in parts):
            continue
        found.append(path)
    return sorted(found)


def module_name(path: Path) -> str:
    """Dotted module name of a file under ROOT (a package's __init__ is the package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_in_source(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import in ``source``, which is module ``module``."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append((node.lineno, node.module or ""))
            else:
                base = package[: len(package) - (node.level - 1)]
                found.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def imports_of(path: Path) -> list[tuple[int, str]]:
    return imports_in_source(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def top_level(name: str) -> str:
    return name.split(".")[0]


def where(path: Path, line: int, name: str) -> str:
    return f"{path.relative_to(ROOT)}:{line} imports {name}"


def test_find_imports_nested_and_type_checking() -> None:
    """The import walker sees imports inside functions, TYPE_CHECKING blocks, relative ones and importlib calls."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from sqlmodel import Session\n"
        "def f():\n"
        "    import fastapi.routing\n"
        "    from . import sibling\n"
        "    from ..dispatch import cli\n"
        "    return importlib.import_module('apscheduler')\n"
    )
    names = {name for _, name in imports_in_source(source, "routing.sub.mod")}
    assert {"sqlmodel", "fastapi.routing", "routing.sub", "routing.dispatch", "apscheduler"} <= names


def test_scan_layering_covers_packages() -> None:
    """The scans are not vacuous: they see routing/solver.py, dispatch/ and bench/ files."""
    relative = {path.relative_to(ROOT).as_posix() for path in project_files()}
    assert {"routing/solver.py", "routing/model.py", "dispatch/store/config.py", "bench/solomon_peers.py"} <= relative
    assert not any(name.startswith(("tests/", ".venv/")) for name in relative)


def test_keep_routing_free_of_framework_imports() -> None:
    """No file of routing/ imports a database, web framework, scheduler, dispatch or api, at any depth."""
    files = python_files("routing")
    assert files, "found no .py files under routing/"
    offending = [
        where(path, line, name)
        for path in files
        for line, name in imports_of(path)
        if top_level(name) in FORBIDDEN_IN_ROUTING
    ]
    assert not offending, "routing/ must stay pure, but:\n" + "\n".join(offending)


def test_confine_ortools_import_to_solver() -> None:
    """Exactly one module in the project imports ortools, and it is routing/solver.py."""
    importers: dict[str, list[str]] = {}
    for path in project_files():
        for line, name in imports_of(path):
            if top_level(name) == "ortools":
                importers.setdefault(path.relative_to(ROOT).as_posix(), []).append(where(path, line, name))
    details = "\n".join(item for found in importers.values() for item in found)
    assert list(importers) == ["routing/solver.py"], (
        f"only routing/solver.py may import ortools; importers are {sorted(importers)}:\n{details}"
    )


@pytest.mark.parametrize(("library", "home"), [("pyvrp", "routing/pyvrp_seed.py"), ("vroom", "routing/vroom_seed.py")])
def test_confine_seed_search_imports_to_their_modules(library: str, home: str) -> None:
    """Outside the benchmarks, one module imports each seed search (PyVRP, VROOM): its adapter in routing/."""
    importers = sorted(
        {
            path.relative_to(ROOT).as_posix()
            for path in project_files()
            if not path.relative_to(ROOT).as_posix().startswith("bench/")
            for _, name in imports_of(path)
            if top_level(name) == library
        }
    )
    assert importers == [home], f"only {home} may import {library}; importers are {importers}"


def test_keep_dispatch_free_of_api_imports() -> None:
    """No file of dispatch/ imports the api layer."""
    files = python_files("dispatch")
    assert files, "found no .py files under dispatch/"
    offending = [
        where(path, line, name) for path in files for line, name in imports_of(path) if top_level(name) == "api"
    ]
    assert not offending, "dispatch/ must not import api/, but:\n" + "\n".join(offending)
