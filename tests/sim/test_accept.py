"""Listening sockets and the sockets they accept: a peer connects (an action of its own), WSK hands the connection
over to a pending WskAccept or to the accept event callback, and the accepted socket exists from then on. Closing
the listening socket cancels a pending accept and drops what waits in its backlog, but leaves accepted sockets
open; WskDeregister waits for them too."""

from __future__ import annotations

from typing import Any

import pytest

from app.scenarios import ScenarioError, parse_scenario
from app.sim import Engine, replay, run_on
from app.sim.model import Handle
from app.sim.replay import Trace
from tests.sim.helpers import FREE_AND_MPR, io_program, scenario


def accept_on_l(irp: str = "irpA") -> list[dict[str, Any]]:
    """Allocate and arm ``irp``, then WskAccept on L with it."""
    program = io_program("WskAccept", irp, "IoComplete")
    program[-1]["socket"] = "L"
    return program


ACCEPT = accept_on_l()
SUCCESS = [{"op": "Return", "status": "STATUS_SUCCESS"}]
REFUSE = [{"op": "Return", "status": "STATUS_REQUEST_NOT_ACCEPTED"}]


def close_of(socket: str, irp: str = "irpC") -> list[dict[str, Any]]:
    return [
        {"op": "IoAllocateIrp", "irp": irp},
        {"op": "IoSetCompletionRoutine", "irp": irp, "routine": f"Closed{socket}"},
        {"op": "WskCloseSocket", "socket": socket, "irp": irp, "into": "st"},
    ]


def listening(
    threads: dict[str, list[dict[str, Any]]],
    on_accept: list[dict[str, Any]] | None = None,
    accepted: tuple[str, ...] = ("c",),
    **extra: Any,
) -> Any:
    """Listening socket L (with the accept event enabled when ``on_accept`` is given) and the sockets it will
    accept, each with a routine Closed<name> that frees its context and its close IRP."""
    listener: dict[str, Any] = {"name": "L", "category": "listen", "state": "LISTENING", "context": "lctx"}
    routines: dict[str, Any] = {
        f"Closed{n}": {
            "kind": "completion",
            "program": [{"op": "FreeSocketContext", "socket": n}, *FREE_AND_MPR],
        }
        for n in ("L", *accepted)
    }
    routines["CloseComplete"] = {
        "kind": "completion",
        "program": FREE_AND_MPR,
    }  # the helper's default names no socket
    if on_accept is not None:
        listener |= {"events": ["accept"], "callbacks": {"accept": "OnAccept"}}
        routines["OnAccept"] = {"kind": "callback", "program": on_accept}
    sockets = [listener, *({"name": n, "accepted_from": "L", "context": f"{n}ctx"} for n in accepted)]
    return scenario(threads, sockets=sockets, routines=routines | extra.pop("routines", {}), **extra)


def ids(trace: Trace) -> list[str]:
    return [a.id for a in trace.enabled]


def handle(trace: Trace, index: int = 1) -> str:
    return str(trace.final.sockets[index].handle)


def protocol(trace: Trace, index: int = 1) -> str:
    return str(trace.final.sockets[index].protocol)


# -- a socket that does not exist yet --------------------------------------------------------------------------------


def test_an_accepted_socket_does_not_exist_until_it_is_accepted() -> None:
    """Before WSK hands it over, the socket is NOT_ACCEPTED: a statement that uses it cannot run (and says why),
    WskDeregister does not wait for it, and it leaks nothing if it never comes."""
    compiled = listening({"W": [*close_of("c"), *close_of("L", "irpL")]})
    trace = replay(compiled, "W.W")
    assert handle(trace) == "NOT_ACCEPTED" and protocol(trace) == "NO_CONNECTION"
    assert "W" not in {a.actor for a in trace.enabled}
    reason = dict(trace.blocked)["W"]
    assert reason == (
        "cannot run WskCloseSocket yet: socket c does not exist until it is accepted (no connection has arrived on "
        "L for it yet)"
    )
    assert trace.final.open_sockets == 1, "only L is the application's"


