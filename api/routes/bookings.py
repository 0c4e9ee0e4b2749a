"""Bookings (dispatchers and admins): visits with their patients, place and window.

A booking's status is server-owned: ``needs_clearance`` when a patient's screening flags their
service, else ``requested``; ``POST /bookings/{id}/clear`` clears it and ``DELETE`` cancels it.
A publish makes it ``planned`` (with the plan version) while a published route serves it, and
moves it back to ``requested`` (``cleared`` once cleared) with the reason when a later version
leaves it out.
Reads disclose patient ids, so each is audited (booking and patient ids only).
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from fastapi import APIRouter, status
from sqlmodel import Session

from api.deps import (
    DispatcherUser,
    Limit,
    Offset,
    PathId,
    PolicyDep,
    RequireDispatcher,
    SessionDep,
    SettingsDep,
    audit,
)
from api.errors import documented
from api.models import (
    BookingCreate,
    BookingPatientIn,
    BookingPatientPublic,
    BookingPublic,
    BookingUpdate,
    PinCreate,
    PlaceCreate,
)
from dispatch.access.audit import ResourceId
from dispatch.records.bookings import (
    BookingLine,
    LineInput,
    booking_lines,
    cancel_booking,
    clear_booking,
    create_booking,
    get_booking,
    list_bookings,
    pin_booking,
    unpin_booking,
    update_booking,
)
from dispatch.records.places import PlaceInput
from dispatch.store.tables import Booking, BookingStatus

router = APIRouter(prefix="/bookings", tags=["bookings"], dependencies=[RequireDispatcher])
NOT_FOUND = documented(404, "no booking with this id")
CONFLICT = documented(409, "the booking's status does not allow it")


def booking_public(booking: Booking, lines: list[BookingLine], zone: ZoneInfo) -> BookingPublic:
    assert booking.id is not None
    return BookingPublic(
        id=booking.id,
        service_date=booking.service_date,
        window_start=booking.window_start.astimezone(zone),
        window_end=booking.window_end.astimezone(zone),
        alt_window_start=booking.alt_window_start.astimezone(zone) if booking.alt_window_start else None,
        alt_window_end=booking.alt_window_end.astimezone(zone) if booking.alt_window_end else None,
        place_id=booking.place_id,
        status=booking.status,
        plan_version=booking.plan_version,
        status_reason=booking.status_reason,
        priority=booking.priority,
        preferred_medic_id=booking.preferred_medic_id,
        pinned_medic_id=booking.pinned_medic_id,
        pinned_start=booking.pinned_start.astimezone(zone) if booking.pinned_start else None,
        source=booking.source,
        external_ref=booking.external_ref,
        patients=[
            BookingPatientPublic(patient_id=ln.patient_id, service=ln.service, first_visit=ln.first_visit)
            for ln in lines
        ],
    )


def disclosed(bookings: list[Booking], lines: dict[int, list[BookingLine]]) -> list[ResourceId]:
    """The ids a response shows: each booking, its place, and its patients."""
    ids: list[ResourceId] = []
    for booking in bookings:
        ids += [booking.id or 0, f"place:{booking.place_id}"]
        ids += [f"patient:{ln.patient_id}" for ln in lines.get(booking.id or 0, [])]
    return ids


def _one(session: Session, booking: Booking, zone: ZoneInfo) -> tuple[BookingPublic, list[ResourceId]]:
    lines = booking_lines(session, booking_ids=[booking.id or 0])
    return booking_public(booking, lines.get(booking.id or 0, []), zone), disclosed([booking], lines)


def _place(place: PlaceCreate | None) -> PlaceInput | None:
    return PlaceInput(**place.model_dump()) if place is not None else None


def _lines(patients: list[BookingPatientIn]) -> list[LineInput]:
    return [LineInput(**line.model_dump()) for line in patients]


@router.post("", response_model=BookingPublic, status_code=status.HTTP_201_CREATED)
def add_booking(
    body: BookingCreate, user: DispatcherUser, session: SessionDep, settings: SettingsDep, policy: PolicyDep
) -> BookingPublic:
    """Book a visit at a new ``place`` or a known ``place_id``, for known patients or new ones."""
    booking = create_booking(
        session,
        service_date=body.service_date,
        window_start=body.window_start,
        window_end=body.window_end,
        alt_window=(body.alt_window_start, body.alt_window_end),
        lines=_lines(body.patients),
        place=_place(body.place),
        place_id=body.place_id,
        preferred_medic_id=body.preferred_medic_id,
        priority=body.priority,
        policy=policy,
    )
    public, ids = _one(session, booking, settings.zone)
    audit(session, user, action="write", resource="booking", resource_ids=ids, outcome=f"created:{booking.status}")
    return public


@router.get("", response_model=list[BookingPublic])
def read_bookings(
    user: DispatcherUser,
    session: SessionDep,
    settings: SettingsDep,
    service_date: date | None = None,
    status: BookingStatus | None = None,
    offset: Offset = 0,
    limit: Limit = 500,
) -> list[BookingPublic]:
    """Bookings by day, then id; filtered by ``service_date`` and ``status`` when given."""
    bookings = list_bookings(session, service_date=service_date, status=status, offset=offset, limit=limit)
    lines = booking_lines(session, booking_ids=[b.id for b in bookings if b.id is not None])
    ids = disclosed(bookings, lines)
    audit(session, user, action="read", resource="booking", resource_ids=ids)
    return [booking_public(b, lines.get(b.id or 0, []), settings.zone) for b in bookings]


@router.get("/{booking_id}", response_model=BookingPublic, responses=NOT_FOUND)
def read_booking(booking_id: PathId, user: DispatcherUser, session: SessionDep, settings: SettingsDep) -> BookingPublic:
    public, ids = _one(session, get_booking(session, booking_id=booking_id), settings.zone)
    audit(session, user, action="read", resource="booking", resource_ids=ids)
    return public


@router.patch("/{booking_id}", response_model=BookingPublic, responses={**NOT_FOUND, **CONFLICT})
def edit_booking(
    booking_id: PathId,
    body: BookingUpdate,
    user: DispatcherUser,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
) -> BookingPublic:
    """Change the given fields; the booking is checked whole again. ``patients`` replaces the list."""
    changes = body.model_dump(exclude_unset=True)
    if body.place is not None:
        changes["place"] = _place(body.place)
    if body.patients is not None:
        changes["patients"] = _lines(body.patients)
    booking = update_booking(session, booking_id=booking_id, changes=changes, policy=policy)
    public, ids = _one(session, booking, settings.zone)
    audit(session, user, action="write", resource="booking", resource_ids=ids, outcome=f"updated:{booking.status}")
    return public


@router.delete("/{booking_id}", response_model=BookingPublic, responses={**NOT_FOUND, **CONFLICT})
def remove_booking(
    booking_id: PathId, user: DispatcherUser, session: SessionDep, settings: SettingsDep
) -> BookingPublic:
    """Cancel the booking (the row stays for the plans that name it)."""
    public, ids = _one(session, cancel_booking(session, booking_id=booking_id), settings.zone)
    audit(session, user, action="write", resource="booking", resource_ids=ids, outcome="cancelled")
    return public


@router.post("/{booking_id}/clear", response_model=BookingPublic, responses={**NOT_FOUND, **CONFLICT})
def clear(booking_id: PathId, user: DispatcherUser, session: SessionDep, settings: SettingsDep) -> BookingPublic:
    """The medical director's clearance of a booking that screening held: it can be planned now."""
    public, ids = _one(session, clear_booking(session, booking_id=booking_id), settings.zone)
    audit(session, user, action="write", resource="booking", resource_ids=ids, outcome="cleared")
    return public


@router.put("/{booking_id}/pin", response_model=BookingPublic, responses={**NOT_FOUND, **CONFLICT})
def pin(
    booking_id: PathId, body: PinCreate, user: DispatcherUser, session: SessionDep, settings: SettingsDep
) -> BookingPublic:
    """Pin the booking to a medic (at ``start``, if given): every re-plan keeps it there, the nightly one
    included, or the plan says why it could not."""
    booking = pin_booking(session, booking_id=booking_id, medic_id=body.medic_id, start=body.start)
    public, ids = _one(session, booking, settings.zone)
    audit(session, user, action="write", resource="booking", resource_ids=ids, outcome="pinned")
    return public


@router.delete("/{booking_id}/pin", response_model=BookingPublic, responses=NOT_FOUND)
def unpin(booking_id: PathId, user: DispatcherUser, session: SessionDep, settings: SettingsDep) -> BookingPublic:
    """Take the pin off: the next re-plan places the booking freely."""
    public, ids = _one(session, unpin_booking(session, booking_id=booking_id), settings.zone)
    audit(session, user, action="write", resource="booking", resource_ids=ids, outcome="unpinned")
    return public
