"""The phone's way in: the sign-in page, its read-only session cookie, and sign-in throttling."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api import create_app
from api.deps import SESSION_COOKIE, get_today
from dispatch.store.config import ApiSettings
from tests.api_support import (
    API_FAST,
    PASSWORD,
    app_for,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    client_for,
    last_event,
    login,
    planned_day,
)
from tests.factory import DAY

pytestmark = pytest.mark.usefixtures("cheap_argon2")

PAGE = f"/me/route-sheets/{DAY.isoformat()}/page"


def sign_in(client: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password}, follow_redirects=False)


def throttled_app(engine: Engine, per_account: str, per_client: str) -> FastAPI:
    api = ApiSettings(login_failures_per_account_and_client=per_account, login_failures_per_client=per_client)
    return app_for(engine, replace(API_FAST, api=api))


def throttled_client(engine: Engine, per_account: str, per_client: str) -> TestClient:
    return TestClient(throttled_app(engine, per_account, per_client))


def test_login_page_is_a_form_posting_to_this_server(engine: Engine) -> None:
    """GET /login is an HTML form (username, password) posting to /login; its CSP allows only that."""
    response = client_for(engine).get("/login")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/login">' in response.text
    assert 'name="username"' in response.text and 'type="password"' in response.text
    assert "form-action 'self'" in response.headers["content-security-policy"]


def test_sign_in_form_sets_an_httponly_strict_cookie_for_a_shift(engine: Engine) -> None:
    """Good credentials: 303 to today's page, and an HttpOnly, SameSite=Lax cookie for session_hours (12)."""
    world = planned_day(engine)
    response = sign_in(client_for(engine), "alice")
    assert response.status_code == 303 and response.headers["location"] == "/me/today"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert f"max-age={12 * 3600}" in cookie
    event = last_event(engine)
    assert (event.action, event.outcome, event.actor_user_id) == ("login", "ok", world.users["alice"])


def test_session_cookie_reads_own_route_page_and_sheet(engine: Engine) -> None:
    """With only the cookie, the medic reads their page and JSON sheet; the page names their patients."""
    world = planned_day(engine)
    client = client_for(engine)
    sign_in(client, "alice")
    page = client.get(PAGE, follow_redirects=False)
    assert page.status_code == 200
    assert any(secret in page.text for secret in world.secrets)
    assert client.get(f"/me/route-sheets/{DAY.isoformat()}").status_code == 200


def test_session_cookie_never_authenticates_a_write(engine: Engine) -> None:
    """A dispatcher signed in by the form cannot trigger a plan or revoke with the cookie alone: 401."""
    planned_day(engine)
    client = client_for(engine)
    assert sign_in(client, "dispatch").status_code == 303
    assert client.post(f"/plans/{DAY.isoformat()}").status_code == 401
    assert client.post("/auth/revoke").status_code == 401
    assert client.get(f"/plans/{DAY.isoformat()}").status_code == 200  # reads do take it


def test_session_token_in_a_bearer_header_is_refused(engine: Engine) -> None:
    """The cookie's token copied into an Authorization header is a 401, for a read and for a write."""
    planned_day(engine)
    client = client_for(engine)
    sign_in(client, "dispatch")
    copied = {"Authorization": f"Bearer {client.cookies[SESSION_COOKIE]}"}
    bare = client_for(engine)
    assert bare.get(f"/plans/{DAY.isoformat()}", headers=copied).status_code == 401
    assert bare.post(f"/plans/{DAY.isoformat()}", headers=copied).status_code == 401


