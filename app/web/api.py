"""The JSON API: list and fetch scenarios, and run a schedule into a trace.

Routes are thin: parse the typed request, resolve the scenario, call the engine once, shape the answer. Every
failure a caller can cause is a 4xx whose ``detail`` says what is wrong and how to fix it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from app.scenarios import ScenarioError, parse_scenario
from app.sim import CompiledScenario, Scenario, Trace, parse_schedule, run_on
from app.sim.describe import describe_run, describe_state
from app.sim.engine import Event
from app.sim.replay import MAX_SCHEDULE
from app.sim.scenario import MAX_ACTION_ID, SCENARIO_ID, ActionId
from app.web.errors import SCENARIO_ERRORS
from app.web.links import LinkError, encode_definition, play_link
from app.web.meter import readings
from app.web.params import ScenarioId

router = APIRouter(prefix="/api", tags=["api"])

# The largest answer a run may give. With states sent as changes, a 2,000-step run of any scenario that fits in a
# link stays well under it; whole states at every step can exceed it, and are then refused with a 422 saying how
# to ask for less.
MAX_ANSWER_BYTES = 8_000_000

# A built-in scenario's id, or a whole scenario object. It is validated by parse_scenario, exactly like a built-in
# file (strict JSON rules and the cross-checks), rather than by FastAPI, so that its errors read the same everywhere.
ScenarioRef = Annotated[
    str | dict[str, Any],
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": SCENARIO_ID.pattern, "maxLength": 64},
                {"$ref": "#/components/schemas/Scenario"},
            ],
            "description": "A built-in scenario id, or a whole scenario object (also at GET /api/scenario-schema).",
        }
    ),
]
Schedule = Annotated[
    list[ActionId] | str,
    Field(
        max_length=MAX_SCHEDULE * (MAX_ACTION_ID + 1),
        description="Action ids, as a list or joined by '.' ('Sender.Closer-p.wsk-c1'); at most 2,000.",
    ),
]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ScenarioSummary(BaseModel):
    """A built-in scenario in the list. Only built-ins are listed, and the library requires their ``expect``, so
    it is never null here (it may be in a scenario of one's own)."""

    id: str
    title: str
    summary: str
    level: int
    expect: Literal["safe", "buggy"]
    tags: list[str]
    rules: list[str]


class ContinueWith(Input):
    """Run on from the end of the schedule with a scheduler, up to ``max_steps`` more actions."""

    scheduler: Literal["round_robin", "random"] = "round_robin"
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    max_steps: int = Field(default=500, ge=0, le=MAX_SCHEDULE)


class StepWindow(Input):
    """Which steps the answer lists: from ``first`` to ``last`` inclusive (step 0 is the start)."""

    first: int = Field(default=0, ge=0, le=MAX_SCHEDULE)
    last: int | None = Field(
        default=None, ge=0, le=MAX_SCHEDULE, description="Defaults to the end; a later step stops at the end."
    )


class RunRequest(Input):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"scenario": "seed-close-socket", "schedule": "App.App"},
                {"scenario": "close-during-send", "continue_with": {"scheduler": "random", "seed": 7}},
            ]
        },
    )

    scenario: ScenarioRef
    schedule: Schedule = ""
    continue_with: ContinueWith | None = None
    states: Literal["changes", "every_step", "none"] = Field(
        default="changes",
        description=(
            "'changes': the first listed step carries the whole state, each later one only what changed "
            "(replace the sections given, upsert the IRPs given by id). 'every_step': the whole state at every "
            "step (refused if the answer would exceed 8 MB). 'none': no states."
        ),
    )
    steps: StepWindow = Field(default_factory=StepWindow, description="Which steps to list; all by default.")
    reachability: bool = Field(
        default=False,
        description="Give each listed step a map 'reachable': for each violation kind the scenario can break, "
        "whether at that step it has happened, is unavoidable, is still possible or is impossible from there, "
        "over every interleaving. The scenario's whole state graph is searched once (and kept); see "
        "'reachability' in the answer for whether that search was complete.",
    )


