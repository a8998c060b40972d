"""Find the race: the explorer over HTTP (JSON API), in the player (a progress panel), and side by side for the
variants of a scenario family (the fix verifier)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from app.sim import RULES, CompiledScenario
from app.sim.explore import Bounds, Report
from app.web.api import Input, resolve_scenario
from app.web.links import play_link
from app.web.player import locate
from app.web.searches import Busy, Search

api = APIRouter(prefix="/api/explore", tags=["explore"])
pages = APIRouter()
QUICK_WAIT_S = 0.45  # searches that finish within this show their results at once, without a progress bar


class ExploreBounds(Input):
    max_states: int = Field(default=200_000, ge=1, le=500_000)
    max_depth: int = Field(default=400, ge=1, le=2000)
    max_preemptions: int | None = Field(
        default=None, ge=0, le=10, description="None: any number of preemptions."
    )
    time_limit_ms: int = Field(default=10_000, ge=100, le=60_000)

    def engine_bounds(self) -> Bounds:
        return Bounds(self.max_states, self.max_depth, self.max_preemptions)


class ExploreRequest(Input):
    scenario: str | dict[str, Any] = Field(description="A built-in scenario id, or a whole scenario object.")
    bounds: ExploreBounds = ExploreBounds()


class WitnessOut(BaseModel):
    kind: str
    rule: str
    schedule: list[str]
    length: int
    link: str


class ExploreResponse(BaseModel):
    scenario: str
    complete: bool
    stopped_by: str | None
    states: int
    transitions: int
    terminal_states: int
    schedules: int | None = Field(
        description="Distinct complete schedules; null if unbounded (a loop) or incomplete."
    )
    outcomes: dict[str, int]
    witnesses: list[WitnessOut]
    elapsed_ms: int


class ProgressOut(BaseModel):
    states: int
    transitions: int
    depth: int
    elapsed_ms: int


class SearchOut(BaseModel):
    id: str
    status: Literal["running", "done", "cancelled", "failed"]
    progress: ProgressOut
    result: ExploreResponse | None
    url: str


def explore_response(search: Search, report: Report) -> ExploreResponse:
    source = search.scenario.source
    return ExploreResponse(
        scenario=source.id,
        complete=report.complete,
        stopped_by=report.stopped_by,
        states=report.states,
        transitions=report.transitions,
        terminal_states=report.terminal_states,
        schedules=report.schedules,
        outcomes=dict(sorted(report.outcomes.items())),
        witnesses=[
            WitnessOut(
                kind=kind,
                rule=RULES[kind].rule,
                schedule=list(schedule),
                length=len(schedule),
                link=play_link(source.id, schedule, definition=search.definition),
            )
            for kind, schedule in sorted(report.witnesses.items(), key=lambda kv: (len(kv[1]), kv[0]))
        ],
        elapsed_ms=search.elapsed_ms,
    )


def search_out(search: Search) -> SearchOut:
    status = search.status
    result = None
    if status in ("done", "cancelled") and search.future is not None:
        result = explore_response(search, search.future.result())
    p = search.progress
    return SearchOut(
        id=search.id,
        status=status,  # type: ignore[arg-type]
        progress=ProgressOut(
            states=p.states, transitions=p.transitions, depth=p.depth, elapsed_ms=search.elapsed_ms
        ),
        result=result,
        url=f"/api/explore/searches/{search.id}",
    )


def start(
    request: Request, compiled: CompiledScenario, definition: str | None, bounds: ExploreBounds
) -> Search:
    try:
        return request.app.state.searches.start(
            compiled, definition, bounds.engine_bounds(), bounds.time_limit_ms
        )
    except Busy as err:
        raise HTTPException(429, str(err), headers={"Retry-After": str(Busy.retry_after)}) from None


def find(request: Request, search_id: str) -> Search:
    search = request.app.state.searches.get(search_id)
    if search is None:
        raise HTTPException(
            404, f"There is no search '{search_id}' (searches are kept for a while, then forgotten)."
        )
    return search


async def wait(search: Search, timeout: float | None) -> bool:
    """Wait for a search without blocking the event loop; True if it finished in time."""
    assert search.future is not None
    try:
        await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(search.future)), timeout)
    except TimeoutError:
        return False
    return True


@api.post("", response_model=ExploreResponse)
async def explore_now(request: Request, body: ExploreRequest) -> ExploreResponse:
    """Search every schedule of a scenario (within the bounds) and answer when done."""
    compiled, definition = resolve_scenario(request, body.scenario)
    search = start(request, compiled, definition, body.bounds)
    await wait(search, None)
    assert search.future is not None
    return explore_response(search, search.future.result())


@api.post("/searches", response_model=SearchOut, status_code=202)
async def start_search(request: Request, body: ExploreRequest) -> SearchOut:
    """Start a search and return at once; poll its url for progress and the result, DELETE it to cancel."""
    compiled, definition = resolve_scenario(request, body.scenario)
    return search_out(start(request, compiled, definition, body.bounds))


@api.get("/searches/{search_id}", response_model=SearchOut)
async def get_search(request: Request, search_id: str) -> SearchOut:
    return search_out(find(request, search_id))


@api.delete("/searches/{search_id}", response_model=SearchOut)
async def cancel_search(request: Request, search_id: str) -> SearchOut:
    search = find(request, search_id)
    search.cancel.set()
    await wait(search, 5)
    return search_out(search)


# -- in the player ---------------------------------------------------------------------------------------------------


def _panel(request: Request, search: Search) -> Response:
    out = search_out(search)
    view = {
        "search": out,
        "scenario": search.scenario.source,
        "rules": RULES,
        "max_states": search.bounds.max_states,
    }
    return request.app.state.templates.TemplateResponse(request, "partials/search.html", view)


@pages.post("/search/{scenario_id}", response_class=HTMLResponse)
async def search_from_player(request: Request, scenario_id: str) -> Response:
    """The player's Find the race button: quick searches answer with results, longer ones with a progress panel."""
    loc = locate(request, scenario_id, "1", "", None, request.query_params.get("def"))
    search = start(request, loc.compiled, loc.definition, ExploreBounds())
    await wait(search, QUICK_WAIT_S)
    return _panel(request, search)


@pages.get("/search/progress/{search_id}", response_class=HTMLResponse)
async def search_progress(request: Request, search_id: str) -> Response:
    return _panel(request, find(request, search_id))


@pages.post("/search/cancel/{search_id}", response_class=HTMLResponse)
async def search_cancel(request: Request, search_id: str) -> Response:
    search = find(request, search_id)
    search.cancel.set()
    await wait(search, 5)
    return _panel(request, search)


# -- the fix verifier: a family side by side ------------------------------------------------------------------------


@pages.get("/families/{family}", response_class=HTMLResponse)
async def family_page(request: Request, family: str) -> Response:
    members = [c for c in request.app.state.library.scenarios.values() if c.source.family == family]
    members.sort(
        key=lambda c: (c.source.expect == "safe", c.source.title)
    )  # the failures first, then the fixes
    if not members:
        raise HTTPException(404, f"There is no scenario family '{family}'.")
    rows = []
    for compiled in members:
        search = start(request, compiled, None, ExploreBounds(time_limit_ms=20_000))
        await wait(search, None)
        rows.append({"scenario": compiled.source, "result": search_out(search).result})
    return request.app.state.templates.TemplateResponse(
        request, "pages/family.html", {"family": family, "rows": rows}
    )
