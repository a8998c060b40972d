"""The WSK behaviour the engine models, rule by rule (reference sections 2-4)."""

from __future__ import annotations

import pytest

from app.sim import Engine, IllegalAction, replay, run_on
from tests.sim.helpers import close_program, io_program, scenario


def kinds(trace):
    return [v.kind for _, v in trace.violations]


def event_kinds(trace):
    return [e.kind for s in trace.snapshots for e in s.events]


def test_a_socket_call_is_two_steps_and_in_progress_between_them():
    sc = scenario({"Sender": io_program("WskSend", "irpS", "IoComplete")})
    trace = replay(sc, "Sender.Sender.Sender")
    assert trace.final.sockets[0].calls == (("Sender", "WskSend"),)
    assert {a.id for a in trace.enabled} == {"Sender-p", "Sender-i"}


def test_close_of_a_connected_socket_aborts_and_cancels_pending_irps_before_the_close_completes():
    """Reference 3.2: abortive disconnect, cancel every pending IRP, their completion routines return first."""
    sc = scenario({"W": io_program("WskReceive", "irpR", "IoComplete") + close_program()})
    trace = run_on(replay(sc, "W.W.W.W-p.W.W.W.W-p"), "round_robin", 100)
    assert trace.outcome == "ok"
    events = [(e.kind, e.irp, e.status) for s in trace.snapshots for e in s.events]
    assert ("abortive_disconnect", None, None) in events
    completed = [(irp, status) for kind, irp, status in events if kind == "irp_completed"]
    assert completed == [(1, "STATUS_CANCELLED"), (2, "STATUS_SUCCESS")]
    returned = [e.irp for s in trace.snapshots for e in s.events if e.kind == "completion_returned"]
    assert returned == [1, 2], "the cancelled IRP's routine returns before the close routine runs"


def test_cancel_status_is_a_setting():
    sc = scenario(
        {"W": io_program("WskReceive", "irpR", "IoComplete") + close_program()},
        settings={"cancel_status": "STATUS_CONNECTION_ABORTED"},
    )
    trace = run_on(replay(sc, "W.W.W.W-p.W.W.W.W-p"), "round_robin", 100)
    statuses = [e.status for s in trace.snapshots for e in s.events if e.kind == "irp_completed"]
    assert statuses[0] == "STATUS_CONNECTION_ABORTED"


def test_fully_disconnected_socket_closes_without_an_abortive_disconnect():
    sc = scenario({"W": close_program()}, sockets=[{"state": "FULLY_DISCONNECTED"}])
    trace = run_on(replay(sc, ""), "round_robin", 50)
    assert "abortive_disconnect" not in event_kinds(trace)
    assert trace.outcome == "ok"


def test_close_cannot_complete_inline_while_an_irp_is_still_to_be_cancelled():
    sc = scenario({"W": io_program("WskReceive", "irpR", "IoComplete") + close_program()})
    trace = replay(sc, "W.W.W.W-p.W.W.W")
    assert [a.id for a in trace.enabled if a.actor == "W"] == ["W-p"]


def test_inline_close_runs_the_completion_routine_before_the_call_returns():
    sc = scenario({"W": close_program()})
    trace = replay(sc, "W.W.W.W-i")
    assert trace.final.actor("W").top.program == "routine:CloseComplete"
    trace = run_on(trace, "round_robin", 20)
    assert trace.outcome == "ok"


def test_close_while_another_thread_is_inside_a_call_breaks_p1():
    sc = scenario({"Sender": io_program("WskSend", "irpS", "IoComplete"), "Closer": close_program()})
    trace = replay(sc, "Sender.Sender.Sender.Closer.Closer.Closer")
    assert kinds(trace) == ["close_with_call_in_progress"]
    assert "P1" in trace.violations[0][1].rule
    assert "Sender is still inside WskSend" in trace.snapshots[-1].narration


def test_the_call_in_progress_outlives_the_socket_and_its_irp_is_never_completed():
    sc = scenario({"Sender": io_program("WskSend", "irpS", "IoComplete"), "Closer": close_program()})
    trace = run_on(
        replay(sc, "Sender.Sender.Sender.Closer.Closer.Closer.Closer-p.wsk-free-s"), "round_robin", 50
    )
    found = kinds(trace)
    assert "socket_use_after_free" in found
    assert "irp_leak" in found


def test_calling_a_socket_function_after_close_is_flagged():
    sc = scenario({"W": close_program() + io_program("WskSend", "irpS", "IoComplete")})
    trace = run_on(replay(sc, ""), "round_robin", 50)
    assert "call_after_close" in kinds(trace)


def test_completion_routine_must_return_more_processing_required():
    wrong = [{"op": "IoFreeIrp", "irp": "Irp"}, {"op": "Return", "status": "STATUS_SUCCESS"}]
    sc = scenario(
        {"W": io_program("WskSend", "irpS", "Wrong") + close_program()},
        routines={"Wrong": {"kind": "completion", "program": wrong}},
    )
    trace = run_on(replay(sc, ""), "round_robin", 50)
    assert "completion_wrong_return" in kinds(trace)


