"""Find the race: the explorer over HTTP (JSON API), in the player (a progress panel), and side by side for the
variants of a scenario family (the fix verifier)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from app.scenarios import ScenarioError, parse_scenario
from app.sim import RULES, CompiledScenario, Scenario, compile_scenario, parse_schedule, sandbox
from app.sim.explore import Bounds
from app.web import render
from app.web.api import Input, ScenarioRef, Schedule, resolve_scenario
from app.web.compare import side_by_side
from app.web.errors import API_ERRORS, PAGE_ERRORS, SCENARIO_ERRORS, ErrorOut
from app.web.links import (
    LINK_VERSION,
    MAX_DEF_CHARS,
    LinkError,
    decode_definition,
    encode_definition,
    play_link,
)
from app.web.params import ScenarioId
from app.web.player import MAX_LINK_SCHEDULE, locate
from app.web.searches import Busy, Search, Searches, SearchKey, Target, Unavailable, prefix_digest

api = APIRouter(prefix="/api/explore", tags=["explore"])
pages = APIRouter()
QUICK_WAIT_S = 0.45  # searches that finish within this show their results at once, without a progress bar
CANCEL_WAIT_S = 5.0  # a cancelled search stops at its next progress report, well within this
T = TypeVar("T")


MAX_STATES = 80_000


class ExploreBounds(Input):
    # A state costs under 0.6 KB while searching (bench/explore.py measures it), and two searches may run at
    # once: 80,000 states each keeps the server well under its 500 MB budget (bench/abuse.py measures that).
    max_states: int = Field(default=MAX_STATES, ge=1, le=MAX_STATES)
    max_depth: int = Field(default=400, ge=1, le=2000)
    max_preemptions: int | None = Field(
        default=None, ge=0, le=10, description="None: any number of preemptions."
    )
    time_limit_ms: int = Field(default=10_000, ge=100, le=60_000)

    def engine_bounds(self) -> Bounds:
        return Bounds(self.max_states, self.max_depth, self.max_preemptions)

    def target(
        self, compiled: CompiledScenario, definition: str | None, prefix: tuple[str, ...] = ()
    ) -> Target:
        return Target.of(compiled, definition, self.engine_bounds(), self.time_limit_ms, prefix)


# The answers a search may give besides its result, for the OpenAPI document: no free slot (429), and with Redis, a
# store that does not answer or a search lost with a crashed worker (503). Both say when to come back.
_RETRY = {
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
}
_BUSY = "Every search slot is taken (two searches run at once); try again after Retry-After seconds."
_GONE = "The shared search store (Redis) did not answer, or the worker running the search stopped; try again."
SEARCH_ERRORS: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorOut, "description": _BUSY, "headers": _RETRY},
    503: {"model": ErrorOut, "description": _GONE, "headers": _RETRY},
}
_NO_SEARCH = "There is no such search: the detail says how to start one."
SEARCH_ID_ERRORS = {**API_ERRORS, **SEARCH_ERRORS, 404: {"model": ErrorOut, "description": _NO_SEARCH}}


def _html(description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}, **extra}


PANEL_ERRORS: dict[int | str, dict[str, Any]] = {
    **PAGE_ERRORS,
    404: _html("There is no such scenario or search; the page says how to start one."),
    429: _html(_BUSY, headers=_RETRY),
    503: _html(_GONE, headers=_RETRY),
}
FAMILY_ERRORS: dict[int | str, dict[str, Any]] = {
    404: _html("There is no scenario family with this name."),
    422: _html(
        "The designs of a family of one's own ('custom') are missing or cannot be used; the page says why."
    ),
    503: _html(_GONE, headers=_RETRY),
}

# The fix verifier searches each design of a family exhaustively, with a time limit no user request needs.
VERIFIER_BOUNDS = ExploreBounds(time_limit_ms=20_000)


class ExploreRequest(Input):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"scenario": "close-during-send"},
                {"scenario": "close-during-send", "prefix": "Sender.Sender.Sender"},
            ]
        },
    )

    scenario: ScenarioRef
    bounds: ExploreBounds = ExploreBounds()
    prefix: Schedule = Field(
        default="",
        description="Search from the state this schedule reaches rather than from the start: what can still happen "
        "from here? Witnesses are whole schedules (the prefix, then the steps found after it); only rules broken "
        "after the prefix are found, and max_depth and max_preemptions count from its end. The reachability meter "
        "(POST /api/run with reachability) answers the same question at every step.",
    )

    def start(self, request: Request) -> Target:
        """The search this request asks for; a 422 naming the step when the prefix is not a schedule."""
        compiled, definition = resolve_scenario(request, self.scenario)
        try:
            prefix = parse_schedule(self.prefix)
            request.app.state.traces.get(compiled, prefix)  # replays it, or says which step is not possible
        except ValueError as err:
            raise HTTPException(422, f"prefix: {err}") from None
        return self.bounds.target(compiled, definition, prefix)


class WitnessOut(BaseModel):
    kind: str
    rule: str
    schedule: list[str]
    length: int
    shortest: bool = Field(
        description="Whether no shorter schedule breaks this rule. Always true of a complete search; a reduced "
        "search stopped by a bound may not have ruled out a shorter one."
    )
    link: str


_REDUCED = (
    "Which search counted the figures. false: the full search, which stores every distinct state and counts every "
    "schedule. true: the reduced search, for scenarios too large to count that way: steps that touch only their own "
    "thread are not interleaved with other threads, and states that differ only in IRP numbers, callback numbers or "
    "which of two identical threads did what are one state. Its verdict, its witnesses and their lengths are exactly "
    "the full search's; 'states' and 'transitions' are its own, 'terminal_states' and 'outcomes' count end states "
    "up to those names, and 'schedules' is null."
)


class ExploreResponse(BaseModel):
    scenario: str
    prefix: list[str] = Field(description="The schedule the search started after; empty: from the start.")
    complete: bool
    stopped_by: str | None
    reduced: bool = Field(description=_REDUCED)
    states: int = Field(description="Distinct states the search kept.")
    transitions: int = Field(description="Steps the search took.")
    terminal_states: int = Field(
        description="Distinct states where the run ends (nothing can move); up to names when 'reduced'."
    )
    schedules: int | None = Field(
        description="Distinct complete schedules; null if unbounded (a loop), incomplete, or 'reduced' (the reduced "
        "search does not count them)."
    )
    outcomes: dict[str, int] = Field(
        description="End states by outcome (ok, deadlock, violation) and by each rule broken on the way; up to names "
        "when 'reduced'."
    )
    witnesses: list[WitnessOut] = Field(
        description="The shortest schedule that breaks each rule, shortest first."
    )
    elapsed_ms: int


class ProgressOut(BaseModel):
    states: int
    transitions: int
    depth: int
    elapsed_ms: int


class SearchOut(BaseModel):
    id: str = Field(
        description="Names the scenario, its version and the bounds: identical requests share one search."
    )
    status: Literal["running", "done", "cancelled", "failed"]
    progress: ProgressOut
    result: ExploreResponse | None
    url: str = Field(
        description="Poll it for progress and the result; it keeps answering after a restart (a custom "
        "scenario travels in it)."
    )
    cancel: str = Field(
        description="POST to it to stop the search, whichever worker runs it. Cancelling is an action, not a "
        "deletion: the search stays readable, with status 'cancelled', and running it again recomputes it."
    )


def situation_searched(search: Search) -> Scenario | None:
    """The situation built in a live sandbox that a search searches (app/sim/sandbox.py), or None for a search
    of anything else."""
    if search.definition is None or not search.scenario.endswith(sandbox.SITUATION):
        return None
    try:
        return parse_scenario(decode_definition(search.definition)).source
    except (LinkError, ScenarioError):
        return None


def witness_link(search: Search, schedule: tuple[str, ...], situation: Scenario | None) -> str:
    """Where a witness replays: in the scenario searched, or for a situation built in a live sandbox, in that
    sandbox (its threads added first), so the learner watches it where they built it."""
    if situation is not None:
        live = sandbox.live_schedule(situation, schedule)
        if live is not None:
            return play_link(live[0], live[1])
    return play_link(search.scenario, schedule, definition=search.definition)


def explore_response(search: Search) -> ExploreResponse:
    report = search.report
    assert report is not None
    situation = situation_searched(search)
    return ExploreResponse(
        scenario=search.scenario,
        prefix=list(search.prefix),
        complete=report.complete,
        stopped_by=report.stopped_by,
        reduced=report.reduced,
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
                shortest=kind not in report.unproven,
                link=witness_link(search, schedule, situation),
            )
            for kind, schedule in sorted(report.witnesses.items(), key=lambda kv: (len(kv[1]), kv[0]))
        ],
        elapsed_ms=search.elapsed_ms,
    )


def search_url(search: Search) -> str:
    """The search's address; a custom scenario's definition and the prefix ride along, so the address outlives this
    process."""
    params = {"def": search.definition, "prefix": ".".join(search.prefix)}
    query = urlencode({name: value for name, value in params.items() if value})
    return f"/api/explore/searches/{search.id}" + (f"?{query}" if query else "")


def search_out(search: Search) -> SearchOut:
    result = None
    if search.status in ("done", "cancelled") and search.report is not None:
        result = explore_response(search)
    p = search.progress
    return SearchOut(
        id=search.id,
        status=search.status,
        progress=ProgressOut(
            states=p.states, transitions=p.transitions, depth=p.depth, elapsed_ms=search.elapsed_ms
        ),
        result=result,
        url=search_url(search),
        cancel=f"/api/explore/searches/{search.id}/cancel",
    )


async def registry(request: Request, call: Callable[..., T], *args: Any) -> T:
    """Call the search registry, off the event loop when it does network I/O (Redis); its refusals become answers
    (429, 503) that say when to come back."""
    try:
        if request.app.state.searches.networked:
            return await run_in_threadpool(call, *args)
        return call(*args)
    except Busy as err:
        raise HTTPException(429, str(err), headers={"Retry-After": str(Busy.retry_after)}) from None
    except Unavailable as err:
        raise HTTPException(503, str(err), headers={"Retry-After": str(Unavailable.retry_after)}) from None


async def wait(request: Request, search: Search, timeout: float | None) -> Search:
    """The search once ended, or as it stands after ``timeout`` seconds; it never blocks the event loop."""
    try:
        searches: Searches = request.app.state.searches
        waited = await searches.wait(search.id, timeout)
    except Unavailable as err:
        raise HTTPException(503, str(err), headers={"Retry-After": str(Unavailable.retry_after)}) from None
    if waited is None:
        raise HTTPException(
            503,
            f"Search '{search.id}' was lost: the server process that ran it stopped. Start it again.",
            headers={"Retry-After": str(Unavailable.retry_after)},
        )
    return waited


def target_of(request: Request, search_id: str, definition: str | None, prefix: str | None = None) -> Target:
    """The search an id names, rebuilt to run again; a 404 that says what to do when the id names none here."""
    key = SearchKey.parse(search_id)
    if key is not None:
        b = key.bounds
        try:
            ExploreBounds(
                max_states=b.max_states,
                max_depth=b.max_depth,
                max_preemptions=b.max_preemptions,
                time_limit_ms=key.time_limit_ms,
            )
        except ValidationError:
            key = None
    if key is None:
        raise HTTPException(
            404,
            f"There is no search '{search_id}'. A search's address comes from starting it: "
            "POST /api/explore/searches, or the player's Find the race button.",
        )
    if key.scenario == "custom":
        if not definition:
            raise HTTPException(
                404,
                f"Search '{search_id}' is of a custom scenario, which this server no longer holds; the scenario "
                "travels in the address's 'def' parameter: copy the whole address, or start the search again.",
            )
        try:
            compiled = parse_scenario(decode_definition(definition))
        except (LinkError, ScenarioError) as err:
            raise HTTPException(422, str(err)) from None
    else:
        found = request.app.state.library.get(key.scenario)
        if found is None:
            raise HTTPException(
                404, f"Search '{search_id}' is of scenario '{key.scenario}', which this server does not have."
            )
        compiled, definition = found, None
    if compiled.fingerprint != key.version:
        raise HTTPException(
            404,
            f"Search '{search_id}' is of another version of scenario '{compiled.source.id}' than this server "
            "has; start the search again to search this version.",
        )
    steps = tuple(prefix.split(".")) if prefix else ()
    if prefix_digest(steps) != key.after:
        raise HTTPException(
            404,
            f"Search '{search_id}' starts after a prefix that travels in the address's 'prefix' parameter, and "
            "this one is missing or is another: copy the whole address, or start the search again.",
        )
    try:
        request.app.state.traces.get(compiled, steps)
    except ValueError as err:
        raise HTTPException(422, f"prefix: {err}") from None
    return Target(key, compiled, definition, steps)


async def find(request: Request, search_id: str, definition: str | None, prefix: str | None = None) -> Search:
    """The search with this id. One this server no longer holds (after a restart, or once its report was evicted)
    runs again from what its id names, so its address gives the same answer; that takes a free slot."""
    searches: Searches = request.app.state.searches
    search = await registry(request, searches.get, search_id)
    if search is None:
        search = await registry(request, searches.start, target_of(request, search_id, definition, prefix))
        search = await wait(request, search, QUICK_WAIT_S)
    return search


async def cancel(request: Request, search_id: str) -> Search:
    search = await registry(request, request.app.state.searches.cancel, search_id)
    if search is None:
        raise HTTPException(
            404,
            f"There is no search '{search_id}' to cancel: it has ended and been forgotten, or never started.",
        )
    return await wait(request, search, CANCEL_WAIT_S)


Prefix = Annotated[
    str | None,
    Query(
        # As long as a player link's schedule may be: a longer request line is refused before the app sees it.
        max_length=MAX_LINK_SCHEDULE,
        pattern="^[A-Za-z0-9.-]*$",
        description="The schedule a search starts after, as in the search's url: lets a search this server no "
        "longer holds run again.",
    ),
]
Definition = Annotated[
    str | None,
    Query(
        alias="def",
        max_length=MAX_DEF_CHARS,
        pattern="^[A-Za-z0-9_-]*$",  # base64url: a long definition still fits in one HTTP request line
        description="A custom scenario's link definition, as in the search's url: lets a search this server no "
        "longer holds run again.",
    ),
]


@api.post("", response_model=ExploreResponse, responses={**SCENARIO_ERRORS, **SEARCH_ERRORS})
async def explore_now(request: Request, body: ExploreRequest) -> ExploreResponse:
    """Search every schedule of a scenario (within the bounds), or every continuation of a prefix, and answer when
    done."""
    search = await registry(request, request.app.state.searches.start, body.start(request))
    search = await wait(request, search, None)
    if search.report is None:
        raise HTTPException(500, f"Search '{search.id}' failed. Please report it with the request you sent.")
    return explore_response(search)


@api.post(
    "/searches", response_model=SearchOut, status_code=202, responses={**SCENARIO_ERRORS, **SEARCH_ERRORS}
)
async def start_search(request: Request, body: ExploreRequest) -> SearchOut:
    """Start a search and return at once; poll its url for progress and the result, POST to its cancel
    url to stop it.
    An identical search that is running or done is shared rather than started again."""
    return search_out(await registry(request, request.app.state.searches.start, body.start(request)))


@api.get("/searches/{search_id}", response_model=SearchOut, responses=SEARCH_ID_ERRORS)
async def get_search(
    request: Request, search_id: str, definition: Definition = None, prefix: Prefix = None
) -> SearchOut:
    """A search's progress and result, from any worker; after a restart the search runs again from its id."""
    return search_out(await find(request, search_id, definition, prefix))


