"""The explorer: each bound stops the search and says so, reports are deterministic, and witnesses are shortest."""

from __future__ import annotations

import time

from app.scenarios import load_library, parse_scenario
from app.sim import Engine, replay
from app.sim.explore import Bounds, Progress, explore

LIBRARY = load_library()
RACE = LIBRARY.scenarios["close-during-send"]


def test_a_complete_search_says_so_and_counts_schedules():
    report = explore(LIBRARY.scenarios["seed-close-socket"])
    assert report.complete and report.stopped_by is None
    # Closed inline or pended, or IoAllocateIrp fails and the socket stays open (the page's if (!Irp) branch).
    assert report.outcomes == {"ok": 2, "violation": 1, "leak_at_unload": 1} and report.terminal_states == 3
    assert report.schedules == 10
    assert report.witnesses == {"leak_at_unload": ("App", "App-nomem", "App")}


def test_each_bound_stops_the_search_and_is_named():
    assert explore(RACE, Bounds(max_states=10)).stopped_by == "max_states"
    assert explore(RACE, Bounds(max_depth=3)).stopped_by == "max_depth"
    assert explore(RACE, Bounds(max_preemptions=0)).stopped_by == "max_preemptions"
    stopped = explore(RACE, should_stop=lambda p: "time_limit" if p.states > 50 else None)
    assert stopped.stopped_by == "time_limit" and not stopped.complete and stopped.schedules is None


def test_should_stop_sees_progress():
    seen: list[Progress] = []
    explore(LIBRARY.scenarios["rundown-protection"], should_stop=lambda p: seen.append(p) or None)
    assert seen and seen[-1].states > seen[0].states


def test_close_during_a_call_needs_one_preemption():
    """With no preemption each thread runs until it blocks or ends, so the close never lands inside WskSend."""
    assert "close_with_call_in_progress" not in explore(RACE, Bounds(max_preemptions=0)).witnesses
    one = explore(RACE, Bounds(max_preemptions=1))
    witness = one.witnesses["close_with_call_in_progress"]
    trace = replay(RACE, witness)
    assert sum(s.preemption for s in trace.snapshots) == 1


def test_reports_are_deterministic():
    first, second = explore(RACE), explore(RACE)
    assert first == second


def test_witnesses_are_shortest():
    """Brute force, without state merging: no schedule shorter than the witness breaks the same rule (found at a
    step, or at the end of the run for deadlocks and leaks)."""
    for scenario_id in ("close-during-send", "reference-held-across-pending-receive", "irp-read-after-free"):
        assert_shortest(LIBRARY.scenarios[scenario_id])


def assert_shortest(scenario) -> None:
    report = explore(scenario)
    engine = Engine(scenario)
    for kind, witness in report.witnesses.items():
        frontier = [engine.initial()]
        for _ in range(len(witness) - 1):
            following = []
            for state in frontier:
                for action in engine.enabled(state):
                    result = engine.step(state, action.id)
                    found = {v.kind for v in result.violations} | {
                        v.kind for v in engine.terminal_violations(result.state)
                    }
                    assert kind not in found, f"a shorter {kind} exists"
                    following.append(result.state)
            frontier = following
            if len(frontier) > 200_000:
                break


def test_a_witness_path_is_walked_once_per_kind_not_once_per_terminal_state() -> None:
    """A sandbox that allocates IRPs forever ends every branch in a leak; walking the path back to the start for
    each of them made a 600-state search take 35 s (found by the API fuzz). CPU time, generous: a guard against
    the quadratic walk coming back, not a speed budget."""
    scenario = parse_scenario(
        {
            "id": "allocate-forever",
            "title": "t",
            "summary": "s",
            "expect": "safe",
            "threads": [
                {
                    "name": "A",
                    "menu": [
                        {"id": "a", "label": "allocate", "program": [{"op": "IoAllocateIrp", "irp": "I"}]}
                    ],
                }
            ],
        }
    )
    started = time.process_time()
    report = explore(scenario, Bounds(100_000, 400, None))
    assert time.process_time() - started < 5
    assert report.stopped_by == "max_depth" and "irp_leak" in report.witnesses
