"""Error bodies and response headers that leak nothing.

* 422 bodies name the field (``loc``), the reason (``msg``) and the error ``type``, but never echo the
  offending input: it may be a patient's name or phone.
* Any unhandled exception becomes ``500 {"detail": "internal error"}``. Only the exception's class is
  logged: the text of a database error can quote the row it failed on.
* Every response gets ``Cache-Control: no-store`` unless a route set its own, plus headers that keep pages
  out of frames and URLs out of Referer headers.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.validation import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)

INTERNAL_ERROR = {"detail": "internal error"}

SECURITY_HEADERS: dict[bytes, bytes] = {
    b"cache-control": b"no-store",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
}


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    """loc, msg and type of each error: no input, no ctx (which can quote it), no url."""
    return [
        {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
        for error in errors
    ]


async def request_validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": validation_errors(exc.errors())}, status_code=422)


async def invalid_input_handler(request: Request, exc: Exception) -> JSONResponse:
    """A business rule a field breaks (a past day, an unknown service): 422 in the same shape as pydantic's."""
    assert isinstance(exc, InvalidInput)
    detail = [{"loc": [exc.part, *loc], "msg": reason, "type": "value_error"} for loc, reason in exc.errors]
    return JSONResponse({"detail": detail}, status_code=422)


#: the routes a phone's browser opens: asked to sign in, they send it to the sign-in page
BROWSER_PAGES = frozenset({"get_route_sheet_page", "today_page"})
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
