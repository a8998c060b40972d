"""What every failure looks like: a 4xx that says what is wrong and how to fix it, never a bare 500.

- Errors the caller can cause are ``HTTPException``s with a sentence as ``detail``: JSON (``{"detail": "..."}``)
  for the API and for clients that ask for JSON, an HTML page otherwise.
- A request body larger than ``MAX_BODY_BYTES`` is refused with a 413 before anything reads it into memory.
- Anything unexpected becomes a generic 500 page (the error is logged with an id the page shows), produced inside
  the middleware stack so that it carries the security headers like every other answer.

The ``*_ERRORS`` dicts document these answers in the OpenAPI document, so that it describes what the API does.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.scenarios import describe_errors

log = logging.getLogger("app.errors")

# A scenario travels in at most 128 KB of JSON (the most a link may inflate to) and a schedule in at most
# 2,000 x 49 characters; 512 KB holds both with room to spare, and nothing legitimate is larger.
MAX_BODY_BYTES = 512 * 1024


class ErrorOut(BaseModel):
    """Every error answer of the API: one or more sentences naming the problem and the fix."""

    detail: str


def _json(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _json("The request body is not valid JSON."),
    413: _json("The request body is larger than 512 KB."),
    422: _json("The request is not valid: the detail names each problem and how to fix it."),
}
SCENARIO_ERRORS: dict[int | str, dict[str, Any]] = {
    **API_ERRORS,
    404: _json("There is no built-in scenario with this id; the detail lists the known ones."),
}
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "The link is incomplete or uses a link format this server does not know (a page); or the "
        "request line is longer than about 64 KB (the server's own plain-text answer, before the app runs).",
        "content": {
            "text/html": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    404: _html("There is no such scenario."),
    422: _html("The link's scenario, schedule or step cannot be used; the page says why."),
}


class PageError(HTTPException):
    """An error that knows the ways forward from it: links (label, address) the error page offers first, before
    the gallery (the nearest valid step of a link, the scenario, ...). JSON answers carry only the detail."""

    def __init__(
        self, status: int, detail: str, forward: list[tuple[str, str]], headers: dict[str, str] | None = None
    ):
        super().__init__(status, detail, headers)
        self.forward = forward


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def error_response(
    request: Request,
    templates: Jinja2Templates,
    status: int,
    detail: str,
    headers: Any = None,
    forward: list[tuple[str, str]] | None = None,
) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    ways = [{"label": label, "href": href} for label, href in forward or []]
    html = templates.get_template("pages/error.html").render(
        request=request, status=status, message=detail, forward=ways
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    """Answer HTTP errors and invalid requests as JSON for the API and as a page for people."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail, headers = str(exc.detail), exc.headers
        if detail == "There was an error parsing the body":  # FastAPI's words for a body that is not JSON
            detail = "The request body is not valid JSON: send a JSON object encoded as UTF-8."
        if exc.status_code == 405:
            # Starlette names the methods of the first route that matched the path; a path served by several
            # routes supports all of theirs.
            allowed = _allowed_methods(app, request.scope)
            headers = {"Allow": ", ".join(allowed)}
            detail = f"{request.method} is not supported here; use {' or '.join(allowed)}."
        if exc.status_code == 404 and detail == "Not Found":  # no route: say which address was not found
            detail = (
                f"There is no page at {request.url.path[:200]}. Check the address, or start from the scenarios, "
                "the course or the editor."
            )
        forward = getattr(exc, "forward", None)
        return error_response(request, templates, exc.status_code, detail, headers, forward)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        detail = f"The request is not valid: {describe_errors(exc.errors(), skip=('body',), top='body')}."
        return error_response(request, templates, 422, detail)


def _allowed_methods(app: Any, scope: Scope) -> list[str]:
    """The methods some route answers at this path, asked of the router method by method. A path written out in
    full in the OpenAPI document (/api/scenarios/validate) is its own resource: the methods documented for it,
    not also those of a templated route that matches it too (/api/scenarios/{scenario_id})."""
    documented = app.openapi().get("paths", {}).get(scope["path"])
    if documented:
        return [method.upper() for method in documented if method.upper() in _METHODS]
    return [
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in app.router.routes)
    ]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class Guard:
    """ASGI middleware between the security headers and the app: refuses oversized bodies, catches the unexpected.

    It sits inside ``SecurityHeaders`` so that both of its answers carry the headers; Starlette's own last-resort
    500 handler sits outside every middleware and would not.
    """

    def __init__(self, app: ASGIApp, templates: Jinja2Templates, max_body: int = MAX_BODY_BYTES):
        self.app = app
        self.templates = templates
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bounded = await self._bounded(scope, receive, send)
        if bounded is None:
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded, tracking)
        except Exception:
            error_id = uuid.uuid4().hex[:8]
            log.exception("Unexpected error %s answering %s %s", error_id, scope["method"], scope["path"])
            if started:
                raise  # the answer is half sent: the server can only drop the connection
            await self._unexpected(scope, receive, send, error_id)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """The body's receive channel, or None once a 413 was sent for a body over the limit."""
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_body:
                await self._too_large(scope, receive, send)
                return None
            return receive
        if scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            return receive
        # A chunked body has no declared length: read it up to the limit, then replay it to the app.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return receive
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                await self._too_large(scope, receive, send)
                return None
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = (
            f"The request body is larger than {self.max_body // 1024} KB. Send a smaller scenario or schedule: "
            "a scenario must fit in a link, and a schedule has at most 2,000 actions."
        )
        await self._answer(scope, receive, send, 413, detail)

    async def _unexpected(self, scope: Scope, receive: Receive, send: Send, error_id: str) -> None:
        detail = (
            f"Something unexpected went wrong on the server (error {error_id}); it has been logged. "
            "Try again, and if it keeps happening, report the link and this error id."
        )
        await self._answer(scope, receive, send, 500, detail)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
        """The same answer the exception handlers give (JSON or page), sent from here, below the router."""
        response = error_response(Request(scope), self.templates, status, detail)
        await response(scope, receive, send)
