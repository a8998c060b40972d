"""The reduced search gives exactly the full search's answers, from far fewer states.

Compared on every built-in scenario, and on the close-protection designs with more threads (three and four: two or
three senders and a closer; for single-thread ownership, two or three threads asking the owner to close), where
the full search can still finish; the inline scenarios of the other tests are compared by tests/sim/conftest.py.
Where the full search cannot finish, each design with more threads must still keep its promise: a safe design is
safe in every interleaving, a broken one breaks the same rules, with witnesses that replay.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.scenarios import with_copies
from app.sim import CompiledScenario, replay
from app.sim.explore import EXACT_COUNTS_AFTER, Bounds, FullSearch, ReducedSearch, explore
from tests.sim.helpers import COMPARED, assert_searches_agree, built_ins

LIBRARY = built_ins()
DESIGNS = sorted(i for i, c in LIBRARY.scenarios.items() if c.source.family == "close-protection")
# The full search of these with three threads stores from 400 to 61,000 states; with two senders, the
# flag-then-increment design needs 137,000 and the interlocked word more than 300,000: those are only checked
# against their promise.
COMPARED_WITH_THREE = ("protect-check-zero", "protect-none", "protect-rundown", "protect-single-thread")


def more_threads(design: str, threads: int) -> CompiledScenario:
    """A close-protection design with ``threads`` threads: more senders, or, where one thread owns the socket,
    more threads asking it to close."""
    compiled = LIBRARY.scenarios[design]
    copied = "Closer" if design == "protect-single-thread" else "Sender"
    variant = with_copies(compiled, copied, threads - 1)
    COMPARED.add(variant.fingerprint)  # compared below, or too large to compare (tests/sim/conftest.py)
    return variant


@pytest.mark.parametrize("scenario_id", sorted(LIBRARY.scenarios))
def test_the_reduced_search_agrees_with_the_full_search(scenario_id: str) -> None:
    assert assert_searches_agree(LIBRARY.scenarios[scenario_id])


@pytest.mark.parametrize("design", COMPARED_WITH_THREE)
def test_the_reduced_search_agrees_with_the_full_search_with_three_threads(design: str) -> None:
    assert assert_searches_agree(more_threads(design, 3))


# With four threads, the lock-free designs keep the reduced search busy longest: 51,000 states for flag then
# increment, 150,000 for the interlocked word (bench/explore.py prints how long they take).
SLOWEST = ("protect-flag-then-increment", "protect-interlocked-word")
VARIANTS = [
    pytest.param(design, threads, marks=[pytest.mark.slow] if threads == 4 and design in SLOWEST else [])
    for threads in (3, 4)
    for design in DESIGNS
]


@pytest.mark.parametrize(("design", "threads"), VARIANTS)
def test_a_design_keeps_its_promise_with_more_threads(design: str, threads: int) -> None:
    original = LIBRARY.scenarios[design].source
    variant = more_threads(design, threads)
    report = ReducedSearch(variant, Bounds(max_states=300_000), None).run()
    assert report.complete, f"stopped by {report.stopped_by}"
    if original.expect == "safe":
        assert set(report.outcomes) == {"ok"} and not report.witnesses, dict(report.outcomes)
        return
    assert set(original.bugs) <= set(report.witnesses), sorted(report.witnesses)
    for kind, witness in report.witnesses.items():
        steps = {step for step, v in replay(variant, witness).violations if v.kind == kind}
        assert len(witness) in steps, f"{kind} should appear at the witness's last step {len(witness)}"


def test_check_zero_with_two_senders_still_races() -> None:
    """Two senders make the race no harder to find: the closer's check and its close are still two steps."""
    variant = more_threads("protect-check-zero", 3)
    report = explore(variant)
    witness = report.witnesses["close_with_call_in_progress"]
    trace = replay(variant, witness)
    assert (len(witness), "close_with_call_in_progress") in {(step, v.kind) for step, v in trace.violations}
    assert {"Sender1", "Closer"} <= {s.action.actor for s in trace.snapshots[1:] if s.action}


def test_small_scenarios_keep_the_full_search_counts_and_large_ones_say_they_are_reduced() -> None:
    small = explore(LIBRARY.scenarios["rundown-protection"])
    assert not small.reduced and small.schedules is not None and small.schedules > 1000
    assert small == explore(LIBRARY.scenarios["rundown-protection"], reduce=False)
    large = explore(LIBRARY.scenarios["sandbox"])
    assert large.reduced and large.schedules is None and large.complete
    assert large.states < explore(LIBRARY.scenarios["sandbox"], reduce=False).states / 4


def test_a_preemption_bound_is_searched_in_full() -> None:
    """Bounding preemptions keeps a different set of runs than any reordering of independent steps would: that
    search is never reduced."""
    report = explore(LIBRARY.scenarios["sandbox"], Bounds(max_preemptions=1))
    assert not report.reduced


def test_the_exact_counts_cost_little_when_the_reduced_search_is_large() -> None:
    """Past EXACT_COUNTS_AFTER reduced states, no full search runs after the reduced one."""
    variant = more_threads("protect-rundown", 3)
    reduced = ReducedSearch(variant, Bounds(), None).run()
    assert reduced.states > EXACT_COUNTS_AFTER
    assert explore(variant) == reduced


def test_a_report_is_the_same_in_every_process() -> None:
    """Workers sharing searches (Redis) must compute the same report for the same search id, whatever order their
    sets and dictionaries happen to iterate in (string hashes differ from process to process)."""
    program = (
        "import hashlib, json; from app.scenarios import load_library; from app.sim.explore import explore; "
        "r = explore(load_library().scenarios['sandbox']); "
        "print(hashlib.sha256(json.dumps([r.states, r.transitions, sorted(r.outcomes.items()), "
        "sorted(r.witnesses.items())]).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1, digests


@pytest.mark.parametrize(
    ("search", "scenario_id", "max_states"),
    [(ReducedSearch, "sandbox", 100), (FullSearch, "protect-check-zero", 400)],
)
def test_a_search_stopped_by_its_state_bound_says_which_witnesses_may_not_be_shortest(
    search: type[ReducedSearch] | type[FullSearch], scenario_id: str, max_states: int
) -> None:
    """A state dropped at the bound may lie on a shorter way to a rule broken further down: a witness longer than
    the shallowest state dropped is only a witness. Every other one is a shortest one, as the full search says."""
    compiled = LIBRARY.scenarios[scenario_id]
    if scenario_id == "protect-check-zero":
        compiled = more_threads(scenario_id, 3)
    stopped = search(compiled, Bounds(max_states=max_states), None).run()
    full = explore(compiled, reduce=False)
    assert stopped.stopped_by == "max_states" and stopped.unproven
    for kind, witness in stopped.witnesses.items():
        if kind not in stopped.unproven:
            assert len(witness) == len(full.witnesses[kind])
    assert not explore(compiled, Bounds(max_depth=7)).unproven  # a depth bound loses no shorter witness
