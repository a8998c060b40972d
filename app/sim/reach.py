"""What can still happen: for every state of a scenario, which rules can still break from there, and which must.

The learner's question at each step of a run is "can the bug still happen from here?". The explorer answers "can
it happen at all?"; this chapter answers it for every state at once, so that a step of any run is a lookup:

1. Search the whole state graph once, breadth-first, from the initial state (as the explorer does, with no
   reduction: every state is kept, because every state may be asked about).
2. For each state, the kinds that some path from it reaches (``possible``): the kinds its own history already
   broke (``State.violated``), the kinds found at the end of a run (deadlock, leaks at unload), and whatever a
   successor can reach. A backward fixpoint.
3. The kinds that every path from it reaches (``unavoidable``): the least fixpoint of "broken already, or found
   at this end of the run, or unavoidable from every successor". A loop that can go on for ever without breaking
   a rule keeps a kind avoidable, as it should.
4. When the graph has no cycle and is small, how many of the complete continuations from a state break each kind.

A state not in a complete graph cannot be reached; an incomplete graph (the state bound cut it) answers "possible"
only for what it found, and never claims "impossible" or "unavoidable": see ``Meter.exact``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from app.sim.engine import Engine
from app.sim.model import State
from app.sim.program import CompiledScenario
from app.sim.step import StepResult

Kinds = frozenset[str]
Verdict = str  # "happened" | "unavoidable" | "possible" | "impossible"
COUNT_LIMIT = 20_000  # continuations are counted only in acyclic graphs up to this many states
CHECK_EVERY = 256


@dataclass(frozen=True)
class Reach:
    """What one state can still come to: the kinds some path reaches, the kinds every path reaches, and (when
    counted) how many complete continuations there are and how many of them break each kind."""

    possible: Kinds
    unavoidable: Kinds
    continuations: int | None = None
    breaking: tuple[tuple[str, int], ...] = ()

    def verdict(self, kind: str, broken: Kinds) -> Verdict:
        """The meter's word for ``kind`` at a state whose run has already broken ``broken``."""
        if kind in broken:
            return "happened"
        if kind in self.unavoidable:
            return "unavoidable"
        return "possible" if kind in self.possible else "impossible"

    def count(self, kind: str) -> int | None:
        """How many continuations from here break this rule, when they were counted."""
        return dict(self.breaking).get(kind) if self.continuations is not None else None


@dataclass
class Meter:
    """The reachability of every rule from every state of one scenario, searched once.

    ``exact`` is False when the search stopped at ``max_states``: then ``reach`` only knows the states it saw, and
    a kind it did not find is "not found within N states", not "impossible"."""

    kinds: Kinds  # every kind some run of the scenario can break (from the initial state)
    exact: bool
    states: int
    _reach: dict[int, Reach]  # by the state's hash; states themselves are not kept (memory)
    _collided: dict[State, Reach]  # the rare states whose hash another state shares, kept whole

    def at(self, state: State) -> Reach | None:
        """What ``state`` can still come to; None if the search never saw it."""
        found = self._collided.get(state)
        return found if found is not None else self._reach.get(hash(state))


@dataclass(frozen=True)
class Aftermath:
    """What one action does to the rules, as the meter judges it: the rules the step breaks at once (``broken``),
    and those it does not break but makes certain to break, because every way the run can go on from the next
    state breaks them (``doomed``). This is the answer key of "which action breaks it?", for a lesson's question
    about one rule and for the question a teacher asks a class about any rule."""

    result: StepResult
    reach: Reach | None  # None when the meter never saw the next state (an incomplete search)
    broken: Kinds
    doomed: Kinds

    def breaks(self, kind: str) -> bool:
        """Whether this action breaks ``kind`` at once or makes it certain to break."""
        return kind in self.broken or kind in self.doomed


def aftermath(engine: Engine, meter: Meter, state: State, action_id: str) -> Aftermath:
    """Take one action from ``state`` and judge, with the meter, what it did to each rule."""
    result = engine.step(state, action_id)
    reach = meter.at(result.state)
    before = frozenset(state.violated)
    broken = frozenset(result.state.violated) - before
    doomed = (reach.unavoidable if reach is not None else frozenset()) - before - broken
    return Aftermath(result, reach, broken, doomed)


