"""Same scenario and schedule, identical trace: the contract every shared link relies on."""

from __future__ import annotations

import json

from app.scenarios import load_library
from app.sim import Engine, replay, run_on
from app.sim.describe import describe_state


def trace_json(compiled, schedule):
    trace = run_on(replay(compiled, schedule), "random", 300, seed=7)
    engine = Engine(compiled)
    return json.dumps(
        [
            {
                "action": s.action.id if s.action else None,
                "narration": s.narration,
                "events": [e.kind for e in s.events],
                "state": describe_state(engine, s.state),
            }
            for s in trace.snapshots
        ],
        sort_keys=True,
    )


def test_replaying_twice_from_freshly_loaded_scenarios_gives_identical_json():
    first, second = load_library(), load_library()
    for scenario_id, compiled in first.scenarios.items():
        schedule = compiled.source.demo or []
        assert trace_json(compiled, schedule) == trace_json(second.scenarios[scenario_id], schedule), (
            scenario_id
        )
