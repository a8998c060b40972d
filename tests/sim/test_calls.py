"""Socket calls on entry and on return: the entry effects of WskRelease and WskControlSocket (which take no IRP and
decide their status as they enter), and the failure statuses: the ``cancel_status`` and ``abort_status`` settings,
a peer's reset, a protocol state that forbids the call, and calls on a socket that is already closing."""

from __future__ import annotations

from typing import Any

import pytest

from app.scenarios import ScenarioError, parse_scenario
from app.sim import replay, run_on
from app.sim.model import IrpState
from app.sim.ntstatus import STATUS
from app.sim.replay import Trace
from tests.sim.helpers import close_program, io_program, scenario

RETAIN = [{"op": "Return", "status": "STATUS_PENDING"}]
ACCEPT = [{"op": "Return", "status": "STATUS_SUCCESS"}]
SLOW_ACCEPT = [{"op": "Assign", "into": "x", "value": 1}, *ACCEPT]


def returned(trace: Trace, actor: str, function: str) -> list[str | None]:
    """The statuses ``actor``'s calls of ``function`` returned, in order."""
    return [
        e.status
        for s in trace.snapshots
        for e in s.events
        if e.kind == "call_returned" and e.actor == actor and e.function == function
    ]


def completed(trace: Trace) -> list[tuple[int | None, str | None]]:
    """(IRP, status) of every IRP completion, in order."""
    return [(e.irp, e.status) for s in trace.snapshots for e in s.events if e.kind == "irp_completed"]


def moves_of(trace: Trace, actor: str) -> list[str]:
    return [a.id for a in trace.enabled if a.actor == actor]


def kinds(trace: Trace) -> list[str]:
    return [v.kind for _, v in trace.violations]


def with_receive_callback(program: list[dict[str, Any]], **socket: Any) -> dict[str, Any]:
    """Extra scenario fields: socket s with the receive event enabled, served by OnReceive, and a peer with data."""
    return {
        "routines": {"OnReceive": {"kind": "callback", "program": program}},
        "sockets": [
            {"events": ["receive"], "callbacks": {"receive": "OnReceive"}, "peer": {"data": 1}, **socket}
        ],
    }


# -- WskRelease ---------------------------------------------------------------------------------------------------


def test_wsk_release_with_nothing_retained_fails_with_invalid_parameter_decided_on_entry() -> None:
    sc = scenario({"W": [{"op": "WskRelease", "into": "st"}]})
    entered = replay(sc, "W")
    call = entered.final.actor("W").top.call
    assert call is not None and call.irp is None
    assert call.status == STATUS["STATUS_INVALID_PARAMETER"], "decided as the call enters"
    assert moves_of(entered, "W") == ["W"], "no IRP: it neither pends nor completes inline, it returns"
    assert returned(replay(sc, "W.W"), "W", "WskRelease") == ["STATUS_INVALID_PARAMETER"]


def test_wsk_release_gives_back_one_retained_indication_as_it_enters_so_the_close_is_clean() -> None:
    sc = scenario(
        {"W": [{"op": "WskRelease", "into": "st"}, *close_program()]}, **with_receive_callback(RETAIN)
    )
    retained = replay(sc, "peer-data-s.wsk-rcv-s.cb1")
    assert retained.final.sockets[0].retained == 1, "the receive callback returned STATUS_PENDING"
    entered = replay(sc, "peer-data-s.wsk-rcv-s.cb1.W")
    assert entered.final.sockets[0].retained == 0, "released on entry, before the call returns"
    trace = run_on(entered, "round_robin", 40)
    assert returned(trace, "W", "WskRelease") == ["STATUS_SUCCESS"]
    assert trace.outcome == "ok" and "close_with_retained_indication" not in kinds(trace)


def test_closing_without_releasing_a_retained_indication_breaks_p3() -> None:
    sc = scenario({"W": close_program()}, **with_receive_callback(RETAIN))
    trace = run_on(replay(sc, "peer-data-s.wsk-rcv-s.cb1"), "round_robin", 40)
    assert "close_with_retained_indication" in kinds(trace)


# -- WskControlSocket ---------------------------------------------------------------------------------------------


def control(event: str, enable: bool) -> dict[str, Any]:
    return {"op": "WskControlSocket", "event": event, "enable": enable, "into": "st"}


def test_enabling_an_event_callback_takes_effect_as_the_call_enters() -> None:
    fields = with_receive_callback(ACCEPT, events=[])
    sc = scenario({"W": [control("receive", True)]}, **fields)
    assert "wsk-rcv-s" not in [a.id for a in replay(sc, "peer-data-s").enabled], "not enabled yet"
    entered = replay(sc, "peer-data-s.W")
    assert entered.final.sockets[0].events == ("receive",)
    assert "wsk-rcv-s" in [a.id for a in entered.enabled], "WSK may call it before WskControlSocket returns"
    assert returned(replay(sc, "peer-data-s.W.W"), "W", "WskControlSocket") == ["STATUS_SUCCESS"]


