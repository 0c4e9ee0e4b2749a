"""Re-plans over HTTP: 202 and a job to poll, the published plan, one live job per day (rules 8 and 10)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.models import PlanJobPublic, PlanPublic, PlanQueuedPublic, PlanVersionPublic, RouteSheetPublic
from dispatch.access.audit import events
from dispatch.store.db import session_scope
from dispatch.store.tables import BookingStatus, PlanJob, PlanJobStatus, PlanLease, now_utc
from routing import Problem, Result, SolveParams
from tests import factory
from tests.api_support import (
    audit_count,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    dispatch_client,
    future_day,
    last_event,
    login,
    make_accounts,
    solve_here,
    wait_for_plan_jobs,
)

pytestmark = pytest.mark.usefixtures("cheap_argon2", "joined_plan_jobs")

DAY = future_day(4)
TERMINAL = {"published", "unchanged", "failed", "busy"}


@pytest.fixture
def joined_plan_jobs() -> Iterator[None]:
    """Every re-plan thread a test started has ended before its database is dropped."""
    yield
    wait_for_plan_jobs()


def seed_day(engine: Engine) -> tuple[list[int], int]:
    """Two working medics and five bookings on DAY: three plannable, one awaiting clearance, one without a location."""
    with session_scope(engine) as session:
        alice = factory.medic(session, "Alice Medic", day=DAY)
        bob = factory.medic(session, "Bob Medic", home=(39.70, -105.02), day=DAY)
        bookings = [
            factory.booking(session, (39.75, -104.98), ("09:00", "11:00"), day=DAY),
            factory.booking(session, (39.72, -104.96), ("10:00", "13:00"), ("myers",), day=DAY),
            factory.booking(session, (39.71, -105.01), ("12:00", "15:00"), ("hydration", "b12"), day=DAY),
            factory.booking(session, (39.74, -104.99), ("09:00", "12:00"), ("magnesium",), day=DAY,
                            screening={"kidney_disease": True}, status=BookingStatus.NEEDS_CLEARANCE),
            factory.booking(session, (None, None), ("09:00", "12:00"), day=DAY),
        ]  # fmt: skip
        ids = [b.id or 0 for b in bookings]
        medic_ids = (alice.id or 0, bob.id or 0)
    make_accounts(engine, *medic_ids)
    return ids, medic_ids[0]


def poll(client: TestClient, headers: dict[str, str], url: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(url, headers=headers).json()
        if body["status"] in TERMINAL:
            return dict(body)
        time.sleep(0.05)
    raise AssertionError(f"the job is still {body['status']} after {timeout_s} s")


def test_post_plan_is_202_then_published_with_every_booking_placed(engine: Engine) -> None:
    """POST /plans/{day}: 202 with a job to poll; it ends published, and GET /plans/{day} lists every booking
    either as a stop or as unassigned with a reason."""
    booking_ids, _ = seed_day(engine)
    client = dispatch_client(engine)
    headers = login(client, "dispatch")
    response = client.post(f"/plans/{DAY.isoformat()}", headers=headers)
    assert response.status_code == 202, response.text
    queued = response.json()
    assert set(queued) == set(PlanQueuedPublic.model_fields)
    assert queued["status_url"] == f"/plans/jobs/{queued['job_id']}" == response.headers["location"]
    event = last_event(engine)
    assert (event.action, event.resource, event.outcome) == ("write", "plan_job", "queued")

    job = poll(client, headers, queued["status_url"])
    assert set(job) == set(PlanJobPublic.model_fields)
    assert (job["status"], job["plan_version"], job["service_date"]) == ("published", 1, DAY.isoformat())

    plan = client.get(f"/plans/{DAY.isoformat()}", headers=headers).json()
    assert set(plan) == set(PlanPublic.model_fields) and plan["version"] == 1
    stops = [(s["booking_id"], s["part"]) for route in plan["routes"] for s in route["stops"]]
    unassigned = {u["booking_id"]: u for u in plan["unassigned"]}
    assert len(stops) == len(set(stops)) and not {b for b, _ in stops} & set(unassigned)
    assert {b for b, _ in stops} | set(unassigned) == set(booking_ids)
    assert unassigned[booking_ids[3]]["reason"] == "awaiting_clearance"
    assert unassigned[booking_ids[4]]["reason"] == "needs_location"
    assert all(u["detail"] for u in plan["unassigned"])
    with Session(engine) as session:
        (published,) = events(session, action="publish")
    assert published.actor_user_id == job_requester(engine)

    versions = client.get(f"/plans/{DAY.isoformat()}/versions", headers=headers).json()
    assert [(v["version"], v["status"]) for v in versions] == [(1, "published")]
    assert set(versions[0]) == set(PlanVersionPublic.model_fields)

    again = poll(client, headers, client.post(f"/plans/{DAY.isoformat()}", headers=headers).json()["status_url"])
    assert (again["status"], again["plan_version"]) == ("unchanged", 1)


def test_published_plan_serves_route_figures_patients_and_booking_statuses(engine: Engine) -> None:
    """GET /plans/{day}: each route's driving, overtime and breaks; each stop's patients; and the bookings
    on a route read planned in version 1 (GET /bookings?status=planned lists exactly them); the read
    of the plan's patient ids is audited."""
    seed_day(engine)
    client = dispatch_client(engine)
    headers = login(client, "dispatch")
    poll(client, headers, client.post(f"/plans/{DAY.isoformat()}", headers=headers).json()["status_url"])
    plan = client.get(f"/plans/{DAY.isoformat()}", headers=headers).json()
    read = last_event(engine)
    assert (read.action, read.resource) == ("read", "plan")
    for route in plan["routes"]:
        assert set(route["kpis"]) == {"driving_s", "distance_m", "idle_s", "service_s", "overtime_s", "visits"}
        assert route["kpis"]["visits"] == len(route["stops"]) and route["kpis"]["driving_s"] > 0
        assert all(set(b) == {"start", "end"} for b in route["breaks"])
        assert all(stop["patient_ids"] for stop in route["stops"])
    planned = {stop["booking_id"] for route in plan["routes"] for stop in route["stops"]}
    listed = client.get(f"/bookings?service_date={DAY.isoformat()}&status=planned", headers=headers).json()
    assert {b["id"] for b in listed} == planned
    assert all((b["status"], b["plan_version"]) == ("planned", 1) for b in listed)
    assert plan["idle_medics"] == []
    sheet = client.get(f"/route-sheets/{DAY.isoformat()}/{plan['routes'][0]['medic_id']}", headers=headers).json()
    assert sheet["driving_minutes"] == round(plan["routes"][0]["kpis"]["driving_s"] / 60)
    assert sheet["overtime_minutes"] == 0


