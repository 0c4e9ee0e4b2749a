"""Sign in and out.

``POST /auth/token`` takes ``username`` and ``password`` as JSON or as an OAuth2 password form (what the
docs' Authorize button sends) and returns a short-lived bearer token. ``POST /auth/revoke`` ends the
calling token.

A phone's browser cannot send a Bearer header, so ``GET /login`` is a sign-in page: it posts to
``POST /login``, which sets a session token as an HttpOnly, SameSite=Lax cookie (``Secure`` over
HTTPS) for ``[api] session_hours`` (a dispatcher's or admin's: ``[api] staff_session_minutes``)
and sends the medic on to today's route page. A session token authenticates GET
and HEAD requests from the cookie only, never from a Bearer header (see :mod:`api.deps`), so
neither another site nor someone who copies the cookie can make a write with it.
``POST /logout`` ends that session.

Every sign-in goes through :func:`sign_in`: throttled after too many failures (429 with
Retry-After, see :mod:`api.throttle`) and audited (``login``: ok, failed or throttled, the account
id when known). The username typed and the password are never stored or logged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import SESSION_COOKIE, UNAUTHENTICATED, CurrentUser, LoginThrottleDep, SessionDep, SettingsDep, TokenDep
from api.models import TokenPublic, TokenRequest
from api.throttle import LoginThrottle
from dispatch.access.accounts import (
    MAX_PASSWORD_LENGTH,
    AccountRole,
    IssuedToken,
    TokenKind,
    authenticate,
    find_token,
    revoke_token,
)
from dispatch.access.audit import append_event
from dispatch.store.config import Settings
from dispatch.store.tables import now_utc

log = logging.getLogger(__name__)
router = APIRouter(tags=["auth"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")

#: the sign-in page loads nothing and posts only to this server
LOGIN_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

#: the OAuth2 password-grant fields a form may carry besides username and password
OAUTH2_FORM_FIELDS = frozenset({"grant_type", "scope", "client_id", "client_secret"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _invalid(loc: tuple[str, ...], msg: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": msg, "type": kind}])


async def login_body(request: Request) -> TokenRequest:
    """The credentials, from a JSON body or a form; unknown fields are a 422."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data: Any
    if media_type == "application/json":
        try:
            data = await request.json()
        except ValueError:
            raise _invalid(("body",), "JSON decode error", "json_invalid") from None
    elif media_type in FORM_TYPES:
        form = await request.form()
        data = {key: value for key, value in form.items() if key not in OAUTH2_FORM_FIELDS}
        grant = form.get("grant_type")
        if grant is not None and grant != "password":
            raise _invalid(("body", "grant_type"), "only the password grant is supported", "value_error")
    else:
        raise _invalid(("body",), "send application/json or a form", "content_type")
    try:
        return TokenRequest.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()], body=data) from None


_schema = TokenRequest.model_json_schema()


def client_address(request: Request) -> str:
    """The caller's address: the TCP peer's, or what a trusted proxy forwarded (``[api] trusted_proxies``)."""
    return request.client.host if request.client else "unknown"


def sign_in(
    request: Request,
    session: Session,
    throttle: LoginThrottle,
    username: str,
    password: str,
    ttl: timedelta,
    kind: TokenKind = TokenKind.BEARER,
    ttl_by_role: Mapping[AccountRole, timedelta] | None = None,
) -> IssuedToken:
    """A token for good credentials (living ``ttl``, or its role's ``ttl_by_role``); a 429 while throttled, a
    401 for anything else. Every outcome is audited."""
    client = client_address(request)
    wait = throttle.attempt(username, client)
    if wait is not None:
        append_event(session, actor_user_id=None, action="login", resource="api_token", outcome="throttled")
        session.commit()
        log.warning("sign-in refused: too many failures (retry after %d s)", wait)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed sign-ins; try again later",
            headers={"Retry-After": str(wait)},
        )
    issued = authenticate(session, username=username, password=password, ttl=ttl, kind=kind, ttl_by_role=ttl_by_role)
    append_event(
        session,
        actor_user_id=issued.user_id if issued else None,
        action="login",
        resource="api_token",
        resource_ids=[issued.token_id] if issued else [],
        outcome="ok" if issued else "failed",
    )
    session.commit()
    if issued is None:
        throttle.failed(username, client)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "incorrect username or password", headers={"WWW-Authenticate": "Bearer"}
        )
    throttle.succeeded(username, client)
    log.info("account %s signed in", issued.user_id)
    return issued


@router.post(
    "/auth/token",
    response_model=TokenPublic,
    responses={
        401: {"description": "wrong username or password, or an inactive account"},
        429: {"description": "too many failed sign-ins for this account or from this client; see Retry-After"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _schema},
                "application/x-www-form-urlencoded": {"schema": _schema},
            },
        }
    },
)
def issue_token(
    request: Request,
    credentials: Annotated[TokenRequest, Depends(login_body)],
    session: SessionDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
) -> TokenPublic:
    """A bearer token for ``[api] token_minutes`` (30 by default)."""
    ttl = timedelta(minutes=settings.api.token_minutes)
    issued = sign_in(request, session, throttle, credentials.username, credentials.password, ttl)
    return TokenPublic(access_token=issued.token, expires_at=issued.expires_at)


