"""Route sheets: what a medic needs for each stop of the published plan, stored as served.

A sheet holds only what the visit needs: the patients' display names and phones, the address and
access notes, the services and window, the planned arrival, and the stock to bring. Reading a
sheet is reading patient data; the API audits every read.

Sheets are assembled once, when a plan is published (:func:`store_sheets`, in the publish's
transaction), and kept in ``route_sheet``: a medic's read is one indexed lookup, however many
phones ask at once. A published plan never changes, but the bookings on it can:

* an edit that touches a stop (its patients, window, place or services; a patient's phone; a
  place's access notes) assembles the sheets it touches again (:func:`refresh_sheets`, in the
  edit's own transaction). The stop shows what is true now, marked ``changed``, and the sheet says
  in plain words that the dispatcher will re-plan; the plan's view lists what changed;
* a cancelled booking (or one moved to another day) leaves every sheet at once: its stop is
  dropped, and only the stop number and time stay, in the sheet's list of changes.

Assembling tolerates any edit: a patient taken off a booking is no longer shown, one added is
shown on the booking's first part. Nothing here can fail on data the plan did not foresee.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from dispatch.store.tables import (
    Booking,
    BookingPatient,
    BookingStatus,
    Medic,
    Patient,
    Place,
    Plan,
    PlanRoute,
    PlanStatus,
    PlanStop,
    RouteSheetRow,
    Service,
    now_utc,
)


@dataclass(frozen=True)
class SheetPatient:
    patient_id: int
    display_name: str
    phone: str
    service: str


@dataclass(frozen=True)
class SheetStop:
    sequence: int
    booking_id: int
    part: int
    arrival: datetime
    start: datetime
    end: datetime
    window_start: datetime
    window_end: datetime
    place_kind: str
    address: str
    access_notes: str
    lat: float
    lon: float
    patients: tuple[SheetPatient, ...]
    #: the booking changed after the plan was published: the times may no longer hold
    changed: bool = False
    #: what the booking was when the plan was published (compared on every later assembly)
    planned_fingerprint: str = ""


@dataclass(frozen=True)
class RouteSheet:
    day: date
    plan_id: int
    plan_version: int
    content_hash: str
    published_at: datetime
    medic_id: int
    medic_name: str
    departure: datetime
    arrival_home: datetime
    breaks: tuple[tuple[str, str], ...]
    stock: dict[str, int]
    stops: tuple[SheetStop, ...]
    #: the route's figures (driving_s, overtime_s, ...), as the plan stores them
    kpis: dict[str, int] = field(default_factory=dict)
    #: what changed since publish, in plain words without patient data
    changes: tuple[str, ...] = ()
    #: 1 at publish, one more each time an edit changed what the sheet shows
    revision: int = 1


# --------------------------------------------------------------------- documents


def to_document(sheet: RouteSheet) -> dict[str, Any]:
    """The sheet as JSON-ready data (datetimes in ISO 8601)."""
    return json.loads(json.dumps(asdict(sheet), default=_iso))


def _iso(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a sheet")


def from_document(document: dict[str, Any]) -> RouteSheet:
    """The sheet :func:`to_document` stored."""
    stops = tuple(
        SheetStop(
            **{
                **stop,
                **{name: datetime.fromisoformat(stop[name]) for name in _STOP_TIMES},
                "patients": tuple(SheetPatient(**person) for person in stop["patients"]),
            }
        )
        for stop in document["stops"]
    )
    return RouteSheet(
        **{
            **document,
            "day": date.fromisoformat(document["day"]),
            "published_at": datetime.fromisoformat(document["published_at"]),
            "departure": datetime.fromisoformat(document["departure"]),
            "arrival_home": datetime.fromisoformat(document["arrival_home"]),
            "breaks": tuple((start, end) for start, end in document["breaks"]),
            "stops": stops,
            "changes": tuple(document.get("changes", ())),
        }
    )


_STOP_TIMES = ("arrival", "start", "end", "window_start", "window_end")


def document_digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# --------------------------------------------------------------------- assembling from the tables


@dataclass(frozen=True)
class _Assembled:
    sheet: RouteSheet
    #: [booking_id, what] for each booking on the sheet that changed since publish
    changed: list[list[Any]]


def _fingerprint(booking: Booking, place: Place, lines: Sequence[tuple[int, str]]) -> str:
    """What a booking is, as far as the plan's times depend on it: window, place, patients and services."""
    facts = [
        booking.window_start.isoformat(),
        booking.window_end.isoformat(),
        booking.alt_window_start.isoformat() if booking.alt_window_start else None,
        booking.alt_window_end.isoformat() if booking.alt_window_end else None,
        booking.place_id,
        place.lat,
        place.lon,
        sorted(lines),
    ]
    return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()[:32]


