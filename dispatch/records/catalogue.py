"""The service catalogue: what each service is, who may give it, what it uses, and its screening flags.

How long a visit takes is a rule of its own: :mod:`dispatch.rules.durations`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dispatch.records.validation import Conflict, NotFound
from dispatch.store.tables import Role, Service

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
