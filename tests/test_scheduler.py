"""The scheduler: job configuration, one fire per day across daylight-saving changes, settings validation, the job."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from dispatch.planning.scheduler import NIGHTLY_JOB_ID, add_jobs, build_scheduler, replan, service_day
from dispatch.store.config import SchedulerSettings, Settings

DENVER = ZoneInfo("America/Denver")
URL = "sqlite:///unused.db"
CUTOFFS = ("0 7 * * *", "30 12 * * mon-fri")
#: (first, last) local dates of a walk around each 2026 daylight-saving change in Denver
DST_WALKS = [
    pytest.param(date(2026, 3, 1), date(2026, 3, 15), id="spring-2026-03-08"),
    pytest.param(date(2026, 10, 25), date(2026, 11, 8), id="autumn-2026-11-01"),
]


def settings_with(**scheduler: object) -> Settings:
    return Settings(scheduler=SchedulerSettings(**scheduler))  # type: ignore[arg-type]


@pytest.fixture
def running() -> Iterator[BaseScheduler]:
    """A started (paused) background scheduler with the default jobs plus two cut-offs; shut down afterwards."""
    built = build_scheduler(settings_with(cutoffs=CUTOFFS), URL, BackgroundScheduler)
    built.start(paused=True)
    try:
        yield built
    finally:
        built.shutdown(wait=False)


def fires(expr: str, first: date, last: date) -> list[datetime]:
    """Every fire time of ``expr`` in Denver from ``first`` 00:00 to the end of ``last``, walked as a scheduler does."""
    trigger = CronTrigger.from_crontab(expr, timezone=DENVER)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), DENVER)
    found: list[datetime] = []
    previous, now = None, datetime.combine(first, datetime.min.time(), DENVER)
    while (fire := trigger.get_next_fire_time(previous, now)) is not None and fire < end:
        found.append(fire)
        previous = now = fire
    return found


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# --- job configuration ---------------------------------------------------------------------------------------------


def test_build_scheduler_jobs_hygienic_defaults(running: BaseScheduler) -> None:
    """Explicit ids; coalesce, one instance, six hours of misfire grace; Denver time zone on scheduler and triggers."""
    jobs = running.get_jobs()
    # get_jobs() lists by next run time, which depends on the hour the test runs: compare the ids as a set
    assert sorted(job.id for job in jobs) == sorted([NIGHTLY_JOB_ID, "cutoff-1", "cutoff-2"])
    assert running.timezone == DENVER
    for job in jobs:
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == 6 * 3600
        assert job.trigger.timezone == DENVER
        assert job.next_run_time.tzinfo == DENVER


def test_build_scheduler_job_args_only_url_and_offset(running: BaseScheduler) -> None:
    """Job arguments are the database URL (str) and a day offset (int), nothing else; the job is a module function."""
    offsets = {}
    for job in running.get_jobs():
        assert job.func is replan
        assert job.func_ref == "dispatch.planning.scheduler:replan"
        assert job.kwargs == {}
        url, days_ahead = job.args
        assert type(url) is str and url == URL
        assert type(days_ahead) is int
        offsets[job.id] = days_ahead
    assert offsets == {NIGHTLY_JOB_ID: 1, "cutoff-1": 0, "cutoff-2": 0}


def test_add_jobs_twice_keeps_one_job_each(running: BaseScheduler) -> None:
    """Adding the jobs again replaces them by id: still one job per id; a cut-off no longer configured is dropped."""
    add_jobs(running, SchedulerSettings(cutoffs=CUTOFFS), URL)
    assert Counter(job.id for job in running.get_jobs()) == {NIGHTLY_JOB_ID: 1, "cutoff-1": 1, "cutoff-2": 1}
    add_jobs(running, SchedulerSettings(cutoffs=CUTOFFS[:1]), URL)
    assert sorted(job.id for job in running.get_jobs()) == sorted([NIGHTLY_JOB_ID, "cutoff-1"])


def test_start_scheduler_pending_duplicates_one_job() -> None:
    """Jobs added twice before start are resolved by replace_existing when it starts: one job per id."""
    built = build_scheduler(Settings(), URL, BackgroundScheduler)
    add_jobs(built, SchedulerSettings(), URL)
    built.start(paused=True)
    try:
        assert [job.id for job in built.get_jobs()] == [NIGHTLY_JOB_ID]
    finally:
        built.shutdown(wait=False)


def test_build_scheduler_default_class_blocking() -> None:
    """By default the scheduler is a BlockingScheduler (its own process), built but not started."""
    built = build_scheduler(Settings(), URL)
    assert isinstance(built, BlockingScheduler)
    assert not built.running


# --- one fire per day across daylight-saving changes ---------------------------------------------------------------


@pytest.mark.parametrize(("first", "last"), DST_WALKS)
def test_fire_nightly_once_per_day_across_dst(first: date, last: date) -> None:
    """The default nightly trigger fires exactly once per local date, always at 22:00, across a DST change."""
    found = fires(SchedulerSettings().nightly_cron, first, last)
    assert [fire.date() for fire in found] == days(first, last)
    assert {(fire.hour, fire.minute, fire.second) for fire in found} == {(22, 0, 0)}
    assert len({fire.utcoffset() for fire in found}) == 2, "the walk must cross the change"


@pytest.mark.parametrize(("first", "last"), DST_WALKS)
def test_fire_cutoff_once_per_day_across_dst(first: date, last: date) -> None:
    """A same-day cut-off fires exactly once per local date at its local time across a DST change."""
    found = fires(CUTOFFS[0], first, last)
    assert [fire.date() for fire in found] == days(first, last)
    assert {(fire.hour, fire.minute) for fire in found} == {(7, 0)}


def test_fire_weekday_cutoff_once_per_weekday() -> None:
    """A weekday cut-off fires once on each Monday-Friday and never on a weekend (day names, not numbers)."""
    first, last = date(2026, 3, 1), date(2026, 3, 15)
    found = fires(CUTOFFS[1], first, last)
    assert [fire.date() for fire in found] == [day for day in days(first, last) if day.weekday() < 5]


# --- settings ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("expr", ["30 2 * * *", "0 1 * * *", "0 */2 * * *", "0 22,2 * * *"])
def test_refuse_nightly_in_dst_hole(expr: str) -> None:
    """A nightly time with an hour in 01:00-03:00 is refused, and the error says why."""
    with pytest.raises(ValueError, match=r"nightly_cron.*daylight-saving hole"):
        SchedulerSettings(nightly_cron=expr)


def test_refuse_cutoff_in_dst_hole() -> None:
    """A cut-off in the daylight-saving hole is refused too, naming its position."""
    with pytest.raises(ValueError, match=r"cutoffs\[1\].*daylight-saving"):
        SchedulerSettings(cutoffs=("0 7 * * *", "30 1 * * *"))


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "america/denver", "", "../etc/passwd"])
def test_refuse_scheduler_bad_timezone(zone: str) -> None:
    """An unknown time zone is a ValueError naming the key."""
    with pytest.raises(ValueError, match=r"\[scheduler\] timezone"):
        SchedulerSettings(timezone=zone)


@pytest.mark.parametrize("expr", ["0 22 * *", "61 22 * * *", "0 22 * * xyz", "every night", "0 22 31 2 *"])
def test_refuse_scheduler_bad_crontab(expr: str) -> None:
    """A malformed or never-firing crontab is a ValueError naming the key, for the nightly and for a cut-off."""
    with pytest.raises(ValueError, match=r"\[scheduler\] nightly_cron"):
        SchedulerSettings(nightly_cron=expr)
    with pytest.raises(ValueError, match=r"\[scheduler\] cutoffs\[0\]"):
        SchedulerSettings(cutoffs=(expr,))


def test_refuse_crontab_numeric_weekday() -> None:
    """A numeric day of week is refused: APScheduler 3 reads 0 as Monday where crontab reads Sunday."""
    with pytest.raises(ValueError, match=r"nightly_cron.*names"):
        SchedulerSettings(nightly_cron="0 22 * * 1-5")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"nightly": "0 22 * * *"}, "unknown key"),
        ({"misfire_grace_s": "6h"}, "misfire_grace_s must be a whole number"),
        ({"misfire_grace_s": True}, "misfire_grace_s must be a whole number"),
        ({"misfire_grace_s": 21600.0}, "misfire_grace_s must be a whole number"),
        ({"misfire_grace_s": 1}, "at least 3600"),
        ({"cutoffs": "0 7 * * *"}, "cutoffs must be a list"),
        ({"cutoffs": [700]}, "cutoffs must be a list"),
        ({"timezone": 7}, "timezone must be a string"),
        ({"nightly_cron": ["0 22 * * *"]}, "nightly_cron must be a string"),
    ],
)
def test_refuse_scheduler_table_bad_keys_types(table: dict[str, object], message: str) -> None:
    """Unknown keys and wrong types in [scheduler] are ValueErrors naming the key."""
    with pytest.raises(ValueError, match=message):
        SchedulerSettings.from_mapping(table)


def test_load_scheduler_table_from_toml(tmp_path: Path) -> None:
    """A [scheduler] table in config.toml sets just those keys; the TOML array of cut-offs becomes a tuple."""
    path = tmp_path / "config.toml"
    path.write_text('[scheduler]\ntimezone = "America/Chicago"\ncutoffs = ["0 7 * * *"]\n', encoding="utf-8")
    assert Settings.load(path).scheduler == SchedulerSettings(timezone="America/Chicago", cutoffs=("0 7 * * *",))
    path.write_text('[scheduler]\nnightly_cron = "30 2 * * *"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="daylight-saving"):
        Settings.load(path)


# --- the job -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "days_ahead", "expected"),
    [
        (datetime(2026, 3, 7, 22, 0, tzinfo=DENVER), 1, date(2026, 3, 8)),
        (datetime(2026, 3, 8, 0, 30, tzinfo=DENVER), 1, date(2026, 3, 8)),  # late run of the 03-07 nightly
        (datetime(2026, 3, 8, 12, 0, tzinfo=DENVER), 1, date(2026, 3, 9)),  # outside any run: today + 1
        (datetime(2026, 11, 1, 7, 5, tzinfo=DENVER), 0, date(2026, 11, 1)),
    ],
)
def test_compute_service_day_from_scheduled_date(now: datetime, days_ahead: int, expected: date) -> None:
    """The day counts from the run's scheduled local date: a run delayed past midnight plans the same day."""
    assert service_day(SchedulerSettings(cutoffs=CUTOFFS), days_ahead, now) == expected


def test_replan_failure_logs_type_only(caplog: pytest.LogCaptureFixture) -> None:
    """A failing re-plan does not raise; it logs the exception type, never the URL or its password."""
    build_scheduler(Settings(), URL, BackgroundScheduler)  # registers the settings the job reads
    with caplog.at_level(logging.DEBUG):
        replan("nosuchdb://nurse:hunter2@127.0.0.1:1/dripline", 1)  # an unknown dialect: fails at once
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].name == "dispatch.planning.scheduler"
    assert "failed" in errors[0].getMessage() and errors[0].exc_info is None
    assert "hunter2" not in caplog.text


def test_replan_empty_database_logs_status(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """On an empty, migrated SQLite database the job runs plan_day for real, logs a status and raises nothing."""
    from dispatch.store.db import make_engine, migrate

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    build_scheduler(Settings(), url, BackgroundScheduler)
    with caplog.at_level(logging.INFO, logger="dispatch.planning.scheduler"):
        replan(url, 1)
    messages = [record for record in caplog.records if record.name == "dispatch.planning.scheduler"]
    assert [record.levelno for record in messages] == [logging.INFO], caplog.text
    assert "re-plan of" in messages[0].getMessage()
