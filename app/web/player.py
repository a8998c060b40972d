"""The player: ``/play/<scenario>?v=2&s=<schedule>&at=<step>`` (and ``/embed/...`` for iframes).

The URL is the whole state: the scenario (by id, or inline in ``def=``), the schedule and the step. Every control on
the page is a link to another such URL, rendered by the server from the engine's enabled actions, so the browser's
back and forward buttons, reload and a copied address all reproduce the exact picture. An htmx request gets only
the swapped region; a normal request gets the full page (``Vary: HX-Request`` keeps caches honest).
"""

from __future__ import annotations

import json
import time
from bisect import bisect_left
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.scenarios import ScenarioError, parse_scenario
from app.sim import RULES, CompiledScenario, IllegalAction, Trace, parse_schedule, sandbox, schedulers
from app.sim.describe import describe_state, what_changed
from app.sim.model import IrpState
from app.sim.reach import Meter
from app.sim.replay import MAX_SCHEDULE
from app.sim.scenario import MAX_ACTION_ID
from app.web import diagram, link_versions
from app.web import meter as meter_module
from app.web.api import run_response
from app.web.caching import CACHE_CONTROL, StepCache, StepKey, matches
from app.web.errors import PAGE_ERRORS, PageError
from app.web.links import LINK_VERSION, MAX_DEF_CHARS, LinkError, decode_definition, play_link
from app.web.meter import Meters
from app.web.params import ScenarioId, query_model
from app.web.versions import content_hash, made_with

router = APIRouter()

COLUMNS = (
    ("ALLOCATED", "Allocated"),
    ("ARMED", "Armed"),
    ("OWNED_BY_WSK", "Owned by WSK"),
    ("IN_COMPLETION_ROUTINE", "In completion routine"),
    ("OWNED_BY_APP", "Back with the app"),
    ("FREED", "Freed"),
)


@dataclass(frozen=True)
class Location:
    """A parsed player URL."""

    compiled: CompiledScenario
    definition: str | None  # the encoded custom scenario, when it travels in the link
    schedule: tuple[str, ...]
    at: int
    trace: Trace
    upgraded: link_versions.Upgraded | None = (
        None  # a link of an older version, read as today's (link_versions)
    )


def locate(
    request: Request, scenario_id: str, v: str | None, s: str | None, at: str | None, definition: str | None
) -> Location:
    """Parse and check a player URL; every problem is a 4xx with a sentence saying what to do."""
    # A link of an older version means today what it meant then (a 400 names the versions this server reads).
    upgraded = link_versions.upgrade(v, None if scenario_id == "custom" else scenario_id, s, at)
    if upgraded is not None:
        s, at = upgraded.s, upgraded.at
    if scenario_id == "custom":
        if not definition:
            raise HTTPException(
                400, "A custom scenario link needs its scenario in the 'def' parameter; copy the whole link."
            )
        try:
            compiled = parse_scenario(decode_definition(definition))
        except (LinkError, ScenarioError) as err:
            raise HTTPException(422, str(err)) from None
    else:
        if definition is not None:
            raise HTTPException(
                400,
                f"'{scenario_id[:64]}' is a built-in scenario, so its link carries no 'def'. Remove the 'def' "
                "parameter, or open a custom scenario at /play/custom.",
            )
        found = request.app.state.library.get(scenario_id)
        if found is None:
            raise HTTPException(404, f"There is no scenario '{scenario_id}'. The gallery lists them all.")
        compiled, definition = found, None
    try:
        schedule = parse_schedule(s or "")
        if definition is None and sandbox.design_of(compiled.source.id) is not None:
            over = sandbox.over_bounds(schedule)
            if over is not None:
                raise HTTPException(422, f"This sandbox link asks for more than a sandbox holds: {over}")
        trace = request.app.state.traces.get(compiled, schedule)
    except IllegalAction as err:
        # Ways forward: the last step the schedule does reach, and (for a link made with an earlier version of a
        # built-in scenario) that version.
        valid = parse_schedule(s or "")[: max(0, (err.step or 1) - 1)]
        forward = _forward(compiled, definition, valid, f"Step {len(valid)}, the last this link reaches")
        earlier = None if definition else made_with(request, compiled)
        if earlier and earlier["stored"]:
            forward.insert(0, ("Open the version of the scenario this link was made with", earlier["stored"]))
        raise PageError(422, f"This link's schedule cannot be replayed: {err}", forward) from None
    except ValueError as err:
        raise PageError(
            422, f"This link's schedule is malformed: {err}", _forward(compiled, definition)
        ) from None
    try:
        step = parse_step(at, len(schedule))
    except HTTPException as err:
        forward = _forward(compiled, definition, schedule, f"Step {len(schedule)}, the last of this run")
        raise PageError(err.status_code, str(err.detail), forward) from None
    return Location(compiled, definition, schedule, step, trace, upgraded)


