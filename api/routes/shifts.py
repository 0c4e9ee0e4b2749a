"""Shifts (dispatchers and admins): one per medic per day; times come back in the company's time zone."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Response, status

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
from api.models import Id, ShiftCreate, ShiftPublic, ShiftUpdate
from dispatch.records.roster import create_shift, delete_shift, get_shift, list_shifts, update_shift
from dispatch.store.tables import ShiftRow

router = APIRouter(prefix="/shifts", tags=["shifts"], dependencies=[RequireDispatcher])
NOT_FOUND = documented(404, "no shift with this id")
CONFLICT = documented(409, "the medic already has a shift that day, or the shift is on a past day")


def shift_public(shift: ShiftRow, zone: ZoneInfo) -> ShiftPublic:
    assert shift.id is not None
    return ShiftPublic(
        id=shift.id,
        medic_id=shift.medic_id,
        service_date=shift.service_date,
        starts_at=shift.starts_at.astimezone(zone),
        ends_at=shift.ends_at.astimezone(zone),
        hard_end_at=shift.hard_end_at.astimezone(zone) if shift.hard_end_at else None,
    )


@router.post("", response_model=ShiftPublic, status_code=status.HTTP_201_CREATED, responses=CONFLICT)
def add_shift(
    body: ShiftCreate, user: DispatcherUser, session: SessionDep, settings: SettingsDep, policy: PolicyDep
) -> ShiftPublic:
    """A medic's working hours on a day; ``hard_end_at`` is the latest return home."""
    shift = create_shift(
        session,
        medic_id=body.medic_id,
        service_date=body.service_date,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        hard_end_at=body.hard_end_at,
        policy=policy,
    )
    audit(
        session,
        user,
        action="write",
        resource="shift",
        resource_ids=[shift.id or 0, f"medic:{shift.medic_id}"],
        outcome="created",
    )
    return shift_public(shift, settings.zone)


@router.get("", response_model=list[ShiftPublic])
def read_shifts(
    session: SessionDep,
    settings: SettingsDep,
    service_date: date | None = None,
    medic_id: Id | None = None,
    offset: Offset = 0,
    limit: Limit = 500,
) -> list[ShiftPublic]:
    """Shifts by day, then id; filtered by ``service_date`` and ``medic_id`` when given."""
    shifts = list_shifts(session, service_date=service_date, medic_id=medic_id, offset=offset, limit=limit)
    return [shift_public(shift, settings.zone) for shift in shifts]


@router.get("/{shift_id}", response_model=ShiftPublic, responses=NOT_FOUND)
def read_shift(shift_id: PathId, session: SessionDep, settings: SettingsDep) -> ShiftPublic:
    return shift_public(get_shift(session, shift_id=shift_id), settings.zone)


@router.patch("/{shift_id}", response_model=ShiftPublic, responses={**NOT_FOUND, **CONFLICT})
def edit_shift(
    shift_id: PathId,
    body: ShiftUpdate,
    user: DispatcherUser,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
) -> ShiftPublic:
    """Change the day or the times; the shift is checked whole again."""
    shift = update_shift(session, shift_id=shift_id, changes=body.model_dump(exclude_unset=True), policy=policy)
    audit(session, user, action="write", resource="shift", resource_ids=[shift_id], outcome="updated")
    return shift_public(shift, settings.zone)


@router.delete("/{shift_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=NOT_FOUND)
def remove_shift(shift_id: PathId, user: DispatcherUser, session: SessionDep) -> Response:
    delete_shift(session, shift_id=shift_id)
    audit(session, user, action="write", resource="shift", resource_ids=[shift_id], outcome="deleted")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