def _login_page(request: Request, settings: Settings, message: str | None, status_code: int = 200) -> Response:
    return templates.TemplateResponse(
        request,
        "login.html",
        {"message": message, "session_hours": settings.api.session_hours},
        status_code=status_code,
        headers={"Content-Security-Policy": LOGIN_CSP},
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, settings: SettingsDep) -> Response:
    """The phone's sign-in page."""
    return _login_page(request, settings, None)


@router.post(
    "/login",
    response_class=HTMLResponse,
    status_code=status.HTTP_303_SEE_OTHER,
    responses={
        303: {"description": "signed in: on to today's route page, with the session cookie"},
        401: {"description": "the sign-in page again, saying the username or password was wrong"},
        429: {"description": "the sign-in page again, saying to wait; see Retry-After"},
    },
)
def login_form(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=100)],
    password: Annotated[str, Form(min_length=1, max_length=MAX_PASSWORD_LENGTH)],
    session: SessionDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
) -> Response:
    """Sign in from the sign-in page: a session cookie, then today's route page.

    A medic's cookie lives ``[api] session_hours`` (a shift); a dispatcher's or an admin's reads every
    patient's data, so it lives ``[api] staff_session_minutes``.
    """
    try:
        issued = session_sign_in(request, session, throttle, settings, username, password)
    except HTTPException as refused:
        return refused_page(request, refused, lambda message, code: _login_page(request, settings, message, code))
    return with_session_cookie(
        RedirectResponse("/me/today", status_code=status.HTTP_303_SEE_OTHER), request, settings, issued
    )


def session_sign_in(
    request: Request, session: Session, throttle: LoginThrottle, settings: Settings, username: str, password: str
) -> IssuedToken:
    """A sign-in cookie's token: a medic's lives ``[api] session_hours`` (a shift); a dispatcher's or an
    admin's reads every patient's data, so it lives ``[api] staff_session_minutes``."""
    ttl = timedelta(hours=settings.api.session_hours)
    staff = timedelta(minutes=settings.api.staff_session_minutes)
    by_role = {AccountRole.DISPATCHER: staff, AccountRole.ADMIN: staff}
    return sign_in(request, session, throttle, username, password, ttl, TokenKind.SESSION, by_role)


def refused_page(request: Request, refused: HTTPException, page: Callable[[str, int], Response]) -> Response:
    """The sign-in page again after a refused sign-in: what went wrong, and Retry-After while throttled."""
    message = (
        "Too many failed sign-ins. Wait a few minutes and try again."
        if refused.status_code == status.HTTP_429_TOO_MANY_REQUESTS
        else "Wrong username or password."
    )
    answer = page(message, refused.status_code)
    if refused.headers and "Retry-After" in refused.headers:
        answer.headers["Retry-After"] = refused.headers["Retry-After"]
    return answer


def with_session_cookie(response: Response, request: Request, settings: Settings, issued: IssuedToken) -> Response:
    """``response`` carrying the sign-in cookie of ``issued``."""
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=max(1, math.ceil((issued.expires_at - now_utc()).total_seconds())),
        path="/",
        httponly=True,
        # Lax, not Strict: a medic opening the route page from a text message stays signed in. The cookie
        # authenticates reads, and writes only from the console's own pages (api.deps.csrf_token)
        samesite="lax",
        # over HTTPS (directly, or through a trusted proxy's X-Forwarded-Proto) the cookie never travels in clear
        secure=settings.api.environment == "production" or request.url.scheme == "https",
    )
    return response


@router.post("/logout", status_code=status.HTTP_303_SEE_OTHER, response_class=Response)
def logout(request: Request, session: SessionDep) -> Response:
    """End this phone's session (the cookie's token is revoked) and go back to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    found = find_token(session, token, kind=TokenKind.SESSION) if token else None
    if found is not None and token is not None:
        revoke_token(session, token)
        append_event(
            session,
            actor_user_id=found[0].id,
            action="write",
            resource="api_token",
            resource_ids=[found[1].id or 0],
            outcome="revoked",
        )
        session.commit()
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.post("/auth/revoke", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def revoke(user: CurrentUser, token: TokenDep, session: SessionDep) -> Response:
    """End the calling token now."""
    found = find_token(session, token or "")
    if found is None:  # revoked or expired between the auth check and here
        raise UNAUTHENTICATED
    revoke_token(session, token or "")
    append_event(
        session,
        actor_user_id=user.id,
        action="write",
        resource="api_token",
        resource_ids=[found[1].id or 0],
        outcome="revoked",
    )
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
