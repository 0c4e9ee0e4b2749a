"""Sign-in, token lifetime and revocation, and account creation (rules 3 and 4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.models import UserPublic
from dispatch.access.accounts import ApiToken, User, authenticate, resolve_token, revoke_token, token_digest
from dispatch.store.db import session_scope
from dispatch.store.tables import now_utc
from tests.api_support import (
    PASSWORD,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    client_for,
    last_event,
    login,
    planned_day,
)

pytestmark = pytest.mark.usefixtures("cheap_argon2")


def test_issue_token_for_json_and_form_logins(engine: Engine) -> None:
    """Both a JSON body and an OAuth2 password form sign in; the token lives [api] token_minutes (30)."""
    planned_day(engine, plan=False)
    client = client_for(engine)
    by_json = client.post("/auth/token", json={"username": "alice", "password": PASSWORD})
    by_form = client.post("/auth/token", data={"username": "alice", "password": PASSWORD, "grant_type": "password"})
    for response in (by_json, by_form):
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_at"} and body["token_type"] == "bearer"
        assert response.headers["cache-control"] == "no-store"
    with Session(engine) as session:
        row = session.exec(select(ApiToken).order_by(col(ApiToken.id).desc())).first()
    assert row is not None
    assert timedelta(minutes=29) < row.expires_at - row.created_at <= timedelta(minutes=30)


def test_store_token_as_digest_only(engine: Engine) -> None:
    """The database holds the sha256 of a token, never the token itself."""
    planned_day(engine, plan=False)
    token = client_for(engine).post("/auth/token", json={"username": "bob", "password": PASSWORD}).json()
    with engine.connect() as connection:
        dump = " ".join(str(row) for row in connection.execute(text("SELECT * FROM api_token")))
    assert token["access_token"] not in dump and token_digest(token["access_token"]) in dump


def test_issue_token_wrong_password_is_401_and_audited(engine: Engine) -> None:
    """A wrong password and an unknown username both get the same 401; the failure is audited without the name."""
    planned_day(engine, plan=False)
    client = client_for(engine)
    wrong = client.post("/auth/token", json={"username": "alice", "password": "not the password"})
    unknown = client.post("/auth/token", json={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "incorrect username or password"}
    event = last_event(engine)
    assert (event.action, event.outcome, event.actor_user_id, event.resource_ids) == ("login", "failed", None, [])


def test_issue_token_inactive_account_is_401(engine: Engine) -> None:
    """A deactivated account cannot sign in, and its existing tokens stop working."""
    world = planned_day(engine, plan=False)
    client = client_for(engine)
    headers = login(client, "alice")
    with session_scope(engine) as session:
        session.exec(update(User).where(col(User.id) == world.users["alice"]).values(active=False))
    assert client.post("/auth/token", json={"username": "alice", "password": PASSWORD}).status_code == 401
    assert client.get("/me/route-sheets/2026-12-02", headers=headers).status_code == 401


def test_call_api_without_token_is_401(engine: Engine) -> None:
    """No token, a malformed header, or a made-up token: 401 with a Bearer challenge."""
    planned_day(engine, plan=False)
    client = client_for(engine)
    for headers in ({}, {"Authorization": "Basic YWxpY2U6eA=="}, {"Authorization": "Bearer made-up"}):
        response = client.get("/me/route-sheets/2026-12-02", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


def test_call_api_with_expired_token_is_401(engine: Engine) -> None:
    """A token past its expiry gets 401."""
    planned_day(engine, plan=False)
    client = client_for(engine)
    headers = login(client, "alice")
    assert client.get("/me/route-sheets/2026-12-01", headers=headers).status_code == 404  # valid: just no sheet
    with session_scope(engine) as session:
        session.exec(update(ApiToken).values(expires_at=now_utc() - timedelta(seconds=1)))
    assert client.get("/me/route-sheets/2026-12-01", headers=headers).status_code == 401


def test_call_api_with_revoked_token_is_401(engine: Engine) -> None:
    """POST /auth/revoke ends the calling token (204, audited); it then gets 401, while other tokens still work."""
    world = planned_day(engine, plan=False)
    client = client_for(engine)
    headers, other = login(client, "alice"), login(client, "alice")
    assert client.post("/auth/revoke", headers=headers).status_code == 204
    event = last_event(engine)
    assert (event.action, event.resource, event.outcome, event.actor_user_id) == (
        "write", "api_token", "revoked", world.users["alice"],
    )  # fmt: skip
    assert client.get("/me/route-sheets/2026-12-01", headers=headers).status_code == 401
    assert client.post("/auth/revoke", headers=headers).status_code == 401
    assert client.get("/me/route-sheets/2026-12-01", headers=other).status_code == 404


def test_resolve_token_after_expiry_or_revocation_is_none(engine: Engine) -> None:
    """resolve_token: the account while valid; None once expired (by the clock) or revoked."""
    planned_day(engine, plan=False)
    with session_scope(engine) as session:
        issued = authenticate(session, username="bob", password=PASSWORD, ttl=timedelta(minutes=5))
    assert issued is not None and issued.token not in repr(issued)
    with session_scope(engine) as session:
        user = resolve_token(session, issued.token)
        assert user is not None and user.username == "bob"
        assert resolve_token(session, issued.token, now=issued.expires_at) is None
        assert revoke_token(session, issued.token) is True
    with Session(engine) as session:
        assert resolve_token(session, issued.token) is None


def test_issue_token_extra_field_is_422_without_echo(engine: Engine) -> None:
    """Unknown login fields are a 422 naming the key by position; the body echoes no input (the password least
    of all)."""
    planned_day(engine, plan=False)
    response = client_for(engine).post("/auth/token", json={"username": "alice", "password": PASSWORD, "role": "admin"})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "key 3"] and set(error) == {"loc", "msg", "type"}
    assert PASSWORD not in response.text and "admin" not in response.text


def test_create_user_as_admin_returns_public_fields(engine: Engine) -> None:
    """POST /users (admin): 201 with exactly the UserPublic fields; no hash; audited as a write."""
    world = planned_day(engine, plan=False)
    client = client_for(engine)
    admin = login(client, "admin")
    response = client.post(
        "/users", headers=admin, json={"username": "dana", "password": PASSWORD, "role": "dispatcher"}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == set(UserPublic.model_fields)
    assert body["username"] == "dana" and body["role"] == "dispatcher" and body["medic_id"] is None
    event = last_event(engine)
    assert (event.action, event.resource, event.resource_ids, event.actor_user_id) == (
        "write", "user", [body["id"]], world.users["admin"],
    )  # fmt: skip
    login(client, "dana")


def test_create_user_with_extra_or_server_fields_is_422(engine: Engine) -> None:
    """Clients never set server-owned fields: id or active in the body is a 422 naming the key by its position."""
    planned_day(engine, plan=False)
    client = client_for(engine)
    admin = login(client, "admin")
    for extra in ({"id": 99}, {"active": False}, {"password_hash": "x"}):
        body = {"username": "eve", "password": PASSWORD, "role": "dispatcher", **extra}
        response = client.post("/users", headers=admin, json=body)
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["body", "key 4"]]


def test_create_user_bad_input_names_the_field(engine: Engine) -> None:
    """A medic without a medic id, an unknown medic, a short password: 422 naming the field; a taken name: 409."""
    world = planned_day(engine, plan=False)
    client = client_for(engine)
    admin = login(client, "admin")
    cases = [
        ({"username": "m1", "password": PASSWORD, "role": "medic"}, 422, ["body", "medic_id"]),
        ({"username": "m2", "password": PASSWORD, "role": "medic", "medic_id": 9999}, 422, ["body", "medic_id"]),
        ({"username": "m3", "password": "Xyzzy9", "role": "admin"}, 422, ["body", "password"]),
        ({"username": "m4", "password": PASSWORD, "role": "Quuxmage"}, 422, ["body", "role"]),
        ({"username": "alice", "password": PASSWORD, "role": "admin"}, 409, None),
        ({"username": "m5", "password": PASSWORD, "role": "medic", "medic_id": world.medic_a}, 409, None),
    ]
    for body, code, loc in cases:
        response = client.post("/users", headers=admin, json=body)
        assert response.status_code == code, (body, response.text)
        if loc:
            assert loc in [e["loc"] for e in response.json()["detail"]]
        assert "Xyzzy9" not in response.text and "Quuxmage" not in response.text and PASSWORD not in response.text


def test_create_user_stores_an_argon2id_hash(engine: Engine) -> None:
    """Passwords are stored as Argon2id hashes, never as given; the library's default cost is the production one."""
    from dispatch.access import accounts

    planned_day(engine, plan=False)
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "alice")).one()
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert "password_hash" not in UserPublic.model_fields
    assert accounts._DUMMY_HASH.startswith("$argon2id$v=19$m=65536,t=3")  # production cost (argon2-cffi default)


def test_users_add_command_creates_an_account(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """`dripline users add` reads the password from stdin (never argv), creates the account and audits it."""
    import io

    from api.cli import main

    world = planned_day(engine, plan=False)
    url = engine.url.render_as_string(hide_password=False)
    config = tmp_path / "config.toml"
    config.write_text("")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    argv = ["--config", str(config), "users", "add", "carol", "--role", "medic", "--medic-id", str(world.medic_b)]
    assert main([*argv[:-2], "--password-stdin", "--db", url]) == 2  # bob already holds medic B
    assert "medic_id" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["--config", str(config), "users", "add", "carol", "--role", "dispatcher", "--password-stdin",
                 "--db", url]) == 0  # fmt: skip
    assert "created account" in capsys.readouterr().out
    login(client_for(engine), "carol")
    event = last_event(engine)
    assert (event.action, event.outcome) == ("login", "ok")
