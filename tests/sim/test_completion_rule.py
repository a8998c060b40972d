"""When WSK completes an IRP: one rule (``irps.ready_result``) for a call's IRP before the call returns and for a
pending IRP later, so pending a call never changes how, or whether, its IRP can complete."""

from __future__ import annotations

from collections import deque

import pytest

from app.sim import Engine, replay
from tests.sim.helpers import built_ins, io_program, scenario

ON_DISCONNECT = {
    "OnDisconnect": {"kind": "callback", "program": [{"op": "Return", "status": "STATUS_SUCCESS"}]}
}


def test_a_receive_after_the_peers_fin_was_consumed_completes_with_0_bytes_inline_or_pending() -> None:
    """The disconnect callback took the FIN, so the receive side is shut with nothing left to read. A receive
    completes at once with 0 bytes, whether WSK completes it inline or after the call returned STATUS_PENDING
    (it used to stay pending forever in the second case)."""
    compiled = scenario(
        {"W": io_program("WskReceive", "irpR", "IoComplete")},
        routines=ON_DISCONNECT,
        sockets=[
            {"events": ["disconnect"], "callbacks": {"disconnect": "OnDisconnect"}, "peer": {"fin": True}}
        ],
    )
    inside = replay(compiled, "peer-fin-s.wsk-dsc-s.cb1.W.W.W")
    inline = next(a for a in inside.enabled if a.id == "W-i")
    assert inline.label.endswith("inline with STATUS_SUCCESS")
    pending = replay(compiled, "peer-fin-s.wsk-dsc-s.cb1.W.W.W.W-p")
    natural = next(a for a in pending.enabled if a.id == "wsk-c1")
    assert natural.label.endswith("STATUS_SUCCESS, 0 bytes")


def inline_offers(scenario_id: str, limit: int = 3000) -> list[tuple[str, str, str | None]]:
    """Breadth-first over a built-in scenario's states: for each call that may complete inline or pend (a close
    aside), the inline status, and the natural completion WSK offers right after the call pends, if any."""
    compiled = built_ins().scenarios[scenario_id]
    engine = Engine(compiled)
    seen = {engine.initial()}
    queue = deque(seen)
    found: list[tuple[str, str, str | None]] = []
    while queue and len(seen) < limit:
        state = queue.popleft()
        enabled = engine.enabled(state)
        for action in enabled:
            call = state.actor(action.actor).top.call if action.actor not in ("wsk", "peer") else None  # type: ignore[union-attr]
            if action.id.endswith("-p") and call is not None and call.function != "WskCloseSocket":
                irp = call.irp
                inline = next((a for a in enabled if a.id == f"{action.actor}-i"), None)
                after = engine.step(state, action.id).state
                natural = next((a for a in engine.enabled(after) if a.id == f"wsk-c{irp}"), None)
                found.append(
                    (
                        action.id,
                        inline.label.rsplit(" with ", 1)[1] if inline else "",
                        natural.label.split(" with ", 1)[1].split(",")[0] if natural else None,
                    )
                )
            nxt = engine.step(state, action.id).state
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return found


@pytest.mark.parametrize(
    "scenario_id",
    [
        "graceful-shutdown-then-close",
        "close-with-pending-receive",
        "stuck-graceful-disconnect",
        "close-during-connect",
        "close-with-pending-receive-from",
        "close-with-pending-accept",
    ],
)
def test_a_call_that_could_complete_inline_completes_the_same_way_once_pending(scenario_id: str) -> None:
    """Wherever WSK could complete a call's IRP inline, pending the call instead leaves WSK able to complete it
    with the same status; where it could not, the pending IRP waits too."""
    offers = inline_offers(scenario_id)
    assert offers, "the scenario makes no call that may pend"
    for action, inline, natural in offers:
        if inline:
            assert natural == inline, f"{action}: inline {inline}, but once pending {natural}"
        else:
            assert natural is None, f"{action}: could not complete inline, yet once pending {natural}"
