"""plan_day end to end on a real database, with the real solver in a child process.

Failures are injected where they cannot be produced for real on demand: a
solver that raises, a result tampered with after a real solve, and database
errors raised from the fault hook at the draft and publish stages. The timeout
is real: a real solve whose child process is killed.
"""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import asdict, replace
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from dispatch.planning.day import PlanningFailure, plan_day, solve_in_child
from dispatch.planning.sheets import route_sheets
from dispatch.store.config import Settings
from dispatch.store.db import session_scope
from dispatch.store.tables import (
    Booking,
    BookingStatus,
    Plan,
    PlanLease,
    PlanStatus,
    PlanStop,
    PlanUnassigned,
    Role,
    now_utc,
)
from routing import Problem, Result, SolveParams, explain, solve
from tests import factory
from tests.factory import DAY

FAST = Settings(solver=SolveParams(time_limit_s=1.0, workers=1))


def small_day(engine: Engine) -> dict[str, int]:
    """Two medics downtown; four bookings: two plain, one held for clearance, one unlocated."""
    with session_scope(engine) as session:
        rn = factory.medic(session, "Rita RN", role=Role.RN)
        para = factory.medic(session, "Paul Para", role=Role.PARAMEDIC, home=(39.70, -104.95))
        a = factory.booking(session, (39.75, -104.98), ("09:00", "11:00"))
        b = factory.booking(session, (39.72, -104.96), ("10:00", "12:00"), ("myers",))
        held = factory.booking(session, (39.74, -104.99), ("13:00", "15:00"), ("magnesium",),
                               screening={"kidney_disease": True})  # fmt: skip
        lost = factory.booking(session, (None, None), ("09:00", "17:00"))
        return {"rn": rn.id, "para": para.id, "a": a.id, "b": b.id, "held": held.id, "lost": lost.id}  # type: ignore[dict-item]


def sheets_snapshot(engine: Engine) -> str:
    """Every published route sheet of the day, serialised: compared byte for byte."""
    with Session(engine) as session:
        return json.dumps([asdict(sheet) for sheet in route_sheets(session, DAY)], sort_keys=True, default=str)


def plans(engine: Engine) -> list[tuple[int, PlanStatus]]:
    with Session(engine) as session:
        return [(p.version, p.status) for p in session.exec(select(Plan).order_by(Plan.version)).all()]


def test_plan_day_publishes_every_booking_as_a_stop_or_a_reason(engine: Engine) -> None:
    """Both plain bookings are served; the flagged one waits for clearance; the unlocated one needs a location."""
    ids = small_day(engine)
    outcome = plan_day(engine, DAY, FAST)
    assert outcome.status == "published" and outcome.version == 1
    with Session(engine) as session:
        stops = session.exec(select(PlanStop).where(PlanStop.plan_id == outcome.plan_id)).all()
        unassigned = session.exec(select(PlanUnassigned).where(PlanUnassigned.plan_id == outcome.plan_id)).all()
    assert sorted(s.booking_id for s in stops) == sorted([ids["a"], ids["b"]])
    assert {(u.booking_id, u.reason) for u in unassigned} == {
        (ids["held"], "awaiting_clearance"),
        (ids["lost"], "needs_location"),
    }
    assert plans(engine) == [(1, PlanStatus.PUBLISHED)]


def test_plan_day_twice_with_unchanged_input_makes_no_new_version(engine: Engine) -> None:
    """The input hash is the same, so the second run changes nothing."""
    small_day(engine)
    first = plan_day(engine, DAY, FAST)
    before = sheets_snapshot(engine)
    second = plan_day(engine, DAY, FAST)
    assert second.status == "unchanged" and second.plan_id == first.plan_id
    assert plans(engine) == [(1, PlanStatus.PUBLISHED)]
    assert sheets_snapshot(engine) == before


def test_plan_day_after_a_clearance_publishes_a_new_version_and_supersedes_the_old(engine: Engine) -> None:
    """Clearing the held booking changes the input: version 2 serves it, version 1 is superseded."""
    ids = small_day(engine)
    plan_day(engine, DAY, FAST)
    with session_scope(engine) as session:
        held = session.get(Booking, ids["held"])
        assert held is not None
        held.status = BookingStatus.CLEARED
        session.add(held)
    outcome = plan_day(engine, DAY, FAST)
    assert outcome.status == "published" and outcome.version == 2
    assert plans(engine) == [(1, PlanStatus.SUPERSEDED), (2, PlanStatus.PUBLISHED)]
    with Session(engine) as session:
        served = {s.booking_id for sheet in route_sheets(session, DAY) for s in sheet.stops}
    assert ids["held"] in served


def test_plan_day_sends_magnesium_only_to_the_rn(engine: Engine) -> None:
    """A cleared magnesium booking next to the paramedic's home still goes to the RN."""
    ids = small_day(engine)
    with session_scope(engine) as session:
        held = session.get(Booking, ids["held"])
        assert held is not None
        held.status = BookingStatus.CLEARED
        session.add(held)
    plan_day(engine, DAY, FAST)
    with Session(engine) as session:
        (rn_sheet,) = route_sheets(session, DAY, ids["rn"])
    assert ids["held"] in {s.booking_id for s in rn_sheet.stops}


