"""Medics (dispatchers and admins): who works, from which home, with what in the car. Delete deactivates."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlmodel import Session

from api.deps import DispatcherUser, Limit, Offset, PathId, PolicyDep, RequireDispatcher, SessionDep, audit
from api.errors import documented
from api.models import CredentialIn, CredentialPublic, HomeIn, MedicCreate, MedicPublic, MedicUpdate
from dispatch.records.places import PlaceInput
from dispatch.records.roster import (
    CredentialInput,
    create_medic,
    credentials_of,
    deactivate_medic,
    get_medic,
    list_medics,
    update_medic,
)
from dispatch.store.tables import Credential, Medic, PlaceKind

router = APIRouter(prefix="/medics", tags=["medics"], dependencies=[RequireDispatcher])
NOT_FOUND = documented(404, "no medic with this id")


def medic_public(medic: Medic, credentials: list[Credential]) -> MedicPublic:
    assert medic.id is not None
    return MedicPublic(
        id=medic.id,
        name=medic.name,
        role=medic.role,
        home_place_id=medic.home_place_id,
        stock=dict(medic.stock),
        pumps=medic.pumps,
        active=medic.active,
        credentials=[CredentialPublic(kind=c.kind, expires_on=c.expires_on) for c in credentials],
    )


def _public(session: Session, medic: Medic) -> MedicPublic:
    assert medic.id is not None
    return medic_public(medic, credentials_of(session, medic_ids=[medic.id]).get(medic.id, []))


def _home(home: HomeIn) -> PlaceInput:
    return PlaceInput(address=home.address, kind=PlaceKind.HOME, lat=home.lat, lon=home.lon)


def _credentials(items: list[CredentialIn]) -> list[CredentialInput]:
    return [CredentialInput(kind=c.kind, expires_on=c.expires_on) for c in items]


@router.post("", response_model=MedicPublic, status_code=status.HTTP_201_CREATED)
def add_medic(body: MedicCreate, user: DispatcherUser, session: SessionDep, policy: PolicyDep) -> MedicPublic:
    """Add a medic; a home without lat and lon is geocoded."""
    medic = create_medic(
        session,
        name=body.name,
        role=body.role,
        home=_home(body.home),
        stock=body.stock,
        pumps=body.pumps,
        credentials=_credentials(body.credentials),
        policy=policy,
    )
    audit(session, user, action="write", resource="medic", resource_ids=[medic.id or 0], outcome="created")
    return _public(session, medic)


@router.get("", response_model=list[MedicPublic])
def read_medics(
    session: SessionDep, active: bool | None = None, offset: Offset = 0, limit: Limit = 500
) -> list[MedicPublic]:
    """Every medic (or only the active or inactive ones), by id."""
    medics = list_medics(session, active=active, offset=offset, limit=limit)
    credentials = credentials_of(session, medic_ids=[m.id for m in medics if m.id is not None])
    return [medic_public(medic, credentials.get(medic.id or 0, [])) for medic in medics]


@router.get("/{medic_id}", response_model=MedicPublic, responses=NOT_FOUND)
def read_medic(medic_id: PathId, session: SessionDep) -> MedicPublic:
    return _public(session, get_medic(session, medic_id=medic_id))


@router.patch("/{medic_id}", response_model=MedicPublic, responses=NOT_FOUND)
def edit_medic(
    medic_id: PathId, body: MedicUpdate, user: DispatcherUser, session: SessionDep, policy: PolicyDep
) -> MedicPublic:
    """Change the given fields; ``credentials`` replaces the list, ``home`` moves the home."""
    changes = body.model_dump(exclude_unset=True)
    if body.home is not None:
        changes["home"] = _home(body.home)
    if body.credentials is not None:
        changes["credentials"] = _credentials(body.credentials)
    medic = update_medic(session, medic_id=medic_id, changes=changes, policy=policy)
    audit(session, user, action="write", resource="medic", resource_ids=[medic_id], outcome="updated")
    return _public(session, medic)


@router.delete("/{medic_id}", response_model=MedicPublic, responses=NOT_FOUND)
def remove_medic(medic_id: PathId, user: DispatcherUser, session: SessionDep) -> MedicPublic:
    """Deactivate: the medic is planned no more; plans and accounts keep naming them."""
    medic = deactivate_medic(session, medic_id=medic_id)
    audit(session, user, action="write", resource="medic", resource_ids=[medic_id], outcome="deactivated")
    return _public(session, medic)
