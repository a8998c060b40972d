"""A plain, JSON-ready description of a state, in the domain's words, for the API and the player.

It is a pure function of the scenario and the state, so any front end (the JSON API, the HTML player, a script)
sees the same facts: which line each actor is on, what it waits for, where every IRP is, what the socket looks
like from the application's side and from WSK's.

A whole run is described by ``describe_run``: its first state whole, then each next state as what changed. Every IRP
ever allocated stays in a state (its number is its place in the list, and a freed IRP is still a fact a learner
can look at), so whole states grow with the run, and a run of them with its square. Changes stay as small as the
step that made them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from app.sim.engine import Engine
from app.sim.model import Actor, Irp, State
from app.sim.ntstatus import show_value, status_name
from app.sim.step import Action


def describe_state(
    engine: Engine,
    state: State,
    enabled: tuple[Action, ...] | None = None,
    blocked: tuple[tuple[str, str], ...] | None = None,
    irps: Iterable[int] | None = None,
) -> dict[str, Any]:
    """Everything a learner can see at one step, as nested dicts and lists of plain values. A caller that already
    has the state's enabled actions or blocked reasons passes them, so they are not listed again; one that shows
    only some IRPs (the stage, of a run that has freed hundreds) names their positions in ``irps``."""
    described = state.irps if irps is None else [state.irps[index] for index in irps]
    return _sections(engine, state, enabled, blocked) | {"irps": [_irp(engine, irp) for irp in described]}


def describe_run(engine: Engine, states: Iterable[State]) -> Iterator[dict[str, Any]]:
    """The first state whole (as ``describe_state``), then for each next state only what changed.

    A change holds each top-level section that differs from the previous state, whole (``actors``, ``sockets``,
    ``memory``, ...), and under ``irps`` only the IRP records that are new or differ, each whole: apply it by
    replacing those sections and upserting those IRPs by ``id``. Its size depends on the step, not on the length
    of the run.
    """
    before: State | None = None
    sections_before: dict[str, Any] = {}
    for state in states:
        sections = _sections(engine, state)
        if before is None:
            yield sections | {"irps": [_irp(engine, irp) for irp in state.irps]}
        else:
            changed = {key: value for key, value in sections.items() if sections_before[key] != value}
            irps = [_irp(engine, state.irps[index]) for index in _changed_irps(before, state)]
            if irps:
                changed["irps"] = irps
            yield changed
        before, sections_before = state, sections


def _changed_irps(before: State, state: State) -> list[int]:
    """The positions of the IRPs that are new in ``state`` or differ from ``before`` (records are shared when
    unchanged, so identity settles most of them)."""
    old = before.irps
    return [
        index
        for index, irp in enumerate(state.irps)
        if index >= len(old) or (irp is not old[index] and irp != old[index])
    ]


def what_changed(engine: Engine, before: State, state: State, now: dict[str, Any]) -> dict[str, Any]:
    """What one step changed, for marking it on the stage until the next step: ``now`` is ``describe_state`` of
    ``state``. Answers the ids of the IRPs and actors that changed, the changed fields of each socket (by its
    position) and the positions of the changed memory cells."""
    then = _sections(engine, before, (), ())
    frames_then = {a["id"]: (a["frames"], a["irql"]) for a in then["actors"]}
    return {
        "irps": {state.irps[index].id for index in _changed_irps(before, state)},
        "actors": {a["id"] for a in now["actors"] if frames_then.get(a["id"]) != (a["frames"], a["irql"])},
        "sockets": [
            {field for field, value in socket.items() if old.get(field) != value}
            for old, socket in zip(then["sockets"], now["sockets"], strict=True)
        ],
        "memory": {
            index
            for index, (old, cell) in enumerate(zip(then["memory"], now["memory"], strict=True))
            if old != cell
        },
        "registration": then["registration"] != now["registration"],
    }


def _irp(engine: Engine, irp: Irp) -> dict[str, Any]:
    return {
        "id": irp.id,
        "state": irp.state,
        "function": irp.function,
        "routine": irp.routine,
        "status": None if irp.status is None else status_name(irp.status),
        "information": irp.information,
        "pending": irp.is_pending,
        "lost": irp.lost,
        "socket": None if irp.socket is None else engine.scenario.sockets[irp.socket].name,
    }


def _sections(
    engine: Engine,
    state: State,
    enabled: tuple[Action, ...] | None = None,
    blocked_reasons: tuple[tuple[str, str], ...] | None = None,
) -> dict[str, Any]:
    """Everything but the IRPs: each section's size is bounded by the scenario, whatever the run's length."""
    scenario = engine.scenario
    movers = {a.actor for a in (engine.enabled(state) if enabled is None else enabled)}
    blocked = dict(engine.blocked(state) if blocked_reasons is None else blocked_reasons)
    return {
        "actors": [_actor(engine, state, a, a.id in movers, blocked.get(a.id)) for a in state.actors],
        "wsk": {"can_move": "wsk" in movers, "blocked": blocked.get("wsk")},
        "peer": {"can_move": "peer" in movers, "blocked": blocked.get("peer")},
        "sockets": [
            {
                "name": decl.name,
                "category": decl.category,
                "context": decl.context,
                "handle": s.handle,
                "protocol": s.protocol,
                "freed": s.freed,
                "calls_in_progress": [{"actor": a, "function": f} for a, f in s.calls],
                "pending_irps": list(s.pending),
                "cancelling": [{"irp": i, "status": status_name(st)} for i, st in s.doomed],
                "callbacks_in_progress": list(s.callbacks),
                "events_enabled": list(s.events),
                "indications_waiting": list(s.inbound),
                "retained_indications": s.retained,
                "context_freed": s.context_freed,
                "close_irp": s.close_irp,
                "peer": {
                    "data_left": s.peer_data,
                    "may_fin": s.peer_fin,
                    "may_rst": s.peer_rst,
                    "saw": s.peer_saw,
                },
            }
            for decl, s in zip(scenario.sockets, state.sockets, strict=True)
        ],
        "memory": [
            _cell(state, i)
            | {"name": c.name, "kind": c.kind, "c_name": c.c_name, "auto_reset": c.synchronization}
            for i, c in enumerate(scenario.memory)
        ],
        "registration": {
            "npi_captures": state.captures,
            "open_sockets": state.open_sockets,
            "deregistering": state.deregistering,
            "deregistered": state.deregistered,
        },
        "violated": list(state.violated),
    }


def _cell(state: State, index: int) -> dict[str, Any]:
    rundown = state.rundowns[index]
    return {
        "value": state.words[index],
        "shown": show_value(state.words[index]),
        "rundown_active": rundown.active,
        "rundown_count": rundown.count,
        "signalled": state.events[index],
    }


def _actor(engine: Engine, state: State, actor: Actor, can_move: bool, blocked: str | None) -> dict[str, Any]:
    frames = []
    for frame in actor.frames:
        program = engine.program(frame)
        frames.append(
            {
                "program": program.title,
                "kind": program.kind,
                "line": frame.pc,
                "code": list(program.lines),
                "locals": {k: show_value(v) for k, v in frame.locals},
                "in_call": None if frame.call is None else frame.call.function,
                "waiting": frame.waiting is not None,
            }
        )
    if actor.finished or (not actor.frames and actor.kind == "thread" and not can_move):
        status = "finished"
    elif not actor.frames:
        status = "idle"
    elif can_move:
        status = "ready"
    else:
        status = "blocked"
    return {
        "id": actor.id,
        "kind": actor.kind,
        "irql": actor.irql,
        "status": status,
        "present": actor.present,
        "blocked": blocked,
        "frames": frames,
    }
