"""The remote peer: the other end of each connection, acting on its own processor.

What the peer may do is declared per socket in the scenario (data segments to send, whether it may close
gracefully or reset). Its actions are indications for our side: data and FIN queue up for a WskReceive or an
event callback; a reset fails every pending IRP with STATUS_CONNECTION_RESET and leaves the socket no longer
functional, as [WskDisconnectEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_disconnect_event)
and [WskReceive](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive) describe.
The peer stops once our side has aborted or begun closing the connection.

A datagram socket has no connection: its "peer" is whoever sends it datagrams while it is bound, each one an
indication for a WskReceiveFrom or the receive-from event callback
([WskReceiveFromEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive_from_event)).
"""

from __future__ import annotations

from app.sim import accept
from app.sim.model import SEGMENT, EventKind, Handle, Indication, Phase, State
from app.sim.ntstatus import STATUS
from app.sim.program import CompiledScenario
from app.sim.step import Action, Move, Transaction

_EVENTS: dict[Indication, EventKind] = {
    "data": EventKind.PEER_DATA,
    "fin": EventKind.PEER_FIN,
    "rst": EventKind.PEER_RST,
}


def peer_alive(scenario: CompiledScenario, state: State, index: int) -> bool:
    """Whether the peer can still act on socket ``index``: our side not closing, and the socket connected and
    not aborted, or a bound datagram socket, or a listening socket a connection may still arrive at."""
    sock = state.sockets[index]
    if sock.handle in (Handle.CLOSING, Handle.CLOSED, Handle.NOT_ACCEPTED):
        return False
    if sock.phase == Phase.LISTENING:
        return accept.next_arrival(scenario, state, index) is not None
    if scenario.sockets[index].category == "datagram":
        return sock.phase == Phase.BOUND
    return sock.phase == Phase.CONNECTED and not sock.aborted


def peer_moves(scenario: CompiledScenario, state: State) -> list[Move]:
    """What the peer may do now, socket by socket: send a segment (while our receive side is open, and, unless
    the transport supports half-open connections, our send side too), close gracefully, or reset; send a
    datagram to a datagram socket; or connect to a listening socket."""
    moves: list[Move] = []
    for index, sock in enumerate(state.sockets):
        name = scenario.sockets[index].name
        if not peer_alive(scenario, state, index):
            continue
        if accept.is_listening(state, index):
            arriving = accept.next_arrival(scenario, state, index)
            if arriving is not None:
                label = f"Peer: connect to {name} (the connection will be socket {scenario.sockets[arriving].name})"
                moves.append(_connect_move(f"peer-conn-{name}", label, index))
            continue
        if scenario.sockets[index].category == "datagram":
            if sock.peer_data > 0:
                label = f"Peer: send a {SEGMENT}-byte datagram to {name}"
                moves.append(_peer_move(f"peer-data-{name}", label, index, "data"))
            continue
        can_send = not sock.recv_shut and (scenario.settings.half_open or not sock.send_shut)
        if sock.peer_data > 0 and can_send:
            label = f"Peer: send {SEGMENT} bytes on {name}"
            moves.append(_peer_move(f"peer-data-{name}", label, index, "data"))
        if sock.peer_fin and not sock.recv_shut:
            label = f"Peer: close its side gracefully (FIN) on {name}"
            moves.append(_peer_move(f"peer-fin-{name}", label, index, "fin"))
        if sock.peer_rst:
            label = f"Peer: reset the connection (RST) on {name}"
            moves.append(_peer_move(f"peer-rst-{name}", label, index, "rst"))
    return moves


def _connect_move(action_id: str, label: str, listener: int) -> Move:
    """A peer connects to a listening socket: an incoming connection, which WSK hands over as the next accepted
    socket (app/sim/accept.py)."""

    def perform(tx: Transaction) -> None:
        accept.arrive(tx, listener)
        tx.emit(EventKind.PEER_CONNECT, actor="peer", socket=tx.socket_name(listener))

    return Move(Action(action_id, "peer", label), perform)


def _peer_move(action_id: str, label: str, index: int, what: Indication) -> Move:
    def perform(tx: Transaction) -> None:
        sock = tx.socket(index)
        name = tx.socket_name(index)
        if what == "data":
            tx.put_socket(index, peer_data=sock.peer_data - 1, inbound=(*sock.inbound, "data"))
            if tx.scenario.sockets[index].category == "datagram":
                tx.say(f"The peer sends a {SEGMENT}-byte datagram to socket {name}.")
            else:
                tx.say(f"The peer sends {SEGMENT} bytes on socket {name}.")
        elif what == "fin":
            tx.put_socket(index, peer_fin=False, recv_shut=True, inbound=(*sock.inbound, "fin"))
            tx.say(f"The peer closes its side of socket {name} gracefully (FIN): no more data will arrive.")
        else:
            reset = STATUS["STATUS_CONNECTION_RESET"]
            # Only an enabled callback can be told of the reset; otherwise the failed IRPs are the news.
            wants_callback = bool(set(sock.events) & {"receive", "disconnect"})
            tx.put_socket(
                index, aborted=True, pending=(), doomed=(*sock.doomed, *((i, reset) for i in sock.pending)),
                inbound=("rst",) if wants_callback else (), peer_data=0, peer_fin=False, peer_rst=False,
                handle=Handle.NOT_FUNCTIONAL if sock.handle == Handle.OPEN else sock.handle,
            )  # fmt: skip
            tx.say(
                f"The peer resets socket {name} (RST): pending IRPs fail and the socket is no longer functional."
            )
        tx.emit(_EVENTS[what], actor="peer", socket=name)

    return Move(Action(action_id, "peer", label), perform)
