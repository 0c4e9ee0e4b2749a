"""Generated Denver-area service days, the same day for the same seed.

The demo, the benchmarks and the tests fill a database with these days and plan them
through the real rules: the catalogue's durations, roles and credentials, Colorado breaks.

* Medics are RNs, paramedics and NPs with a licence and an IV certification (one in eight
  has a certification that lapsed the day before), a car's stock and pumps, and a shift
  that starts and ends at home. One in ten lives in a mountain town, one in ten in Boulder.
* Bookings are at homes, offices and hotels across the metro area, Boulder and the I-70
  towns. Offices and hotels often book groups of 2 to 8 patients. Some patients accept a
  second window later in the day. A magnesium patient whose screening flags it waits for
  the medical director's clearance.
* A :class:`DayKind` says how busy the day is: a number of bookings, or a load, the booked
  work (visit times plus a typical drive) against what the medics on shift can do.

Every name and phone number is made up.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType

from sqlmodel import Session, select

from dispatch.demo.areas import AREAS, DENVER, METRO, MOUNTAINS, Area, point_in
from dispatch.records.catalogue import seed_services
from dispatch.rules.breaks import colorado_breaks
from dispatch.rules.durations import PatientCare, visit_time
from dispatch.rules.eligibility import unavailable
from dispatch.rules.groups import split_for_pumps
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

FIRST = ["Alex", "Sam", "Jordan", "Casey", "Riley", "Morgan", "Taylor", "Jamie", "Avery", "Quinn", "Drew", "Reese"]
LAST = ["Reyes", "Novak", "Kim", "Okafor", "Larsen", "Baptiste", "Moreau", "Sato", "Haddad", "Quist", "Varga"]
STREETS = ["Colfax Ave", "Broadway", "Speer Blvd", "Federal Blvd", "Alameda Ave", "Main St", "Pearl St"]
SHIFT_PATTERNS = ((8, 17), (7, 16), (9, 18), (11, 20), (8, 18))
#: the drive a booking adds to its medic's day, on average, for the load estimate
TYPICAL_DRIVE = {False: timedelta(minutes=20), True: timedelta(minutes=35)}
#: the parts a group is planned in, for the load estimate (the planner splits groups the same way)
PARTS_OF = 4

WEEKDAY_SERVICES = MappingProxyType(
    {"hydration": 30, "myers": 20, "hangover": 12, "recovery": 10, "immunity": 8, "magnesium": 8, "nad": 6, "b12": 6}
)
SKI_SERVICES = MappingProxyType(
    {"hydration": 20, "myers": 12, "hangover": 22, "recovery": 24, "immunity": 6, "magnesium": 4, "nad": 10, "b12": 2}
)


@dataclass(frozen=True)
class DayKind:
    """How a generated day looks: how many medics work, how much is booked, and where.

    Give ``bookings`` (a count) or ``load`` (the booked work over the medics' capacity:
    0.9 is a full ordinary day, 2.0 twice what they can do).
    """

    name: str
    medics: int
    bookings: int | None = None
    load: float | None = None
    #: share of the bookings in the mountain towns
    mountain_share: float = 0.08
    #: shares of homes, offices and hotels
    place_shares: tuple[float, float, float] = (0.65, 0.18, 0.17)
    #: share of office and hotel bookings that are groups of 2 to 8 patients
    group_share: float = 0.4
    #: share of home bookings that accept a second window later in the day
    second_window_share: float = 0.15
    service_weights: Mapping[str, int] = field(default_factory=lambda: WEEKDAY_SERVICES)
    #: the demo's bookings that no plan may place: an address the geocoder could not
    #: place, and a window before anyone works
    faults: bool = False

    def __post_init__(self) -> None:
        if self.medics < 1:
            raise ValueError(f"DayKind medics must be at least 1, got {self.medics}.")
        if (self.bookings is None) == (self.load is None):
            raise ValueError("DayKind needs exactly one of bookings and load.")
        if self.bookings is not None and self.bookings < 0:
            raise ValueError(f"DayKind bookings must not be negative, got {self.bookings}.")
        if self.load is not None and not self.load > 0:
            raise ValueError(f"DayKind load must be positive, got {self.load}.")


DEMO = DayKind("demo", medics=20, bookings=200, faults=True)
WEEKDAY = DayKind("weekday", medics=18, load=0.9)
SKI_SATURDAY = DayKind(
    "ski_saturday",
    medics=18,
    load=2.0,
    mountain_share=0.25,
    place_shares=(0.35, 0.05, 0.60),
    service_weights=SKI_SERVICES,
)
LARGE = DayKind("large", medics=60, bookings=600)
KINDS = MappingProxyType({kind.name: kind for kind in (WEEKDAY, SKI_SATURDAY, LARGE, DEMO)})


@dataclass(frozen=True)
class GeneratedDay:
    """What :func:`seed_day` added, and the estimate it sized the day by."""

    medics: int
    bookings: int
    capacity: timedelta
    booked_work: timedelta

    @property
    def load(self) -> float:
        return self.booked_work / self.capacity if self.capacity else float("inf")


def _at(day: date, hour: float) -> datetime:
    return datetime.combine(day, time(0), DENVER) + timedelta(minutes=round(hour * 60))


def _place(rng: random.Random, kind: PlaceKind, area: Area) -> Place:
    where = point_in(rng, area)
    notes = {
        PlaceKind.HOME: rng.choice(["", "gate code 4411", "side door", "dog in yard"]),
        PlaceKind.OFFICE: rng.choice(["lobby check-in", "parking level P2", "suite 300"]),
        PlaceKind.HOTEL: rng.choice(["room number at the desk", "valet parking", "tower B"]),
    }[kind]
    return Place(
        address=f"{rng.randint(100, 9999)} {rng.choice(STREETS)}, {area.name}, CO",
        kind=kind,
        lat=where.lat,
        lon=where.lon,
        access_notes=notes,
        geocode_status=GeocodeStatus.GIVEN,
    )


def seed_day(session: Session, day: date, kind: DayKind, *, seed: int = 7) -> GeneratedDay:
    """Add medics with shifts, patients and bookings for ``day`` (the catalogue must be seeded)."""
    rng = random.Random(seed)
    services = {s.code: s for s in session.exec(select(Service)).all()}
    crew, capacity = _medics(session, rng, day, kind.medics)
    booked, work = _bookings(session, rng, day, kind, services, crew, capacity)
    return GeneratedDay(len(crew), booked, capacity, work)


def seed_demo_day(session: Session, day: date, *, medics: int = 20, bookings: int = 200, seed: int = 7) -> None:
    """The catalogue, and a day of ``bookings`` bookings for ``medics`` medics, with the demo's faults."""
    seed_services(session)
    session.flush()
    seed_day(session, day, DayKind("demo", medics=medics, bookings=bookings, faults=True), seed=seed)


