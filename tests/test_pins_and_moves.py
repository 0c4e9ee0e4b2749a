"""Pins kept by every re-plan, and moves checked by the checker and published atomically (the console's writes),
through the HTTP API on real SQLite and PostgreSQL, with the real solver."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch.planning.day import plan_day
from dispatch.store.db import session_scope
from dispatch.store.tables import PlanStop
from tests import factory
from tests.api_support import (
    API_FAST,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    client_for,
    last_event,
    login,
    served_by,
    solve_here,
    two_medics,
)
from tests.factory import DAY, at

pytestmark = pytest.mark.usefixtures("cheap_argon2")


def test_pin_is_kept_by_the_next_replan_at_its_start(engine: Engine) -> None:
    """A booking pinned to the medic who does not serve it, at 10:30, is on that medic's route at 10:30
    after the re-plan."""
    world = two_medics(engine)
    client = client_for(engine)
    headers = login(client, "dispatch")
    owner = served_by(engine)[world.later][0]
    other = world.bob if owner == world.alice else world.alice
    pinned = client.put(
        f"/bookings/{world.later}/pin", headers=headers, json={"medic_id": other, "start": at("10:30").isoformat()}
    )
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["pinned_medic_id"] == other
    assert (last_event(engine).action, last_event(engine).outcome) == ("write", "pinned")
    assert plan_day(engine, DAY, API_FAST, solver=solve_here).status == "published"
    assert served_by(engine)[world.later][0] == other
    with Session(engine) as session:
        stop = session.exec(
            select(PlanStop).where(PlanStop.booking_id == world.later).order_by(col(PlanStop.id).desc())
        ).first()
        assert stop is not None and stop.start == at("10:30")


def test_pin_refuses_a_start_outside_the_window_naming_the_field(engine: Engine) -> None:
    """A pin at 15:00 on a 10:00-14:00 booking is a 422 naming ``start``; an unknown medic names ``medic_id``."""
    world = two_medics(engine)
    client = client_for(engine)
    headers = login(client, "dispatch")
    late = client.put(
        f"/bookings/{world.later}/pin", headers=headers, json={"medic_id": world.bob, "start": at("15:00").isoformat()}
    )
    assert late.status_code == 422
    assert [error["loc"][-1] for error in late.json()["detail"]] == ["start"]
    nobody = client.put(f"/bookings/{world.later}/pin", headers=headers, json={"medic_id": 99999})
    assert nobody.status_code == 422 and nobody.json()["detail"][0]["loc"][-1] == "medic_id"


def test_unpin_lets_the_replan_place_the_booking_freely(engine: Engine) -> None:
    """DELETE /bookings/{id}/pin clears both fields, and is audited."""
    world = two_medics(engine)
    client = client_for(engine)
    headers = login(client, "dispatch")
    client.put(f"/bookings/{world.near}/pin", headers=headers, json={"medic_id": world.bob})
    cleared = client.delete(f"/bookings/{world.near}/pin", headers=headers)
    assert cleared.status_code == 200
    assert (cleared.json()["pinned_medic_id"], cleared.json()["pinned_start"]) == (None, None)
    assert last_event(engine).outcome == "unpinned"


def test_move_checked_then_committed_publishes_a_new_version(engine: Engine) -> None:
    """Moving "later" to the other medic: the check allows it and reports the KPI change (visits unchanged);
    committing publishes version 2 with the stop on that medic, audited as a plan_move."""
    world = two_medics(engine)
    client = client_for(engine)
    headers = login(client, "dispatch")
    owner = served_by(engine)[world.later][0]
    other = world.bob if owner == world.alice else world.alice
    move = {"booking_id": world.later, "medic_id": other, "position": 99}
    checked = client.post(f"/plans/{DAY.isoformat()}/moves/check", headers=headers, json=move)
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["allowed"] is True and body["violations"] == [] and body["version"] == 1
    assert body["delta"]["visits"] == 0 and body["after"]["visits"] == body["before"]["visits"] == 3
    done = client.post(f"/plans/{DAY.isoformat()}/moves", headers=headers, json=move)
    assert done.status_code == 200, done.text
    assert done.json() == {"version": 2}
    assert served_by(engine)[world.later][0] == other
    assert last_event(engine).resource == "plan_move"
    plan = client.get(f"/plans/{DAY.isoformat()}", headers=headers).json()
    assert plan["version"] == 2


def test_move_that_misses_a_window_is_refused_with_the_rule(engine: Engine) -> None:
    """ "early" (09:00-09:20) put last on a route that reaches it only later: the check names its window in
    plain words, and the commit is a 409 that publishes nothing."""
    world = two_medics(engine)
    client = client_for(engine)
    headers = login(client, "dispatch")
    early_owner = served_by(engine)[world.early][0]
    owner = world.bob if early_owner == world.alice else world.alice
    for booking in (world.near, world.later):  # both on the other medic first, so that "early" comes after them
        move = {"booking_id": booking, "medic_id": owner, "position": 99}
        assert client.post(f"/plans/{DAY.isoformat()}/moves", headers=headers, json=move).status_code == 200
    version = client.get(f"/plans/{DAY.isoformat()}", headers=headers).json()["version"]
    move = {"booking_id": world.early, "medic_id": owner, "position": 99}
    checked = client.post(f"/plans/{DAY.isoformat()}/moves/check", headers=headers, json=move).json()
    assert checked["allowed"] is False
    assert f"visit booking {world.early} starts outside all of its time windows" in checked["violations"]
    refused = client.post(f"/plans/{DAY.isoformat()}/moves", headers=headers, json=move)
    assert refused.status_code == 409 and "time windows" in refused.json()["detail"]
    assert client.get(f"/plans/{DAY.isoformat()}", headers=headers).json()["version"] == version


def test_move_after_the_day_changed_is_refused_until_a_replan(engine: Engine) -> None:
    """A booking added after publish: the plan no longer matches the day, so a move is a 409 saying to re-plan."""
    world = two_medics(engine)
    with session_scope(engine) as session:
        factory.booking(session, (39.70, -104.95), ("13:00", "15:00"))
    client = client_for(engine)
    headers = login(client, "dispatch")
    move = {"booking_id": world.near, "medic_id": world.bob, "position": 0}
    refused = client.post(f"/plans/{DAY.isoformat()}/moves/check", headers=headers, json=move)
    assert refused.status_code == 409 and "re-plan" in refused.json()["detail"]


def test_moves_are_for_dispatchers_only(engine: Engine) -> None:
    """A medic's token gets 403 on both move routes (the route walk checks every route; this names them)."""
    world = two_medics(engine)
    client: TestClient = client_for(engine)
    medic = login(client, "alice")
    move = {"booking_id": world.near, "medic_id": world.bob, "position": 0}
    for path in ("moves/check", "moves"):
        assert client.post(f"/plans/{DAY.isoformat()}/{path}", headers=medic, json=move).status_code == 403