@api.post("/searches/{search_id}/cancel", response_model=SearchOut, responses=SEARCH_ID_ERRORS)
async def cancel_search(request: Request, search_id: str) -> SearchOut:
    """Cancel a search, whichever worker runs it; everyone sharing it sees it cancelled."""
    return search_out(await cancel(request, search_id))


# -- in the player ---------------------------------------------------------------------------------------------------


def _panel(request: Request, search: Search) -> Response:
    out = search_out(search)
    # The panel polls the page twin of the API url, with the same ?def=, so a custom search survives a restart.
    progress = out.url.replace("/api/explore/searches/", "/search/progress/", 1)
    situation = situation_searched(search)
    view = {
        "search": out,
        "progress_url": progress,
        "rules": RULES,
        "max_states": search.key.bounds.max_states,
        "time_limit_s": search.key.time_limit_ms // 1000,
        # A live sandbox's search says what it searched: the situation built so far, not the endless sandbox.
        "situation": None if situation is None else situation.summary,
    }
    return render.page(request, "partials/search.html", view)


# A situation built by hand grows quickly (each thread's operations in any order): it gets more time than a
# built-in scenario's search, and the panel shows its progress meanwhile.
SITUATION_BOUNDS = ExploreBounds(time_limit_ms=30_000)
MAX_SEARCH_FORM = 48_000  # bytes: the player's form (a schedule of up to 40,000 characters, and its step)