def _assemble(
    session: Session, plan: Plan, medic_ids: Iterable[int] | None, planned: dict[tuple[int, int], str]
) -> dict[int, _Assembled]:
    """The sheets of ``plan`` (only ``medic_ids``' when given) as the tables hold them now, by medic id.

    ``planned`` holds each stop's fingerprint from the sheet stored at publish (empty then: the
    fingerprints are taken now). Five statements however many stops.
    """
    assert plan.id is not None
    route_query = (
        select(PlanRoute, Medic.name)
        .join(Medic, col(Medic.id) == col(PlanRoute.medic_id))
        .where(PlanRoute.plan_id == plan.id)
    )
    stop_query = select(PlanStop).where(PlanStop.plan_id == plan.id)
    if medic_ids is not None:
        wanted = sorted(set(medic_ids))
        route_query = route_query.where(col(PlanRoute.medic_id).in_(wanted))
        stop_query = stop_query.where(col(PlanStop.medic_id).in_(wanted))
    routes = session.exec(route_query.order_by(col(PlanRoute.medic_id))).all()
    if not routes:
        return {}
    stops = session.exec(stop_query.order_by(col(PlanStop.medic_id), col(PlanStop.sequence))).all()
    booking_ids = sorted({stop.booking_id for stop in stops})
    bookings: dict[int, tuple[Booking, Place]] = {}
    lines: dict[int, list[tuple[int, SheetPatient, str]]] = defaultdict(list)
    #: every patient each booking's parts hold on the whole plan (a patient added since goes to the first part)
    planned_patients: dict[int, set[int]] = defaultdict(set)
    first_part: dict[int, int] = {}
    if booking_ids:
        for booking, place in session.exec(
            select(Booking, Place)
            .join(Place, col(Place.id) == col(Booking.place_id))
            .where(col(Booking.id).in_(booking_ids))
        ):
            assert booking.id is not None
            bookings[booking.id] = (booking, place)
        # six columns: past sqlmodel's typed overloads of select(), so SQLAlchemy's own
        for booking_id, patient_id, display_name, phone, service_name, service_code in session.execute(
            sa_select(
                col(BookingPatient.booking_id),
                col(Patient.id),
                col(Patient.display_name),
                col(Patient.phone),
                col(Service.name),
                col(Service.code),
            )
            .join(Patient, col(Patient.id) == col(BookingPatient.patient_id))
            .join(Service, col(Service.id) == col(BookingPatient.service_id))
            .where(col(BookingPatient.booking_id).in_(booking_ids))
            .order_by(col(BookingPatient.id))
        ):
            assert patient_id is not None
            lines[booking_id].append(
                (patient_id, SheetPatient(patient_id, display_name, phone, service_name), service_code)
            )
        for booking_id, part, patient_ids in session.exec(
            select(PlanStop.booking_id, PlanStop.part, PlanStop.patient_ids)
            .where(PlanStop.plan_id == plan.id)
            .where(col(PlanStop.booking_id).in_(booking_ids))
        ):
            planned_patients[booking_id].update(patient_ids)
            first_part[booking_id] = min(part, first_part.get(booking_id, part))

    by_medic: dict[int, list[SheetStop]] = defaultdict(list)
    changes: dict[int, list[str]] = defaultdict(list)
    changed: dict[int, list[list[Any]]] = defaultdict(list)
    for stop in stops:
        found = bookings.get(stop.booking_id)
        if found is None:
            continue
        booking, place = found
        if booking.status is BookingStatus.CANCELLED or booking.service_date != plan.service_date:
            moved = booking.status is not BookingStatus.CANCELLED
            changes[stop.medic_id].append(
                f"Stop {stop.sequence} (planned {stop.start.isoformat()}) "
                f"{'moved to another day' if moved else 'was cancelled'}: it is off your route."
            )
            changed[stop.medic_id].append([stop.booking_id, "moved" if moved else "cancelled"])
            continue
        current = lines[stop.booking_id]
        on_booking = {patient_id for patient_id, _, _ in current}
        shown = [person for patient_id, person, _ in current if patient_id in stop.patient_ids]
        if first_part.get(stop.booking_id) == stop.part:
            shown += [
                person for patient_id, person, _ in current if patient_id not in planned_patients[stop.booking_id]
            ]
        fingerprint = _fingerprint(booking, place, [(pid, code) for pid, _, code in current])
        planned_fingerprint = planned.get((stop.booking_id, stop.part), fingerprint)
        patients_changed = set(stop.patient_ids) - on_booking or (
            first_part.get(stop.booking_id) == stop.part and on_booking - planned_patients[stop.booking_id]
        )
        is_changed = bool(patients_changed) or fingerprint != planned_fingerprint
        if is_changed:
            what = "patients" if patients_changed else "details"
            changes[stop.medic_id].append(
                f"Stop {stop.sequence}: the booking changed after the plan was published ({what}); "
                "the times may not hold until the dispatcher re-plans."
            )
            changed[stop.medic_id].append([stop.booking_id, what])
        in_second = (
            booking.alt_window_start is not None
            and booking.alt_window_end is not None
            and booking.alt_window_start <= stop.start <= booking.alt_window_end
        )
        by_medic[stop.medic_id].append(
            SheetStop(
                sequence=stop.sequence,
                booking_id=stop.booking_id,
                part=stop.part,
                arrival=stop.arrival,
                start=stop.start,
                end=stop.end,
                # the window the visit starts in: the booking's first, or its second
                window_start=booking.alt_window_start
                if in_second and booking.alt_window_start
                else booking.window_start,
                window_end=booking.alt_window_end if in_second and booking.alt_window_end else booking.window_end,
                place_kind=place.kind.value,
                address=place.address,
                access_notes=place.access_notes,
                lat=place.lat or 0.0,
                lon=place.lon or 0.0,
                patients=tuple(shown),
                changed=is_changed,
                planned_fingerprint=planned_fingerprint,
            )
        )
    assembled: dict[int, _Assembled] = {}
    for route, medic_name in routes:
        sheet = RouteSheet(
            day=plan.service_date,
            plan_id=plan.id,
            plan_version=plan.version,
            content_hash=plan.content_hash or "",
            published_at=plan.published_at or plan.created_at,
            medic_id=route.medic_id,
            medic_name=medic_name,
            departure=route.departure,
            arrival_home=route.arrival_home,
            breaks=tuple((start, end) for start, end in route.breaks),
            stock=dict(route.stock),
            stops=tuple(by_medic[route.medic_id]),
            kpis=dict(route.kpis),
            changes=tuple(changes[route.medic_id]),
        )
        assembled[route.medic_id] = _Assembled(sheet, changed[route.medic_id])
    return assembled


