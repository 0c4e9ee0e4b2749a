"""Accounts and bearer tokens.

One account per person (``username`` is unique); passwords are hashed with
Argon2id (argon2-cffi). A login issues a random bearer token that lives for a
short while (``[api] token_minutes``, 30 by default) and can be revoked; the
database keeps only its sha256 digest, so a copy of the database holds no
usable token. Neither passwords nor tokens are ever logged.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlmodel import Session, col, select

from dispatch.store.tables import AccountRole, ApiToken, Medic, TokenKind, User, now_utc

log = logging.getLogger(__name__)

DEFAULT_TOKEN_TTL = timedelta(minutes=30)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # Argon2 takes any length; a cap keeps a login from being a CPU sink

_hasher = PasswordHasher()  # Argon2id with the library's current recommended cost
#: verified against when the username is unknown, so both failures take the same time
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A rejected account change; ``field`` names the offending input, ``conflict`` marks a taken name or medic."""

    def __init__(self, field: str, message: str, *, conflict: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.conflict = conflict


@dataclass(frozen=True)
class IssuedToken:
    """A token as handed to the client: the only time the token itself exists outside the client."""

    token: str
    expires_at: datetime
    user_id: int
    token_id: int

    def __repr__(self) -> str:  # never print the token
        return f"IssuedToken(user_id={self.user_id}, token_id={self.token_id}, expires_at={self.expires_at})"


def token_digest(token: str) -> str:
    """What the database stores for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    _check_password(password)
    return _hasher.hash(password)


def _check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError("password", f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long.")


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: AccountRole | str,
    medic_id: int | None = None,
) -> User:
    """Add an account. A medic account needs an existing ``medic_id``; other roles take none.

    Raises :class:`AccountError` naming the field (username taken, password too short, unknown medic, ...).
    """
    try:
        role = AccountRole(role)
    except ValueError:
        raise AccountError("role", f"must be one of {[r.value for r in AccountRole]}.") from None
    username = username.strip() if isinstance(username, str) else ""
    if not 1 <= len(username) <= 100 or any(ch.isspace() for ch in username):
        raise AccountError("username", "must be 1 to 100 characters without spaces.")
    if role is AccountRole.MEDIC:
        if medic_id is None:
            raise AccountError("medic_id", "is required for a medic account.")
        if session.get(Medic, medic_id) is None:
            raise AccountError("medic_id", f"{medic_id} is not a known medic.")
        if session.exec(select(User).where(User.medic_id == medic_id)).first() is not None:
            raise AccountError("medic_id", f"{medic_id} already has an account.", conflict=True)
    elif medic_id is not None:
        raise AccountError("medic_id", f"is only for medic accounts, not {role.value}.")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise AccountError("username", "is already taken.", conflict=True)
    user = User(username=username, password_hash=hash_password(password), role=role, medic_id=medic_id)
    session.add(user)
    session.flush()
    log.info("account %s created (role %s)", user.id, role.value)
    return user


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    ttl: timedelta = DEFAULT_TOKEN_TTL,
    kind: TokenKind = TokenKind.BEARER,
    ttl_by_role: Mapping[AccountRole, timedelta] | None = None,
) -> IssuedToken | None:
    """A new token for an active account whose password matches, else None.

    The token lives ``ttl``, or its role's entry in ``ttl_by_role``. An unknown username costs the
    same Argon2 verification as a wrong password.
    """
    user = session.exec(select(User).where(User.username == username)).first() if username else None
    if len(password) > MAX_PASSWORD_LENGTH:
        return None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.id is None or not may_sign_in(user, medic_is_active(session, user)):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.add(user)
    lifetime = (ttl_by_role or {}).get(user.role, ttl)
    return issue_token(session, user_id=user.id, ttl=lifetime, kind=kind)


def issue_token(
    session: Session, *, user_id: int, ttl: timedelta = DEFAULT_TOKEN_TTL, kind: TokenKind = TokenKind.BEARER
) -> IssuedToken:
    """Store a fresh random token for ``user_id`` (256 bits), valid for ``ttl``."""
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive.")
    token = secrets.token_urlsafe(32)
    now = now_utc()
    row = ApiToken(user_id=user_id, token_hash=token_digest(token), created_at=now, expires_at=now + ttl, kind=kind)
    session.add(row)
    session.flush()
    assert row.id is not None
    return IssuedToken(token=token, expires_at=row.expires_at, user_id=user_id, token_id=row.id)


def find_token(
    session: Session, token: str, *, now: datetime | None = None, kind: TokenKind = TokenKind.BEARER
) -> tuple[User, ApiToken] | None:
    """The active account and ``kind`` token row behind a valid ``token``; None if unknown, expired, revoked or
    of another kind."""
    if not token or len(token) > 200:
        return None
    found = session.exec(
        select(ApiToken, User, Medic.active)
        .join(User, col(User.id) == col(ApiToken.user_id))
        .outerjoin(Medic, col(Medic.id) == col(User.medic_id))
        .where(ApiToken.token_hash == token_digest(token))
    ).first()
    if found is None:
        return None
    row, user, medic_active = found
    if row.kind != kind or row.revoked_at is not None or row.expires_at <= (now or now_utc()):
        return None
    if not may_sign_in(user, medic_active):
        return None
    return user, row


def may_sign_in(user: User, medic_active: bool | None) -> bool:
    """An account works while it is enabled and, for a medic's account, while that medic is active."""
    return user.active and (user.medic_id is None or bool(medic_active))


def medic_is_active(session: Session, user: User) -> bool | None:
    """Whether the account's medic is active (None: the account is no medic's)."""
    if user.medic_id is None:
        return None
    medic = session.get(Medic, user.medic_id)
    return medic is not None and medic.active


def resolve_token(
    session: Session, token: str, *, now: datetime | None = None, kind: TokenKind = TokenKind.BEARER
) -> User | None:
    """The active account behind a valid ``kind`` token; None if unknown, expired, revoked or of another kind."""
    found = find_token(session, token, now=now, kind=kind)
    return found[0] if found else None


def revoke_token(session: Session, token: str) -> bool:
    """Revoke ``token``; False if it was unknown or already revoked."""
    result = session.exec(
        update(ApiToken)
        .where(col(ApiToken.token_hash) == token_digest(token))
        .where(col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=now_utc())
    )
    return bool(result.rowcount)


def revoke_user_tokens(session: Session, *, user_id: int) -> int:
    """Revoke every live token of an account (a lost phone, a person leaving); how many were revoked."""
    result = session.exec(
        update(ApiToken)
        .where(col(ApiToken.user_id) == user_id)
        .where(col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=now_utc())
    )
    return int(result.rowcount)
