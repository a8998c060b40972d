"""Challenges over HTTP: the stage where the learner is the scheduler (``/challenges/<id>``), the fix challenges'
design page, completion links (``/challenges/<id>/won``) that replay a win for anyone, and the JSON API
(``GET /api/challenges``, ``POST /api/challenges/<id>/attempts``).

A break challenge's stage is the player's, with the challenge's panel in the narration box: every button is the
player's, and the server judges each step (won, lost, or going on). Hints and "watching a completed run" travel in
the link (``h``, ``w``), so back, forward and a copied address reproduce them too. A completion link carries the
winning schedule (or, for a fix challenge, the picked design); the server replays it, so it proves the win without
accounts or signatures.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema
from starlette.concurrency import run_in_threadpool

from app.challenges import Catalogue, CompiledChallenge, Score, compose, judge, pick_problem, search, shortest
from app.sim import RULES, IllegalAction, Trace, parse_schedule
from app.web import link_versions
from app.web.api import Schedule
from app.web.errors import API_ERRORS, PAGE_ERRORS
from app.web.links import LINK_VERSION, encode_definition, play_link
from app.web.meter import Meters
from app.web.player import MAX_LINK_SCHEDULE, Location, follow, meter_view, parse_step, player_view

api = APIRouter(prefix="/api", tags=["challenges"])
pages = APIRouter(tags=["challenges"])

ChallengeId = Annotated[
    str, Path(max_length=64, description="A challenge's id, as GET /api/challenges lists.")
]
CHALLENGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **API_ERRORS,
    404: {"model": API_ERRORS[422]["model"], "description": "There is no challenge with this id."},
}


def catalogue(request: Request) -> Catalogue:
    found: Catalogue = request.app.state.challenges
    return found


def find(request: Request, challenge_id: str) -> CompiledChallenge:
    """The challenge with this id, or a 404 that says where the list is."""
    challenge = catalogue(request).get(challenge_id)
    if challenge is None:
        raise HTTPException(
            404,
            f"There is no challenge '{challenge_id[:64]}'. GET /api/challenges (or /learn) lists them all.",
        )
    return challenge


def replay_attempt(request: Request, challenge: CompiledChallenge, schedule: tuple[str, ...]) -> Trace:
    """The challenge's scenario run along ``schedule``, or a 422 that says why it cannot be."""
    try:
        trace: Trace = request.app.state.traces.get(challenge.scenario, schedule)
    except IllegalAction as err:
        raise HTTPException(
            422, f"This schedule cannot be replayed on the challenge's scenario: {err}"
        ) from None
    return trace


def read_link(
    challenge: CompiledChallenge, v: str | None, s: str | None, at: str | None
) -> tuple[str | None, str | None]:
    """A challenge link's schedule and step as today's link version means them (app/web/link_versions.py): a 400
    for a version this server does not read."""
    upgraded = link_versions.upgrade(v, challenge.scenario.source.id, s, at)
    return (s, at) if upgraded is None else (upgraded.s, upgraded.at)


def parse_link_schedule(text: str | list[str] | None) -> tuple[str, ...]:
    try:
        return parse_schedule(text or "")
    except ValueError as err:
        raise HTTPException(422, f"The schedule is malformed: {err}") from None


# -- fix challenges: a design is a pick of one option per slot, searched once ------------------------------------


class Verdicts:
    """The explorer's verdict on each design a learner picks, kept (a few hundred designs at most per challenge)."""

    def __init__(self, kept: int = 256):
        self._kept = kept
        self._done: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, request: Request, challenge: CompiledChallenge, picks: dict[str, str]) -> dict[str, Any]:
        key = (challenge.source.id, tuple(sorted(picks.items())))
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                return self._done[key]
        verdict = _verdict(request, challenge, picks)
        with self._lock:
            self._done[key] = verdict
            while len(self._done) > self._kept:
                self._done.popitem(last=False)
        return verdict


