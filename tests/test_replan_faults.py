"""Re-plans under faults (issue 11, points 3, 6, 7 and 8): oversized days, a solver past its memory limit,
re-plans queued for a slot, a re-plan process killed with kill -9 or exiting without its outcome, a
database that takes no writes, and an audit trail that must prove itself.

Every solve is real OR-Tools, every process a real one (a killed ``sleep`` stands for a killed re-plan
whose pid and start time the job recorded), and every database a real SQLite file or PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.cli import main as dripline
from dispatch.access.audit import AuditEvent, AuditHead, append_event, head_mac, row_hash, verify_trail
from dispatch.planning.day import plan_day
from dispatch.planning.jobs import _watch, enqueue_plan_job, get_plan_job, job_stale_after
from dispatch.planning.leases import acquire_lease
from dispatch.planning.processes import holder_gone, process_tag
from dispatch.store.config import PlanningSettings
from dispatch.store.db import make_engine, session_scope
from dispatch.store.tables import Booking, Plan, PlanJob, PlanJobStatus, PlanLease, PlanStatus, ReplanSlot, now_utc
from tests.api_support import (
    API_FAST,
    FakeGeocoder,
    app_for,
    cheap_argon2,  # noqa: F401  (a fixture, used by pytestmark)
    future_day,
    login,
    planned_day,
    solve_here,
)
from tests.factory import DAY

pytestmark = pytest.mark.usefixtures("cheap_argon2")


def published(engine: Engine) -> tuple[int, str]:
    """The published version of DAY and its stops' (booking, medic, start) rows, to compare byte for byte."""
    with Session(engine) as session:
        plan = session.exec(
            select(Plan).where(Plan.service_date == DAY).where(Plan.status == PlanStatus.PUBLISHED)
        ).one()
        from dispatch.store.tables import PlanStop

        stops = session.exec(select(PlanStop).where(PlanStop.plan_id == plan.id).order_by(col(PlanStop.id))).all()
        return plan.version, repr([(s.booking_id, s.medic_id, s.start) for s in stops])


def change_the_day(engine: Engine) -> None:
    """Move one booking's window, so the next re-plan has new input to solve (not "unchanged")."""
    with session_scope(engine) as session:
        booking = session.exec(select(Booking).order_by(col(Booking.id))).first()
        assert booking is not None
        booking.window_end = booking.window_end + timedelta(minutes=30)
        session.add(booking)


def dead_process_tag() -> str:
    """The tag of a real process that has ended (started, killed with SIGKILL, reaped)."""
    process = subprocess.Popen(["sleep", "60"])
    tag = process_tag(process.pid)
    process.kill()
    process.wait()
    return tag


def planning(**changes: int) -> PlanningSettings:
    return replace(API_FAST.planning, **changes)


# --------------------------------------------------------------------- 3. memory


def test_a_day_over_the_booking_cap_is_refused_before_the_solve_and_the_plan_stands(engine: Engine) -> None:
    """[planning] max_bookings_per_day = 1 and two bookings: a failed version day_too_large, nothing solved."""
    planned_day(engine)
    before = published(engine)
    change_the_day(engine)
    solved: list[int] = []

    def counting_solver(*args):  # type: ignore[no-untyped-def]
        solved.append(1)
        return solve_here(*args)

    settings = replace(API_FAST, planning=planning(max_bookings_per_day=1))
    outcome = plan_day(engine, DAY, settings, solver=counting_solver)
    assert outcome.status == "failed" and outcome.detail.startswith("day_too_large"), outcome
    assert solved == [] and published(engine) == before


def test_a_booking_past_the_cap_is_a_422_on_its_day(engine: Engine) -> None:
    """POST /bookings onto a day that holds max_bookings_per_day: a 422 naming service_date."""
    from tests.test_api_objects import booking

    planned_day(engine, plan=False)
    settings = replace(API_FAST, planning=planning(max_bookings_per_day=1))
    client = TestClient(app_for(engine, settings, geocoder=FakeGeocoder(), plan_solver=solve_here))
    headers = login(client, "dispatch")
    assert client.post("/bookings", headers=headers, json=booking()).status_code == 201
    refused = client.post("/bookings", headers=headers, json=booking())
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "service_date"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_solve_past_its_memory_limit_fails_with_that_reason_and_the_plan_stands(engine: Engine, workers: int) -> None:
    """The real solver process (alone, or with a pool of search workers that inherit the limit) under a
    256 MB address-space budget: solver_out_of_memory, and the published plan as it was."""
    planned_day(engine)
    before = published(engine)
    change_the_day(engine)
    settings = replace(
        API_FAST, planning=planning(solver_memory_mb=256), solver=replace(API_FAST.solver, workers=workers)
    )
    outcome = plan_day(engine, DAY, settings)
    assert outcome.status == "failed" and outcome.detail.startswith("solver_out_of_memory"), outcome
    assert published(engine) == before
    with Session(engine) as session:
        failed = session.exec(select(Plan).where(Plan.status == PlanStatus.FAILED)).one()
        assert failed.error.startswith("solver_out_of_memory")


