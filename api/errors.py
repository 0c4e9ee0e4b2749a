"""Error bodies and response headers that leak nothing.

* 422 bodies name the field (``loc``), the reason (``msg``) and the error ``type``, but never echo the
  offending input: it may be a patient's name or phone. A key the client wrote (an unknown field,
  a map's key) is named by its position in its object (``key 3``), not by its text.
* Any unhandled exception becomes ``500 {"detail": "internal error"}``. Only the exception's class is
  logged: the text of a database error can quote the row it failed on.
* Every response gets ``Cache-Control: no-store`` unless a route set its own, plus headers that keep pages
  out of frames and URLs out of Referer headers.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.records.validation import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)

INTERNAL_ERROR = {"detail": "internal error"}

SECURITY_HEADERS: dict[bytes, bytes] = {
    b"cache-control": b"no-store",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
}

#: the ``responses=`` of a route: the error answers it documents in the OpenAPI schema
Responses = dict[int | str, dict[str, Any]]


def documented(status: int, description: str) -> Responses:
    """One error answer for a route's ``responses=``: its status and what it means."""
    return {status: {"description": description}}


#: what a field name looks like; any other key in a location is the client's text, not ours
FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")


def _key_position(body: Any, parents: list[Any], key: str) -> str:
    """``key N``: where ``key`` is in the object at ``parents`` of ``body`` (1 = first), or ``key ?``."""
    node = body
    for step in parents:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return "key ?"
    if isinstance(node, dict):
        for number, name in enumerate(node, start=1):
            if name == key:
                return f"key {number}"
    return "key ?"


def safe_location(loc: Any, body: Any = None, *, unknown_key: bool = False) -> list[Any]:
    """``loc`` with every key that the client wrote (an unknown field, a key of a map) named by its position.

    A key is the client's text, and a client that misuses keys may put a patient's name in one.
    """
    parts = list(loc)
    safe: list[Any] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        clients_text = isinstance(part, str) and index > 0 and ((unknown_key and last) or not FIELD_NAME.match(part))
        if clients_text:
            parents = [p for p in parts[1:index]]  # loc[0] is "body", "query", ...
            safe.append(_key_position(body, parents, part))
        else:
            safe.append(part)
    return safe


def validation_errors(errors: Any, body: Any = None) -> list[dict[str, Any]]:
    """loc, msg and type of each error: no input, no ctx (which can quote it), no url, and no key the client
    wrote (see :func:`safe_location`)."""
    return [
        {
            "loc": safe_location(error.get("loc", ()), body, unknown_key=error.get("type") == "extra_forbidden"),
            "msg": "is not a field of this object"
            if error.get("type") == "extra_forbidden"
            else str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in errors
    ]


async def request_validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": validation_errors(exc.errors(), exc.body)}, status_code=422)


async def invalid_input_handler(request: Request, exc: Exception) -> JSONResponse:
    """A business rule a field breaks (a past day, an unknown service): 422 in the same shape as pydantic's."""
    assert isinstance(exc, InvalidInput)
    detail = [{"loc": [exc.part, *loc], "msg": reason, "type": "value_error"} for loc, reason in exc.errors]
    return JSONResponse({"detail": detail}, status_code=422)


#: the routes a phone's browser opens: asked to sign in, they send it to the sign-in page
BROWSER_PAGES = frozenset({"get_route_sheet_page", "today_page"})
#: the console's pages: asked to sign in, they send the browser to the console's sign-in page
CONSOLE_PAGES = frozenset({"console_today", "console_board", "console_new_booking", "console_edit_booking"})
NO_ROUTE_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>No route</title></head>'
    '<body style="font: 18px/1.4 system-ui, sans-serif; padding: 12px">'
    "<h1>No route for this day</h1><p>Nothing is published for you on this day yet. "
    "Your dispatcher publishes the plan; pull to refresh later.</p></body></html>"
)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """FastAPI's own handling, except that a browser page answers 'not signed in' with the sign-in page."""
    assert isinstance(exc, StarletteHTTPException)
    route = request.scope.get("route")
    if getattr(route, "name", None) in CONSOLE_PAGES and exc.status_code == 401:
        return RedirectResponse("/console/login", status_code=303)
    if getattr(route, "name", None) in BROWSER_PAGES:
        if exc.status_code == 401:
            return RedirectResponse("/login", status_code=303)
        if exc.status_code == 404:  # a person reads this, on a phone
            return HTMLResponse(
                NO_ROUTE_PAGE, status_code=404, headers={"Content-Security-Policy": "default-src 'none'"}
            )
    return await http_exception_handler(request, exc)


async def not_found_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound)
    return JSONResponse({"detail": f"{exc.resource} not found"}, status_code=404)


async def conflict_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Conflict)
    return JSONResponse({"detail": exc.message}, status_code=409)


async def audit_unavailable_handler(request: Request, exc: Exception) -> JSONResponse:
    """Patient data is never sent unaudited: while the audit trail cannot be written, the read waits (503)."""
    log.warning("a read was refused: its audit event could not be committed")
    return JSONResponse(
        {"detail": "the audit trail cannot be written just now; try again shortly"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


class SafetyMiddleware:
    """Adds the security headers, and turns an unhandled exception into a generic 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS.items() if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            route = scope.get("route")
            log.error("unhandled %s in %s %s", type(error).__name__, scope.get("method"), getattr(route, "path", "?"))
            if started:  # the response is under way; nothing sensible can be sent any more
                return
            response = JSONResponse(INTERNAL_ERROR, status_code=500)
            await response(scope, receive, send_with_headers)
