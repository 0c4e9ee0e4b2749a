"""Medics and their shifts.

A medic has a home place (where each route starts and ends), a role, the stock in their car, a
number of pumps and credentials with expiry dates. Deleting a medic deactivates them: plans and
accounts keep pointing at the row. A medic works at most one shift per day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, delete, select

from dispatch.access.revocation import end_medic_access
from dispatch.planning.sheets import refresh_sheets
from dispatch.records.places import PlaceInput, change_place, check_place, get_place, new_place
from dispatch.records.validation import Conflict, NotFound, Policy, Problems, check_service_day, check_span
from dispatch.store.tables import Credential, Medic, PlaceKind, Role, ShiftRow

#: what each role may do, recorded on the medic (planning reads each service's roles instead)
#: the longest a shift may run past its planned end
MAX_OVERTIME = timedelta(hours=12)
MEDIC_FIELDS = frozenset({"name", "role", "home", "stock", "pumps", "credentials", "active"})
SHIFT_FIELDS = frozenset({"service_date", "starts_at", "ends_at", "hard_end_at"})


@dataclass(frozen=True)
class CredentialInput:
    kind: str
    expires_on: date


# --------------------------------------------------------------------- medics


def create_medic(
    session: Session,
    *,
    name: str,
    role: Role,
    home: PlaceInput,
    stock: Mapping[str, int],
    pumps: int,
    credentials: Sequence[CredentialInput],
    policy: Policy,
) -> Medic:
    """Add a medic with their home (located like any place) and credentials."""
    problems = Problems()
    check_place(problems, ("home",), home, policy)
    check_credentials(problems, credentials, policy)
    problems.raise_any()
    place = new_place(session, data=PlaceInput(home.address, PlaceKind.HOME, home.lat, home.lon), policy=policy)
    assert place.id is not None
    medic = Medic(
        name=name,
        role=role,
        home_place_id=place.id,
        stock=dict(stock),
        pumps=pumps,
    )
    session.add(medic)
    session.flush()
    _replace_credentials(session, medic, credentials)
    return medic


def check_credentials(problems: Problems, credentials: Sequence[CredentialInput], policy: Policy) -> None:
    """Each credential is of a kind the company records: a typo would quietly keep the medic off every plan."""
    known = policy.credential_kinds
    for number, credential in enumerate(credentials):
        if credential.kind not in known:
            problems.add(("credentials", number, "kind"), f"is not a credential kind; known kinds: {', '.join(known)}")


def _replace_credentials(session: Session, medic: Medic, credentials: Sequence[CredentialInput]) -> None:
    assert medic.id is not None
    session.exec(delete(Credential).where(col(Credential.medic_id) == medic.id))
    session.add_all(Credential(medic_id=medic.id, kind=c.kind, expires_on=c.expires_on) for c in credentials)
    session.flush()


def get_medic(session: Session, *, medic_id: int) -> Medic:
    medic = session.get(Medic, medic_id)
    if medic is None:
        raise NotFound("medic")
    return medic


def list_medics(session: Session, *, active: bool | None = None, offset: int = 0, limit: int = 500) -> list[Medic]:
    query = select(Medic)
    if active is not None:
        query = query.where(Medic.active == active)
    return list(session.exec(query.order_by(col(Medic.id)).offset(offset).limit(limit)).all())


def credentials_of(session: Session, *, medic_ids: Sequence[int]) -> dict[int, list[Credential]]:
    found: dict[int, list[Credential]] = defaultdict(list)
    rows = session.exec(
        select(Credential).where(col(Credential.medic_id).in_(list(medic_ids))).order_by(col(Credential.id))
    )
    for credential in rows:
        found[credential.medic_id].append(credential)
    return found


def update_medic(session: Session, *, medic_id: int, changes: Mapping[str, Any], policy: Policy) -> Medic:
    """Change the given fields; ``credentials`` replaces the list, ``home`` moves the home place."""
    unknown = set(changes) - MEDIC_FIELDS
    if unknown:
        raise ValueError(f"not medic fields: {sorted(unknown)}")
    medic = get_medic(session, medic_id=medic_id)
    if "credentials" in changes:
        problems = Problems()
        check_credentials(problems, changes["credentials"], policy)
        problems.raise_any()
    home: PlaceInput | None = changes.get("home")
    if home is not None:
        problems = Problems()
        check_place(problems, ("home",), home, policy)
        problems.raise_any()
        moved = {"lat": home.lat, "lon": home.lon} if home.lat is not None or home.lon is not None else {}
        change_place(
            session,
            get_place(session, place_id=medic.home_place_id),
            changes={"address": home.address, "kind": PlaceKind.HOME, **moved},
            policy=policy,
            loc=("home",),
        )
    for name in ("name", "stock", "pumps", "active"):
        if name in changes:
            setattr(medic, name, dict(changes[name]) if name == "stock" else changes[name])
    if "role" in changes:
        medic.role = Role(changes["role"])
    session.add(medic)
    if changes.get("active") is False:
        end_medic_access(session, medic_id=medic_id)
    session.flush()
    if "name" in changes:
        refresh_sheets(session, medic_ids=[medic_id])
    if "credentials" in changes:
        _replace_credentials(session, medic, changes["credentials"])
    return medic


def deactivate_medic(session: Session, *, medic_id: int) -> Medic:
    """The medic is planned no more, and their account reads nothing more; their rows stay for the plans
    and accounts that name them."""
    medic = get_medic(session, medic_id=medic_id)
    medic.active = False
    session.add(medic)
    end_medic_access(session, medic_id=medic_id)  # their account's tokens, sessions and feeds end now
    session.flush()
    return medic


# --------------------------------------------------------------------- shifts


def _check_shift(
    session: Session,
    problems: Problems,
    *,
    medic_id: int,
    service_date: date,
    starts_at: datetime,
    ends_at: datetime,
    hard_end_at: datetime | None,
    policy: Policy,
    shift_id: int | None = None,
) -> None:
    medic = session.get(Medic, medic_id)
    if medic is None:
        problems.add(("medic_id",), "is not a known medic")
    elif not medic.active:
        problems.add(("medic_id",), "is not an active medic")
    check_service_day(problems, ("service_date",), service_date, policy)
    check_span(problems, service_date, policy.zone, (("starts_at",), starts_at), (("ends_at",), ends_at))
    if hard_end_at is not None:
        if hard_end_at < ends_at:
            problems.add(("hard_end_at",), "must not be before ends_at")
        elif hard_end_at - ends_at > MAX_OVERTIME:
            problems.add(("hard_end_at",), f"must be at most {MAX_OVERTIME.seconds // 3600} hours after ends_at")
    problems.raise_any()
    taken = session.exec(
        select(ShiftRow.id)
        .where(ShiftRow.medic_id == medic_id)
        .where(ShiftRow.service_date == service_date)
        .where(col(ShiftRow.id) != (shift_id or 0))
    ).first()
    if taken is not None:
        raise Conflict("the medic already has a shift on this day")


def create_shift(
    session: Session,
    *,
    medic_id: int,
    service_date: date,
    starts_at: datetime,
    ends_at: datetime,
    hard_end_at: datetime | None = None,
    policy: Policy,
) -> ShiftRow:
    _check_shift(
        session,
        Problems(),
        medic_id=medic_id,
        service_date=service_date,
        starts_at=starts_at,
        ends_at=ends_at,
        hard_end_at=hard_end_at,
        policy=policy,
    )
    shift = ShiftRow(
        medic_id=medic_id, service_date=service_date, starts_at=starts_at, ends_at=ends_at, hard_end_at=hard_end_at
    )
    session.add(shift)
    session.flush()
    return shift


def get_shift(session: Session, *, shift_id: int) -> ShiftRow:
    shift = session.get(ShiftRow, shift_id)
    if shift is None:
        raise NotFound("shift")
    return shift


def list_shifts(
    session: Session,
    *,
    service_date: date | None = None,
    medic_id: int | None = None,
    offset: int = 0,
    limit: int = 500,
) -> list[ShiftRow]:
    query = select(ShiftRow)
    if service_date is not None:
        query = query.where(ShiftRow.service_date == service_date)
    if medic_id is not None:
        query = query.where(ShiftRow.medic_id == medic_id)
    return list(session.exec(query.order_by(col(ShiftRow.service_date), col(ShiftRow.id)).offset(offset).limit(limit)))


def update_shift(session: Session, *, shift_id: int, changes: Mapping[str, Any], policy: Policy) -> ShiftRow:
    """Change the given times (or the day); the result is checked whole, like a new shift."""
    unknown = set(changes) - SHIFT_FIELDS
    if unknown:
        raise ValueError(f"not shift fields: {sorted(unknown)}")
    shift = get_shift(session, shift_id=shift_id)
    if shift.service_date < policy.today:
        raise Conflict("the shift is on a past day")
    merged = {name: changes.get(name, getattr(shift, name)) for name in SHIFT_FIELDS}
    _check_shift(session, Problems(), medic_id=shift.medic_id, policy=policy, shift_id=shift.id, **merged)
    for name, value in merged.items():
        setattr(shift, name, value)
    session.add(shift)
    session.flush()
    return shift


def delete_shift(session: Session, *, shift_id: int) -> None:
    shift = get_shift(session, shift_id=shift_id)
    session.delete(shift)
    session.flush()