def test_a_re_plan_queues_while_every_slot_is_taken_and_runs_once_one_frees(engine: Engine) -> None:
    """max_concurrent_replans = 1 with the slot held by a live re-plan: the next waits (and says so), then
    publishes when the slot is released."""
    planned_day(engine, plan=False)
    holder = f"{process_tag()}:other-replan"
    with session_scope(engine) as session:
        session.add(ReplanSlot(slot=0, holder=holder, expires_at=now_utc() + timedelta(minutes=10)))
    queued = threading.Event()
    outcome: list[object] = []

    def replan() -> None:
        outcome.append(plan_day(engine, DAY, API_FAST, solver=solve_here, waiting=queued.set))

    thread = threading.Thread(target=replan)
    thread.start()
    assert queued.wait(30), "the re-plan did not queue"
    time.sleep(1.0)
    assert not outcome, "it ran while the only slot was taken"
    with session_scope(engine) as session:
        session.exec(update(ReplanSlot).where(col(ReplanSlot.holder) == holder).values(expires_at=now_utc()))
    thread.join(60)
    assert outcome and outcome[0].status == "published"  # type: ignore[attr-defined]
    with Session(engine) as session:
        assert session.exec(select(ReplanSlot)).all() == [], "the slot is given back"


def test_a_slot_held_by_a_dead_process_is_taken_at_once(engine: Engine) -> None:
    """A slot whose holder was killed: the next re-plan takes it without queueing."""
    planned_day(engine, plan=False)
    with session_scope(engine) as session:
        session.add(ReplanSlot(slot=0, holder=f"{dead_process_tag()}:x", expires_at=now_utc() + timedelta(hours=1)))
    queued: list[bool] = []
    outcome = plan_day(engine, DAY, API_FAST, solver=solve_here, waiting=lambda: queued.append(True))
    assert outcome.status == "published" and queued == []


# --------------------------------------------------------------------- 6. a killed re-plan


def test_holder_gone_tells_a_live_process_from_an_ended_one() -> None:
    """This process is alive, a killed one is gone, another host's cannot be told."""
    assert holder_gone(process_tag()) is False
    assert holder_gone(dead_process_tag()) is True
    assert holder_gone("some-other-host:4026531836:1:123") is None
    assert holder_gone(None) is None


def test_a_job_whose_process_was_killed_is_failed_at_the_next_poll_and_frees_the_day(engine: Engine) -> None:
    """kill -9 of the whole re-plan: the job and its lease name a process that is gone. The next poll says
    failed, the lease is released, and a new re-plan of the day is accepted at once (it was 409 for minutes)."""
    planned_day(engine, plan=False)
    worker = dead_process_tag()
    with session_scope(engine) as session:
        job = enqueue_plan_job(session, day=DAY, actor_user_id=None, stale_after=job_stale_after(API_FAST))
        job.status, job.worker, job_id = PlanJobStatus.RUNNING, worker, job.id
        session.add(job)
    assert acquire_lease(engine, DAY, f"{worker}:lease", timedelta(minutes=10))
    with Session(engine) as session:
        polled = get_plan_job(session, job_id=job_id)
        assert polled.status is PlanJobStatus.FAILED and "abandoned" in polled.detail
    with Session(engine) as session:
        assert session.get(PlanLease, DAY) is None
        assert session.get(PlanJob, job_id).live_date is None  # type: ignore[union-attr]
    with session_scope(engine) as session:
        again = enqueue_plan_job(session, day=DAY, actor_user_id=None, stale_after=job_stale_after(API_FAST))
        assert again.status is PlanJobStatus.QUEUED


