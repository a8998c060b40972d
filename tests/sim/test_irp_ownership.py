"""IRP ownership in the caller-frees model (rule I-10): the completion routine signals and returns
STATUS_MORE_PROCESSING_REQUIRED, the caller waits, then frees or reuses the IRP, possibly before the routine's
``return`` has run. That is legal; touching the IRP after it was freed or reused is not."""

from __future__ import annotations

from typing import Any

from app.sim import load, replay, run_on
from tests.sim.helpers import close_program

MPR = {"op": "Return", "status": "STATUS_MORE_PROCESSING_REQUIRED"}
SIGNAL_AND_RETURN = [{"op": "KeSetEvent", "var": "E"}, MPR]
# The caller-frees part of W's program; the three statements after it close the socket so that a run can end "ok".
SEND_WAIT = [
    {"op": "IoAllocateIrp", "irp": "irp"},
    {"op": "IoSetCompletionRoutine", "irp": "irp", "routine": "Done"},
    {"op": "WskSend", "irp": "irp", "into": "st"},
    {"op": "KeWaitForSingleObject", "var": "E"},
]
# W allocates, arms, enters WskSend, which pends; WSK completes IRP 1; Done signals E; W wakes and runs one more
# statement (its IoFreeIrp or IoReuseIrp) while Done's last statement has yet to run.
BEFORE_RETURN = "W.W.W.W-p.wsk-c1.cr1.W.W"


def caller_frees(
    done: list[dict[str, Any]], after_wait: str = "IoFreeIrp", program: list[dict[str, Any]] | None = None
) -> Any:
    """W sends with an IRP whose routine ``Done`` runs ``done``; W waits for E, then frees (or reuses and frees)
    the IRP, then closes the socket. ``program`` replaces W's program."""
    tail: list[dict[str, Any]] = [{"op": "IoFreeIrp", "irp": "irp"}]
    if after_wait == "IoReuseIrp":
        tail = [{"op": "IoReuseIrp", "irp": "irp"}, *tail]
    program = [*SEND_WAIT, *tail, *close_program()] if program is None else program
    return load(
        {
            "id": "t", "title": "t", "summary": "t", "expect": "safe",
            "memory": [{"name": "E", "kind": "event"}],
            "threads": [{"name": "W", "program": program}],
            "routines": {
                "Done": {"kind": "completion", "program": done},
                "CloseComplete": {"kind": "completion", "program": [
                    {"op": "FreeSocketContext"}, {"op": "IoFreeIrp", "irp": "Irp"}, MPR]},
            },
        }
    )  # fmt: skip


def kinds(trace: Any) -> list[str]:
    return [v.kind for _, v in trace.violations]


def test_the_caller_may_free_the_irp_before_its_signalled_routine_returns():
    """The minimal caller-frees case: W's IoFreeIrp after Done's KeSetEvent but before Done's return is legal,
    because a routine that returns STATUS_MORE_PROCESSING_REQUIRED hands the IRP back for good."""
    sc = caller_frees(SIGNAL_AND_RETURN)
    trace = replay(sc, BEFORE_RETURN)
    assert kinds(trace) == []
    assert trace.final.irp(1).state == "FREED"
    assert [a.id for a in trace.enabled if a.actor == "cr1"] == ["cr1"], "Done's return has yet to run"
    assert "cr1 has handed it over" in trace.snapshots[-1].narration
    trace = run_on(trace, "round_robin", 100)
    assert trace.outcome == "ok"
    assert kinds(trace) == []


def test_a_routine_that_reads_its_irp_after_signalling_reads_freed_memory():
    """The routine touched the IRP after handing it over: once the caller freed it, that read is IRP-B3."""
    sc = caller_frees(
        [{"op": "KeSetEvent", "var": "E"}, {"op": "ReadIoStatus", "irp": "Irp", "into": "st"}, MPR]
    )
    trace = replay(sc, BEFORE_RETURN + ".cr1")
    assert kinds(trace) == ["irp_use_after_free"]
    assert trace.violations[0][1].actor == "cr1"


def test_a_routine_that_frees_its_irp_after_signalling_frees_it_twice():
    """Both the caller and the routine think they own the IRP: the routine's free, after the caller's, is IRP-B1."""
    sc = caller_frees([{"op": "KeSetEvent", "var": "E"}, {"op": "IoFreeIrp", "irp": "Irp"}, MPR])
    trace = replay(sc, BEFORE_RETURN + ".cr1")
    assert kinds(trace) == ["irp_double_free"]