def job_requester(engine: Engine) -> int | None:
    with Session(engine) as session:
        return session.exec(select(PlanJob.requested_by)).first()


def test_get_route_sheet_of_any_medic_is_the_me_sheet_and_audited(engine: Engine) -> None:
    """GET /route-sheets/{day}/{medic_id}: the same JSON as the medic's /me sheet; one audited read; 404 for a
    medic without a route."""
    _, alice = seed_day(engine)
    client = dispatch_client(engine)
    headers = login(client, "dispatch")
    poll(client, headers, client.post(f"/plans/{DAY.isoformat()}", headers=headers).json()["status_url"])
    plan = client.get(f"/plans/{DAY.isoformat()}", headers=headers).json()
    routed = [route["medic_id"] for route in plan["routes"]]
    assert routed, plan
    medic = routed[0]
    before = audit_count(engine)
    response = client.get(f"/route-sheets/{DAY.isoformat()}/{medic}", headers=headers)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert set(response.json()) == set(RouteSheetPublic.model_fields)
    assert audit_count(engine) == before + 1
    event = last_event(engine)
    assert (event.action, event.resource) == ("read", "route_sheet") and f"medic:{medic}" in event.resource_ids
    username = "alice" if medic == alice else "bob"
    own = client.get(f"/me/route-sheets/{DAY.isoformat()}", headers=login(client, username)).json()
    assert own == response.json()
    cached = client.get(
        f"/route-sheets/{DAY.isoformat()}/{medic}", headers={**headers, "If-None-Match": response.headers["etag"]}
    )
    assert cached.status_code == 304
    missing = client.get(f"/route-sheets/{(DAY + timedelta(days=1)).isoformat()}/{medic}", headers=headers)
    assert missing.status_code == 404 and missing.json() == {"detail": "route sheet not found"}


def test_post_plan_while_the_lease_is_held_is_409_and_queues_nothing(engine: Engine) -> None:
    """Another process holds the day's lease: 409 with a detail, audited as a conflict, and no job row."""
    seed_day(engine)
    with session_scope(engine) as session:
        session.add(PlanLease(service_date=DAY, holder="other-host:1:abc", expires_at=now_utc() + timedelta(minutes=5)))
    client = dispatch_client(engine)
    headers = login(client, "dispatch")
    response = client.post(f"/plans/{DAY.isoformat()}", headers=headers)
    assert response.status_code == 409 and response.json() == {"detail": "a re-plan of this day is already running"}
    event = last_event(engine)
    assert (event.action, event.resource, event.outcome) == ("write", "plan_job", "conflict")
    with Session(engine) as session:
        assert session.exec(select(PlanJob)).all() == []