def _forward(
    compiled: CompiledScenario, definition: str | None, schedule: tuple[str, ...] = (), label: str = ""
) -> list[tuple[str, str]]:
    """The ways forward from a link that cannot be shown: the nearest valid step, the scenario's start, its page."""
    name = compiled.source.id
    ways = [(label, play_link(name, schedule, definition=definition))] if label else []
    ways.append((f"The start of {compiled.source.title}", play_link(name, (), definition=definition)))
    if definition is None:
        ways.append(("Its code, settings and narrated run", f"/scenarios/{name}"))
    return ways


def parse_step(at: str | None, last: int) -> int:
    """The ``at`` of a link: ASCII digits naming a step from 0 to ``last``; absent means the last step.

    Checked character by character: ``str.isdigit`` accepts '²', which ``int`` refuses, and ``int`` of thousands
    of digits is slow and refused too.
    """
    if at is None or at == "":
        return last
    if len(at) > len(str(MAX_SCHEDULE)) or not all(c in "0123456789" for c in at) or int(at) > last:
        raise HTTPException(
            422, f"'at={at[:12]}' is not a step of this schedule: use a number from 0 to {last}."
        )
    return int(at)


def link(loc: Location, schedule: tuple[str, ...], at: int | None = None, base: str = "/play") -> str:
    url = play_link(loc.compiled.source.id, schedule, at=at, definition=loc.definition)
    return base + url.removeprefix("/play")


