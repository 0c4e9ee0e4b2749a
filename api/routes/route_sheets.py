"""Any medic's route sheet, for dispatchers and admins: the same JSON sheet as ``/me/route-sheets/{day}``.

A read is audited (the medic, the plan, the bookings and the patients, by id) and committed before
the sheet is sent; a medic without a sheet that day is a plain 404.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from api.deps import AuditWriterDep, DispatcherUser, PathId, RequireDispatcher, SessionDep, SettingsDep
from api.models import RouteSheetPublic
from api.sheet_views import audited_read, sheet_public
from dispatch.sheets import route_sheets
from dispatch.validation import NotFound

router = APIRouter(prefix="/route-sheets", tags=["route sheets"], dependencies=[RequireDispatcher])


@router.get(
    "/{day}/{medic_id}",
    response_model=RouteSheetPublic,
    responses={404: {"description": "the medic has no route on this day's published plan"}},
)
def read_route_sheet(
    day: date,
    medic_id: PathId,
    response: Response,
    user: DispatcherUser,
    session: SessionDep,
    writer: AuditWriterDep,
    settings: SettingsDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> RouteSheetPublic | Response:
    """``medic_id``'s route sheet of ``day``; times in the company's time zone."""
    sheets = route_sheets(session, day, medic_id)
    if not sheets:
        raise NotFound("route sheet")
    sheet = sheets[0]
    etag, fresh = audited_read(session, writer, user.id, sheet, "json", settings.zone, if_none_match)
    headers = {"Cache-Control": "no-store", "ETag": etag}
    if not fresh:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    response.headers.update(headers)
    return sheet_public(sheet, settings.zone)
