"""The application factory: ``create_app()``; ``app`` is the instance uvicorn serves."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from app.challenges import load_catalogue
from app.db import Store
from app.lessons import load_course
from app.scenarios import Library, load_library
from app.sim import CompiledScenario, Trace, TraceCache
from app.web import (
    api,
    challenges,
    docs,
    editor,
    explore,
    glossary,
    learn,
    pages,
    player,
    render,
    rooms,
    shared,
    short_links,
)
from app.web.caching import StepCache
from app.web.errors import Guard, install_error_handlers
from app.web.links import LINK_VERSION
from app.web.meter import Meters
from app.web.searches import Searches
from app.web.security import SecurityHeaders

ROOT = Path(__file__).resolve().parent.parent


class SharedTraces:
    """The trace cache shared by request threads; the lock keeps its LRU bookkeeping consistent."""

    # Replaying a run costs about 40 us a step, and a cached snapshot about 1.5 KB: keep up to 40,000 snapshots
    # (some 60 MB), so that a class exploring a few thousand runs at once steps without replaying them. A run
    # that is not cached is replayed with steps remembered from earlier runs (a few us a step). A remembered step
    # costs about 3 KB; 400 random runs of every built-in scenario take 13,150 distinct steps, so 20,000 (some
    # 60 MB) hold the whole library's usual paths with room for custom scenarios.
    def __init__(self, capacity: int = 4096, max_snapshots: int = 40_000, remembered_steps: int = 20_000):
        self._cache = TraceCache(capacity, max_snapshots=max_snapshots, remembered_steps=remembered_steps)
        self._lock = threading.Lock()

    def get(self, scenario: CompiledScenario, schedule: tuple[str, ...]) -> Trace:
        with self._lock:
            return self._cache.get(scenario, schedule)

    def steps_to_replay(self, scenario: CompiledScenario, schedule: tuple[str, ...]) -> int:
        with self._lock:
            return self._cache.steps_to_replay(scenario, schedule)


def create_app(library: Library | None = None, database_url: str | None = None) -> FastAPI:
    """Build the app. Loading the scenario library validates every built-in scenario: a broken one stops start-up."""
    app = FastAPI(
        title="WSK close visualizer",
        version="0.1.0",
        description="Step through, replay and share interleavings of a Winsock Kernel client closing a socket.",
        # /docs is served by app.web.docs (vendored Swagger UI, strict CSP), not by FastAPI (CDN, inline script).
        docs_url=None,
        redoc_url=None,
        # One schema per model, so that an inline scenario can refer to the Scenario schema by name.
        separate_input_output_schemas=False,
    )
    app.state.library = library or load_library()
    app.state.course = load_course(app.state.library)
    app.state.challenges = load_catalogue(app.state.library)
    app.state.challenge_verdicts = challenges.Verdicts()
    app.state.traces = SharedTraces()
    app.state.steps = StepCache()
    app.state.meters = Meters(pinned=frozenset(c.fingerprint for c in app.state.library.scenarios.values()))
    app.router.on_shutdown.append(app.state.meters.close)  # a search under way must not hold up the exit
    # Redis when REDIS_URL is set (several workers share searches through it); None: one process, in memory.
    app.state.shared = shared.connect()
    app.state.searches = Searches(shared=app.state.shared)
    # Classrooms: in Redis with it (pub/sub carries their events to every worker), else in this process.
    rooms.install(app)
    # Short links (app/db): SQLite under var/, or PostgreSQL by DATABASE_URL; migrated here, before any request.
    # Every built-in version served is kept, so a link made with it can offer it after the scenario changes.
    app.state.store = Store(database_url)
    app.state.store.migrate()
    app.state.store.keep_scenarios(list(app.state.library.scenarios.values()))
    app.router.on_shutdown.append(app.state.store.close)
    templates = render.templates(ROOT / "templates")
    app.state.templates = templates
    # term(word): a domain word or rule id, linked to the glossary, explained where it is shown.
    templates.env.globals["term"] = glossary.term
    # The course and the gallery list the challenges and count progress (app/web/challenges.py).
    templates.env.globals["challenge_cards"] = challenges.cards
    templates.env.globals["progress_ids"] = challenges.progress_ids
    # Every link a template writes says the current link version (app/web/link_versions.py reads older ones).
    templates.env.globals["link_version"] = LINK_VERSION
    # The last added is the outermost: the security headers wrap the guard's 413 and 500 answers too.
    app.add_middleware(Guard, templates=templates)
    app.add_middleware(SecurityHeaders)
    # Pages, fragments and JSON compress 5-10x; Starlette's own middleware, which leaves small answers alone.
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=5)
    app.mount("/static", StaticFiles(directory=str(ROOT / "static")), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(player.router)
    app.include_router(learn.router)
    app.include_router(challenges.api)
    app.include_router(challenges.pages)
    app.include_router(explore.api)
    app.include_router(explore.pages)
    app.include_router(docs.router)
    app.include_router(rooms.api)
    app.include_router(rooms.pages)
    app.include_router(editor.router)
    app.include_router(short_links.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    install_error_handlers(app, templates)
    return app


def tune_garbage_collection() -> None:
    """For a serving process, once the app is built. A player step allocates some tens of thousands of short-lived
    objects, nearly none of them in cycles, and CPython's default first threshold (700 allocations) collected the
    young generation about every fifth of a step, each time walking the survivors too: 6-10% of a distinct
    step's time (bench/http_step.py). A threshold of 50,000 makes those collections some seventy times rarer and
    costs at most that many objects of garbage waiting. ``gc.freeze`` moves what start-up built (the library,
    compiled scenarios, templates, meters' keys) out of every collection's way: it lives as long as the process."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


app = create_app()
tune_garbage_collection()
