"""The dispatcher's console: the day on a map and a timeline, the unassigned list, bookings, pins and moves.

Server-rendered pages (``/console/...``) with a little JavaScript (``/static/console/console.js``).
The pages read through the sign-in cookie like the medic's page; every write they make goes to the
same API routes as any client's (``/bookings``, ``/plans/{day}``, ``/plans/{day}/moves``), through
the same Public models, with the cookie and the page's anti-forgery token in ``X-CSRF-Token``
(:func:`api.deps.csrf_token`): a form another site posts carries no such header and is refused.

Only dispatchers and admins use the console. A medic who signs in here is sent to their own route
page, and a medic's cookie reaches no console page (an audited 403) and makes no write. A page asked
for without a sign-in sends the browser to ``/console/login`` (:data:`api.errors.CONSOLE_PAGES`).
Every page that shows patient data is an audited read.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from api.console_views import colours, day_offset, duration, hm, kpi_cards, map_data, timeline
from api.deps import (
    CONSOLE_ROLES,
    SESSION_COOKIE,
    DispatcherUser,
    LoginThrottleDep,
    PathId,
    SessionDep,
    SettingsDep,
    TodayDep,
    audit,
    csrf_token,
)
from api.routes.auth import refused_page, session_sign_in, with_session_cookie
from dispatch.access.accounts import MAX_PASSWORD_LENGTH, AccountRole, User
from dispatch.planning.board import day_board
from dispatch.records.bookings import booking_lines, get_booking
from dispatch.records.catalogue import list_services
from dispatch.store.config import Settings

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
templates.env.filters["hm"] = hm
templates.env.filters["duration"] = duration


def console_csp(settings: Settings) -> str:
    """Scripts and styles from this server only; map tiles from the configured tile server, if any."""
    tiles = settings.console.tile_origin
    return (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:{' ' + tiles if tiles else ''}; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def _page(request: Request, settings: Settings, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return templates.TemplateResponse(
        request,
        name,
        context,
        status_code=status_code,
        headers={"Content-Security-Policy": console_csp(settings), "Cache-Control": "no-store"},
    )


# --------------------------------------------------------------------- signing in


@router.get("/login", response_class=HTMLResponse)
def console_login_page(request: Request, settings: SettingsDep) -> Response:
    """The console's sign-in page."""
    return _page(request, settings, "console_login.html", {"message": None})


@router.post("/login", response_class=HTMLResponse)
def console_login(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=100)],
    password: Annotated[str, Form(min_length=1, max_length=MAX_PASSWORD_LENGTH)],
    session: SessionDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
) -> Response:
    """Sign in: a dispatcher or admin goes on to today's board, a medic to their own route page."""
    try:
        issued = session_sign_in(request, session, throttle, settings, username, password)
    except HTTPException as refused:
        return refused_page(
            request,
            refused,
            lambda message, code: _page(request, settings, "console_login.html", {"message": message}, code),
        )
    user = session.get(User, issued.user_id)
    onward = "/console" if user is not None and user.role in CONSOLE_ROLES else "/me/today"
    return with_session_cookie(
        RedirectResponse(onward, status_code=status.HTTP_303_SEE_OTHER), request, settings, issued
    )


# --------------------------------------------------------------------- the day board


@router.get("", response_class=HTMLResponse)
def console_today(user: DispatcherUser, today: TodayDep) -> Response:
    """Today's board."""
    return RedirectResponse(f"/console/{today.isoformat()}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/{day}", response_class=HTMLResponse)
def console_board(
    day: date,
    request: Request,
    user: DispatcherUser,
    session: SessionDep,
    settings: SettingsDep,
    since: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response:
    """The day board: the plan's version and KPIs, the Re-plan button, the map, the timeline, the
    unassigned list, the bookings with their pins, and the roster."""
    zone = settings.zone
    board = day_board(session, day, since=since)
    medic_names = {medic.id: medic.name for medic in board.medics}
    reasons = sorted({item.words for item in board.unassigned})
    context = {
        "board": board,
        "day": day,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "zone": zone,
        "csrf": csrf_token(request.cookies.get(SESSION_COOKIE, "")),
        "user": user,
        "kpis": kpi_cards(board),
        "timeline": timeline(board, zone),
        "colours": colours(board),
        "medic_names": medic_names,
        "reasons": reasons,
        "map_data": map_data(board, zone, settings.console),
        "published": board.published_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if board.published_at else "",
        "offset": day_offset(day, zone),
    }
    response = _page(request, settings, "console_board.html", context)
    audit(
        session,
        user,
        action="read",
        resource="console_board",
        resource_ids=[f"date:{day.isoformat()}", *(f"patient:{p}" for p in board.patient_ids)],
    )
    return response


# --------------------------------------------------------------------- bookings


@router.get("/{day}/bookings/new", response_class=HTMLResponse)
def console_new_booking(
    day: date, request: Request, user: DispatcherUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """The form for a new booking on ``day``; it posts to ``POST /bookings``."""
    return _booking_form(request, session, settings, day, None)


@router.get("/bookings/{booking_id}/edit", response_class=HTMLResponse)
def console_edit_booking(
    booking_id: PathId, request: Request, user: DispatcherUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """The form to change a booking's window, priority or preferred medic; it sends ``PATCH /bookings/{id}``."""
    booking = get_booking(session, booking_id=booking_id)  # an unknown id: a plain 404, like the API's
    lines = booking_lines(session, booking_ids=[booking_id]).get(booking_id, [])
    audit(
        session,
        user,
        action="read",
        resource="booking",
        resource_ids=[booking_id, f"place:{booking.place_id}", *(f"patient:{line.patient_id}" for line in lines)],
    )
    return _booking_form(request, session, settings, booking.service_date, booking)


def _booking_form(request: Request, session: Session, settings: Settings, day: date, booking: Any) -> Response:
    zone = settings.zone
    context = {
        "day": day,
        "booking": booking,
        "window_start": hm(booking.window_start, zone) if booking else "09:00",
        "window_end": hm(booking.window_end, zone) if booking else "12:00",
        "services": list_services(session),
        "offset": day_offset(day, zone),
        "csrf": csrf_token(request.cookies.get(SESSION_COOKIE, "")),
        "roles": [role.value for role in AccountRole],
    }
    return _page(request, settings, "console_booking.html", context)
