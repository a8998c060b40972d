"""Same scenario and schedule, identical trace: the contract every shared link relies on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


ROOT = Path(__file__).resolve().parents[2]
# Run in a fresh interpreter: every built-in scenario's demo, then a seeded random run on from it, and the digest of
# each step's action, narration, events (every field) and described state.
DIGEST_PROGRAM = """
import dataclasses, hashlib, json
from app.scenarios import load_library
from app.sim import Engine, replay, run_on
from app.sim.describe import describe_state

digest = hashlib.sha256()
for scenario_id, compiled in load_library().scenarios.items():
    engine = Engine(compiled)
    demo = replay(compiled, compiled.source.demo or [])
    for trace in (demo, run_on(demo, "random", 200, seed=11)):
        for s in trace.snapshots:
            record = [scenario_id, s.action.id if s.action else None, s.narration,
                      [dataclasses.asdict(e) for e in s.events], [dataclasses.asdict(v) for v in s.violations],
                      describe_state(engine, s.state)]
            digest.update(json.dumps(record, sort_keys=True).encode())
        digest.update(json.dumps([trace.outcome, [(i, v.kind) for i, v in trace.violations]]).encode())
print(digest.hexdigest())
"""


def digest_with_hash_seed(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", DIGEST_PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_traces_are_identical_in_processes_with_different_hash_seeds():
    """Set and dict order of strings changes with PYTHONHASHSEED; nothing in a trace may depend on it, or a link
    would replay differently on another server process."""
    first, second = digest_with_hash_seed("1"), digest_with_hash_seed("2")
    assert len(first) == 64
    assert first == second
