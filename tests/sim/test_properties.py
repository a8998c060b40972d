"""Random enabled actions through every built-in scenario keep the model's invariants after every step."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.scenarios import load_library
from app.sim import Engine
from app.sim.state import FREED, State

LIBRARY = load_library()


def check_invariants(engine: Engine, before: State, after: State, violations: list[str]) -> None:
    for rundown in after.rundowns:
        assert rundown.count >= 0, "a run-down reference count went negative"
    for sock in after.sockets:
        assert sock.retained >= 0
    assert after.captures >= 0
    for irp in after.irps:
        assert irp.completions <= 1, f"IRP {irp.id} completed twice in one use"
    freed_twice = [irp.id for irp in before.irps if irp.state == FREED]
    if freed_twice and "irp_double_free" not in violations:
        for irp_id in freed_twice:
            assert after.irp(irp_id).state == FREED, "a freed IRP came back to life"
    for index, sock in enumerate(after.sockets):
        if sock.close_irp is None:
            continue
        close_done = after.irp(sock.close_irp).completions > 0
        if close_done and engine.settings.cancelled_before_close:
            for irp_id in sock.cancelled_by_close:
                assert after.irp(irp_id).completions > 0 or after.irp(irp_id).state == FREED, (
                    f"socket {index}: the close IRP completed before cancelled IRP {irp_id}"
                )


@pytest.mark.parametrize("scenario_id", sorted(LIBRARY.scenarios))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(choices=st.lists(st.integers(min_value=0, max_value=10_000), max_size=120))
def test_random_schedules_keep_the_invariants(scenario_id: str, choices: list[int]) -> None:
    engine = Engine(LIBRARY.scenarios[scenario_id])
    state = engine.initial()
    seen: list[str] = []
    for choice in choices:
        enabled = engine.enabled(state)
        if not enabled:
            break
        result = engine.step(state, enabled[choice % len(enabled)].id)
        seen += [v.kind for v in result.violations]
        check_invariants(engine, state, result.state, seen)
        state = result.state
    assert engine.outcome(state) in ("running", "ok", "violation", "deadlock")
