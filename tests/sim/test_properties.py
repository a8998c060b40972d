"""Runs through every built-in scenario keep the engine's invariants, and end where the explorer says runs can end.

Two views of the same state space must agree: random walks (Hypothesis) and the explorer's exhaustive search. A
walk that ends must end in an outcome, with violation kinds, that the search counted; a safe scenario's walk
always ends ``ok``. And a naive enumeration of every reachable state, written here without the explorer's
machinery, finds the same states and the same terminal outcomes as the explorer, while every state and every
transition keeps the invariants of tests/sim/invariants.py.
"""

from __future__ import annotations

from collections import Counter, deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sim import Engine
from app.sim.model import State
from app.sim.step import StepResult
from app.web.links import play_link
from tests.sim.helpers import built_ins, explored, walk
from tests.sim.invariants import check_moves, check_state, check_step

LIBRARY = built_ins()
# The sandbox's 32,000 states take seconds to enumerate twice; random walks cover it below.
ENUMERATED = sorted(i for i in LIBRARY.scenarios if i != "sandbox")


def terminal_kinds(engine: Engine, state: State) -> set[str]:
    """Every violation kind of an ended run, as the explorer counts them (deadlock is an outcome of its own)."""
    return (set(state.violated) | {v.kind for v in engine.terminal_violations(state)}) - {"deadlock"}


@pytest.mark.parametrize("scenario_id", sorted(LIBRARY.scenarios))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(choices=st.lists(st.integers(min_value=0, max_value=10_000), max_size=150))
def test_a_random_run_keeps_the_invariants_and_ends_as_the_explorer_says_runs_can(
    scenario_id: str, choices: list[int]
) -> None:
    compiled = LIBRARY.scenarios[scenario_id]

    def checked(engine: Engine, before: State, result: StepResult) -> None:
        check_step(engine, before, result)
        check_state(engine, result.state)

    schedule, engine, state = walk(compiled, choices, checked)
    check_moves(engine, state)
    outcome = engine.outcome(state)
    if outcome == "running":
        return
    report = explored(scenario_id)
    link = play_link(scenario_id, tuple(schedule))
    assert report.complete, f"the explorer could not finish {scenario_id}: {report.stopped_by}"
    assert report.outcomes[outcome] > 0, f"{link} ends {outcome}, which the explorer never found"
    unseen = {k for k in terminal_kinds(engine, state) if report.outcomes[k] == 0}
    assert not unseen, f"{link} ends with {sorted(unseen)}, which the explorer never found at an end"
    if compiled.source.expect == "safe":
        assert outcome == "ok", f"{link}: a safe scenario ends {outcome}"


@pytest.mark.parametrize("scenario_id", ENUMERATED)
def test_a_naive_enumeration_finds_the_explorers_states_and_outcomes(scenario_id: str) -> None:
    """Breadth-first over every reachable state, checking every state and transition; the terminal outcomes,
    counted per terminal state as the explorer counts them, are exactly the explorer's."""
    engine = Engine(LIBRARY.scenarios[scenario_id])
    first = engine.initial()
    seen = {first}
    queue = deque([first])
    outcomes: Counter[str] = Counter()
    terminals = 0
    while queue:
        state = queue.popleft()
        check_state(engine, state)
        check_moves(engine, state)
        enabled = engine.enabled(state)
        if not enabled:
            terminals += 1
            outcome = engine.outcome(state)
            outcomes["violation" if outcome not in ("ok", "deadlock") else outcome] += 1
            outcomes.update(terminal_kinds(engine, state))
        for action in enabled:
            result = engine.step(state, action.id)
            check_step(engine, state, result)
            if result.state not in seen:
                seen.add(result.state)
                queue.append(result.state)
    report = explored(scenario_id)
    assert report.complete
    assert (report.states, report.terminal_states) == (len(seen), terminals)
    assert report.outcomes == outcomes
