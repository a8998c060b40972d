"""Listening sockets, and the sockets they accept.

[Listening for and Accepting Incoming Connections](https://learn.microsoft.com/windows-hardware/drivers/network/listening-for-and-accepting-incoming-connections)
describes how a connection reaches the application: a peer connects to a listening socket, and WSK hands the
connection over as a new socket, either by completing a pending
[WskAccept](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_accept) IRP (which takes
precedence) or by calling the
[WskAcceptEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_accept_event)
callback, which accepts it by returning STATUS_SUCCESS or refuses it with STATUS_REQUEST_NOT_ACCEPTED (WSK then
closes it). A connection nobody takes yet waits in the listening socket's backlog, for a later WskAccept.

A scenario declares each connection it will accept as a socket of its own (``accepted_from: L``), so that
programs can name it: the n-th such socket of ``L`` is the n-th connection to arrive, and connections are handed
over in the order they arrived. Until the application has it the socket does not exist for it (its handle is
NOT_ACCEPTED: nothing can use it, close it or wait for it), and its phase says where the connection is:
NO_CONNECTION, INCOMING (in the backlog), ACCEPTING (WskAcceptEvent is deciding), then CONNECTED and OPEN once
accepted, or REJECTED or DROPPED when WSK closes it first.

An accepted socket is a socket of its own. Closing the listening socket cancels its pending WskAccept IRPs and
drops the connections still in its backlog, but it does not close the sockets it accepted, and WskDeregister
waits for them as for any other (rule R-REG-8)
([Unregistering a Winsock Kernel Application](https://learn.microsoft.com/windows-hardware/drivers/network/unregistering-a-winsock-kernel-application)).
"""

from __future__ import annotations

from app.sim import scenario as sc
from app.sim.model import Handle, Phase, State
from app.sim.program import CompiledScenario
from app.sim.step import Transaction

# -- which sockets a listening socket accepts, and in which order ---------------------------------------------------


def accepted_by(scenario: CompiledScenario, listener: int) -> tuple[int, ...]:
    """The sockets declared ``accepted_from`` the listening socket, in declaration order: the order their
    connections arrive in."""
    name = scenario.sockets[listener].name
    return tuple(i for i, decl in enumerate(scenario.sockets) if decl.accepted_from == name)


def next_arrival(scenario: CompiledScenario, state: State, listener: int) -> int | None:
    """The socket the next connection to the listening socket will be, or None once every one has arrived."""
    return next(
        (i for i in accepted_by(scenario, listener) if state.sockets[i].phase == Phase.NO_CONNECTION), None
    )


def backlog(scenario: CompiledScenario, state: State, listener: int) -> tuple[int, ...]:
    """The connections that arrived on the listening socket and wait to be handed over, oldest first."""
    return tuple(i for i in accepted_by(scenario, listener) if state.sockets[i].phase == Phase.INCOMING)


def is_listening(state: State, index: int) -> bool:
    """Whether socket ``index`` listens and is not being closed: connections may arrive, and be handed over."""
    sock = state.sockets[index]
    return sock.phase == Phase.LISTENING and sock.handle == Handle.OPEN


# -- what happens to a connection -------------------------------------------------------------------------------------


def arrive(tx: Transaction, listener: int) -> None:
    """A peer connects to the listening socket: the next declared socket's connection is in the backlog now."""
    index = next_arrival(tx.scenario, tx.state, listener)
    assert index is not None
    tx.put_socket(index, phase=Phase.INCOMING)
    tx.say(
        f"A peer connects to the listening socket {tx.socket_name(listener)}: the connection that will be socket "
        f"{tx.socket_name(index)} waits to be accepted."
    )


def offer(tx: Transaction, index: int) -> None:
    """WSK offers the connection to WskAcceptEvent: it leaves the backlog while the callback decides."""
    tx.put_socket(index, phase=Phase.ACCEPTING)


def take(tx: Transaction, listener: int) -> int:
    """A WskAccept IRP completes with success: it takes the oldest connection in the backlog, which is accepted
    now. Returns the accepted socket."""
    index = backlog(tx.scenario, tx.state, listener)[0]
    accept(tx, index, "WSK hands the oldest connection waiting over to the WskAccept IRP")
    return index


def accept(tx: Transaction, index: int, how: str) -> None:
    """The connection becomes the application's socket (``how`` says who took it, as a sentence's start): OPEN and CONNECTED, with every event callback disabled
    (WskAccept and WskAcceptEvent both say so). Its peer may act from now on, and WskDeregister waits for it."""
    tx.put_socket(index, handle=Handle.OPEN, phase=Phase.CONNECTED, events=())
    tx.say(f"{how}: socket {tx.socket_name(index)} is the application's now, OPEN and CONNECTED.")


def reject(tx: Transaction, index: int) -> None:
    """WskAcceptEvent did not return STATUS_SUCCESS: WSK closes the accepted socket on the application's behalf,
    and it never becomes the application's; the peer sees a reset."""
    _closed_by_wsk(tx, index, Phase.REJECTED)
    tx.say(
        f"The accept callback refused the connection: WSK closes socket {tx.socket_name(index)} itself, and the "
        "peer sees a reset."
    )


def drop_backlog(tx: Transaction, listener: int) -> None:
    """The listening socket is being closed: the connections still waiting in its backlog are dropped (the peers
    see a reset). Those already accepted, or being offered to WskAcceptEvent, are not its to drop."""
    waiting = backlog(tx.scenario, tx.state, listener)
    for index in waiting:
        _closed_by_wsk(tx, index, Phase.DROPPED)
    if waiting:
        names = ", ".join(tx.socket_name(i) for i in waiting)
        tx.say(
            f"WSK drops the connection(s) still waiting to be accepted ({names}): their peers see a reset."
        )


def _closed_by_wsk(tx: Transaction, index: int, phase: Phase) -> None:
    """WSK closes a connection the application never had: its peer sees a reset and can do nothing more."""
    tx.put_socket(index, phase=phase, peer_saw="rst", peer_data=0, peer_fin=False, peer_rst=False)


# -- a socket that does not exist yet ------------------------------------------------------------------------------------


def unborn(scenario: CompiledScenario, state: State, stmt: sc.Statement) -> int | None:
    """The socket a statement names, if it is not the application's yet (NOT_ACCEPTED): the statement cannot run,
    because there is no such socket to use."""
    if getattr(stmt, "socket", None) is None:
        return None
    index = scenario.socket_of(stmt)
    return index if state.sockets[index].handle == Handle.NOT_ACCEPTED else None


def unborn_text(scenario: CompiledScenario, state: State, index: int) -> str:
    """Why socket ``index`` cannot be used yet, or ever, as the rest of a sentence about it."""
    decl = scenario.sockets[index]
    phase = state.sockets[index].phase
    if phase in (Phase.REJECTED, Phase.DROPPED):
        why = (
            "the accept callback refused it"
            if phase == Phase.REJECTED
            else "its listening socket was closed first"
        )
        return f"socket {decl.name} will never exist: {why}, and WSK closed the connection"
    where = {
        Phase.NO_CONNECTION: f"no connection has arrived on {decl.accepted_from} for it yet",
        Phase.INCOMING: f"its connection waits on {decl.accepted_from} for a WskAccept or the accept callback",
        Phase.ACCEPTING: "the accept callback has not returned yet",
    }[Phase(phase)]
    return f"socket {decl.name} does not exist until it is accepted ({where})"
