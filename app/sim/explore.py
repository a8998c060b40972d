"""Searching every interleaving of a scenario, breadth-first, visiting each distinct state once.

Breadth-first order means the first time a violation kind is seen, it is seen at the smallest depth: the recorded
witness is a shortest schedule for that kind within the searched bounds. States are immutable and hashable and
include the set of rules already broken, so two paths that reach the same world with different histories of
violations stay distinct and terminal outcomes are counted exactly.

No reduction is applied: every enabled action of every state is tried, so each verdict is exact for the bounds
that were searched. (State hashing only merges paths that reach equal states, and everything that happens next
depends on the state alone, so it loses no outcome.)

Bounds:
  ``max_states``       distinct states kept;
  ``max_depth``        actions in a schedule;
  ``max_preemptions``  switches away from an application thread, routine or callback that could still have run
                       (2-3 catch most bugs, as loom and CHESS report); with this bound the search key also holds the
                       last actor and the preemptions used, because the same world reached with fewer preemptions
                       can go further;
  and whatever the caller's ``should_stop`` decides (a time limit, a cancellation): the engine has no clock.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from app.sim.engine import Engine, is_preemption, next_last_actor
from app.sim.model import State
from app.sim.program import CompiledScenario

CHECK_EVERY = (
    64  # expansions between calls to should_stop: few enough that a time limit or a cancel is prompt
)


@dataclass(frozen=True)
class Bounds:
    """Named limits on a search; whichever cuts the search first is reported as ``stopped_by``."""

    max_states: int = 200_000
    max_depth: int = 400
    max_preemptions: int | None = None


@dataclass(frozen=True)
class Progress:
    states: int
    transitions: int
    depth: int


@dataclass
class Report:
    complete: bool
    stopped_by: str | None
    states: int
    transitions: int
    terminal_states: int = 0
    schedules: int | None = None  # distinct complete schedules, when finitely many (no cycles) and complete
    outcomes: Counter[str] = field(default_factory=Counter)  # ok, deadlock, and each violation kind
    witnesses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    max_depth_seen: int = 0


Node = tuple[State, str | None, int]  # (state, last actor, preemptions used)


def explore(
    scenario: CompiledScenario,
    bounds: Bounds | None = None,
    should_stop: Callable[[Progress], str | None] | None = None,
) -> Report:
    """Search the scenario's schedules; report outcomes, shortest witnesses, and whether the search was complete."""
    bounds = bounds or Bounds()
    engine = Engine(scenario)
    tracked = bounds.max_preemptions is not None
    start: Node = (engine.initial(), None, 0)
    parent: dict[Node, tuple[Node, str] | None] = {start: None}
    depth: dict[Node, int] = {start: 0}
    successors: dict[Node, list[Node]] = {}
    queue: deque[Node] = deque([start])
    report = Report(complete=True, stopped_by=None, states=1, transitions=0)
    terminals: list[Node] = []

    def cut(reason: str) -> None:
        if report.complete:
            report.complete, report.stopped_by = False, reason

    def path_to(node: Node, last: str | None = None) -> tuple[str, ...]:
        actions: list[str] = [] if last is None else [last]
        link = parent[node]
        while link is not None:
            node, action = link
            actions.append(action)
            link = parent[node]
        return tuple(reversed(actions))

    expansions = 0
    while queue:
        node = queue.popleft()
        state, last_actor, used = node
        d = depth[node]
        report.max_depth_seen = max(report.max_depth_seen, d)
        expansions += 1
        if should_stop is not None and expansions % CHECK_EVERY == 0:
            reason = should_stop(Progress(report.states, report.transitions, d))
            if reason:
                cut(reason)
                break
        actions = engine.enabled(state)
        if not actions:
            terminals.append(node)
            terminal = engine.terminal_violations(state)
            for v in terminal:
                if (
                    v.kind not in report.witnesses
                ):  # a path costs a walk back to the start: only for new kinds
                    report.witnesses[v.kind] = path_to(node)
            outcome = engine.outcome(state, terminal)
            kinds = set(state.violated) | {v.kind for v in terminal}
            report.outcomes[outcome if outcome in ("ok", "deadlock") else "violation"] += 1
            for kind in sorted(kinds - {"deadlock"}):
                report.outcomes[kind] += 1
            continue
        if d >= bounds.max_depth:
            cut("max_depth")
            continue
        nexts: list[Node] = []
        for action in actions:
            spent = used
            if tracked:
                if is_preemption(actions, last_actor, action):
                    spent += 1
                if spent > (bounds.max_preemptions or 0):
                    cut("max_preemptions")
                    continue
            result = engine.step(state, action.id)
            report.transitions += 1
            for v in result.violations:
                if v.kind not in report.witnesses:
                    report.witnesses[v.kind] = path_to(node, action.id)
            nxt: Node = (
                (result.state, next_last_actor(last_actor, action), spent)
                if tracked
                else (result.state, None, 0)
            )
            nexts.append(nxt)
            if nxt in parent:
                continue
            if report.states >= bounds.max_states:
                cut("max_states")
                nexts.pop()
                continue
            parent[nxt] = (node, action.id)
            depth[nxt] = d + 1
            report.states += 1
            queue.append(nxt)
        successors[node] = nexts
    report.terminal_states = len(terminals)
    if report.complete:
        report.schedules = _count_schedules(start, successors)
    return report


def _count_schedules(start: Node, successors: dict[Node, list[Node]]) -> int | None:
    """Distinct complete schedules = paths from the start to a terminal state; None if a cycle (a spin loop)
    makes them infinitely many. Iterative depth-first search, so deep graphs do not hit the recursion limit."""
    paths: dict[Node, int] = {}
    on_stack: set[Node] = set()
    stack: list[tuple[Node, int]] = [(start, 0)]
    on_stack.add(start)
    while stack:
        node, index = stack[-1]
        children = successors.get(node, [])
        if index < len(children):
            stack[-1] = (node, index + 1)
            child = children[index]
            if child in on_stack:
                return None
            if child not in paths:
                stack.append((child, 0))
                on_stack.add(child)
            continue
        stack.pop()
        on_stack.discard(node)
        paths[node] = sum(paths[c] for c in children) if children else 1
    return paths[start]
