"""Liveness and readiness: public, and free of any data."""

from __future__ import annotations

import logging
from functools import cache

from alembic.script import ScriptDirectory
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import SessionDep
from api.models import HealthPublic
from dispatch.db import alembic_config

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@cache
def schema_head() -> str | None:
    """The newest migration this code expects."""
    config = alembic_config("sqlite://")  # the URL is not used: only the scripts are read
    return ScriptDirectory.from_config(config).get_current_head()


@router.get("/health", response_model=HealthPublic)
def health() -> HealthPublic:
    """The process answers."""
    return HealthPublic(status="ok")


@router.get("/ready", response_model=HealthPublic, responses={503: {"model": HealthPublic}})
def ready(session: SessionDep) -> HealthPublic | JSONResponse:
    """The database answers and its schema is the one this code expects."""
    try:
        version = session.connection().execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    except Exception as error:
        log.warning("ready: database check failed: %s", type(error).__name__)
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    if version != schema_head():
        return JSONResponse({"status": "database schema is not migrated"}, status_code=503)
    return HealthPublic(status="ready")
