"""Searching every interleaving of a scenario, breadth-first, visiting each distinct state once.

Breadth-first order means the first time a violation kind is seen it is seen at the smallest depth, so the
recorded witness is a shortest schedule for that kind (within the searched bounds). States are immutable and
hashable, and include the set of rules already broken, so two paths that reach the same world with different
histories of violations stay distinct and terminal outcomes are counted exactly.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from app.sim.engine import Engine
from app.sim.program import CompiledScenario
from app.sim.state import State


@dataclass(frozen=True)
class Bounds:
    """Named limits on a search; whichever is hit first stops it and is reported."""

    max_states: int = 200_000
    max_depth: int = 400


@dataclass
class Report:
    complete: bool
    stopped_by: str | None
    states: int
    transitions: int
    outcomes: Counter[str] = field(default_factory=Counter)
    witnesses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    max_depth_seen: int = 0


def explore(scenario: CompiledScenario, bounds: Bounds | None = None) -> Report:
    """Search the scenario's schedules and report outcomes and shortest witnesses per violation kind."""
    bounds = bounds or Bounds()
    engine = Engine(scenario)
    start = engine.initial()
    parent: dict[State, tuple[State, str] | None] = {start: None}
    depth: dict[State, int] = {start: 0}
    queue: deque[State] = deque([start])
    report = Report(complete=True, stopped_by=None, states=1, transitions=0)

    def path_to(state: State, last: str | None = None) -> tuple[str, ...]:
        actions: list[str] = [] if last is None else [last]
        link = parent[state]
        while link is not None:
            state, action = link
            actions.append(action)
            link = parent[state]
        return tuple(reversed(actions))

    while queue:
        state = queue.popleft()
        d = depth[state]
        report.max_depth_seen = max(report.max_depth_seen, d)
        actions = engine.enabled(state)
        if not actions:
            kinds = set(state.violated) | {v.kind for v in engine.terminal_violations(state)}
            for v in engine.terminal_violations(state):
                report.witnesses.setdefault(v.kind, path_to(state))
            report.outcomes[engine.outcome(state)] += 1
            for kind in sorted(kinds):
                report.outcomes[f"violation:{kind}"] += 1
            continue
        if d >= bounds.max_depth:
            report.complete, report.stopped_by = False, "max_depth"
            continue
        for action in actions:
            result = engine.step(state, action.id)
            report.transitions += 1
            for v in result.violations:
                if v.kind not in report.witnesses:
                    report.witnesses[v.kind] = path_to(state, action.id)
            nxt = result.state
            if nxt in parent:
                continue
            if report.states >= bounds.max_states:
                report.complete, report.stopped_by = False, "max_states"
                continue
            parent[nxt] = (state, action.id)
            depth[nxt] = d + 1
            report.states += 1
            queue.append(nxt)
    return report
