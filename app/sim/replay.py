"""Replaying a schedule into a trace, and running on from it.

``replay(scenario, schedule)`` is the contract every link relies on: the same scenario and the same list of action
ids always give the identical trace. A trace is the list of snapshots (state, the events of that step, one sentence
of narration) plus, at its end, what could happen next and why the other actors are stuck.

``TraceCache`` keeps recent traces so that stepping forward one action extends a cached trace instead of
replaying from the start: step 500 then costs about what step 5 does.
"""

from __future__ import annotations

import re
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar, cast

from app.sim import schedulers
from app.sim.engine import Engine
from app.sim.model import State
from app.sim.program import CompiledScenario
from app.sim.records import replace  # a snapshot copied per step: four times dataclasses.replace's speed
from app.sim.scenario import LIMITS, MAX_ACTION_ID
from app.sim.schedulers import SchedulerName
from app.sim.step import Action, Event, IllegalAction, StepResult, Violation, is_preemption, next_last_actor

MAX_SCHEDULE = LIMITS["schedule"]
_T = TypeVar("_T")
SEPARATOR = "."
# One match per id (a player link carries up to 2,000 of them): a character-by-character test cost a tenth of a step.
_ACTION_ID = re.compile(f"[A-Za-z0-9_-]{{1,{MAX_ACTION_ID}}}")
# A well-formed schedule is checked in one pass over its characters plus the lengths of its ids; only a malformed
# one is walked id by id, to name the id at fault. One match per id was a twentieth of a distinct step's cost.
_SCHEDULE_CHARACTERS = re.compile(r"[A-Za-z0-9_.-]*")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The world after ``index`` actions; index 0 is the start, before any action."""

    index: int
    action: Action | None
    state: State
    events: tuple[Event, ...]
    narration: str
    violations: tuple[Violation, ...]
    preemption: bool = False  # this step switched away from a thread that could have gone on
    last_app_actor: str | None = None  # the application-side actor that moved last, up to this step
    # The actions enabled in ``state``, as the engine listed them when the next step was taken; None for the last
    # snapshot of a trace, whose options the trace computes once (``Trace.enabled``).
    options: tuple[Action, ...] | None = None


@dataclass(frozen=True)
class Trace:
    """A replayed schedule. ``violations`` pairs each violation with the step it was found at."""

    scenario: CompiledScenario
    engine: Engine
    snapshots: tuple[Snapshot, ...]
    schedule: tuple[str, ...]  # the action ids of snapshots[1:], kept so that nothing recomputes them
    # The trace this one extends, while it lives (weakly: a chain of extensions must not keep every prefix
    # alive), so that what readers derived from it grows rather than being derived again (``kept``).
    grown_from: weakref.ref[Trace] | None = field(default=None, compare=False, repr=False)

    @property
    def final(self) -> State:
        """The state after the last action."""
        return self.snapshots[-1].state

    # What a view asks of the end of a trace is computed once per trace (a trace is immutable), not once per
    # question: a player request used to list the enabled actions eleven times.
    @cached_property
    def enabled(self) -> tuple[Action, ...]:
        """What could happen next."""
        return self.engine.enabled(self.final)

    def enabled_at(self, index: int) -> tuple[Action, ...]:
        """What could happen at step ``index``: recorded when the next step was taken, or the trace's own."""
        options = self.snapshots[index].options
        if options is not None:
            return options
        return (
            self.enabled
            if index == len(self.snapshots) - 1
            else self.engine.enabled(self.snapshots[index].state)
        )

    @cached_property
    def blocked(self) -> tuple[tuple[str, str], ...]:
        """Why each actor that cannot move next cannot, as (actor id, reason)."""
        return self.engine.blocked(self.final)

    @cached_property
    def terminal_violations(self) -> tuple[Violation, ...]:
        """Deadlock or leaks, if the run has ended; empty while something can still move."""
        return self.engine.terminal_violations(self.final)

    @cached_property
    def violations(self) -> tuple[tuple[int, Violation], ...]:
        """Every violation with the step it was found at; end-of-run ones at the last step."""
        return self._step_violations + tuple((len(self.snapshots) - 1, v) for v in self.terminal_violations)

    @cached_property
    def _step_violations(self) -> tuple[tuple[int, Violation], ...]:
        # Grown from the trace this one extends, when it has them: a step forward reads one step, not the run.
        base = self._extended_with("_step_violations")
        start = len(base.snapshots) if base is not None else 0
        found = tuple((s.index, v) for s in self.snapshots[start:] for v in s.violations)
        return base._step_violations + found if base is not None else found

    @cached_property
    def outcome(self) -> str:
        """running, ok, violation or deadlock."""
        return self.engine.outcome(self.final)

    def _extended_with(self, name: str) -> Trace | None:
        """The trace this one extends, if it is alive and has already worked out ``name`` (a cached property)."""
        base = self.grown_from() if self.grown_from is not None else None
        return base if base is not None and name in base.__dict__ else None

    def kept(
        self, name: str, derive: Callable[[Trace], _T], grow: Callable[[_T, Trace], _T] | None = None
    ) -> _T:
        """What a reader derives from the whole trace (the stage's diagram marks, its track), derived once and
        kept with the trace: a trace is immutable, so it never goes stale, and it goes when the trace does.

        With ``grow``, a trace that extends another whose value is kept gets ``grow(earlier value, self)``: a step
        forward then costs what the new steps cost, not what the whole run does."""
        memo: dict[str, Any] = self.__dict__.setdefault("_kept", {})
        if name not in memo:
            base = self.grown_from() if self.grown_from is not None else None
            earlier = base.__dict__.get("_kept", {}).get(name) if base is not None else None
            # Two threads may both derive it: the same value, either one kept.
            memo[name] = grow(earlier, self) if grow is not None and earlier is not None else derive(self)
        return cast(_T, memo[name])


