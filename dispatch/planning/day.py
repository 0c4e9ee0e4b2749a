"""Plan a service day and publish it without ever damaging the published plan.

:func:`plan_day` takes a lease on the day (so one re-plan runs at a time,
across processes), builds the problem, and skips the solve when the input is
unchanged since the published version. Otherwise it solves in a child process
with a hard timeout, runs the independent checker, stores a draft, and
publishes it in one short transaction. Any failure (solver crash, timeout, a
result the checker rejects, a database error) leaves the published version as
it was; where the database still works, the failure is recorded as a
``failed`` version with an error code.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import json
import logging
import multiprocessing
import os
import re
import resource
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch.access.audit import append_event
from dispatch.planning.leases import acquire_lease, release_lease, release_slot, renew_lease, wait_for_slot
from dispatch.planning.processes import process_tag
from dispatch.planning.sheets import store_sheets
from dispatch.planning.translate import DayInput, build_day, result_rows
from dispatch.records.bookings import bookings_on
from dispatch.store.config import Settings
from dispatch.store.db import session_scope, use_key
from dispatch.store.tables import (
    Booking,
    BookingStatus,
    Plan,
    PlanIdleMedic,
    PlanRoute,
    PlanStatus,
    PlanStop,
    PlanUnassigned,
)
from routing import Problem, Result, SolveParams, solve
from routing.check import check

log = logging.getLogger(__name__)

#: time allowed beyond the solver's own limit before the child is killed
HARD_TIMEOUT_GRACE_S = 20.0
#: a queued re-plan waits this many re-plans' longest time for a slot, then fails (the nightly run retries)
QUEUE_PATIENCE = 3

Solver = Callable[[Problem, SolveParams, float], Result]
FaultHook = Callable[[str], None]


class PlanningFailure(Exception):
    """A re-plan that did not publish; ``code`` says why, without patient data."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class PlanOutcome:
    """``status`` is published, unchanged, busy or failed."""

    status: str
    day: date
    plan_id: int | None = None
    version: int | None = None
    detail: str = ""
    timings: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------- solving in a child process


#: what a process writes as it dies of a failed allocation past its address-space limit: C++ code
#: (OR-Tools, VROOM) throws std::bad_alloc, which nobody catches, glibc cannot make a thread's
#: storage, or Python raises MemoryError where it cannot even report it
OUT_OF_MEMORY_WORDS = re.compile(r"bad_alloc|cannot allocate memory|out of memory|MemoryError", re.IGNORECASE)


PR_SET_PDEATHSIG = 1  # prctl(2): the signal the kernel sends a process when its parent ends


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent ends, so a killed re-plan leaves no solve behind
    holding a core and memory past its slot (elsewhere the hard timeout still ends it)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _child_main(problem: Problem, params: SolveParams, sender: Any, memory_mb: int | None, stderr_path: str) -> None:
    os.setpgrp()  # its own process group, so a timeout kills the solver's workers too
    if sys.platform == "linux":
        _die_with_parent()
    # what a dying solver prints (C++ aborts say why here) goes where the parent can read it
    os.dup2(os.open(stderr_path, os.O_WRONLY | os.O_APPEND), 2)
    try:
        if memory_mb is not None:
            # the limit is per process and the search's worker processes inherit it: share the budget out
            processes = 1 + (params.worker_count if params.worker_count > 1 else 0)
            limit = memory_mb * 2**20 // processes
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        sender.send(("ok", solve(problem, params)))
    except MemoryError:
        sender.send(("out_of_memory", ""))
    except OSError as error:  # a worker process or a mapping that the limit refused
        sender.send(("out_of_memory", "") if error.errno == errno.ENOMEM else ("error", type(error).__name__))
    except BaseException as error:  # report, never hang the parent
        sender.send(("error", type(error).__name__))
    finally:
        sender.close()


def _last_words(path: str) -> str:
    with contextlib.suppress(OSError), open(path, "rb") as file:
        file.seek(max(0, os.path.getsize(path) - 4096))
        return file.read().decode(errors="replace")
    return ""


