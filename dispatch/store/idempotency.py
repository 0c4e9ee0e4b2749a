"""Idempotency keys: a client that retries a create with the same ``Idempotency-Key`` gets the first
answer again, not a second booking, place and patient.

A phone on a bad network, or a dispatcher's double click, sends the same POST twice. The first
request with a key claims it for its account (unique per account and key digest) and runs; its
successful answer (status, body, and the headers that matter) is kept for :data:`KEEP_FOR`, and a
repeat within that time gets it back without running again. A repeat while the first still runs
is told to wait (409); the same key with a different request is refused (422), since the client
has confused two operations. A failed request (4xx, 5xx) keeps nothing: fixing the body and
retrying with the same key is allowed. The key is stored only as a digest; the kept answer is
patient data like the rest of the database, deleted once it expires.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dispatch.store.tables import IdempotencyRecord, now_utc

#: how long an answer is kept for a repeat
KEEP_FOR = timedelta(hours=24)
#: a claim whose request never finished (its process died) is given up after this
ABANDONED_AFTER = timedelta(minutes=10)
MAX_KEY_LENGTH = 255


class Claim(enum.StrEnum):
    NEW = "new"  # run the request, then complete() or release()
    REPLAY = "replay"  # send the kept answer
    IN_PROGRESS = "in_progress"  # the first request with this key is still running
    MISMATCH = "mismatch"  # the key was used for a different request


@dataclass(frozen=True)
class Claimed:
    claim: Claim
    record: IdempotencyRecord


def valid_key(key: str) -> bool:
    """1 to 255 visible ASCII characters (a UUID, say)."""
    return 1 <= len(key) <= MAX_KEY_LENGTH and all(33 <= ord(ch) <= 126 for ch in key)


def request_digest(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests the same: method, path, query and body."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _key_hash(key: str) -> str:
    return hashlib.sha256(f"dripline-idempotency:{key}".encode()).hexdigest()


def claim_key(session: Session, *, user_id: int, key: str, request_hash: str, now: datetime | None = None) -> Claimed:
    """Claim ``key`` for ``user_id``'s request, or say what an earlier claim of it means. The caller commits."""
    now = now or now_utc()
    session.exec(delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < now - KEEP_FOR))
    key_hash = _key_hash(key)
    for _ in range(2):
        existing = session.exec(
            select(IdempotencyRecord)
            .where(IdempotencyRecord.user_id == user_id)
            .where(IdempotencyRecord.key_hash == key_hash)
        ).first()
        if existing is not None:
            if existing.status_code is None and existing.created_at < now - ABANDONED_AFTER:
                session.delete(existing)  # its request died with its process: the key is free again
                session.flush()
                continue
            if existing.request_hash != request_hash:
                return Claimed(Claim.MISMATCH, existing)
            if existing.status_code is None:
                return Claimed(Claim.IN_PROGRESS, existing)
            return Claimed(Claim.REPLAY, existing)
        record = IdempotencyRecord(user_id=user_id, key_hash=key_hash, request_hash=request_hash, created_at=now)
        try:
            with session.begin_nested():
                session.add(record)
        except IntegrityError:  # a concurrent request with the same key claimed it first
            continue
        return Claimed(Claim.NEW, record)
    raise RuntimeError("could not claim the idempotency key")


def complete(session: Session, *, record_id: int, status_code: int, headers: list[list[str]], body: bytes) -> None:
    """Keep the answer of the request that claimed ``record_id``. The caller commits."""
    record = session.get(IdempotencyRecord, record_id)
    if record is not None:
        record.status_code, record.headers, record.body = status_code, headers, body
        session.add(record)


def release(session: Session, *, record_id: int) -> None:
    """Forget a claim whose request did not succeed, so the client may retry with the same key."""
    session.exec(delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == record_id))
