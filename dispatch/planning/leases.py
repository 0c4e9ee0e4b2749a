"""Who may re-plan now: the day's lease (one re-plan per day) and the re-plan slots (N at once in all).

Both are rows, so they hold across every process on the database. Each row names its holder
(:func:`dispatch.planning.processes.process_tag`) and an expiry. A row is free once it has expired, or at
once when its holder is a process on this host that has ended (killed with kill -9, or died of a
full disk): a dead re-plan never blocks its day until the expiry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import delete, insert, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dispatch.planning.processes import holder_gone
from dispatch.store.tables import PlanLease, ReplanSlot, now_utc

log = logging.getLogger(__name__)

#: how often a queued re-plan looks for a free slot
SLOT_POLL_S = 0.5


# --------------------------------------------------------------------- the day's lease


def acquire_lease(engine: Engine, day: date, holder: str, ttl: timedelta) -> bool:
    """Take the day's lease if it is free, expired, or held by a process that has ended."""
    now = now_utc()
    try:
        with engine.begin() as connection:
            current = connection.execute(
                select(PlanLease.holder).where(col(PlanLease.service_date) == day)
            ).scalar_one_or_none()
            if current is not None and holder_gone(current):
                log.warning("plan %s: the re-plan holding the lease has ended; its lease is released", day)
                connection.execute(
                    delete(PlanLease).where(col(PlanLease.service_date) == day).where(col(PlanLease.holder) == current)
                )
            taken = connection.execute(
                update(PlanLease)
                .where(col(PlanLease.service_date) == day)
                .where(col(PlanLease.expires_at) < now)
                .values(holder=holder, expires_at=now + ttl)
            )
            if taken.rowcount == 1:
                return True
        with engine.begin() as connection:
            connection.execute(insert(PlanLease).values(service_date=day, holder=holder, expires_at=now + ttl))
        return True
    except IntegrityError:  # another process holds it, or inserted it first
        return False


def renew_lease(engine: Engine, day: date, holder: str, ttl: timedelta) -> bool:
    """Push the lease's expiry ``ttl`` from now (while queued, and before the solve); False if ``holder``
    no longer holds it."""
    with engine.begin() as connection:
        renewed = connection.execute(
            update(PlanLease)
            .where(col(PlanLease.service_date) == day)
            .where(col(PlanLease.holder) == holder)
            .values(expires_at=now_utc() + ttl)
        )
        return bool(renewed.rowcount == 1)


def release_lease(engine: Engine, day: date, holder: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            delete(PlanLease).where(col(PlanLease.service_date) == day).where(col(PlanLease.holder) == holder)
        )


def lease_held(session: Session, day: date) -> bool:
    """Whether a live re-plan holds ``day``'s lease (an expired lease, or a dead holder's, is not held)."""
    lease = session.get(PlanLease, day)
    return lease is not None and lease.expires_at > now_utc() and not holder_gone(lease.holder)


def release_leases_of(session: Session, worker: str) -> int:
    """Drop the leases and slots held by ``worker``'s process (its holders start with its tag)."""
    released = 0
    for table in (PlanLease, ReplanSlot):
        released += session.exec(delete(table).where(col(table.holder).startswith(f"{worker}:"))).rowcount  # type: ignore[call-overload]
    return released


# --------------------------------------------------------------------- the re-plan slots


def _take_slot(engine: Engine, holder: str, slots: int, ttl: timedelta) -> int | None:
    now = now_utc()
    with engine.begin() as connection:
        rows = connection.execute(select(ReplanSlot.slot, ReplanSlot.holder, ReplanSlot.expires_at)).all()
        held = {row.slot for row in rows}
        for row in rows:
            if row.slot < slots and (row.expires_at < now or holder_gone(row.holder)):
                taken = connection.execute(
                    update(ReplanSlot)
                    .where(col(ReplanSlot.slot) == row.slot)
                    .where(col(ReplanSlot.holder) == row.holder)
                    .values(holder=holder, expires_at=now + ttl)
                )
                if taken.rowcount == 1:
                    return int(row.slot)
    for slot in range(slots):
        if slot in held:
            continue
        try:
            with engine.begin() as connection:
                connection.execute(insert(ReplanSlot).values(slot=slot, holder=holder, expires_at=now + ttl))
            return slot
        except IntegrityError:  # another re-plan took it first
            continue
    return None


def wait_for_slot(
    engine: Engine,
    holder: str,
    *,
    slots: int,
    ttl: timedelta,
    patience_s: float,
    waiting: Callable[[], None] | None = None,
    keep_alive: Callable[[], bool] | None = None,
) -> int | None:
    """Take one of ``slots`` re-plan slots, waiting up to ``patience_s`` for one to free; None if none did,
    or if ``keep_alive`` (called at every look while queued: it renews the day's lease) says the lease is lost.

    ``waiting`` is called once, when the re-plan has to queue.
    """
    deadline = time.monotonic() + patience_s
    told = False
    while True:
        slot = _take_slot(engine, holder, slots, ttl)
        if slot is not None or time.monotonic() >= deadline:
            return slot
        if not told and waiting is not None:
            waiting()
            told = True
        if keep_alive is not None and not keep_alive():
            return None
        time.sleep(SLOT_POLL_S)


def release_slot(engine: Engine, slot: int, holder: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            delete(ReplanSlot).where(col(ReplanSlot.slot) == slot).where(col(ReplanSlot.holder) == holder)
        )
