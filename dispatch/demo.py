"""Fill a database with a generated Denver-area service day (the same for the same seed).

About 20 medics (RNs, paramedics, NPs; a few credentials expiring), about 200
bookings at homes, offices and hotels across the metro area, Boulder and the
I-70 towns: groups, NAD+, magnesium bookings whose screening waits for
clearance, an address the geocoder could not place, and a few bookings nobody
can serve. Every name and phone number is made up.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, select

from dispatch.catalogue import seed_services
from dispatch.models import (
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
from dispatch.sample_day import AREAS, DENVER, point_in

FIRST = ["Alex", "Sam", "Jordan", "Casey", "Riley", "Morgan", "Taylor", "Jamie", "Avery", "Quinn", "Drew", "Reese"]
LAST = ["Reyes", "Novak", "Kim", "Okafor", "Larsen", "Baptiste", "Moreau", "Sato", "Haddad", "Quist", "Varga"]
STREETS = ["Colfax Ave", "Broadway", "Speer Blvd", "Federal Blvd", "Alameda Ave", "Main St", "Pearl St"]
ROLE_SKILLS = {Role.RN: ["iv", "magnesium", "nad"], Role.PARAMEDIC: ["iv"], Role.NP: ["iv", "magnesium", "nad"]}


def _at(day: date, hour: float) -> datetime:
    return datetime.combine(day, time(0), DENVER) + timedelta(minutes=round(hour * 60))


def _place(rng: random.Random, kind: PlaceKind, area_index: int | None = None) -> Place:
    area = AREAS[area_index] if area_index is not None else rng.choices(AREAS, weights=[a.weight for a in AREAS])[0]
    where = point_in(rng, area)
    number = rng.randint(100, 9999)
    notes = {
        PlaceKind.HOME: rng.choice(["", "gate code 4411", "side door", "dog in yard"]),
        PlaceKind.OFFICE: rng.choice(["lobby check-in", "parking level P2", "suite 300"]),
        PlaceKind.HOTEL: rng.choice(["room number at the desk", "valet parking", "tower B"]),
    }[kind]
    return Place(
        address=f"{number} {rng.choice(STREETS)}, {area.name}, CO",
        kind=kind,
        lat=where.lat,
        lon=where.lon,
        access_notes=notes,
        geocode_status=GeocodeStatus.GIVEN,
    )


def seed_demo_day(session: Session, day: date, *, medics: int = 20, bookings: int = 200, seed: int = 7) -> None:
    """Add the catalogue, medics with shifts, patients and bookings for ``day``."""
    rng = random.Random(seed)
    seed_services(session)
    session.flush()
    services = {s.code: s for s in session.exec(select(Service)).all()}
    crew = _medics(session, rng, day, medics)
    _bookings(session, rng, day, bookings, services, crew)


def _medics(session: Session, rng: random.Random, day: date, count: int) -> list[Medic]:
    patterns = [(8, 17), (7, 16), (9, 18), (11, 20), (8, 18)]
    crew = []
    for k in range(count):
        role = rng.choices([Role.RN, Role.PARAMEDIC, Role.NP], weights=[0.55, 0.3, 0.15])[0]
        area = 5 + (k // 10) % 3 if k % 10 == 9 else 4 if k % 10 == 8 else k % 4
        home = _place(rng, PlaceKind.HOME, area)
        session.add(home)
        session.flush()
        assert home.id is not None
        medic = Medic(
            name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            role=role,
            skills=ROLE_SKILLS[role],
            home_place_id=home.id,
            stock={
                "saline_bag": rng.randint(10, 14),
                "nad_vial": 2 if role is not Role.PARAMEDIC else 0,
                "magnesium_vial": 4,
            },
            pumps=rng.choice([3, 4, 4]),
        )
        session.add(medic)
        session.flush()
        assert medic.id is not None
        # one medic in eight has a certification that lapsed the day before
        lapsed = k % 8 == 3
        session.add(
            Credential(medic_id=medic.id, kind="licence", expires_on=day + timedelta(days=rng.randint(30, 700)))
        )
        session.add(
            Credential(
                medic_id=medic.id,
                kind="iv_certification",
                expires_on=day - timedelta(days=1) if lapsed else day + timedelta(days=rng.randint(1, 400)),
            )
        )
        begin, finish = patterns[k % len(patterns)]
        session.add(
            ShiftRow(
                medic_id=medic.id,
                service_date=day,
                starts_at=_at(day, begin),
                ends_at=_at(day, finish),
                hard_end_at=_at(day, finish + 1),
            )
        )
        crew.append(medic)
    return crew


def _patient(rng: random.Random, flagged: bool) -> Patient:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return Patient(
        full_name=f"{first} {last}",
        display_name=f"{first} {last[0]}.",
        phone=f"+1-720-555-{rng.randint(0, 9999):04d}",
        date_of_birth=date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)),
        screening={"kidney_disease": flagged, "arrhythmia": False, "interacting_medication": False},
    )


def _bookings(
    session: Session, rng: random.Random, day: date, count: int, services: dict[str, Service], crew: list[Medic]
) -> None:
    codes = ["hydration", "myers", "hangover", "recovery", "immunity", "magnesium", "nad", "b12"]
    weights = [30, 20, 12, 10, 8, 8, 6, 6]
    for k in range(count):
        kind = rng.choices([PlaceKind.HOME, PlaceKind.OFFICE, PlaceKind.HOTEL], weights=[0.65, 0.18, 0.17])[0]
        place = _place(rng, kind)
        if k == 11:  # the geocoder could not place this address: flagged, kept, never planned at a guess
            place.lat, place.lon = None, None
            place.geocode_status, place.geocode_problem = GeocodeStatus.FAILED, "not_found"
        session.add(place)
        session.flush()
        assert place.id is not None
        mountain = place.lat is not None and place.lon is not None and place.lon < -105.5
        opens = rng.choice([9, 12, 14]) if mountain else rng.choice([8, 8.5, 9, 10, 11, 12, 13, 14, 15, 16, 17])
        width = 3.0 if mountain else rng.choice([1.0, 2.0, 2.0])
        if k == 23:  # before anyone starts work
            opens, width = 4.0, 1.0
        code = rng.choices(codes, weights=weights)[0]
        group = rng.randint(2, 8) if kind is not PlaceKind.HOME and rng.random() < 0.15 else 1
        booking = Booking(
            place_id=place.id,
            service_date=day,
            window_start=_at(day, opens),
            window_end=_at(day, min(opens + width, 20.0)),
            preferred_medic_id=rng.choice(crew).id if rng.random() < 0.1 else None,
            priority=3 if rng.random() < 0.1 else 1,
        )
        session.add(booking)
        session.flush()
        assert booking.id is not None
        flagged = code == "magnesium" and rng.random() < 0.4
        if flagged:
            booking.status = BookingStatus.NEEDS_CLEARANCE
        for _ in range(group):
            patient = _patient(rng, flagged)
            session.add(patient)
            session.flush()
            assert patient.id is not None
            session.add(
                BookingPatient(
                    booking_id=booking.id,
                    patient_id=patient.id,
                    service_id=services[code].id or 0,
                    first_visit=rng.random() < 0.3,
                )
            )
