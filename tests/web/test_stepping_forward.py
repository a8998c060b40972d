"""Stepping forward grows what the stage derived from the run one step shorter (the diagram's marks, the track)
instead of deriving it again (app/sim/replay.py ``Trace.kept``). Whatever the order of the requests, a step must
render byte for byte as it does in a server that never saw the run before."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.scenarios import load_library
from app.sim import replay, run_on
from app.web.links import play_link

LIBRARY = load_library()
HX = {"HX-Request": "true"}


def with_meter(scenario_id: str) -> TestClient:
    """A server whose meter of the scenario is searched (else a step shows a placeholder, and only for a while)."""
    client = TestClient(create_app(LIBRARY))
    deadline = time.monotonic() + 60
    while 'class="meter pending"' in client.get(f"/meter/{scenario_id}?v=2&s=").text:
        assert time.monotonic() < deadline, f"the meter of {scenario_id} never finished"
        time.sleep(0.05)
    return client


def cold(client: TestClient, url: str) -> bytes:
    """The step as a server renders it when it has no run cached and no step rendered: nothing to grow from."""
    client.app.state.traces = type(client.app.state.traces)()  # type: ignore[attr-defined]
    client.app.state.steps = type(client.app.state.steps)()  # type: ignore[attr-defined]
    return client.get(url, headers=HX).content


# A completion routine that starts a step before it moves (its execution is named by a later step), broken rules
# and a run long enough for the track to draw buckets of steps.
CASES = [
    ("close-during-send", "random", 60, 3),
    ("caller-frees-irp", "round_robin", 40, 0),
    ("close-listening-then-accepted", "random", 80, 1),
    ("live-rundown", "random", 400, 0),  # 200 steps: markers of one step, then of two
]


@pytest.mark.parametrize(("scenario_id", "scheduler", "steps", "seed"), CASES)
def test_a_step_reached_by_stepping_forward_renders_as_it_does_cold(
    scenario_id: str, scheduler: str, steps: int, seed: int
) -> None:
    compiled = LIBRARY.get(scenario_id)
    assert compiled is not None
    schedule = run_on(replay(compiled, ()), scheduler, steps, seed=seed).schedule  # type: ignore[arg-type]
    warm, fresh = with_meter(scenario_id), with_meter(scenario_id)
    lengths = list(range(len(schedule) + 1))
    checked = {0, 1, 2, len(schedule) // 2, len(schedule) - 1, len(schedule), 119, 120, 121, 240, 241}
    for n in lengths:  # each run one step longer than the last: the cache extends it
        url = play_link(scenario_id, schedule[:n])
        body = warm.get(url, headers=HX).content
        if n in checked:
            assert body == cold(fresh, url), f"{scenario_id} at {n} steps"
    for n in sorted(checked & set(lengths)):  # and an earlier step of the longest run, after all of that
        url = play_link(scenario_id, schedule, at=n)
        assert warm.get(url, headers=HX).content == cold(fresh, url), (
            f"{scenario_id} step {n} of the whole run"
        )
