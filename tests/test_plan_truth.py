"""What a dispatcher reads after a publish is true: booking status, medics who cannot work and why,
the real cause of a visit nobody may serve, group bookings served whole, and planned overtime.

Real databases (SQLite and PostgreSQL), the real translation and a real solve (in process, a work
limit), on tiny days built by tests/factory.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dispatch.planning.day import plan_day
from dispatch.planning.translate import build_day
from dispatch.store.config import PlanningSettings, Settings
from dispatch.store.db import session_scope
from dispatch.store.tables import (
    Booking,
    BookingStatus,
    PlaceKind,
    PlanIdleMedic,
    PlanStop,
    PlanUnassigned,
    Role,
    ShiftRow,
)
from routing import solve
from tests import factory
from tests.factory import DAY, at
from tests.helpers import QUICK

FAST = Settings(solver=replace(QUICK, time_limit_s=5.0))


def in_process(problem, params, timeout):  # type: ignore[no-untyped-def]
    """The real solver, in this process (plan_day's own child process is tested elsewhere)."""
    return solve(problem, params)


def plan(engine: Engine, settings: Settings = FAST) -> str:
    return plan_day(engine, DAY, settings, solver=in_process).status


def booking(engine: Engine, booking_id: int) -> Booking:
    with Session(engine) as session:
        row = session.get(Booking, booking_id)
        assert row is not None
        return row


def test_publish_marks_bookings_planned_and_a_later_version_that_drops_one_says_why(engine: Engine) -> None:
    """After version 1 both bookings are planned in version 1; when the only medic's shift shrinks so
    that b no longer fits, version 2 plans a alone and puts b back to requested, with the reason."""
    with session_scope(engine) as session:
        nurse = factory.medic(session, "Rita RN")
        a = factory.booking(session, (39.75, -104.98), ("09:00", "10:00")).id
        b = factory.booking(session, (39.72, -104.96), ("15:00", "16:00")).id
    assert plan(engine) == "published"
    assert (booking(engine, a).status, booking(engine, a).plan_version) == (BookingStatus.PLANNED, 1)
    assert (booking(engine, b).status, booking(engine, b).plan_version) == (BookingStatus.PLANNED, 1)
    with session_scope(engine) as session:
        shift = session.exec(select(ShiftRow).where(ShiftRow.medic_id == nurse.id)).one()
        shift.ends_at = at("13:00")
        session.add(shift)
    assert plan(engine) == "published"
    assert (booking(engine, a).status, booking(engine, a).plan_version) == (BookingStatus.PLANNED, 2)
    dropped = booking(engine, b)
    assert (dropped.status, dropped.plan_version) == (BookingStatus.REQUESTED, 2)
    assert dropped.status_reason is not None and dropped.status_reason.startswith("outside_shifts: ")


def test_a_cleared_booking_dropped_by_a_later_plan_stays_cleared(engine: Engine) -> None:
    """Clearance outlives a plan: a cleared magnesium booking, planned then dropped, is cleared again and
    planned as soon as it fits (it is not held for clearance a second time)."""
    from dispatch.records.bookings import clear_booking

    with session_scope(engine) as session:
        nurse = factory.medic(session, "Rita RN")
        held = factory.booking(
            session, services=("magnesium",), screening={"kidney_disease": True}, status=BookingStatus.NEEDS_CLEARANCE
        ).id
    with session_scope(engine) as session:
        clear_booking(session, booking_id=held)
    assert plan(engine) == "published" and booking(engine, held).status is BookingStatus.PLANNED
    with session_scope(engine) as session:
        session.delete(session.exec(select(ShiftRow).where(ShiftRow.medic_id == nurse.id)).one())
        factory.medic(session, "Late Larry", shift=("18:00", "22:00"))
    assert plan(engine) == "published"
    assert booking(engine, held).status is BookingStatus.CLEARED


def test_plan_names_a_medic_on_shift_who_may_serve_nothing_and_the_real_cause_of_a_visit(engine: Engine) -> None:
    """The only medic's IV certification lapsed yesterday: the plan lists them without a route, "no valid
    iv_certification on 2026-12-02", and the booking's reason names that cause, not "nobody on shift"."""
    with session_scope(engine) as session:
        lapsed = factory.medic(session, "Lapsed Lee", certification_expires=DAY - timedelta(days=1)).id
        visit = factory.booking(session).id
    assert plan(engine) == "published"
    with Session(engine) as session:
        (idle,) = session.exec(select(PlanIdleMedic)).all()
        assert (idle.medic_id, idle.reason) == (lapsed, "may_serve_nothing")
        assert idle.detail == "no valid iv_certification on 2026-12-02"
        (left_out,) = session.exec(select(PlanUnassigned).where(PlanUnassigned.booking_id == visit)).all()
        assert left_out.reason == "no_eligible_medic"
        assert left_out.detail == "of 1 medic(s) on shift: 1 have no valid iv_certification on 2026-12-02"


def test_a_paramedic_left_out_of_magnesium_is_told_by_role(engine: Engine) -> None:
    """Magnesium may be given by RNs and NPs: with only a paramedic on shift, the reason says so."""
    with session_scope(engine) as session:
        factory.medic(session, "Paul Para", role=Role.PARAMEDIC)
        visit = factory.booking(session, services=("magnesium",)).id
    assert plan(engine) == "published"
    with Session(engine) as session:
        left_out = session.exec(select(PlanUnassigned).where(PlanUnassigned.booking_id == visit)).one()
        assert "are paramedics, who may not give magnesium" in left_out.detail


def test_a_group_is_cut_to_the_pumps_and_served_whole_with_its_patients_named(engine: Engine) -> None:
    """Six patients at a hotel and 4-pump cars: two parts of three (a 3-pump car could take either), both
    on the plan, each stop naming its three patients, and no patient left over."""
    with session_scope(engine) as session:
        factory.medic(session, "Rita RN")
        factory.medic(session, "Nina NP", role=Role.NP, home=(39.70, -104.95))
        group = factory.booking(
            session, window=("09:00", "12:00"), services=("hydration",) * 6, kind=PlaceKind.HOTEL
        ).id
    with Session(engine) as session:
        day = build_day(session, DAY, FAST)
        parts = [v for v in day.problem.visits if v.group == f"b{group}"]
        assert [len(day.origins[v.id].patient_ids) for v in parts] == [3, 3]
    assert plan(engine) == "published"
    with Session(engine) as session:
        stops = session.exec(select(PlanStop).where(PlanStop.booking_id == group)).all()
        assert sorted(stop.part for stop in stops) == [1, 2]
        assert sorted(len(stop.patient_ids) for stop in stops) == [3, 3]
        assert len({p for stop in stops for p in stop.patient_ids}) == 6
    assert booking(engine, group).status is BookingStatus.PLANNED


def test_planned_overtime_is_off_unless_the_setting_or_the_shift_allows_it(engine: Engine) -> None:
    """A shift without a hard end ends at its end (overtime_minutes = 0, the default); with 45 minutes
    configured, the medic may be out until 45 minutes past it; a shift's own hard end always wins."""
    with session_scope(engine) as session:
        factory.medic(session, "Rita RN")
        factory.booking(session)
    with Session(engine) as session:
        (default,) = build_day(session, DAY, FAST).problem.shifts
        later = Settings(solver=FAST.solver, planning=PlanningSettings(overtime_minutes=45))
        (allowed,) = build_day(session, DAY, later).problem.shifts
    assert default.latest_end == default.window.end
    assert allowed.latest_end == allowed.window.end + timedelta(minutes=45)
