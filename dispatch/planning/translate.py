"""The one place where database rows become a :class:`routing.Problem`, and a
:class:`routing.Result` becomes rows again.

Visit and medic ids handed to the engine are opaque ("b17p1", "m4"): no
patient data crosses into the solver, its logs or its child process.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlmodel import Session, col, select

from dispatch.rules.breaks import colorado_breaks
from dispatch.rules.durations import PatientCare, visit_time
from dispatch.rules.eligibility import awaiting_clearance, clearance_flags, may_serve, unavailable, why_nobody_may_serve
from dispatch.rules.groups import split_for_pumps
from dispatch.rules.pins import pinned_visit
from dispatch.store.config import Settings
from dispatch.store.tables import (
    Booking,
    BookingPatient,
    BookingStatus,
    Credential,
    Medic,
    Patient,
    Place,
    PlanIdleMedic,
    PlanRoute,
    PlanStop,
    PlanUnassigned,
    Service,
    ShiftRow,
)
from routing import Location, Problem, Reason, Result, Shift, TimeWindow, UnservableVisitWarning, Visit

#: the part size when no medic on shift may serve a booking at all (it is left out, with the reason)
PUMPS_WHEN_NOBODY_MAY = 4


@dataclass(frozen=True)
class VisitOrigin:
    booking_id: int
    part: int
    patient_ids: tuple[int, ...]


@dataclass(frozen=True)
class Held:
    """A booking of the day kept out of the solve, with the reason."""

    booking_id: int
    reason: str
    detail: str


@dataclass(frozen=True)
class IdleMedic:
    """A medic on shift whom the plan cannot use at all, and why (ids and codes only)."""

    medic_id: int
    reason: str
    detail: str


@dataclass(frozen=True)
class DayInput:
    day: date
    problem: Problem
    origins: dict[str, VisitOrigin]
    medic_ids: dict[str, int]
    held: tuple[Held, ...]
    input_hash: str
    bookings_seen: tuple[int, ...] = field(default=())
    #: per visit no medic on shift may serve, what keeps each of them from it
    ineligible: dict[str, str] = field(default_factory=dict)
    #: medics on shift who may serve nothing that day, by medic id
    idle: dict[int, IdleMedic] = field(default_factory=dict)


def medic_key(medic_id: int) -> str:
    return f"m{medic_id}"


def visit_key(booking_id: int, part: int) -> str:
    return f"b{booking_id}p{part}"


def group_key(booking_id: int) -> str:
    """The routing group of a booking cut into parts: served whole or not at all."""
    return f"b{booking_id}"


def booking_windows(booking: Booking) -> tuple[TimeWindow, ...]:
    """The arrival windows a booking accepts: its window, and its second one if it has one."""
    windows = [TimeWindow(booking.window_start, booking.window_end)]
    if booking.alt_window_start is not None and booking.alt_window_end is not None:
        windows.append(TimeWindow(booking.alt_window_start, booking.alt_window_end))
    return tuple(windows)


def build_day(session: Session, day: date, settings: Settings) -> DayInput:
    """Load the day's shifts and plannable bookings and build the problem."""
    rules = settings.credentials
    shifts, medic_ids, medics, idle = _shifts(session, day, settings)
    credentials: dict[int, list[Credential]] = defaultdict(list)
    for credential in session.exec(select(Credential).where(col(Credential.medic_id).in_(list(medics)))).all():
        credentials[credential.medic_id].append(credential)
    for mid, medic in medics.items():
        reason = unavailable(medic, credentials[mid], day, rules)
        if reason is not None:
            idle[mid] = IdleMedic(mid, "may_serve_nothing", reason)
    on_shift = [(medic, credentials[mid]) for mid, medic in medics.items()]
    services = {s.id: s for s in session.exec(select(Service)).all()}
    bookings = session.exec(
        select(Booking)
        .where(Booking.service_date == day)
        .where(col(Booking.status).not_in([BookingStatus.CANCELLED, BookingStatus.DONE]))
        .order_by(col(Booking.id))
    ).all()
    lines: dict[int, list[BookingPatient]] = defaultdict(list)
    booking_ids = [b.id for b in bookings if b.id is not None]
    for line in session.exec(
        select(BookingPatient).where(col(BookingPatient.booking_id).in_(booking_ids)).order_by(col(BookingPatient.id))
    ).all():
        lines[line.booking_id].append(line)
    patient_ids = {line.patient_id for group in lines.values() for line in group}
    patients = {p.id: p for p in session.exec(select(Patient).where(col(Patient.id).in_(list(patient_ids)))).all()}
    places = {
        p.id: p for p in session.exec(select(Place).where(col(Place.id).in_([b.place_id for b in bookings]))).all()
    }

    visits: list[Visit] = []
    origins: dict[str, VisitOrigin] = {}
    held: list[Held] = []
    ineligible: dict[str, str] = {}
    for booking in bookings:
        assert booking.id is not None
        group = lines.get(booking.id, [])
        place = places[booking.place_id]
        if not group:
            held.append(Held(booking.id, "no_patients", "the booking lists no patient"))
            continue
        flagged = any(clearance_flags(patients[line.patient_id], services[line.service_id]) for line in group)
        if awaiting_clearance(booking.status, flagged, cleared=booking.cleared_at is not None):
            held.append(Held(booking.id, "awaiting_clearance", "screening needs the medical director's clearance"))
            continue
        if place.lat is None or place.lon is None:
            held.append(Held(booking.id, "needs_location", f"place {place.id} has no verified location"))
            continue
        booked = [services[line.service_id] for line in group]
        able = [medic for medic, creds in on_shift if may_serve(medic, creds, booked, day, rules)]
        # a group is cut into as few parts as the biggest car's pumps allow, evenly, so that
        # each part fits the cars that may take it; a booking is served whole or not at all
        pumps = max((medic.pumps for medic in able), default=PUMPS_WHEN_NOBODY_MAY)
        parts = split_for_pumps(group, pumps, [services[line.service_id].uses_pump for line in group])
        for part, part_lines in enumerate(parts, start=1):
            part_services = [services[line.service_id] for line in part_lines]
            timing = visit_time(
                place.kind,
                [PatientCare(services[ln.service_id].infusion_minutes, ln.first_visit) for ln in part_lines],
            )
            pumps_needed = sum(1 for s in part_services if s.uses_pump)
            allowed = frozenset(
                medic_key(mid)
                for mid, medic in medics.items()
                if may_serve(medic, credentials[mid], part_services, day, rules, pumps_needed)
            )
            key = visit_key(booking.id, part)
            if not allowed:
                ineligible[key] = why_nobody_may_serve(on_shift, part_services, day, rules, pumps_needed)
            demand: dict[str, int] = defaultdict(int)
            for service in part_services:
                for kind, amount in service.supplies.items():
                    demand[kind] += amount
            preferred = medic_key(booking.preferred_medic_id) if booking.preferred_medic_id in medics else None
            pinned = medic_key(booking.pinned_medic_id) if booking.pinned_medic_id is not None else None
            allowed, windows, priority = pinned_visit(
                pinned, booking.pinned_start, allowed, booking_windows(booking), max(1, min(10, booking.priority))
            )
            visits.append(
                Visit(
                    id=key,
                    location=Location(place.lat, place.lon),
                    service=timedelta(minutes=timing.service_minutes),
                    setup=timedelta(minutes=timing.setup_minutes),
                    windows=windows,
                    demand=dict(demand),
                    priority=priority,
                    allowed_medics=allowed,
                    preferred_medics=frozenset({preferred}) if preferred else frozenset(),
                    group=group_key(booking.id) if len(parts) > 1 else None,
                    patients=len(part_lines),
                )
            )
            origins[key] = VisitOrigin(booking.id, part, tuple(line.patient_id for line in part_lines))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnservableVisitWarning)
        problem = Problem.build(
            visits,
            shifts,
            settings.travel,
            group_arrival=timedelta(minutes=settings.planning.group_arrival_minutes),
        )
    digest = _input_hash(problem, held, settings)
    return DayInput(day, problem, origins, medic_ids, tuple(held), digest, tuple(booking_ids), ineligible, dict(idle))