async def _situation_target(request: Request, scenario_id: str) -> Target:
    """Find the race in a live sandbox: the situation built up to the step shown (the player's form, sent as the
    request's body), as a scenario of its own that travels in the search's address."""
    body = await request.body()
    if len(body) > MAX_SEARCH_FORM:
        raise HTTPException(
            413, f"The player's form is at most {MAX_SEARCH_FORM} bytes; this one is {len(body)}."
        )
    try:
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=16)
    except ValueError:
        raise HTTPException(422, "The player's form has more than 16 fields; send v, s and at.") from None
    schedule, at = form.get("s", [""])[0], form.get("at", [None])[0]
    loc = locate(request, scenario_id, str(LINK_VERSION), schedule, at, None)
    design = sandbox.design_of(scenario_id)
    assert design is not None
    built = sandbox.situation_of(design.id, loc.schedule[: loc.at])
    if built.empty:
        raise HTTPException(
            422,
            "There is nothing to search yet: no thread has started an operation. Start some (send on two "
            "threads and close on a third, say), then search.",
        )
    situation = sandbox.situation_scenario(built)
    definition = encode_definition(situation.model_dump(mode="json"))
    return SITUATION_BOUNDS.target(compile_scenario(situation), definition)


@pages.post("/search/{scenario_id}", response_class=HTMLResponse, responses=PANEL_ERRORS)
async def search_from_player(request: Request, scenario_id: ScenarioId) -> Response:
    """The player's Find the race button: quick searches answer with results, longer ones with a progress panel.
    In a live sandbox it searches the situation built so far."""
    if sandbox.design_of(scenario_id) is not None and request.app.state.library.get(scenario_id) is not None:
        target = await _situation_target(request, scenario_id)
        search = await registry(request, request.app.state.searches.start, target)
        return _panel(request, await wait(request, search, QUICK_WAIT_S))
    loc = locate(request, scenario_id, str(LINK_VERSION), "", None, request.query_params.get("def"))
    target = ExploreBounds().target(loc.compiled, loc.definition)
    search = await registry(request, request.app.state.searches.start, target)
    return _panel(request, await wait(request, search, QUICK_WAIT_S))


