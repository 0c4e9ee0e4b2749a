"""The scheduler process: the nightly re-plan of the next day and the optional same-day batch cut-offs.

Run it as its own process (``dripline scheduler``), never inside the API workers: each worker would run every job.
Rule 11 of the reliability rules: an explicit time zone; coalesce, one instance at a time and hours of misfire grace;
explicit job ids with ``replace_existing``; job arguments hold no patient data (only the database URL and a day
offset); no job in the 01:00-03:00 daylight-saving hole (:class:`~dispatch.store.config.SchedulerSettings` refuses it).
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from dispatch.store.config import SchedulerSettings, Settings

log = logging.getLogger(__name__)

NIGHTLY_JOB_ID = "nightly-replan"
CUTOFF_JOB_PREFIX = "cutoff-"

#: The settings of this process's scheduler, set by :func:`build_scheduler` (one scheduler per process). Jobs read
#: them here instead of carrying them in their arguments.
_settings: Settings | None = None


@dataclass(frozen=True)
class JobSpec:
    """One scheduled re-plan: its job id, its crontab, and which day it plans (days after the run's date)."""

    job_id: str
    crontab: str
    days_ahead: int


def job_specs(config: SchedulerSettings) -> list[JobSpec]:
    """The nightly re-plan of the next day, then each cut-off (``cutoff-1``, ...) re-planning the same day."""
    specs = [JobSpec(NIGHTLY_JOB_ID, config.nightly_cron, 1)]
    specs += [JobSpec(f"{CUTOFF_JOB_PREFIX}{n}", expr, 0) for n, expr in enumerate(config.cutoffs, start=1)]
    return specs


def build_scheduler(
    settings: Settings, engine_url: str, scheduler_class: type[BaseScheduler] = BlockingScheduler
) -> BaseScheduler:
    """A scheduler (not started) in the configured time zone, with the re-plan jobs of ``settings`` added."""
    global _settings
    _settings = settings
    config = settings.scheduler
    scheduler = scheduler_class(
        timezone=ZoneInfo(config.timezone),
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": config.misfire_grace_s},
    )
    add_jobs(scheduler, config, engine_url)
    return scheduler


def add_jobs(scheduler: BaseScheduler, config: SchedulerSettings, engine_url: str) -> None:
    """Add (or replace, by id) the re-plan jobs; drop cut-off jobs no longer configured. Safe to call again."""
    zone = ZoneInfo(config.timezone)
    specs = job_specs(config)
    wanted = {spec.job_id for spec in specs}
    for job in scheduler.get_jobs():
        if job.id.startswith(CUTOFF_JOB_PREFIX) and job.id not in wanted:
            scheduler.remove_job(job.id)
    for spec in specs:
        scheduler.add_job(
            replan,
            CronTrigger.from_crontab(spec.crontab, timezone=zone),
            args=(engine_url, spec.days_ahead),
            id=spec.job_id,
            name=spec.job_id,
            replace_existing=True,
        )


def service_day(config: SchedulerSettings, days_ahead: int, now: datetime | None = None) -> date:
    """The day a run re-plans: the local date of its scheduled fire time plus ``days_ahead``.

    A delayed run may start after midnight (up to the misfire grace late), so the date is that of the latest
    scheduled fire, within the grace, of a job with this offset; a run outside any schedule uses today.
    """
    zone = ZoneInfo(config.timezone)
    now = (now or datetime.now(zone)).astimezone(zone)
    earliest = now.astimezone(UTC) - timedelta(seconds=config.misfire_grace_s)
    latest: datetime | None = None
    for spec in job_specs(config):
        if spec.days_ahead != days_ahead:
            continue
        trigger = CronTrigger.from_crontab(spec.crontab, timezone=zone)
        fire = trigger.get_next_fire_time(None, earliest)
        while fire is not None and fire <= now:
            if latest is None or fire > latest:
                latest = fire
            fire = trigger.get_next_fire_time(fire, fire)
    anchor = (latest or now).astimezone(zone)
    return anchor.date() + timedelta(days=days_ahead)


def replan(engine_url: str, days_ahead: int) -> None:
    """The job: re-plan the service day ``days_ahead`` after the run's date. Logs ids and status only; never raises."""
    day: date | None = None
    try:
        settings = _settings if _settings is not None else Settings.load()
        day = service_day(settings.scheduler, days_ahead)
        from dispatch.planning import day as planning  # lazy: the scheduler module imports without the planner
        from dispatch.store.db import make_engine

        engine = make_engine(engine_url)
        try:
            outcome = planning.plan_day(engine, day, settings)
        finally:
            engine.dispose()
        level = logging.WARNING if getattr(outcome, "status", None) == "failed" else logging.INFO
        log.log(level, "re-plan of %s (days_ahead=%d): %s", day, days_ahead, _describe(outcome))
    except Exception as error:  # a job must not raise: log the type only (a message may hold data or a password)
        log.error("re-plan of %s (days_ahead=%d) failed: %s", day or "?", days_ahead, type(error).__name__)


def _describe(outcome: Any) -> str:
    """Status and ids of a plan outcome, never its content."""
    parts = []
    for name in ("status", "plan_id", "version"):
        value = getattr(outcome, name, None)
        value = getattr(value, "value", value)  # an Enum's value
        if isinstance(value, str | int) and not isinstance(value, bool):
            parts.append(f"{name}={value}")
    return " ".join(parts) or type(outcome).__name__


def run_scheduler(settings: Settings, engine_url: str) -> None:
    """Run the blocking scheduler in this process until Ctrl-C or SIGTERM, then wait for a running job to end."""
    scheduler = build_scheduler(settings, engine_url)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_signal)
    ids = ", ".join(spec.job_id for spec in job_specs(settings.scheduler))
    log.info("scheduler starting in %s with jobs %s", settings.scheduler.timezone, ids)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopping")
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=True)


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
