"""Group commit for audit events: many threads' reads, one transaction per batch.

Every route-sheet read appends an audit event, and the read must be on record before the sheet
is sent. Committed one by one, those appends queue on the database's write lock (SQLite has one
writer at a time and makes the others sleep and retry), and each pays its own commit. Here each
caller hands its :class:`~dispatch.access.audit.AuditEntry` to one writer thread and waits; the thread
takes whatever has queued up, appends it with :func:`~dispatch.access.audit.append_events` (three
statements for the whole batch) and commits once. A caller returns only after its event is
committed, and sees the error if the batch failed, so nothing is disclosed unaudited.

The thread starts on the first event and ends after ``idle_s`` without any, so an idle app (or
a test's app) holds no thread. A caller waits ``timeout_s`` at most, longer than the database
waits for its locks (SQLite's busy timeout is 30 s; on PostgreSQL the batch sets a lock timeout
of half ``timeout_s``), so a batch has failed or committed by the time its callers give up.

Writes that must commit together with an event (a dispatcher's edit and its record) do not come
here: they append in their own transaction.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch.access.audit import AuditEntry, append_events


class AuditUnavailable(RuntimeError):
    """The event could not be committed (the database failed, or did not answer in time)."""


@dataclass
class _Pending:
    entry: AuditEntry
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class AuditWriter:
    """Appends audit events for many threads, ``max_batch`` per transaction at most."""

    def __init__(self, engine: Engine, *, max_batch: int = 200, timeout_s: float = 60.0, idle_s: float = 2.0) -> None:
        if max_batch < 1 or timeout_s <= 0 or idle_s <= 0:
            raise ValueError("AuditWriter needs max_batch >= 1 and positive timeout_s and idle_s.")
        self.engine = engine
        self.max_batch = max_batch
        self.timeout_s = timeout_s
        self.idle_s = idle_s
        self._queue: deque[_Pending] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._uncommitted = 0
        #: batches committed so far (read by the tests and the load bench)
        self.batches = 0
        #: the error class of the newest batch if it failed (None once one commits again), and when: /ready
        self.failing: str | None = None
        self.failed_at = 0.0

    def record(self, entry: AuditEntry) -> None:
        """Append ``entry`` and return once it is committed; :class:`AuditUnavailable` if it was not."""
        pending = _Pending(entry)
        with self._wake:
            self._queue.append(pending)
            self._uncommitted += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()
            self._wake.notify()
        if not pending.done.wait(self.timeout_s):
            raise AuditUnavailable(f"the audit event was not committed within {self.timeout_s:g} s")
        if pending.error is not None:
            raise AuditUnavailable("the audit event could not be committed") from pending.error

    def uncommitted(self) -> int:
        """Events handed in whose batch has not finished yet (queued or being written)."""
        with self._wake:
            return self._uncommitted

    def trouble(self, within_s: float = 60.0) -> str | None:
        """Why the writer cannot be trusted now, in words without data; None when it is well.

        Its newest batch failed less than ``within_s`` ago (later, the next read tries again: nothing
        else would write a batch once a load balancer stops sending reads), or events wait with no thread.
        """
        with self._wake:
            if self.failing is not None and time.monotonic() - self.failed_at < within_s:
                return f"the newest audit batch failed ({self.failing})"
            if self._queue and self._thread is None:
                return "audit events wait with no writer thread"
        return None

    def running(self) -> bool:
        """Whether the writer thread is alive (it ends after ``idle_s`` with nothing to write)."""
        with self._wake:
            return self._thread is not None

    def _run(self) -> None:
        batch: list[_Pending] = []
        try:
            while True:
                with self._wake:
                    if not self._queue:
                        self._wake.wait(self.idle_s)
                    if not self._queue:
                        self._thread = None  # record() starts a new one under this same lock
                        return
                    batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
                self._commit(batch)
                batch = []
        except BaseException as error:  # never leave callers waiting on a dead thread
            with self._wake:
                batch += list(self._queue)
                self._queue.clear()
                self._uncommitted -= len(batch)
                self._thread = None
            for pending in batch:
                pending.error = error
                pending.done.set()
            raise

    def _commit(self, batch: list[_Pending]) -> None:
        error: BaseException | None = None
        try:
            with Session(self.engine) as session:
                if self.engine.dialect.name == "postgresql":
                    # fail the batch, rather than wait past the callers' patience, behind a held chain
                    session.execute(text(f"SET LOCAL lock_timeout = '{int(self.timeout_s * 500)}ms'"))
                append_events(session, [p.entry for p in batch])
                session.commit()
            self.batches += 1
            self.failing = None
        except Exception as exc:  # every waiter gets the failure; the writer keeps serving
            error = exc
            self.failing, self.failed_at = type(exc).__name__, time.monotonic()
        with self._wake:
            self._uncommitted -= len(batch)
        for pending in batch:
            pending.error = error
            pending.done.set()