def parse_schedule(schedule: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Accept 'a.b.c' or a list of ids; an empty string is the empty schedule."""
    if isinstance(schedule, str):
        if len(schedule) > MAX_SCHEDULE * (MAX_ACTION_ID + 1):
            raise ValueError(
                f"The schedule is {len(schedule)} characters long, more than {MAX_SCHEDULE} actions can be. Shorten it."
            )
        parts = tuple(schedule.split(SEPARATOR)) if schedule else ()
        well_formed = not parts or (
            _SCHEDULE_CHARACTERS.fullmatch(schedule) is not None
            and min(map(len, parts)) >= 1
            and max(map(len, parts)) <= MAX_ACTION_ID
        )
    else:
        parts = tuple(schedule)
        well_formed = False
    if len(parts) > MAX_SCHEDULE:
        raise ValueError(f"The schedule has {len(parts)} actions; the limit is {MAX_SCHEDULE}. Shorten it.")
    if well_formed:
        return parts
    for part in parts:
        if not _ACTION_ID.fullmatch(part):
            raise ValueError(
                f"'{part[:60]}' is not an action id: ids are up to {MAX_ACTION_ID} ASCII letters, digits and "
                "dashes, joined by '.' in a schedule."
            )
    return parts


def start(scenario: CompiledScenario, engine: Engine | None = None) -> Trace:
    """The trace of the empty schedule: just the initial state."""
    engine = engine or Engine(scenario)
    state = engine.initial()
    first = Snapshot(0, None, state, (), f"The scenario '{scenario.source.title}' starts.", ())
    return Trace(scenario, engine, (first,), ())


def _append(snapshots: list[Snapshot], result: StepResult) -> None:
    """Record a step: the new snapshot, and on the previous one the options it had (the engine listed them)."""
    previous = snapshots[-1]
    snapshots[-1] = replace(previous, options=result.enabled_before)
    last = previous.last_app_actor
    snapshots.append(
        Snapshot(
            len(snapshots),
            result.action,
            result.state,
            result.events,
            result.narration,
            result.violations,
            preemption=is_preemption(result.enabled_before, last, result.action),
            last_app_actor=next_last_actor(last, result.action),
        )
    )


def extend(trace: Trace, actions: tuple[str, ...]) -> Trace:
    """Apply more actions to a trace; IllegalAction names the step and the legal alternatives."""
    snapshots = list(trace.snapshots)
    for action_id in actions:
        try:
            result = trace.engine.step(snapshots[-1].state, action_id)
        except IllegalAction as err:
            raise IllegalAction(action_id, err.enabled, step=len(snapshots)) from None
        _append(snapshots, result)
    return Trace(
        trace.scenario,
        trace.engine,
        tuple(snapshots),
        trace.schedule + actions,
        grown_from=weakref.ref(trace),
    )


def replay(scenario: CompiledScenario, schedule: str | list[str] | tuple[str, ...]) -> Trace:
    """Replay a schedule from the start. Deterministic: same inputs, identical trace."""
    return extend(start(scenario), parse_schedule(schedule))


Scheduler = SchedulerName  # the name run_on takes; the schedulers themselves are in app.sim.schedulers


def run_on(trace: Trace, scheduler: Scheduler, max_steps: int, seed: int = 0) -> Trace:
    """Continue a trace until nothing can move, ``max_steps`` more actions were taken, or the schedule holds
    MAX_SCHEDULE actions (a longer one could not travel in a link, nor be replayed from one).

    ``round_robin`` gives each actor a turn in order, starting after the actor that moved last; ``random`` picks
    uniformly among enabled actions with a ``random.Random(seed)``, so it is reproducible too.
    """
    if max_steps < 0 or max_steps > MAX_SCHEDULE:
        raise ValueError(f"max_steps must be between 0 and {MAX_SCHEDULE}.")
    chooser = schedulers.scheduler(scheduler, seed)
    last_actor = trace.snapshots[-1].action.actor if trace.snapshots[-1].action else None
    snapshots = list(trace.snapshots)
    chosen: list[str] = []
    enabled = trace.enabled
    for _ in range(min(max_steps, MAX_SCHEDULE - len(trace.schedule))):
        if not enabled:
            break
        action = chooser.choose(enabled, last_actor)
        result = trace.engine.step(snapshots[-1].state, action.id)  # each action is stepped once
        _append(snapshots, result)
        chosen.append(action.id)
        last_actor = action.actor
        enabled = trace.engine.enabled(result.state)
    return Trace(trace.scenario, trace.engine, tuple(snapshots), trace.schedule + tuple(chosen))


class StepMemory:
    """Steps taken, by (scenario fingerprint, state, action id), at most ``capacity`` of them (the least recently
    used go first): what RememberingEngines share.

    Hashing a state costs a few microseconds. A state a remembered step led to is the memory's own object, so
    the step after it is looked up first by that object's identity (kept with the object, so the identity cannot
    be reused while it is remembered), and by equality only when that fails."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._steps: OrderedDict[tuple[str, State, str], StepResult] = OrderedDict()
        self._by_identity: dict[tuple[int, str, str], tuple[State, StepResult]] = {}

    def recall(self, fingerprint: str, state: State, action_id: str) -> StepResult | None:
        """The step ``action_id`` takes from ``state`` in the scenario ``fingerprint``, if it is remembered."""
        fast = self._by_identity.get((id(state), fingerprint, action_id))
        if fast is not None and fast[0] is state:
            return fast[1]
        key = (fingerprint, state, action_id)
        found = self._steps.get(key)
        if found is not None:
            self._steps.move_to_end(key)
            self._know(fingerprint, state, action_id, found)
        return found

    def keep(self, fingerprint: str, state: State, action_id: str, result: StepResult) -> None:
        """Remember a step the engine took (the least recently used step goes, past the capacity)."""
        self._steps[(fingerprint, state, action_id)] = result
        if len(self._steps) > self.capacity:
            self._steps.popitem(last=False)
        self._know(fingerprint, state, action_id, result)

    def _know(self, fingerprint: str, state: State, action_id: str, result: StepResult) -> None:
        if len(self._by_identity) >= self.capacity:
            self._by_identity.clear()  # a shortcut only: the steps themselves stay remembered by equality
        self._by_identity[(id(state), fingerprint, action_id)] = (state, result)