@pages.get("/search/progress/{search_id}", response_class=HTMLResponse, responses=PANEL_ERRORS)
async def search_progress(
    request: Request, search_id: str, definition: Definition = None, prefix: Prefix = None
) -> Response:
    return _panel(request, await find(request, search_id, definition, prefix))


@pages.post("/search/cancel/{search_id}", response_class=HTMLResponse, responses=PANEL_ERRORS)
async def search_cancel(request: Request, search_id: str) -> Response:
    return _panel(request, await cancel(request, search_id))


# -- the fix verifier: a family side by side ------------------------------------------------------------------------


def family_view(request: Request, family: str, definitions: list[str] | None = None) -> dict[str, Any]:
    """Each design of a family with its verdict, or None while it is being computed, and the designs' code side by
    side. A built-in family's verdicts are the same for everyone, so each is computed once, in the background,
    outside the user search slots; a family of one's own ('custom', its designs in ``definitions``) is searched in
    the user slots like Find the race. This never waits."""
    if family == "custom":
        members = _custom_members(definitions or [])
    else:
        members = [
            (c, None) for c in request.app.state.library.scenarios.values() if c.source.family == family
        ]
    about = None if family == "custom" else request.app.state.library.families.get(family)
    if not members or (family != "custom" and about is None):
        raise HTTPException(404, f"There is no scenario family '{family}'. The gallery lists the families.")
    # The failures first, then the fixes (a design of one's own has no promise: its verdict says).
    members.sort(key=lambda m: (m[0].source.expect == "safe", m[0].source.title))
    rows = []
    for compiled, definition in members:
        target = VERIFIER_BOUNDS.target(compiled, definition)
        searches: Searches = request.app.state.searches
        try:
            search = searches.precompute(target) if definition is None else searches.start(target)
        except Busy:
            rows.append(_row(compiled, definition, "busy", None))
            continue
        result = explore_response(search) if search.report is not None else None
        rows.append(_row(compiled, definition, search.status, result))
    pending = any(row["status"] in ("running", "busy") for row in rows)
    query = f"?{urlencode([('def', d) for d in definitions or []])}" if family == "custom" else ""
    return {
        "family": family,
        "about": about,
        "custom": family == "custom",
        "rows": rows,
        "pending": pending,
        "poll": f"/families/{family}/verdicts{query}",
        "code": side_by_side([compiled for compiled, _ in members]),
        "designs": [row["label"] for row in rows],
    }


