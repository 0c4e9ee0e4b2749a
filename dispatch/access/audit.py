"""The audit trail: an append-only, hash-chained record of who touched what.

Every read of patient data, every write, every denial, every login and every
publish appends one :class:`AuditEvent`: when, which account (None for the
system, e.g. the nightly re-plan), the action, the kind of resource, the ids
it concerned, and the outcome. Only ids, never the data itself.

Each row carries the hash of the row before it, and its own hash over that and
its fields, so an edited, inserted or deleted row breaks the chain
(:func:`verify_trail`). The hashes are keyed (HMAC-SHA256 with ``[audit] key``):
someone who edits a row cannot recompute the chain after it without the key. One
:class:`AuditHead` row holds the newest hash and the number of rows, under an
HMAC of its own, so a tail cut off (and the head moved back to match) shows too.
Updating the head first serialises appenders (a row lock on PostgreSQL, the
write lock on SQLite), so the chain never forks.

Which key an engine's events are hashed with is registered once per engine
(:func:`dispatch.store.db.use_key`, done by ``create_app``, the CLI and the job processes from
their settings); an engine nobody registered uses the development key, which
production settings refuse, so a forgotten registration fails verification
rather than passing silently. Rows written before the trail was keyed (an
upgraded database) stay verifiable as a plain sha256 chain, up to the count the
upgrade recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch.store.db import key_of
from dispatch.store.tables import GENESIS_HASH, HEAD_ID, AuditEvent, AuditHead, ResourceId, now_utc

ACTIONS = frozenset({"read", "write", "deny", "publish", "login"})


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def row_hash(
    prev_hash: str,
    *,
    at: datetime,
    actor_user_id: int | None,
    action: str,
    resource: str,
    resource_ids: Sequence[ResourceId],
    outcome: str,
    key: bytes | None = None,
) -> str:
    """HMAC-SHA256 under ``key`` of the previous hash and the canonical JSON of the row's fields (id
    excluded: the chain orders); plain sha256 with no key (the rows written before the trail was keyed)."""
    document = {
        "at": _stamp(at),
        "actor_user_id": actor_user_id,
        "action": action,
        "resource": resource,
        "resource_ids": list(resource_ids),
        "outcome": outcome,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    message = (prev_hash + canonical).encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def head_mac(key: bytes, events: int, last_hash: str) -> str:
    """The head's own HMAC: the row count and the newest hash, bound together."""
    return hmac.new(key, f"audit-head:{events}:{last_hash}".encode(), hashlib.sha256).hexdigest()


def _check_ids(resource_ids: Sequence[ResourceId]) -> list[ResourceId]:
    ids: list[ResourceId] = []
    for value in resource_ids:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("audit resource_ids must be ints or short id strings.")
        if isinstance(value, str) and (len(value) > 64 or any(ch.isspace() for ch in value)):
            # a long or spaced string is more likely data than an id
            raise ValueError("audit resource_ids strings must be short ids without spaces.")
        ids.append(value)
    return ids


# Built once: every sheet read runs them, and building a statement costs more than running it here.
_LOCK_HEAD = (
    update(AuditHead)
    .where(col(AuditHead.id) == HEAD_ID)
    .values(events=col(AuditHead.events) + bindparam("added"))
    .returning(col(AuditHead.last_hash), col(AuditHead.events))
)
_MOVE_HEAD = (
    update(AuditHead)
    .where(col(AuditHead.id) == HEAD_ID)
    .values(last_hash=bindparam("digest"), mac=bindparam("head_mac"))
)


@dataclass(frozen=True)
class AuditEntry:
    """One event to append: who, what, which ids, and how it ended (the chain fields are added on append)."""

    actor_user_id: int | None
    action: str
    resource: str
    resource_ids: Sequence[ResourceId] = ()
    outcome: str = "ok"

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"audit action must be one of {sorted(ACTIONS)}, got {self.action!r}.")
        object.__setattr__(self, "resource_ids", tuple(_check_ids(self.resource_ids)))


def append_events(session: Session, entries: Sequence[AuditEntry], *, at: datetime | None = None) -> list[AuditEvent]:
    """Append ``entries``, in order, in the session's transaction; kept only if that transaction commits.

    The caller commits. Appending locks the chain's head until then, so keep the transaction short.
    A batch costs the same three statements as one event (lock and read the head, insert the rows,
    move the head), which is what lets :class:`dispatch.access.audit_writer.AuditWriter` group many reads
    into one commit.
    """
    if not entries:
        return []
    # Lock first, read second: the head read under the lock is the newest committed one.
    prev = session.execute(_LOCK_HEAD, {"added": len(entries)}).first()
    if prev is None:
        raise RuntimeError("the audit_head row is missing: run the migrations")
    digest, count = prev[0], prev[1]
    key = key_of(session)
    stamp = (at or now_utc()).astimezone(UTC)
    rows: list[AuditEvent] = []
    for entry in entries:
        ids = list(entry.resource_ids)
        fields: dict[str, Any] = {
            "at": stamp,
            "actor_user_id": entry.actor_user_id,
            "action": entry.action,
            "resource": entry.resource,
            "resource_ids": ids,
            "outcome": entry.outcome,
        }
        row = AuditEvent(**fields, prev_hash=digest, row_hash=row_hash(digest, **fields, key=key))
        digest = row.row_hash
        rows.append(row)
    session.add_all(rows)
    session.execute(_MOVE_HEAD, {"digest": digest, "head_mac": head_mac(key, count, digest)})
    session.flush()
    return rows


