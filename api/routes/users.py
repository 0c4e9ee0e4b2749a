"""Accounts (admin only): one account per person; list them, add one, disable or re-enable one.

Disabling an account (``PATCH /users/{id}`` with ``{"active": false}``) ends every token, sign-in
session and calendar feed of it at once (:mod:`dispatch.access.revocation`); re-enabling it lets the
person sign in again, with new tokens. Nobody disables their own account.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError

from api.deps import AdminUser, Limit, Offset, PathId, RequireAdmin, SessionDep, audit
from api.errors import documented
from api.models import UserCreate, UserPublic, UserUpdate
from dispatch.access.accounts import AccountError, User, create_user
from dispatch.access.audit import append_event
from dispatch.access.revocation import list_accounts, set_account_active
from dispatch.records.validation import NotFound

router = APIRouter(prefix="/users", tags=["users"], dependencies=[RequireAdmin])
NOT_FOUND = documented(404, "no account with this id")


def user_public(user: User) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


@router.get("", response_model=list[UserPublic])
def read_users(
    session: SessionDep, active: bool | None = None, offset: Offset = 0, limit: Limit = 500
) -> list[UserPublic]:
    """Every account (or only the enabled or disabled ones), by id."""
    return [user_public(user) for user in list_accounts(session, active=active, offset=offset, limit=limit)]


@router.get("/{user_id}", response_model=UserPublic, responses=NOT_FOUND)
def read_user(user_id: PathId, session: SessionDep) -> UserPublic:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user")
    return user_public(user)


@router.patch(
    "/{user_id}",
    response_model=UserPublic,
    responses={**NOT_FOUND, 409: {"description": "you cannot disable your own account"}},
)
def edit_user(user_id: PathId, body: UserUpdate, admin: AdminUser, session: SessionDep) -> UserPublic:
    """Disable (``active: false``: every token, session and feed ends now) or re-enable an account."""
    if body.active is None:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("user")
        return user_public(user)
    try:
        user = set_account_active(session, user_id=user_id, active=body.active, acting_user_id=admin.id)
    except AccountError as error:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, error.message) from None
    audit(
        session,
        admin,
        action="write",
        resource="user",
        resource_ids=[user_id],
        outcome="enabled" if body.active else "disabled",
    )
    return user_public(user)


@router.post(
    "",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "the username, or the medic, already has an account"}},
)
def add_user(body: UserCreate, admin: AdminUser, session: SessionDep) -> UserPublic:
    """Create an account; a medic account names its medic."""
    try:
        user = create_user(
            session, username=body.username, password=body.password, role=body.role, medic_id=body.medic_id
        )
    except AccountError as error:
        session.rollback()
        append_event(session, actor_user_id=admin.id, action="write", resource="user", outcome="rejected")
        session.commit()
        if error.conflict:
            raise HTTPException(status.HTTP_409_CONFLICT, f"{error.field} {error.message}") from None
        raise RequestValidationError(
            [{"loc": ("body", error.field), "msg": error.message, "type": "value_error"}]
        ) from None
    except IntegrityError:  # a concurrent request took the username or the medic first
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, "username or medic_id already has an account") from None
    append_event(
        session, actor_user_id=admin.id, action="write", resource="user", resource_ids=[user.id or 0], outcome="created"
    )
    session.commit()
    return user_public(user)