def test_waiting_for_a_socket_that_is_never_accepted_is_a_deadlock_that_names_it() -> None:
    compiled = listening({"W": [*close_of("L", "irpL"), *close_of("c")]})
    trace = run_on(replay(compiled, "W.W.W.W-p"), "round_robin", 50)
    assert trace.outcome == "deadlock"
    (deadlock,) = [v for _, v in trace.violations if v.kind == "deadlock"]
    assert "W cannot run WskCloseSocket yet: socket c does not exist until it is accepted" in deadlock.message


def test_the_peer_connects_only_while_the_socket_listens_and_in_declaration_order() -> None:
    compiled = listening({"W": close_of("L")}, accepted=("c1", "c2"))
    start = replay(compiled, "")
    label = next(a.label for a in start.enabled if a.id == "peer-conn-L")
    assert label == "Peer: connect to L (the connection will be socket c1)"
    one = replay(compiled, "peer-conn-L")
    assert protocol(one, 1) == "INCOMING" and protocol(one, 2) == "NO_CONNECTION"
    both = replay(compiled, "peer-conn-L.peer-conn-L")
    assert "peer-conn-L" not in ids(both), "every declared connection has arrived"
    assert "peer-conn-L" not in ids(replay(compiled, "W.W.W")), "nothing connects to a closing socket"


# -- WskAccept ---------------------------------------------------------------------------------------------------------


def test_wsk_accept_pends_until_a_connection_arrives_then_completes_with_the_accepted_socket() -> None:
    compiled = listening({"W": ACCEPT})
    assert "W-i" not in ids(replay(compiled, "W.W.W")), "no connection waits: the accept can only pend"
    pending = replay(compiled, "W.W.W.W-p")
    assert "IRP 1 (WskAccept) waits for an incoming connection" in dict(pending.blocked)["wsk"]
    arrived = replay(compiled, "W.W.W.W-p.peer-conn-L")
    label = next(a.label for a in arrived.enabled if a.id == "wsk-c1")
    assert label == "WSK: complete IRP 1 (WskAccept) with STATUS_SUCCESS, accepting socket c"
    done = replay(compiled, "W.W.W.W-p.peer-conn-L.wsk-c1")
    assert handle(done) == "OPEN" and protocol(done) == "CONNECTED"
    assert done.final.open_sockets == 2


def test_wsk_accept_completes_inline_when_a_connection_is_waiting() -> None:
    trace = replay(listening({"W": ACCEPT}), "peer-conn-L.W.W.W.W-i")
    assert handle(trace) == "OPEN"


def test_accept_irps_complete_in_the_order_they_were_queued() -> None:
    compiled = listening({"W": ACCEPT + accept_on_l("irpB")}, accepted=("c1", "c2"))
    trace = replay(compiled, "W.W.W.W-p.W.W.W.W-p.peer-conn-L")
    assert "wsk-c1" in ids(trace) and "wsk-c2" not in ids(trace)
    trace = replay(compiled, "W.W.W.W-p.W.W.W.W-p.peer-conn-L.peer-conn-L.wsk-c1")
    assert handle(trace, 1) == "OPEN" and "wsk-c2" in ids(trace)


def test_wsk_accept_on_a_socket_that_does_not_listen_fails_as_it_enters() -> None:
    data = {
        "id": "t",
        "title": "t",
        "summary": "t",
        "sockets": [{"name": "L", "category": "listen", "state": "CREATED"}],
        "threads": [{"name": "W", "program": io_program("WskAccept", "irpA", "IoComplete")}],
        "routines": {"IoComplete": {"kind": "completion", "program": FREE_AND_MPR}},
    }
    trace = run_on(replay(parse_scenario(data), "W.W.W"), "round_robin", 20)
    returned = [e.status for s in trace.snapshots for e in s.events if e.kind == "call_returned"]
    assert returned == ["STATUS_INVALID_DEVICE_STATE"]


# -- the accept event ------------------------------------------------------------------------------------------------