def _shifts(
    session: Session, day: date, settings: Settings
) -> tuple[list[Shift], dict[str, int], dict[int, Medic], dict[int, IdleMedic]]:
    rows = session.exec(
        select(ShiftRow, Medic, Place)
        .join(Medic, col(Medic.id) == col(ShiftRow.medic_id))
        .join(Place, col(Place.id) == col(Medic.home_place_id))
        .where(ShiftRow.service_date == day)
        .where(col(Medic.active).is_(True))
        .order_by(col(ShiftRow.medic_id))
    ).all()
    shifts: list[Shift] = []
    medic_ids: dict[str, int] = {}
    medics: dict[int, Medic] = {}
    idle: dict[int, IdleMedic] = {}
    overtime = timedelta(minutes=settings.planning.overtime_minutes)
    for row, medic, home in rows:
        assert medic.id is not None
        if medic.id in medics:
            continue  # one shift per medic per day
        if home.lat is None or home.lon is None:
            idle[medic.id] = IdleMedic(medic.id, "needs_location", f"home place {home.id} has no verified location")
            continue
        start, end = row.starts_at, row.ends_at
        where = Location(home.lat, home.lon)
        shifts.append(
            Shift(
                medic_id=medic_key(medic.id),
                start_location=where,
                end_location=where,
                window=TimeWindow(start, end),
                hard_end=row.hard_end_at or end + overtime,
                stock=dict(medic.stock),
                breaks=colorado_breaks(start, end),
            )
        )
        medic_ids[medic_key(medic.id)] = medic.id
        medics[medic.id] = medic
    return shifts, medic_ids, medics, idle


