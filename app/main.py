"""The application factory: ``create_app()``; ``app`` is the instance uvicorn serves."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.scenarios import Library, describe_errors, load_library
from app.sim import CompiledScenario, Trace, TraceCache
from app.web import api, explore, pages, player
from app.web.searches import Searches
from app.web.security import SecurityHeaders

ROOT = Path(__file__).resolve().parent.parent


class SharedTraces:
    """The trace cache shared by request threads; the lock keeps its LRU bookkeeping consistent."""

    def __init__(self, capacity: int = 256):
        self._cache = TraceCache(capacity)
        self._lock = threading.Lock()

    def get(self, scenario: CompiledScenario, schedule: tuple[str, ...]) -> Trace:
        with self._lock:
            return self._cache.get(scenario, schedule)


def _validation_detail(err: RequestValidationError) -> str:
    return f"The request is not valid: {describe_errors(err.errors(), skip=('body',), top='body')}."


def create_app(library: Library | None = None) -> FastAPI:
    """Build the app. Loading the scenario library validates every built-in scenario: a broken one stops start-up."""
    app = FastAPI(
        title="WSK close visualizer",
        version="0.1.0",
        description="Step through, replay and share interleavings of a Winsock Kernel client closing a socket.",
    )
    app.state.library = library or load_library()
    app.state.traces = SharedTraces()
    app.state.searches = Searches()
    templates = Jinja2Templates(directory=str(ROOT / "templates"))
    app.state.templates = templates
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(ROOT / "static")), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(player.router)
    app.include_router(explore.api)
    app.include_router(explore.pages)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        html = templates.get_template("pages/error.html").render(
            request=request, status=exc.status_code, message=exc.detail
        )
        return HTMLResponse(html, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        detail = _validation_detail(exc)
        if wants_json(request):
            return JSONResponse({"detail": detail}, status_code=422)
        html = templates.get_template("pages/error.html").render(request=request, status=422, message=detail)
        return HTMLResponse(html, status_code=422)

    return app


app = create_app()
