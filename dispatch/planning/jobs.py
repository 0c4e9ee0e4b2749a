"""Re-plans asked for through the API, and the published plans, for reading.

A request to re-plan a day becomes a :class:`~dispatch.store.tables.PlanJob` row and runs in a process
of its own (:func:`start_plan_job`), which :func:`~dispatch.planning.day.plan_day` leaves only to
solve, in a child with a hard timeout. A re-plan is seconds of pure Python (loading hundreds of
bookings, checking the result, storing every stop); in the API's process it would hold the
interpreter's lock and stall every medic's sheet read while it ran. The job's row is in the database, so
any API worker can answer a poll. One job per day is live at a time: the row's ``live_date`` is
unique while it is queued or running. A job left behind by a killed process is reclaimed once
it is older than any re-plan can take (:func:`job_stale_after`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dispatch.planning.day import HARD_TIMEOUT_GRACE_S, QUEUE_PATIENCE, Solver, plan_day, published_plan
from dispatch.planning.leases import lease_held, release_leases_of
from dispatch.planning.processes import holder_gone, process_tag
from dispatch.planning.sheets import changes_since_publish
from dispatch.records.validation import Conflict, NotFound
from dispatch.store.config import Settings
from dispatch.store.db import make_engine, session_scope
from dispatch.store.tables import (
    Plan,
    PlanIdleMedic,
    PlanJob,
    PlanJobStatus,
    PlanRoute,
    PlanStop,
    PlanUnassigned,
    now_utc,
)

log = logging.getLogger(__name__)

LIVE = frozenset({PlanJobStatus.QUEUED, PlanJobStatus.RUNNING})
THREAD_PREFIX = "dripline-plan-job-"


def job_stale_after(settings: Settings) -> timedelta:
    """Longer than any re-plan can take: its wait for a slot (see :func:`~dispatch.planning.day.plan_day`), the
    solver's limit, the hard-timeout grace, and loading the day."""
    one_replan = settings.solver.longest_s + HARD_TIMEOUT_GRACE_S + 60
    return timedelta(seconds=(QUEUE_PATIENCE + 1) * one_replan + 300)


def enqueue_plan_job(
    session: Session,
    *,
    day: date,
    actor_user_id: int | None,
    stale_after: timedelta,
    now: datetime | None = None,
) -> PlanJob:
    """A queued job for ``day``; a :class:`Conflict` if one is queued or running, or the day's lease is held.

    On a Conflict the session must be rolled back (the failed insert leaves it unusable).
    """
    now = now or now_utc()
    reclaimed = session.exec(
        update(PlanJob)
        .where(col(PlanJob.live_date).is_not(None))
        .where(col(PlanJob.created_at) < now - stale_after)
        .values(
            status=PlanJobStatus.FAILED,
            detail="abandoned: the process running it stopped",
            live_date=None,
            finished_at=now,
        )
    )
    if reclaimed.rowcount:
        log.warning("plan jobs: reclaimed %s abandoned job(s)", reclaimed.rowcount)
    for job in session.exec(select(PlanJob).where(col(PlanJob.live_date).is_not(None))).all():
        _fail_if_gone(session, job, now)
    if lease_held(session, day):
        raise Conflict("a re-plan of this day is already running")
    job = PlanJob(id=uuid.uuid4().hex, service_date=day, live_date=day, requested_by=actor_user_id, created_at=now)
    session.add(job)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("a re-plan of this day is already queued or running") from None
    return job


def _fail_if_gone(session: Session, job: PlanJob, now: datetime) -> bool:
    """Mark a live job whose process has ended as failed, and free what that process held."""
    if job.live_date is None or holder_gone(job.worker) is not True:
        return False
    assert job.worker is not None
    log.warning("plan job %s: its process has ended; the job is failed and its lease released", job.id)
    job.status, job.live_date, job.finished_at = PlanJobStatus.FAILED, None, now
    job.detail = "abandoned: the process running it ended before it finished"
    session.add(job)
    release_leases_of(session, job.worker)
    return True


def get_plan_job(session: Session, *, job_id: str) -> PlanJob:
    """The job; one whose process has ended (kill -9, a full disk) reads failed from now on, and its day is free."""
    job = session.get(PlanJob, job_id)
    if job is None:
        raise NotFound("plan job")
    if _fail_if_gone(session, job, now_utc()):
        try:
            session.commit()
        except Exception as error:  # the database takes no writes: say what is true, and try again next poll
            log.error("plan job %s: could not record its failure: %s", job_id, type(error).__name__)
            session.rollback()
            job = session.get(PlanJob, job_id) or job
            session.expunge(job)
            job.status, job.detail = PlanJobStatus.FAILED, "abandoned: the process running it ended before it finished"
    return job