def solve_in_child(problem: Problem, params: SolveParams, timeout_s: float, *, memory_mb: int | None = None) -> Result:
    """Solve in a fresh process; kill it (and its workers) after ``timeout_s``.

    ``memory_mb`` limits the child's address space (``RLIMIT_AS``): a solve that would need more fails
    with ``solver_out_of_memory`` instead of taking the machine's memory from the API and the database.
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    with tempfile.NamedTemporaryFile(prefix="dripline-solve-", suffix=".stderr", delete=False) as stderr_file:
        stderr_path = stderr_file.name
    process = context.Process(
        target=_child_main, args=(problem, params, sender, memory_mb, stderr_path), name="dripline-solve"
    )
    try:
        process.start()
        sender.close()
        if not receiver.poll(timeout_s):
            raise PlanningFailure("solver_timeout", f"no result within {timeout_s:.0f} s")
        status, payload = receiver.recv()
    except EOFError:
        process.join(5)
        if memory_mb is not None and OUT_OF_MEMORY_WORDS.search(_last_words(stderr_path)):
            raise PlanningFailure(
                "solver_out_of_memory", f"the solve needed more than {memory_mb} MB ([planning] solver_memory_mb)"
            ) from None
        raise PlanningFailure("solver_crashed", f"the solver process exited with {process.exitcode}") from None
    finally:
        if process.pid is not None and process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.join(5)
        receiver.close()
        _last_words_seen = _last_words(stderr_path)
        with contextlib.suppress(OSError):
            os.unlink(stderr_path)
    if status == "error" and memory_mb is not None and OUT_OF_MEMORY_WORDS.search(_last_words_seen):
        status = "out_of_memory"  # a search worker died of it, and the pool reported a broken pool
    if status == "out_of_memory":
        raise PlanningFailure(
            "solver_out_of_memory", f"the solve needed more than {memory_mb} MB ([planning] solver_memory_mb)"
        )
    if status != "ok":
        raise PlanningFailure("solver_error", str(payload))
    return payload  # type: ignore[no-any-return]


# --------------------------------------------------------------------- plan_day


def published_plan(session: Session, day: date) -> Plan | None:
    return session.exec(select(Plan).where(Plan.service_date == day).where(Plan.status == PlanStatus.PUBLISHED)).first()


def plan_day(
    engine: Engine,
    day: date,
    settings: Settings,
    *,
    solver: Solver | None = None,
    holder: str | None = None,
    fault: FaultHook | None = None,
    actor_user_id: int | None = None,
    waiting: Callable[[], None] | None = None,
) -> PlanOutcome:
    """Plan ``day`` and publish it, or leave the published plan untouched.

    ``solver`` defaults to :func:`solve_in_child` under ``[planning] solver_memory_mb``.
    ``fault`` is a fault-injection point for tests: it is called with the name
    of each stage ("draft", "publish") and may raise. ``actor_user_id`` is the
    account that asked for the re-plan, recorded in the publish audit event
    (None: the system, e.g. the scheduler or the CLI). ``waiting`` is called if
    the re-plan has to queue for one of the ``[planning] max_concurrent_replans``
    slots.
    """
    use_key(engine, settings.audit.key)  # the publish's audit event is keyed like every other
    if solver is None:
        solver = functools.partial(solve_in_child, memory_mb=settings.planning.solver_memory_mb)
    holder = holder or f"{process_tag()}:{uuid.uuid4().hex[:8]}"
    hard_timeout = settings.solver.longest_s + HARD_TIMEOUT_GRACE_S
    ttl = timedelta(seconds=hard_timeout + 60)
    if not acquire_lease(engine, day, holder, ttl):
        log.info("plan %s: another re-plan holds the lease", day)
        return PlanOutcome("busy", day, detail="another re-plan of this day is running")
    timings: dict[str, float] = {}
    slot: int | None = None
    try:
        clock = time.perf_counter()
        slot = wait_for_slot(
            engine,
            holder,
            slots=settings.planning.max_concurrent_replans,
            ttl=ttl,
            patience_s=QUEUE_PATIENCE * (hard_timeout + 60),
            waiting=waiting,
            keep_alive=lambda: renew_lease(engine, day, holder, ttl),
        )
        timings["queued_s"] = time.perf_counter() - clock
        if slot is None:
            detail = f"no re-plan slot came free within {QUEUE_PATIENCE * (hard_timeout + 60):.0f} s"
            log.warning("plan %s failed: replan_queue_full", day)
            return PlanOutcome("failed", day, detail=f"replan_queue_full: {detail}", timings=timings)
        if not renew_lease(engine, day, holder, ttl):  # another re-plan took the day over: it publishes
            log.warning("plan %s: the lease was lost while queued", day)
            return PlanOutcome("busy", day, detail="another re-plan of this day took over", timings=timings)
        return _plan_under_lease(engine, day, settings, solver, fault, hard_timeout, timings, actor_user_id)
    finally:
        if slot is not None:
            release_slot(engine, slot, holder)
        release_lease(engine, day, holder)


def _plan_under_lease(
    engine: Engine,
    day: date,
    settings: Settings,
    solver: Solver,
    fault: FaultHook | None,
    hard_timeout: float,
    timings: dict[str, float],
    actor_user_id: int | None = None,
) -> PlanOutcome:
    clock = time.perf_counter()
    with Session(engine) as session:
        held = bookings_on(session, day)
        if held > settings.planning.max_bookings_per_day:
            # refused before the matrix and the solve, each of which grows with the square of the day
            detail = (
                f"{held} bookings, more than [planning] max_bookings_per_day = {settings.planning.max_bookings_per_day}"
            )
            log.warning("plan %s failed: day_too_large", day)
            plan_id, version = _record_failure(engine, day, "", "day_too_large", detail)
            return PlanOutcome("failed", day, plan_id, version, f"day_too_large: {detail}", timings)
        day_input = build_day(session, day, settings)
        current = published_plan(session, day)
    timings["load_and_matrix_s"] = time.perf_counter() - clock
    if current is not None and current.input_hash == day_input.input_hash:
        return PlanOutcome(
            "unchanged", day, current.id, current.version, "input unchanged since the published version", timings
        )
    try:
        clock = time.perf_counter()
        try:
            result = solver(day_input.problem, settings.solver, hard_timeout)
        except PlanningFailure:
            raise
        except Exception as error:
            raise PlanningFailure("solver_error", type(error).__name__) from error
        timings["solve_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        violations = check(day_input.problem, result)
        timings["check_s"] = time.perf_counter() - clock
        if violations:
            rules = sorted({v.rule for v in violations})
            raise PlanningFailure("checker_rejected", f"{len(violations)} violation(s) of {', '.join(rules)}")
        if not result.routes and any(u.reason.feasible_alone for u in result.unassigned):
            # Visits that one medic could serve alone, and yet nobody serves any:
            # the search was cut off before a first plan. Publishing that would
            # replace every medic's sheet with nothing.
            raise PlanningFailure("no_plan_found", "the solver served no visit though some are feasible")
        clock = time.perf_counter()
        plan = store_draft(engine, day_input, result, fault)
        timings["store_draft_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        publish_draft(engine, plan, fault, actor_user_id)
        timings["publish_s"] = time.perf_counter() - clock
    except PlanningFailure as failure:
        log.warning("plan %s failed: %s", day, failure.code)
        plan_id, version = _record_failure(engine, day, day_input.input_hash, failure.code, failure.detail)
        return PlanOutcome("failed", day, plan_id, version, str(failure), timings)
    except Exception as error:  # a database error: record it if the database still answers
        log.warning("plan %s failed: %s", day, type(error).__name__)
        plan_id, version = _record_failure(engine, day, day_input.input_hash, "database_error", type(error).__name__)
        return PlanOutcome("failed", day, plan_id, version, f"database_error: {type(error).__name__}", timings)
    log.info("plan %s: published version %s", day, plan.version)
    return PlanOutcome("published", day, plan.id, plan.version, "", timings)


def _next_version(session: Session, day: date) -> int:
    latest = session.exec(select(func.max(Plan.version)).where(Plan.service_date == day)).one()
    return (latest or 0) + 1


def store_draft(engine: Engine, day_input: DayInput, result: Result, fault: FaultHook | None) -> Plan:
    with session_scope(engine) as session:
        if fault:
            fault("draft")
        plan = Plan(
            service_date=day_input.day,
            version=_next_version(session, day_input.day),
            status=PlanStatus.DRAFT,
            input_hash=day_input.input_hash,
            solver={
                "objective": result.objective,
                "runtime_s": round(result.runtime_s, 3),
                "strategy": result.strategy,
                "searches": list(result.searches),
            },
            kpis={**plan_kpis(result), "unassigned": len(result.unassigned) + len(day_input.held)},
        )
        session.add(plan)
        session.flush()
        assert plan.id is not None
        rows = result_rows(plan.id, day_input, result)
        session.add_all([*rows.routes, *rows.stops, *rows.unassigned, *rows.idle])
        plan.content_hash = content_hash(rows.routes, rows.stops, rows.unassigned, rows.idle)
        session.add(plan)
    return plan


def plan_kpis(result: Result) -> dict[str, int]:
    k = result.kpis
    return {
        "visits": k.visits,
        "driving_s": k.driving_s,
        "distance_m": k.distance_m,
        "idle_s": k.idle_s,
        "service_s": k.service_s,
        "overtime_s": k.overtime_s,
        "medics_working": len(result.routes),
    }


def content_hash(
    routes: list[PlanRoute],
    stops: list[PlanStop],
    unassigned: list[PlanUnassigned],
    idle: list[PlanIdleMedic] | None = None,
) -> str:
    """A hash of what the plan says (not of row ids), for ETags and comparisons."""

    def row(obj: Any, skip: tuple[str, ...] = ("id", "plan_id")) -> dict[str, Any]:
        return {k: v for k, v in obj.model_dump().items() if k not in skip}

    document = {
        "routes": sorted((row(r) for r in routes), key=lambda r: r["medic_id"]),
        "stops": sorted((row(s) for s in stops), key=lambda s: (s["medic_id"], s["sequence"])),
        "unassigned": sorted((row(u) for u in unassigned), key=lambda u: (u["booking_id"], u["part"])),
        "idle": sorted((row(i) for i in idle or []), key=lambda i: i["medic_id"]),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def publish_draft(engine: Engine, plan: Plan, fault: FaultHook | None, actor_user_id: int | None = None) -> None:
    """Supersede the published version and publish the draft, and audit it, in one transaction."""
    with session_scope(engine) as session:
        session.execute(
            update(Plan)
            .where(col(Plan.service_date) == plan.service_date)
            .where(col(Plan.status) == PlanStatus.PUBLISHED)
            .values(status=PlanStatus.SUPERSEDED)
        )
        session.execute(
            update(Plan)
            .where(col(Plan.id) == plan.id)
            .values(status=PlanStatus.PUBLISHED, published_at=datetime.now(UTC))
        )
        _mark_bookings(session, plan)
        published = session.get(Plan, plan.id)
        assert published is not None
        store_sheets(session, published)  # every sheet assembled once, as it will be served
        append_event(
            session,
            actor_user_id=actor_user_id,
            action="publish",
            resource="plan",
            resource_ids=[plan.id or 0, f"date:{plan.service_date.isoformat()}", f"version:{plan.version}"],
        )
        if fault:
            fault("publish")


#: the statuses a publish may move: a booking waiting for clearance, done or cancelled keeps its own
MOVABLE = (BookingStatus.REQUESTED, BookingStatus.CLEARED, BookingStatus.PLANNED)


def _mark_bookings(session: Session, plan: Plan) -> None:
    """In the publish's transaction: each booking on a route of the plan is ``planned`` in its version;
    each one it leaves out goes back to ``requested`` (``cleared`` if the medical director cleared
    it), with the reason, and the version that dropped it."""
    on_routes = set(session.exec(select(PlanStop.booking_id).where(PlanStop.plan_id == plan.id)).all())
    reasons: dict[int, str] = {}
    for booking_id, reason, detail in session.exec(
        select(PlanUnassigned.booking_id, PlanUnassigned.reason, PlanUnassigned.detail).where(
            PlanUnassigned.plan_id == plan.id
        )
    ).all():
        reasons.setdefault(booking_id, f"{reason}: {detail}"[:500])
    bookings = session.exec(
        select(Booking).where(Booking.service_date == plan.service_date).where(col(Booking.status).in_(MOVABLE))
    ).all()
    for booking in bookings:
        assert booking.id is not None
        if booking.id in on_routes:
            booking.status, booking.status_reason = BookingStatus.PLANNED, None
        elif booking.id in reasons:
            booking.status = BookingStatus.CLEARED if booking.cleared_at is not None else BookingStatus.REQUESTED
            booking.status_reason = reasons[booking.id]
        else:
            continue  # not part of this plan's input (booked since it was built): left as it is
        booking.plan_version = plan.version
        session.add(booking)


def _record_failure(
    engine: Engine, day: date, input_hash: str, code: str, detail: str
) -> tuple[int | None, int | None]:
    """The failed version (``input_hash`` "" when the day was refused before its input was built)."""
    try:
        error = f"{code}: {detail}"[:500] if detail else code
        with session_scope(engine) as session:
            # a draft left behind by a failed publish becomes the failed version
            draft = session.exec(
                select(Plan).where(Plan.service_date == day).where(Plan.status == PlanStatus.DRAFT)
            ).first()
            if draft is not None:
                draft.status, draft.error = PlanStatus.FAILED, error
                session.add(draft)
                return draft.id, draft.version
            plan = Plan(
                service_date=day,
                version=_next_version(session, day),
                status=PlanStatus.FAILED,
                input_hash=input_hash,
                error=error,
            )
            session.add(plan)
            session.flush()
            return plan.id, plan.version
    except Exception as error:
        log.error("plan %s: could not record the failure: %s", day, type(error).__name__)
        return None, None
