"""The medic's own route sheets. No medic id in any path: the caller's account says whose sheet it is.

Each call reads the published plan scoped to the caller. A day without a sheet for the caller
(no plan, or only other medics' routes) is a 404 and an audited denial; a sheet read is an
audited read (ids only), committed before any byte of the sheet is sent. ``ETag`` and
``If-None-Match`` save resending an unchanged sheet; a 304 is audited like a read.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from api.deps import AuditWriterDep, CurrentMedic, SessionDep, SettingsDep, TodayDep, audit_denial
from api.models import RouteSheetPublic
from api.sheet_views import (
    PAGE_CSP,
    audited_read,
    page_context,
    sheet_calendar,
    sheet_public,
)
from dispatch.accounts import User
from dispatch.audit_writer import AuditWriter
from dispatch.sheets import RouteSheet, route_sheets

router = APIRouter(prefix="/me", tags=["me"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")

NOT_FOUND = {404: {"description": "no published route sheet of yours on this day"}}
IfNoneMatch = Annotated[str | None, Header()]


def _no_store(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"Cache-Control": "no-store", **(headers or {})}


def _own_sheet(request: Request, session: Session, medic: User, day: date) -> RouteSheet:
    """The caller's published sheet of ``day``, or an audited 404."""
    if medic.medic_id is None:  # CurrentMedic rules it out; None would mean every medic's sheets
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not enough permissions")
    sheets = route_sheets(session, day, medic.medic_id)
    if not sheets:
        audit_denial(
            session,
            medic,
            request,
            resource="route_sheet",
            resource_ids=[f"date:{day.isoformat()}"],
            outcome="not_found",
        )
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no route sheet", headers=_no_store())
    return sheets[0]


def _serve(
    request: Request,
    session: Session,
    writer: AuditWriter,
    medic: User,
    day: date,
    fmt: str,
    if_none_match: str | None,
    zone: ZoneInfo,
) -> tuple[RouteSheet, str] | Response:
    """Load, audit, and answer 304 when the client already has this sheet in this format."""
    sheet = _own_sheet(request, session, medic, day)
    etag, fresh = audited_read(session, writer, medic.id, sheet, fmt, zone, if_none_match)
    if not fresh:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=_no_store({"ETag": etag}))
    return sheet, etag


@router.get(
    "/today",
    response_class=RedirectResponse,
    status_code=status.HTTP_303_SEE_OTHER,
    responses={303: {"description": "today's route page, by date (in the company's time zone)"}},
)
def today_page(medic: CurrentMedic, today: TodayDep) -> RedirectResponse:
    """Today's route page: the address the sign-in page sends a medic to, and a bookmark for the phone."""
    return RedirectResponse(f"/me/route-sheets/{today.isoformat()}/page", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/route-sheets/{day}", response_model=RouteSheetPublic, responses=NOT_FOUND)
def get_route_sheet(
    day: date,
    request: Request,
    response: Response,
    medic: CurrentMedic,
    session: SessionDep,
    writer: AuditWriterDep,
    settings: SettingsDep,
    if_none_match: IfNoneMatch = None,
) -> RouteSheetPublic | Response:
    """Your route sheet of ``day`` (YYYY-MM-DD), as JSON; times in the company's time zone."""
    served = _serve(request, session, writer, medic, day, "json", if_none_match, settings.zone)
    if isinstance(served, Response):
        return served
    sheet, etag = served
    response.headers.update(_no_store({"ETag": etag}))
    return sheet_public(sheet, settings.zone)


@router.get("/route-sheets/{day}/page", response_class=HTMLResponse, responses=NOT_FOUND)
def get_route_sheet_page(
    day: date,
    request: Request,
    medic: CurrentMedic,
    session: SessionDep,
    writer: AuditWriterDep,
    settings: SettingsDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Your route sheet of ``day`` as a phone-sized page: tap to navigate, tap to call."""
    served = _serve(request, session, writer, medic, day, "html", if_none_match, settings.zone)
    if isinstance(served, Response):
        return served
    sheet, etag = served
    return templates.TemplateResponse(
        request,
        "route_sheet.html",
        page_context(sheet, settings.zone),
        headers=_no_store({"ETag": etag, "Content-Security-Policy": PAGE_CSP}),
    )


@router.get(
    "/route-sheets/{day}/calendar.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, **NOT_FOUND},
)
def get_route_sheet_calendar(
    day: date,
    request: Request,
    medic: CurrentMedic,
    session: SessionDep,
    writer: AuditWriterDep,
    settings: SettingsDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Your route sheet of ``day`` as iCalendar: one event per stop."""
    served = _serve(request, session, writer, medic, day, "ics", if_none_match, settings.zone)
    if isinstance(served, Response):
        return served
    sheet, etag = served
    page_url = str(request.url_for("get_route_sheet_page", day=day.isoformat()))
    body = sheet_calendar(sheet, settings.zone, page_url)
    headers = _no_store({"ETag": etag, "Content-Disposition": f'attachment; filename="route-{day.isoformat()}.ics"'})
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)