def test_the_accept_event_accepts_a_connection_when_it_returns_success() -> None:
    compiled = listening({"W": close_of("L")}, SUCCESS)
    offered = replay(compiled, "peer-conn-L.wsk-acc-L")
    assert protocol(offered) == "ACCEPTING" and handle(offered) == "NOT_ACCEPTED"
    assert offered.final.actor("cb1").frames[0].accepting == 1
    accepted = replay(compiled, "peer-conn-L.wsk-acc-L.cb1")
    assert handle(accepted) == "OPEN" and protocol(accepted) == "CONNECTED"
    assert accepted.final.sockets[1].events == (), "an accepted socket starts with its callbacks disabled"


def test_an_accept_event_that_refuses_leaves_no_socket_and_the_peer_sees_a_reset() -> None:
    compiled = listening({"W": close_of("L")}, REFUSE)
    trace = replay(compiled, "peer-conn-L.wsk-acc-L.cb1")
    assert handle(trace) == "NOT_ACCEPTED" and protocol(trace) == "REJECTED"
    assert trace.final.sockets[1].peer_saw == "rst"
    assert "WSK closes socket c itself" in trace.snapshots[-1].narration
    assert run_on(trace, "round_robin", 30).outcome == "ok", "a refused socket was never the application's"


def test_a_pending_accept_takes_precedence_over_the_accept_event() -> None:
    compiled = listening({"W": ACCEPT}, SUCCESS)
    assert "wsk-acc-L" in ids(replay(compiled, "peer-conn-L"))
    trace = replay(compiled, "W.W.W.W-p.peer-conn-L")
    assert "wsk-c1" in ids(trace) and "wsk-acc-L" not in ids(trace)


# -- closing the listening socket --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cancel_status", ["STATUS_CANCELLED", "STATUS_CONNECTION_ABORTED"])
def test_closing_the_listening_socket_cancels_a_pending_accept(cancel_status: str) -> None:
    compiled = listening({"W": ACCEPT + close_of("L", "irpL")}, settings={"cancel_status": cancel_status})
    trace = run_on(replay(compiled, "W.W.W.W-p.W.W.W"), "round_robin", 40)
    completed = [(e.irp, e.status) for s in trace.snapshots for e in s.events if e.kind == "irp_completed"]
    assert completed == [(1, cancel_status), (2, "STATUS_SUCCESS")]
    assert trace.outcome == "ok" and handle(trace) == "NOT_ACCEPTED"
    # The pending accept had taken no socket: none is said to stay open.
    assert (
        "Socket L listens: it has no connection to abort, and no socket it accepted is open."
        in trace.snapshots[7].narration
    )


def test_closing_the_listening_socket_drops_the_backlog_but_leaves_accepted_sockets_open() -> None:
    compiled = listening({"W": ACCEPT + close_of("L", "irpL")}, accepted=("c1", "c2"))
    trace = replay(compiled, "peer-conn-L.peer-conn-L.W.W.W.W-i.W.W.W.W.W.W")
    assert handle(trace, 1) == "OPEN" and protocol(trace, 1) == "CONNECTED", "c1 was accepted: it stays open"
    assert handle(trace, 2) == "NOT_ACCEPTED" and protocol(trace, 2) == "DROPPED"
    assert "WSK drops the connection(s) still waiting to be accepted (c2)" in trace.snapshots[-1].narration
    said = " ".join(s.narration for s in trace.snapshots)
    assert (
        "The socket it accepted, c1, is a socket of its own, and stays open." in said
    )  # c2 was never accepted
    ended = run_on(trace, "round_robin", 40)
    leak = [v.message for _, v in ended.violations if v.kind == "leak_at_unload"]
    assert leak == ["At the end of the run socket c1 was never closed, so WskDeregister would wait forever; the "
                    "context of socket c1 (c1ctx) was never freed."]  # fmt: skip


