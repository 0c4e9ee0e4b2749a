"""Sign in and out.

``POST /auth/token`` takes ``username`` and ``password`` as JSON or as an OAuth2 password form (what the
docs' Authorize button sends) and returns a short-lived bearer token. ``POST /auth/revoke`` ends the
calling token. Logins are audited (``login``: ok or failed, the account id when known); the username
typed and the password are never stored or logged.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import UNAUTHENTICATED, CurrentUser, SessionDep, SettingsDep, TokenDep
from api.models import TokenPublic, TokenRequest
from dispatch.accounts import authenticate, find_token, revoke_token
from dispatch.audit import append_event

log = logging.getLogger(__name__)
router = APIRouter(prefix="/auth", tags=["auth"])

#: the OAuth2 password-grant fields a form may carry besides username and password
OAUTH2_FORM_FIELDS = frozenset({"grant_type", "scope", "client_id", "client_secret"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _invalid(loc: tuple[str, ...], msg: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": loc, "msg": msg, "type": kind}])


async def login_body(request: Request) -> TokenRequest:
    """The credentials, from a JSON body or a form; unknown fields are a 422."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data: Any
    if media_type == "application/json":
        try:
            data = await request.json()
        except ValueError:
            raise _invalid(("body",), "JSON decode error", "json_invalid") from None
    elif media_type in FORM_TYPES:
        form = await request.form()
        data = {key: value for key, value in form.items() if key not in OAUTH2_FORM_FIELDS}
        grant = form.get("grant_type")
        if grant is not None and grant != "password":
            raise _invalid(("body", "grant_type"), "only the password grant is supported", "value_error")
    else:
        raise _invalid(("body",), "send application/json or a form", "content_type")
    try:
        return TokenRequest.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None


_schema = TokenRequest.model_json_schema()


@router.post(
    "/token",
    response_model=TokenPublic,
    responses={401: {"description": "wrong username or password, or an inactive account"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _schema},
                "application/x-www-form-urlencoded": {"schema": _schema},
            },
        }
    },
)
def issue_token(
    credentials: Annotated[TokenRequest, Depends(login_body)], session: SessionDep, settings: SettingsDep
) -> TokenPublic:
    """A bearer token for ``[api] token_minutes`` (30 by default)."""
    ttl = timedelta(minutes=settings.api.token_minutes)
    issued = authenticate(session, username=credentials.username, password=credentials.password, ttl=ttl)
    append_event(
        session,
        actor_user_id=issued.user_id if issued else None,
        action="login",
        resource="api_token",
        resource_ids=[issued.token_id] if issued else [],
        outcome="ok" if issued else "failed",
    )
    session.commit()
    if issued is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "incorrect username or password", headers={"WWW-Authenticate": "Bearer"}
        )
    log.info("account %s signed in", issued.user_id)
    return TokenPublic(access_token=issued.token, expires_at=issued.expires_at)


@router.post("/revoke", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def revoke(user: CurrentUser, token: TokenDep, session: SessionDep) -> Response:
    """End the calling token now."""
    found = find_token(session, token or "")
    if found is None:  # revoked or expired between the auth check and here
        raise UNAUTHENTICATED
    revoke_token(session, token or "")
    append_event(
        session,
        actor_user_id=user.id,
        action="write",
        resource="api_token",
        resource_ids=[found[1].id or 0],
        outcome="revoked",
    )
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
