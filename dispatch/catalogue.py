"""The service catalogue, and how long a visit takes.

A visit's duration is derived, never typed in:

* access (parking, lobby, elevator) by place kind, once per visit: the
  routing engine's shared *setup*, so two parts of one group booking at one
  address only pay it once;
* intake and vitals for each patient, longer for a first-time patient, one
  patient after another (each needs their own cannulation);
* the drips, which run side by side on the car's pumps: a patient's drip starts
  when their intake is done;
* observation after each drip, and packing up at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, select

from dispatch.models import PlaceKind, Role, Service

ACCESS_MINUTES = {PlaceKind.HOME: 5, PlaceKind.OFFICE: 12, PlaceKind.HOTEL: 15}
INTAKE_MINUTES = 10
FIRST_INTAKE_MINUTES = 20
OBSERVATION_MINUTES = 10
PACK_UP_MINUTES = 5

MAGNESIUM_FLAGS = ["kidney_disease", "arrhythmia", "interacting_medication"]
ALL_ROLES = [Role.RN.value, Role.PARAMEDIC.value, Role.NP.value]

#: code, name, infusion minutes, roles, supplies per patient, clearance flags, uses a pump
DEFAULT_SERVICES: tuple[tuple[str, str, int, list[str], dict[str, int], list[str], bool], ...] = (
    ("hydration", "Hydration (1 L saline)", 40, ALL_ROLES, {"saline_bag": 1}, [], True),
    ("myers", "Myers' cocktail", 40, ALL_ROLES, {"saline_bag": 1}, [], True),
    (
        "magnesium",
        "Magnesium infusion",
        50,
        [Role.RN.value, Role.NP.value],
        {"saline_bag": 1, "magnesium_vial": 1},
        MAGNESIUM_FLAGS,
        True,
    ),
    ("hangover", "Hangover recovery", 45, ALL_ROLES, {"saline_bag": 1}, [], True),
    ("recovery", "Ski / athletic recovery", 50, ALL_ROLES, {"saline_bag": 1}, [], True),
    ("immunity", "Immunity boost", 45, ALL_ROLES, {"saline_bag": 1}, [], True),
    ("nad", "NAD+", 180, [Role.RN.value, Role.NP.value], {"saline_bag": 1, "nad_vial": 1}, [], True),
    ("b12", "Vitamin shot (B12, IM)", 5, ALL_ROLES, {}, [], False),
)


def seed_services(session: Session) -> None:
    """Add the default catalogue; services already present (by code) are kept as edited."""
    present = set(session.exec(select(Service.code)).all())
    for code, name, minutes, roles, supplies, flags, pump in DEFAULT_SERVICES:
        if code not in present:
            session.add(
                Service(
                    code=code,
                    name=name,
                    infusion_minutes=minutes,
                    roles=roles,
                    supplies=supplies,
                    clearance_flags=flags,
                    uses_pump=pump,
                )
            )


@dataclass(frozen=True)
class PatientCare:
    """What one patient of a visit needs: their drip and whether it is their first visit."""

    infusion_minutes: int
    first_visit: bool


@dataclass(frozen=True)
class VisitTime:
    setup_minutes: int
    service_minutes: int


def visit_time(kind: PlaceKind, patients: Sequence[PatientCare]) -> VisitTime:
    """Access as setup; then staggered intakes, parallel drips, observation and packing up.

    Patients are taken longest drip first, so the longest drip starts earliest.
    Patient i's drip starts when intakes 1..i are done and ends ``infusion``
    later; they are observed after it; the visit ends when the last patient's
    observation ends, plus packing up.
    """
    if not patients:
        raise ValueError("a visit needs at least one patient")
    ordered = sorted(patients, key=lambda p: p.infusion_minutes, reverse=True)
    clock = 0
    finish = 0
    for patient in ordered:
        clock += FIRST_INTAKE_MINUTES if patient.first_visit else INTAKE_MINUTES
        finish = max(finish, clock + patient.infusion_minutes + OBSERVATION_MINUTES)
    return VisitTime(ACCESS_MINUTES[kind], finish + PACK_UP_MINUTES)


def split_for_pumps(items: Sequence[object], pumps: int) -> list[list[object]]:
    """Cut a group into parts of at most ``pumps`` patients, in order."""
    if pumps < 1:
        raise ValueError("pumps must be at least 1")
    return [list(items[k : k + pumps]) for k in range(0, len(items), pumps)]
