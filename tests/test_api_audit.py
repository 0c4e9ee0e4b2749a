"""The audit trail: one row per call, ids only, hash-chained so an edit shows (rule 5)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch.access.audit import append_event, events, verify_chain
from dispatch.store.db import session_scope
from tests.api_support import (
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

SHEET = f"/me/route-sheets/{DAY.isoformat()}"


def test_read_route_sheet_appends_one_event_per_call_with_ids_only(engine: Engine) -> None:
    """Each sheet call (any format, 200 or 304) adds exactly one read row naming the medic, plan, bookings, patients."""
    world = planned_day(engine)
    client = client_for(engine)
    headers = login(client, "alice")
    etag = None
    for path in (SHEET, f"{SHEET}/page", f"{SHEET}/calendar.ics", SHEET):
        before = audit_count(engine)
        response = client.get(path, headers={**headers, **({"If-None-Match": etag} if etag else {})})
        etag = response.headers["etag"] if path == SHEET else etag
        assert audit_count(engine) == before + 1
        event = last_event(engine)
        assert (event.action, event.resource, event.actor_user_id) == ("read", "route_sheet", world.users["alice"])
        assert event.outcome == ("not_modified" if response.status_code == 304 else "ok")
        assert f"medic:{world.medic_a}" in event.resource_ids and f"plan:{world.plan_id}" in event.resource_ids
        assert {f"booking:{b}" for b in world.bookings} <= set(event.resource_ids)
        assert sum(str(i).startswith("patient:") for i in event.resource_ids) == 2
        assert not any(secret in str(event.resource_ids) for secret in world.secrets)
    assert response.status_code == 304


def test_plan_day_publish_appends_a_publish_event(engine: Engine) -> None:
    """Publishing a plan appends one publish row (system actor) in the same transaction."""
    world = planned_day(engine)
    with Session(engine) as session:
        (published,) = events(session, action="publish")
    assert published.actor_user_id is None and published.resource == "plan"
    assert published.resource_ids == [world.plan_id, f"date:{DAY.isoformat()}", "version:1"]


def test_verify_chain_after_api_calls_passes(engine: Engine) -> None:
    """Logins, reads, denials and a publish leave an intact chain."""
    planned_day(engine)
    client = client_for(engine)
    alice, bob = login(client, "alice"), login(client, "bob")
    client.get(SHEET, headers=alice)
    client.get(SHEET, headers=bob)
    client.post("/users", headers=alice, json={})
    with Session(engine) as session:
        assert {e.action for e in events(session)} == {"publish", "login", "read", "deny"}
        assert verify_chain(session) == []


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE audit_event SET outcome = 'ok' WHERE id = :id",
        "UPDATE audit_event SET actor_user_id = 999 WHERE id = :id",
        "UPDATE audit_event SET resource_ids = '[]' WHERE id = :id",
    ],
)
def test_verify_chain_after_a_raw_sql_edit_reports_the_row(engine: Engine, edit: str) -> None:
    """Editing a row behind the code's back (raw SQL) makes verify_chain report exactly that row."""
    planned_day(engine)
    client = client_for(engine)
    bob = login(client, "bob")
    client.get(SHEET, headers=bob)  # a denial: outcome not_found, ids [date]
    client.get(SHEET, headers=login(client, "alice"))
    with Session(engine) as session:
        denial = events(session, action="deny")[0]
        assert verify_chain(session) == []
    with engine.begin() as connection:
        connection.execute(text(edit), {"id": denial.id})
    with Session(engine) as session:
        assert verify_chain(session) == [denial.id]


def test_verify_chain_after_deleting_rows_reports_the_break(engine: Engine) -> None:
    """Deleting a middle row flags its successor; deleting the newest row flags the new tail against the head."""
    planned_day(engine)
    with session_scope(engine) as session:
        ids = [append_event(session, actor_user_id=None, action="write", resource="booking", resource_ids=[n]).id
               for n in range(4)]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[1]})
    with Session(engine) as session:
        assert verify_chain(session) == [ids[2]]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE id IN (:a, :b)"), {"a": ids[2], "b": ids[3]})
    with Session(engine) as session:
        assert verify_chain(session) == [ids[0]]


def test_append_event_with_data_like_ids_is_refused(engine: Engine) -> None:
    """Ids only: a phrase or a long string as a resource id is refused before it is stored."""
    with session_scope(engine) as session:
        for bad in (["Dana Rivers"], ["x" * 65], [1.5], [None]):
            with pytest.raises(ValueError, match="resource_ids"):
                append_event(session, actor_user_id=None, action="read", resource="booking", resource_ids=bad)
        with pytest.raises(ValueError, match="action"):
            append_event(session, actor_user_id=None, action="peek", resource="booking")


