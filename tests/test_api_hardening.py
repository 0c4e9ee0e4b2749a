"""The probes of issue 11, each replayed against the app (real SQLite and PostgreSQL, real OR-Tools).

Edits after a publish, revocation, the read window, the sign-in throttle behind (and not behind)
a proxy, body limits, staff sessions, Idempotency-Key, the feed address, HEAD and OPTIONS, unknown
keys in a 422, and sheets rendered once. The TestClient stands in for the network here; the same
probes against a running ``dripline serve`` are in bench/faults.py and tests/test_e2e.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dispatch.store.tables import Booking, BookingPatient, Patient
from tests.api_support import (
    API_FAST,
    PASSWORD,
    app_for,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    dispatch_client,
    login,
    planned_day,
)
from tests.factory import DAY

pytestmark = pytest.mark.usefixtures("cheap_argon2")

SHEETS = ("/me/route-sheets/{day}", "/me/route-sheets/{day}/page", "/me/route-sheets/{day}/calendar.ics")


def medic_reads(client: TestClient, headers: dict[str, str], day: str = DAY.isoformat()) -> list[Any]:
    return [client.get(path.format(day=day), headers=headers) for path in SHEETS]


def patient_of(engine: Engine, booking_id: int) -> Patient:
    with Session(engine) as session:
        line = session.exec(select(BookingPatient).where(BookingPatient.booking_id == booking_id)).first()
        assert line is not None
        patient = session.get(Patient, line.patient_id)
        assert patient is not None
        return patient


# --------------------------------------------------------------------- 1. edits after a publish


def test_new_patients_on_a_published_booking_show_on_every_sheet_as_changed(engine: Engine) -> None:
    """PATCH a published booking's patients: the medic's JSON, page, .ics and the dispatcher's sheet all
    render (they answered 500 before), show the new patient, mark the stop changed, and the plan says so."""
    world = planned_day(engine)
    client = dispatch_client(engine)
    dispatcher, alice = login(client, "dispatch"), login(client, "alice")
    booking_id = world.bookings[0]
    body = {"patients": [{"full_name": "Quokka Newpatient", "phone": "+1 720 555 0199",
                          "date_of_birth": "1985-02-03", "service": "hydration"}]}  # fmt: skip
    edited = client.patch(f"/bookings/{booking_id}", headers=dispatcher, json=body)
    assert edited.status_code == 200, edited.text
    json_sheet, page, calendar = medic_reads(client, alice)
    assert [json_sheet.status_code, page.status_code, calendar.status_code] == [200, 200, 200]
    assert "Quokka N." in json_sheet.text and "Quokka N." in page.text
    sheet = client.get(f"/me/route-sheets/{DAY}", headers=alice).json()
    stop = next(stop for stop in sheet["stops"] if stop["booking_id"] == booking_id)
    assert stop["changed"] is True and sheet["revision"] >= 2 and sheet["changes"]
    assert [p["phone"] for p in stop["patients"]] == ["+1 720 555 0199"]
    dispatcher_sheet = client.get(f"/route-sheets/{DAY}/{world.medic_a}", headers=dispatcher)
    assert dispatcher_sheet.status_code == 200 and "+1 720 555 0199" in dispatcher_sheet.text
    plan = client.get(f"/plans/{DAY}", headers=dispatcher).json()
    assert plan["needs_replan"] is True
    assert booking_id in [change["booking_id"] for change in plan["changed_since_publish"]]


def test_a_cancelled_booking_leaves_every_sheet_at_once(engine: Engine) -> None:
    """DELETE a published booking: its patient's name and phone are gone from every sheet before any re-plan."""
    world = planned_day(engine)
    client = dispatch_client(engine)
    dispatcher, alice = login(client, "dispatch"), login(client, "alice")
    cancelled = world.bookings[0]
    patient = patient_of(engine, cancelled)
    before = client.get(f"/me/route-sheets/{DAY}", headers=alice).json()
    assert cancelled in [stop["booking_id"] for stop in before["stops"]]
    assert client.delete(f"/bookings/{cancelled}", headers=dispatcher).status_code == 200
    for response in [
        *medic_reads(client, alice),
        client.get(f"/route-sheets/{DAY}/{world.medic_a}", headers=dispatcher),
    ]:
        assert response.status_code == 200, response.text
        assert patient.phone not in response.text and patient.display_name not in response.text
    after = client.get(f"/me/route-sheets/{DAY}", headers=alice).json()
    assert cancelled not in [stop["booking_id"] for stop in after["stops"]]
    assert len(after["stops"]) == len(before["stops"]) - 1 and after["changes"]


