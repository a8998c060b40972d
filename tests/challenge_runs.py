"""Runs of a challenge's scenario that tests need: a clean one (it ends with no rule broken)."""

from __future__ import annotations

from app.challenges import CompiledChallenge
from app.sim import Engine


def clean_run(challenge: CompiledChallenge) -> tuple[str, ...]:
    """A complete run that breaks no rule at all: a depth-first search of the scenario's states."""
    engine = Engine(challenge.scenario)
    stack = [(engine.initial(), ())]
    seen = set()
    while stack:
        state, path = stack.pop()
        if state in seen or state.violated:
            continue
        seen.add(state)
        enabled = engine.enabled(state)
        if not enabled:
            if not engine.terminal_violations(state):
                return path
            continue
        for action in reversed(enabled):
            stack.append((engine.step(state, action.id).state, (*path, action.id)))
    raise AssertionError(f"'{challenge.source.scenario}' has no run that breaks nothing")
