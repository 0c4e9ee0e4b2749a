"""Function-level authorization, no leaks, safe errors and production settings (rules 2, 3 and 6)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api import create_app
from api.deps import get_current_user
from dispatch.access.accounts import AccountRole
from dispatch.store.config import ApiSettings, AuditSettings, Settings
from tests.api_support import (
    API_FAST,
    PASSWORD,
    app_for,
    audit_count,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    client_for,
    last_event,
    login,
    planned_day,
)
from tests.factory import DAY

pytestmark = pytest.mark.usefixtures("cheap_argon2")

#: the only routes anyone may call without a token: health, signing in and out (the phone's and the
#: console's), the docs, the console's scripts and browser libraries (/static, no data), and the
#: calendar feed, whose secret address is its credential (tests/test_api_feeds.py)
PUBLIC_PATHS = frozenset(
    {
        "/health",
        "/ready",
        "/auth/token",
        "/login",
        "/logout",
        "/console/login",
        "/static",
        "/feeds/{token}/route.ics",
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
    }
)


def routes(app: FastAPI) -> Iterator[tuple[str, set[str], Any]]:
    """(path, methods, dependant) of every route, with included routers flattened."""
    try:  # FastAPI >= 0.16x keeps included routers nested; this walks their effective routes
        from fastapi.routing import iter_route_contexts

        found: Any = iter_route_contexts(app.routes)
    except ImportError:  # older FastAPI: app.routes is already flat
        found = app.routes
    for route in found:
        yield route.path, set(route.methods or ()), getattr(route, "dependant", None)


def dependency_calls(dependant: Any) -> list[Any]:
    """Every callable a route depends on, at any depth (router dependencies included)."""
    calls: list[Any] = []
    for sub in dependant.dependencies if dependant is not None else ():
        calls += [sub.call, *dependency_calls(sub)]
    return calls


def role_limits(dependant: Any) -> list[frozenset[AccountRole]]:
    """The role sets the route's role checks allow (require_roles and get_current_medic carry .roles)."""
    return [call.roles for call in dependency_calls(dependant) if hasattr(call, "roles")]


def concrete(path: str) -> str:
    """A callable URL for a route template: each path parameter becomes a plausible id or date."""
    return re.sub(r"\{(\w+)\}", lambda m: DAY.isoformat() if m.group(1) in {"day", "date"} else "1", path)


def test_walk_routes_every_non_public_route_requires_a_token() -> None:
    """Walk every route of the app: each one outside PUBLIC_PATHS depends on the bearer token (or sign-in cookie)."""
    app = create_app(API_FAST)
    seen, unguarded = set(), []
    for path, _methods, dependant in routes(app):
        seen.add(path)
        if path not in PUBLIC_PATHS and get_current_user not in dependency_calls(dependant):
            unguarded.append(path)
    assert {"/me/route-sheets/{day}", "/users", "/auth/revoke"} <= seen, seen
    assert unguarded == [], f"routes without an auth dependency: {unguarded}"


def test_walk_routes_without_medic_role_answer_403_to_a_medic(engine: Engine) -> None:
    """Every dispatcher/admin route answers 403 to a medic token (before looking at the body), audited as a deny."""
    world = planned_day(engine, plan=False)
    app = app_for(engine)
    client = TestClient(app)
    medic = login(client, "alice")
    checked = []
    for path, methods, dependant in routes(app):
        limits = role_limits(dependant)
        if not limits or all(AccountRole.MEDIC in allowed for allowed in limits):
            continue
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            before = audit_count(engine)
            response = client.request(method, concrete(path), headers=medic, json={})
            assert response.status_code == 403, (method, path, response.status_code)
            assert audit_count(engine) == before + 1
            event = last_event(engine)
            assert (event.action, event.outcome, event.actor_user_id) == ("deny", "forbidden", world.users["alice"])
            checked.append(f"{method} {path}")
    assert "POST /users" in checked


def test_walk_routes_for_medics_answer_403_to_a_dispatcher(engine: Engine) -> None:
    """Every medic-only route answers 403 to a dispatcher token."""
    planned_day(engine, plan=False)
    app = app_for(engine)
    client = TestClient(app)
    dispatcher = login(client, "dispatch")
    checked = []
    for path, methods, dependant in routes(app):
        limits = role_limits(dependant)
        if limits and any(AccountRole.DISPATCHER not in allowed for allowed in limits):
            for method in sorted(methods - {"HEAD", "OPTIONS"}):
                assert client.request(method, concrete(path), headers=dispatcher).status_code == 403, path
                checked.append(path)
    assert "/me/route-sheets/{day}" in checked