def run_plan_job(engine: Engine, *, job_id: str, settings: Settings, solver: Solver | None = None) -> PlanJob | None:
    """Run a queued job to its end and record the outcome; never raises (it runs in a thread of its own)."""
    try:
        with session_scope(engine) as session:
            job = session.get(PlanJob, job_id)
            if job is None or job.status is not PlanJobStatus.QUEUED:
                return job
            job.status, job.started_at, job.worker = PlanJobStatus.RUNNING, now_utc(), process_tag()
            session.add(job)
            day, actor = job.service_date, job.requested_by
    except Exception as error:
        log.error("plan job %s: could not start: %s", job_id, type(error).__name__)
        return None
    status, plan_id, version = PlanJobStatus.FAILED, None, None
    try:
        outcome = plan_day(
            engine, day, settings, actor_user_id=actor, solver=solver, waiting=lambda: _note_queued(engine, job_id)
        )
        status, plan_id, version = PlanJobStatus(outcome.status), outcome.plan_id, outcome.version
        detail = outcome.detail
    except Exception as error:
        log.error("plan job %s failed: %s", job_id, type(error).__name__)
        detail = f"internal_error: {type(error).__name__}"
    try:
        with session_scope(engine) as session:
            session.exec(
                update(PlanJob)
                .where(col(PlanJob.id) == job_id)
                .values(
                    status=status,
                    plan_id=plan_id,
                    plan_version=version,
                    detail=detail[:500],
                    live_date=None,
                    finished_at=now_utc(),
                )
            )
            return session.get(PlanJob, job_id)
    except Exception as error:  # the row stays live until it is reclaimed as abandoned
        log.error("plan job %s: could not record the outcome: %s", job_id, type(error).__name__)
        return None


#: how much the re-plan yields the CPU to the API (added to the process's nice value; its solve inherits it)
REPLAN_NICENESS = 10


def _run_plan_job_process(url: str, job_id: str, settings: Settings) -> None:
    """The job process: its own engine on the same database, then :func:`run_plan_job`.

    It runs at a lower CPU priority: a re-plan is batch work with minutes to spare, while a medic
    opening a sheet is waiting for it. On a small machine the solve would otherwise take a core
    from the API just when every phone asks for the new plan.
    """
    os.nice(REPLAN_NICENESS)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    engine = make_engine(url)
    try:
        run_plan_job(engine, job_id=job_id, settings=settings)
    finally:
        engine.dispose()


def _note_queued(engine: Engine, job_id: str) -> None:
    """Say on the job that it waits for a re-plan slot ([planning] max_concurrent_replans)."""
    try:
        with session_scope(engine) as session:
            session.exec(
                update(PlanJob)
                .where(col(PlanJob.id) == job_id)
                .values(detail="queued: waiting for a free re-plan slot ([planning] max_concurrent_replans)")
            )
    except Exception as error:  # only a progress note
        log.warning("plan job %s: could not note the wait: %s", job_id, type(error).__name__)


def _record_worker(engine: Engine, job_id: str, worker: str) -> None:
    """Name the job's process as soon as it exists, so a kill before it starts work is seen too."""
    try:
        with session_scope(engine) as session:
            session.exec(
                update(PlanJob)
                .where(col(PlanJob.id) == job_id)
                .where(col(PlanJob.worker).is_(None))
                .values(worker=worker)
            )
    except Exception as error:  # the job process records itself once it starts
        log.warning("plan job %s: could not record its process: %s", job_id, type(error).__name__)


def _fail_live_job(engine: Engine, job_id: str, detail: str, worker: str | None = None) -> None:
    """Record a job whose process ended without recording an outcome as failed, and free the lease and slot
    that process held, so the day is free again."""
    try:
        with session_scope(engine) as session:
            failed = session.exec(
                update(PlanJob)
                .where(col(PlanJob.id) == job_id)
                .where(col(PlanJob.live_date).is_not(None))
                .values(status=PlanJobStatus.FAILED, detail=detail, live_date=None, finished_at=now_utc())
            )
            if failed.rowcount and worker is not None:
                release_leases_of(session, worker)
    except Exception as error:  # the row stays live until it is reclaimed as abandoned
        log.error("plan job %s: could not record its failure: %s", job_id, type(error).__name__)


