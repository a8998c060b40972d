"""The simulation engine: a pure, deterministic model of a WSK client closing its sockets.

Standard library and pydantic only: no web framework, no I/O, no clock and no global randomness, so that a
schedule replays to the identical trace anywhere. Start with ``load`` (a validated scenario) and ``replay``.
"""

from __future__ import annotations

from typing import Any

from app.sim.engine import Action, Engine, Event, IllegalAction, StepResult, Violation
from app.sim.model import State
from app.sim.program import CompiledScenario, compile_scenario
from app.sim.replay import Snapshot, Trace, TraceCache, extend, parse_schedule, replay, run_on, start
from app.sim.rules import RULES, VIOLATION_KINDS
from app.sim.scenario import Scenario


def load(data: dict[str, Any] | Scenario) -> CompiledScenario:
    """Validate (if needed) and compile a scenario given as a mapping or a Scenario."""
    scenario = data if isinstance(data, Scenario) else Scenario.model_validate(data)
    return compile_scenario(scenario)


__all__ = [
    "RULES",
    "VIOLATION_KINDS",
    "Action",
    "CompiledScenario",
    "Engine",
    "Event",
    "IllegalAction",
    "Scenario",
    "Snapshot",
    "State",
    "StepResult",
    "Trace",
    "TraceCache",
    "Violation",
    "compile_scenario",
    "extend",
    "load",
    "parse_schedule",
    "replay",
    "run_on",
    "start",
]
