"""Small builders for inline scenarios, so each engine test states its whole world in a few lines."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from app.scenarios import Library, load_library
from app.sim import CompiledScenario, Engine, load
from app.sim.explore import Report, explore
from app.sim.model import State
from app.sim.step import StepResult

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