def test_every_replan_reads_the_pin_from_the_one_translation(engine: Engine) -> None:
    """The nightly re-plan and the button both plan through build_day: a pinned booking's visit may go to the
    pinned medic only, starts exactly at the pinned start, and weighs the most a visit can."""
    from dispatch.planning.translate import build_day, medic_key, visit_key
    from dispatch.records.bookings import pin_booking
    from dispatch.rules.pins import PINNED_PRIORITY

    world = two_medics(engine)
    with session_scope(engine) as session:
        pin_booking(session, booking_id=world.later, medic_id=world.bob, start=at("11:00"))
    with Session(engine) as session:
        visit = build_day(session, DAY, API_FAST).problem.visit(visit_key(world.later, 1))
    assert visit.allowed_medics == frozenset({medic_key(world.bob)})
    assert [(w.start, w.end) for w in visit.windows] == [(at("11:00"), at("11:00"))]
    assert visit.priority == PINNED_PRIORITY


def test_pin_to_a_medic_off_shift_is_reported_not_kept(engine: Engine) -> None:
    """Pinned to a medic with no shift that day, the booking is planned freely and the board says the pin was not
    kept, and why."""
    from dispatch.planning.board import day_board

    world = two_medics(engine)
    with session_scope(engine) as session:
        off = factory.medic(session, "Off Duty", shift=None)
    client = client_for(engine)
    headers = login(client, "dispatch")
    assert client.put(f"/bookings/{world.near}/pin", headers=headers, json={"medic_id": off.id}).status_code == 200
    # the pin cannot change the day's problem, so the re-plan finds its input unchanged
    assert plan_day(engine, DAY, API_FAST, solver=solve_here).status in {"published", "unchanged"}
    assert world.near in served_by(engine)
    with Session(engine) as session:
        state = next(b.pin_state for b in day_board(session, DAY).bookings if b.id == world.near)
    assert state == "pin not kept: the pinned medic has no shift that day, so the booking is planned freely"