def test_read_route_sheets_logs_no_patient_data(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    """With every logger at DEBUG, sign-ins, sheet reads, denials and bad input log no patient data or password."""
    world = planned_day(engine)
    caplog.set_level(logging.DEBUG)
    client = client_for(engine)
    alice, bob = login(client, "alice"), login(client, "bob")
    bodies = []
    for path in ("", "/page", "/calendar.ics"):
        bodies.append(client.get(f"/me/route-sheets/{DAY.isoformat()}{path}", headers=alice))
        bodies.append(client.get(f"/me/route-sheets/{DAY.isoformat()}{path}", headers=bob))
    client.post("/auth/token", json={"username": "alice", "password": world.secrets[0]})
    bad = client.post(
        "/users", headers=login(client, "admin"), json={"username": world.secrets[1], "x": world.secrets[2]}
    )
    assert bad.status_code == 422
    assert bodies[0].status_code == 200 and world.secrets[0] not in bodies[0].text  # full names are never shown
    logged = caplog.text + " ".join(r.getMessage() for r in caplog.records)
    assert logged, "nothing was captured: the check would be vacuous"
    leaked = [secret for secret in [*world.secrets, PASSWORD] if secret in logged]
    assert leaked == []
    for response in (*[b for b in bodies if b.status_code != 200], bad):
        assert not [secret for secret in world.secrets if secret in response.text]


def test_unhandled_error_is_a_generic_500_that_logs_only_the_class(caplog: pytest.LogCaptureFixture) -> None:
    """An exception whose text holds patient data answers {"detail": "internal error"}; the log names the class only."""
    app = create_app(API_FAST)

    def explode() -> None:
        raise RuntimeError("Dana Rivers, 1 Secret Lane, +1-720-555-0199")

    app.add_api_route("/explode", explode)
    with caplog.at_level(logging.DEBUG):
        response = TestClient(app, raise_server_exceptions=True).get("/explode")
    assert response.status_code == 500 and response.json() == {"detail": "internal error"}
    assert response.headers["cache-control"] == "no-store"
    assert "Dana Rivers" not in caplog.text and "RuntimeError" in caplog.text


def test_validation_error_body_has_no_input(engine: Engine) -> None:
    """A 422 lists loc, msg and type only: no input, no ctx."""
    planned_day(engine, plan=False)
    client = client_for(engine)
    response = client.post(
        "/users", headers=login(client, "admin"), json={"username": "has space", "password": 5, "role": "admin"}
    )
    assert response.status_code == 422
    assert all(set(error) == {"loc", "msg", "type"} for error in response.json()["detail"])
    assert "has space" not in response.text


def test_health_and_ready_answer_without_a_token(engine: Engine) -> None:
    """/health is alive; /ready checks the database is reachable and migrated."""
    client = client_for(engine)
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}


def test_ready_with_an_unmigrated_database_is_503(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A database without the schema is not ready."""
    from dispatch.store.db import make_engine

    client = TestClient(create_app(API_FAST, make_engine(f"sqlite:///{tmp_path / 'empty.db'}")))
    assert client.get("/ready").status_code == 503


#: production settings with what production insists on: an https public address and a real audit key
PRODUCTION = Settings(
    api=ApiSettings(environment="production", public_url="https://dispatch.example.org"),
    audit=AuditSettings(key="k" * 40),
)


def test_docs_served_in_development_only() -> None:
    """The OpenAPI docs are on in development and off in production."""
    development = TestClient(create_app(Settings(api=ApiSettings(environment="development"))))
    production = TestClient(create_app(PRODUCTION))
    assert development.get("/docs").status_code == 200 and development.get("/openapi.json").status_code == 200
    assert production.get("/docs").status_code == 404 and production.get("/openapi.json").status_code == 404


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"docs_enabled": True}, "docs_enabled"),
        ({"cors_origins": ["*"]}, "cors_origins"),
        ({"cors_origins": ["http://dispatch.example.org"]}, "https"),
        ({"token_minutes": 0}, "token_minutes"),
        ({"environment": "staging"}, "environment"),
        ({"unknown": 1}, "unknown"),
        ({"public_url": "http://dispatch.example.org"}, "public_url"),
    ],
)
def test_load_api_settings_refuses_unsafe_production_values(values: dict[str, Any], message: str) -> None:
    """Production refuses docs without auth and open or plain-http CORS; bad keys and values are named."""
    with pytest.raises(ValueError, match=message):
        ApiSettings.from_mapping({"environment": "production", "public_url": "https://x.example", **values})


def test_load_settings_reads_the_api_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """[api] in config.toml reaches Settings.api; docs default off in production."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[api]\nenvironment = "production"\ntoken_minutes = 15\ncors_origins = ["https://x.example"]\n'
        'public_url = "https://x.example"\n[audit]\nkey = "0123456789abcdef0123456789abcdef"\n'
    )
    settings = Settings.load(path)
    assert settings.api.token_minutes == 15 and settings.api.docs is False
    assert settings.api.cors_origins == ("https://x.example",)


def test_database_error_text_hides_patient_values(engine: Engine) -> None:
    """A failed statement's error text names the SQL but not the bound values (make_engine hides parameters)."""
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import Session

    from dispatch.store.tables import Patient

    with Session(engine) as session:
        session.add(Patient(id=1, full_name="Quokka Secretname", display_name="Q.", phone="+1-720-555-0000",
                            date_of_birth=DAY))  # fmt: skip
        session.add(Patient(id=1, full_name="Quokka Othername", display_name="Q.", phone="+1-720-555-0000",
                            date_of_birth=DAY))  # fmt: skip
        with pytest.raises(IntegrityError) as caught:
            session.flush()
    assert "Quokka" not in str(caught.value) and "720-555" not in str(caught.value)


def test_keep_api_free_of_solver_and_scheduler_imports() -> None:
    """No file of api/ imports ortools, apscheduler or routing's solver: the API calls dispatch services."""
    from tests.test_layering import imports_of, python_files, top_level, where

    files = python_files("api")
    assert files, "found no .py files under api/"
    offending = [
        where(path, line, name)
        for path in files
        for line, name in imports_of(path)
        if top_level(name) in {"ortools", "apscheduler"} or name.startswith("routing.solver")
    ]
    assert not offending, "api/ must not import the solver or the scheduler, but:\n" + "\n".join(offending)
