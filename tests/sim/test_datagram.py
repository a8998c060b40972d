"""Datagram sockets: WskSendTo and WskReceiveFrom on a bound socket, the receive-from event callback, and a close
with a receive-from still pending (cancelled; there is no connection to abort)."""

from __future__ import annotations

from typing import Any

import pytest

from app.scenarios import ScenarioError, parse_scenario
from app.sim import replay, run_on
from app.sim.replay import Trace
from tests.sim.helpers import close_program, io_program, scenario

RECEIVE_FROM = io_program("WskReceiveFrom", "irpR", "IoComplete")
SEND_TO = io_program("WskSendTo", "irpS", "IoComplete")


def datagram(
    program: list[dict[str, Any]],
    on_datagram: list[dict[str, Any]] | None = None,
    state: str = "BOUND",
    data: int = 1,
    **extra: Any,
) -> Any:
    socket: dict[str, Any] = {"name": "d", "category": "datagram", "state": state, "peer": {"data": data}}
    routines = {}
    if on_datagram is not None:
        socket |= {"events": ["receive_from"], "callbacks": {"receive_from": "OnDatagram"}}
        routines = {"OnDatagram": {"kind": "callback", "program": on_datagram}}
    return scenario({"W": program}, sockets=[socket], routines=routines, **extra)


def ids(trace: Trace) -> set[str]:
    return {a.id for a in trace.enabled}


def completed(trace: Trace) -> list[tuple[int | None, str | None]]:
    return [(e.irp, e.status) for s in trace.snapshots for e in s.events if e.kind == "irp_completed"]


def returned(trace: Trace) -> list[str | None]:
    return [e.status for s in trace.snapshots for e in s.events if e.kind == "call_returned"]


@pytest.mark.parametrize("program", [SEND_TO, RECEIVE_FROM], ids=["WskSendTo", "WskReceiveFrom"])
def test_datagram_calls_on_a_socket_that_is_not_bound_fail_as_they_enter(
    program: list[dict[str, Any]],
) -> None:
    trace = run_on(replay(datagram(program, state="CREATED"), "W.W.W"), "round_robin", 20)
    assert returned(trace) == ["STATUS_INVALID_DEVICE_STATE"]
    assert trace.outcome == "violation"  # the socket is never closed: a leak, not a crash


def test_a_send_to_completes_at_once_with_its_bytes_inline_or_once_pending() -> None:
    compiled = datagram(SEND_TO)
    inside = replay(compiled, "W.W.W")
    assert {a.id for a in inside.enabled if a.actor == "W"} == {"W-p", "W-i"}
    pending = replay(compiled, "W.W.W.W-p")
    label = next(a.label for a in pending.enabled if a.id == "wsk-c1")
    assert label == "WSK: complete IRP 1 (WskSendTo) with STATUS_SUCCESS, 100 bytes"


def test_a_receive_from_waits_for_a_datagram_and_takes_it() -> None:
    compiled = datagram(RECEIVE_FROM)
    assert "W-i" not in ids(replay(compiled, "W.W.W")), "no datagram yet: the receive can only pend"
    pending = replay(compiled, "W.W.W.W-p")
    assert "wsk-c1" not in ids(pending)
    assert "waits for a datagram" in dict(pending.blocked)["wsk"]
    arrived = replay(compiled, "W.W.W.W-p.peer-data-d")
    assert arrived.final.sockets[0].inbound == ("data",)
    done = replay(compiled, "W.W.W.W-p.peer-data-d.wsk-c1")
    assert completed(done) == [(1, "STATUS_SUCCESS")] and done.final.irps[0].information == 100
    assert done.final.sockets[0].inbound == (), "the receive consumed the datagram"


def test_a_receive_from_completes_inline_when_a_datagram_is_waiting() -> None:
    trace = replay(datagram(RECEIVE_FROM), "peer-data-d.W.W.W")
    assert "W-i" in ids(trace)


def test_a_pending_receive_from_takes_precedence_over_the_receive_from_event() -> None:
    compiled = datagram(RECEIVE_FROM, [{"op": "Return", "status": "STATUS_SUCCESS"}])
    assert "wsk-rfr-d" in ids(replay(compiled, "peer-data-d")), "no receive pending: the callback may take it"
    assert ids(replay(compiled, "W.W.W.W-p.peer-data-d")) >= {"wsk-c1"}
    assert "wsk-rfr-d" not in ids(replay(compiled, "W.W.W.W-p.peer-data-d"))


def test_the_receive_from_event_takes_a_datagram_and_the_close_waits_for_it() -> None:
    compiled = datagram(close_program(), [{"op": "Return", "status": "STATUS_SUCCESS"}])
    trace = replay(compiled, "peer-data-d.wsk-rfr-d")
    assert trace.final.sockets[0].inbound == () and trace.final.sockets[0].callbacks == ("cb1",)
    assert (
        "WSK calls OnDatagram on socket d with a 100-byte datagram; it runs as cb1."
        in trace.snapshots[-1].narration
    )
    closing = replay(compiled, "peer-data-d.wsk-rfr-d.W.W.W")
    assert {a.id for a in closing.enabled if a.actor == "W"} == {"W-p"}, "the close must wait for cb1"