def test_disabling_an_event_callback_takes_effect_as_the_call_enters() -> None:
    sc = scenario({"W": [control("receive", False)]}, **with_receive_callback(ACCEPT))
    entered = replay(sc, "W")
    assert entered.final.sockets[0].events == ()
    assert "wsk-rcv-s" not in [a.id for a in replay(sc, "W.peer-data-s").enabled]
    assert returned(replay(sc, "W.W"), "W", "WskControlSocket") == ["STATUS_SUCCESS"]


def test_disabling_an_event_whose_callback_is_running_returns_status_event_pending() -> None:
    sc = scenario({"W": [control("receive", False)]}, **with_receive_callback(SLOW_ACCEPT))
    entered = replay(sc, "peer-data-s.wsk-rcv-s.W")
    assert entered.final.sockets[0].events == (), "disabled at once; the running callback goes on"
    assert "cb1" in [a.id for a in entered.enabled]
    assert returned(replay(sc, "peer-data-s.wsk-rcv-s.W.W"), "W", "WskControlSocket") == [
        "STATUS_EVENT_PENDING"
    ]


def test_disabling_another_event_while_a_callback_runs_succeeds() -> None:
    fields = with_receive_callback(SLOW_ACCEPT, events=["receive", "disconnect"])
    fields["sockets"][0]["callbacks"]["disconnect"] = "OnReceive"
    sc = scenario({"W": [control("disconnect", False)]}, **fields)
    trace = replay(sc, "peer-data-s.wsk-rcv-s.W.W")
    assert trace.final.sockets[0].events == ("receive",)
    assert returned(trace, "W", "WskControlSocket") == ["STATUS_SUCCESS"]


def test_enabling_an_event_with_no_callback_routine_is_refused_when_validated() -> None:
    data = {
        "id": "no-routine",
        "title": "t",
        "summary": "s",
        "sockets": [{"peer": {"data": 1}}],
        "threads": [{"name": "W", "program": [control("receive", True)]}],
    }
    # It used to validate, and then crash the engine (a KeyError, a 500 from the API) when data arrived.
    with pytest.raises(ScenarioError, match="has no routine for its receive event"):
        parse_scenario(data)


# -- failure statuses: cancel_status, abort_status, reset, protocol state -------------------------------------------


@pytest.mark.parametrize(
    "cancel_status", ["STATUS_CANCELLED", "STATUS_CONNECTION_ABORTED", "STATUS_UNSUCCESSFUL"]
)
def test_a_close_completes_pending_irps_with_cancel_status_not_abort_status(cancel_status: str) -> None:
    """The close's own abortive disconnect (close step 2) fails pending IRPs with cancel_status; the close IRP
    itself succeeds."""
    sc = scenario(
        {"W": io_program("WskReceive", "irpR", "IoComplete") + close_program()},
        settings={"cancel_status": cancel_status, "abort_status": "STATUS_FILE_FORCED_CLOSED"},
    )
    trace = run_on(replay(sc, "W.W.W.W-p.W.W.W.W-p"), "round_robin", 100)
    assert dict(completed(trace)) == {1: cancel_status, 2: "STATUS_SUCCESS"}
    assert trace.outcome == "ok"


def test_io_cancel_irp_always_completes_with_status_cancelled() -> None:
    """cancel_status is the status of the IRPs a close cancels; IoCancelIrp itself gives STATUS_CANCELLED."""
    program = [*io_program("WskReceive", "irpR", "IoComplete"), {"op": "IoCancelIrp", "irp": "irpR"}]
    sc = scenario({"W": program}, settings={"cancel_status": "STATUS_UNSUCCESSFUL"})
    trace = run_on(replay(sc, "W.W.W.W-p.W"), "round_robin", 20)
    assert completed(trace) == [(1, "STATUS_CANCELLED")]


ABORT_THEN_SEND = [
    {"op": "IoAllocateIrp", "irp": "irpD"},
    {"op": "IoSetCompletionRoutine", "irp": "irpD", "routine": "IoComplete"},
    {"op": "WskDisconnect", "irp": "irpD", "abortive": True, "into": "st"},
    *io_program("WskSend", "irpS", "IoComplete"),
]


@pytest.mark.parametrize("abort_status", ["STATUS_CONNECTION_ABORTED", "STATUS_UNSUCCESSFUL"])
def test_an_abortive_disconnect_fails_pending_and_later_calls_with_abort_status(abort_status: str) -> None:
    sc = scenario(
        {"R": io_program("WskReceive", "irpR", "IoComplete"), "D": ABORT_THEN_SEND},
        settings={"abort_status": abort_status, "cancel_status": "STATUS_FILE_FORCED_CLOSED"},
    )
    aborted = replay(sc, "R.R.R.R-p.D.D.D")
    assert aborted.final.sockets[0].doomed == ((1, STATUS[abort_status]),)
    sending = replay(sc, "R.R.R.R-p.D.D.D.D-p.D.D.D")
    assert moves_of(sending, "D") == ["D-i"], "a failure decided at entry completes inline; it cannot pend"
    trace = run_on(sending, "round_robin", 60)
    assert dict(completed(trace)) == {1: abort_status, 2: "STATUS_SUCCESS", 3: abort_status}
    assert returned(trace, "D", "WskSend") == [abort_status]


