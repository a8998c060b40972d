"""The trace cache is invisible: whatever was asked before and in whatever order, ``TraceCache.get`` gives exactly the
trace a cold ``replay`` gives, and an illegal schedule fails with exactly the same message.

The cache extends a cached prefix instead of replaying from the start, evicts the least recently used trace, and
keys traces by the scenario's fingerprint; a small capacity and lookback make every one of those paths run.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sim import CompiledScenario, IllegalAction, Trace, TraceCache, replay
from tests.sim import helpers
from tests.sim.helpers import built_ins

LIBRARY = built_ins()
IDS = sorted(LIBRARY.scenarios)

Request = tuple[str, tuple[str, ...]]


def walk(compiled: CompiledScenario, choices: list[int]) -> tuple[str, ...]:
    """The schedule of a run that takes, at each step, the enabled action a choice points at."""
    return helpers.walk(compiled, choices)[0]


@st.composite
def requests(draw: st.DrawFn) -> list[Request]:
    """A few random runs of one or two scenarios (often of one family, so that their schedules look alike), and
    a random sequence of requests for their prefixes, some of them ending in an action that is not enabled."""
    scenario_ids = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=2, unique=True))
    runs: list[Request] = []
    for scenario_id in scenario_ids:
        for _ in range(draw(st.integers(1, 3))):
            choices = draw(st.lists(st.integers(0, 1_000), max_size=40))
            runs.append((scenario_id, walk(LIBRARY.scenarios[scenario_id], choices)))
    asked = draw(
        st.lists(
            st.tuples(st.integers(0, len(runs) - 1), st.integers(0, 40), st.integers(0, 9)),
            min_size=1,
            max_size=30,
        )
    )
    chosen: list[Request] = []
    for run, length, illegal in asked:
        scenario_id, schedule = runs[run]
        prefix = schedule[: min(length, len(schedule))]
        chosen.append((scenario_id, (*prefix, "Nobody") if illegal == 0 else prefix))
    return chosen


def outcome_of(
    get: Callable[[CompiledScenario, tuple[str, ...]], Trace],
    compiled: CompiledScenario,
    schedule: tuple[str, ...],
) -> Trace | str:
    """The trace, or the message of the IllegalAction it raised."""
    try:
        return get(compiled, schedule)
    except IllegalAction as err:
        return f"IllegalAction: {err} (step {err.step})"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    asked=requests(),
    capacity=st.integers(1, 6),
    lookback=st.integers(1, 4),
    max_snapshots=st.none() | st.integers(1, 40),
    remembered_steps=st.none() | st.integers(1, 60),
)
def test_the_cache_gives_the_same_trace_as_a_cold_replay(
    asked: list[Request],
    capacity: int,
    lookback: int,
    max_snapshots: int | None,
    remembered_steps: int | None,
) -> None:
    cache = TraceCache(
        capacity=capacity, lookback=lookback, max_snapshots=max_snapshots, remembered_steps=remembered_steps
    )
    for scenario_id, schedule in asked:
        compiled = LIBRARY.scenarios[scenario_id]
        warm = outcome_of(cache.get, compiled, schedule)
        cold = outcome_of(replay, compiled, schedule)
        where = f"{scenario_id} {'.'.join(schedule)}"
        if isinstance(cold, str):
            assert warm == cold, where
            continue
        assert isinstance(warm, Trace), where
        assert warm.schedule == cold.schedule == schedule, where
        assert warm.snapshots == cold.snapshots, where
        assert warm.scenario.fingerprint == compiled.fingerprint, where
        assert (warm.enabled, warm.outcome, warm.violations) == (
            cold.enabled,
            cold.outcome,
            cold.violations,
        ), where


def test_a_step_forward_extends_the_cached_trace_instead_of_replaying() -> None:
    """What the cache is for: the trace one action longer shares every earlier snapshot with the cached one (the
    last of them gains the options its next step found, around the same state)."""
    compiled = LIBRARY.scenarios["close-during-send"]
    demo = tuple(compiled.source.demo or ())
    cache = TraceCache()
    shorter = cache.get(compiled, demo[:-1])
    longer = cache.get(compiled, demo)
    assert all(a is b for a, b in zip(shorter.snapshots[:-1], longer.snapshots, strict=False))
    joint = len(shorter.snapshots) - 1
    assert longer.snapshots[joint].state is shorter.snapshots[joint].state
    assert longer.snapshots[joint].options == shorter.enabled
    assert longer.snapshots == replay(compiled, demo).snapshots


def test_the_cache_keeps_at_most_its_bound_of_snapshots_but_always_the_latest_trace() -> None:
    compiled = LIBRARY.scenarios["close-during-send"]
    demo = tuple(compiled.source.demo or ())
    cache = TraceCache(capacity=100, max_snapshots=len(demo) + 2)
    for n in range(len(demo) + 1):
        cache.get(compiled, demo[:n])
        kept = list(cache._traces.values())
        assert sum(len(t.snapshots) for t in kept) <= len(demo) + 2 or len(kept) == 1
        assert kept[-1].schedule == demo[:n]


def test_the_cache_says_how_many_steps_a_request_would_replay() -> None:
    """The player renders a step on the event loop only when its run needs a short replay: the cache must say how
    many steps ``get`` would replay, without replaying them."""
    compiled = LIBRARY.scenarios["close-during-send"]
    demo = tuple(compiled.source.demo or ())
    cache = TraceCache(capacity=8, lookback=3)
    assert cache.steps_to_replay(compiled, demo) == len(demo)  # nothing cached: all of it
    cache.get(compiled, demo[:5])
    assert cache.steps_to_replay(compiled, demo[:5]) == 0
    assert cache.steps_to_replay(compiled, demo[:7]) == 2  # extends the cached prefix
    assert cache.steps_to_replay(compiled, demo[:9]) == 9  # beyond the lookback: replayed from the start
    assert cache.steps_to_replay(LIBRARY.scenarios["protect-none"], demo[:5]) == 5  # another scenario's key


def test_a_run_not_cached_is_replayed_with_the_steps_other_runs_took() -> None:
    """With a memory of steps, replaying a run whose trace was evicted takes its steps from the memory: the very
    states of the earlier replay, and the same trace a cold replay gives."""
    compiled = LIBRARY.scenarios["close-during-send"]
    demo = tuple(compiled.source.demo or ())
    cache = TraceCache(capacity=1, remembered_steps=1_000)
    first = cache.get(compiled, demo)
    cache.get(compiled, ())  # evicts the demo's trace
    again = cache.get(compiled, demo)
    assert again is not first
    # Every state after the start (each replay builds its own start) is the object the first replay made.
    assert all(a.state is b.state for a, b in zip(first.snapshots[1:], again.snapshots[1:], strict=True))
    assert again.snapshots == replay(compiled, demo).snapshots


def test_the_memory_of_steps_keeps_at_most_its_bound() -> None:
    compiled = LIBRARY.scenarios["close-during-send"]
    demo = tuple(compiled.source.demo or ())
    cache = TraceCache(capacity=1, remembered_steps=3)
    cache.get(compiled, demo)
    assert cache._memory is not None and len(cache._memory._steps) == 3
