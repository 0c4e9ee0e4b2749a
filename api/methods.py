"""HEAD and OPTIONS for every route, as HTTP says (RFC 9110, sections 9.3.2 and 9.3.7).

FastAPI registers a GET route for GET alone, so a HEAD (a phone checking whether its sheet
changed, a link checker) got 405. Here a HEAD runs as a GET, with its authentication and its
audit, and sends the same status and headers without the body. An OPTIONS request that is not a
CORS preflight (those belong to the CORS middleware) answers 204 with ``Allow``: the router
already knows a path's methods and says them in the 405 it answers to a method it has no route
for, so that answer's ``Allow`` is the one sent. An unknown path is still a 404.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAndOptionsMiddleware:
    """Answers HEAD through the GET route, and OPTIONS with the methods the router has for the path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] == "HEAD":
            await self.app({**scope, "method": "GET"}, receive, _without_body(send))
        elif scope["method"] == "OPTIONS" and not _is_preflight(scope):
            await self.app(scope, receive, _allow_from_405(send))
        else:
            await self.app(scope, receive, send)


def _is_preflight(scope: Scope) -> bool:
    return any(name == b"access-control-request-method" for name, _ in scope.get("headers", []))


def _without_body(send: Send) -> Send:
    """Passes the response start (Content-Length included, as for the GET) and drops the body."""

    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            if not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b""})
            return
        await send(message)

    return send_head


def _allow_from_405(send: Send) -> Send:
    """Turns the router's 405 (with its Allow) into 204 with Allow; any other answer goes through."""
    answered = False

    async def send_options(message: Message) -> None:
        nonlocal answered
        if message["type"] == "http.response.start" and message["status"] == 405:
            allow = next((value for name, value in message.get("headers", []) if name.lower() == b"allow"), b"")
            methods = {m.strip().upper() for m in allow.decode("latin-1").split(",") if m.strip()}
            if "GET" in methods:
                methods.add("HEAD")
            methods.add("OPTIONS")
            answered = True
            headers = [(b"allow", ", ".join(sorted(methods)).encode()), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if answered:  # the 405's body: already answered
            return
        await send(message)

    return send_options
