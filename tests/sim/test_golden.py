"""Golden traces: each built-in scenario's demo (or a round-robin run for safe ones) must replay to exactly the
recorded actions, narration, events and violations. Run with UPDATE_GOLDEN=1 to re-record after an intended change,
and review the diff like code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.scenarios import load_library
from app.sim import replay, run_on

GOLDEN = Path(__file__).parent / "golden"
LIBRARY = load_library()


def recorded(scenario_id: str) -> dict[str, object]:
    compiled = LIBRARY.scenarios[scenario_id]
    trace = replay(compiled, compiled.source.demo or [])
    if not compiled.source.demo:
        trace = run_on(trace, "round_robin", 400)
    return {
        "scenario": scenario_id,
        "schedule": ".".join(trace.schedule),
        "outcome": trace.outcome,
        "steps": [
            {
                "action": s.action.id if s.action else None,
                "narration": s.narration,
                "events": [f"{e.kind}:{e.actor or ''}:{e.irp or ''}:{e.status or ''}" for e in s.events],
            }
            for s in trace.snapshots
        ],
        "violations": [f"{step}:{v.kind}" for step, v in trace.violations],
    }


@pytest.mark.parametrize("scenario_id", sorted(LIBRARY.scenarios))
def test_trace_matches_the_golden_record(scenario_id: str) -> None:
    path = GOLDEN / f"{scenario_id}.json"
    actual = recorded(scenario_id)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=1) + "\n", encoding="utf-8")
    assert path.exists(), f"no golden record for {scenario_id}: run with UPDATE_GOLDEN=1 and review it"
    assert json.loads(path.read_text(encoding="utf-8")) == actual