def test_freeing_an_irp_twice_and_while_pending_are_detected():
    sc = scenario({"W": [*io_program("WskSend", "irpS", "IoComplete"), {"op": "IoFreeIrp", "irp": "irpS"}]})
    inline = run_on(replay(sc, "W.W.W.W-i"), "round_robin", 20)
    assert "irp_double_free" in kinds(inline)
    pending = replay(sc, "W.W.W.W-p.W")
    assert "irp_free_while_pending" in kinds(pending)


def test_a_wait_inside_a_completion_routine_at_dispatch_level_breaks_two_rules():
    waits = [{"op": "KeWaitForSingleObject", "var": "Done"}, {"op": "IoFreeIrp", "irp": "Irp"},
             {"op": "Return", "status": "STATUS_MORE_PROCESSING_REQUIRED"}]  # fmt: skip
    sc = scenario(
        {"W": io_program("WskSend", "irpS", "Waits")},
        routines={"Waits": {"kind": "completion", "program": waits}},
        memory=[{"name": "Done", "kind": "event"}],
    )
    trace = run_on(replay(sc, "W.W.W.W-p.wsk-c1"), "round_robin", 20)
    assert {"wait_in_callback", "wait_at_dispatch", "deadlock"} <= set(kinds(trace))
    assert trace.outcome == "deadlock"


def test_rundown_wait_blocks_until_references_are_released_and_refuses_new_ones():
    sc = scenario(
        {
            "Holder": [
                {"op": "ExAcquireRundownProtection", "var": "Rd", "into": "ok"},
                {"op": "ExReleaseRundownProtection", "var": "Rd"},
            ],
            "Closer": [{"op": "ExWaitForRundownProtectionRelease", "var": "Rd"}, *close_program()],
            "Late": [{"op": "ExAcquireRundownProtection", "var": "Rd", "into": "ok"}],
        },
        memory=[{"name": "Rd", "kind": "rundown"}],
    )
    trace = replay(sc, "Holder.Closer")
    assert "Closer" not in {a.actor for a in trace.enabled}
    trace = replay(sc, "Holder.Closer.Late")
    assert trace.final.actor("Late").finished
    assert trace.final.rundowns[0].count == 1, "an acquire after run-down started fails"
    trace = replay(sc, "Holder.Closer.Late.Holder")
    assert "Closer" in {a.actor for a in trace.enabled}


def test_illegal_action_lists_the_legal_ones():
    sc = scenario({"W": close_program()})
    with pytest.raises(IllegalAction) as err:
        replay(sc, "W.Nobody")
    assert "W (W: run IoSetCompletionRoutine)" in str(err.value)
    assert err.value.step == 2


def test_every_actor_that_cannot_move_says_why():
    sc = scenario({"W": io_program("WskReceive", "irpR", "IoComplete")})
    trace = replay(sc, "W.W.W.W-p")
    reasons = dict(trace.blocked)
    assert reasons["W"] == "has finished its program"
    assert "waits for data from the peer" in reasons["wsk"]
    assert reasons["peer"] == "has nothing more to send"


def test_leaks_are_reported_when_the_run_ends():
    sc = scenario({"W": io_program("WskSend", "irpS", "IoComplete")})
    trace = run_on(replay(sc, ""), "round_robin", 50)
    assert trace.outcome == "violation"
    assert "leak_at_unload" in kinds(trace)


def test_peer_data_completes_a_pending_receive_which_takes_precedence_over_the_callback():
    on_receive = [{"op": "Return", "status": "STATUS_SUCCESS"}]
    sc = scenario(
        {"W": io_program("WskReceive", "irpR", "IoComplete")},
        routines={"OnReceive": {"kind": "callback", "program": on_receive}},
        sockets=[{"events": ["receive"], "callbacks": {"receive": "OnReceive"}, "peer": {"data": 1}}],
    )
    trace = replay(sc, "W.W.W.W-p.peer-data-s")
    ids = [a.id for a in trace.enabled]
    assert "wsk-c1" in ids and "wsk-rcv-s" not in ids


def test_a_callback_in_progress_holds_the_close_back():
    on_receive = [{"op": "Return", "status": "STATUS_SUCCESS"}]
    sc = scenario(
        {"W": close_program()},
        routines={"OnReceive": {"kind": "callback", "program": on_receive}},
        sockets=[{"events": ["receive"], "callbacks": {"receive": "OnReceive"}, "peer": {"data": 1}}],
    )
    trace = replay(sc, "peer-data-s.wsk-rcv-s.W.W.W")
    assert [a.id for a in trace.enabled if a.actor == "W"] == ["W-p"], "close must pend while cb1 runs"
    trace = replay(sc, "peer-data-s.wsk-rcv-s.W.W.W.W-p")
    assert "wsk-free-s" not in [a.id for a in trace.enabled]
    trace = replay(sc, "peer-data-s.wsk-rcv-s.W.W.W.W-p.cb1")
    assert "wsk-free-s" in [a.id for a in trace.enabled]


def test_engine_is_a_pure_function_of_state_and_action():
    sc = scenario({"Sender": io_program("WskSend", "irpS", "IoComplete"), "Closer": close_program()})
    engine = Engine(sc)
    state = engine.initial()
    first = engine.step(state, "Sender")
    second = engine.step(state, "Sender")
    assert first == second
