"""The application factory.

``create_app(settings, engine)`` builds the app from explicit settings (tests never depend on
the environment). The OpenAPI docs follow ``[api] docs_enabled`` (on in development, off in
production); CORS is off unless ``[api] cors_origins`` lists origins.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.engine import Engine

from api.errors import SafetyMiddleware, request_validation_handler
from api.routes import auth, health, me, users
from dispatch.config import Settings
from dispatch.db import make_engine


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
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
    app.add_exception_handler(RequestValidationError, request_validation_handler)
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.api.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match"],
            expose_headers=["ETag"],
        )
    app.add_middleware(SafetyMiddleware)  # added last: the outermost of ours, so it sees every error
    for module in (health, auth, me, users):
        app.include_router(module.router)
    return app