def test_a_routine_that_returns_success_for_a_freed_irp_lets_the_io_manager_touch_freed_memory():
    """Any status but STATUS_MORE_PROCESSING_REQUIRED lets the I/O manager go on completing the IRP the caller
    already freed: rule IRP-B4 and a use after free."""
    sc = caller_frees([{"op": "KeSetEvent", "var": "E"}, {"op": "Return", "status": "STATUS_SUCCESS"}])
    trace = replay(sc, BEFORE_RETURN + ".cr1")
    assert sorted(kinds(trace)) == ["completion_wrong_return", "irp_use_after_free"]
    assert "I/O manager goes on completing IRP 1" in trace.snapshots[-1].narration


def test_the_caller_may_reuse_the_irp_before_its_signalled_routine_returns():
    """IoReuseIrp in the same place as the caller's free is legal too, and reinitialises the IRP for a new use."""
    sc = caller_frees(SIGNAL_AND_RETURN, after_wait="IoReuseIrp")
    trace = replay(sc, BEFORE_RETURN)
    assert kinds(trace) == []
    irp = trace.final.irp(1)
    assert (irp.state, irp.use) == ("ALLOCATED", 1)
    trace = replay(sc, BEFORE_RETURN + ".cr1")
    assert trace.final.irp(1).state == "ALLOCATED", "the routine's return leaves the new use alone"
    assert run_on(trace, "round_robin", 100).outcome == "ok"


def test_a_routine_that_touches_its_irp_after_the_caller_reused_it_corrupts_the_new_use():
    """Reading the IRP after the caller reused it reads another operation's IRP (IRP-B5)."""
    touch = [{"op": "KeSetEvent", "var": "E"}, {"op": "ReadIoStatus", "irp": "Irp", "into": "st"}, MPR]
    trace = replay(caller_frees(touch, after_wait="IoReuseIrp"), BEFORE_RETURN + ".cr1")
    assert kinds(trace) == ["irp_reuse_while_pending"]
    wrong = [{"op": "KeSetEvent", "var": "E"}, {"op": "Return", "status": "STATUS_SUCCESS"}]
    trace = replay(caller_frees(wrong, after_wait="IoReuseIrp"), BEFORE_RETURN + ".cr1")
    assert sorted(kinds(trace)) == ["completion_wrong_return", "irp_reuse_while_pending"]


def test_reusing_an_irp_wsk_still_owns_is_irp_b5_and_leaves_it_alone():
    """IoReuseIrp while the IRP is pending inside WSK breaks IRP-B5 and does not reset it: WSK still completes
    it, and its routine still runs."""
    sc = caller_frees(SIGNAL_AND_RETURN, program=[*SEND_WAIT[:3], {"op": "IoReuseIrp", "irp": "irp"}])
    trace = replay(sc, "W.W.W.W-p.W")
    assert kinds(trace) == ["irp_reuse_while_pending"]
    assert trace.final.irp(1).state == "OWNED_BY_WSK"
    assert "wsk-c1" in [a.id for a in trace.enabled]


def test_a_routine_may_reuse_its_own_irp():
    """A routine that reinitialises and re-arms its own IRP owns the new use: no violation."""
    own = [{"op": "IoReuseIrp", "irp": "Irp"}, {"op": "IoSetCompletionRoutine", "irp": "Irp", "routine": "Done"},
           {"op": "KeSetEvent", "var": "E"}, MPR]  # fmt: skip
    trace = run_on(replay(caller_frees(own), "W.W.W.W-p.wsk-c1"), "round_robin", 100)
    assert kinds(trace) == []
    assert trace.outcome == "ok"


# -- reusing a close IRP for another socket --------------------------------------------------------------------------