def _verdict(request: Request, challenge: CompiledChallenge, picks: dict[str, str]) -> dict[str, Any]:
    """Whether the picked design is safe in every interleaving, and if not, the shortest way each rule breaks."""
    base = request.app.state.library.get(challenge.source.scenario)
    compiled = compose(challenge.source, base, picks)
    report = search(compiled)
    definition = encode_definition(compiled.source.model_dump(mode="json"))
    witnesses = [
        {
            "kind": kind,
            "rule": RULES[kind].rule,
            "title": RULES[kind].title,
            "schedule": list(schedule),
            "link": play_link("custom", schedule, at=len(schedule), definition=definition),
        }
        for kind, schedule in sorted(report.witnesses.items(), key=lambda kv: (len(kv[1]), kv[0]))
    ]
    safe = report.complete and not witnesses
    if safe:
        reason = (
            f"Proven safe: the explorer searched every interleaving of this design ({report.states:,} distinct "
            "states) and no rule can break."
        )
    elif witnesses:
        first = shortest(report)
        assert first is not None
        kind, schedule = first
        reason = (
            f"Not safe: rule {RULES[kind].rule} ({RULES[kind].title}) can break, in {len(schedule)} steps at the "
            f"fewest. {len(witnesses)} rule(s) can break in all."
        )
    else:
        reason = (
            f"Not proven: the explorer stopped after {report.states:,} states ({report.stopped_by}) without finding "
            "a broken rule, which is not a proof."
        )
    return {
        "safe": safe,
        "reason": reason,
        "witnesses": witnesses,
        "states": report.states,
        "design": play_link("custom", (), at=0, definition=definition),
    }


def _form_picks(request: Request) -> list[str]:
    """The design page's form names each slot's radio group ``c.<slot>`` (one group per slot): as ``c`` pairs."""
    return [
        f"{key[2:]}:{value}"
        for key, value in request.query_params.multi_items()
        if key.startswith("c.") and len(key) <= 40
    ][:8]


def _picks(
    challenge: CompiledChallenge, pairs: list[str] | None, *, default: bool, request: Request | None = None
) -> dict[str, str]:
    """``c=<slot>:<option>`` parameters (and the form's ``c.<slot>=<option>``) as a pick; the challenge's start
    for the slots not named, if ``default``."""
    picks: dict[str, str] = dict(challenge.source.start or {}) if default else {}
    for pair in [*(pairs or []), *(_form_picks(request) if request is not None else [])]:
        slot, sep, option = pair.partition(":")
        if not sep:
            raise HTTPException(
                422,
                f"'{pair[:80]}' is not a pick: write it as <slot>:<option>, for example c=Sender:rundown.",
            )
        picks[slot] = option
    problem = pick_problem(challenge.source, picks)
    if problem:
        raise HTTPException(422, f"This design cannot be built: {problem}")
    return picks


def _pick_query(picks: dict[str, str]) -> str:
    return urlencode([("c", f"{slot}:{option}") for slot, option in picks.items()], safe=":")


# -- the API -------------------------------------------------------------------------------------------------------


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


Word = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ScoreOut(BaseModel):
    steps: int = Field(description="Steps up to the win (or of the whole run, when it did not win).")
    preemptions: int = Field(
        description="How many of those steps switched away from a thread that could go on."
    )


class OptionOut(BaseModel):
    id: str
    label: str
    code: list[str] = Field(description="The option's program, one line of C per statement.")


class SlotOut(BaseModel):
    name: str = Field(description="The thread or routine whose program the learner picks.")
    kind: Literal["thread", "routine"]
    options: list[OptionOut]


class ChallengeOut(BaseModel):
    id: str
    title: str
    kind: Literal["break", "fix"]
    scenario: Annotated[
        str | dict[str, Any],
        WithJsonSchema(
            {
                "anyOf": [{"type": "string"}, {"type": "object"}],
                "description": "Break: the built-in scenario's id. Fix: the starting design, a whole scenario "
                "object (see GET /api/scenario-schema).",
            }
        ),
    ]
    goal: dict[str, Any] = Field(
        description="Machine-readable: {'kind': <violation kind>} to break that rule (a break challenge), or "
        "{'safe': true} to make every interleaving safe (a fix challenge)."
    )
    story: str
    best: ScoreOut | None = Field(description="Break: the explorer's shortest solution. Fix: null.")
    slots: list[SlotOut] | None = Field(
        description="Fix: what the learner picks (null for a break challenge)."
    )


class AttemptIn(Input):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"schedule": ["Sender", "Sender", "Sender", "Closer", "Closer", "Closer", "Closer-i"]},
                {"choices": {"Sender": "rundown", "Closer": "rundown-wait"}},
            ]
        },
    )

    schedule: Schedule | None = Field(default=None, description="Break: the run, as in a player link.")
    choices: dict[Word, Word] | None = Field(
        default=None,
        max_length=8,
        description="Fix: one option id per slot (GET /api/challenges lists them).",
    )


