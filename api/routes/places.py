"""Places (dispatchers and admins). An address and its access notes are patient data: reads are audited.

A place without coordinates is geocoded; when that fails it is kept, flagged (``geocode_status``
``failed`` with a ``geocode_problem``), and a PATCH with lat and lon fixes it.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import DispatcherUser, PathId, PolicyDep, RequireDispatcher, SessionDep, audit
from api.errors import documented
from api.models import PlaceCreate, PlacePublic, PlaceUpdate
from dispatch.records.places import PlaceInput, create_place, get_place, update_place
from dispatch.store.tables import Place

router = APIRouter(prefix="/places", tags=["places"], dependencies=[RequireDispatcher])
NOT_FOUND = documented(404, "no place with this id")


def place_public(place: Place) -> PlacePublic:
    assert place.id is not None
    return PlacePublic(
        id=place.id,
        address=place.address,
        kind=place.kind,
        lat=place.lat,
        lon=place.lon,
        access_notes=place.access_notes,
        geocode_status=place.geocode_status,
        geocode_problem=place.geocode_problem,
    )


@router.post("", response_model=PlacePublic, status_code=status.HTTP_201_CREATED)
def add_place(body: PlaceCreate, user: DispatcherUser, session: SessionDep, policy: PolicyDep) -> PlacePublic:
    place = create_place(session, data=PlaceInput(**body.model_dump()), policy=policy)
    audit(
        session,
        user,
        action="write",
        resource="place",
        resource_ids=[place.id or 0],
        outcome=f"created:{place.geocode_status.value}",
    )
    return place_public(place)


@router.get("/{place_id}", response_model=PlacePublic, responses=NOT_FOUND)
def read_place(place_id: PathId, user: DispatcherUser, session: SessionDep) -> PlacePublic:
    place = get_place(session, place_id=place_id)
    audit(session, user, action="read", resource="place", resource_ids=[place_id])
    return place_public(place)


@router.patch("/{place_id}", response_model=PlacePublic, responses=NOT_FOUND)
def edit_place(
    place_id: PathId, body: PlaceUpdate, user: DispatcherUser, session: SessionDep, policy: PolicyDep
) -> PlacePublic:
    """Change the given fields; lat and lon together fix a flagged place."""
    place = update_place(session, place_id=place_id, changes=body.model_dump(exclude_unset=True), policy=policy)
    audit(
        session,
        user,
        action="write",
        resource="place",
        resource_ids=[place_id],
        outcome=f"updated:{place.geocode_status.value}",
    )
    return place_public(place)