# --------------------------------------------------------------------- storing


def store_sheets(session: Session, plan: Plan, medic_ids: Iterable[int] | None = None) -> int:
    """Assemble ``plan``'s sheets (only ``medic_ids``') and store them; a sheet whose content changed
    gets the next revision. How many sheets changed. The caller commits."""
    assert plan.id is not None
    query = select(RouteSheetRow).where(RouteSheetRow.plan_id == plan.id)
    if medic_ids is not None:
        medic_ids = sorted(set(medic_ids))
        query = query.where(col(RouteSheetRow.medic_id).in_(medic_ids))
    rows = {row.medic_id: row for row in session.exec(query)}
    planned = {
        (stop["booking_id"], stop["part"]): stop["planned_fingerprint"]
        for row in rows.values()
        for stop in row.document.get("stops", [])
    }
    updated = 0
    for medic_id, made in _assemble(session, plan, medic_ids, planned).items():
        row = rows.get(medic_id)
        sheet = made.sheet if row is None else replace(made.sheet, revision=row.revision)
        document = to_document(sheet)
        digest = document_digest(document)
        if row is not None and row.digest == digest:
            continue
        if row is None:
            row = RouteSheetRow(plan_id=plan.id, medic_id=medic_id, digest=digest, document=document)
        else:
            sheet = replace(sheet, revision=row.revision + 1)
            document = to_document(sheet)
            row.revision, row.digest, row.document = sheet.revision, document_digest(document), document
        row.changed, row.updated_at = made.changed, now_utc()
        session.add(row)
        updated += 1
    session.flush()
    return updated


def refresh_sheets(
    session: Session,
    *,
    booking_ids: Iterable[int] = (),
    patient_ids: Iterable[int] = (),
    place_ids: Iterable[int] = (),
    medic_ids: Iterable[int] = (),
) -> int:
    """Assemble again every published sheet that shows one of these bookings, patients, places or medics,
    in the caller's transaction (an edit and the sheets it touches commit together). How many changed."""
    bookings = set(booking_ids)
    patients, places, medics = set(patient_ids), set(place_ids), set(medic_ids)
    if patients:
        bookings |= set(
            session.exec(select(BookingPatient.booking_id).where(col(BookingPatient.patient_id).in_(patients))).all()
        )
    if places:
        bookings |= {b for b in session.exec(select(Booking.id).where(col(Booking.place_id).in_(places))).all() if b}
    touched: dict[int, set[int]] = defaultdict(set)
    if bookings:
        for plan_id, medic_id in session.exec(
            select(PlanStop.plan_id, PlanStop.medic_id)
            .join(Plan, col(Plan.id) == col(PlanStop.plan_id))
            .where(Plan.status == PlanStatus.PUBLISHED)
            .where(col(PlanStop.booking_id).in_(sorted(bookings)))
        ):
            touched[plan_id].add(medic_id)
    if medics:
        for plan_id, medic_id in session.exec(
            select(PlanRoute.plan_id, PlanRoute.medic_id)
            .join(Plan, col(Plan.id) == col(PlanRoute.plan_id))
            .where(Plan.status == PlanStatus.PUBLISHED)
            .where(col(PlanRoute.medic_id).in_(sorted(medics)))
        ):
            touched[plan_id].add(medic_id)
    updated = 0
    for plan_id, medic_set in sorted(touched.items()):
        plan = session.get(Plan, plan_id)
        if plan is not None:
            updated += store_sheets(session, plan, medic_set)
    return updated