class WitnessOut(BaseModel):
    kind: str
    rule: str
    schedule: list[str]
    link: str = Field(description="The interleaving on the player.")


class AttemptOut(BaseModel):
    won: bool
    outcome: Literal["won", "lost", "running", "safe", "unsafe"] = Field(
        description="Break: won, lost (the run ended without the goal) or running. Fix: safe or unsafe."
    )
    score: ScoreOut | None = Field(description="Break: the attempt's steps and preemptions. Fix: null.")
    best: ScoreOut | None = Field(description="Break: the explorer's shortest solution. Fix: null.")
    reason: str
    link: str = Field(
        description="When won, the completion link anyone can open to watch the win replayed; otherwise the "
        "attempt on the challenge's page."
    )
    witnesses: list[WitnessOut] = Field(
        default_factory=list, description="Fix, when unsafe: the shortest interleaving that breaks each rule."
    )


def _score(score: Score | None) -> ScoreOut | None:
    return None if score is None else ScoreOut(steps=score.steps, preemptions=score.preemptions)


def completion_link(
    challenge: CompiledChallenge, schedule: tuple[str, ...] = (), picks: dict[str, str] | None = None
) -> str:
    if picks is not None:
        return f"/challenges/{challenge.source.id}/won?{_pick_query(picks)}"
    return (
        f"/challenges/{challenge.source.id}/won?"
        f"{urlencode({'v': LINK_VERSION, 's': '.'.join(schedule)}, safe='.-_~')}"
    )


def stage_link(
    challenge: CompiledChallenge, schedule: tuple[str, ...], at: int, hints: int = 0, watch: bool = False
) -> str:
    params: dict[str, Any] = {"v": LINK_VERSION, "s": ".".join(schedule)}
    if at != len(schedule):
        params["at"] = at
    if hints:
        params["h"] = hints
    if watch:
        params["w"] = 1
    return f"/challenges/{challenge.source.id}?{urlencode(params, safe='.-_~')}"


@api.get("/challenges", response_model=list[ChallengeOut])
async def list_challenges(request: Request) -> list[ChallengeOut]:
    """Every challenge in order: its goal (machine-readable), its scenario, and what a fix challenge offers."""
    out = []
    for c in catalogue(request).challenges.values():
        slots = (
            [
                SlotOut(
                    name=choice.name,
                    kind=choice.kind,  # type: ignore[arg-type]
                    options=[
                        OptionOut(id=i, label=label, code=list(code)) for i, label, code in choice.options
                    ],
                )
                for choice in c.choices
            ]
            if c.kind == "fix"
            else None
        )
        scenario: str | dict[str, Any] = (
            c.source.scenario if c.kind == "break" else c.scenario.source.model_dump(mode="json")
        )
        out.append(
            ChallengeOut(
                id=c.source.id,
                title=c.source.title,
                kind=c.kind,
                scenario=scenario,
                goal=c.goal_json(),
                story=c.source.story,
                best=_score(c.best),
                slots=slots,
            )
        )
    return out