def append_event(
    session: Session,
    *,
    actor_user_id: int | None,
    action: str,
    resource: str,
    resource_ids: Sequence[ResourceId] = (),
    outcome: str = "ok",
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event in the session's transaction (see :func:`append_events`); the caller commits."""
    entry = AuditEntry(actor_user_id, action, resource, resource_ids, outcome)
    return append_events(session, [entry], at=at)[0]


@dataclass(frozen=True)
class TrailReport:
    """What :func:`verify_trail` found: rows read, the head's count, the rows that break, and why in words."""

    events: int
    head_events: int
    broken: tuple[int, ...]
    problems: tuple[str, ...]
    legacy_events: int = 0

    @property
    def intact(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.intact:
            legacy = f" ({self.legacy_events} written before the trail was keyed)" if self.legacy_events else ""
            return f"audit trail intact: {self.events} events{legacy}, the head matches"
        return f"audit trail BROKEN: {'; '.join(self.problems)}"


def verify_trail(session: Session, key: bytes | None = None) -> TrailReport:
    """Check every row's hash and link, the row count against the head's, and the head's own HMAC.

    ``key`` defaults to the session's engine's (:func:`use_key`). A row deleted from the middle shows
    as its successor; a deleted tail shows as the last row (or 0 for an empty table) not matching the
    head, and as a count short of the head's.
    """
    key = key if key is not None else key_of(session)
    head = session.get(AuditHead, HEAD_ID)
    legacy = head.legacy_events if head is not None else 0
    bad: list[int] = []
    expected_prev = GENESIS_HASH
    last_hash = GENESIS_HASH
    last_id = 0
    count = 0
    for event in session.exec(select(AuditEvent).order_by(col(AuditEvent.id))):
        count += 1
        recomputed = row_hash(
            event.prev_hash,
            at=event.at,
            actor_user_id=event.actor_user_id,
            action=event.action,
            resource=event.resource,
            resource_ids=event.resource_ids,
            outcome=event.outcome,
            key=None if count <= legacy else key,
        )
        if recomputed != event.row_hash or event.prev_hash != expected_prev:
            bad.append(event.id or 0)
        if head is not None and count == legacy and event.row_hash != head.legacy_last_hash:
            bad.append(event.id or 0)
        expected_prev = event.row_hash
        last_hash, last_id = event.row_hash, event.id or 0
    problems: list[str] = []
    if bad:
        problems.append(f"{len(bad)} row(s) do not match their hash or their link: ids {sorted(set(bad))[:20]}")
    if head is None:
        problems.append("the audit head row is missing")
        return TrailReport(count, 0, tuple(bad or [last_id]), tuple(problems), legacy)
    if head.last_hash != last_hash:
        if last_id not in bad:
            bad.append(last_id)
        problems.append("the newest row is not the one the head records (rows cut from the end?)")
    if head.events != count:
        problems.append(f"the head records {head.events} events, the table holds {count}")
    # Every head is sealed (on the first keyed append, or by seal_head when the app starts): a head with
    # no seal, or a wrong one, was moved by someone without the key, e.g. back to its legacy fields after
    # deleting every keyed row. Only a trail that never held an event may be unsealed.
    if head.mac is None and (head.events or count):
        problems.append("the head is not sealed with the key (moved back without it?)")
    elif head.mac is not None and head.mac != head_mac(key, head.events, head.last_hash):
        problems.append("the head's HMAC does not match (moved without the key, or verified with the wrong key)")
    return TrailReport(count, head.events, tuple(bad), tuple(problems), legacy)


def seal_head(engine: Engine, key: str) -> bool:
    """Seal a head that has none yet (a trail migrated from before the keyed hashes) with ``key``; True if it
    did. Run when the app starts, before anyone could move the head without the key."""
    with Session(engine) as session:
        head = session.get(AuditHead, HEAD_ID)
        if head is None or head.mac is not None:
            return False
        session.execute(
            update(AuditHead)
            .where(col(AuditHead.id) == HEAD_ID)
            .where(col(AuditHead.mac).is_(None))
            .values(mac=head_mac(key.encode(), head.events, head.last_hash))
        )
        session.commit()
        return True


def verify_chain(session: Session) -> list[int]:
    """Ids of the rows that break the chain (see :func:`verify_trail`); empty when every row holds."""
    report = verify_trail(session)
    return list(dict.fromkeys(report.broken))


def events(session: Session, **where: Any) -> list[AuditEvent]:
    """Audit rows, oldest first, filtered by equal column values (e.g. ``action="deny"``)."""
    query = select(AuditEvent)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(session.exec(query.order_by(col(AuditEvent.id))))
