"""Request bodies are bounded before anything parses them: size (413) and JSON nesting (400).

Without a bound, a 100 MB body to ``/auth/token`` is read and parsed in full before its 422, and
JSON nested 100,000 levels deep overflows the parser's recursion (a 500). Here a body whose
``Content-Length`` is over ``[api] max_body_bytes`` is refused before a byte of it is read; one
sent in chunks is refused as soon as the chunks pass the limit. A JSON body is then checked for
depth on its raw bytes, where the check cannot recurse: string literals are cut out, and the
innermost bracket pairs are removed pass by pass, so a body deeper than ``[api] max_json_depth``
is still not empty after that many passes. Each pass is one regular-expression substitution in C.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: a JSON string literal (escapes included): what may hold brackets that are not structure
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")
_JSON_TYPES = (b"application/json", b"+json")


def json_too_deep(body: bytes, limit: int) -> bool:
    """Whether ``body``'s arrays and objects nest deeper than ``limit`` (brackets inside strings do not count).

    Malformed bodies are judged by what could make a parser recurse: after ``limit`` passes, any
    bracket left (matched or not) means a parser could have gone deeper than ``limit``.
    """
    if body.count(b"[") + body.count(b"{") <= limit:  # the usual body: too few brackets to be too deep
        return False
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        shorter = _INNERMOST.sub(b"", brackets)
        if shorter == brackets:  # unbalanced: no pair left to remove; this many brackets is as deep as it gets
            return len(brackets) > limit
        brackets = shorter
    return bool(brackets)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media_type = value.split(b";")[0].strip().lower()
            return media_type == _JSON_TYPES[0] or media_type.endswith(_JSON_TYPES[1])
    return False


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands on ``body`` (already read whole) as one message, then whatever ``receive`` says
    (a disconnect): how a middleware that had to read the body passes it on."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class RequestLimitMiddleware:
    """Reads a request's body (at most ``max_bytes``), checks its JSON depth, then hands it on unchanged."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_json_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is larger than {self.max_bytes} bytes"
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, 413, too_large)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _refuse(send, 413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _is_json(scope) and json_too_deep(body, self.max_json_depth):
            await _refuse(send, 400, f"the JSON body nests deeper than {self.max_json_depth} levels")
            return
        await self.app(scope, replaying(body, receive), send)