def test_bearer_token_in_the_cookie_is_refused(engine: Engine) -> None:
    """A 30-minute Bearer token put in the session cookie does not open the page (the page says: sign in)."""
    planned_day(engine)
    client = client_for(engine)
    token = login(client, "alice")["Authorization"].removeprefix("Bearer ")
    client.cookies.set(SESSION_COOKIE, token)
    response = client.get(PAGE, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_today_redirects_to_todays_page_in_the_company_zone(engine: Engine) -> None:
    """/me/today sends the medic to the page of today's date (pinned here to DAY)."""
    planned_day(engine)
    app = create_app(API_FAST, engine)
    app.dependency_overrides[get_today] = lambda: DAY
    client = TestClient(app)
    sign_in(client, "alice")
    response = client.get("/me/today", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == PAGE
    assert client.get("/me/today").status_code == 200  # and that page is the medic's sheet


def test_page_without_a_sign_in_goes_to_the_sign_in_page(engine: Engine) -> None:
    """A browser page asked for without credentials redirects to /login; the JSON sheet stays a 401."""
    planned_day(engine)
    client = client_for(engine)
    for path in (PAGE, "/me/today"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login", path
    assert client.get(f"/me/route-sheets/{DAY.isoformat()}").status_code == 401


def test_wrong_password_on_the_form_shows_it_again_with_401_and_no_cookie(engine: Engine) -> None:
    """A failed sign-in re-renders the form with a message, sets no cookie, and is audited as failed."""
    planned_day(engine)
    response = sign_in(client_for(engine), "alice", "not the password")
    assert response.status_code == 401
    assert "Wrong username or password." in response.text and "set-cookie" not in response.headers
    assert (last_event(engine).action, last_event(engine).outcome) == ("login", "failed")


def test_logout_revokes_the_session(engine: Engine) -> None:
    """POST /logout revokes the cookie's token (audited) and clears it; the old cookie no longer reads."""
    world = planned_day(engine)
    client = client_for(engine)
    sign_in(client, "alice")
    token = client.cookies[SESSION_COOKIE]
    response = client.post("/logout", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    event = last_event(engine)
    assert (event.action, event.resource, event.outcome) == ("write", "api_token", "revoked")
    assert event.actor_user_id == world.users["alice"]
    stale = client_for(engine)
    stale.cookies.set(SESSION_COOKIE, token)
    assert stale.get(f"/me/route-sheets/{DAY.isoformat()}").status_code == 401


def test_failures_past_the_account_limit_refuse_even_the_right_password(engine: Engine) -> None:
    """3 wrong passwords for alice (limit 3): the 4th sign-in is 429 with Retry-After, audited; bob is unaffected."""
    planned_day(engine, plan=False)
    client = throttled_client(engine, "3 per 15 minutes", "100 per 15 minutes")
    for _ in range(3):
        assert client.post("/auth/token", json={"username": "alice", "password": "wrong one"}).status_code == 401
    refused = client.post("/auth/token", json={"username": "alice", "password": PASSWORD})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 15 * 60
    assert (last_event(engine).action, last_event(engine).outcome) == ("login", "throttled")
    assert client.post("/auth/token", json={"username": "bob", "password": PASSWORD}).status_code == 200
    # the form says so too, in words
    form = sign_in(client, "alice")
    assert form.status_code == 429 and "Too many failed sign-ins" in form.text and "retry-after" in form.headers


def test_failures_elsewhere_never_lock_a_medic_out(engine: Engine) -> None:
    """Alice's name throttled from one address (limit 3) still signs in from her phone's address."""
    planned_day(engine, plan=False)
    app = throttled_app(engine, "3 per 15 minutes", "100 per 15 minutes")
    attacker = TestClient(app, client=("203.0.113.9", 40000))
    phone = TestClient(app, client=("198.51.100.7", 50000))
    for _ in range(3):
        assert attacker.post("/auth/token", json={"username": "alice", "password": "guess"}).status_code == 401
    assert attacker.post("/auth/token", json={"username": "alice", "password": PASSWORD}).status_code == 429
    assert phone.post("/auth/token", json={"username": "alice", "password": PASSWORD}).status_code == 200


def test_failures_from_one_client_past_its_limit_refuse_every_account(engine: Engine) -> None:
    """4 failures from one address over two accounts (client limit 4): a third account is refused too."""
    planned_day(engine, plan=False)
    client = throttled_client(engine, "10 per 15 minutes", "4 per 15 minutes")
    for username in ("alice", "alice", "bob", "bob"):
        assert client.post("/auth/token", json={"username": username, "password": "wrong"}).status_code == 401
    assert client.post("/auth/token", json={"username": "admin", "password": PASSWORD}).status_code == 429


def test_a_good_sign_in_clears_the_accounts_failures(engine: Engine) -> None:
    """Typos then success, twice over, never reach a limit of 3: success forgets the account's failures."""
    planned_day(engine, plan=False)
    client = throttled_client(engine, "3 per 15 minutes", "100 per 15 minutes")
    for _ in range(2):
        for _ in range(2):
            assert client.post("/auth/token", json={"username": "alice", "password": "typo"}).status_code == 401
        assert login(client, "alice")


@pytest.mark.parametrize(
    ("key", "value"),
    [("login_failures_per_account_and_client", "often"), ("login_failures_per_client", "5 per fortnight-ish")],
)
def test_api_settings_reject_an_unreadable_limit(key: str, value: str) -> None:
    """A limit that is not like '5 per 15 minutes' is refused, naming the key."""
    with pytest.raises(ValueError, match=key):
        ApiSettings(**{key: value})


def test_api_settings_reject_a_storage_that_is_not_a_uri() -> None:
    """The throttle's storage must be a URI such as memory:// or redis://host:6379."""
    with pytest.raises(ValueError, match="login_throttle_storage"):
        ApiSettings(login_throttle_storage="redis")