Reachable = Literal["happened", "unavoidable", "possible", "impossible", "not_found"]


class ReachabilityOut(BaseModel):
    exact: bool = Field(
        description="True when every state was searched. When False, 'impossible' is never claimed (a kind the "
        "search did not find is 'not_found') nor 'unavoidable'."
    )
    states: int = Field(description="The states searched.")


class ActionOut(BaseModel):
    id: str
    actor: str
    label: str


class ViolationOut(BaseModel):
    kind: str
    rule: str
    step: int
    message: str
    actor: str | None = None


class StepOut(BaseModel):
    index: int
    action: ActionOut | None
    narration: str
    events: list[Event]  # the engine's own event records: one definition for the engine and the API
    state: dict[str, Any] | None = Field(
        description="The whole state, when the request's 'states' gives it here."
    )
    changes: dict[str, Any] | None = Field(
        default=None, description="What changed since the previous step, with states: 'changes'."
    )
    reachable: dict[str, Reachable] | None = Field(
        default=None, description="With reachability: true, what each violation kind can still do from here."
    )


class BlockedOut(BaseModel):
    actor: str
    reason: str


class RunResponse(BaseModel):
    scenario: str
    fingerprint: str
    schedule: list[str]
    states: Literal["changes", "every_step", "none"]
    steps: list[StepOut]
    enabled: list[ActionOut]
    blocked: list[BlockedOut]
    violations: list[ViolationOut]
    outcome: Literal["running", "ok", "violation", "deadlock"]
    link: str
    reachability: ReachabilityOut | None = None


def _library(request: Request) -> Any:
    return request.app.state.library


def resolve_scenario(request: Request, scenario: str | dict[str, Any]) -> tuple[CompiledScenario, str | None]:
    """A built-in scenario by id, or an inline one validated exactly like a built-in file.

    Returns the compiled scenario and, for inline ones, its link definition.
    """
    if isinstance(scenario, str):
        found = _library(request).get(scenario)
        if found is None:
            known = ", ".join(_library(request).scenarios)
            raise HTTPException(404, f"There is no scenario '{scenario[:64]}'. Known scenarios: {known}.")
        return found, None
    try:
        compiled = parse_scenario(scenario)
        definition = encode_definition(compiled.source.model_dump(mode="json"))
    except (ScenarioError, LinkError) as err:
        raise HTTPException(422, str(err)) from None
    return compiled, definition


def _action(a: Any) -> ActionOut | None:
    return None if a is None else ActionOut(id=a.id, actor=a.actor, label=a.label)


class AnswerTooLarge(ValueError):
    """The answer asked for would exceed MAX_ANSWER_BYTES; the message says how to ask for less."""


def _steps(trace: Trace, states: str, window: StepWindow) -> list[StepOut]:
    """The listed steps, with their states as asked; stops as soon as the answer would grow too large."""
    end = len(trace.snapshots) - 1
    if window.first > end:
        raise ValueError(f"steps.first is {window.first}, but this run ends at step {end}.")
    last = end if window.last is None else min(window.last, end)
    if last < window.first:
        raise ValueError(f"steps.last ({last}) is before steps.first ({window.first}).")
    listed = trace.snapshots[window.first : last + 1]
    described = describe_run(trace.engine, (s.state for s in listed)) if states == "changes" else None
    size = 0
    out = []
    for n, s in enumerate(listed):
        state = changes = None
        if states == "every_step":
            state = describe_state(trace.engine, s.state)
        elif described is not None:
            description = next(described)
            state, changes = (description, None) if n == 0 else (None, description)
        size += len(json.dumps(state or changes or {}, separators=(",", ":")))
        if size > MAX_ANSWER_BYTES:
            raise AnswerTooLarge(
                f"The answer would be larger than {MAX_ANSWER_BYTES // 1_000_000} MB (it passed that at step "
                f"{s.index}). Ask for less: use states 'changes' (the default) or 'none', or list fewer steps "
                "with steps: {first, last}."
            )
        out.append(
            StepOut(
                index=s.index,
                action=_action(s.action),
                narration=s.narration,
                events=list(s.events),
                state=state,
                changes=changes,
            )
        )
    return out


