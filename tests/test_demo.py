"""The demo looks like a real day: booked to about 90 % of what the medics can do, unique medic
names, the catalogue's durations, and a report that counts what it leaves out. The catalogue is
seeded only when asked (`dripline catalogue seed`, which the demo runs).

Real commands (``api.cli.main``, the one ``dripline`` parser) on real SQLite files; the demo's solve runs in its child
process with a short limit.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import Session, select

from api.cli import main
from dispatch.demo import WEEKDAY, day_input
from dispatch.records.catalogue import seed_services
from dispatch.store.db import make_engine, migrate
from dispatch.store.tables import Medic, Service


def test_generated_weekday_is_about_ninety_percent_booked_with_unique_medic_names() -> None:
    """The generator books a weekday to 0.9 of what the medics on shift can do (within one booking),
    and no two medics share a name."""
    day, made = day_input(WEEKDAY, seed=3)
    assert 0.9 <= made.load < 1.0
    assert made.medics == WEEKDAY.medics and len(day.problem.shifts) == WEEKDAY.medics


def test_demo_names_medics_uniquely_and_reports_counts_by_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dripline demo` prints the unassigned bookings as counts by reason, each one only with
    --verbose; the medics it creates all have different names."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text("[solver]\ntime_limit_s = 2.0\nworkers = 1\n")
    assert main(["demo", "--medics", "6", "--db-file", "demo.db"]) == 0
    quiet = capsys.readouterr().out
    assert "by reason:" in quiet and "(each one, with its reason: --verbose)" in quiet
    assert not re.search(r"^  booking +\d+ part", quiet, re.MULTILINE)
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    with Session(engine) as session:
        names = [m.name for m in session.exec(select(Medic)).all()]
    engine.dispose()
    assert len(names) == 6 == len(set(names))
    assert main(["demo", "--medics", "6", "--db-file", "demo.db", "--verbose"]) == 0
    assert re.search(r"^  booking +\d+ part", capsys.readouterr().out, re.MULTILINE)


def test_catalogue_seed_adds_the_defaults_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`dripline catalogue seed` adds the eight default services to a fresh database, and nothing the second time."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    assert main(["catalogue", "seed", "--db", url]) == 0
    assert "8 default service(s) added, 8 in all" in capsys.readouterr().out
    assert main(["catalogue", "seed", "--db", url]) == 0
    assert "0 default service(s) added, 8 in all" in capsys.readouterr().out
    engine = make_engine(url)
    migrate(engine)
    with Session(engine) as session:
        assert len(session.exec(select(Service)).all()) == 8
        assert seed_services(session) == 0
    engine.dispose()
