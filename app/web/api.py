"""The JSON API: list and fetch scenarios, and run a schedule into a trace.

Routes are thin: parse the typed request, resolve the scenario, call the engine once, shape the answer. Every
failure a caller can cause is a 4xx whose ``detail`` says what is wrong and how to fix it.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from app.scenarios import ScenarioError, parse_scenario
from app.sim import CompiledScenario, IllegalAction, Scenario, Trace, parse_schedule, run_on
from app.sim.describe import describe_state
from app.sim.engine import Event
from app.sim.replay import MAX_SCHEDULE
from app.web.links import LinkError, encode_definition, play_link

router = APIRouter(prefix="/api", tags=["api"])


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ScenarioSummary(BaseModel):
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


class RunRequest(Input):
    scenario: str | dict[str, Any] = Field(
        description="A built-in scenario id, or a whole scenario object (schema: GET /api/scenario-schema)."
    )
    schedule: list[str] | str = Field(
        default="", description="Action ids, as a list or joined by '.' ('Sender.Closer-p.wsk-c1')."
    )
    continue_with: ContinueWith | None = None
    include_states: bool = Field(default=True, description="Include the full state at every step.")


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
    state: dict[str, Any] | None


class BlockedOut(BaseModel):
    actor: str
    reason: str


class RunResponse(BaseModel):
    scenario: str
    fingerprint: str
    schedule: list[str]
    steps: list[StepOut]
    enabled: list[ActionOut]
    blocked: list[BlockedOut]
    violations: list[ViolationOut]
    outcome: Literal["running", "ok", "violation", "deadlock"]
    link: str


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
            raise HTTPException(404, f"There is no scenario '{scenario}'. Known scenarios: {known}.")
        return found, None
    try:
        compiled = parse_scenario(scenario)
        definition = encode_definition(compiled.source.model_dump(mode="json"))
    except (ScenarioError, LinkError) as err:
        raise HTTPException(422, str(err)) from None
    return compiled, definition


def _action(a: Any) -> ActionOut | None:
    return None if a is None else ActionOut(id=a.id, actor=a.actor, label=a.label)


def run_response(trace: Trace, definition: str | None, include_states: bool) -> RunResponse:
    engine = trace.engine
    scenario_id = trace.scenario.source.id
    return RunResponse(
        scenario=scenario_id,
        fingerprint=trace.scenario.fingerprint,
        schedule=list(trace.schedule),
        steps=[
            StepOut(
                index=s.index,
                action=_action(s.action),
                narration=s.narration,
                events=list(s.events),
                state=describe_state(engine, s.state) if include_states else None,
            )
            for s in trace.snapshots
        ],
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


@router.get("/scenarios/{scenario_id}", response_model=Scenario)
async def get_scenario(request: Request, scenario_id: str) -> Scenario:
    """One built-in scenario as data, including its demo schedule; it can be edited and posted back inline."""
    compiled, _ = resolve_scenario(request, scenario_id)
    return compiled.source


@router.get("/scenario-schema")
async def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario object, for authors and editors."""
    return Scenario.model_json_schema()


@router.post("/run", response_model=RunResponse)
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
    except IllegalAction as err:
        raise HTTPException(422, str(err)) from None
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    return run_response(trace, definition, body.include_states)