# --------------------------------------------------------------------- 2. revocation and the read window


def test_deactivating_a_medic_ends_their_token_password_and_feed_at_once(engine: Engine) -> None:
    """DELETE /medics/{id}: the token in hand is refused, the password gives no new one, the feed is gone."""
    world = planned_day(engine)
    client = dispatch_client(engine)
    dispatcher, alice = login(client, "dispatch"), login(client, "alice")
    feed = client.post("/me/calendar-feed", headers=alice).json()["url"]
    feed_path = "/feeds/" + feed.split("/feeds/")[1]
    assert client.get(feed_path).status_code == 200
    assert client.delete(f"/medics/{world.medic_a}", headers=dispatcher).status_code == 200
    assert client.get(f"/me/route-sheets/{DAY}", headers=alice).status_code == 401
    refused = client.post("/auth/token", json={"username": "alice", "password": PASSWORD})
    assert refused.status_code == 401
    assert client.get(feed_path).status_code == 404


def test_admins_list_disable_and_enable_accounts(engine: Engine) -> None:
    """An admin disables a dispatcher (their token ends now), lists the disabled, and re-enables them."""
    planned_day(engine, plan=False)
    client = dispatch_client(engine)
    admin, dispatcher = login(client, "admin"), login(client, "dispatch")
    users = client.get("/users", headers=admin).json()
    target = next(user for user in users if user["username"] == "dispatch")
    assert client.get("/bookings", headers=dispatcher).status_code == 200
    disabled = client.patch(f"/users/{target['id']}", headers=admin, json={"active": False})
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert client.get("/bookings", headers=dispatcher).status_code == 401
    assert [u["username"] for u in client.get("/users?active=false", headers=admin).json()] == ["dispatch"]
    assert client.patch(f"/users/{target['id']}", headers=admin, json={"active": True}).status_code == 200
    assert client.get("/bookings", headers=dispatcher).status_code == 401, "old tokens stay revoked"
    assert client.get("/bookings", headers=login(client, "dispatch")).status_code == 200
    me = next(user for user in users if user["username"] == "admin")
    assert client.patch(f"/users/{me['id']}", headers=admin, json={"active": False}).status_code == 409
    assert client.get("/users", headers=dispatcher).status_code in (401, 403)


def test_a_medic_reads_only_days_inside_the_window(engine: Engine) -> None:
    """With today 8 days after the planned day and a 7-day window back, the medic's own sheet is a 404."""
    planned_day(engine)
    inside = TestClient(app_for(engine, today=DAY + timedelta(days=7)))
    outside = TestClient(app_for(engine, today=DAY + timedelta(days=8)))
    assert all(r.status_code == 200 for r in medic_reads(inside, login(inside, "alice")))
    assert all(r.status_code == 404 for r in medic_reads(outside, login(outside, "alice")))
    early = TestClient(app_for(engine, today=DAY - timedelta(days=15)))
    assert all(r.status_code == 404 for r in medic_reads(early, login(early, "alice")))


# --------------------------------------------------------------------- 4. the sign-in throttle


def wrong_password(client: TestClient, forwarded_for: str) -> int:
    response = client.post(
        "/auth/token", json={"username": "alice", "password": "wrong"}, headers={"X-Forwarded-For": forwarded_for}
    )
    return response.status_code


def test_a_forged_forwarded_for_from_an_untrusted_peer_buys_no_fresh_window(engine: Engine) -> None:
    """40 wrong passwords, each with a new X-Forwarded-For, from a loopback peer nobody listed: throttled.
    (That no forged address reaches the server's log is checked on the real server, in tests/test_e2e.py.)"""
    planned_day(engine, plan=False)
    client = TestClient(app_for(engine), client=("127.0.0.1", 40000))
    codes = [wrong_password(client, f"198.51.100.{n}") for n in range(40)]
    assert 429 in codes and codes.index(429) <= 10, codes


