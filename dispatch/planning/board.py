"""The day board: everything the dispatcher's console shows of one service day, read in one place.

The published plan (its version, figures, each medic's route with its stops, breaks and drives),
the medics on shift (hours, car stock, credentials that expire soon, and why one may work nothing),
the bookings left out with their reasons in plain words, every booking of the day with its status
and pin, and, when asked, what changed against an earlier version. It is read only; the console's
writes go through the same services as the API's.

Patient data on the board is limited to what a dispatcher needs to place a visit: each patient's
display name and service. :attr:`Board.patient_ids` lists every patient it shows, for the audit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from dispatch.planning.day import published_plan
from dispatch.planning.reasons import in_words
from dispatch.planning.sheets import changes_since_publish
from dispatch.store.tables import (
    Booking,
    BookingPatient,
    BookingStatus,
    Credential,
    Medic,
    Patient,
    Place,
    Plan,
    PlanIdleMedic,
    PlanRoute,
    PlanStop,
    PlanUnassigned,
    Service,
    ShiftRow,
    parse_utc,
)

#: credentials that expire within this many days are flagged on the roster
EXPIRY_WARNING = timedelta(days=30)


@dataclass(frozen=True)
class BoardStop:
    booking_id: int
    part: int
    sequence: int
    lat: float
    lon: float
    arrival: datetime
    start: datetime
    end: datetime
    #: the drive to it, and the slack before it (waiting for its window, or spent at home)
    travel_s: int
    wait_s: int
    window_start: datetime
    window_end: datetime
    patients: tuple[str, ...]
    services: tuple[str, ...]
    pinned: bool


@dataclass(frozen=True)
class BoardRoute:
    medic_id: int
    departure: datetime
    arrival_home: datetime
    breaks: tuple[tuple[datetime, datetime], ...]
    kpis: dict[str, int]
    stops: tuple[BoardStop, ...]


@dataclass(frozen=True)
class BoardMedic:
    id: int
    name: str
    role: str
    home_lat: float | None
    home_lon: float | None
    shift_start: datetime
    shift_end: datetime
    #: the latest return home; overtime runs from ``shift_end`` up to here (None: no overtime)
    hard_end: datetime | None
    stock: dict[str, int]
    pumps: int
    #: (kind, expiry) of each credential that expires within :data:`EXPIRY_WARNING` of the day
    expiring: tuple[tuple[str, date], ...]
    #: why the medic has no route on the plan (a reason code and its words), or None
    idle_reason: str | None = None
    idle_detail: str = ""


@dataclass(frozen=True)
class BoardUnassigned:
    booking_id: int
    part: int
    reason: str
    words: str
    detail: str
    lat: float | None
    lon: float | None
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True)
class BoardBooking:
    id: int
    status: str
    #: what the dispatcher reads: "requested", "planned in version 3", "held: waits for clearance", ...
    state: str
    window_start: datetime
    window_end: datetime
    place_kind: str
    patients: int
    services: tuple[str, ...]
    pinned_medic_id: int | None
    pinned_start: datetime | None
    #: whether the published plan keeps the pin, in words (None: no pin)
    pin_state: str | None
    needs_clearance: bool


@dataclass(frozen=True)
class PlanChanges:
    """What changed from version ``since`` to the published one."""

    since: int
    newly_served: tuple[int, ...]
    newly_unassigned: tuple[int, ...]
    #: (booking, from medic, to medic)
    moved: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class Board:
    day: date
    version: int | None
    published_at: datetime | None
    kpis: dict[str, int]
    routes: tuple[BoardRoute, ...]
    medics: tuple[BoardMedic, ...]
    unassigned: tuple[BoardUnassigned, ...]
    bookings: tuple[BoardBooking, ...]
    changes: PlanChanges | None = None
    #: bookings on the routes changed since publish: the day needs a re-plan
    needs_replan: bool = False
    patient_ids: tuple[int, ...] = field(default=())


def day_board(session: Session, day: date, *, since: int | None = None) -> Board:
    """The board of ``day``; ``since``: also what changed from that version to the published one."""
    plan = published_plan(session, day)
    bookings = list(session.exec(select(Booking).where(Booking.service_date == day).order_by(col(Booking.id))))
    places = _by_id(session, Place, {b.place_id for b in bookings})
    lines: dict[int, list[tuple[str, str, int]]] = defaultdict(list)
    if bookings:
        for line, display, code in session.exec(
            select(BookingPatient, Patient.display_name, Service.code)
            .join(Patient, col(Patient.id) == col(BookingPatient.patient_id))
            .join(Service, col(Service.id) == col(BookingPatient.service_id))
            .where(col(BookingPatient.booking_id).in_([b.id for b in bookings]))
            .order_by(col(BookingPatient.id))
        ):
            lines[line.booking_id].append((display, code, line.patient_id))
    routes, unassigned, idle, served = _plan_parts(session, plan, {b.id: b for b in bookings if b.id}, places, lines)
    shown = sorted({p for booking_lines in lines.values() for _, _, p in booking_lines})
    medics = _medics(session, day, idle)
    on_shift = {medic.id for medic in medics}
    return Board(
        day=day,
        version=plan.version if plan else None,
        published_at=plan.published_at if plan else None,
        kpis=dict(plan.kpis) if plan else {},
        routes=routes,
        medics=medics,
        unassigned=unassigned,
        bookings=tuple(_booking(b, places, lines, plan, served, on_shift) for b in bookings if b.id is not None),
        changes=_changes(session, day, since, plan) if since is not None and plan is not None else None,
        needs_replan=bool(plan and plan.id and changes_since_publish(session, plan.id)),
        patient_ids=tuple(shown),
    )


def _by_id[T](session: Session, table: type[T], ids: set[int]) -> dict[int, T]:
    if not ids:
        return {}
    return {row.id: row for row in session.exec(select(table).where(col(table.id).in_(ids)))}  # type: ignore[attr-defined]


def _plan_parts(
    session: Session,
    plan: Plan | None,
    bookings: dict[int, Booking],
    places: dict[int, Place],
    lines: dict[int, list[tuple[str, str, int]]],
) -> tuple[tuple[BoardRoute, ...], tuple[BoardUnassigned, ...], dict[int, PlanIdleMedic], dict[int, PlanStop]]:
    if plan is None or plan.id is None:
        return (), (), {}, {}
    stops: dict[int, list[BoardStop]] = defaultdict(list)
    served: dict[int, PlanStop] = {}
    for stop in session.exec(
        select(PlanStop).where(PlanStop.plan_id == plan.id).order_by(col(PlanStop.medic_id), col(PlanStop.sequence))
    ):
        booking = bookings.get(stop.booking_id)
        place = places.get(booking.place_id) if booking else None
        if booking is None or place is None or place.lat is None or place.lon is None:
            continue  # moved to another day since publish: the sheet says so, the board leaves it out
        served.setdefault(stop.booking_id, stop)
        part_lines = [line for line in lines.get(stop.booking_id, []) if line[2] in stop.patient_ids]
        stops[stop.medic_id].append(
            BoardStop(
                booking_id=stop.booking_id,
                part=stop.part,
                sequence=stop.sequence,
                lat=place.lat,
                lon=place.lon,
                arrival=stop.arrival,
                start=stop.start,
                end=stop.end,
                travel_s=stop.travel_s,
                wait_s=stop.wait_s,
                window_start=booking.window_start,
                window_end=booking.window_end,
                patients=tuple(name for name, _, _ in part_lines),
                services=tuple(code for _, code, _ in part_lines),
                pinned=booking.pinned_medic_id == stop.medic_id,
            )
        )
    routes = tuple(
        BoardRoute(
            medic_id=row.medic_id,
            departure=row.departure,
            arrival_home=row.arrival_home,
            breaks=tuple((parse_utc(a), parse_utc(b)) for a, b in row.breaks),
            kpis=dict(row.kpis),
            stops=tuple(stops.get(row.medic_id, [])),
        )
        for row in session.exec(select(PlanRoute).where(PlanRoute.plan_id == plan.id).order_by(col(PlanRoute.medic_id)))
    )
    unassigned = []
    for row in session.exec(
        select(PlanUnassigned)
        .where(PlanUnassigned.plan_id == plan.id)
        .order_by(col(PlanUnassigned.booking_id), col(PlanUnassigned.part))
    ):
        booking = bookings.get(row.booking_id)
        if booking is None:
            continue
        place = places.get(booking.place_id)
        unassigned.append(
            BoardUnassigned(
                booking_id=row.booking_id,
                part=row.part,
                reason=row.reason,
                words=in_words(row.reason),
                detail=row.detail,
                lat=place.lat if place else None,
                lon=place.lon if place else None,
                window_start=booking.window_start,
                window_end=booking.window_end,
            )
        )
    idle = {row.medic_id: row for row in session.exec(select(PlanIdleMedic).where(PlanIdleMedic.plan_id == plan.id))}
    return routes, tuple(unassigned), idle, served


def _medics(session: Session, day: date, idle: dict[int, PlanIdleMedic]) -> tuple[BoardMedic, ...]:
    shifts = list(session.exec(select(ShiftRow).where(ShiftRow.service_date == day).order_by(col(ShiftRow.starts_at))))
    medics = _by_id(session, Medic, {s.medic_id for s in shifts})
    homes = _by_id(session, Place, {m.home_place_id for m in medics.values()})
    expiring: dict[int, list[tuple[str, date]]] = defaultdict(list)
    if medics:
        for credential in session.exec(
            select(Credential)
            .where(col(Credential.medic_id).in_(list(medics)))
            .where(col(Credential.expires_on) <= day + EXPIRY_WARNING)
            .order_by(col(Credential.expires_on))
        ):
            expiring[credential.medic_id].append((credential.kind, credential.expires_on))
    board = []
    for shift in shifts:
        medic = medics.get(shift.medic_id)
        if medic is None or medic.id is None:
            continue
        home = homes.get(medic.home_place_id)
        reason = idle.get(medic.id)
        board.append(
            BoardMedic(
                id=medic.id,
                name=medic.name,
                role=medic.role.value,
                home_lat=home.lat if home else None,
                home_lon=home.lon if home else None,
                shift_start=shift.starts_at,
                shift_end=shift.ends_at,
                hard_end=shift.hard_end_at,
                stock=dict(medic.stock),
                pumps=medic.pumps,
                expiring=tuple(expiring.get(medic.id, [])),
                idle_reason=reason.reason if reason else None,
                idle_detail=reason.detail if reason else "",
            )
        )
    return tuple(board)


def _booking(
    booking: Booking,
    places: dict[int, Place],
    lines: dict[int, list[tuple[str, str, int]]],
    plan: Plan | None,
    served: dict[int, PlanStop],
    on_shift: set[int],
) -> BoardBooking:
    assert booking.id is not None
    status = booking.status
    if status is BookingStatus.PLANNED and booking.plan_version is not None:
        state = f"planned in version {booking.plan_version}"
    elif status is BookingStatus.NEEDS_CLEARANCE:
        state = "held: waits for the medical director's clearance"
    elif booking.status_reason:
        code, _, detail = booking.status_reason.partition(": ")
        state = f"held: {in_words(code).lower()}" + (f" ({detail})" if detail else "")
    else:
        state = status.value.replace("_", " ")
    place = places.get(booking.place_id)
    return BoardBooking(
        id=booking.id,
        status=status.value,
        state=state,
        window_start=booking.window_start,
        window_end=booking.window_end,
        place_kind=place.kind.value if place else "",
        patients=len(lines.get(booking.id, [])),
        services=tuple(code for _, code, _ in lines.get(booking.id, [])),
        pinned_medic_id=booking.pinned_medic_id,
        pinned_start=booking.pinned_start,
        pin_state=_pin_state(booking, plan, served.get(booking.id), on_shift),
        needs_clearance=status is BookingStatus.NEEDS_CLEARANCE,
    )


def _pin_state(booking: Booking, plan: Plan | None, stop: PlanStop | None, on_shift: set[int]) -> str | None:
    """Whether the published plan keeps the booking's pin, and if not, why."""
    if booking.pinned_medic_id is None:
        return None
    if booking.pinned_medic_id not in on_shift:
        return "pin not kept: the pinned medic has no shift that day, so the booking is planned freely"
    if plan is None or plan.published_at is None:
        return "pinned: no plan published yet"
    if booking.pinned_at is not None and booking.pinned_at > plan.published_at:
        return f"pinned after version {plan.version} was published: re-plan to apply it"
    if stop is None:
        return "pin not kept: " + (booking.status_reason or "the booking is not on the plan")
    if stop.medic_id != booking.pinned_medic_id:
        return f"pin not kept: the pinned medic could not serve it, so medic {stop.medic_id} does"
    if booking.pinned_start is not None and stop.start != booking.pinned_start:
        return "pin kept, but not at its start time"
    return "pin kept"


def _changes(session: Session, day: date, since: int, plan: Plan) -> PlanChanges | None:
    earlier = session.exec(select(Plan).where(Plan.service_date == day).where(Plan.version == since)).first()
    if earlier is None or earlier.id is None:
        return None

    def served(plan_id: int | None) -> dict[int, int]:
        rows = session.exec(select(PlanStop.booking_id, PlanStop.medic_id).where(PlanStop.plan_id == plan_id))
        return dict(rows.all())

    before, after = served(earlier.id), served(plan.id)
    return PlanChanges(
        since=since,
        newly_served=tuple(sorted(set(after) - set(before))),
        newly_unassigned=tuple(sorted(set(before) - set(after))),
        moved=tuple(sorted((b, before[b], after[b]) for b in set(before) & set(after) if before[b] != after[b])),
    )