# --------------------------------------------------------------------- reading


@dataclass(frozen=True)
class StoredSheet:
    """Where a served sheet is, and what it is made of: enough to answer a read without loading it."""

    row_id: int
    plan_id: int
    medic_id: int
    content_hash: str
    digest: str


def _ensure_stored(session: Session, day: date) -> None:
    """A plan published before sheets were stored gets them on its first read."""
    plan = session.exec(select(Plan).where(Plan.service_date == day).where(Plan.status == PlanStatus.PUBLISHED)).first()
    if plan is None:
        return
    has_rows = session.exec(select(RouteSheetRow.id).where(RouteSheetRow.plan_id == plan.id).limit(1)).first()
    has_routes = session.exec(select(PlanRoute.id).where(PlanRoute.plan_id == plan.id).limit(1)).first()
    if has_rows is None and has_routes is not None:
        store_sheets(session, plan)
        session.commit()


def find_sheet(session: Session, day: date, medic_id: int) -> StoredSheet | None:
    """``medic_id``'s served sheet of ``day``'s published plan, without its document: one indexed lookup."""
    query = (
        select(RouteSheetRow.id, RouteSheetRow.plan_id, Plan.content_hash, RouteSheetRow.digest)
        .join(Plan, col(Plan.id) == col(RouteSheetRow.plan_id))
        .where(Plan.service_date == day)
        .where(Plan.status == PlanStatus.PUBLISHED)
        .where(RouteSheetRow.medic_id == medic_id)
    )
    found = session.exec(query).first()
    if found is None:
        _ensure_stored(session, day)
        found = session.exec(query).first()
    if found is None:
        return None
    row_id, plan_id, content_hash, digest = found
    assert row_id is not None
    return StoredSheet(row_id, plan_id, medic_id, content_hash or "", digest)


def load_sheet(session: Session, stored: StoredSheet) -> RouteSheet:
    row = session.get(RouteSheetRow, stored.row_id)
    assert row is not None
    return from_document(row.document)


def route_sheets(session: Session, day: date, medic_id: int | None = None) -> list[RouteSheet]:
    """The published sheets of ``day`` as served (only ``medic_id``'s when given), by medic id."""
    _ensure_stored(session, day)
    query = (
        select(RouteSheetRow.document)
        .join(Plan, col(Plan.id) == col(RouteSheetRow.plan_id))
        .where(Plan.service_date == day)
        .where(Plan.status == PlanStatus.PUBLISHED)
    )
    if medic_id is not None:
        query = query.where(RouteSheetRow.medic_id == medic_id)
    return [from_document(dict(document)) for document in session.exec(query.order_by(col(RouteSheetRow.medic_id)))]


def medic_sheets(session: Session, medic_id: int, first: date, last: date) -> list[RouteSheet]:
    """``medic_id``'s published sheets from ``first`` to ``last`` (inclusive), by day."""
    days = session.exec(
        select(col(Plan.service_date))
        .join(PlanRoute, col(PlanRoute.plan_id) == col(Plan.id))
        .where(Plan.status == PlanStatus.PUBLISHED)
        .where(PlanRoute.medic_id == medic_id)
        .where(col(Plan.service_date).between(first, last))
        .order_by(col(Plan.service_date))
    ).all()
    return [sheet for day in days for sheet in route_sheets(session, day, medic_id)]


def changes_since_publish(session: Session, plan_id: int) -> list[tuple[int, str]]:
    """The bookings on ``plan_id``'s sheets that changed since publish, and how; empty: no re-plan is owed."""
    found: dict[int, str] = {}
    for changed in session.exec(select(RouteSheetRow.changed).where(RouteSheetRow.plan_id == plan_id)):
        for booking_id, what in changed:
            found.setdefault(booking_id, what)
    return sorted(found.items())
