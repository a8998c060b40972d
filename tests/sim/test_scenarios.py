"""Every built-in scenario keeps its promise: safe ones are safe in every interleaving, buggy ones show their
bug in the demo, and an exhaustive search finds it with a witness that replays to the same violation."""

from __future__ import annotations

import pytest

from app.scenarios import load_library
from app.sim import Engine, replay
from tests.sim.helpers import explored

LIBRARY = load_library()
REQUIRED = [
    "seed-close-socket", "graceful-shutdown-then-close", "close-with-pending-receive", "close-without-disconnect",
    "stuck-graceful-disconnect", "close-during-send", "check-zero-then-close", "flag-then-increment",
    "rundown-protection", "reference-held-across-pending-receive", "close-from-callback",
    "wait-for-close-in-callback", "retained-indication-at-close", "double-close", "irp-double-free",
    "irp-read-after-free", "completion-returns-success", "context-freed-early", "cancel-races-completion",
    "deregister-with-open-socket", "sandbox", "close-during-connect", "close-with-pending-receive-from",
    "close-with-pending-accept", "close-listening-socket", "close-listening-then-accepted",
    "pending-returned-always-wait", "pending-returned-wait-if-pending", "pending-returned-free-where-completed",
    "event-reuse-never-cleared", "event-reuse-cleared-after-close", "event-reuse-cleared-before-close",
    "event-reuse-synchronization",
]  # fmt: skip
SAFE = sorted(i for i, c in LIBRARY.scenarios.items() if c.source.expect == "safe")
BUGGY = sorted(i for i, c in LIBRARY.scenarios.items() if c.source.expect == "buggy")


def test_every_required_scenario_is_built_in():
    missing = [i for i in REQUIRED if i not in LIBRARY.scenarios]
    assert not missing, f"missing built-in scenarios: {missing}"


@pytest.mark.parametrize("scenario_id", SAFE)
def test_safe_scenarios_are_safe_in_every_interleaving(scenario_id: str) -> None:
    report = explored(scenario_id)
    assert report.complete, f"search stopped by {report.stopped_by}"
    assert set(report.outcomes) == {"ok"}, dict(report.outcomes)
    assert not report.witnesses


@pytest.mark.parametrize("scenario_id", BUGGY)
def test_buggy_scenarios_show_their_bugs_in_the_demo(scenario_id: str) -> None:
    compiled = LIBRARY.scenarios[scenario_id]
    trace = replay(compiled, compiled.source.demo or [])
    found = {v.kind for _, v in trace.violations}
    assert set(compiled.source.bugs) <= found, f"demo shows {sorted(found)}"


@pytest.mark.parametrize("scenario_id", BUGGY)
def test_the_search_finds_each_bug_and_its_witness_replays_to_it(scenario_id: str) -> None:
    compiled = LIBRARY.scenarios[scenario_id]
    report = explored(scenario_id)
    for kind in compiled.source.bugs:
        assert kind in report.witnesses, f"the search did not find {kind}"
        witness = report.witnesses[kind]
        trace = replay(compiled, witness)
        steps = {step for step, v in trace.violations if v.kind == kind}
        assert len(witness) in steps, f"{kind} should appear at the witness's last step {len(witness)}"


def test_scenario_outcomes_follow_the_engine_not_the_scenario_id():
    """Nothing in the engine knows a scenario by its id: renaming one changes nothing but the name."""
    compiled = LIBRARY.scenarios["seed-close-socket"]
    renamed = compiled.source.model_copy(update={"id": "renamed"})
    from app.sim import compile_scenario

    a = replay(compiled, "App.App.App.App.App.App-p")
    b = replay(compile_scenario(renamed), "App.App.App.App.App.App-p")
    assert [s.narration for s in a.snapshots] == [s.narration for s in b.snapshots]
    assert Engine(compiled).enabled(a.final) == Engine(compile_scenario(renamed)).enabled(b.final)