def measure(
    scenario: CompiledScenario,
    max_states: int = 80_000,
    should_stop: Callable[[int], bool] | None = None,
) -> Meter:
    """Search every state of ``scenario`` (up to ``max_states``) and compute what each can still come to."""
    engine = Engine(scenario)
    start = engine.initial()
    index: dict[State, int] = {start: 0}
    states: list[State] = [start]
    successors: list[list[int]] = []
    here: list[Kinds] = []  # kinds broken by each state's history, or found at its end of the run
    exact = True
    queue: deque[int] = deque([0])
    while queue:
        node = queue.popleft()
        while len(successors) <= node:
            successors.append([])
            here.append(frozenset())
        state = states[node]
        if should_stop is not None and node % CHECK_EVERY == 0 and should_stop(len(states)):
            exact = False
            break
        actions = engine.enabled(state)
        found = set(state.violated)
        if not actions:
            found |= {v.kind for v in engine.terminal_violations(state)}
        here[node] = frozenset(found)
        for action in actions:
            nxt = engine.step(state, action.id).state
            number = index.get(nxt)
            if number is None:
                if len(states) >= max_states:
                    exact = False
                    continue
                number = index[nxt] = len(states)
                states.append(nxt)
                queue.append(number)
            successors[node].append(number)
    while len(successors) < len(states):  # states seen but never expanded (the search stopped)
        successors.append([])
        here.append(frozenset(states[len(here)].violated))
    expanded = exact
    possible = _possible(here, successors)
    unavoidable = _unavoidable(here, successors) if expanded else [frozenset[str]() for _ in states]
    counts = _counts(here, successors) if expanded and len(states) <= COUNT_LIMIT else None
    return _meter(states, possible, unavoidable, counts, exact)


def _possible(here: list[Kinds], successors: list[list[int]]) -> list[Kinds]:
    """Backward reachability of each kind: iterate to the fixpoint (a kind flows from a state to its
    predecessors), with a work list so that each change is propagated once."""
    predecessors: list[list[int]] = [[] for _ in here]
    for node, nexts in enumerate(successors):
        for nxt in nexts:
            predecessors[nxt].append(node)
    possible = list(here)
    work = deque(range(len(here)))
    while work:
        node = work.popleft()
        for before in predecessors[node]:
            merged = possible[before] | possible[node]
            if merged != possible[before]:
                possible[before] = merged
                work.append(before)
    return possible


def _unavoidable(here: list[Kinds], successors: list[list[int]]) -> list[Kinds]:
    """The least fixpoint of U(s) = here(s) | (intersection of U over s's successors, if it has any). Starting
    from ``here`` and only ever growing, a cycle that avoids a kind never makes it unavoidable."""
    unavoidable = list(here)
    changed = True
    while changed:
        changed = False
        for node in range(len(here) - 1, -1, -1):  # successors tend to have larger numbers (breadth-first)
            nexts = successors[node]
            if not nexts:
                continue
            common = frozenset.intersection(*(unavoidable[n] for n in nexts))
            grown = unavoidable[node] | common
            if grown != unavoidable[node]:
                unavoidable[node] = grown
                changed = True
    return unavoidable


def _counts(here: list[Kinds], successors: list[list[int]]) -> list[tuple[int, dict[str, int]]] | None:
    """For each state, the number of complete continuations (paths to an end of the run) and, per kind, how many
    of them break it; None if a cycle makes them infinitely many."""
    order: list[int] = []  # reverse topological order, by an iterative depth-first search
    mark = [0] * len(here)  # 0 new, 1 on the stack, 2 done
    for root in range(len(here)):
        if mark[root]:
            continue
        stack = [(root, 0)]
        mark[root] = 1
        while stack:
            node, i = stack[-1]
            if i < len(successors[node]):
                stack[-1] = (node, i + 1)
                nxt = successors[node][i]
                if mark[nxt] == 1:
                    return None  # a cycle
                if mark[nxt] == 0:
                    mark[nxt] = 1
                    stack.append((nxt, 0))
                continue
            stack.pop()
            mark[node] = 2
            order.append(node)
    counts: list[tuple[int, dict[str, int]]] = [(0, {})] * len(here)
    for node in order:  # successors first
        nexts = successors[node]
        if not nexts:
            counts[node] = (1, dict.fromkeys(here[node], 1))
            continue
        total = sum(counts[n][0] for n in nexts)
        breaking: dict[str, int] = {}
        for n in nexts:
            for kind, k in counts[n][1].items():
                breaking[kind] = breaking.get(kind, 0) + k
        for kind in here[node]:  # already broken: every continuation from here has broken it
            breaking[kind] = total
        counts[node] = (total, breaking)
    return counts


def _meter(
    states: list[State],
    possible: list[Kinds],
    unavoidable: list[Kinds],
    counts: list[tuple[int, dict[str, int]]] | None,
    exact: bool,
) -> Meter:
    """Keep what each state can come to, keyed by its hash; equal answers share one record."""
    shared: dict[Reach, Reach] = {}
    by_hash: dict[int, Reach] = {}
    owner: dict[int, State] = {}
    collided: dict[State, Reach] = {}
    for number, state in enumerate(states):
        total, breaking = counts[number] if counts is not None else (None, {})
        record = Reach(possible[number], unavoidable[number], total, tuple(sorted(breaking.items())))
        record = shared.setdefault(record, record)
        key = hash(state)
        if key in owner and owner[key] != state:  # two states, one hash: keep both whole
            collided[state] = record
            collided.setdefault(owner[key], by_hash[key])
            continue
        owner[key] = state
        by_hash[key] = record
    return Meter(
        kinds=possible[0] if states else frozenset(),
        exact=exact,
        states=len(states),
        _reach=by_hash,
        _collided=collided,
    )