class RememberingEngine(Engine):
    """An engine that remembers the steps it takes in a StepMemory, and takes a remembered step from there.

    The engine is deterministic: the same action from an equal state is the same step, narration and all. Runs of
    one scenario pass through the same few states again and again (its whole state graph is often a few thousand
    states), so a replay mostly finds its steps remembered. Once one is, the next state is the very object the
    memory holds, so the next look-up costs a hash and no comparison: a remembered step costs a few microseconds
    instead of about 40. Not for the explorer, which takes moves with ``successor`` and keeps states of its own.
    """

    def __init__(self, scenario: CompiledScenario, memory: StepMemory):
        super().__init__(scenario)
        self.memory = memory

    def step(self, state: State, action_id: str) -> StepResult:
        """``Engine.step``, remembered: the same result, taken from the memory when it holds it."""
        fingerprint = self.scenario.fingerprint
        found = self.memory.recall(fingerprint, state, action_id)
        if found is None:
            found = super().step(state, action_id)  # an illegal action raises, and nothing is remembered
            self.memory.keep(fingerprint, state, action_id, found)
        return found


class TraceCache:
    """A small LRU of traces keyed by (scenario fingerprint, schedule); a miss extends the longest cached
    prefix that drops at most a few trailing actions, which is what stepping forward asks for.

    With ``remembered_steps``, a replay from the start goes through a RememberingEngine, and all of them share
    one memory of at most that many steps."""

    def __init__(
        self,
        capacity: int = 256,
        lookback: int = 8,
        max_snapshots: int | None = None,
        remembered_steps: int | None = None,
    ):
        self.capacity = capacity
        self.lookback = lookback
        # A bound on memory as well as on count: traces differ in length, and a snapshot is what costs memory.
        # Prefixes share their snapshots, so this counts some of them more than once: the bound is conservative.
        self.max_snapshots = max_snapshots
        self._snapshots = 0
        self._traces: OrderedDict[tuple[str, tuple[str, ...]], Trace] = OrderedDict()
        self._memory = StepMemory(remembered_steps) if remembered_steps is not None else None

    def _start(self, scenario: CompiledScenario) -> Trace:
        """The empty trace of ``scenario``, with an engine that remembers its steps when the cache has a memory."""
        return start(
            scenario, RememberingEngine(scenario, self._memory) if self._memory is not None else None
        )

    def steps_to_replay(self, scenario: CompiledScenario, schedule: tuple[str, ...]) -> int:
        """How many steps ``get`` would replay: 0 from the cache, a few to extend a cached prefix, else all."""
        for cut in range(0, min(self.lookback, len(schedule)) + 1):
            if (scenario.fingerprint, schedule[: len(schedule) - cut]) in self._traces:
                return cut
        return len(schedule)

    def get(self, scenario: CompiledScenario, schedule: tuple[str, ...]) -> Trace:
        """The trace of ``schedule``: cached, extended from a cached prefix, or replayed from the start."""
        key = (scenario.fingerprint, schedule)
        hit = self._traces.get(key)
        if hit is not None:
            self._traces.move_to_end(key)
            return hit
        base: Trace | None = None
        for cut in range(1, min(self.lookback, len(schedule)) + 1):
            base = self._traces.get((scenario.fingerprint, schedule[:-cut]))
            if base is not None:
                break
        if base is not None:
            trace = extend(base, schedule[len(base.snapshots) - 1 :])
        else:
            trace = extend(self._start(scenario), parse_schedule(schedule))  # checked as replay() checks it
        self._traces[key] = trace
        self._snapshots += len(trace.snapshots)
        while len(self._traces) > self.capacity or (
            self.max_snapshots is not None and self._snapshots > self.max_snapshots and len(self._traces) > 1
        ):
            _, gone = self._traces.popitem(last=False)
            self._snapshots -= len(gone.snapshots)
        return trace
