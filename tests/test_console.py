"""The dispatcher's console over HTTP (in-process): sign-in, the board against the plan, the anti-forgery
token, and what a medic's cookie may not do. The browser test is tests/test_console_e2e.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.deps import SESSION_COOKIE, csrf_token
from dispatch.store.config import ConsoleSettings, Settings
from dispatch.store.db import session_scope
from dispatch.store.tables import Credential
from tests.api_support import (
    API_FAST,
    PASSWORD,
    app_for,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    last_event,
    login,
    planned_day,
    served_by,
    two_medics,
)
from tests.factory import DAY

pytestmark = pytest.mark.usefixtures("cheap_argon2")
BOARD = f"/console/{DAY.isoformat()}"


def signed_in(engine: Engine, username: str = "dispatch", settings: Settings = API_FAST) -> TestClient:
    """A browser-like client signed in through the console's form (it holds the cookie)."""
    client = TestClient(app_for(engine, settings))
    answer = client.post("/console/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client


def page_token(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', html)
    assert found, "the page carries no anti-forgery token"
    return found.group(1)


def test_console_sends_a_signed_out_browser_to_its_sign_in_page(engine: Engine) -> None:
    """Without a cookie the board answers 303 to /console/login, which is a form posting to itself."""
    planned_day(engine)
    client = TestClient(app_for(engine))
    answer = client.get(BOARD, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/login")
    form = client.get("/console/login")
    assert form.status_code == 200 and 'action="/console/login"' in form.text


def test_console_sign_in_sends_a_dispatcher_to_the_board_and_a_medic_to_their_route(engine: Engine) -> None:
    """The same form: a dispatcher lands on /console, a medic on their own route page (/me/today)."""
    planned_day(engine)
    for username, onward in (("dispatch", "/console"), ("alice", "/me/today")):
        client = TestClient(app_for(engine))
        answer = client.post(
            "/console/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
        )
        assert (answer.status_code, answer.headers["location"]) == (303, onward), username
    wrong = TestClient(app_for(engine)).post("/console/login", data={"username": "dispatch", "password": "nope"})
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text


def test_board_shows_the_plans_stops_medics_and_unassigned(engine: Engine) -> None:
    """The board's routes, timeline rows and unassigned rows are the published plan's, and reading it is audited
    with the patients it shows."""
    world = planned_day(engine)
    client = signed_in(engine)
    plan = client.get(f"/plans/{DAY.isoformat()}", headers=login(client, "dispatch")).json()
    page = client.get(BOARD)
    assert page.status_code == 200
    html = page.text
    stops = [(s["booking_id"], s["part"]) for r in plan["routes"] for s in r["stops"]]
    listed = [(int(b), int(p)) for b, p in re.findall(r'<li data-booking="(\d+)" data-part="(\d+)">', html)]
    assert listed == stops
    assert html.count('class="timeline-row"') == 1  # one row per medic on shift: Alice (Bob is off)
    assert len(re.findall(r'class="block stop"', html)) == len(stops)
    unassigned = [int(b) for b in re.findall(r'<tr data-booking="(\d+)" data-reason=', html)]
    assert unassigned == [u["booking_id"] for u in plan["unassigned"]]
    assert f"Plan version {plan['version']}" in html
    event = last_event(engine)
    assert (event.action, event.resource) == ("read", "console_board")
    assert f"date:{DAY.isoformat()}" in event.resource_ids and world.users["dispatch"] == event.actor_user_id


def test_board_names_credentials_that_expire_within_30_days(engine: Engine) -> None:
    """A licence expiring in ten days shows on the roster row of its medic."""
    world = planned_day(engine)
    with session_scope(engine) as session:
        session.add(Credential(medic_id=world.medic_a, kind="licence", expires_on=DAY + timedelta(days=10)))
    html = signed_in(engine).get(BOARD).text
    row = html[html.index(f'<tr data-medic="{world.medic_a}">') :]
    row = row[: row.index("</tr>")]
    assert f"licence expires {(DAY + timedelta(days=10)).isoformat()}" in row


def test_console_write_needs_the_pages_token(engine: Engine) -> None:
    """With the cookie alone (what a cross-site form sends) a write is a 401; with a wrong token too; with the
    page's token it is made."""
    world = planned_day(engine)
    client = signed_in(engine)
    token = page_token(client.get(BOARD).text)
    path, body = f"/bookings/{world.bookings[0]}/pin", {"medic_id": world.medic_a}
    forged = client.post(
        f"/plans/{DAY.isoformat()}",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"},
        content=b"x=1",
    )
    assert forged.status_code == 401
    assert client.put(path, json=body).status_code == 401
    assert client.put(path, json=body, headers={"X-CSRF-Token": "0" * 64}).status_code == 401
    made = client.put(path, json=body, headers={"X-CSRF-Token": token})
    assert made.status_code == 200 and made.json()["pinned_medic_id"] == world.medic_a


def test_medic_cookie_reaches_no_console_page_and_makes_no_write(engine: Engine) -> None:
    """A medic signed in by the form: every console page is a 403 (audited), and a write with the token of their
    own cookie is still a 401."""
    world = planned_day(engine)
    client = signed_in(engine, "alice")
    for path in (BOARD, f"{BOARD}/bookings/new", f"/console/bookings/{world.bookings[0]}/edit"):
        assert client.get(path).status_code == 403, path
        assert last_event(engine).action == "deny"
    token = csrf_token(client.cookies[SESSION_COOKIE])
    refused = client.put(
        f"/bookings/{world.bookings[0]}/pin", json={"medic_id": world.medic_a}, headers={"X-CSRF-Token": token}
    )
    assert refused.status_code == 401


def test_board_policy_loads_tiles_only_from_the_configured_server(engine: Engine) -> None:
    """No tile server: images from this server only. With one: its origin is allowed, and the map data names it."""
    planned_day(engine)
    plain = signed_in(engine).get(BOARD)
    assert "img-src 'self' data:;" in plain.headers["content-security-policy"]
    assert "script-src 'self';" in plain.headers["content-security-policy"]
    tiles = ConsoleSettings(tile_url="https://tiles.example.org/{z}/{x}/{y}.png", attribution="© Example")
    settings = Settings(api=API_FAST.api, solver=API_FAST.solver, audit=API_FAST.audit, console=tiles)
    board = signed_in(engine, settings=settings).get(BOARD)
    assert "img-src 'self' data: https://tiles.example.org;" in board.headers["content-security-policy"]
    assert "https://tiles.example.org/{z}/{x}/{y}.png" in board.text


def test_board_shows_what_changed_since_an_earlier_version(engine: Engine) -> None:
    """After a move publishes version 2, ?since=1 lists the moved booking with both medics' names."""
    world = two_medics(engine)
    owner = served_by(engine)[world.later][0]
    other = world.bob if owner == world.alice else world.alice
    client = signed_in(engine)
    token = page_token(client.get(BOARD).text)
    move = {"booking_id": world.later, "medic_id": other, "position": 0}
    assert client.post(f"/plans/{DAY.isoformat()}/moves", json=move, headers={"X-CSRF-Token": token}).status_code == 200
    html = client.get(f"{BOARD}?since=1").text
    assert "What changed since version 1" in html and "Plan version 2" in html
    names = {world.alice: "Alice Medic", world.bob: "Bob Medic"}
    assert f"booking {world.later} ({names[owner]} &rarr; {names[other]})" in html