def _custom_members(definitions: list[str]) -> list[tuple[CompiledScenario, str | None]]:
    if not 2 <= len(definitions) <= MAX_DESIGNS:
        raise HTTPException(
            422,
            f"A family of one's own compares 2 to {MAX_DESIGNS} designs, each in a 'def' parameter; this link has "
            f"{len(definitions)}. Write them in the editor (/edit) and use Compare designs.",
        )
    members: list[tuple[CompiledScenario, str | None]] = []
    for number, definition in enumerate(definitions, start=1):
        try:
            members.append((parse_scenario(decode_definition(definition)), definition))
        except (LinkError, ScenarioError) as err:
            raise HTTPException(422, f"Design {number} of this link cannot be used: {err}") from None
    return members


def _row(
    compiled: CompiledScenario, definition: str | None, status: str, result: ExploreResponse | None
) -> dict[str, Any]:
    """A design's row: its name, its link, and its verdict, headed by the rule the scenario teaches when the search
    broke it (a scenario's 'bugs' name what it is about; other rules broken on the way come after)."""
    source = compiled.source
    headline = None
    if result is not None and result.witnesses:
        teaches = [w for kind in source.bugs for w in result.witnesses if w.kind == kind]
        headline = (teaches or result.witnesses)[0]
    return {
        "scenario": source,
        "label": source.variant or source.title,
        "link": play_link(source.id, (), definition=definition),
        "status": status,
        "result": result,
        "headline": headline,
        "headline_title": RULES[headline.kind].title if headline else None,
        "others": [w for w in result.witnesses if w is not headline] if result else [],
    }


