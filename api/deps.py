"""Dependencies: the database session, the caller, and role checks.

``SessionDep`` is one session per request (rolled back unless a route commits).
``CurrentUser`` is the account behind a valid Bearer token: a missing, unknown,
expired or revoked token is a 401. ``CurrentMedic`` is a medic's account (others:
403). ``RequireDispatcher`` and ``RequireAdmin`` go on routers as
``dependencies=[...]``; each 403 they answer is audited as a denial.

Only the token lookup and the route itself touch the database, so a request takes two trips
through the thread pool; the other dependencies are ``async`` and do no I/O (a role check writes
its denial from a worker thread). The token lookup ends its transaction at once: a request
waiting for its next thread holds no pooled connection, so a burst of requests cannot take every
connection and leave the running threads waiting for one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.sheet_views import SheetRenderer
from api.throttle import LoginThrottle
from dispatch.access.accounts import AccountRole, TokenKind, User, resolve_token
from dispatch.access.audit import ResourceId, append_event
from dispatch.access.audit_writer import AuditWriter
from dispatch.records.validation import Policy
from dispatch.store.config import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> AsyncIterator[Session]:
    """A session for the request; it connects on its first statement, in the route's worker thread."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():  # a rollback is I/O: keep it off the event loop
            await run_in_threadpool(session.close)
        else:
            session.close()


async def get_audit_writer(request: Request) -> AuditWriter:
    writer: AuditWriter = request.app.state.audit_writer
    return writer


async def get_today(settings: Annotated[Settings, Depends(get_settings)]) -> date:
    """Today in the company's time zone (tests pin it with ``app.dependency_overrides``)."""
    return datetime.now(settings.zone).date()


async def get_sheet_renderer(request: Request) -> SheetRenderer:
    renderer: SheetRenderer = request.app.state.sheet_renderer
    return renderer


async def get_login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


async def get_policy(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> Policy:
    """What a write is checked against: today in the company's zone, the service area, the geocoder."""
    return Policy.now(
        settings.zone,
        settings.geocoder.bbox,
        request.app.state.geocoder,
        settings.credentials.kinds,
        settings.planning.max_bookings_per_day,
    )


def public_link(settings: Settings, path: str) -> str:
    """An absolute address handed to a client (a calendar feed), built from ``[api] public_url``.

    Never from the request's Host header: a client can send any Host, and a link built from it
    (``Host: evil.example``) would send the medic's calendar app, and the token in the link, there.
    """
    return settings.api.public_url.rstrip("/") + path


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
PolicyDep = Annotated[Policy, Depends(get_policy)]
AuditWriterDep = Annotated[AuditWriter, Depends(get_audit_writer)]
LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]
SheetRendererDep = Annotated[SheetRenderer, Depends(get_sheet_renderer)]
TodayDep = Annotated[date, Depends(get_today)]

#: a row id in a path: a 32-bit integer, like the columns it is looked up in
PathId = Annotated[int, Path(ge=1, le=2_147_483_647)]
Offset = Annotated[int, Query(ge=0, le=2_147_483_647, description="rows to skip")]
Limit = Annotated[int, Query(ge=1, le=1000, description="rows to return at most")]

#: reads "Authorization: Bearer <token>"; the docs' Authorize button logs in at /auth/token
bearer_token = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
TokenDep = Annotated[str | None, Depends(bearer_token)]

UNAUTHENTICATED = HTTPException(
    status.HTTP_401_UNAUTHORIZED, "not authenticated", headers={"WWW-Authenticate": "Bearer"}
)


#: the phone's sign-in cookie (see api.routes.auth); it authenticates reads only
SESSION_COOKIE = "dripline_session"
READ_METHODS = frozenset({"GET", "HEAD"})


#: the header the console's pages send with every write, holding :func:`csrf_token` of their sign-in cookie
CSRF_HEADER = "X-CSRF-Token"
#: the accounts whose sign-in cookie may write (from the console, with the header); a medic's never does
CONSOLE_ROLES = frozenset({AccountRole.DISPATCHER, AccountRole.ADMIN})


