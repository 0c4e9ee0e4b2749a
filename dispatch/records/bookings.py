"""Patients and bookings.

A booking is one visit: a service day, a time window, a place and one or more patients, each
with a service from the catalogue. Its status is ``needs_clearance`` when a patient's screening
flags their service (the medical director clears it), else ``requested``. Deleting a booking
cancels it; the row stays for the plans that name it. A patient with bookings is not deleted.

Patient data is protected health information: the problems raised here name fields, never
values, and callers audit every read and write by id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, delete, func, select

from dispatch.planning.sheets import refresh_sheets
from dispatch.records.catalogue import services_by_code
from dispatch.records.places import PlaceInput, check_place, new_place
from dispatch.records.validation import (
    Conflict,
    Loc,
    NotFound,
    Policy,
    Problems,
    check_birth_date,
    check_second_window,
    check_service_day,
    check_span,
)
from dispatch.rules.eligibility import clearance_flags
from dispatch.store.tables import Booking, BookingPatient, BookingStatus, Medic, Patient, Place, Service, now_utc

PATIENT_FIELDS = frozenset({"full_name", "display_name", "phone", "date_of_birth", "screening"})
BOOKING_FIELDS = frozenset(
    {
        "service_date",
        "window_start",
        "window_end",
        "alt_window_start",
        "alt_window_end",
        "place",
        "place_id",
        "patients",
        "preferred_medic_id",
        "priority",
    }
)
#: fields a line names for a new patient (display_name and screening are optional)
NEW_PATIENT_REQUIRED = ("full_name", "phone", "date_of_birth")
CLOSED = frozenset({BookingStatus.CANCELLED, BookingStatus.DONE})


@dataclass(frozen=True)
class PatientInput:
    full_name: str
    phone: str
    date_of_birth: date
    display_name: str | None = None
    screening: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class LineInput:
    """One patient of a booking: an existing ``patient_id``, or the fields of a new patient."""

    service: str
    first_visit: bool = False
    patient_id: int | None = None
    full_name: str | None = None
    display_name: str | None = None
    phone: str | None = None
    date_of_birth: date | None = None
    screening: Mapping[str, bool] | None = None

    def new_fields(self) -> list[str]:
        return [name for name in PATIENT_FIELDS if getattr(self, name) is not None]


@dataclass(frozen=True)
class BookingLine:
    """A booking's patient as shown: the patient, the service code and whether it is their first visit."""

    patient_id: int
    service: str
    first_visit: bool


# --------------------------------------------------------------------- patients


def display_name(full_name: str) -> str:
    """What a medic's sheet shows: the first name and the initial of the last ("Dana R."); a single name as it is."""
    parts = full_name.split()
    if len(parts) < 2:
        return full_name.strip()
    return f"{parts[0]} {parts[-1][0].upper()}."


def create_patient(session: Session, *, data: PatientInput, policy: Policy) -> Patient:
    problems = Problems()
    check_birth_date(problems, ("date_of_birth",), data.date_of_birth, policy)
    problems.raise_any()
    return _new_patient(session, data)


def _new_patient(session: Session, data: PatientInput) -> Patient:
    patient = Patient(
        full_name=data.full_name,
        display_name=data.display_name or display_name(data.full_name),
        phone=data.phone,
        date_of_birth=data.date_of_birth,
        screening=dict(data.screening),
    )
    session.add(patient)
    session.flush()
    return patient


