"""Architecture rules, read from the source with ast (nothing is imported).

* routing/ is pure: it imports no database, web framework, scheduler, nor the layers above it.
* Exactly one module imports ortools, and it is routing/solver.py; one imports pyvrp and one vroom
  (routing/pyvrp_seed.py, routing/vroom_seed.py), besides the benchmarks.
* dispatch/ does not import api/, and api/ imports no solver (ortools, pyvrp, vroom) nor the scheduler.
* Inside dispatch/, sub-packages import downwards only (store, rules, records, access, planning, then
  intake, demo, roads and cli), except for the few edges named in ``UPWARD``, each with its reason.
* No module imports itself through a circle of imports.

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


def _project_module_graph() -> dict[str, set[str]]:
    """Each project module, and the project modules it imports (an import of a name inside a module counts
    as an import of that module)."""
    modules = {module_name(path): path for path in project_files()}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for _, name in imports_of(path):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_circle() -> None:
    """The cycle finder is not vacuous: a -> b -> c -> a is one circle, and d beside it is none."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_through_a_circle() -> None:
    """No circle of imports among the project's modules (routing, dispatch, api, bench), lazy ones included."""
    assert _cycles(_project_module_graph()) == []


#: dispatch's sub-packages, lowest first: each may import those before it
DISPATCH_ORDER = ["store", "rules", "records", "access", "planning", "intake", "demo", "roads", "cli"]
#: the only imports that go up the order, and why
UPWARD = {
    ("dispatch.store.config", "dispatch.rules.eligibility"): "the settings carry [credentials], the rule's data",
    ("dispatch.records.roster", "dispatch.access.revocation"): "deactivating a medic ends their access at once",
    ("dispatch.records.bookings", "dispatch.planning.sheets"): "an edit refreshes the published sheets it touches",
    ("dispatch.records.places", "dispatch.planning.sheets"): "an edit refreshes the published sheets it touches",
    ("dispatch.records.roster", "dispatch.planning.sheets"): "an edit refreshes the published sheets it touches",
}


def _rank(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "dispatch" or len(parts) < 2:
        return None
    return DISPATCH_ORDER.index(parts[1]) if parts[1] in DISPATCH_ORDER else None


def test_dispatch_subpackages_import_downwards() -> None:
    """A dispatch sub-package imports only those below it, but for the edges named in UPWARD."""
    graph = _project_module_graph()
    unplaced = sorted(m for m in graph if m.startswith("dispatch.") and _rank(m) is None)
    assert unplaced == [], f"every dispatch module belongs to a sub-package of DISPATCH_ORDER: {unplaced}"
    upward = {
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if (low := _rank(module)) is not None and (high := _rank(target)) is not None and high > low
    }
    assert sorted(upward - set(UPWARD)) == []
    assert sorted(set(UPWARD) - upward) == [], "an edge in UPWARD is gone: take it out"


def test_keep_api_free_of_solver_and_scheduler_imports() -> None:
    """No file of api/ imports ortools, pyvrp, vroom or apscheduler: it calls dispatch's services."""
    forbidden = {"ortools", "pyvrp", "vroom", "apscheduler"}
    offending = [
        where(path, line, name)
        for path in python_files("api")
        for line, name in imports_of(path)
        if top_level(name) in forbidden
    ]
    assert offending == []