def csrf_token(session_token: str) -> str:
    """The console's anti-forgery token for a sign-in cookie, put in the pages the server renders.

    It is derived from the cookie's own secret, so only a page served to that session holds it: another
    site can make the browser send the cookie, but can read neither the cookie nor the page, and a
    cross-site form cannot set a header at all.
    """
    return hashlib.sha256(b"dripline-console-csrf:" + session_token.encode()).hexdigest()


def get_current_user(request: Request, session: SessionDep, token: TokenDep) -> User:
    """The account behind the Bearer token; 401 when it is missing, unknown, expired or revoked.

    Without a Bearer header, a GET or HEAD may use the sign-in cookie instead. A write may use it only
    from the console: the cookie of a dispatcher or an admin, with :data:`CSRF_HEADER` holding its
    :func:`csrf_token`. A browser sends cookies with requests other sites make it send, so a write
    with the cookie alone, or any write with a medic's cookie, is a 401.
    """
    kind, console_write = TokenKind.BEARER, False
    cookie = request.cookies.get(SESSION_COOKIE)
    if not token and cookie:
        if request.method in READ_METHODS:
            token, kind = cookie, TokenKind.SESSION
        else:
            sent = request.headers.get(CSRF_HEADER, "")
            if sent and hmac.compare_digest(sent.encode(), csrf_token(cookie).encode()):
                token, kind, console_write = cookie, TokenKind.SESSION, True
    user = resolve_token(session, token, kind=kind) if token else None
    session.commit()  # a read: ending it hands the connection back to the pool (see the module docstring)
    if user is None or (console_write and user.role not in CONSOLE_ROLES):
        raise UNAUTHENTICATED
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def audit_denial(
    session: Session,
    user: User | None,
    request: Request,
    *,
    resource: str | None = None,
    resource_ids: list[ResourceId] | None = None,
    outcome: str = "forbidden",
) -> None:
    """Record a denial and commit it (the request is about to fail, and the record must stay)."""
    route = request.scope.get("route")
    append_event(
        session,
        actor_user_id=user.id if user else None,
        action="deny",
        resource=resource or f"{request.method} {getattr(route, 'path', '?')}",
        resource_ids=resource_ids if resource_ids is not None else [],
        outcome=outcome,
    )
    session.commit()


def audit(
    session: Session,
    user: User,
    *,
    action: str,
    resource: str,
    resource_ids: list[ResourceId],
    outcome: str = "ok",
) -> None:
    """Append one audit event for the caller and commit it with whatever the request wrote."""
    append_event(
        session, actor_user_id=user.id, action=action, resource=resource, resource_ids=resource_ids, outcome=outcome
    )
    session.commit()


def require_roles(*roles: AccountRole) -> Callable[..., Awaitable[User]]:
    """A dependency that lets only ``roles`` through; anyone else gets an audited 403."""

    async def check_role(request: Request, session: SessionDep, user: CurrentUser) -> User:
        if user.role not in roles:
            await run_in_threadpool(audit_denial, session, user, request)
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not enough permissions")
        return user

    check_role.roles = frozenset(roles)  # type: ignore[attr-defined]  # read by the authz tests
    return check_role


async def get_current_medic(request: Request, session: SessionDep, user: CurrentUser) -> User:
    """A medic's account, linked to a medic; anyone else gets an audited 403."""
    if user.role is not AccountRole.MEDIC or user.medic_id is None:
        await run_in_threadpool(audit_denial, session, user, request)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not enough permissions")
    return user


get_current_medic.roles = frozenset({AccountRole.MEDIC})  # type: ignore[attr-defined]

CurrentMedic = Annotated[User, Depends(get_current_medic)]
require_dispatcher = require_roles(AccountRole.DISPATCHER, AccountRole.ADMIN)
require_admin = require_roles(AccountRole.ADMIN)
#: router dependencies: ``APIRouter(dependencies=[RequireDispatcher])``
RequireDispatcher = Depends(require_dispatcher)
RequireAdmin = Depends(require_admin)
#: the caller, when a route also needs the account: ``user: DispatcherUser``
DispatcherUser = Annotated[User, RequireDispatcher]
AdminUser = Annotated[User, RequireAdmin]