def test_a_lease_held_by_a_killed_process_is_taken_over(engine: Engine) -> None:
    """The nightly re-plan (no job) killed mid-solve: its lease is no obstacle to the next re-plan."""
    planned_day(engine, plan=False)
    assert acquire_lease(engine, DAY, f"{dead_process_tag()}:nightly", timedelta(hours=1))
    assert plan_day(engine, DAY, API_FAST, solver=solve_here).status == "published"


def test_a_job_process_that_exits_without_its_outcome_is_failed(engine: Engine) -> None:
    """A disk full while the job records its outcome: the process exits 0 with the job still running. The
    watcher fails it (it only looked at non-zero exits before)."""
    planned_day(engine, plan=False)
    with session_scope(engine) as session:
        job = enqueue_plan_job(session, day=DAY, actor_user_id=None, stale_after=job_stale_after(API_FAST))
        job.status, job_id = PlanJobStatus.RUNNING, job.id
        session.add(job)
    process = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    process.start()
    _watch(process, engine, job_id, process_tag(process.pid))
    assert process.exitcode == 0
    with Session(engine) as session:
        job = session.get(PlanJob, job_id)
        assert job is not None and job.status is PlanJobStatus.FAILED and job.live_date is None


# --------------------------------------------------------------------- 7. /ready


def read_only(engine: Engine) -> Engine:
    """The same database through a connection that refuses writes (a read-only file, a full disk)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return make_engine(f"sqlite:///file:{url.database}?mode=ro&uri=true")
    return make_engine(
        url.update_query_dict({"options": "-c default_transaction_read_only=on"}).render_as_string(False)
    )


def test_ready_is_503_when_the_database_takes_no_writes(engine: Engine) -> None:
    """/ready writes its probe row: 200 on a writable database, 503 on one that only reads."""
    assert TestClient(app_for(engine)).get("/ready").status_code == 200
    frozen = read_only(engine)
    response = TestClient(app_for(frozen)).get("/ready")
    assert response.status_code == 503 and response.json() == {"status": "database does not take writes"}
    frozen.dispose()


def test_ready_is_503_while_the_audit_writer_fails(engine: Engine) -> None:
    """A sheet read whose audit event cannot be committed (the audit table is gone): the read is refused,
    and /ready says the audit writer fails."""
    planned_day(engine)
    app = app_for(engine)
    client = TestClient(app)
    alice = login(client, "alice")
    assert client.get("/ready").status_code == 200
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_event RENAME TO audit_event_away"))
    try:
        assert client.get(f"/me/route-sheets/{DAY}", headers=alice).status_code == 503
        assert client.get("/ready").json() == {"status": "audit writer failing"}
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE audit_event_away RENAME TO audit_event"))
    assert client.get(f"/me/route-sheets/{DAY}", headers=alice).status_code == 200
    assert client.get("/ready").status_code == 200


# --------------------------------------------------------------------- 8. the audit trail's proof


def trail(engine: Engine, n: int = 5) -> None:
    with session_scope(engine) as session:
        for k in range(n):
            append_event(
                session, actor_user_id=1, action="read", resource="route_sheet", resource_ids=[k], outcome="ok"
            )


def test_a_row_changed_and_rehashed_without_the_key_is_caught(engine: Engine) -> None:
    """Change one row and recompute its hash and the next rows' as plain sha256 (all an attacker without
    the key can do): the trail is broken."""
    trail(engine)
    with session_scope(engine) as session:
        rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        prev = rows[1].prev_hash
        for row in rows[1:]:
            row.outcome = "denied" if row is rows[1] else row.outcome
            row.prev_hash = prev
            fields = {"actor_user_id": row.actor_user_id, "action": row.action, "resource": row.resource}
            row.row_hash = row_hash(prev, at=row.at, resource_ids=row.resource_ids, outcome=row.outcome, **fields)
            prev = row.row_hash
            session.add(row)
        head = session.get(AuditHead, 1)
        assert head is not None
        head.last_hash = prev
        session.add(head)
    with Session(engine) as session:
        report = verify_trail(session)
    assert not report.intact and rows[1].id in report.broken


def test_a_cut_tail_is_caught_even_with_the_head_moved_back(engine: Engine) -> None:
    """Delete the two newest rows and point the head at the new last row with its count: the head's HMAC,
    made without the key, does not match."""
    trail(engine)
    with session_scope(engine) as session:
        rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        for row in rows[-2:]:
            session.delete(row)
        head = session.get(AuditHead, 1)
        assert head is not None
        head.last_hash, head.events = rows[-3].row_hash, head.events - 2
        head.mac = head_mac(b"a guessed key", head.events, head.last_hash)
        session.add(head)
    with Session(engine) as session:
        report = verify_trail(session)
    assert not report.intact and "HMAC" in report.summary()


def test_a_head_moved_back_without_its_seal_is_caught(engine: Engine) -> None:
    """Cut the newest row and move the head onto the new last row, leaving the seal off (whoever has no key
    cannot make one): an unsealed head that counts events is broken."""
    trail(engine, 3)
    with session_scope(engine) as session:
        rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        session.delete(rows[-1])
        head = session.get(AuditHead, 1)
        assert head is not None
        head.events, head.last_hash, head.mac = 2, rows[-2].row_hash, None
        session.add(head)
    with Session(engine) as session:
        report = verify_trail(session)
    assert not report.intact and "not sealed" in report.summary()


def test_the_app_seals_a_legacy_head_when_it_starts(engine: Engine) -> None:
    """A trail migrated from before the keyed hashes has no seal; creating the app seals it, and it verifies."""
    trail(engine, 2)
    with session_scope(engine) as session:
        head = session.get(AuditHead, 1)
        assert head is not None
        head.mac = None
        session.add(head)
    app_for(engine)
    with Session(engine) as session:
        assert verify_trail(session).intact


def test_dripline_audit_verify_exits_0_on_an_intact_trail_and_1_on_a_cut_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command prints one summary line; its exit status says intact (0) or broken (1)."""
    url = f"sqlite:///{tmp_path / 'trail.db'}"
    from dispatch.store.config import Settings
    from dispatch.store.db import engine_for, migrate

    engine = engine_for(Settings(), url)
    migrate(engine)
    trail(engine, 3)
    assert dripline(["audit", "verify", "--db", url]) == 0
    assert capsys.readouterr().out.strip() == "audit trail intact: 3 events, the head matches"
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE id = (SELECT MAX(id) FROM audit_event)"))
    assert dripline(["audit", "verify", "--db", url]) == 1
    assert capsys.readouterr().out.startswith("audit trail BROKEN: ")


