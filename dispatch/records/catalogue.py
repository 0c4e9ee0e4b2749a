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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dispatch.records.validation import Conflict, NotFound
from dispatch.store.tables import PlaceKind, Role, Service

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


def seed_services(session: Session) -> int:
    """Add the default catalogue; services already present (by code) are kept as
    edited. Returns how many were added."""
    present = set(session.exec(select(Service.code)).all())
    added = 0
    for code, name, minutes, roles, supplies, flags, pump in DEFAULT_SERVICES:
        if code not in present:
            added += 1
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
    return added


def list_services(session: Session) -> list[Service]:
    return list(session.exec(select(Service).order_by(col(Service.id))).all())


def get_service(session: Session, *, service_id: int) -> Service:
    service = session.get(Service, service_id)
    if service is None:
        raise NotFound("service")
    return service


def services_by_code(session: Session) -> dict[str, Service]:
    return {service.code: service for service in session.exec(select(Service)).all()}


SERVICE_FIELDS = frozenset({"name", "infusion_minutes", "roles", "supplies", "clearance_flags", "uses_pump"})


def create_service(
    session: Session,
    *,
    code: str,
    name: str,
    infusion_minutes: int,
    roles: Sequence[Role | str],
    supplies: Mapping[str, int],
    clearance_flags: Sequence[str],
    uses_pump: bool,
) -> Service:
    """Add a service to the catalogue; a code already in it is a :class:`Conflict`."""
    existing = session.exec(select(Service.id).where(Service.code == code)).first()
    if existing is not None:
        raise Conflict(f"a service with this code already exists: change it with PATCH /services/{existing}")
    service = Service(
        code=code,
        name=name,
        infusion_minutes=infusion_minutes,
        roles=[Role(role).value for role in roles],
        supplies=dict(supplies),
        clearance_flags=list(clearance_flags),
        uses_pump=uses_pump,
    )
    session.add(service)
    try:
        session.flush()
    except IntegrityError:  # a concurrent request added the code first; the caller rolls back
        raise Conflict("a service with this code already exists: change it with PATCH") from None
    return service


def update_service(session: Session, *, service_id: int, changes: Mapping[str, Any]) -> Service:
    """Change the given fields of a service (its code stays: bookings name it)."""
    service = get_service(session, service_id=service_id)
    unknown = set(changes) - SERVICE_FIELDS
    if unknown:
        raise ValueError(f"not service fields: {sorted(unknown)}")
    for name, value in changes.items():
        if name == "roles":
            value = [Role(role).value for role in value]
        elif name == "supplies":
            value = dict(value)
        elif name == "clearance_flags":
            value = list(value)
        setattr(service, name, value)
    session.add(service)
    session.flush()
    return service


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


def split_for_pumps[T](items: Sequence[T], pumps: int, uses_pump: Sequence[bool] | None = None) -> list[list[T]]:
    """Cut a group into as few parts as a car with ``pumps`` pumps can run, each part's drips side
    by side, the parts as even as can be (so a smaller car fits them too), in booking order.

    ``uses_pump[i]`` says whether patient i's service needs a pump (a vitamin shot does not); by
    default every one does. A group that needs no pump at all is one part.
    """
    if pumps < 1:
        raise ValueError("pumps must be at least 1")
    flags = list(uses_pump) if uses_pump is not None else [True] * len(items)
    drips = sum(flags)
    count = max(1, -(-drips // pumps))
    if count == 1:
        return [list(items)]
    # the drips in order, as even as can be; a patient without one joins the smallest part
    sizes = [drips // count + (1 if k < drips % count else 0) for k in range(count)]
    parts: list[list[T]] = [[] for _ in range(count)]
    filled = [0] * count
    part = 0
    for item, drip in zip(items, flags, strict=True):
        if drip:
            while filled[part] >= sizes[part]:
                part += 1
            parts[part].append(item)
            filled[part] += 1
        else:
            parts[min(range(count), key=lambda k: len(parts[k]))].append(item)
    return parts
