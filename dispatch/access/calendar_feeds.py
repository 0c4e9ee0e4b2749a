"""Calendar feeds: a secret address per medic that a calendar app subscribes to.

Calendar apps fetch a subscribed URL every few hours and cannot sign in or send a header, so the
address itself is the credential, like any calendar's "secret address": 256 random bits, stored
only as a sha256 digest, read-only, good for nothing but that medic's own calendar, and revoked by
issuing a new one or deleting it. The calendar carries no patient names or phones (see
:mod:`api.sheet_views`), and the server's access log shows the address with the token cut out.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from dispatch.access.accounts import User, may_sign_in, medic_is_active, token_digest
from dispatch.store.tables import CalendarFeed, now_utc


@dataclass(frozen=True)
class IssuedFeed:
    """A feed token as handed to its medic: the only time it exists outside the calendar app."""

    token: str
    feed_id: int
    revoked: int

    def __repr__(self) -> str:  # never print the token
        return f"IssuedFeed(feed_id={self.feed_id}, revoked={self.revoked})"


def revoke_feeds(session: Session, *, user_id: int) -> int:
    """Revoke every live feed of an account; how many were revoked."""
    result = session.exec(
        update(CalendarFeed)
        .where(col(CalendarFeed.user_id) == user_id)
        .where(col(CalendarFeed.revoked_at).is_(None))
        .values(revoked_at=now_utc())
    )
    return int(result.rowcount)


def issue_feed(session: Session, *, user_id: int) -> IssuedFeed:
    """A new feed token for ``user_id``; the account's earlier feeds stop working (one live feed each)."""
    revoked = revoke_feeds(session, user_id=user_id)
    token = secrets.token_urlsafe(32)
    row = CalendarFeed(user_id=user_id, token_hash=token_digest(token), created_at=now_utc())
    session.add(row)
    session.flush()
    assert row.id is not None
    return IssuedFeed(token=token, feed_id=row.id, revoked=revoked)


def find_feed(session: Session, token: str) -> tuple[User, CalendarFeed] | None:
    """The active account and feed behind ``token``; None if unknown or revoked, or the account is inactive."""
    if not token or len(token) > 200:
        return None
    row = session.exec(select(CalendarFeed).where(CalendarFeed.token_hash == token_digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not may_sign_in(user, medic_is_active(session, user)):
        return None
    return user, row