def test_an_import_writes_one_audit_event_with_counts_and_no_patient_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``dripline import bookings``: one audit event, created/updated/unchanged counts, no names."""
    from tests.test_importer import HOME, write_csv

    url = f"sqlite:///{tmp_path / 'import.db'}"
    source = write_csv(
        tmp_path / "bookings.csv", [{**HOME, "date": str(future_day()), "lat": "40.02", "lon": "-105.27"}]
    )
    assert dripline(["catalogue", "seed", "--db", url]) == 0
    assert dripline(["import", "bookings", str(source), "--db", url]) == 0
    with Session(make_engine(url)) as session:
        imports = session.exec(select(AuditEvent).where(AuditEvent.resource == "import_bookings")).all()
    assert len(imports) == 1 and imports[0].outcome == "imported"
    assert imports[0].resource_ids == ["created:1", "updated:0", "unchanged:0"]
    assert dripline(["import", "bookings", str(source), "--db", url]) == 0
    with Session(make_engine(url)) as session:
        again = session.exec(select(AuditEvent).where(AuditEvent.resource == "import_bookings")).all()
    assert again[-1].resource_ids == ["created:0", "updated:0", "unchanged:1"]


# --------------------------------------------------------------------- the accounts' command line


def test_dripline_users_disable_ends_access_and_enable_restores_sign_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``users disable NAME`` revokes the token in hand; ``users list`` shows the state; ``enable`` lets the
    account sign in again."""
    url = f"sqlite:///{tmp_path / 'accounts.db'}"
    from dispatch.store.config import Settings
    from dispatch.store.db import engine_for, migrate

    engine = engine_for(Settings(), url)
    migrate(engine)
    planned_day(engine, plan=False)
    client = TestClient(app_for(engine))
    token = login(client, "dispatch")
    assert client.get("/bookings", headers=token).status_code == 200
    assert dripline(["users", "disable", "dispatch", "--db", url]) == 0
    assert client.get("/bookings", headers=token).status_code == 401
    capsys.readouterr()
    assert dripline(["users", "list", "--db", url]) == 0
    listed = {line.split()[1]: line.split()[-1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert listed["dispatch"] == "disabled" and listed["admin"] == "enabled"
    assert dripline(["users", "enable", "dispatch", "--db", url]) == 0
    assert client.get("/bookings", headers=login(client, "dispatch")).status_code == 200
    assert dripline(["users", "disable", "nobody", "--db", url]) == 2