def test_the_close_of_the_listening_socket_waits_for_an_accept_callback_in_progress() -> None:
    """The callback runs while the close is entered: the close pends until it returns, and the socket the callback
    accepts is the application's, although its listening socket is closing."""
    compiled = listening({"W": close_of("L")}, SUCCESS)
    trace = replay(compiled, "peer-conn-L.wsk-acc-L.W.W.W")
    assert [a.id for a in trace.enabled if a.actor == "W"] == ["W-p"]
    trace = replay(compiled, "peer-conn-L.wsk-acc-L.W.W.W.W-p")
    assert "wsk-free-L" not in ids(trace)
    trace = replay(compiled, "peer-conn-L.wsk-acc-L.W.W.W.W-p.cb1")
    assert handle(trace) == "OPEN" and "wsk-free-L" in ids(trace)


def test_wsk_deregister_waits_for_the_accepted_socket_too() -> None:
    program = [*close_of("L", "irpL"), {"op": "WskDeregister"}]
    compiled = listening({"W": program, "Closer": close_of("c")}, SUCCESS)
    trace = replay(compiled, "peer-conn-L.wsk-acc-L.cb1.W.W.W.W-p.wsk-free-L.wsk-c1.cr1.cr1.cr1.W")
    assert dict(trace.blocked)["W"] == "waits in WskDeregister for 1 open socket(s) and 0 captured NPI(s)"
    done = run_on(trace, "round_robin", 40)
    assert done.outcome == "ok" and done.final.deregistered


def test_the_peer_of_an_accepted_socket_acts_only_once_it_is_accepted() -> None:
    data_peer = {
        "id": "t",
        "title": "t",
        "summary": "t",
        "sockets": [
            {"name": "L", "category": "listen", "state": "LISTENING", "events": ["accept"],
             "callbacks": {"accept": "OnAccept"}},
            {"name": "c", "accepted_from": "L", "peer": {"data": 1, "fin": True}},
        ],
        "threads": [{"name": "W", "program": [{"op": "Assign", "into": "x", "value": 0}]}],
        "routines": {"OnAccept": {"kind": "callback", "program": SUCCESS}},
    }  # fmt: skip
    compiled = parse_scenario(data_peer)
    assert not {"peer-data-c", "peer-fin-c"} & set(ids(replay(compiled, "peer-conn-L.wsk-acc-L")))
    assert {"peer-data-c", "peer-fin-c"} <= set(ids(replay(compiled, "peer-conn-L.wsk-acc-L.cb1")))


def test_action_ids_stay_distinct_while_several_connections_arrive() -> None:
    compiled = listening({"W": close_of("L")}, SUCCESS, accepted=("c1", "c2"))
    engine = Engine(compiled)
    state = engine.initial()
    for action in ("peer-conn-L", "peer-conn-L", "wsk-acc-L"):
        state = engine.step(state, action).state
        enabled = [a.id for a in engine.enabled(state)]
        assert len(enabled) == len(set(enabled))
    assert state.sockets[1].handle == Handle.NOT_ACCEPTED and str(state.sockets[2].phase) == "INCOMING"


# -- validation ------------------------------------------------------------------------------------------------------


def declared(*sockets: dict[str, Any], program: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": "t",
        "title": "t",
        "summary": "t",
        "sockets": list(sockets),
        "threads": [{"name": "W", "program": program or [{"op": "Assign", "into": "x", "value": 0}]}],
        "routines": {
            "OnAccept": {"kind": "callback", "program": SUCCESS},
            "IoComplete": {"kind": "completion", "program": FREE_AND_MPR},
        },
    }


