"""Accounts (admin only): one account per person."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError

from api.deps import AdminUser, RequireAdmin, SessionDep
from api.models import UserCreate, UserPublic
from dispatch.accounts import AccountError, create_user
from dispatch.audit import append_event

router = APIRouter(prefix="/users", tags=["users"], dependencies=[RequireAdmin])


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
    return UserPublic.model_validate(user, from_attributes=True)
