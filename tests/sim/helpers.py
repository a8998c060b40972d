"""Small builders for inline scenarios, so each engine test states its whole world in a few lines."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from typing import Any

from app.scenarios import Library, load_library
from app.sim import CompiledScenario, Engine, load, replay
from app.sim.canon import StateKeys
from app.sim.explore import Bounds, FullSearch, ReducedSearch, Report, explore
from app.sim.model import State
from app.sim.step import StepResult
from app.web.links import play_link

FREE_AND_MPR = [
    {"op": "IoFreeIrp", "irp": "Irp"},
    {"op": "Return", "status": "STATUS_MORE_PROCESSING_REQUIRED"},
]
CLOSE_COMPLETE = [{"op": "FreeSocketContext"}, *FREE_AND_MPR]


def close_program(irp: str = "irpC") -> list[dict[str, Any]]:
    return [
        {"op": "IoAllocateIrp", "irp": irp},
        {"op": "IoSetCompletionRoutine", "irp": irp, "routine": "CloseComplete"},
        {"op": "WskCloseSocket", "irp": irp, "into": "st"},
    ]


def io_program(function: str, irp: str, routine: str) -> list[dict[str, Any]]:
    return [
        {"op": "IoAllocateIrp", "irp": irp},
        {"op": "IoSetCompletionRoutine", "irp": irp, "routine": routine},
        {"op": function, "irp": irp, "into": "st"},
    ]


def scenario(threads: dict[str, list[dict[str, Any]]], **extra: Any) -> CompiledScenario:
    routines = {
        "CloseComplete": {"kind": "completion", "program": CLOSE_COMPLETE},
        "IoComplete": {"kind": "completion", "program": FREE_AND_MPR},
    }
    routines.update(extra.pop("routines", {}))
    data: dict[str, Any] = {
        "id": "test",
        "title": "test",
        "summary": "test",
        "expect": "safe",
        "threads": [{"name": name, "program": program} for name, program in threads.items()],
        "routines": routines,
    }
    data.update(extra)
    return load(data)


@functools.cache
def built_ins() -> Library:
    """The built-in library, loaded once per test process."""
    return load_library()


@functools.cache
def explored(scenario_id: str) -> Report:
    """The explorer's complete report on a built-in scenario, searched once per test process (the searches of
    every built-in take several seconds, and several test modules ask for them)."""
    return explore(built_ins().scenarios[scenario_id])


def walk(
    compiled: CompiledScenario,
    choices: list[int],
    each_step: Callable[[Engine, State, StepResult], None] | None = None,
) -> tuple[tuple[str, ...], Engine, State]:
    """A run that takes, at each step, the enabled action a choice points at (modulo how many there are), until
    the choices or the run end. ``each_step`` sees every step. Returns the schedule, the engine and the last state."""
    engine = Engine(compiled)
    state = engine.initial()
    schedule: list[str] = []
    for choice in choices:
        enabled = engine.enabled(state)
        if not enabled:
            break
        action = enabled[choice % len(enabled)]
        schedule.append(action.id)
        result = engine.step(state, action.id)
        if each_step is not None:
            each_step(engine, state, result)
        state = result.state
    return tuple(schedule), engine, state


class _EndClasses(FullSearch):
    """The full search, also noting each end state's key up to names (app/sim/canon.py) with its outcome and the
    rules broken: what the reduced search must count."""

    def __init__(self, compiled: CompiledScenario, bounds: Bounds):
        super().__init__(compiled, bounds, None)
        self.names = StateKeys(compiled)
        self.ends: dict[bytes, tuple[str, frozenset[str]]] = {}

    def end(self, number: int, state: State, moves: list[Any]) -> None:
        super().end(number, state, moves)
        terminal = self.engine.terminal_violations(state)
        outcome = self.engine.outcome(state, terminal)
        kinds = frozenset(state.violated) | {v.kind for v in terminal}
        self.ends[self.names.key(state)] = (outcome, kinds - {"deadlock"})


#: Fingerprints of the scenarios whose two searches have been compared already (tests/sim/conftest.py).
COMPARED: set[str] = set()


def assert_searches_agree(compiled: CompiledScenario, max_states: int = 200_000) -> bool:
    """The reduced search and the full search give the same answers: the same violation kinds, shortest witnesses
    of the same lengths (the reduced search's replay to their violation at their last step), and the same end
    states once states equal up to names are counted as one. False (nothing compared) when the full search does
    not finish within ``max_states``."""
    COMPARED.add(compiled.fingerprint)
    full = _EndClasses(compiled, Bounds(max_states=max_states))
    full_report = full.run()
    if not full_report.complete:
        return False
    reduced = ReducedSearch(compiled, Bounds(), None).run()
    name = compiled.source.id
    assert reduced.complete, (
        f"{name}: the reduced search stopped ({reduced.stopped_by}) where the full one did not"
    )
    lengths = {kind: len(w) for kind, w in full_report.witnesses.items()}
    assert {kind: len(w) for kind, w in reduced.witnesses.items()} == lengths, f"{name}: witnesses differ"
    for kind, witness in reduced.witnesses.items():
        trace = replay(compiled, witness)
        at = {step for step, v in trace.violations if v.kind == kind}
        assert len(witness) in at, f"{name}: {play_link(name, witness)} does not end breaking {kind}"
    expected: Counter[str] = Counter()
    for outcome, kinds in full.ends.values():
        expected[outcome if outcome in ("ok", "deadlock") else "violation"] += 1
        expected.update(kinds)
    assert reduced.outcomes == expected, f"{name}: end states differ: {reduced.outcomes} != {expected}"
    assert reduced.terminal_states == len(full.ends)
    return True