def _watch(process: multiprocessing.process.BaseProcess, engine: Engine, job_id: str, worker: str) -> None:
    """Wait for the job's process; if it ended with the job still live (killed, crashed, or it could not
    write its outcome, as on a full disk, and exited 0), the job is failed."""
    process.join()
    if process.exitcode != 0:
        log.error("plan job %s: its process ended with exit code %s", job_id, process.exitcode)
    _fail_live_job(
        engine, job_id, f"internal_error: the re-plan process ended with exit code {process.exitcode}", worker
    )


def start_plan_job(
    engine: Engine, *, job_id: str, settings: Settings, solver: Solver | None = None
) -> threading.Thread:
    """Start the job, and a daemon thread that waits for it (join the thread to wait for the job).

    With the default solver the job runs in a spawned process of its own; if that process cannot
    start, or ends without recording an outcome, the job is recorded as failed. A ``solver`` given
    here (the tests' in-process solve) cannot be handed to another process, so that job runs in the
    thread.
    """
    name = f"{THREAD_PREFIX}{job_id[:12]}"
    if solver is not None:
        kwargs = {"engine": engine, "job_id": job_id, "settings": settings, "solver": solver}
        thread = threading.Thread(target=run_plan_job, kwargs=kwargs, name=name, daemon=True)
        thread.start()
        return thread
    url = engine.url.render_as_string(hide_password=False)
    process = multiprocessing.get_context("spawn").Process(
        target=_run_plan_job_process, args=(url, job_id, settings), name=name
    )
    try:
        process.start()  # not a daemon: its own solve runs in a child process, which a daemon may not have
    except Exception as error:
        log.error("plan job %s: could not start its process: %s", job_id, type(error).__name__)
        _fail_live_job(engine, job_id, f"internal_error: could not start the re-plan process ({type(error).__name__})")
        thread = threading.Thread(target=lambda: None, name=name, daemon=True)
    else:
        worker = process_tag(process.pid)
        _record_worker(engine, job_id, worker)
        thread = threading.Thread(target=_watch, args=(process, engine, job_id, worker), name=name, daemon=True)
    thread.start()
    return thread


# --------------------------------------------------------------------- reading plans


@dataclass(frozen=True)
class PlanView:
    """A published plan: its routes, each route's stops in order, and what was left unassigned."""

    plan: Plan
    routes: list[PlanRoute]
    stops: dict[int, list[PlanStop]] = field(default_factory=dict)
    unassigned: list[PlanUnassigned] = field(default_factory=list)
    #: medics on shift without a route, and why
    idle: list[PlanIdleMedic] = field(default_factory=list)
    #: bookings on its routes that changed since publish, and how (see :mod:`dispatch.planning.sheets`)
    changes: list[tuple[int, str]] = field(default_factory=list)


def plan_versions(session: Session, *, day: date) -> list[Plan]:
    """Every version of ``day``'s plan, oldest first: published, superseded, failed and drafts."""
    return list(session.exec(select(Plan).where(Plan.service_date == day).order_by(col(Plan.version))))


def published_plan_view(session: Session, *, day: date) -> PlanView:
    plan = published_plan(session, day)
    if plan is None or plan.id is None:
        raise NotFound("plan")
    routes = list(session.exec(select(PlanRoute).where(PlanRoute.plan_id == plan.id).order_by(col(PlanRoute.medic_id))))
    stops: dict[int, list[PlanStop]] = defaultdict(list)
    for stop in session.exec(
        select(PlanStop).where(PlanStop.plan_id == plan.id).order_by(col(PlanStop.medic_id), col(PlanStop.sequence))
    ):
        stops[stop.medic_id].append(stop)
    unassigned = list(
        session.exec(
            select(PlanUnassigned)
            .where(PlanUnassigned.plan_id == plan.id)
            .order_by(col(PlanUnassigned.booking_id), col(PlanUnassigned.part))
        )
    )
    idle = list(
        session.exec(
            select(PlanIdleMedic).where(PlanIdleMedic.plan_id == plan.id).order_by(col(PlanIdleMedic.medic_id))
        )
    )
    return PlanView(plan, routes, dict(stops), unassigned, idle, changes_since_publish(session, plan.id))
