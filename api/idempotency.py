"""``Idempotency-Key`` on every POST: the same key and request again within 24 hours gets the first
answer back (``Idempotent-Replayed: true``), and nothing is created twice (see
:mod:`dispatch.store.idempotency`).

The key is scoped to the account behind the Bearer token, so a retry after the client fetched a
new token still matches, and nobody can replay another account's answer. A POST without a valid
token passes through untouched: the route answers its 401. The request body has already been
bounded (:mod:`api.request_limits` runs first). A replay sends patient data again, so it is audited
as a read, like any other.
"""

from __future__ import annotations

import json

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.request_limits import replaying
from dispatch.access.accounts import TokenKind, resolve_token
from dispatch.access.audit import AuditEntry, append_events
from dispatch.store.db import session_scope
from dispatch.store.idempotency import Claim, claim_key, complete, release, request_digest, valid_key

#: the answer's headers kept for a replay (the rest, such as security headers, are added again)
KEPT_HEADERS = frozenset({b"content-type", b"location", b"etag"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _problem(send: Send, status: int, detail: object) -> None:
    await _answer(send, status, json.dumps({"detail": detail}).encode(), [(b"content-type", b"application/json")])


class IdempotencyMiddleware:
    """Claims a POST's key before the route runs; keeps a success, replays it, or refuses a misuse."""

    def __init__(self, app: ASGIApp, *, engine: Engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" and scope["method"] == "POST" else None
        if key is None:
            await self.app(scope, receive, send)
            return
        if not valid_key(key):
            await _problem(
                send,
                400,
                [
                    {
                        "loc": ["header", "Idempotency-Key"],
                        "msg": "must be 1 to 255 visible characters",
                        "type": "value_error",
                    }
                ],
            )
            return
        authorization = _header(scope, b"authorization") or ""
        token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
        user_id = await run_in_threadpool(self._user_id, token) if token else None
        if user_id is None:
            await self.app(scope, receive, send)
            return
        body, receive = await _buffer(receive)
        digest = request_digest("POST", scope["path"], scope.get("query_string", b"").decode("latin-1"), body)
        claimed = await run_in_threadpool(self._claim, user_id, key, digest)
        if claimed is None:
            await self.app(scope, receive, send)
            return
        claim, record_id, status, headers, kept = claimed
        if claim is Claim.MISMATCH:
            await _problem(
                send,
                422,
                [
                    {
                        "loc": ["header", "Idempotency-Key"],
                        "msg": "was already used for a different request; use a new key for a new request",
                        "type": "idempotency_key_reused",
                    }
                ],
            )
            return
        if claim is Claim.IN_PROGRESS:
            await _problem(send, 409, "a request with this Idempotency-Key is still running; retry in a moment")
            return
        if claim is Claim.REPLAY:
            await run_in_threadpool(self._audit_replay, user_id, record_id)
            replay_headers = [(name.encode(), value.encode()) for name, value in headers]
            await _answer(send, status, kept, [*replay_headers, (b"idempotent-replayed", b"true")])
            return
        await self._run_and_keep(scope, receive, send, record_id)

    async def _run_and_keep(self, scope: Scope, receive: Receive, send: Send, record_id: int) -> None:
        status = 500
        headers: list[list[str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers.extend(
                    [name.decode("latin-1"), value.decode("latin-1")]
                    for name, value in message.get("headers", [])
                    if name.lower() in KEPT_HEADERS
                )
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if 200 <= status < 300:
                await run_in_threadpool(self._complete, record_id, status, headers, b"".join(chunks))
            else:
                await run_in_threadpool(self._release, record_id)

    # ------------------------------------------------------------------ database work, in worker threads

    def _user_id(self, token: str) -> int | None:
        with session_scope(self.engine) as session:
            user = resolve_token(session, token, kind=TokenKind.BEARER)
            return user.id if user is not None else None

    def _claim(self, user_id: int, key: str, digest: str) -> tuple[Claim, int, int, list[list[str]], bytes] | None:
        with session_scope(self.engine) as session:
            claimed = claim_key(session, user_id=user_id, key=key, request_hash=digest)
            record = claimed.record
            if record.id is None:
                return None
            return claimed.claim, record.id, record.status_code or 0, list(record.headers), record.body or b""

    def _complete(self, record_id: int, status: int, headers: list[list[str]], body: bytes) -> None:
        with session_scope(self.engine) as session:
            complete(session, record_id=record_id, status_code=status, headers=headers, body=body)

    def _release(self, record_id: int) -> None:
        with session_scope(self.engine) as session:
            release(session, record_id=record_id)

    def _audit_replay(self, user_id: int, record_id: int) -> None:
        with session_scope(self.engine) as session:
            append_events(session, [AuditEntry(user_id, "read", "idempotent_replay", [f"request:{record_id}"])])


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (already bounded in size), and a receive that hands it on again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, replaying(body, receive)