def _medics(session: Session, rng: random.Random, day: date, count: int) -> tuple[list[Medic], timedelta]:
    """The crew, and the hours they can work: shifts less breaks, of medics whose credentials are valid."""
    names = [f"{first} {last}" for first, last in itertools.product(FIRST, LAST)]
    rng.shuffle(names)
    crew: list[Medic] = []
    capacity = timedelta(0)
    for k in range(count):
        role = rng.choices([Role.RN, Role.PARAMEDIC, Role.NP], weights=[0.55, 0.3, 0.15])[0]
        area = MOUNTAINS[(k // 10) % len(MOUNTAINS)] if k % 10 == 9 else AREAS[4] if k % 10 == 8 else METRO[k % 4]
        home = _place(rng, PlaceKind.HOME, area)
        session.add(home)
        session.flush()
        assert home.id is not None
        medic = Medic(
            name=names[k % len(names)] if k < len(names) else f"{names[k % len(names)]} {k // len(names) + 1}",
            role=role,
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
        lapsed = k % 8 == 3  # one medic in eight: a certification that lapsed the day before
        credentials = [
            Credential(medic_id=medic.id, kind="licence", expires_on=day + timedelta(days=rng.randint(30, 700))),
            Credential(
                medic_id=medic.id,
                kind="iv_certification",
                expires_on=day - timedelta(days=1) if lapsed else day + timedelta(days=rng.randint(1, 400)),
            ),
        ]
        session.add_all(credentials)
        begin, finish = SHIFT_PATTERNS[k % len(SHIFT_PATTERNS)]
        start, end = _at(day, begin), _at(day, finish)
        session.add(
            ShiftRow(
                medic_id=medic.id, service_date=day, starts_at=start, ends_at=end, hard_end_at=_at(day, finish + 1)
            )
        )
        if unavailable(medic, credentials, day) is None:  # the planner's own rule decides who can work
            capacity += (end - start) - sum((b.duration for b in colorado_breaks(start, end)), timedelta(0))
        crew.append(medic)
    return crew, capacity


def _patient(rng: random.Random, flagged: bool) -> Patient:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return Patient(
        full_name=f"{first} {last}",
        display_name=f"{first} {last[0]}.",
        phone=f"+1-720-555-{rng.randint(0, 9999):04d}",
        date_of_birth=date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)),
        screening={"kidney_disease": flagged, "arrhythmia": False, "interacting_medication": False},
    )


def _work(place: Place, service: Service, first_visits: list[bool], mountain: bool) -> timedelta:
    """The time a booking takes from its medic's day: its visit parts and a typical drive to each."""
    total = timedelta(0)
    for part in split_for_pumps(first_visits, PARTS_OF):
        timing = visit_time(place.kind, [PatientCare(service.infusion_minutes, bool(first)) for first in part])
        total += timedelta(minutes=timing.setup_minutes + timing.service_minutes) + TYPICAL_DRIVE[mountain]
    return total


def _bookings(
    session: Session,
    rng: random.Random,
    day: date,
    kind: DayKind,
    services: dict[str, Service],
    crew: list[Medic],
    capacity: timedelta,
) -> tuple[int, timedelta]:
    """Add bookings until the count, or the load, is reached; returns the count and the plannable work."""
    codes = list(kind.service_weights)
    weights = list(kind.service_weights.values())
    metro_weights = [area.weight for area in METRO]
    work_wanted = capacity * kind.load if kind.load is not None else None
    work = timedelta(0)
    k = 0
    while (kind.bookings is not None and k < kind.bookings) or (work_wanted is not None and work < work_wanted):
        mountain = rng.random() < kind.mountain_share
        area = rng.choice(MOUNTAINS) if mountain else rng.choices(METRO, weights=metro_weights)[0]
        place_kind = rng.choices([PlaceKind.HOME, PlaceKind.OFFICE, PlaceKind.HOTEL], weights=kind.place_shares)[0]
        place = _place(rng, place_kind, area)
        unlocated = kind.faults and k == 11  # the geocoder could not place it: kept, never planned at a guess
        if unlocated:
            place.lat, place.lon = None, None
            place.geocode_status, place.geocode_problem = GeocodeStatus.FAILED, "not_found"
        session.add(place)
        session.flush()
        assert place.id is not None
        opens = rng.choice([9, 12, 14]) if mountain else rng.choice([8, 8.5, 9, 10, 11, 12, 13, 14, 15, 16, 17])
        width = 3.0 if mountain else rng.choice([1.0, 2.0, 2.0])
        if kind.faults and k == 23:  # before anyone starts work
            opens, width = 4.0, 1.0
        second = None
        if place_kind is PlaceKind.HOME and opens + width + 1 <= 18 and rng.random() < kind.second_window_share:
            later = rng.choice([h for h in (12, 14, 16, 17, 18) if h >= opens + width + 1])
            second = (_at(day, later), _at(day, min(later + 2, 20.0)))
        code = rng.choices(codes, weights=weights)[0]
        group = rng.randint(2, 8) if place_kind is not PlaceKind.HOME and rng.random() < kind.group_share else 1
        booking = Booking(
            place_id=place.id,
            service_date=day,
            window_start=_at(day, opens),
            window_end=_at(day, min(opens + width, 20.0)),
            alt_window_start=second[0] if second else None,
            alt_window_end=second[1] if second else None,
            preferred_medic_id=rng.choice(crew).id if crew and rng.random() < 0.1 else None,
            priority=3 if rng.random() < 0.1 else 1,
        )
        session.add(booking)
        session.flush()
        assert booking.id is not None
        flagged = code == "magnesium" and rng.random() < 0.4
        if flagged:
            booking.status = BookingStatus.NEEDS_CLEARANCE
        first_visits = [rng.random() < 0.3 for _ in range(group)]
        for first_visit in first_visits:
            patient = _patient(rng, flagged)
            session.add(patient)
            session.flush()
            assert patient.id is not None
            session.add(
                BookingPatient(
                    booking_id=booking.id,
                    patient_id=patient.id,
                    service_id=services[code].id or 0,
                    first_visit=first_visit,
                )
            )
        if not flagged and not unlocated:
            work += _work(place, services[code], first_visits, mountain)
        k += 1
    return k, work