def test_after_the_peer_resets_calls_fail_with_connection_reset_whatever_abort_status_says() -> None:
    sc = scenario(
        {
            "R": io_program("WskReceive", "irpR", "IoComplete"),
            "S": io_program("WskSend", "irpS", "IoComplete"),
        },
        sockets=[{"peer": {"rst": True}}],
        settings={"abort_status": "STATUS_UNSUCCESSFUL"},
    )
    trace = run_on(replay(sc, "R.R.R.R-p.peer-rst-s"), "round_robin", 60)
    assert trace.final.sockets[0].handle == "NOT_FUNCTIONAL"
    assert dict(completed(trace)) == {1: "STATUS_CONNECTION_RESET", 2: "STATUS_CONNECTION_RESET"}
    assert returned(trace, "S", "WskSend") == ["STATUS_CONNECTION_RESET"]


def graceful_disconnect(irp: str = "irpD") -> list[dict[str, Any]]:
    return [
        {"op": "IoAllocateIrp", "irp": irp},
        {"op": "IoSetCompletionRoutine", "irp": irp, "routine": "IoComplete"},
        {"op": "WskDisconnect", "irp": irp, "into": "st"},
    ]


def test_sending_or_disconnecting_again_after_a_graceful_disconnect_fails_with_invalid_device_state() -> None:
    program = [
        *graceful_disconnect(),
        *io_program("WskSend", "irpS", "IoComplete"),
        *graceful_disconnect("irpE"),
    ]
    for first in ("W.W.W.W-i", "W.W.W.W-p"):  # completed at once, or still waiting for the peer's ACK
        trace = run_on(replay(scenario({"W": program}), first), "round_robin", 60)
        assert returned(trace, "W", "WskDisconnect")[1:] == ["STATUS_INVALID_DEVICE_STATE"], first
        assert returned(trace, "W", "WskSend") == ["STATUS_INVALID_DEVICE_STATE"], first


@pytest.mark.parametrize("function", ["WskSend", "WskReceive", "WskDisconnect"])
def test_connection_calls_on_a_listening_socket_are_refused_when_the_scenario_is_validated(
    function: str,
) -> None:
    """A listening socket's dispatch table has no connection calls, so such a program cannot be written at all."""
    with pytest.raises(ValueError, match=f"{function} is not in the dispatch table of listen socket"):
        scenario(
            {"W": io_program(function, "irpX", "IoComplete")},
            sockets=[{"category": "listen", "state": "LISTENING"}],
        )


def test_a_failure_skips_a_completion_routine_not_armed_for_errors() -> None:
    program = [
        {"op": "IoAllocateIrp", "irp": "irpS"},
        {"op": "IoSetCompletionRoutine", "irp": "irpS", "routine": "IoComplete", "invoke_on_error": False},
        {"op": "WskSend", "irp": "irpS", "into": "st"},
    ]
    sc = scenario({"W": program}, sockets=[{"state": "SEND_SHUT"}])
    trace = replay(sc, "W.W.W.W-i")
    assert trace.final.irp(1).state == IrpState.OWNED_BY_APP, (
        "the routine did not run: the IRP is back at once"
    )
    assert trace.final.irp(1).status == STATUS["STATUS_INVALID_DEVICE_STATE"]
    assert "completion_started" not in [e.kind for s in trace.snapshots for e in s.events]


# -- calls on a socket that is closing or closed -------------------------------------------------------------------


def test_an_irp_call_on_a_closed_socket_only_pends_and_its_irp_never_completes() -> None:
    sc = scenario({"W": close_program() + io_program("WskSend", "irpS", "IoComplete")})
    entered = replay(sc, "W.W.W.W-p.wsk-free-s.W.W.W")
    assert kinds(entered)[:2] == ["call_after_close", "socket_use_after_free"]
    assert moves_of(entered, "W") == ["W-p"], "undefined behaviour: WSK swallows the IRP"
    trace = run_on(replay(sc, "W.W.W.W-p.wsk-free-s.W.W.W.W-p"), "round_robin", 40)
    assert returned(trace, "W", "WskSend") == ["STATUS_PENDING"]
    assert trace.final.irp(2).lost and all(irp != 2 for irp, _ in completed(trace))
    assert "irp_leak" in kinds(trace)


@pytest.mark.parametrize(
    "statement",
    [{"op": "WskRelease", "into": "st"}, control("receive", False)],
    ids=["WskRelease", "WskControlSocket"],
)
def test_a_call_without_an_irp_on_a_closing_socket_breaks_ub1_and_returns_status_pending(
    statement: dict[str, Any],
) -> None:
    sc = scenario({"W": [*close_program(), statement]})
    entered = replay(sc, "W.W.W.W-p.W")
    assert kinds(entered) == ["call_after_close"]
    (move,) = [a for a in entered.enabled if a.actor == "W"]
    assert move.id == "W-p" and "IRP None" not in move.label, move.label
    trace = run_on(replay(sc, "W.W.W.W-p.W.W-p"), "round_robin", 20)
    assert returned(trace, "W", statement["op"]) == ["STATUS_PENDING"]
    assert trace.outcome == "violation"
