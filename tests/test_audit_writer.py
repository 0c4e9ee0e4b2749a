"""Group commit of audit events: every caller's event is committed before it returns, in one chain."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch.access import audit_writer
from dispatch.access.audit import AuditEntry, append_event, events, verify_chain
from dispatch.access.audit_writer import AuditUnavailable, AuditWriter
from dispatch.store.db import make_engine


def _read(n: int) -> AuditEntry:
    return AuditEntry(actor_user_id=7, action="read", resource="route_sheet", resource_ids=[f"booking:{n}"])


def _wait_until(condition, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def test_record_returns_after_the_event_is_committed(engine: Engine) -> None:
    """A recorded event is in the table, readable from another session, as soon as record() returns."""
    writer = AuditWriter(engine)
    writer.record(_read(1))
    with Session(engine) as session:
        (event,) = events(session, resource="route_sheet")
        assert (event.actor_user_id, event.action, event.resource_ids) == (7, "read", ["booking:1"])
        assert verify_chain(session) == []


def test_events_queued_behind_a_held_chain_commit_together(engine: Engine) -> None:
    """While another transaction holds the chain's head, 20 callers queue; they commit in at most 2 batches.

    The first caller's batch may be taken alone before the others arrive; every later one waits in
    the queue and goes in the next batch. All 20 are committed, once each, and the chain holds.
    """
    writer = AuditWriter(engine)
    done: list[int] = []
    with Session(engine) as blocker:
        append_event(blocker, actor_user_id=None, action="write", resource="booking", resource_ids=[0])
        threads = [threading.Thread(target=lambda n=n: (writer.record(_read(n)), done.append(n))) for n in range(20)]
        for thread in threads:
            thread.start()
        _wait_until(lambda: writer.uncommitted() == 20)
        assert done == []  # nothing returns before its event is committed
        blocker.commit()
    for thread in threads:
        thread.join(60)
    assert sorted(done) == list(range(20))
    assert writer.batches <= 2
    with Session(engine) as session:
        reads = events(session, resource="route_sheet")
        assert sorted(e.resource_ids[0] for e in reads) == sorted(f"booking:{n}" for n in range(20))
        assert verify_chain(session) == []


def test_record_on_a_database_without_the_audit_tables_raises(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A batch that cannot be committed is an error for its caller, not a silent loss."""
    bare = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    writer = AuditWriter(bare, timeout_s=30)
    with pytest.raises(AuditUnavailable):
        writer.record(_read(1))
    bare.dispose()


def test_writer_thread_ends_when_idle_and_restarts_on_the_next_event(engine: Engine) -> None:
    """No thread lingers for an idle app; the next event starts one again and is committed."""
    writer = AuditWriter(engine, idle_s=0.05)
    writer.record(_read(1))
    _wait_until(lambda: not writer.running())
    writer.record(_read(2))
    with Session(engine) as session:
        assert [e.resource_ids for e in events(session, resource="route_sheet")] == [["booking:1"], ["booking:2"]]


def test_writer_rejects_bad_settings(engine: Engine) -> None:
    """A batch size below one or a non-positive wait is refused with a plain sentence."""
    with pytest.raises(ValueError, match="max_batch"):
        AuditWriter(engine, max_batch=0)
    with pytest.raises(ValueError, match="timeout_s"):
        AuditWriter(engine, timeout_s=0)


def test_a_failed_batch_fails_its_callers_and_the_next_batch_keeps_the_chain(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch's append raises (injected: a database fault cannot be staged on demand); its caller
    gets AuditUnavailable and nothing of it is stored; the next event commits and the chain verifies."""
    real = audit_writer.append_events
    calls = 0

    def fail_once(session, entries):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        written = real(session, entries)
        if calls == 1:
            raise RuntimeError("disk full")  # after the rows and the head moved: the rollback must undo both
        return written

    monkeypatch.setattr(audit_writer, "append_events", fail_once)
    writer = AuditWriter(engine)
    with pytest.raises(AuditUnavailable):
        writer.record(_read(1))
    writer.record(_read(2))
    with Session(engine) as session:
        assert [e.resource_ids for e in events(session, resource="route_sheet")] == [["booking:2"]]
        assert verify_chain(session) == []
