"""A generated, realistic Denver-area service day, the same for the same seed.

Medics are RNs, paramedics and NPs with shifts, Colorado breaks and a car's
stock of saline bags and NAD+ vials. Bookings are homes, offices and hotels
across the metro area, Boulder and the I-70 mountain towns; offices and hotels
often book groups, which set up once. A few bookings are impossible on
purpose (a skill nobody has, a window before anyone starts, more NAD+ than any
car holds), so the plan shows its reasons.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatch.labour import colorado_breaks
from routing import Location, Shift, TimeWindow, Visit

DENVER = ZoneInfo("America/Denver")


@dataclass(frozen=True)
class Area:
    name: str
    lat: float
    lon: float
    radius_km: float
    weight: float
    mountain: bool = False


AREAS = (
    Area("Denver core", 39.7392, -104.9903, 6.0, 0.45),
    Area("Denver south", 39.6133, -104.9873, 7.0, 0.15),
    Area("Aurora", 39.7294, -104.8319, 6.0, 0.10),
    Area("Lakewood", 39.7047, -105.0814, 5.0, 0.10),
    Area("Boulder", 40.0150, -105.2705, 4.0, 0.12),
    Area("Vail", 39.6403, -106.3742, 2.0, 0.03, mountain=True),
    Area("Breckenridge", 39.4817, -106.0384, 2.0, 0.03, mountain=True),
    Area("Keystone", 39.6084, -105.9437, 2.0, 0.02, mountain=True),
)

#: service name -> (infusion minutes, skill needed, saline bags, NAD+ vials)
SERVICES = {
    "hydration": (30, "iv", 1, 0),
    "myers": (35, "iv", 1, 0),
    "hangover": (45, "iv", 1, 0),
    "recovery": (45, "iv", 1, 0),
    "immunity": (45, "iv", 1, 0),
    "magnesium": (45, "magnesium", 1, 0),
    "nad": (120, "nad", 1, 1),
    "b12_shot": (5, "iv", 0, 0),
}
PUMPS_PER_CAR = 4
ROLE_SKILLS = {
    "RN": frozenset({"iv", "magnesium", "nad"}),
    "paramedic": frozenset({"iv"}),
    "NP": frozenset({"iv", "magnesium", "nad"}),
}
ACCESS_MINUTES = {"home": 5, "office": 12, "hotel": 15}
OBSERVATION_MINUTES = 10


def point_in(rng: random.Random, area: Area) -> Location:
    # uniform in a disc: radius ~ sqrt(u); 1 degree of latitude ~ 111 km
    r_km = area.radius_km * rng.random() ** 0.5
    angle = rng.uniform(0.0, 6.283185307179586)
    dlat = r_km / 111.0 * math.sin(angle)
    dlon = r_km / (111.0 * math.cos(math.radians(area.lat))) * math.cos(angle)
    return Location(round(area.lat + dlat, 6), round(area.lon + dlon, 6))


def _at(day: date, hour: float) -> datetime:
    return datetime.combine(day, time(0), DENVER) + timedelta(minutes=round(hour * 60))


def sample_shifts(day: date, medics: int, rng: random.Random) -> list[Shift]:
    shifts = []
    patterns = [(8, 17), (7, 16), (9, 18), (11, 20), (8, 18)]
    for k in range(medics):
        role = rng.choices(["RN", "paramedic", "NP"], weights=[0.55, 0.3, 0.15])[0]
        # one medic in ten lives in a mountain town, one in ten in Boulder
        if k % 10 == 9:
            area = AREAS[5 + (k // 10) % 3]
        elif k % 10 == 8:
            area = AREAS[4]
        else:
            area = AREAS[k % 4]
        home = point_in(rng, area)
        begin, finish = patterns[k % len(patterns)]
        start, end = _at(day, begin), _at(day, finish)
        shifts.append(
            Shift(
                medic_id=f"M{k + 1:03d}",
                start_location=home,
                end_location=home,
                window=TimeWindow(start, end),
                hard_end=end + timedelta(hours=1),
                skills=ROLE_SKILLS[role],
                stock={"saline_bag": rng.randint(12, 16), "nad_vial": 3 if "nad" in ROLE_SKILLS[role] else 0},
                breaks=colorado_breaks(start, end),
                overtime_cost_per_minute=3,
            )
        )
    return shifts


def group_minutes(service: str, first_timers: int, patients: int) -> int:
    """Minutes one medic needs for ``patients`` on one set of pumps: intakes are
    staggered one after another, the drips then run side by side, and the last
    patient is observed after the last drip ends."""
    infusion = SERVICES[service][0]
    intakes = 20 * first_timers + 10 * (patients - first_timers)
    return intakes + infusion + OBSERVATION_MINUTES


def sample_visits(day: date, bookings: int, shifts: list[Shift], rng: random.Random) -> list[Visit]:
    visits: list[Visit] = []
    weights = [a.weight for a in AREAS]
    names = list(SERVICES)
    service_weights = [30, 20, 12, 10, 8, 8, 6, 6]
    booking = 0
    while booking < bookings:
        booking += 1
        area = rng.choices(AREAS, weights=weights)[0]
        kind = rng.choices(["home", "office", "hotel"], weights=[0.6, 0.2, 0.2])[0]
        group = rng.randint(2, 8) if kind != "home" and rng.random() < 0.4 else 1
        service = rng.choices(names, weights=service_weights)[0]
        where = point_in(rng, area)
        opens = (
            rng.choice([8, 8.5, 9, 10, 11, 12, 13, 14, 15, 16, 17]) if not area.mountain else rng.choice([9, 12, 14])
        )
        width = 2.0 if not area.mountain else 3.0
        window = TimeWindow(_at(day, opens), _at(day, min(opens + width, 19.5)))
        preferred = frozenset({rng.choice(shifts).medic_id}) if rng.random() < 0.1 else frozenset()
        _, skill, bags, vials = SERVICES[service]
        # A group larger than one car's pumps is split into visits that can go
        # to different medics; at one address they share the access time.
        for part, first in enumerate(range(0, group, PUMPS_PER_CAR)):
            patients = min(PUMPS_PER_CAR, group - first)
            first_timers = sum(rng.random() < 0.3 for _ in range(patients))
            visits.append(
                Visit(
                    id=f"B{booking:04d}-{part + 1}",
                    location=where,
                    service=timedelta(minutes=group_minutes(service, first_timers, patients)),
                    setup=timedelta(minutes=ACCESS_MINUTES[kind]),
                    windows=(window,),
                    skills=frozenset({skill}),
                    demand={"saline_bag": bags * patients, "nad_vial": vials * patients},
                    priority=3 if rng.random() < 0.1 else 1,
                    preferred_medics=preferred,
                )
            )
    visits.extend(_impossible(day))
    return visits


def _impossible(day: date) -> list[Visit]:
    """Three bookings no plan can serve, one per reason."""
    core = Location(39.7392, -104.9903)
    evening = (TimeWindow(_at(day, 10), _at(day, 12)),)
    return [
        Visit("X-skill", core, timedelta(minutes=60), evening, skills=frozenset({"pediatric"})),
        Visit("X-early", core, timedelta(minutes=60), (TimeWindow(_at(day, 4), _at(day, 5)),)),
        Visit("X-stock", core, timedelta(minutes=200), evening, skills=frozenset({"nad"}), demand={"nad_vial": 6}),
    ]


def sample_day(day: date, *, medics: int = 20, bookings: int = 200, seed: int = 7) -> tuple[list[Visit], list[Shift]]:
    """Visits and shifts for a generated day; the same seed gives the same day."""
    rng = random.Random(seed)
    shifts = sample_shifts(day, medics, rng)
    return sample_visits(day, bookings, shifts, rng), shifts
