"""Shared builders for the API tests: a tiny planned day, accounts, and a client per test.

The day: medic A (Alice) works December 2 and is planned two home visits; medic B (Bob) has no
shift that day. Every patient field and address is made up and unique, so the leak tests can look
for them in logs and error bodies.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api import create_app
from api.deps import get_today
from dispatch.access import accounts
from dispatch.access.accounts import AccountRole, create_user
from dispatch.access.audit import AuditEvent
from dispatch.planning.day import plan_day
from dispatch.store.config import GeocoderSettings, Settings
from dispatch.store.db import session_scope
from dispatch.store.tables import Booking, BookingPatient, Patient, Place, PlanStop, Role
from routing import Problem, Result, SolveParams, solve
from tests import factory
from tests.factory import DAY

#: FAST as in tests/test_planning.py, with a work limit so a two-stop day stops searching at once
API_FAST = Settings(solver=SolveParams(time_limit_s=1.0, workers=1, solution_limit=100))
PASSWORD = "correct horse battery staple"
USERNAMES = ("admin", "dispatch", "alice", "bob")


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Argon2id at its lowest cost: the same code path in a fraction of the time (production keeps the default)."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield


def solve_here(problem: Problem, params: SolveParams, timeout_s: float) -> Result:
    """The real solver, in this process: the child-process isolation is tested in test_planning."""
    return solve(problem, params)


@dataclass
class World:
    """Ids of what :func:`planned_day` built."""

    medic_a: int
    medic_b: int
    bookings: list[int]
    users: dict[str, int]
    plan_id: int | None
    #: every patient name, phone, address and access note of the day
    secrets: list[str] = field(default_factory=list)


def make_accounts(engine: Engine, medic_a: int, medic_b: int) -> dict[str, int]:
    """An admin, a dispatcher, and one medic account each for A and B; all with :data:`PASSWORD`."""
    with session_scope(engine) as session:
        made = {
            "admin": create_user(session, username="admin", password=PASSWORD, role=AccountRole.ADMIN),
            "dispatch": create_user(session, username="dispatch", password=PASSWORD, role=AccountRole.DISPATCHER),
            "alice": create_user(
                session, username="alice", password=PASSWORD, role=AccountRole.MEDIC, medic_id=medic_a
            ),
            "bob": create_user(session, username="bob", password=PASSWORD, role=AccountRole.MEDIC, medic_id=medic_b),
        }
        return {name: user.id or 0 for name, user in made.items()}


def planned_day(engine: Engine, *, plan: bool = True) -> World:
    """Alice's two visits on DAY, planned and published (unless ``plan`` is False); Bob is off."""
    with session_scope(engine) as session:
        alice = factory.medic(session, "Alice Medic", role=Role.RN)
        bob = factory.medic(session, "Bob Medic", role=Role.RN, shift=None)
        first = factory.booking(session, (39.75, -104.98), ("09:00", "11:00"))
        second = factory.booking(session, (39.72, -104.96), ("10:00", "12:00"), ("myers",))
        for number, booking in enumerate((first, second), start=1):
            site = session.get(Place, booking.place_id)
            assert site is not None
            site.address = f"{400 + number} Larkspur Testway, Denver, CO 80205"
            site.access_notes = f"Gate code Quokka{number}7 then ring twice"
            session.add(site)
        medic_a, medic_b = alice.id or 0, bob.id or 0
        booking_ids = [first.id or 0, second.id or 0]
    with Session(engine) as session:
        secrets = patient_secrets(session, booking_ids)
    users = make_accounts(engine, medic_a, medic_b)
    plan_id = None
    if plan:
        outcome = plan_day(engine, DAY, API_FAST, solver=solve_here)
        assert outcome.status == "published", outcome
        plan_id = outcome.plan_id
    return World(medic_a, medic_b, booking_ids, users, plan_id, secrets)


def patient_secrets(session: Session, booking_ids: list[int]) -> list[str]:
    """The patient data of these bookings that must never reach a log, a URL or an error body."""
    lines = session.exec(select(BookingPatient).where(col(BookingPatient.booking_id).in_(booking_ids))).all()
    found: list[str] = []
    for line in lines:
        patient = session.get(Patient, line.patient_id)
        assert patient is not None
        found += [patient.full_name, patient.display_name, patient.phone]
    for booking_id in booking_ids:
        booking = session.get(Booking, booking_id)
        assert booking is not None
        site = session.get(Place, booking.place_id)
        assert site is not None
        found += [site.address, site.access_notes]
    return found