def _input_hash(problem: Problem, held: list[Held], settings: Settings) -> str:
    """Everything the plan depends on, canonically, so unchanged input gives the same hash."""

    def moment(value: datetime) -> str:
        return value.astimezone(UTC).isoformat()

    document = {
        "visits": [
            {
                "id": v.id,
                "at": [v.location.lat, v.location.lon],
                "service": v.service.total_seconds(),
                "setup": v.setup.total_seconds(),
                "windows": [[moment(w.start), moment(w.end)] for w in v.windows],
                "demand": dict(sorted(v.demand.items())),
                "priority": v.priority,
                "patients": v.patients,
                "group": v.group,
                "allowed": sorted(v.allowed_medics or ()),
                "preferred": sorted(v.preferred_medics),
            }
            for v in problem.visits
        ],
        "shifts": [
            {
                "id": s.medic_id,
                "from": [s.start_location.lat, s.start_location.lon],
                "to": [s.end_location.lat, s.end_location.lon],
                "window": [moment(s.window.start), moment(s.window.end), moment(s.latest_end)],
                "stock": dict(sorted(s.stock.items())),
                "breaks": [
                    [b.duration.total_seconds(), moment(b.window.start), moment(b.window.end)] for b in s.breaks
                ],
            }
            for s in problem.shifts
        ],
        "held": [asdict(h) for h in held],
        "solver": asdict(settings.solver),
        # every provider [travel] configures is a dataclass; its fields are what the matrix depends on
        "travel": asdict(cast(Any, settings.travel)),
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class PlanRows:
    routes: list[PlanRoute]
    stops: list[PlanStop]
    unassigned: list[PlanUnassigned]
    idle: list[PlanIdleMedic] = field(default_factory=list)


def result_rows(plan_id: int, day_input: DayInput, result: Result) -> PlanRows:
    """The result as rows of plan ``plan_id``; every booking part is either a stop or unassigned."""
    routes, stops, unassigned = [], [], []
    problem = day_input.problem
    for route in result.routes:
        medic_id = day_input.medic_ids[route.medic_id]
        load: dict[str, int] = defaultdict(int)
        for sequence, stop in enumerate(route.stops, start=1):
            origin = day_input.origins[stop.visit_id]
            for kind, amount in problem.visit(stop.visit_id).demand.items():
                load[kind] += amount
            stops.append(
                PlanStop(
                    plan_id=plan_id,
                    medic_id=medic_id,
                    sequence=sequence,
                    booking_id=origin.booking_id,
                    part=origin.part,
                    patient_ids=list(origin.patient_ids),
                    arrival=stop.arrival,
                    start=stop.start,
                    end=stop.end,
                    wait_s=stop.wait_s,
                    travel_s=stop.travel_s,
                    distance_m=stop.distance_m,
                )
            )
        routes.append(
            PlanRoute(
                plan_id=plan_id,
                medic_id=medic_id,
                departure=route.departure,
                arrival_home=route.arrival_home,
                breaks=[[b.start.astimezone(UTC).isoformat(), b.end.astimezone(UTC).isoformat()] for b in route.breaks],
                kpis=asdict(route.kpis),
                stock={k: v for k, v in sorted(load.items()) if v},
            )
        )
    for item in result.unassigned:
        origin = day_input.origins[item.visit_id]
        detail = item.detail
        if item.reason is Reason.NO_ELIGIBLE_MEDIC and item.visit_id in day_input.ineligible:
            detail = day_input.ineligible[item.visit_id]  # the real cause: credentials, role, pumps
        unassigned.append(
            PlanUnassigned(
                plan_id=plan_id,
                booking_id=origin.booking_id,
                part=origin.part,
                patient_ids=list(origin.patient_ids),
                reason=item.reason.value,
                detail=detail,
            )
        )
    for hold in day_input.held:
        unassigned.append(
            PlanUnassigned(plan_id=plan_id, booking_id=hold.booking_id, reason=hold.reason, detail=hold.detail)
        )
    return PlanRows(routes, stops, unassigned, idle_medics(plan_id, day_input, result))


def _may_have(visit: Visit, medic: str) -> bool:
    return visit.allowed_medics is None or medic in visit.allowed_medics


def idle_medics(plan_id: int, day_input: DayInput, result: Result) -> list[PlanIdleMedic]:
    """Every medic on shift without a route, and why: they may serve nothing that day, or nothing
    left out fits their day (the solver never leaves a medic idle while a visit they could serve
    alone is left out), or every visit they may serve is planned."""
    working = {day_input.medic_ids[route.medic_id] for route in result.routes}
    left_out = {item.visit_id for item in result.unassigned if item.reason.feasible_alone}
    rows = []
    for medic_id in sorted({*day_input.medic_ids.values(), *day_input.idle}):
        if medic_id in working:
            continue
        note = day_input.idle.get(medic_id)
        if note is not None:
            rows.append(PlanIdleMedic(plan_id=plan_id, medic_id=medic_id, reason=note.reason, detail=note.detail))
            continue
        key = medic_key(medic_id)
        theirs = [v for v in left_out if _may_have(day_input.problem.visit(v), key)]
        detail = (
            f"none of the {len(theirs)} visit(s) left out that this medic may serve fits on a day of its own"
            if theirs
            else "every visit this medic may serve is planned"
        )
        rows.append(PlanIdleMedic(plan_id=plan_id, medic_id=medic_id, reason="no_route", detail=detail))
    return rows
