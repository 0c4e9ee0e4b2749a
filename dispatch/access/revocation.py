"""Ending an account's access at once: every bearer token, sign-in session and calendar feed.

Access to patient data ends the moment an account is disabled or the medic behind it is
deactivated. Two things make that hold. Every credential check looks at the account and at its
medic (:func:`dispatch.access.accounts.find_token`, :func:`dispatch.access.calendar_feeds.find_feed`), so a
disabled account's live token is refused on its very next request. And disabling revokes the
tokens and feeds themselves, so re-enabling the account later does not bring an old token, or a
feed address on a lost phone, back to life: the person signs in again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session, select

from dispatch.access.accounts import AccountError, User, revoke_user_tokens
from dispatch.access.calendar_feeds import revoke_feeds
from dispatch.records.validation import NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Revoked:
    """What one account lost: live tokens (bearer and session) and calendar feeds."""

    tokens: int = 0
    feeds: int = 0


def end_access(session: Session, *, user_id: int) -> Revoked:
    """Revoke every live token, session and feed of ``user_id`` (the caller commits)."""
    revoked = Revoked(tokens=revoke_user_tokens(session, user_id=user_id), feeds=revoke_feeds(session, user_id=user_id))
    log.info("account %s: access ended (%s tokens, %s feeds)", user_id, revoked.tokens, revoked.feeds)
    return revoked


def end_medic_access(session: Session, *, medic_id: int) -> Revoked:
    """A deactivated medic's account, if any, loses every token, session and feed."""
    user = session.exec(select(User).where(User.medic_id == medic_id)).first()
    if user is None or user.id is None:
        return Revoked()
    return end_access(session, user_id=user.id)


def set_account_active(session: Session, *, user_id: int, active: bool, acting_user_id: int | None = None) -> User:
    """Enable or disable an account; disabling ends its access at once. Nobody disables their own account
    (the last admin could lock everyone out): that is an :class:`AccountError` on ``active``."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user")
    if not active and acting_user_id is not None and acting_user_id == user_id:
        raise AccountError("active", "you cannot disable your own account.", conflict=True)
    user.active = active
    session.add(user)
    if not active:
        end_access(session, user_id=user_id)
    session.flush()
    return user


def list_accounts(session: Session, *, active: bool | None = None, offset: int = 0, limit: int = 500) -> list[User]:
    """Accounts by id (only the active or disabled ones when ``active`` is given)."""
    query = select(User)
    if active is not None:
        query = query.where(User.active == active)
    return list(session.exec(query.order_by(User.id).offset(offset).limit(limit)))  # type: ignore[arg-type]
