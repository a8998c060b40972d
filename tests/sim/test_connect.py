"""A pending connect (WskConnect): the socket is CONNECTING while its IRP is pending, CONNECTED once the peer
accepts, and a close in between cancels the connect instead of aborting a connection."""

from __future__ import annotations

from typing import Any

import pytest

from app.scenarios import ScenarioError, parse_scenario
from app.sim import replay, run_on
from tests.sim.helpers import close_program, io_program, scenario

CONNECT = io_program("WskConnect", "irpK", "IoComplete")


def connecting(program: list[dict[str, Any]], state: str = "BOUND", **extra: Any) -> Any:
    return scenario({"W": program}, sockets=[{"state": state, "peer": {"data": 1}}], **extra)


def protocol(trace: Any) -> str:
    return str(trace.final.sockets[0].protocol)


def test_entering_wsk_connect_makes_the_socket_connecting_and_success_connects_it() -> None:
    compiled = connecting(CONNECT)
    assert protocol(replay(compiled, "W.W")) == "BOUND"
    inside = replay(compiled, "W.W.W")
    assert protocol(inside) == "CONNECTING"
    assert {a.id for a in inside.enabled if a.actor == "W"} == {"W-p", "W-i"}, "a connect may pend or not"
    pending = replay(compiled, "W.W.W.W-p")
    assert protocol(pending) == "CONNECTING" and pending.final.irps[0].is_pending
    done = replay(compiled, "W.W.W.W-p.wsk-c1")
    assert protocol(done) == "CONNECTED"
    assert "The peer accepts the connection: socket s is CONNECTED." in done.snapshots[-1].narration


def test_the_peer_acts_only_once_the_connect_has_connected_the_socket() -> None:
    compiled = connecting(CONNECT)
    assert "peer-data-s" not in {a.id for a in replay(compiled, "W.W.W.W-p").enabled}
    assert "peer-data-s" in {a.id for a in replay(compiled, "W.W.W.W-p.wsk-c1").enabled}
    assert "peer-data-s" in {a.id for a in replay(compiled, "W.W.W.W-i").enabled}


def test_while_the_socket_connects_the_peer_is_idle_for_want_of_a_connection_not_because_one_closed() -> None:
    """The stage's peer card once said "the connection is closed or reset" while the connect was still pending,
    which tells a newcomer the opposite of what is happening."""
    compiled = connecting(CONNECT)
    peer_idle = dict(replay(compiled, "W.W.W.W-p").blocked)["peer"]
    assert peer_idle == "can do nothing: socket s is still connecting: there is no connection yet"
    assert (
        dict(replay(compiled, "").blocked)["peer"]
        == "can do nothing: socket s is BOUND and has no connection"
    )


@pytest.mark.parametrize("cancel_status", ["STATUS_CANCELLED", "STATUS_CONNECTION_ABORTED"])
def test_a_close_cancels_a_pending_connect_with_cancel_status_and_aborts_nothing(cancel_status: str) -> None:
    """The connect's IRP is pending, so the close cancels it (with the setting ``cancel_status``); there is no
    connection yet, so no abortive disconnect happens and the peer sees no reset."""
    compiled = connecting(CONNECT + close_program(), settings={"cancel_status": cancel_status})
    trace = run_on(replay(compiled, "W.W.W.W-p.W.W.W.W-p"), "round_robin", 50)
    assert trace.outcome == "ok"
    statuses = [(e.irp, e.status) for s in trace.snapshots for e in s.events if e.kind == "irp_completed"]
    assert statuses == [(1, cancel_status), (2, "STATUS_SUCCESS")], (
        "the connect fails before the close completes"
    )
    assert not any(e.kind == "abortive_disconnect" for s in trace.snapshots for e in s.events)
    assert trace.final.sockets[0].peer_saw == "nothing"
    assert "still CONNECTING: there is no connection to abort" in trace.snapshots[7].narration


def test_a_connect_that_completes_before_the_close_leaves_a_connection_the_close_aborts() -> None:
    compiled = connecting(CONNECT + close_program())
    trace = run_on(replay(compiled, "W.W.W.W-p.wsk-c1.cr1.cr1"), "round_robin", 50)
    assert trace.outcome == "ok"
    assert any(e.kind == "abortive_disconnect" for s in trace.snapshots for e in s.events)
    assert trace.final.sockets[0].peer_saw == "rst"


@pytest.mark.parametrize("state", ["CREATED", "CONNECTED"])
def test_a_connect_on_a_socket_that_is_not_only_bound_fails_as_it_enters(state: str) -> None:
    trace = run_on(replay(connecting(CONNECT, state=state), "W.W.W"), "round_robin", 20)
    returned = [e.status for s in trace.snapshots for e in s.events if e.kind == "call_returned"]
    assert returned == ["STATUS_INVALID_DEVICE_STATE"]
    assert protocol(trace) == state


@pytest.mark.parametrize(
    ("category", "state"), [("listen", "LISTENING"), ("datagram", "BOUND"), ("basic", "CREATED")]
)
def test_wsk_connect_outside_a_connection_or_stream_socket_is_refused_when_validated(
    category: str, state: str
) -> None:
    data = {
        "id": "t",
        "title": "t",
        "summary": "t",
        "sockets": [{"name": "s", "category": category, "state": state}],
        "threads": [{"name": "W", "program": CONNECT}],
        "routines": {"IoComplete": {"kind": "completion", "program": [{"op": "Return"}]}},
    }
    with pytest.raises(
        ScenarioError, match=f"WskConnect is not in the dispatch table of {category} socket 's'"
    ):
        parse_scenario(data)