def two_closes() -> Any:
    """One thread closes s1 with IRP c, whose routine signals E1; it waits, reuses c, closes s2 with it, frees
    ctx1 while s2's close is pending, waits for E2, then frees c and ctx2."""
    signal = lambda event: {"kind": "completion", "program": [{"op": "KeSetEvent", "var": event}, MPR]}  # noqa: E731
    program = [
        {"op": "IoAllocateIrp", "irp": "c"},
        {"op": "IoSetCompletionRoutine", "irp": "c", "routine": "Closed1"},
        {"op": "WskCloseSocket", "irp": "c", "socket": "s1", "into": "st"},
        {"op": "KeWaitForSingleObject", "var": "E1"},
        {"op": "IoReuseIrp", "irp": "c"},
        {"op": "IoSetCompletionRoutine", "irp": "c", "routine": "Closed2"},
        {"op": "WskCloseSocket", "irp": "c", "socket": "s2", "into": "st"},
        {"op": "FreeSocketContext", "socket": "s1"},
        {"op": "KeWaitForSingleObject", "var": "E2"},
        {"op": "IoFreeIrp", "irp": "c"},
        {"op": "FreeSocketContext", "socket": "s2"},
    ]
    return load(
        {
            "id": "t", "title": "t", "summary": "t", "expect": "safe",
            "sockets": [{"name": "s1", "context": "ctx1", "state": "FULLY_DISCONNECTED"},
                        {"name": "s2", "context": "ctx2", "state": "FULLY_DISCONNECTED"}],
            "memory": [{"name": "E1", "kind": "event"}, {"name": "E2", "kind": "event"}],
            "threads": [{"name": "W", "program": program}],
            "routines": {"Closed1": signal("E1"), "Closed2": signal("E2")},
        }
    )  # fmt: skip


def test_reusing_a_close_irp_for_another_socket_keeps_each_close_whole():
    """Each close keeps its own record of its IRP's use. Reusing s1's close IRP, while s1's routine has yet to
    return, to close s2: s2's close IRP completes only after s2 is freed; s1 becomes CLOSED when its routine
    returns; ctx1 may be freed (s1's close completed); and the run ends cleanly."""
    sc = two_closes()
    # Close s1 (pending), WSK frees s1 and completes IRP 1, Closed1 signals; W wakes, reuses IRP 1, arms it,
    # closes s2 (pending) and frees ctx1, while Closed1 has yet to return.
    trace = replay(sc, "W.W.W.W-p.wsk-free-s1.wsk-c1.cr1.W.W.W.W.W-p.W")
    assert kinds(trace) == [], "ctx1 is freed after s1's close IRP completed"
    ids = [a.id for a in trace.enabled]
    assert "wsk-free-s2" in ids and "wsk-c1" not in ids, "s2's close IRP cannot complete before s2 is freed"
    trace = replay(sc, "W.W.W.W-p.wsk-free-s1.wsk-c1.cr1.W.W.W.W.W-p.W.cr1")
    assert trace.final.sockets[0].handle == "CLOSED", "s1 is closed when its routine returns"
    assert trace.final.sockets[1].handle == "CLOSING"
    trace = run_on(trace, "round_robin", 100)
    steps = [{(e.kind, e.socket or e.irp) for e in s.events} for s in trace.snapshots]
    s2_freed = next(i for i, kinds in enumerate(steps) if ("socket_freed", "s2") in kinds)
    s2_close_completed = max(i for i, kinds in enumerate(steps) if ("irp_completed", 1) in kinds)
    assert s2_freed < s2_close_completed, "documented order: socket freed, then close IRP completed"
    assert [s.handle for s in trace.final.sockets] == ["CLOSED", "CLOSED"]
    assert trace.outcome == "ok"
    assert kinds(trace) == []


def test_the_built_in_caller_frees_scenario_reuses_and_frees_before_the_routines_return():
    """The gallery's caller-frees scenario: App reuses the IRP while SendDone's return has yet to run, and frees
    it while CloseDone's has yet to run; both are legal, and the run ends cleanly."""
    from app.scenarios import load_library

    sc = load_library().scenarios["caller-frees-irp"]
    # Send pends and completes, SendDone signals; App wakes, reads, writes, reuses, arms, closes (pending);
    # SendDone returns; WSK frees s and completes the close, CloseDone signals; App wakes and frees IRP 1.
    schedule = "App.App.App.App-p.wsk-c1.cr1.App.App.App.App.App.App.App-p.cr1.wsk-free-s.wsk-c1.cr1.App.App"
    trace = replay(sc, schedule)
    assert kinds(trace) == []
    assert trace.final.irp(1).state == "FREED" and [a.id for a in trace.enabled] == ["App", "cr1"]
    assert run_on(trace, "round_robin", 50).outcome == "ok"