def test_append_event_from_concurrent_writers_keeps_one_chain(engine: Engine) -> None:
    """Four threads appending at once still leave a single, intact chain (the head row serialises them)."""
    from concurrent.futures import ThreadPoolExecutor

    def write(worker: int) -> None:
        for n in range(10):
            with session_scope(engine) as session:
                session.connection().execute(text("SELECT 1"))  # a read before the append
                append_event(session, actor_user_id=None, action="write", resource="booking", resource_ids=[worker, n])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    with Session(engine) as session:
        assert len(events(session, action="write")) == 40
        assert verify_chain(session) == []


def test_plan_day_failed_publish_leaves_no_publish_event(engine: Engine) -> None:
    """A publish that fails rolls its audit row back with it: no publish event, and the chain is intact."""
    from dispatch.planning.day import plan_day
    from tests.api_support import API_FAST, solve_here

    planned_day(engine, plan=False)

    def fail_at_publish(stage: str) -> None:
        if stage == "publish":
            raise RuntimeError("injected")

    outcome = plan_day(engine, DAY, API_FAST, solver=solve_here, fault=fail_at_publish)
    assert outcome.status == "failed"
    with Session(engine) as session:
        assert events(session, action="publish") == [] and verify_chain(session) == []


#: fields that hold patient data, wherever they appear in a response model
PATIENT_FIELDS = frozenset(
    {"full_name", "display_name", "phone", "date_of_birth", "screening", "address", "access_notes"}
)
#: GET routes without a response model (pages, calendars, redirects) that show patient data or lead to it
PATIENT_PAGES = frozenset(
    {
        "/me/today",
        "/me/route-sheets/{day}/page",
        "/me/route-sheets/{day}/calendar.ics",
        "/feeds/{token}/route.ics",
        "/console/{day}",
        "/console/bookings/{booking_id}/edit",
    }
)
#: GET routes without a response model that show none
OTHER_PAGES = frozenset(
    {
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/health",
        "/ready",
        "/login",
        "/console/login",
        "/console",  # a redirect to today's board
        "/console/{day}/bookings/new",  # an empty form
    }
)


def _field_names(annotation: object, seen: set[type]) -> set[str]:
    """Every field name of the pydantic models in ``annotation`` (lists, unions, nested models), at any depth."""
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return set()
        seen.add(annotation)
        names = set(annotation.model_fields)
        for info in annotation.model_fields.values():
            names |= _field_names(info.annotation, seen)
        return names
    return set().union(*(_field_names(argument, seen) for argument in typing.get_args(annotation)))


def test_walk_routes_every_read_of_patient_data_is_audited(engine: Engine) -> None:
    """Walk every GET route: each whose answer can hold patient data (a response model naming a patient field, or a
    page in PATIENT_PAGES) answers 200 and appends one ``read`` row to the trail; every page is classified."""
    from fastapi.routing import iter_route_contexts

    from tests.test_api_security import concrete

    world = planned_day(engine)
    app = app_for(engine)
    client = TestClient(app)
    dispatcher, medic = login(client, "dispatch"), login(client, "alice")
    feed = client.post("/me/calendar-feed", headers=medic).json()["url"].split("/feeds/", 1)[1].split("/")[0]
    audited, unclassified = [], []
    for route in iter_route_contexts(app.routes):
        if "GET" not in (route.methods or ()):
            continue
        model = getattr(route, "response_model", None)
        if model is None and route.path not in PATIENT_PAGES | OTHER_PAGES:
            unclassified.append(route.path)
        holds_patient_data = route.path in PATIENT_PAGES or bool(_field_names(model, set()) & PATIENT_FIELDS)
        if not holds_patient_data:
            continue
        path = concrete(route.path.replace("{token}", feed).replace("{medic_id}", str(world.medic_a)))
        before = audit_count(engine)
        response = client.get(path, headers=medic if path.startswith(("/me", "/feeds")) else dispatcher)
        assert response.status_code == 200, (route.path, response.status_code)
        assert audit_count(engine) == before + 1, route.path
        assert last_event(engine).action == "read", route.path
        audited.append(route.path)
    assert unclassified == [], "classify each page as PATIENT_PAGES or OTHER_PAGES"
    assert {"/patients/{patient_id}", "/places/{place_id}", "/route-sheets/{day}/{medic_id}"} <= set(audited)
    assert set(audited) >= PATIENT_PAGES