@api.post("/challenges/{challenge_id}/attempts", response_model=AttemptOut, responses=CHALLENGE_ERRORS)
def attempt(request: Request, challenge_id: ChallengeId, body: AttemptIn) -> AttemptOut:
    """Judge an attempt: a schedule for a break challenge (won when the goal's rule breaks; lost when the run ends
    without it), or a pick of options for a fix challenge (won when the explorer proves every interleaving safe).

    A plain ``def``: replaying and searching are CPU work, run in FastAPI's thread pool."""
    challenge = find(request, challenge_id)
    if challenge.kind == "break":
        if body.choices is not None or body.schedule is None:
            raise HTTPException(
                422,
                "This is a break challenge: send {'schedule': [...]}, the run as action ids, and no 'choices'.",
            )
        trace = replay_attempt(request, challenge, parse_link_schedule(body.schedule))
        verdict = judge(challenge, trace)
        won = verdict.outcome == "won"
        link = (
            completion_link(challenge, trace.schedule[: verdict.won_at])
            if won
            else stage_link(challenge, trace.schedule, len(trace.schedule))
        )
        return AttemptOut(
            won=won,
            outcome=verdict.outcome,
            score=_score(verdict.score),
            best=_score(challenge.best),
            reason=verdict.reason,
            link=link,
        )
    if body.schedule is not None or body.choices is None:
        raise HTTPException(
            422,
            "This is a fix challenge: send {'choices': {<slot>: <option>}}, one option per slot, and no "
            "'schedule'. GET /api/challenges lists the slots and their options.",
        )
    picks = dict(body.choices)
    problem = pick_problem(challenge.source, picks)
    if problem:
        raise HTTPException(422, f"This design cannot be built: {problem}")
    verdicts: Verdicts = request.app.state.challenge_verdicts
    found = verdicts.get(request, challenge, picks)
    return AttemptOut(
        won=found["safe"],
        outcome="safe" if found["safe"] else "unsafe",
        score=None,
        best=None,
        reason=found["reason"],
        link=completion_link(challenge, picks=picks)
        if found["safe"]
        else f"/challenges/{challenge_id}?{_pick_query(picks)}",
        witnesses=[
            WitnessOut(kind=w["kind"], rule=w["rule"], schedule=w["schedule"], link=w["link"])
            for w in found["witnesses"]
        ],
    )


# -- the pages -----------------------------------------------------------------------------------------------------

Step = Annotated[str | None, Query(max_length=8, json_schema_extra={"pattern": r"^[0-9]{0,4}$"})]
Picks = Annotated[
    list[Annotated[str, StringConstraints(max_length=140)]] | None,
    Query(
        max_length=8,
        description="Fix: the design, as <slot>:<option> picks (the start's for slots not named).",
    ),
]


def hints_shown(h: str | None, most: int) -> int:
    if h is None or h == "":
        return 0
    if len(h) > 4 or not all(c in "0123456789" for c in h) or int(h) > most:
        raise HTTPException(422, f"'h={h[:8]}' is not a number of hints: use a number from 0 to {most}.")
    return int(h)


@pages.get("/challenges/{challenge_id}", response_class=HTMLResponse, responses=PAGE_ERRORS)
async def challenge_page(
    request: Request,
    challenge_id: ChallengeId,
    v: Annotated[str | None, Query(max_length=8)] = None,
    s: Annotated[str | None, Query(max_length=MAX_LINK_SCHEDULE)] = None,
    at: Step = None,
    to: Step = None,
    then: Annotated[str | None, Query(max_length=48)] = None,
    h: Annotated[str | None, Query(max_length=8, description="Hints revealed.")] = None,
    w: Annotated[str | None, Query(max_length=1, description="1: watching a completed run.")] = None,
    c: Picks = None,
    hint: Annotated[
        Literal["more", "all"] | None,
        Query(description="A hint button: reveal one more action of the shortest solution, or all of it."),
    ] = None,
) -> Response:
    """A challenge: a break challenge's stage at a step (``to`` and ``then`` are the player's buttons, ``hint``
    the hint buttons), or a fix challenge's design page (with ``c``, the picked design and its verdict)."""
    challenge = find(request, challenge_id)
    if challenge.kind == "fix":
        picks = _picks(challenge, c, default=True, request=request)
        asked = bool(c) or bool(_form_picks(request))
        verdict = (
            await run_in_threadpool(request.app.state.challenge_verdicts.get, request, challenge, picks)
            if asked
            else None
        )
        return _fix_page(request, challenge, picks, verdict, None)
    s, at = read_link(challenge, v, s, at)
    fragment = request.headers.get("hx-request") == "true"
    hints = hints_shown(h, len(challenge.witness))
    if hint is not None:
        hints = len(challenge.witness) if hint == "all" else min(hints + 1, len(challenge.witness))
    watch = w == "1"

    def resolve() -> tuple[Location, str | None]:
        schedule = parse_link_schedule(s)
        trace = replay_attempt(request, challenge, schedule)
        loc = Location(challenge.scenario, None, schedule, parse_step(at, len(schedule)), trace)
        if to is None and then is None:
            return loc, (stage_link(challenge, schedule, loc.at, hints, watch) if hint is not None else None)
        if then == "@demo":
            raise HTTPException(
                422, "A challenge has no demo run: finding it is the challenge. Try the hints."
            )
        new_schedule, step, _ = follow(loc, then, to, "/play")
        trace = replay_attempt(request, challenge, new_schedule)
        moved = Location(challenge.scenario, None, new_schedule, step, trace)
        return moved, stage_link(challenge, new_schedule, step, hints, watch)

    loc, target = await run_in_threadpool(resolve)
    if target is not None and not fragment:
        return RedirectResponse(target, status_code=303)

    def render() -> str:
        view = _stage_view(request, challenge, loc, hints, watch)
        name = "partials/player.html" if fragment else "pages/challenge.html"
        return str(request.app.state.templates.get_template(name).render(request=request, **view))

    headers = (
        {"HX-Push-Url": target or stage_link(challenge, loc.schedule, loc.at, hints, watch)}
        if fragment
        else {}
    )
    return HTMLResponse(await run_in_threadpool(render), headers=headers)


