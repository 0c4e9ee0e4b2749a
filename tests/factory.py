"""Builders for tiny, hand-checkable dispatch days. Names and phones are made up."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlmodel import Session, select

from dispatch.records.catalogue import seed_services
from dispatch.store.tables import (
    Booking,
    BookingPatient,
    BookingStatus,
    Credential,
    GeocodeStatus,
    Medic,
    Patient,
    Place,
    PlaceKind,
    Role,
    Service,
    ShiftRow,
)
from tests.helpers import DENVER

DAY = date(2026, 12, 2)
#: downtown Denver, and a few points a few km away
DOWNTOWN = (39.7392, -104.9903)


def at(hhmm: str, day: date = DAY) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), DENVER)


def place(session: Session, lat: float | None, lon: float | None, kind: PlaceKind = PlaceKind.HOME, **extra) -> Place:  # type: ignore[no-untyped-def]
    row = Place(
        address=extra.pop("address", "1 Test St, Denver, CO"),
        kind=kind,
        lat=lat,
        lon=lon,
        geocode_status=GeocodeStatus.GIVEN if lat is not None else GeocodeStatus.FAILED,
        **extra,
    )
    session.add(row)
    session.flush()
    return row


def medic(
    session: Session,
    name: str = "Medic One",
    *,
    role: Role = Role.RN,
    home: tuple[float, float] = DOWNTOWN,
    shift: tuple[str, str] | None = ("08:00", "17:00"),
    stock: dict[str, int] | None = None,
    pumps: int = 4,
    certification_expires: date | None = None,
    day: date = DAY,
) -> Medic:
    seed_services(session)
    home_place = place(session, *home)
    row = Medic(
        name=name,
        role=role,
        home_place_id=home_place.id or 0,
        stock=stock if stock is not None else {"saline_bag": 10, "nad_vial": 2, "magnesium_vial": 2},
        pumps=pumps,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add(Credential(medic_id=row.id, kind="licence", expires_on=day + timedelta(days=365)))
    session.add(
        Credential(
            medic_id=row.id, kind="iv_certification", expires_on=certification_expires or day + timedelta(days=90)
        )
    )
    if shift:
        session.add(ShiftRow(medic_id=row.id, service_date=day, starts_at=at(shift[0], day), ends_at=at(shift[1], day)))
    session.flush()
    return row


def booking(
    session: Session,
    where: tuple[float | None, float | None] = (39.75, -104.98),
    window: tuple[str, str] = ("09:00", "12:00"),
    services: tuple[str, ...] = ("hydration",),
    *,
    kind: PlaceKind = PlaceKind.HOME,
    first_visit: bool = False,
    screening: dict[str, bool] | None = None,
    status: BookingStatus = BookingStatus.REQUESTED,
    priority: int = 1,
    preferred_medic_id: int | None = None,
    day: date = DAY,
) -> Booking:
    seed_services(session)
    session.flush()
    catalogue = {s.code: s for s in session.exec(select(Service)).all()}
    site = place(session, where[0], where[1], kind)
    row = Booking(
        place_id=site.id or 0,
        service_date=day,
        window_start=at(window[0], day),
        window_end=at(window[1], day),
        status=status,
        priority=priority,
        preferred_medic_id=preferred_medic_id,
    )
    session.add(row)
    session.flush()
    for k, code in enumerate(services):
        patient = Patient(
            full_name=f"Patient Testcase{row.id}x{k}",
            display_name=f"Patient T{row.id}x{k}",
            phone=f"+1-720-555-{(row.id or 0) * 10 + k:04d}",
            date_of_birth=date(1990, 1, 1),
            screening=screening or {},
        )
        session.add(patient)
        session.flush()
        session.add(
            BookingPatient(
                booking_id=row.id or 0,
                patient_id=patient.id or 0,
                service_id=catalogue[code].id or 0,
                first_visit=first_visit,
            )
        )
    session.flush()
    return row