def player_view(loc: Location, base: str) -> dict[str, Any]:
    """Everything the stage shows, prepared so the template only loops and branches.

    Every control is a button of one form (``nav``) that holds the schedule once: a step control sends ``to``, an
    action sends ``then``, and the server answers with the canonical link of the step they lead to (``follow``).
    Linking each control with the whole schedule in its href would make a step's page grow with the square of
    the run's length.
    """
    engine = loc.trace.engine
    source = loc.compiled.source
    snap = loc.trace.snapshots[loc.at]
    # Listed once for this step and shared by everything below (the trace recorded them, or computes them once).
    enabled = loc.trace.enabled_at(loc.at)
    last = len(loc.schedule)
    final = loc.at == last
    # Freed IRPs are history: the board draws the most recently allocated few, and any this step freed or touched,
    # and counts the rest, so only those are described (a loop can free hundreds).
    irps = snap.state.irps
    before = loc.trace.snapshots[loc.at - 1].state.irps if loc.at > 0 else ()
    freed = [index for index, irp in enumerate(irps) if irp.state == IrpState.FREED]
    hidden = {
        index
        for index in freed[: max(0, len(freed) - FREED_SHOWN)]
        if index < len(before) and (before[index] is irps[index] or before[index] == irps[index])
    }
    shown = [index for index in range(len(irps)) if index not in hidden] if hidden else None
    state = describe_state(
        engine,
        snap.state,
        enabled,
        loc.trace.blocked if final else engine.blocked(snap.state, enabled),
        shown,
    )
    # What this step changed stays marked until the next step: IRP cards, socket fields, memory cells, lanes.
    changed = (
        what_changed(engine, loc.trace.snapshots[loc.at - 1].state, snap.state, state)
        if loc.at > 0
        else {"irps": set(), "actors": set(), "sockets": [set() for _ in state["sockets"]], "memory": set()}
    )
    for index, cell in enumerate(state["memory"]):
        cell["changed"] = index in changed["memory"]
    for socket, fields in zip(state["sockets"], changed["sockets"], strict=True):
        socket["changed"] = fields
    for irp in state["irps"]:
        irp["changed"] = irp["id"] in changed["irps"]

    actions = []
    live = sandbox.design_of(source.id) is not None and loc.definition is None
    for number, action in enumerate(enabled, start=1):
        on_run = loc.at < last and loc.schedule[loc.at] == action.id
        actions.append(
            {
                "id": action.id,
                "actor": action.actor,
                "label": action.label,
                # In a live sandbox an idle thread offers every operation: short chips, their full labels on hover.
                "chip": sandbox.chip(action.id) if live else None,
                "key": number if number <= 9 else None,
                "branch": 0 if on_run or final else last - loc.at,
                "next_in_schedule": on_run,
            }
        )
    # Every violation of the run, once: the property walks all snapshots and re-checks the end of the run.
    found = loc.trace.violations
    # Violations found up to this step; those found only when the run ends appear on its last step.
    banner = [
        {
            "step": step,
            "kind": v.kind,
            "rule": v.rule,
            "title": RULES[v.kind].title,
            "message": v.message,
            "consequence": RULES[v.kind].consequence,
            "doc_title": RULES[v.kind].doc_title,
            "doc_url": RULES[v.kind].doc_url,
            "here": step == loc.at,
        }
        for step, v in found
        if step <= loc.at
    ]
    events = [
        {"step": s.index, "kind": e.kind, "text": _event_text(e)}
        for s in loc.trace.snapshots[max(1, loc.at - 11) : loc.at + 1]
        for e in s.events
    ]
    outcome = loc.trace.outcome if final else engine.outcome(snap.state, enabled=enabled)
    # The run so far, ending at this step. Its marks carry only their step number: a click on one submits the
    # form with that step (static/js/player.js).
    drawn = diagram.layout(loc.trace, last=loc.at, current=loc.at, steps=DIAGRAM_STEPS)
    summary = diagram.summary_until(loc.trace, loc.at)
    picture = diagram.svg(drawn, f"Space-time diagram of steps 1 to {loc.at}", summary, clickable=True)
    path = f"{base}/{'custom' if loc.definition else source.id}"
    here = link(loc, loc.schedule, loc.at, "/play")
    return {
        "scenario": source,
        "custom": loc.definition is not None,
        "family": _family_link(loc),
        "at": loc.at,
        "last": last,
        "narration": snap.narration,
        "action_label": snap.action.label if snap.action else None,
        "state": state,
        "lanes": _lanes(state, actions, changed["actors"]),
        "irp_columns": [_column(state["irps"], key, title, len(hidden)) for key, title in COLUMNS],
        "actions": actions,
        "banner": banner,
        # Play stops here: a rule broke at this very step (static/js/player.js reads it).
        "broken_here": any(item["here"] for item in banner),
        "timeline": _track(loc),
        "broken_at": [
            {"step": step, "rule": rule, "times": times}
            for rule, step, times in diagram.by_rule((step, v.rule) for step, v in found)
        ],
        "nav": {
            "action": path,
            "definition": loc.definition,
            "schedule": ".".join(loc.schedule),
            "export": f"/export/{'custom' if loc.definition else source.id}",
            "embed": f"/embed/{'custom' if loc.definition else source.id}",
            "meter": f"/meter/{'custom' if loc.definition else source.id}",
            # "Edit a copy": the editor with this scenario's text (app/web/editor.py).
            "edit": f"/edit?def={loc.definition}" if loc.definition else f"/edit?from={source.id}",
        },
        "events": events[-24:],
        "diagram": Markup(picture),  # built from escaped text only (app/web/diagram.py)
        "diagram_labels": Markup(diagram.label_column(drawn)),
        "diagram_summary": summary,
        "outcome": outcome,
        "controls": {
            "back": loc.at - 1 if loc.at > 0 else None,
            # At the end of the schedule, forward takes the round-robin next action, so arrows can drive a run.
            "forward": loc.at + 1 if loc.at < last else None,
            "can_go_on": bool(enabled),
            "demo": bool(source.demo),
            "restart": link(loc, (), 0, base),
            "here": here,
            # The link Share gives: a built-in's carries its content hash, so it can tell when the scenario changed.
            "share": here + ("" if loc.definition else f"&h={content_hash(loc.compiled)}"),
        },
        "page_title": f"{source.title}: step {loc.at} of {last}",
        "description": f"{source.title}, step {loc.at} of {last}: {snap.narration}"[:300],
        "embed": base == "/embed",
        "sandbox": any(t.menu for t in source.threads),
        "ending": _ending(loc, outcome, banner, final),
        "search_url": f"/search/{'custom' if loc.definition else source.id}"
        + (f"?def={loc.definition}" if loc.definition else ""),
        "live": _live(loc, actions),
    }