def get_patient(session: Session, *, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("patient")
    return patient


def update_patient(session: Session, *, patient_id: int, changes: Mapping[str, Any], policy: Policy) -> Patient:
    """Change the given fields; a new full name without a display name derives the display name again."""
    unknown = set(changes) - PATIENT_FIELDS
    if unknown:
        raise ValueError(f"not patient fields: {sorted(unknown)}")
    patient = get_patient(session, patient_id=patient_id)
    if "date_of_birth" in changes:
        problems = Problems()
        check_birth_date(problems, ("date_of_birth",), changes["date_of_birth"], policy)
        problems.raise_any()
    for name, value in changes.items():
        setattr(patient, name, dict(value) if name == "screening" else value)
    if "full_name" in changes and "display_name" not in changes:
        patient.display_name = display_name(changes["full_name"])
    session.add(patient)
    session.flush()
    refresh_sheets(session, patient_ids=[patient_id])  # a corrected phone shows on the published sheets at once
    return patient


def delete_patient(session: Session, *, patient_id: int) -> None:
    """Delete a patient who is on no booking (a booked patient stays with the booking's history)."""
    patient = get_patient(session, patient_id=patient_id)
    booked = session.exec(select(BookingPatient.id).where(BookingPatient.patient_id == patient_id)).first()
    if booked is not None:
        raise Conflict("the patient is on a booking; cancel the booking instead")
    session.delete(patient)
    session.flush()


# --------------------------------------------------------------------- bookings


def get_booking(session: Session, *, booking_id: int) -> Booking:
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("booking")
    return booking


def list_bookings(
    session: Session,
    *,
    service_date: date | None = None,
    status: BookingStatus | None = None,
    offset: int = 0,
    limit: int = 500,
) -> list[Booking]:
    query = select(Booking)
    if service_date is not None:
        query = query.where(Booking.service_date == service_date)
    if status is not None:
        query = query.where(Booking.status == status)
    return list(session.exec(query.order_by(col(Booking.service_date), col(Booking.id)).offset(offset).limit(limit)))


def booking_lines(session: Session, *, booking_ids: Sequence[int]) -> dict[int, list[BookingLine]]:
    """Each booking's patients with their service codes, in the order they were booked."""
    found: dict[int, list[BookingLine]] = defaultdict(list)
    if not booking_ids:
        return found
    rows = session.exec(
        select(BookingPatient, Service.code)
        .join(Service, col(Service.id) == col(BookingPatient.service_id))
        .where(col(BookingPatient.booking_id).in_(list(booking_ids)))
        .order_by(col(BookingPatient.id))
    ).all()
    for line, code in rows:
        found[line.booking_id].append(BookingLine(line.patient_id, code, line.first_visit))
    return found


def _check_lines(
    session: Session, problems: Problems, lines: Sequence[LineInput], policy: Policy
) -> tuple[dict[str, Service], dict[int, Patient]]:
    """Each line names a known service, and either a known patient or a whole new one; no patient twice."""
    services = services_by_code(session)
    wanted = [line.patient_id for line in lines if line.patient_id is not None]
    found = session.exec(select(Patient).where(col(Patient.id).in_(wanted))).all() if wanted else []
    known = {p.id: p for p in found if p.id is not None}
    seen: set[int] = set()
    for number, line in enumerate(lines):
        here: Loc = ("patients", number)
        if line.service not in services:
            known_codes = ", ".join(sorted(services)) or "none: the catalogue is empty (dripline catalogue seed)"
            problems.add((*here, "service"), f"is not a service code; known codes: {known_codes}")
        given = line.new_fields()
        if line.patient_id is not None:
            if given:
                problems.add((*here, given[0]), "give patient_id or a new patient's fields, not both")
            elif line.patient_id not in known:
                problems.add((*here, "patient_id"), "is not a known patient")
            elif line.patient_id in seen:
                problems.add((*here, "patient_id"), "appears twice in the booking")
            seen.add(line.patient_id)
            continue
        for name in NEW_PATIENT_REQUIRED:
            if getattr(line, name) is None:
                problems.add((*here, name), "is required for a new patient (or give patient_id)")
        if line.date_of_birth is not None:
            check_birth_date(problems, (*here, "date_of_birth"), line.date_of_birth, policy)
    return services, known


def _write_lines(
    session: Session,
    booking: Booking,
    lines: Sequence[LineInput],
    services: Mapping[str, Service],
    known: Mapping[int, Patient],
) -> bool:
    """Add the booking's patients (new ones first created); whether any screening flags its service."""
    assert booking.id is not None
    flagged = False
    for line in lines:
        if line.patient_id is not None:
            patient = known[line.patient_id]
        else:
            assert line.full_name is not None and line.phone is not None and line.date_of_birth is not None
            patient = _new_patient(
                session,
                PatientInput(
                    full_name=line.full_name,
                    phone=line.phone,
                    date_of_birth=line.date_of_birth,
                    display_name=line.display_name,
                    screening=line.screening or {},
                ),
            )
        service = services[line.service]
        assert patient.id is not None and service.id is not None
        flagged = flagged or bool(clearance_flags(patient, service))
        session.add(
            BookingPatient(
                booking_id=booking.id, patient_id=patient.id, service_id=service.id, first_visit=line.first_visit
            )
        )
    session.flush()
    return flagged


def bookings_on(session: Session, day: date) -> int:
    """How many bookings ``day`` holds, cancelled ones aside."""
    return session.exec(
        select(func.count())
        .select_from(Booking)
        .where(Booking.service_date == day)
        .where(Booking.status != BookingStatus.CANCELLED)
    ).one()


def check_day_has_room(session: Session, problems: Problems, day: date, policy: Policy) -> None:
    """A day holds at most ``[planning] max_bookings_per_day`` bookings: past that, one day's re-plan could
    take the machine's memory (and no fleet of medics serves that many)."""
    held = bookings_on(session, day)
    if held >= policy.max_bookings_per_day:
        problems.add(
            ("service_date",),
            f"already holds {held} bookings, the most one day may hold ([planning] max_bookings_per_day)",
        )


def _check_refs(session: Session, problems: Problems, *, place_id: int | None, preferred_medic_id: int | None) -> None:
    if place_id is not None and session.get(Place, place_id) is None:
        problems.add(("place_id",), "is not a known place")
    if preferred_medic_id is not None and session.get(Medic, preferred_medic_id) is None:
        problems.add(("preferred_medic_id",), "is not a known medic")


def create_booking(
    session: Session,
    *,
    service_date: date,
    window_start: datetime,
    window_end: datetime,
    lines: Sequence[LineInput],
    alt_window: tuple[datetime | None, datetime | None] = (None, None),
    place: PlaceInput | None = None,
    place_id: int | None = None,
    preferred_medic_id: int | None = None,
    priority: int = 1,
    policy: Policy,
) -> Booking:
    """Book a visit at a new ``place`` or a known ``place_id``; every problem is reported at once."""
    problems = Problems()
    check_service_day(problems, ("service_date",), service_date, policy)
    check_day_has_room(session, problems, service_date, policy)
    check_span(problems, service_date, policy.zone, (("window_start",), window_start), (("window_end",), window_end))
    check_second_window(problems, service_date, policy.zone, (window_start, window_end), alt_window)
    if place is not None and place_id is not None:
        problems.add(("place_id",), "give place or place_id, not both")
    elif place is None and place_id is None:
        problems.add(("place",), "give place (a new place) or place_id (a known one)")
    elif place is not None:
        check_place(problems, ("place",), place, policy)
    _check_refs(session, problems, place_id=place_id, preferred_medic_id=preferred_medic_id)
    if not lines:
        problems.add(("patients",), "must list at least one patient")
    services, known = _check_lines(session, problems, lines, policy)
    problems.raise_any()

    if place is not None:
        place_id = new_place(session, data=place, policy=policy).id
    assert place_id is not None
    booking = Booking(
        place_id=place_id,
        service_date=service_date,
        window_start=window_start,
        window_end=window_end,
        alt_window_start=alt_window[0],
        alt_window_end=alt_window[1],
        preferred_medic_id=preferred_medic_id,
        priority=priority,
    )
    session.add(booking)
    session.flush()
    flagged = _write_lines(session, booking, lines, services, known)
    booking.status = BookingStatus.NEEDS_CLEARANCE if flagged else BookingStatus.REQUESTED
    session.add(booking)
    session.flush()
    return booking


def update_booking(session: Session, *, booking_id: int, changes: Mapping[str, Any], policy: Policy) -> Booking:
    """Change the given fields; the result is checked whole. New ``patients`` replace the list and set the
    status again (``needs_clearance`` or ``requested``). A cancelled, done or past booking is not changed."""
    unknown = set(changes) - BOOKING_FIELDS
    if unknown:
        raise ValueError(f"not booking fields: {sorted(unknown)}")
    booking = get_booking(session, booking_id=booking_id)
    if booking.status in CLOSED:
        raise Conflict(f"the booking is {booking.status.value}")
    if booking.service_date < policy.today:
        raise Conflict("the booking is on a past day")
    problems = Problems()
    service_date = changes.get("service_date", booking.service_date)
    if "service_date" in changes:
        check_service_day(problems, ("service_date",), service_date, policy)
        if service_date != booking.service_date:
            check_day_has_room(session, problems, service_date, policy)
    window_start = changes.get("window_start", booking.window_start)
    window_end = changes.get("window_end", booking.window_end)
    check_span(problems, service_date, policy.zone, (("window_start",), window_start), (("window_end",), window_end))
    alt_window = (
        changes.get("alt_window_start", booking.alt_window_start),
        changes.get("alt_window_end", booking.alt_window_end),
    )
    check_second_window(problems, service_date, policy.zone, (window_start, window_end), alt_window)
    place: PlaceInput | None = changes.get("place")
    place_id: int | None = changes.get("place_id")
    if place is not None and place_id is not None:
        problems.add(("place_id",), "give place or place_id, not both")
    elif place is not None:
        check_place(problems, ("place",), place, policy)
    _check_refs(session, problems, place_id=place_id, preferred_medic_id=changes.get("preferred_medic_id"))
    lines: Sequence[LineInput] | None = changes.get("patients")
    services: dict[str, Service] = {}
    known: dict[int, Patient] = {}
    if lines is not None:
        if not lines:
            problems.add(("patients",), "must list at least one patient")
        services, known = _check_lines(session, problems, lines, policy)
    problems.raise_any()

    if place is not None:
        place_id = new_place(session, data=place, policy=policy).id
    if place_id is not None:
        booking.place_id = place_id
    booking.service_date, booking.window_start, booking.window_end = service_date, window_start, window_end
    booking.alt_window_start, booking.alt_window_end = alt_window
    for name in ("preferred_medic_id", "priority"):
        if name in changes:
            setattr(booking, name, changes[name])
    session.add(booking)
    session.flush()
    if lines is not None:
        session.exec(delete(BookingPatient).where(col(BookingPatient.booking_id) == booking.id))
        flagged = _write_lines(session, booking, lines, services, known)
        # new patients are screened afresh: an earlier clearance was for other people
        booking.status = BookingStatus.NEEDS_CLEARANCE if flagged else BookingStatus.REQUESTED
        booking.cleared_at = None
        session.add(booking)
        session.flush()
    refresh_sheets(session, booking_ids=[booking_id])  # a published stop shows the edit, marked changed
    return booking


def cancel_booking(session: Session, *, booking_id: int) -> Booking:
    """Cancel (idempotent); a done booking stays done."""
    booking = get_booking(session, booking_id=booking_id)
    if booking.status is BookingStatus.DONE:
        raise Conflict("the booking is done")
    booking.status = BookingStatus.CANCELLED
    session.add(booking)
    session.flush()
    refresh_sheets(session, booking_ids=[booking_id])  # the cancelled patient leaves every sheet now
    return booking


def clear_booking(session: Session, *, booking_id: int) -> Booking:
    """The medical director's clearance: ``needs_clearance`` becomes ``cleared`` (clearing twice is a no-op)."""
    booking = get_booking(session, booking_id=booking_id)
    if booking.status is BookingStatus.CLEARED:
        return booking
    if booking.status is not BookingStatus.NEEDS_CLEARANCE:
        raise Conflict(f"the booking is {booking.status.value}, not awaiting clearance")
    booking.status, booking.cleared_at = BookingStatus.CLEARED, now_utc()
    session.add(booking)
    session.flush()
    return booking


def pin_booking(session: Session, *, booking_id: int, medic_id: int, start: datetime | None = None) -> Booking:
    """Pin the booking to ``medic_id`` (at ``start``, which must lie inside one of its windows): every
    re-plan from now on keeps it there, or reports why it could not (:mod:`dispatch.rules.pins`)."""
    booking = get_booking(session, booking_id=booking_id)
    if booking.status in CLOSED:
        raise Conflict(f"the booking is {booking.status.value}")
    problems = Problems()
    medic = session.get(Medic, medic_id)
    if medic is None:
        problems.add(("medic_id",), "is not a known medic")
    elif not medic.active:
        problems.add(("medic_id",), "is a deactivated medic")
    if start is not None:
        windows = [(booking.window_start, booking.window_end)]
        if booking.alt_window_start is not None and booking.alt_window_end is not None:
            windows.append((booking.alt_window_start, booking.alt_window_end))
        if not any(opens <= start <= closes for opens, closes in windows):
            problems.add(("start",), "must lie inside the booking's window")
    problems.raise_any()
    booking.pinned_medic_id, booking.pinned_start, booking.pinned_at = medic_id, start, now_utc()
    session.add(booking)
    session.flush()
    return booking


def unpin_booking(session: Session, *, booking_id: int) -> Booking:
    """Take the pin off (a no-op without one): the next re-plan places the booking freely."""
    booking = get_booking(session, booking_id=booking_id)
    booking.pinned_medic_id, booking.pinned_start, booking.pinned_at = None, None, None
    session.add(booking)
    session.flush()
    return booking
