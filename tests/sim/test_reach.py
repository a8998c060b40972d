"""The reachability meter against brute force: from a state, follow every complete continuation, and collect what
each breaks. Some continuation breaks a kind exactly when the meter says it is possible; every one does exactly
when it says unavoidable; and the counts are the numbers of such continuations."""

from __future__ import annotations

import pytest

from app.scenarios import load_library, with_copies
from app.sim import replay, run_on
from app.sim.engine import Engine
from app.sim.explore import explore
from app.sim.model import State
from app.sim.reach import Reach, measure
from app.sim.step import IllegalAction

LIBRARY = load_library()
SMALL = 3_000  # scenarios whose whole graph is at most this many states are checked by brute force


def continuations(engine: Engine, state: State, limit: int = 20_000) -> list[frozenset[str]] | None:
    """What each complete continuation from ``state`` breaks, by depth-first enumeration; None if too many."""
    found: list[frozenset[str]] = []
    stack = [state]
    while stack:
        here = stack.pop()
        actions = engine.enabled(here)
        if not actions:
            found.append(frozenset(here.violated) | {v.kind for v in engine.terminal_violations(here)})
            if len(found) > limit:
                return None
            continue
        stack.extend(engine.step(here, a.id).state for a in actions)
    return found


def small_acyclic_scenarios() -> list[str]:
    chosen = []
    for scenario_id, compiled in sorted(LIBRARY.scenarios.items()):
        meter = measure(compiled, max_states=SMALL)
        start = meter.at(Engine(compiled).initial())
        if (
            meter.exact
            and start is not None
            and start.continuations is not None
            and start.continuations <= 3_000
        ):
            chosen.append(scenario_id)
    return chosen


CHOSEN = small_acyclic_scenarios()


def test_enough_scenarios_are_small_enough_for_brute_force() -> None:
    assert len(CHOSEN) >= 8, CHOSEN


@pytest.mark.parametrize("scenario_id", CHOSEN)
def test_the_meter_agrees_with_every_continuation_at_every_step_of_a_run(scenario_id: str) -> None:
    compiled = LIBRARY.scenarios[scenario_id]
    engine = Engine(compiled)
    meter = measure(compiled)
    runs = [tuple(compiled.source.demo or ())] + [
        run_on(replay(compiled, ()), "random", 60, seed=seed).schedule for seed in range(3)
    ]
    for schedule in runs:
        for snapshot in replay(compiled, schedule).snapshots:
            reach = meter.at(snapshot.state)
            assert isinstance(reach, Reach), f"{scenario_id}: a reachable state the meter never saw"
            paths = continuations(engine, snapshot.state)
            assert paths is not None
            where = f"{scenario_id} step {snapshot.index}"
            assert reach.possible == frozenset().union(*paths), where
            assert reach.unavoidable == frozenset.intersection(*paths), where
            assert reach.continuations == len(paths), where
            for kind in reach.possible:
                assert reach.count(kind) == sum(kind in p for p in paths), (where, kind)


def test_a_buggy_scenario_can_break_its_rule_at_the_start_and_a_safe_one_cannot() -> None:
    buggy = LIBRARY.scenarios["close-during-send"]
    meter = measure(buggy)
    start = meter.at(Engine(buggy).initial())
    assert start is not None and set(buggy.source.bugs or ()) <= start.possible
    assert start.verdict("close_with_call_in_progress", frozenset()) == "possible"
    safe = LIBRARY.scenarios["protect-rundown"]
    assert measure(safe).kinds == frozenset()


RANK = {"impossible": 0, "possible": 1, "unavoidable": 2, "happened": 3}


@pytest.mark.parametrize("scenario_id", ["close-during-send", "check-zero-then-close", "irp-double-free"])
def test_along_a_run_a_verdict_only_ever_hardens(scenario_id: str) -> None:
    """Along any run, a rule that cannot break any more never can again, one that must break stays so until it
    does, and one that broke stays broken: possible -> unavoidable -> happened, or possible -> impossible."""
    compiled = LIBRARY.scenarios[scenario_id]
    meter = measure(compiled)
    for seed in range(5):
        trace = run_on(replay(compiled, ()), "random", 80, seed=seed)
        before: dict[str, str] = {}
        for snapshot in trace.snapshots:
            reach = meter.at(snapshot.state)
            assert reach is not None
            for kind in meter.kinds:
                now = reach.verdict(kind, frozenset(snapshot.state.violated))
                was = before.get(kind)
                if was == "impossible":
                    assert now == "impossible", (seed, snapshot.index, kind)
                elif was is not None and was != "possible":
                    assert RANK[now] >= RANK[was], (seed, snapshot.index, kind, was, now)
                before[kind] = now


def test_a_search_cut_short_is_not_exact_and_never_claims_unavoidable() -> None:
    compiled = LIBRARY.scenarios["sandbox"]
    meter = measure(compiled, max_states=200)
    assert not meter.exact and meter.states <= 200
    start = meter.at(Engine(compiled).initial())
    assert start is not None and start.unavoidable == frozenset() and start.continuations is None


# -- the meter against a search from the same prefix -----------------------------------------------------------------

INLINE_CHECK_ZERO_TWO_SENDERS = with_copies(LIBRARY.scenarios["protect-check-zero"], "Sender", 2)
AGAINST_SEARCH = {
    **{scenario_id: compiled for scenario_id, compiled in sorted(LIBRARY.scenarios.items())},
    "inline: check zero with two senders": INLINE_CHECK_ZERO_TWO_SENDERS,
}


@pytest.mark.parametrize("name", sorted(AGAINST_SEARCH))
def test_the_meter_agrees_with_a_search_from_the_same_prefix(name: str) -> None:
    """At steps along the demo and a random run, a rule not yet broken is possible by the meter exactly when a
    search from that step's schedule (POST /api/explore's prefix) finds a witness of it, and that witness replays to
    it after the prefix; one the meter calls unavoidable breaks in every end state the search reaches."""
    compiled = AGAINST_SEARCH[name]
    meter = measure(compiled)
    assert meter.exact, f"{name}: the meter's search was cut short; choose smaller scenarios for this test"
    runs = [tuple(compiled.source.demo or ()), run_on(replay(compiled, ()), "random", 60, seed=11).schedule]
    for schedule in runs:
        trace = replay(compiled, schedule)
        last = len(trace.snapshots) - 1
        for snapshot in {trace.snapshots[i] for i in (0, last // 3, 2 * last // 3, last)}:
            prefix = schedule[: snapshot.index]
            broken = frozenset(snapshot.state.violated)
            reach = meter.at(snapshot.state)
            assert reach is not None
            report = explore(compiled, prefix=prefix, reduce=not reach.unavoidable)
            assert report.complete, (name, snapshot.index)
            where = f"{name} after {snapshot.index} steps"
            assert set(report.witnesses) - broken == set(reach.possible) - broken, where
            for kind, witness in report.witnesses.items():
                assert witness[: len(prefix)] == prefix, (where, kind)
                steps = {step for step, v in replay(compiled, witness).violations if v.kind == kind}
                assert len(witness) in steps, (where, kind)
            for kind in reach.unavoidable - broken:
                assert report.outcomes[kind] == report.terminal_states, (where, kind)


def test_a_prefix_the_scenario_cannot_run_is_refused_with_the_step_and_the_actions_possible_there() -> None:
    with pytest.raises(
        IllegalAction, match=r"Action 'Closer-p' is not possible at step 1\. Possible actions:"
    ):
        explore(LIBRARY.scenarios["close-during-send"], prefix=("Closer-p",))