def test_failures_at_one_account_from_many_addresses_slow_it_to_one_try_per_cool_down(engine: Engine) -> None:
    """Behind a trusted proxy, every attempt from a fresh address: past the per-account limit the account takes
    one attempt per cool-down from each address, so the next from there, even with the right password, waits
    (429 with Retry-After); the medic's own address still has its attempt: slowed, never locked out."""
    planned_day(engine, plan=False)
    api = replace(
        API_FAST.api,
        trusted_proxies=("127.0.0.1",),
        login_failures_per_account="5 per 15 minutes",
        login_account_cooldown_s=30,
    )
    client = TestClient(app_for(engine, replace(API_FAST, api=api)), client=("127.0.0.1", 40000))
    assert [wrong_password(client, f"203.0.113.{n}") for n in range(5)] == [401] * 5
    assert wrong_password(client, "203.0.113.50") == 401, "one attempt per cool-down still goes through"
    slowed = client.post(
        "/auth/token", json={"username": "alice", "password": PASSWORD}, headers={"X-Forwarded-For": "203.0.113.50"}
    )
    assert slowed.status_code == 429 and 0 < int(slowed.headers["retry-after"]) <= 30
    # the cool-down is each address's own: an attacker taking theirs does not take the medic's
    mine = client.post(
        "/auth/token", json={"username": "alice", "password": PASSWORD}, headers={"X-Forwarded-For": "192.0.2.10"}
    )
    assert mine.status_code == 200
    other = client.post(
        "/auth/token", json={"username": "bob", "password": PASSWORD}, headers={"X-Forwarded-For": "203.0.113.98"}
    )
    assert other.status_code == 200, "another account is not slowed"


# --------------------------------------------------------------------- 5. body limits