def _live(loc: Location, actions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A live sandbox's build bar: the design in force (each other design starts a session of its own), what each
    operation does under it, the thread the user can add next, and the situation built so far (what Find the race
    searches). None for every other scenario."""
    design = sandbox.design_of(loc.compiled.source.id)
    if design is None or loc.definition is not None:
        return None
    state = loc.trace.snapshots[loc.at].state
    added = [a.id for a in state.actors if a.kind == "thread" and a.present]
    built = sandbox.situation_of(design.id, loc.schedule[: loc.at])
    return {
        "design": design,
        "designs": [
            {
                "id": d.id,
                "name": d.name,
                "href": play_link(sandbox.live_id(d.id), ()),
                "current": d.id == design.id,
            }
            for d in sandbox.DESIGNS.values()
        ],
        "operations": [
            {"id": op.id, "name": op.name, "steps": op.steps(design)} for op in sandbox.OPERATIONS
        ],
        # Threads join in order: the button adds the first one not added yet.
        "add": next((a for a in actions if a["id"].endswith("-add")), None),
        "threads": len(added),
        "max_threads": sandbox.MAX_THREADS,
        "max_operations": sandbox.MAX_OPERATIONS,
        "max_steps": MAX_SCHEDULE,
        "situation": built.describe(),
        "empty": built.empty,
    }


def _family_link(loc: Location) -> str | None:
    """The fix verifier of the built-in family this scenario belongs to. A scenario of one's own may say
    ``family`` too, but it is in no built-in family: its link would lead nowhere."""
    family = loc.compiled.source.family
    return f"/families/{family}" if family and loc.definition is None else None


def _ending(loc: Location, outcome: str, banner: list[dict[str, Any]], final: bool) -> dict[str, Any] | None:
    """At the end of a run: how it ended, in a sentence, and what to do next (None while the run goes on)."""
    if outcome == "running" or not final:
        return None
    source = loc.compiled.source
    family = _family_link(loc)
    first_break = banner[0]["step"] if banner else None
    if outcome == "ok":
        says = (
            "This run ended cleanly: every IRP came back and the socket was closed. Another interleaving might "
            "not end so well; Find the race tries them all."
        )
    elif outcome == "deadlock":
        says = "This run is stuck: nothing can move, yet someone still waits. That is a deadlock."
    else:
        says = (
            f"This run broke {len(banner)} rule(s), first at step {first_break}. Go back to a step before it and "
            "choose a different action"
            + (", or see how the other designs of this family fare." if family else ".")
        )
    return {
        "outcome": outcome,
        "says": says,
        "before_break": first_break - 1 if first_break else None,
        "family": family,
        "demo": bool(source.demo) and outcome == "ok",
    }


TRACK_MARKERS = 120
DIAGRAM_STEPS = 80  # the diagram shows the last 80 steps of the run so far, so a long run draws no more
FREED_SHOWN = 3  # a loop can free hundreds of IRPs; the board shows the latest and counts the rest


def _column(irps: list[dict[str, Any]], key: str, title: str, hidden_freed: int) -> dict[str, Any]:
    """One column of the IRP board; the freed column counts the ``hidden_freed`` IRPs it does not draw."""
    return {
        "state": key,
        "title": title,
        "irps": [i for i in irps if i["state"] == key],
        "hidden": hidden_freed if key == "FREED" else 0,
    }


@dataclass(frozen=True)
class TrackMarker:
    """One marker of the track: a step, or a bucket of steps, with what happened in it."""

    first: int
    end: int  # one past its last step
    classes: str  # violation, preempt
    title: str  # escaped

    def html(self, current: bool) -> str:
        classes = f"current {self.classes}".strip() if current else self.classes
        return f'<li class="{classes}" title="{self.title}"></li>'


Track = tuple[tuple[TrackMarker, ...], tuple[str, ...]]


def _track_markers(trace: Trace, kept: Track = ((), ())) -> Track:
    """The track of a whole run, and each marker as HTML when it is not the current one: the same for every step
    of the run, so it is built once per trace. Markers for steps 0..last, one per step or one per bucket of steps
    (up to TRACK_MARKERS), each titled with what happened in it, the broken rules and preemptions marked. Built
    here rather than in the template: the items, each escaped, were a fifth of a step's rendering. ``kept``
    markers (of the same bucket size, from a run this one extends) are taken as they are."""
    last = len(trace.schedule)
    markers = list(kept[0])
    start = markers[-1].end if markers else 0  # the steps the new markers cover: only they are read
    broken_at = sorted({step for step, _ in trace.violations if step >= start})
    preempted_at = [s.index for s in trace.snapshots[start:] if s.preemption]

    def any_in(steps: list[int], first: int, end: int) -> bool:
        i = bisect_left(steps, first)
        return i < len(steps) and steps[i] < end

    size = _bucket(last)
    for first in range(start, last + 1, size):
        end = min(first + size, last + 1)
        broken, preempted = any_in(broken_at, first, end), any_in(preempted_at, first, end)
        action = trace.snapshots[first].action if size == 1 else None
        what = f"step {first}" if size == 1 else f"steps {first}-{end - 1}"
        if action is not None:
            what += f": {action.label}"
        notes = [n for n, hit in (("a rule is broken", broken), ("a preemption", preempted)) if hit]
        classes = " ".join(c for c, hit in (("violation", broken), ("preempt", preempted)) if hit)
        title = what + (f" ({', '.join(notes)})" if notes else "")
        markers.append(TrackMarker(first, end, classes, str(escape(title))))
    built = markers[len(kept[0]) :]
    return tuple(markers), (*kept[1], *(m.html(current=False) for m in built))


def _bucket(last: int) -> int:
    """Steps per marker of a run of ``last`` steps, rounded up, so that it has at most TRACK_MARKERS."""
    return max(1, -(-(last + 1) // TRACK_MARKERS))


def _grown_track(earlier: Track, trace: Trace) -> Track:
    """The track of a run that extends one already tracked: while the bucket size holds, every marker but the
    earlier run's last (its last step, where the end of a run adds findings) stays; the rest are built."""
    markers, html = earlier
    if markers[0].end - markers[0].first != _bucket(len(trace.schedule)):
        return _track_markers(trace)
    return _track_markers(trace, (markers[:-1], html[:-1]))


def _track(loc: Location) -> Markup:
    """The track's list items at the located step: the run's markers, the one holding the step marked current."""
    markers, html = loc.trace.kept("stage.track", _track_markers, _grown_track)
    size = markers[0].end - markers[0].first
    here = loc.at // size
    return Markup("".join((*html[:here], markers[here].html(current=True), *html[here + 1 :])))


SCHEDULER_CHOICES: dict[str, schedulers.SchedulerName] = {"@round-robin": "round_robin", "@random": "random"}


def follow(loc: Location, then: str | None, to: str | None, base: str) -> tuple[tuple[str, ...], int, str]:
    """Where a button of the player's form leads: its schedule, its step and its canonical link.

    ``to`` is a step of the same run. ``then`` is an action taken at the shown step: the run's own next action
    follows the run, any other starts a new branch there (the later steps are dropped). '@round-robin' and
    '@random' go along the run while it has steps, then take the action the scheduler chooses, the same choice
    ``run_on(trace, name, 1, seed=len(schedule))`` makes, so that autoplay in the page and the API agree.
    """
    last = len(loc.schedule)
    if then == "@demo":  # "Show me the bug": the scenario's own demo, from its start
        demo = tuple(loc.compiled.source.demo or ())
        if not demo:
            raise HTTPException(422, "This scenario has no demo run; its page offers none.")
        return demo, 0, link(loc, demo, 0, base)
    if then is None:
        step = parse_step(to, last)
        return loc.schedule, step, link(loc, loc.schedule, step, base)
    if then in SCHEDULER_CHOICES and loc.at < last:
        return loc.schedule, loc.at + 1, link(loc, loc.schedule, loc.at + 1, base)
    enabled = loc.trace.enabled_at(loc.at)
    if not enabled:
        raise HTTPException(
            422, f"Nothing more can happen after step {loc.at} of this run, so there is no next step to take."
        )
    if then in SCHEDULER_CHOICES:
        before = loc.trace.snapshots[-1].action
        chooser = schedulers.scheduler(SCHEDULER_CHOICES[then], seed=last)
        then = chooser.choose(enabled, before.actor if before else None).id
    elif then not in {a.id for a in enabled}:
        can = ", ".join(a.id for a in enabled[:12])
        raise HTTPException(
            422,
            f"'{then[:48]}' cannot happen at step {loc.at} of this run. The actions that can are: {can}"
            + (" ..." if len(enabled) > 12 else "."),
        )
    if loc.at < last and loc.schedule[loc.at] == then:
        return loc.schedule, loc.at + 1, link(loc, loc.schedule, loc.at + 1, base)
    branch = (*loc.schedule[: loc.at], then)
    if len(branch) > MAX_SCHEDULE:
        raise HTTPException(422, f"A run is at most {MAX_SCHEDULE} steps long, so it cannot go on from here.")
    return branch, loc.at + 1, link(loc, branch, loc.at + 1, base)


def _lanes(state: dict[str, Any], actions: list[dict[str, Any]], changed: set[str]) -> dict[str, Any]:
    """The lanes of the stage: application threads, and routines and callbacks running in WSK's context, each
    with its code, its current line and the actions it can take next (WSK and the peer have lanes of their own)."""
    by_actor: dict[str, list[dict[str, Any]]] = {}
    for action in actions:
        by_actor.setdefault(action["actor"], []).append(action)
    threads: list[dict[str, Any]] = []
    routines: list[dict[str, Any]] = []
    for index, actor in enumerate(state["actors"]):
        if not actor["present"]:
            continue  # a live sandbox thread not added yet: the build bar offers to add it
        lane = dict(actor)
        lane["vt"] = index
        lane["actions"] = by_actor.get(actor["id"], [])
        lane["changed"] = actor["id"] in changed
        lane["frames"] = [
            {
                **f,
                "rows": [
                    {"n": n, "text": line, "current": n == f["line"]} for n, line in enumerate(f["code"])
                ],
            }
            for f in actor["frames"]
        ]
        (threads if actor["kind"] == "thread" else routines).append(lane)
    placed = {lane["id"] for lane in threads + routines} | {"wsk", "peer"}
    placed |= {a["id"] for a in state["actors"] if not a["present"]}
    return {
        "threads": threads,
        "routines": routines,
        "wsk": by_actor.get("wsk", []),
        "peer": by_actor.get("peer", []),
        # An action whose actor has no lane yet (a routine about to start, say) is listed with WSK's context.
        "elsewhere": [a for a in actions if a["actor"] not in placed],
    }


def _event_text(e: Any) -> str:
    parts = [e.kind.replace("_", " ")]
    if e.irp is not None:
        parts.append(f"IRP {e.irp}")
    if e.function:
        parts.append(e.function)
    if e.status:
        parts.append(e.status)
    if e.socket:
        parts.append(f"socket {e.socket}")
    if e.actor and e.kind != "violation":
        parts.append(f"({e.actor})")
    if e.kind == "violation":
        parts.append(e.text)
    return " · ".join(parts)


def _render(request: Request, loc: Location, base: str, fragment: bool) -> bytes:
    name = (
        "partials/player.html"
        if fragment
        else ("pages/embed.html" if base == "/embed" else "pages/player.html")
    )
    meters: Meters = request.app.state.meters
    if loc.definition is not None:
        meters.remember(loc.definition, loc.compiled)
    # A live sandbox can go on for ever: there is no whole graph to measure (Find the race searches what was built).
    live = sandbox.design_of(loc.compiled.source.id) is not None and loc.definition is None
    view = player_view(loc, base) | {"meter": meter_view(loc, None if live else meters.ready(loc.compiled))}
    if loc.definition is None and not fragment:
        view["made_with"] = link_versions.notice(made_with(request, loc.compiled), loc.upgraded)
    return str(request.app.state.templates.get_template(name).render(request=request, **view)).encode()


def meter_view(loc: Location, meter: Meter | None) -> dict[str, Any]:
    """The meter at the located step: what the run has broken so far (at its end, the end-of-run findings too)
    against what can still happen from its state."""
    if sandbox.design_of(loc.compiled.source.id) is not None and loc.definition is None:
        return {"ready": True, "live": True}
    snap = loc.trace.snapshots[loc.at]
    broken = set(snap.state.violated)
    if loc.at == len(loc.schedule):
        broken |= {v.kind for v in loc.trace.terminal_violations}
    return meter_module.view(meter, snap.state, frozenset(broken))


# A step is rendered on the event loop when its run needs at most this many steps replayed (about 40 us each, so
# at most some 12 ms, plus under a millisecond of rendering); longer replays and custom scenarios go to a thread.
# Under the GIL a thread buys no parallelism for pure Python, only turns: handing every step to one and back
# halved the distinct steps served a second (bench/http_step.py), while it keeps a 2,000-step replay from holding
# up everyone else.
INLINE_REPLAY_STEPS = 300


def _cheap(request: Request, built_in: CompiledScenario | None, s: str | None) -> bool:
    """Whether a step of a built-in scenario can be rendered on the event loop: its run needs no long replay."""
    if built_in is None:
        return False  # a custom scenario is decoded and compiled first: that is work for a thread
    try:
        schedule = parse_schedule(s or "")
    except ValueError:
        return False  # locate() says what is wrong, from the thread
    steps: int = request.app.state.traces.steps_to_replay(built_in, schedule)
    return steps <= INLINE_REPLAY_STEPS


# Replaying and rendering is pure Python: under the GIL, threads beyond a couple only take turns and thrash the
# caches, so steps are rendered two at a time while the event loop goes on serving cached ones.
RENDERING = CapacityLimiter(2)


async def _serve(request: Request, scenario_id: str, q: PlayerQuery, base: str) -> Response:
    """A step of the player, as a page or (for htmx) the player region: from the browser's cache (304), from the
    server's cache of rendered steps, or replayed and rendered in the thread pool (CPU work) and then cached."""
    started = time.perf_counter()
    # htmx asks for just the player region; its history-restore request (a cache miss) needs the whole page.
    fragment = (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )
    path, query = request.url.path, request.url.query
    if q.to is not None or q.then is not None:
        # A button of the player's form: answer with the step it leads to, under that step's canonical link.
        def resolve() -> tuple[tuple[str, ...], int, str]:
            loc = locate(request, scenario_id, q.v, q.s, q.at, q.definition)
            return follow(loc, q.then, loc.upgraded.step(q.to) if loc.upgraded else q.to, base)

        schedule, step, target = await run_in_threadpool(resolve)
        if not fragment:
            return RedirectResponse(target, status_code=303)
        q = q.model_copy(update={"s": ".".join(schedule), "at": str(step), "to": None, "then": None})
        path, _, query = target.partition("?")
    meters: Meters = request.app.state.meters
    built_in = None if scenario_id == "custom" else request.app.state.library.get(scenario_id)
    key = StepKey(base, path, query, fragment, meters.known(built_in, q.definition))
    # Both headers choose page or fragment, so a shared cache must key on both.
    headers = {
        "Vary": "HX-Request, HX-History-Restore-Request",
        "ETag": key.etag,
        "Cache-Control": CACHE_CONTROL,
    }
    if fragment:
        # Steps taken by key or autoplay go through htmx.ajax, which does not push URLs by itself.
        headers["HX-Push-Url"] = path + (f"?{query}" if query else "")
    if matches(request.headers.get("if-none-match"), key.etag):
        return Response(status_code=304, headers=headers)
    steps: StepCache = request.app.state.steps
    body = steps.get(key)
    if body is None:

        def replay_and_render() -> bytes:
            loc = locate(request, scenario_id, q.v, q.s, q.at, q.definition)
            return _render(request, loc, base, fragment)

        if _cheap(request, built_in, q.s):
            body = replay_and_render()
        else:
            body = await to_thread.run_sync(replay_and_render, limiter=RENDERING)
        steps.put(key, body)
    # What this step cost the server (cache, or replay, view and template), for browser tools and the benches.
    headers["Server-Timing"] = f"step;dur={(time.perf_counter() - started) * 1000:.2f}"
    return HTMLResponse(body, headers=headers)


# A server refuses a request line longer than about 64 KB before the app sees it. A link's schedule and scenario
# must fit in that together: 2,000 actions of up to 19 characters on average, and a def of at most 12,000.
MAX_LINK_SCHEDULE = 40_000


class LinkQuery(BaseModel):
    """The query of a player link. Unknown parameters (a tracker's utm_source, say) are ignored, not refused."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    v: str | None = Field(
        default=None,
        max_length=8,
        json_schema_extra={
            "pattern": f"^({'|'.join(link_versions.READ)})$"
        },  # checked by locate, whose message explains versions
        description=f"The link format's version: this server writes {LINK_VERSION} and reads "
        f"{' and '.join(link_versions.READ)} (app/web/link_versions.py says what older links become).",
    )
    s: str | None = Field(
        default=None,
        max_length=MAX_LINK_SCHEDULE,
        description="The schedule: action ids joined by '.'.",
    )
    at: str | None = Field(
        default=None,
        max_length=8,
        json_schema_extra={
            "pattern": r"^[0-9]{0,4}$"
        },  # checked by parse_step, whose message names the range
        description="The step to show (0 is the start); the last by default.",
    )
    definition: str | None = Field(
        default=None,
        alias="def",
        max_length=MAX_DEF_CHARS,
        # Documented, not enforced here: decode_definition's message ("damaged, copy the link again") is clearer.
        json_schema_extra={"pattern": "^[A-Za-z0-9_-]*$"},
        description="A custom scenario: its canonical JSON, deflated and base64url-encoded.",
    )


class PlayerQuery(LinkQuery):
    """A player link, or a press of one of the player's buttons (which adds ``to`` or ``then``)."""

    to: str | None = Field(
        default=None,
        max_length=8,
        json_schema_extra={"pattern": r"^[0-9]{0,4}$"},
        description="A step control of the player's form: show this step of the same run. The answer is the "
        "step's canonical link (a redirect, or for htmx the page with HX-Push-Url).",
    )
    then: str | None = Field(
        default=None,
        max_length=MAX_ACTION_ID,
        json_schema_extra={"pattern": "^(@round-robin|@random|@demo|[A-Za-z0-9_-]+)$"},
        description="An action button of the player's form: take this action at step 'at' (following the run "
        "if it is the run's next action, else starting a new branch), or let '@round-robin' or '@random' "
        "choose; '@demo' loads the scenario's demo run at its start. Answered like 'to'.",
    )


Link = Annotated[LinkQuery, Query()]
# Every step of the stage comes through these two routes: their query is read by pydantic alone (app/web/params.py),
# documented as FastAPI would document it.
PLAYER_QUERY, PLAYER_QUERY_DOCS = query_model(PlayerQuery)


@router.get(
    "/play/{scenario_id}", response_class=HTMLResponse, responses=PAGE_ERRORS, openapi_extra=PLAYER_QUERY_DOCS
)
async def play(request: Request, scenario_id: ScenarioId, q: PlayerQuery = PLAYER_QUERY) -> Response:
    return await _serve(request, scenario_id, q, "/play")


@router.get(
    "/embed/{scenario_id}",
    response_class=HTMLResponse,
    responses=PAGE_ERRORS,
    openapi_extra=PLAYER_QUERY_DOCS,
)
async def embed(request: Request, scenario_id: ScenarioId, q: PlayerQuery = PLAYER_QUERY) -> Response:
    return await _serve(request, scenario_id, q, "/embed")


@router.get("/meter/{scenario_id}", response_class=HTMLResponse, responses=PAGE_ERRORS)
async def meter(request: Request, scenario_id: ScenarioId, q: Link) -> Response:
    """The stage's reachability meter at a step, for the placeholder that asks until the scenario's search is
    done (it sends the player's form, so it follows the steps taken meanwhile)."""

    def located_view() -> dict[str, Any]:
        loc = locate(request, scenario_id, q.v, q.s, q.at, q.definition)
        meters: Meters = request.app.state.meters
        return {"meter": meter_view(loc, meters.ready(loc.compiled)), "nav": {"meter": request.url.path}}

    view = await run_in_threadpool(located_view)
    body = request.app.state.templates.get_template("partials/meter.html").render(request=request, **view)
    # Not cached: the same step reads "computing" until the search is done.
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})


