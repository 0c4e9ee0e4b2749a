"""Calendar feeds: a medic's secret subscription address, its calendar, and revoking it."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import text
from sqlalchemy.engine import Engine

from api import create_app
from api.access_log import RedactFeedTokens
from api.deps import get_today
from tests.api_support import (
    API_FAST,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    last_event,
    login,
    planned_day,
)
from tests.factory import DAY

pytestmark = pytest.mark.usefixtures("cheap_argon2")


def client_on(engine: Engine, today=DAY) -> TestClient:  # type: ignore[no-untyped-def]
    """A client of an app whose 'today' is pinned (the feed covers yesterday to two weeks ahead of it)."""
    app = create_app(API_FAST, engine)
    app.dependency_overrides[get_today] = lambda: today
    return TestClient(app)


def feed_path(client: TestClient, headers: dict[str, str]) -> str:
    response = client.post("/me/calendar-feed", headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"url", "days_before", "days_after"}
    url = str(body["url"])
    assert url.startswith(API_FAST.api.public_url + "/feeds/")  # built from [api] public_url, not the request
    return url.removeprefix(API_FAST.api.public_url)


def test_feed_holds_one_event_per_stop_with_times_only(engine: Engine) -> None:
    """The address alone (no header, no cookie) returns the medic's stops: times and a page link, and no
    patient name or phone, no address, coordinates or service (the calendar provider keeps the feed)."""
    world = planned_day(engine)
    client = client_on(engine)
    path = feed_path(client, login(client, "alice"))
    assert path.startswith("/feeds/") and path.endswith("/route.ics")
    sheet = client.get(f"/me/route-sheets/{DAY.isoformat()}", headers=login(client, "alice")).json()
    response = TestClient(client.app).get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    assert response.headers["cache-control"] == "no-store"
    events = Calendar.from_ical(response.content).walk("VEVENT")
    assert len(events) == len(sheet["stops"]) >= 1
    assert sorted(str(e["summary"]) for e in events) == sorted(f"Dripline stop {s['sequence']}" for s in sheet["stops"])
    assert all(str(e["url"]).endswith(f"/me/route-sheets/{DAY.isoformat()}/page") for e in events)
    assert not [e for e in events if "location" in e or "geo" in e]
    values = " ".join(str(e[key]) for e in events for key in ("summary", "description"))
    services = {p["service"] for stop in sheet["stops"] for p in stop["patients"]}
    assert not [secret for secret in [*world.secrets, *services] if secret in values]
    event = last_event(engine)
    assert (event.action, event.resource, event.actor_user_id) == ("read", "calendar_feed", world.users["alice"])
    assert {f"booking:{b}" for b in world.bookings} <= set(event.resource_ids)


def test_feed_covers_yesterday_to_two_weeks_ahead(engine: Engine) -> None:
    """A plan 15 days ahead of 'today' is outside the feed; one day behind is inside."""
    planned_day(engine)
    inside = client_on(engine, today=DAY + timedelta(days=1))
    assert len(Calendar.from_ical(inside.get(feed_path(inside, login(inside, "alice"))).content).walk("VEVENT")) >= 1
    far = client_on(engine, today=DAY - timedelta(days=15))
    assert Calendar.from_ical(far.get(feed_path(far, login(far, "alice"))).content).walk("VEVENT") == []


def test_feed_with_matching_etag_is_304(engine: Engine) -> None:
    """A calendar app sending back the ETag gets a 304 (audited as not_modified)."""
    planned_day(engine)
    client = client_on(engine)
    path = feed_path(client, login(client, "alice"))
    first = client.get(path)
    again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and (last_event(engine).outcome == "not_modified")


def test_new_feed_revokes_the_old_and_delete_revokes_all(engine: Engine) -> None:
    """Issuing again kills the old address; DELETE kills the new one; a dead address is a bare 404."""
    planned_day(engine)
    client = client_on(engine)
    headers = login(client, "alice")
    old = feed_path(client, headers)
    new = feed_path(client, headers)
    assert client.get(old).status_code == 404 and client.get(new).status_code == 200
    assert client.delete("/me/calendar-feed", headers=headers).status_code == 204
    gone = client.get(new)
    assert gone.status_code == 404 and gone.json() == {"detail": "calendar feed not found"}
    assert client.get("/feeds/not-a-token/route.ics").json() == gone.json()  # malformed: the same answer


def test_feed_is_for_medics_only(engine: Engine) -> None:
    """A dispatcher asking for a feed gets an audited 403 (a feed shows one medic's own route)."""
    planned_day(engine, plan=False)
    client = client_on(engine)
    assert client.post("/me/calendar-feed", headers=login(client, "dispatch")).status_code == 403
    assert last_event(engine).action == "deny"


def test_feed_token_is_stored_as_a_digest_only(engine: Engine) -> None:
    """The database holds the sha256 of the address's token, never the token."""
    planned_day(engine, plan=False)
    client = client_on(engine)
    token = feed_path(client, login(client, "alice")).split("/")[2]
    with engine.connect() as connection:
        dump = " ".join(str(row) for row in connection.execute(text("SELECT * FROM calendar_feed")))
    assert token not in dump


def test_access_log_filter_cuts_the_token_out_of_a_uvicorn_access_line() -> None:
    """uvicorn's access record (client, method, path, version, status) loses the token, keeps the rest."""
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/feeds/AbC-123_xyzSECRETtoken0/route.ics", "1.1", 200),
        None,
    )
    assert RedactFeedTokens().filter(record)
    line = record.getMessage()
    assert "SECRET" not in line and "/feeds/[redacted]/route.ics" in line and line.endswith(" 200")