def blocking_solver() -> tuple[Callable[[Problem, SolveParams, float], Result], threading.Event, threading.Event]:
    """A solver that waits until released: (solver, started, release)."""
    started, release = threading.Event(), threading.Event()

    def solver(problem: Problem, params: SolveParams, timeout_s: float) -> Result:
        started.set()
        assert release.wait(30), "the test never released the solver"
        return solve_here(problem, params, timeout_s)

    return solver, started, release


def test_post_plan_while_one_runs_is_409_then_the_first_publishes(engine: Engine) -> None:
    """A second trigger while the first job is running (its solve held) is a 409; the first still publishes."""
    seed_day(engine)
    solver, started, release = blocking_solver()
    client = dispatch_client(engine, plan_solver=solver)
    headers = login(client, "dispatch")
    try:
        first = client.post(f"/plans/{DAY.isoformat()}", headers=headers)
        assert first.status_code == 202
        assert started.wait(30)
        assert client.get(first.json()["status_url"], headers=headers).json()["status"] == "running"
        second = client.post(f"/plans/{DAY.isoformat()}", headers=headers)
        assert second.status_code == 409 and second.json()["detail"]
        other_day = client.post(f"/plans/{(DAY + timedelta(days=1)).isoformat()}", headers=headers)
        assert other_day.status_code == 202  # one live job per day, not one in all
    finally:
        release.set()
    assert poll(client, headers, first.json()["status_url"])["status"] == "published"
    wait_for_plan_jobs()
    with Session(engine) as session:
        assert len(session.exec(select(PlanJob)).all()) == 2


def test_post_plan_after_an_abandoned_job_reclaims_it(engine: Engine) -> None:
    """A job left queued by a killed process, older than any re-plan takes, does not block the day for ever."""
    seed_day(engine)
    with session_scope(engine) as session:
        session.add(PlanJob(id="0" * 32, service_date=DAY, live_date=DAY, created_at=now_utc() - timedelta(hours=2)))
    client = dispatch_client(engine)
    headers = login(client, "dispatch")
    response = client.post(f"/plans/{DAY.isoformat()}", headers=headers)
    assert response.status_code == 202, response.text
    assert poll(client, headers, response.json()["status_url"])["status"] == "published"
    abandoned = client.get(f"/plans/jobs/{'0' * 32}", headers=headers).json()
    assert abandoned["status"] == "failed" and abandoned["detail"].startswith("abandoned")


def test_plan_job_whose_solver_crashes_ends_failed_with_a_code(engine: Engine) -> None:
    """A solver error ends the job failed, with a code in detail, and no published plan (GET /plans/{day}: 404)."""
    seed_day(engine)

    def crash(problem: Problem, params: SolveParams, timeout_s: float) -> Result:
        raise MemoryError("Quokka")

    client = dispatch_client(engine, plan_solver=crash)
    headers = login(client, "dispatch")
    job = poll(client, headers, client.post(f"/plans/{DAY.isoformat()}", headers=headers).json()["status_url"])
    assert job["status"] == "failed" and job["detail"].startswith("solver_error") and "Quokka" not in job["detail"]
    assert client.get(f"/plans/{DAY.isoformat()}", headers=headers).status_code == 404
    assert [v["status"] for v in client.get(f"/plans/{DAY.isoformat()}/versions", headers=headers).json()] == ["failed"]
    with Session(engine) as session:
        row = session.exec(select(PlanJob)).one()
        assert row.status is PlanJobStatus.FAILED and row.live_date is None and row.finished_at is not None


def test_get_plan_of_a_day_without_one_is_404_and_no_versions(engine: Engine) -> None:
    """No plan yet: GET /plans/{day} is a 404, the versions an empty list."""
    seed_day(engine)
    client = dispatch_client(engine)
    headers = login(client, "dispatch")
    day: date = DAY + timedelta(days=9)
    assert client.get(f"/plans/{day.isoformat()}", headers=headers).status_code == 404
    assert client.get(f"/plans/{day.isoformat()}/versions", headers=headers).json() == []


@pytest.mark.slow
def test_post_plan_with_the_child_process_solver_publishes(engine: Engine) -> None:
    """The production path: the job runs in a process of its own (niced), which solves in a child; it publishes."""
    booking_ids, _ = seed_day(engine)
    client = dispatch_client(engine, plan_solver=None)
    headers = login(client, "dispatch")
    job = poll(client, headers, client.post(f"/plans/{DAY.isoformat()}", headers=headers).json()["status_url"], 120)
    assert job["status"] == "published", job
    plan = client.get(f"/plans/{DAY.isoformat()}", headers=headers).json()
    routed = {stop["booking_id"] for route in plan["routes"] for stop in route["stops"]}
    assert routed | {item["booking_id"] for item in plan["unassigned"]} == set(booking_ids)