def run_response(
    trace: Trace, definition: str | None, states: str = "changes", window: StepWindow | None = None
) -> RunResponse:
    """The API's answer for a trace; raises ValueError (AnswerTooLarge among them) for a window it cannot give."""
    scenario_id = trace.scenario.source.id
    return RunResponse(
        scenario=scenario_id,
        fingerprint=trace.scenario.fingerprint,
        schedule=list(trace.schedule),
        states=states,  # type: ignore[arg-type]
        steps=_steps(trace, states, window or StepWindow()),
        enabled=[ActionOut(id=a.id, actor=a.actor, label=a.label) for a in trace.enabled],
        blocked=[BlockedOut(actor=a, reason=r) for a, r in trace.blocked],
        violations=[
            ViolationOut(kind=v.kind, rule=v.rule, step=step, message=v.message, actor=v.actor)
            for step, v in trace.violations
        ],
        outcome=trace.outcome,  # type: ignore[arg-type]
        link=play_link(scenario_id, trace.schedule, definition=definition),
    )


@router.get("/scenarios", response_model=list[ScenarioSummary])
async def list_scenarios(request: Request) -> list[ScenarioSummary]:
    """The built-in scenarios in gallery order."""
    return [
        ScenarioSummary(
            id=c.source.id,
            title=c.source.title,
            summary=c.source.summary,
            level=c.source.level,
            expect=c.source.expect,
            tags=c.source.tags,
            rules=c.source.rules,
        )
        for c in _library(request).scenarios.values()
    ]


@router.get("/scenarios/{scenario_id}", response_model=Scenario, responses=SCENARIO_ERRORS)
async def get_scenario(request: Request, scenario_id: ScenarioId) -> Scenario:
    """One built-in scenario as data, including its demo schedule; it can be edited and posted back inline."""
    compiled, _ = resolve_scenario(request, scenario_id)
    return compiled.source


@router.get("/scenario-schema", response_model=dict[str, Any])
async def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario object, for authors and editors."""
    return Scenario.model_json_schema()


@router.post("/run", response_model=RunResponse, responses=SCENARIO_ERRORS)
def run(request: Request, body: RunRequest) -> RunResponse:
    """Replay a schedule (and optionally run on) and return the whole trace.

    A plain ``def``: replaying up to 2,000 steps is CPU work, so FastAPI runs it in its thread pool instead of on
    the event loop.
    """
    compiled, definition = resolve_scenario(request, body.scenario)
    try:
        schedule = parse_schedule(body.schedule)
        trace = request.app.state.traces.get(compiled, schedule)
        if body.continue_with is not None:
            c = body.continue_with
            trace = run_on(trace, c.scheduler, c.max_steps, seed=c.seed)
        answer = run_response(trace, definition, body.states, body.steps)
    except ValueError as err:  # an IllegalAction, a malformed schedule, a window or an answer too large
        raise HTTPException(422, str(err)) from None
    if body.reachability:
        try:
            meter = request.app.state.meters.wait(compiled, timeout=REACHABILITY_WAIT_S)
        except TimeoutError:  # other scenarios' searches were queued before this one
            raise HTTPException(
                503,
                "The search behind 'reachability' is still running for this scenario; ask again in a minute.",
                headers={"Retry-After": "60"},
            ) from None
        answer.reachability = ReachabilityOut(exact=meter.exact, states=meter.states)
        final = len(trace.snapshots) - 1
        ended = frozenset(v.kind for v in trace.terminal_violations)
        for step in answer.steps:
            state = trace.snapshots[step.index].state
            broken = frozenset(state.violated) | (ended if step.index == final else frozenset())
            step.reachable = {r.kind: r.word for r in readings(meter, state, broken)}
    return answer


# The meter's search is bounded in time (app/web/meter.py); an API call waits for it a little longer than that.
REACHABILITY_WAIT_S = 45.0