def app_for(engine: Engine, settings: Settings = API_FAST, *, today: date = DAY, **options: Any) -> FastAPI:
    """The app on ``engine``, its clock's "today" pinned to ``today`` (the tests' fixed DAY by default), so a
    medic's read window (``[api] medic_days_back`` and ``medic_days_ahead``) holds on whatever day tests run."""
    app = create_app(settings, engine, **options)
    app.dependency_overrides[get_today] = lambda: today
    return app


def client_for(engine: Engine, settings: Settings = API_FAST) -> TestClient:
    return TestClient(app_for(engine, settings))


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers for ``username``."""
    response = client.post("/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def audit_count(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(AuditEvent.id)).all())


def last_event(engine: Engine) -> AuditEvent:
    with Session(engine) as session:
        event = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
        assert event is not None
        return event


# --------------------------------------------------------------------- the dispatcher's API


class FakeGeocoder:
    """A geocoder that answers from a dict (address -> point, None for no answer, or an exception to raise)."""

    provider = "fake"

    def __init__(self, answers: dict[str, tuple[float, float] | Exception | None] | None = None) -> None:
        self.answers = answers or {}
        self.bbox = GeocoderSettings().bbox
        self.asked: list[str] = []

    def lookup(self, query: str) -> tuple[float, float] | None:
        self.asked.append(query)
        answer = self.answers.get(query)
        if isinstance(answer, Exception):
            raise answer
        return answer


def future_day(days: int = 3) -> date:
    """A service day ``days`` ahead of today in Denver, so no rule about past days applies."""
    return datetime.now(ZoneInfo("America/Denver")).date() + timedelta(days=days)


def local(day: date, hhmm: str) -> str:
    """``hhmm`` on ``day`` in Denver, as ISO 8601 with its offset."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), ZoneInfo("America/Denver")).isoformat()


def dispatch_client(
    engine: Engine, *, geocoder: FakeGeocoder | None = None, plan_solver: Any = solve_here
) -> TestClient:
    """A client of an app whose geocoder never leaves the process and whose re-plans solve in-process."""
    return TestClient(app_for(engine, API_FAST, geocoder=geocoder or FakeGeocoder(), plan_solver=plan_solver))


def wait_for_plan_jobs(timeout_s: float = 60.0) -> None:
    """Join every re-plan thread still running, so a test ends with its database idle."""
    from dispatch.planning.jobs import THREAD_PREFIX

    deadline = monotonic() + timeout_s
    for thread in threading.enumerate():
        if thread.name.startswith(THREAD_PREFIX):
            thread.join(max(0.0, deadline - monotonic()))


@dataclass
class TwoMedics:
    alice: int
    bob: int
    near: int  # 09:00-12:00, a few km north
    early: int  # 09:00-09:20 only, beside home
    later: int  # 10:00-14:00


def two_medics(engine: Engine) -> TwoMedics:
    """The day of the pin, move and console tests: Alice and Bob, both on shift 08:00-17:00 downtown;
    three bookings; planned and published once."""
    with session_scope(engine) as session:
        alice = factory.medic(session, "Alice Medic")
        bob = factory.medic(session, "Bob Medic")
        near = factory.booking(session, (39.76, -104.99), ("09:00", "12:00"))
        early = factory.booking(session, (39.74, -104.99), ("09:00", "09:20"))
        later = factory.booking(session, (39.72, -104.96), ("10:00", "14:00"))
        world = TwoMedics(alice.id or 0, bob.id or 0, near.id or 0, early.id or 0, later.id or 0)
    make_accounts(engine, world.alice, world.bob)
    assert plan_day(engine, DAY, API_FAST, solver=solve_here).status == "published"
    return world


def served_by(engine: Engine) -> dict[int, tuple[int, int]]:
    """booking id -> (medic id, stop number) on the published plan."""
    with Session(engine) as session:
        plan = session.exec(select(PlanStop.plan_id).order_by(col(PlanStop.plan_id).desc())).first()
        stops = session.exec(select(PlanStop).where(PlanStop.plan_id == plan)).all()
        return {stop.booking_id: (stop.medic_id, stop.sequence) for stop in stops}
