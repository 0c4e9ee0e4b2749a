"""The application factory.

``create_app(settings, engine)`` builds the app from explicit settings (tests never depend on
the environment). ``geocoder`` locates addresses given without coordinates (default: the one
``[geocoder]`` describes); ``plan_solver`` replaces the solve of a re-plan (tests run it in-process;
default: :func:`dispatch.planning.day.solve_in_child`, a child process with a hard timeout).

The OpenAPI docs follow ``[api] docs_enabled`` (on in development, off in production); CORS is
off unless ``[api] cors_origins`` lists origins. Request bodies are bounded before parsing
(:mod:`api.request_limits`); HEAD and OPTIONS work on every route (:mod:`api.methods`); proxy
headers are believed only from ``[api] trusted_proxies``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api.deps import public_link
from api.errors import (
    SafetyMiddleware,
    audit_unavailable_handler,
    conflict_handler,
    http_error_handler,
    invalid_input_handler,
    not_found_handler,
    request_validation_handler,
)
from api.idempotency import IdempotencyMiddleware
from api.methods import HeadAndOptionsMiddleware
from api.request_limits import RequestLimitMiddleware
from api.routes import (
    auth,
    bookings,
    console,
    credentials,
    feeds,
    health,
    me,
    medics,
    patients,
    places,
    plans,
    route_sheets,
    services,
    shifts,
    users,
)
from api.sheet_views import SheetRenderer
from api.throttle import LoginThrottle
from dispatch.access.audit import seal_head
from dispatch.access.audit_writer import AuditUnavailable, AuditWriter
from dispatch.planning.day import Solver
from dispatch.records.geocode import Geocoder, make_geocoder
from dispatch.records.validation import Conflict, InvalidInput, NotFound
from dispatch.store.config import Settings
from dispatch.store.db import make_engine, use_key

ROUTERS = (
    health,
    auth,
    me,
    feeds,
    users,
    medics,
    credentials,
    shifts,
    services,
    patients,
    places,
    bookings,
    plans,
    route_sheets,
    console,
)

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


def create_app(
    settings: Settings,
    engine: Engine | None = None,
    *,
    geocoder: Geocoder | None = None,
    plan_solver: Solver | None = None,
) -> FastAPI:
    """The Dripline API on ``engine`` (default: one for ``settings.database.url``)."""
    docs = settings.api.docs
    app = FastAPI(
        title="Dripline",
        summary="Dispatch for a mobile IV-therapy service",
        version="0.1.0",
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.engine = engine if engine is not None else make_engine(settings.database.url)
    use_key(app.state.engine, settings.audit.key)
    try:  # a trail migrated from before the keyed hashes gets its seal now (see dispatch.access.audit.verify_trail)
        seal_head(app.state.engine, settings.audit.key)
    except SQLAlchemyError as error:  # not migrated yet: /ready says so, and the first append seals it
        log.info("audit head not sealed at start: %s", type(error).__name__)
    app.state.geocoder = geocoder if geocoder is not None else make_geocoder(settings.geocoder)
    app.state.plan_solver = plan_solver
    app.state.audit_writer = AuditWriter(app.state.engine)
    app.state.login_throttle = LoginThrottle.from_settings(settings.api)
    page = me.templates.get_template("route_sheet.html")
    app.state.sheet_renderer = SheetRenderer(
        settings.zone,
        page_url=lambda day: public_link(settings, app.url_path_for("get_route_sheet_page", day=day.isoformat())),
        render_html=page.render,
    )
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, request_validation_handler)
    app.add_exception_handler(InvalidInput, invalid_input_handler)
    app.add_exception_handler(NotFound, not_found_handler)
    app.add_exception_handler(Conflict, conflict_handler)
    app.add_exception_handler(AuditUnavailable, audit_unavailable_handler)
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.api.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match"],
            expose_headers=["ETag"],
        )
    for module in ROUTERS:
        app.include_router(module.router)
    # the console's scripts, styles and built browser libraries (api/static/vendor): served from here, never a CDN
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(HeadAndOptionsMiddleware)
    app.add_middleware(IdempotencyMiddleware, engine=app.state.engine)
    app.add_middleware(
        RequestLimitMiddleware, max_bytes=settings.api.max_body_bytes, max_json_depth=settings.api.max_json_depth
    )
    if settings.api.trusted_proxies:
        # only these peers' X-Forwarded-For and -Proto are believed (`dripline serve` turns uvicorn's own off)
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.api.trusted_proxies))
    app.add_middleware(SafetyMiddleware)  # added last: the outermost of ours, so it sees every error
    return app
