"""Liveness and readiness: public, and free of any data."""

from __future__ import annotations

import logging
import time
from functools import cache
from typing import Any

from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from api.deps import AuditWriterDep, SessionDep
from api.models import HealthPublic
from dispatch.store.db import alembic_config
from dispatch.store.tables import ReadyProbe, now_utc

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
def ready(request: Request, session: SessionDep, writer: AuditWriterDep) -> HealthPublic | JSONResponse:
    """The database answers, its schema is the one this code expects, it takes a write (a full disk or
    a read-only file would fail every request), and the audit writer commits."""
    try:
        version = session.connection().execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    except Exception as error:
        log.warning("ready: database check failed: %s", type(error).__name__)
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    if version != schema_head():
        return JSONResponse({"status": "database schema is not migrated"}, status_code=503)
    try:
        probe_write_now_and_then(request.app.state, session)
    except Exception as error:
        session.rollback()
        log.warning("ready: the database takes no writes: %s", type(error).__name__)
        return JSONResponse({"status": "database does not take writes"}, status_code=503)
    trouble = writer.trouble()
    if trouble is not None:
        log.warning("ready: %s", trouble)
        return JSONResponse({"status": "audit writer failing"}, status_code=503)
    return HealthPublic(status="ready")


#: a write that worked is trusted this long, so that /ready (public, and polled by load balancers) cannot be
#: used to queue writes on the database's write lock; a failed one is tried again at every call
PROBE_EVERY_S = 5.0


def probe_write_now_and_then(state: Any, session: Session) -> None:
    """:func:`probe_write` unless one succeeded in this process within :data:`PROBE_EVERY_S`."""
    last = getattr(state, "ready_probe_ok_at", None)
    if last is not None and time.monotonic() - last < PROBE_EVERY_S:
        return
    probe_write(session)
    state.ready_probe_ok_at = time.monotonic()


def probe_write(session: Session) -> None:
    """Write and commit the one probe row (one row for ever: the probe does not grow the database)."""
    now = now_utc()
    moved = session.execute(
        update(ReadyProbe).where(col(ReadyProbe.id) == 1).values(at=now, writes=col(ReadyProbe.writes) + 1)
    )
    if moved.rowcount:  # type: ignore[attr-defined]
        session.commit()
        return
    session.add(ReadyProbe(id=1, at=now, writes=1))
    try:
        session.commit()
    except IntegrityError:  # another worker's first probe made the row a moment ago: that write counts too
        session.rollback()
