"""How long a visit takes: derived from the catalogue, never typed in.

* access (parking, lobby, elevator) by place kind, once per visit: the
  routing engine's shared *setup*, so two parts of one group booking at one
  address only pay it once;
* intake and vitals for each patient, longer for a first-time patient, one
  patient after another (each needs their own cannulation);
* the drips, which run side by side on the car's pumps: a patient's drip starts
  when their intake is done;
* observation after each drip, and packing up at the end.

The planner, the demo's day generator and the benchmarks all time visits here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dispatch.store.tables import PlaceKind

ACCESS_MINUTES = {PlaceKind.HOME: 5, PlaceKind.OFFICE: 12, PlaceKind.HOTEL: 15}
INTAKE_MINUTES = 10
FIRST_INTAKE_MINUTES = 20
OBSERVATION_MINUTES = 10
PACK_UP_MINUTES = 5


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
