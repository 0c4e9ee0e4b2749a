"""Any medic's route sheet, for dispatchers and admins: the same JSON sheet as ``/me/route-sheets/{day}``.

A read is audited (the medic, the plan, the bookings and the patients, by id) and committed before
the sheet is sent; a medic without a sheet that day is a plain 404.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from api.deps import AuditWriterDep, DispatcherUser, PathId, RequireDispatcher, SessionDep, SheetRendererDep
from api.models import RouteSheetPublic
from api.sheet_views import audited_read
from dispatch.planning.sheets import find_sheet
from dispatch.records.validation import NotFound

router = APIRouter(prefix="/route-sheets", tags=["route sheets"], dependencies=[RequireDispatcher])


@router.get(
    "/{day}/{medic_id}",
    response_model=RouteSheetPublic,
    responses={404: {"description": "the medic has no route on this day's published plan"}},
)
def read_route_sheet(
    day: date,
    medic_id: PathId,
    user: DispatcherUser,
    session: SessionDep,
    writer: AuditWriterDep,
    renderer: SheetRendererDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """``medic_id``'s route sheet of ``day``; times in the company's time zone."""
    stored = find_sheet(session, day, medic_id)
    if stored is None:
        raise NotFound("route sheet")
    rendered = renderer.render(session, stored, "json")
    fresh = audited_read(session, writer, user.id, rendered, if_none_match)
    headers = {"Cache-Control": "no-store", "ETag": rendered.etag}
    if not fresh:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)
