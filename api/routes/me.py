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

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from api.deps import (
    AuditWriterDep,
    CurrentMedic,
    SessionDep,
    SettingsDep,
    SheetRendererDep,
    TodayDep,
    audit_denial,
)
from api.errors import documented
from api.models import RouteSheetPublic
from api.sheet_views import PAGE_CSP, SheetRenderer, audited_read
from dispatch.access.accounts import User
from dispatch.access.audit_writer import AuditWriter
from dispatch.access.medic_days import readable_days
from dispatch.planning.sheets import StoredSheet, find_sheet
from dispatch.store.config import Settings

router = APIRouter(prefix="/me", tags=["me"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")

NOT_FOUND = documented(404, "no published route sheet of yours on this day")
IfNoneMatch = Annotated[str | None, Header()]


def _no_store(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"Cache-Control": "no-store", **(headers or {})}


def _own_sheet(request: Request, session: Session, medic: User, day: date, window: tuple[date, date]) -> StoredSheet:
    """The caller's published sheet of ``day``, or an audited 404 (none, or a day outside ``window``)."""
    if medic.medic_id is None:  # CurrentMedic rules it out
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not enough permissions")
    first, last = window
    inside = first <= day <= last
    stored = find_sheet(session, day, medic.medic_id) if inside else None
    if stored is None:
        audit_denial(
            session,
            medic,
            request,
            resource="route_sheet",
            resource_ids=[f"date:{day.isoformat()}"],
            outcome="not_found" if inside else "outside_window",
        )
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no route sheet", headers=_no_store())
    return stored


def _serve(
    request: Request,
    session: Session,
    writer: AuditWriter,
    renderer: SheetRenderer,
    medic: User,
    day: date,
    fmt: str,
    if_none_match: str | None,
    settings: Settings,
    today: date,
    headers: dict[str, str] | None = None,
) -> Response:
    """The stored sheet in ``fmt``, audited; 304 when the client already has it."""
    stored = _own_sheet(request, session, medic, day, readable_days(settings, today))
    rendered = renderer.render(session, stored, fmt)
    fresh = audited_read(session, writer, medic.id, rendered, if_none_match)
    if not fresh:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=_no_store({"ETag": rendered.etag}))
    return Response(
        rendered.body, media_type=rendered.media_type, headers=_no_store({"ETag": rendered.etag, **(headers or {})})
    )


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
    medic: CurrentMedic,
    session: SessionDep,
    writer: AuditWriterDep,
    renderer: SheetRendererDep,
    settings: SettingsDep,
    today: TodayDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Your route sheet of ``day`` (YYYY-MM-DD), as JSON; times in the company's time zone."""
    return _serve(request, session, writer, renderer, medic, day, "json", if_none_match, settings, today)


@router.get("/route-sheets/{day}/page", response_class=HTMLResponse, responses=NOT_FOUND)
def get_route_sheet_page(
    day: date,
    request: Request,
    medic: CurrentMedic,
    session: SessionDep,
    writer: AuditWriterDep,
    renderer: SheetRendererDep,
    settings: SettingsDep,
    today: TodayDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Your route sheet of ``day`` as a phone-sized page: tap to navigate, tap to call."""
    csp = {"Content-Security-Policy": PAGE_CSP}
    return _serve(request, session, writer, renderer, medic, day, "html", if_none_match, settings, today, csp)


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
    renderer: SheetRendererDep,
    settings: SettingsDep,
    today: TodayDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Your route sheet of ``day`` as iCalendar: one event per stop."""
    download = {"Content-Disposition": f'attachment; filename="route-{day.isoformat()}.ics"'}
    return _serve(request, session, writer, renderer, medic, day, "ics", if_none_match, settings, today, download)