EXPORTS = {
    "json": ("application/json", "json"),
    "svg": ("image/svg+xml", "svg"),
    "mermaid": ("text/plain; charset=utf-8", "mmd"),
    "perfetto": ("application/json", "trace.json"),
}


# What /export answers with, by format: the JSON trace, Chrome trace events, an SVG picture or Mermaid text.
CHROME_TRACE_SCHEMA = {
    "type": "object",
    "required": ["traceEvents"],
    "properties": {"traceEvents": {"type": "array", "items": {"type": "object"}}},
}


@router.get(
    "/export/{scenario_id}",
    response_class=Response,
    responses={
        **PAGE_ERRORS,
        200: {
            "description": "The run as a download, in the format asked for.",
            "content": {
                "application/json": {
                    "schema": {"anyOf": [{"$ref": "#/components/schemas/RunResponse"}, CHROME_TRACE_SCHEMA]}
                },
                "image/svg+xml": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
    },
)
def export(
    request: Request,
    scenario_id: ScenarioId,
    q: Link,
    format: Annotated[
        Literal["json", "svg", "mermaid", "perfetto"],
        Query(
            description="json: the trace (as POST /api/run, states as changes); svg: the space-time diagram; "
            "mermaid: a Mermaid sequence diagram; perfetto: Chrome trace events for Perfetto UI."
        ),
    ] = "json",
) -> Response:
    """The whole run as a download, with the link's step highlighted in the pictures."""
    loc = locate(request, scenario_id, q.v, q.s, q.at, q.definition)
    source = loc.compiled.source
    title = f"Space-time diagram: {source.title}, {len(loc.schedule)} steps"
    if format == "json":
        try:
            text = json.dumps(run_response(loc.trace, loc.definition).model_dump(mode="json"), indent=1)
        except ValueError as err:
            raise HTTPException(422, str(err)) from None
    else:
        drawn = diagram.layout(loc.trace, current=loc.at)
        if format == "svg":
            text = diagram.svg(drawn, title, diagram.summary(drawn.marks), standalone=True)
        elif format == "mermaid":
            text = diagram.mermaid(drawn, title)
        else:
            text = diagram.perfetto_json(drawn, title)
    media_type, extension = EXPORTS[format]
    # The id is a full match of [a-z0-9-], so the file name is safe in the header as it is.
    name = f"{source.id}-{len(loc.schedule)}-steps.{extension}"
    return Response(
        text, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