def test_plan_day_reports_a_booking_whose_only_medic_has_a_lapsed_credential(engine: Engine) -> None:
    """The only medic's IV certification expired yesterday: the booking is kept with no_eligible_medic."""
    with session_scope(engine) as session:
        factory.medic(session, certification_expires=DAY - timedelta(days=1))
        booking = factory.booking(session)
    plan_day(engine, DAY, FAST)
    with Session(engine) as session:
        (row,) = session.exec(select(PlanUnassigned)).all()
    assert (row.booking_id, row.reason) == (booking.id, "no_eligible_medic")


def _change_input(engine: Engine) -> None:
    with session_scope(engine) as session:
        factory.booking(session, (39.73, -104.97), ("14:00", "16:00"))


def _raising_solver(problem: Problem, params: SolveParams, timeout: float) -> Result:
    raise RuntimeError("injected solver crash")


def _tampering_solver(problem: Problem, params: SolveParams, timeout: float) -> Result:
    """A real solve whose first stop is then moved an hour later than planned."""
    result = solve(problem, params)
    route = result.routes[0]
    stop = route.stops[0]
    moved = replace(stop, start=stop.start + timedelta(hours=1), end=stop.end + timedelta(hours=1))
    return replace(result, routes=(replace(route, stops=(moved, *route.stops[1:])), *result.routes[1:]))


def _empty_solver(problem: Problem, params: SolveParams, timeout: float) -> Result:
    """A search cut off before its first plan: every visit left out, as OR-Tools can return."""
    return Result((), explain(problem, [v.id for v in problem.visits]), 0, 0.0)


def _timing_out_solver(problem: Problem, params: SolveParams, timeout: float) -> Result:
    """A real solve in a real child process, killed after half a second."""
    return solve_in_child(problem, replace(params, time_limit_s=30.0), 0.5)


def _fail_at(stage: str):  # type: ignore[no-untyped-def]
    def hook(current: str) -> None:
        if current == stage:
            raise OperationalError("injected", {}, Exception("database went away"))

    return hook


@pytest.mark.parametrize(
    ("solver", "fault", "code"),
    [
        (_raising_solver, None, "solver_error"),
        (_timing_out_solver, None, "solver_timeout"),
        (_tampering_solver, None, "checker_rejected"),
        (_empty_solver, None, "no_plan_found"),
        (None, _fail_at("draft"), "database_error"),
        (None, _fail_at("publish"), "database_error"),
    ],
    ids=["solver_exception", "timeout", "checker_rejects", "empty_plan", "db_error_at_draft", "db_error_at_publish"],
)
def test_plan_day_failure_leaves_the_published_sheets_byte_for_byte(engine: Engine, solver, fault, code) -> None:  # type: ignore[no-untyped-def]
    """Each injected failure records a failed version and leaves every published sheet as it was."""
    small_day(engine)
    assert plan_day(engine, DAY, FAST).status == "published"
    before = sheets_snapshot(engine)
    _change_input(engine)
    kwargs = {"fault": fault} if fault else {}
    if solver is not None:
        kwargs["solver"] = solver
    outcome = plan_day(engine, DAY, FAST, **kwargs)
    assert outcome.status == "failed"
    assert outcome.detail.startswith(code)
    assert sheets_snapshot(engine) == before
    assert plans(engine) == [(1, PlanStatus.PUBLISHED), (2, PlanStatus.FAILED)]


def test_solve_in_child_turns_a_crash_into_a_clear_failure() -> None:
    """A problem the child cannot even unpickle... is replaced by one that raises inside solve()."""
    with pytest.raises(PlanningFailure) as failure:
        solve_in_child("not a problem", SolveParams(time_limit_s=1.0), 60.0)  # type: ignore[arg-type]
    assert failure.value.code == "solver_error"


def test_plan_day_reclaims_a_lease_left_by_a_killed_process(engine: Engine) -> None:
    """An expired lease held by a dead process does not block the next re-plan."""
    small_day(engine)
    with session_scope(engine) as session:
        session.add(PlanLease(service_date=DAY, holder="dead-host:4242", expires_at=now_utc() - timedelta(minutes=1)))
    assert plan_day(engine, DAY, FAST).status == "published"


def test_plan_day_is_busy_while_another_process_holds_the_lease(engine: Engine) -> None:
    """A live lease means 'already running', and nothing is written."""
    small_day(engine)
    with session_scope(engine) as session:
        session.add(PlanLease(service_date=DAY, holder="other-host:1", expires_at=now_utc() + timedelta(minutes=5)))
    outcome = plan_day(engine, DAY, FAST)
    assert outcome.status == "busy"
    assert plans(engine) == []


def _plan_in_process(url: str, queue) -> None:  # type: ignore[no-untyped-def]
    from dispatch.store.db import make_engine

    engine = make_engine(url)
    queue.put(plan_day(engine, DAY, FAST).status)


def test_plan_day_from_two_processes_at_once_gives_one_version(engine: Engine) -> None:
    """Two concurrent re-plans of one day: exactly one new version; the other is busy or finds it unchanged."""
    small_day(engine)
    url = engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_plan_in_process, args=(url, queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    statuses = sorted(queue.get(timeout=5) for _ in workers)
    assert statuses in (["busy", "published"], ["published", "unchanged"])
    assert plans(engine) == [(1, PlanStatus.PUBLISHED)]
