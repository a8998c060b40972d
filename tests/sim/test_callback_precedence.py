"""Rule E-7: a pending WskReceive (WskReceiveFrom, WskAccept) takes precedence over the matching event callback,
but the documentation warns that races exist where WSK could still call the callback. The setting
``callbacks_despite_pending`` makes that race a choice of its own; by default the pending IRP always wins."""

from __future__ import annotations

from typing import Any

from app.scenarios import load_library
from app.sim import Trace, load, replay

# T arms a receive; the peer's data then arrives while it is pending, with the receive event enabled.
PENDING_THEN_DATA = "T.T.T.T-p.peer-data-s"


def receiving(**settings: Any) -> Any:
    return load(
        {
            "id": "t", "title": "t", "summary": "t",
            "sockets": [{"name": "s", "events": ["receive"], "callbacks": {"receive": "OnReceive"}, "peer": {"data": 1}}],
            "threads": [{"name": "T", "program": [
                {"op": "IoAllocateIrp", "irp": "i"},
                {"op": "IoSetCompletionRoutine", "irp": "i", "routine": "Done"},
                {"op": "WskReceive", "irp": "i"},
            ]}],
            "routines": {
                "OnReceive": {"kind": "callback", "program": [{"op": "Return", "status": "STATUS_SUCCESS"}]},
                "Done": {"kind": "completion", "program": [
                    {"op": "IoFreeIrp", "irp": "Irp"},
                    {"op": "Return", "status": "STATUS_MORE_PROCESSING_REQUIRED"},
                ]},
            },
            **({"settings": settings} if settings else {}),
        }
    )  # fmt: skip


def options(trace: Trace) -> list[str]:
    return [a.id for a in trace.enabled]


def test_by_default_the_pending_receive_takes_the_data() -> None:
    assert options(replay(receiving(), PENDING_THEN_DATA)) == ["wsk-c1"]


def test_with_the_race_wsk_may_still_call_the_receive_event() -> None:
    trace = replay(receiving(callbacks_despite_pending=True), PENDING_THEN_DATA)
    assert options(trace) == ["wsk-c1", "wsk-rcv-s"]
    called = replay(receiving(callbacks_despite_pending=True), PENDING_THEN_DATA + ".wsk-rcv-s")
    assert "OnReceive" in called.snapshots[-1].narration
    assert called.final.irp(1).is_pending, "the receive is still pending: the callback took the data"


def test_the_setting_left_out_keeps_every_built_in_scenarios_fingerprint() -> None:
    """Written only when true, so that links made before it existed keep their content hash (their recorded
    fingerprints are checked in tests/sim/test_sandbox_live.py)."""
    for compiled in load_library().scenarios.values():
        assert "callbacks_despite_pending" not in compiled.source.model_dump(mode="json")["settings"]
    assert (
        "callbacks_despite_pending"
        in receiving(callbacks_despite_pending=True).source.model_dump()["settings"]
    )