LISTENER = {"name": "L", "category": "listen", "state": "LISTENING"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (declared(LISTENER, {"name": "c", "accepted_from": "M"}),
         "socket 'c': accepted_from 'M' must name another socket, a listening one (have: ['L'])"),
        (declared({"name": "c", "accepted_from": "c"}), "accepted_from 'c' must name another socket"),
        (declared({"name": "s"}, {"name": "c", "accepted_from": "s"}),
         "accepted_from 's' is a connection socket that starts CONNECTED; it must be a listen or stream socket "
         "that starts LISTENING"),
        (declared({**LISTENER, "state": "CREATED"}, {"name": "c", "accepted_from": "L"}),
         "accepted_from 'L' is a listen socket that starts CREATED"),
        (declared(LISTENER, {"name": "c", "accepted_from": "L", "category": "stream"}),
         "socket 'c' is accepted from 'L', so it is a connection socket, CONNECTED once accepted"),
        (declared(LISTENER, {"name": "c", "accepted_from": "L", "state": "BOUND"}),
         "CONNECTED once accepted: remove its 'category' and 'state'"),
        (declared(LISTENER, {"name": "c", "accepted_from": "L", "events": ["receive"],
                             "callbacks": {"receive": "OnAccept"}}),
         "an accepted socket starts with every event callback disabled"),
        (declared({**LISTENER, "state": "CREATED", "events": ["accept"], "callbacks": {"accept": "OnAccept"}}),
         "a listen socket's accept event callback can only be enabled once it is bound; set state: LISTENING"),
        (declared({"name": "s", "events": ["accept"], "callbacks": {"accept": "OnAccept"}}),
         "a connection socket has no accept event callback (it has receive and disconnect)"),
        (declared({"name": "s"}, program=io_program("WskAccept", "irpA", "IoComplete")),
         "WskAccept is not in the dispatch table of connection socket 's'"),
        (declared({"name": "d", "category": "datagram", "state": "BOUND"},
                  program=io_program("WskAccept", "irpA", "IoComplete")),
         "WskAccept is not in the dispatch table of datagram socket 'd'"),
        (declared(LISTENER, program=[{"op": "WskControlSocket", "socket": "", "event": "receive", "enable": True}]),
         "listen socket 'L' has no receive event callback to enable or disable (it has accept)"),
    ],
)  # fmt: skip
def test_listening_and_accepted_sockets_are_checked_when_validated(
    data: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert expected in str(err.value)


def test_a_stream_socket_that_listens_may_accept() -> None:
    compiled = parse_scenario(
        declared({**LISTENER, "category": "stream"}, {"name": "c", "accepted_from": "L"}, program=ACCEPT)
    )  # fmt: skip
    trace = replay(compiled, "peer-conn-L.W.W.W.W-i")
    assert handle(trace) == "OPEN"


def test_accepted_from_is_written_only_when_set_so_older_scenarios_keep_their_json_and_fingerprint() -> None:
    """A scenario without accepted sockets is written (and so linked and fingerprinted) exactly as before the
    field existed; one with them round-trips through its own JSON."""
    plain = parse_scenario(declared({"name": "s"}))
    assert "accepted_from" not in plain.source.model_dump(mode="json")["sockets"][0]
    with_accepted = parse_scenario(declared(LISTENER, {"name": "c", "accepted_from": "L"}))
    dumped = with_accepted.source.model_dump(mode="json")
    assert dumped["sockets"][1]["accepted_from"] == "L"
    assert parse_scenario(dumped).fingerprint == with_accepted.fingerprint


def test_the_accept_event_cannot_be_enabled_on_a_listen_socket_that_is_not_bound() -> None:
    """The accept and receive-from events may only be enabled or disabled once the socket is bound: before, the
    WskControlSocket call fails as it enters (and the event stays disabled)."""
    enable = {"op": "WskControlSocket", "socket": "", "event": "accept", "enable": True, "into": "st"}
    data = declared({**LISTENER, "state": "CREATED", "callbacks": {"accept": "OnAccept"}}, program=[enable])
    trace = run_on(replay(parse_scenario(data), ""), "round_robin", 10)
    returned = [e.status for s in trace.snapshots for e in s.events if e.kind == "call_returned"]
    assert returned == ["STATUS_INVALID_DEVICE_STATE"] and trace.final.sockets[0].events == ()
    listening_socket = declared({**LISTENER, "callbacks": {"accept": "OnAccept"}}, program=[enable])
    trace = run_on(replay(parse_scenario(listening_socket), ""), "round_robin", 10)
    assert trace.final.sockets[0].events == ("accept",)