def test_a_retained_datagram_must_be_released_before_the_close() -> None:
    retain = [{"op": "Return", "status": "STATUS_PENDING"}]
    released = datagram([{"op": "WskRelease", "socket": ""}, *close_program()], retain)
    trace = run_on(replay(released, "peer-data-d.wsk-rfr-d.cb1"), "round_robin", 30)
    assert trace.final.sockets[0].retained == 0 and trace.outcome == "ok"
    kept = datagram(close_program(), retain)
    trace = run_on(replay(kept, "peer-data-d.wsk-rfr-d.cb1"), "round_robin", 30)
    assert "close_with_retained_indication" in {v.kind for _, v in trace.violations}


def test_refusing_a_datagram_disables_the_event_until_it_is_enabled_again() -> None:
    """STATUS_DATA_NOT_ACCEPTED: WSK keeps the datagram and disables WskReceiveFromEvent; enabling the event
    again with WskControlSocket delivers the buffered datagram."""
    refuse = [{"op": "Return", "status": "STATUS_DATA_NOT_ACCEPTED"}]
    enable = {"op": "WskControlSocket", "event": "receive_from", "enable": True}
    compiled = datagram([enable], refuse)
    refused = replay(compiled, "peer-data-d.wsk-rfr-d.cb1")
    assert refused.final.sockets[0].events == () and refused.final.sockets[0].inbound == ("data",)
    assert "wsk-rfr-d" not in ids(refused)
    assert "wsk-rfr-d" in ids(replay(compiled, "peer-data-d.wsk-rfr-d.cb1.W.W"))


@pytest.mark.parametrize("cancel_status", ["STATUS_CANCELLED", "STATUS_CONNECTION_ABORTED"])
def test_a_close_cancels_a_pending_receive_from_and_aborts_nothing(cancel_status: str) -> None:
    compiled = datagram(RECEIVE_FROM + close_program(), settings={"cancel_status": cancel_status})
    trace = run_on(replay(compiled, "W.W.W.W-p.W.W.W"), "round_robin", 30)
    assert trace.outcome == "ok"
    assert completed(trace) == [(1, cancel_status), (2, "STATUS_SUCCESS")]
    assert not any(e.kind == "abortive_disconnect" for s in trace.snapshots for e in s.events)
    assert (
        "Socket d (datagram, BOUND) has no connection, so there is nothing to abort."
        in trace.snapshots[7].narration
    )
    assert "peer-data-d" not in {a.id for s in trace.snapshots[8:] for a in (s.options or ())}, (
        "nothing arrives once the close has begun"
    )


def test_a_datagram_waiting_at_the_close_is_dropped() -> None:
    compiled = datagram(close_program(), data=1)
    trace = replay(compiled, "peer-data-d.W.W.W")
    assert trace.final.sockets[0].inbound == ()


@pytest.mark.parametrize(
    ("socket", "program", "expected"),
    [
        ({}, SEND_TO, "WskSendTo is not in the dispatch table of connection socket 's'"),
        ({"category": "stream"}, RECEIVE_FROM, "WskReceiveFrom is not in the dispatch table of stream socket"),
        ({"category": "listen", "state": "LISTENING"}, SEND_TO, "WskSendTo is not in the dispatch table of listen"),
        (
            {"events": ["receive_from"], "callbacks": {"receive_from": "OnDatagram"}},
            [],
            "a connection socket has no receive_from event callback (it has receive and disconnect)",
        ),
        (
            {"category": "datagram", "state": "CREATED", "events": ["receive_from"],
             "callbacks": {"receive_from": "OnDatagram"}},
            [],
            "a datagram socket's receive_from event callback can only be enabled once it is bound; set state: BOUND",
        ),
        (
            {},
            [{"op": "WskControlSocket", "event": "receive_from", "enable": False}],
            "connection socket 's' has no receive_from event callback to enable or disable",
        ),
    ],
)  # fmt: skip
def test_datagram_calls_and_events_outside_a_datagram_socket_are_refused_when_validated(
    socket: dict[str, Any], program: list[dict[str, Any]], expected: str
) -> None:
    data = {
        "id": "t",
        "title": "t",
        "summary": "t",
        "sockets": [{"name": "s", **socket}],
        "threads": [{"name": "W", "program": program or [{"op": "Assign", "into": "x", "value": 0}]}],
        "routines": {
            "IoComplete": {"kind": "completion", "program": [{"op": "Return"}]},
            "OnDatagram": {"kind": "callback", "program": [{"op": "Return"}]},
        },
    }
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert expected in str(err.value)