def test_a_body_over_the_limit_is_413_before_it_is_parsed(engine: Engine) -> None:
    """A body past [api] max_body_bytes: 413 whether it declares its length or streams without one."""
    small = replace(API_FAST, api=replace(API_FAST.api, max_body_bytes=10_000))
    client = TestClient(app_for(engine, small))
    big = b'{"username": "' + b"a" * 20_000 + b'", "password": "x"}'
    declared = client.post("/auth/token", content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413

    def chunks() -> Any:
        for start in range(0, len(big), 1000):
            yield big[start : start + 1000]

    streamed = client.post("/auth/token", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert client.get("/health").status_code == 200


def test_json_nested_past_the_depth_limit_is_400_not_500(engine: Engine) -> None:
    """100,000 levels of nesting: a 400 naming the limit (a RecursionError gave 500 before)."""
    client = TestClient(app_for(engine))
    deep = "[" * 100_000 + "]" * 100_000
    response = client.post("/auth/token", content=deep, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "deep" in response.text


# --------------------------------------------------------------------- 9. staff sessions


def test_a_dispatchers_cookie_lives_the_staff_session_and_is_secure_over_https(engine: Engine) -> None:
    """/login for a dispatcher: Max-Age is [api] staff_session_minutes (not 12 hours); Secure on https."""
    planned_day(engine, plan=False)
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        client = TestClient(app_for(engine), base_url=base)
        response = client.post("/login", data={"username": "dispatch", "password": PASSWORD}, follow_redirects=False)
        cookie = response.headers["set-cookie"]
        assert f"Max-Age={API_FAST.api.staff_session_minutes * 60}" in cookie, cookie
        assert ("Secure" in cookie) is secure, cookie


# --------------------------------------------------------------------- 10. Idempotency-Key


def new_booking() -> dict[str, Any]:
    from tests.test_api_objects import booking

    return booking()


def test_the_same_post_with_the_same_idempotency_key_creates_one_booking(engine: Engine) -> None:
    """Two POST /bookings with one Idempotency-Key: one booking, one patient, the same answer twice; the key
    with another body is a 422."""
    planned_day(engine, plan=False)
    client = dispatch_client(engine)
    headers = {**login(client, "dispatch"), "Idempotency-Key": "retry-after-a-dropped-connection-1"}
    with Session(engine) as session:
        bookings_before = len(session.exec(select(Booking.id)).all())
        patients_before = len(session.exec(select(Patient.id)).all())
    first = client.post("/bookings", headers=headers, json=new_booking())
    again = client.post("/bookings", headers=headers, json=new_booking())
    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == first.json()
    with Session(engine) as session:
        assert len(session.exec(select(Booking.id)).all()) == bookings_before + 1
        assert len(session.exec(select(Patient.id)).all()) == patients_before + 1
    other = client.post("/bookings", headers=headers, json={**new_booking(), "priority": 1})
    assert other.status_code == 422 and "Idempotency-Key" in other.text


# --------------------------------------------------------------------- 11. the feed address


def test_the_feed_address_comes_from_public_url_not_the_host_header(engine: Engine) -> None:
    """POST /me/calendar-feed with Host: evil.example: the address is on [api] public_url."""
    planned_day(engine)
    client = TestClient(app_for(engine))
    headers = {**login(client, "alice"), "Host": "evil.example"}
    url = client.post("/me/calendar-feed", headers=headers).json()["url"]
    assert url.startswith(f"{API_FAST.api.public_url}/feeds/") and "evil.example" not in url


# --------------------------------------------------------------------- 12. HEAD and OPTIONS


async def asgi_messages(app: Any, method: str, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Call the ASGI app once and return every message it sends."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("testserver", 80), "client": ("127.0.0.1", 40000),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("path", SHEETS)
def test_head_and_options_on_the_sheet_routes(engine: Engine, path: str) -> None:
    """HEAD answers as GET would, without a body; OPTIONS names the methods (both were 405)."""
    planned_day(engine)
    client = TestClient(app_for(engine))
    alice = login(client, "alice")
    get = client.get(path.format(day=DAY), headers=alice)
    head = client.head(path.format(day=DAY), headers=alice)
    assert head.status_code == 200
    # what the app itself sends (TestClient drops a HEAD response's body, whatever the app sent)
    sent = asyncio.run(asgi_messages(client.app, "HEAD", path.format(day=DAY), alice))
    assert sent[0]["status"] == 200 and b"".join(m.get("body", b"") for m in sent[1:]) == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-type"] == get.headers["content-type"]
    options = client.options(path.format(day=DAY), headers=alice)
    assert options.status_code == 204
    assert {"GET", "HEAD", "OPTIONS"} <= {m.strip() for m in options.headers["allow"].split(",")}


# --------------------------------------------------------------------- 13. unknown keys


def test_an_unknown_key_is_named_by_position_not_by_its_text(engine: Engine) -> None:
    """A client that puts a patient's name where a key goes: the 422 says "key 2", never the name."""
    planned_day(engine, plan=False)
    client = dispatch_client(engine)
    body = {"full_name": "Quokka Keyname", "Quokka Secretkey +1 720 555 0111": True,
            "phone": "+1 720 555 0100", "date_of_birth": "1980-01-01"}  # fmt: skip
    response = client.post("/patients", headers=login(client, "dispatch"), json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", "key 2"], "msg": "is not a field of this object", "type": "extra_forbidden"}
    ]
    assert "Secretkey" not in response.text and "0111" not in response.text


# --------------------------------------------------------------------- 14. sheets rendered once


def test_each_sheet_is_rendered_once_and_then_served_from_the_stored_bytes(engine: Engine) -> None:
    """Twenty medic reads of each format render each format once; an edit that touches the sheet renders
    each format once more, with a new ETag, and later reads render nothing."""
    world = planned_day(engine)
    app = app_for(engine)
    client = TestClient(app)
    renderer = app.state.sheet_renderer
    alice, dispatcher = login(client, "alice"), login(client, "dispatch")
    for _ in range(20):
        assert all(response.status_code == 200 for response in medic_reads(client, alice))
    assert renderer.renders == len(SHEETS)
    before = client.get(f"/me/route-sheets/{DAY}", headers=alice).headers["etag"]
    body = {"patients": [{"full_name": "Quokka Later", "phone": "+1 720 555 0198",
                          "date_of_birth": "1990-04-05", "service": "hydration"}]}  # fmt: skip
    assert client.patch(f"/bookings/{world.bookings[0]}", headers=dispatcher, json=body).status_code == 200
    for _ in range(5):
        assert all(response.status_code == 200 for response in medic_reads(client, alice))
    assert renderer.renders == 2 * len(SHEETS)
    assert client.get(f"/me/route-sheets/{DAY}", headers=alice).headers["etag"] != before
