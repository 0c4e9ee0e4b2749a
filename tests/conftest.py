"""Fixtures and hooks: a fresh database per test, and a throwaway PostgreSQL when none is given.

Helpers that tests import live in :mod:`tests.helpers`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dispatch.store.db import make_engine, migrate

# --------------------------------------------------------------------- databases for dispatch tests

POSTGRES_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "postgres.sh"
_started_postgres: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    """With no $DRIPLINE_TEST_POSTGRES_URL, start a throwaway PostgreSQL (scripts/postgres.sh, with the machine's
    initdb and pg_ctl) for this run, so that the README's test command tests both databases, as CI does. Without
    initdb on the machine the PostgreSQL tests skip and say why."""
    if os.environ.get("DRIPLINE_TEST_POSTGRES_URL") or not POSTGRES_SCRIPT.is_file():
        return
    folder = Path(tempfile.mkdtemp(prefix="dripline-test-pg."))
    started = subprocess.run(["bash", str(POSTGRES_SCRIPT), "start", str(folder)], capture_output=True, text=True)
    prefix = "export DRIPLINE_TEST_POSTGRES_URL="
    url = next((line[len(prefix) :] for line in started.stdout.splitlines() if line.startswith(prefix)), None)
    if started.returncode != 0 or url is None:
        shutil.rmtree(folder, ignore_errors=True)
        return
    os.environ["DRIPLINE_TEST_POSTGRES_URL"] = url
    _started_postgres.append(folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the PostgreSQL this run started, if any, and remove its files."""
    while _started_postgres:
        folder = _started_postgres.pop()
        subprocess.run(["bash", str(POSTGRES_SCRIPT), "stop", str(folder)], capture_output=True, check=False)
        os.environ.pop("DRIPLINE_TEST_POSTGRES_URL", None)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated database per test: an SQLite file, or a new database on
    the PostgreSQL server named by $DRIPLINE_TEST_POSTGRES_URL (CI starts one)."""
    if request.param == "sqlite":
        fresh = make_engine(f"sqlite:///{tmp_path / 'dispatch.db'}")
        migrate(fresh)
        yield fresh
        fresh.dispose()
        return
    url = os.environ.get("DRIPLINE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set DRIPLINE_TEST_POSTGRES_URL (scripts/postgres.sh starts one)")
    name = f"dripline_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    fresh = make_engine(url.rsplit("/", 1)[0] + "/" + name)
    try:
        migrate(fresh)
        yield fresh
    finally:
        fresh.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
