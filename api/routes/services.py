"""The service catalogue (dispatchers and admins): what a visit can give, for how long, by whom.

The default catalogue is added on first use; a code never changes, since bookings name it.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import DispatcherUser, PathId, RequireDispatcher, SessionDep, audit
from api.errors import documented
from api.models import ServiceCreate, ServicePublic, ServiceUpdate
from dispatch.records.catalogue import create_service, get_service, list_services, update_service
from dispatch.store.tables import Service

router = APIRouter(prefix="/services", tags=["services"], dependencies=[RequireDispatcher])
NOT_FOUND = documented(404, "no service with this id")


def service_public(service: Service) -> ServicePublic:
    assert service.id is not None
    return ServicePublic(
        id=service.id,
        code=service.code,
        name=service.name,
        infusion_minutes=service.infusion_minutes,
        roles=list(service.roles),
        supplies=dict(service.supplies),
        clearance_flags=list(service.clearance_flags),
        uses_pump=service.uses_pump,
    )


@router.get("", response_model=list[ServicePublic])
def read_services(session: SessionDep) -> list[ServicePublic]:
    return [service_public(service) for service in list_services(session)]


@router.post(
    "",
    response_model=ServicePublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "the code is taken: change that service with PATCH"}},
)
def add_service(body: ServiceCreate, user: DispatcherUser, session: SessionDep) -> ServicePublic:
    service = create_service(session, **body.model_dump())
    audit(session, user, action="write", resource="service", resource_ids=[service.id or 0], outcome="created")
    return service_public(service)


@router.get("/{service_id}", response_model=ServicePublic, responses=NOT_FOUND)
def read_service(service_id: PathId, session: SessionDep) -> ServicePublic:
    return service_public(get_service(session, service_id=service_id))


@router.patch("/{service_id}", response_model=ServicePublic, responses=NOT_FOUND)
def edit_service(service_id: PathId, body: ServiceUpdate, user: DispatcherUser, session: SessionDep) -> ServicePublic:
    service = update_service(session, service_id=service_id, changes=body.model_dump(exclude_unset=True))
    audit(session, user, action="write", resource="service", resource_ids=[service_id], outcome="updated")
    return service_public(service)