def _stage_view(
    request: Request,
    challenge: CompiledChallenge,
    loc: Location,
    hints: int,
    watch: bool,
    completed: bool = False,
) -> dict[str, Any]:
    meters: Meters = request.app.state.meters
    meter = meters.ready(loc.compiled)
    view = player_view(loc, "/play") | {"meter": meter_view(loc, meter)}
    view["nav"] = view["nav"] | {"action": f"/challenges/{challenge.source.id}"}
    # The stage's own ways to the answer are the challenge's to give: no demo, no "find the race" at the end.
    view["controls"] = view["controls"] | {
        "demo": False,
        "here": stage_link(challenge, loc.schedule, loc.at, hints, watch),
        "restart": stage_link(challenge, (), 0),
    }
    view["ending"] = None
    view["challenge"] = challenge_view(request, challenge, loc, hints, watch, completed, meter)
    view["page_title"] = f"{challenge.source.title}: step {loc.at} of {len(loc.schedule)}"
    return view


def challenge_view(
    request: Request,
    challenge: CompiledChallenge,
    loc: Location,
    hints: int,
    watch: bool,
    completed: bool,
    meter: Any,
) -> dict[str, Any]:
    """What the challenge adds to the stage at a step: the goal, the judgement, hints, the score and links."""
    kind = challenge.goal_kind
    assert kind is not None and challenge.best is not None
    verdict = judge(challenge, loc.trace, loc.at)
    solution = request.app.state.traces.get(challenge.scenario, challenge.witness)
    shown = [
        {"n": n, "id": snap.action.id, "label": snap.action.label}
        for n, snap in enumerate(solution.snapshots[1 : hints + 1], start=1)
        if snap.action is not None
    ]
    on_track = loc.schedule[: loc.at] == challenge.witness[: loc.at]
    hopeless = False
    if verdict.outcome == "running" and meter is not None and meter.exact:
        reach = meter.at(loc.trace.snapshots[loc.at].state)
        hopeless = reach is not None and reach.verdict(kind, frozenset()) == "impossible"
    won_schedule = loc.schedule[: verdict.won_at] if verdict.won_at is not None else ()
    whole = judge(challenge, loc.trace) if watch else None  # watching: the run being watched, as a whole
    nxt = catalogue(request).after(challenge.source.id)
    return {
        "id": challenge.source.id,
        "title": challenge.source.title,
        "story": challenge.source.story,
        "rule": RULES[kind],
        "outcome": verdict.outcome,
        "reason": verdict.reason,
        "score": verdict.score,
        "best": challenge.best,
        "beat_best": verdict.outcome == "won" and not challenge.best.better_than(verdict.score),
        "hints": hints,
        "shown": shown,
        "more_hints": hints < len(challenge.witness),
        "solution_steps": len(challenge.witness),
        "on_track": on_track and hints > 0 and loc.at < len(challenge.witness),
        "hopeless": hopeless,
        "watch": watch,
        "completed": completed,
        "proof": whole if whole is not None and whole.outcome == "won" else None,
        "won_schedule": ".".join(won_schedule),
        "completion": completion_link(challenge, won_schedule) if verdict.outcome == "won" else None,
        "docs": challenge.source.docs,
        "next": {"id": nxt.source.id, "title": nxt.source.title} if nxt else None,
    }