MAX_DESIGNS = 4
Designs = Annotated[
    list[str] | None,
    Query(
        alias="def",
        max_length=MAX_DESIGNS,
        description="For the family 'custom': each design's link definition (2 to 4), as the editor's Compare "
        "designs makes them.",
    ),
]


@pages.get("/families/{family}", response_class=HTMLResponse, responses=FAMILY_ERRORS)
async def family_page(request: Request, family: str, definitions: Designs = None) -> Response:
    view = await registry(request, family_view, request, family, _bounded(definitions))
    return render.page(request, "pages/family.html", view)


@pages.get("/families/{family}/verdicts", response_class=HTMLResponse, responses=FAMILY_ERRORS)
async def family_verdicts(request: Request, family: str, definitions: Designs = None) -> Response:
    """The verdict table alone: what the family page polls while verdicts are being computed."""
    view = await registry(request, family_view, request, family, _bounded(definitions))
    return render.page(request, "partials/family-verdicts.html", view)


def _bounded(definitions: list[str] | None) -> list[str]:
    """Each design's definition is bounded like a link's (the query's own bound is on how many there are)."""
    for definition in definitions or []:
        if len(definition) > MAX_DEF_CHARS:
            raise HTTPException(
                422,
                f"A design in this link is longer than {MAX_DEF_CHARS:,} characters; a link holds no more.",
            )
    return definitions or []
