"""``Irp->PendingReturned`` in completion routines (spelt ``PendingReturned`` in conditions): TRUE when the call
that took the IRP returned STATUS_PENDING, FALSE when WSK completed it inline. Two known variants of the
caller-frees model: signalling only when pended is safe if the caller waits only when the call returned
STATUS_PENDING, and deadlocks if the caller always waits."""

from __future__ import annotations

from typing import Any

import pytest

from app.scenarios import ScenarioError, parse_scenario
from app.sim import replay
from app.sim.explore import explore
from tests.sim.helpers import close_program, scenario

# if (Irp->PendingReturned) KeSetEvent(&E, ...); return STATUS_MORE_PROCESSING_REQUIRED;
SIGNAL_IF_PENDED = [
    {"op": "GotoIf", "cond": "!PendingReturned", "target": "out"},
    {"op": "KeSetEvent", "var": "E"},
    {"op": "Return", "status": "STATUS_MORE_PROCESSING_REQUIRED", "label": "out"},
]
SEND = [
    {"op": "IoAllocateIrp", "irp": "irp"},
    {"op": "IoSetCompletionRoutine", "irp": "irp", "routine": "Done"},
    {"op": "WskSend", "irp": "irp", "into": "st"},
]


def caller_frees(wait_only_if_pending: bool) -> Any:
    """W sends; Done signals E only if the send pended; W waits for E (only after STATUS_PENDING, or always),
    frees the IRP and closes the socket."""
    skip = (
        [{"op": "GotoIf", "cond": "st != STATUS_PENDING", "target": "done"}] if wait_only_if_pending else []
    )
    program = [
        *SEND,
        *skip,
        {"op": "KeWaitForSingleObject", "var": "E"},
        {"op": "IoFreeIrp", "irp": "irp", "label": "done"},
        *close_program(),
    ]
    return scenario(
        {"W": program},
        memory=[{"name": "E", "kind": "event"}],
        routines={"Done": {"kind": "completion", "program": SIGNAL_IF_PENDED}},
    )


def test_pending_returned_renders_as_the_irp_member() -> None:
    assert caller_frees(True).programs["routine:Done"].lines[0] == "if (!Irp->PendingReturned) goto out;"


def test_pending_returned_is_true_only_when_the_call_returned_pending() -> None:
    sc = caller_frees(True)
    pended = replay(sc, "W.W.W.W-p.wsk-c1.cr1")
    assert "does not jump" in pended.snapshots[-1].narration, "pended: Done goes on to signal"
    inline = replay(sc, "W.W.W.W-i.W")
    assert "jumps to out" in inline.snapshots[-1].narration, "inline: Done skips the signal"


def test_a_routine_run_inline_is_named_in_the_narration_with_the_thread_it_runs_on() -> None:
    """Inline, Done runs nested on W's stack: what it does is Done's doing, not W's own code."""
    sc = caller_frees(True)
    inline = replay(sc, "W.W.W.W-i.W.W.W")
    assert inline.snapshots[5].narration == "Done (on W's thread) jumps to out."
    assert inline.snapshots[6].narration == "Done returns STATUS_MORE_PROCESSING_REQUIRED."
    assert inline.snapshots[7].narration.startswith("W's WskSend returns")  # W's own code again
    pended = replay(sc, "W.W.W.W-p.wsk-c1.cr1")
    assert pended.snapshots[-1].narration.startswith("cr1 does not jump")  # a routine of its own: its actor


def test_signal_if_pended_and_wait_if_pending_is_safe_in_every_interleaving() -> None:
    report = explore(caller_frees(wait_only_if_pending=True))
    assert report.complete
    assert set(report.outcomes) == {"ok"}


def test_signal_if_pended_but_always_wait_deadlocks_when_the_call_completes_inline() -> None:
    report = explore(caller_frees(wait_only_if_pending=False))
    assert report.complete
    assert "deadlock" in report.outcomes
    witness = report.witnesses["deadlock"]
    assert "W-i" in witness, "the deadlock needs an inline completion"
    assert replay(caller_frees(False), witness).outcome == "deadlock"


@pytest.mark.parametrize(
    ("threads", "memory", "expected"),
    [
        ([{"name": "W", "program": [{"op": "ReturnIf", "cond": "PendingReturned"}]}], [],
         "only a completion routine can read PendingReturned"),
        ([{"name": "W", "program": [{"op": "Assign", "into": "PendingReturned", "value": 1}]}], [],
         "'PendingReturned' is not a valid local variable name"),
        ([{"name": "W", "program": [{"op": "Read", "var": "x", "into": "y"}]}],
         [{"name": "PendingReturned"}], "memory name 'PendingReturned'"),
    ],
)  # fmt: skip
def test_pending_returned_is_reserved_for_completion_routines(
    threads: list[dict[str, Any]], memory: list[dict[str, Any]], expected: str
) -> None:
    data = {"id": "t", "title": "t", "summary": "t", "threads": threads, "memory": memory}
    with pytest.raises(ScenarioError, match=expected):
        parse_scenario(data)