def _fix_page(
    request: Request,
    challenge: CompiledChallenge,
    picks: dict[str, str],
    verdict: dict[str, Any] | None,
    completed: bool | None,
) -> HTMLResponse:
    nxt = catalogue(request).after(challenge.source.id)
    view = {
        "c": challenge,
        "picks": picks,
        "verdict": verdict,
        "completion": completion_link(challenge, picks=picks) if verdict and verdict["safe"] else None,
        "completed": completed,
        "pick_value": ",".join(f"{k}:{v}" for k, v in sorted(picks.items())),
        "next": {"id": nxt.source.id, "title": nxt.source.title} if nxt else None,
    }
    body = request.app.state.templates.get_template("pages/challenge-fix.html").render(
        request=request, **view
    )
    return HTMLResponse(body)


@pages.get("/challenges/{challenge_id}/check", response_class=HTMLResponse, responses=PAGE_ERRORS)
async def check_design(request: Request, challenge_id: ChallengeId, c: Picks = None) -> Response:
    """A fix challenge's verdict on the picked design (the fragment the design page swaps in); without htmx, the
    design page itself, under its own link."""
    challenge = find(request, challenge_id)
    if challenge.kind != "fix":
        raise HTTPException(422, "Only a fix challenge checks a design; this one is played on the stage.")
    picks = _picks(challenge, c, default=True, request=request)
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"/challenges/{challenge_id}?{_pick_query(picks)}", status_code=303)
    verdict = await run_in_threadpool(request.app.state.challenge_verdicts.get, request, challenge, picks)
    view = {
        "c": challenge,
        "verdict": verdict,
        "completion": completion_link(challenge, picks=picks) if verdict["safe"] else None,
        "pick_value": ",".join(f"{k}:{v}" for k, v in sorted(picks.items())),
        "next": None,
    }
    body = request.app.state.templates.get_template("partials/challenge-verdict.html").render(
        request=request, **view
    )
    return HTMLResponse(body, headers={"HX-Push-Url": f"/challenges/{challenge_id}?{_pick_query(picks)}"})


@pages.get("/challenges/{challenge_id}/won", response_class=HTMLResponse, responses=PAGE_ERRORS)
async def completed(
    request: Request,
    challenge_id: ChallengeId,
    v: Annotated[str | None, Query(max_length=8)] = None,
    s: Annotated[str | None, Query(max_length=MAX_LINK_SCHEDULE)] = None,
    c: Picks = None,
) -> Response:
    """A completion link: the server replays the winning run (or searches the picked design) and, if it wins,
    shows it from its start, to be watched; a link that does not win is refused with the reason."""
    challenge = find(request, challenge_id)
    if challenge.kind == "fix":
        if not c:
            raise HTTPException(
                422, "A fix challenge's completion link carries its design as c=<slot>:<option>."
            )
        picks = _picks(challenge, c, default=False)
        verdict = await run_in_threadpool(request.app.state.challenge_verdicts.get, request, challenge, picks)
        if not verdict["safe"]:
            raise HTTPException(422, f"This link's design does not solve the challenge. {verdict['reason']}")
        return _fix_page(request, challenge, picks, verdict, True)
    s, _ = read_link(challenge, v, s, None)

    def render() -> str:
        schedule = parse_link_schedule(s)
        trace = replay_attempt(request, challenge, schedule)
        verdict = judge(challenge, trace)
        if verdict.outcome != "won":
            raise HTTPException(422, f"This link's run does not win the challenge. {verdict.reason}")
        loc = Location(challenge.scenario, None, schedule, 0, trace)
        view = _stage_view(request, challenge, loc, 0, True, completed=True)
        return str(
            request.app.state.templates.get_template("pages/challenge.html").render(request=request, **view)
        )

    return HTMLResponse(await run_in_threadpool(render))


def cards(request: Request) -> list[dict[str, Any]]:
    """The challenges as the course lists them (a template global: the course page is not this module's)."""
    return [
        {
            "id": c.source.id,
            "title": c.source.title,
            "story": c.source.story,
            "kind": c.kind,
            "best": c.best,
            "rule": RULES[c.goal_kind] if c.goal_kind else None,
        }
        for c in catalogue(request).challenges.values()
    ]


def progress_ids(request: Request) -> dict[str, str]:
    """The lesson and challenge ids the gallery's progress line counts, space-separated."""
    return {
        "lessons": " ".join(request.app.state.course.lessons),
        "challenges": " ".join(catalogue(request).challenges),
    }
