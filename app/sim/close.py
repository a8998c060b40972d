"""WskCloseSocket, in the order the documentation gives its effects.

[WskCloseSocket](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_close_socket) and
[Closing a Socket](https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket) describe what a
close does; read top to bottom, this module does it in that order:

0. At call time the handle dies: any later call on the socket is a violation, even before the close completes.
   The caller must not be racing another call on the socket, nor hold retained data indications.
1. No new event callback starts for the socket once the close has begun (a modelling choice, the setting
   ``callbacks_after_close_starts``: the documents only speak of callbacks already in progress).
2. A connection not "fully disconnected in both directions" is aborted: the peer sees a reset (RST). A listening
   socket has no connection: the connections still waiting in its backlog are dropped instead, and the sockets
   it accepted stay open (they are sockets of their own).
3. Every pending IRP is cancelled and completed, with the scenario's ``cancel_status``.
4. The close waits for event callbacks in progress to return (and, with ``cancelled_before_close``, for the
   completion routines of the IRPs it cancelled).
5. WSK frees the WSK_SOCKET.
6. WSK completes the close IRP with STATUS_SUCCESS: the close completion routine runs.
7. Once that routine has returned (or was not invoked), the socket is closed and no longer keeps
   [WskDeregister](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nf-wsk-wskderegister) waiting.

Steps 0-3 happen when the call enters (``begin_close``); steps 5 and 6 are WSK's own moves, possibly inline
before the call returns (the IRP chapter decides whether the close may complete inline); step 7 follows the
close IRP's completion routine back to the application. The socket context belongs to the application: freeing
it is safe only once the close has completed (``free_socket_context``).

The socket keeps its own record of steps 6 and 7, tied to the use of the IRP that carried its close, not to the
IRP's number: once its completion routine has signalled, the application may reuse the close IRP at once, even
to close another socket, and that must neither complete this close again nor undo it.
"""

from __future__ import annotations

from app.sim import accept
from app.sim import scenario as sc
from app.sim.model import EventKind, Handle, IrpState, Phase, Socket, State
from app.sim.ntstatus import STATUS
from app.sim.program import CompiledScenario
from app.sim.step import Action, Move, Transaction

# -- step 0: the call, and what its caller must guarantee --------------------------------------------------------------


def check_close_preconditions(tx: Transaction, who: str, sock: Socket) -> None:
    """The caller's obligations: no other call in progress on the socket (rule UB-2 / P1), and no retained data
    indication (rule UB-3 / P3, [WskRelease](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_release_data_indication_list)
    must come first)."""
    others = sorted({a for a, _ in sock.calls if a != who})
    if others:
        inside = ", ".join(f"{a} is still inside {f}" for a, f in sock.calls if a != who)
        tx.violate("close_with_call_in_progress", f"{who} calls WskCloseSocket while {inside}.", who)
    if sock.retained:
        tx.violate(
            "close_with_retained_indication",
            f"{who} calls WskCloseSocket while holding {sock.retained} retained data indication(s).",
            who,
        )


def begin_close(tx: Transaction, index: int, irp: int | None) -> None:
    """Steps 0-3, as the call enters: the handle is CLOSING now, the connection is aborted unless fully
    disconnected, and every pending IRP is marked to be completed with the cancel status."""
    name = tx.socket_name(index)
    tx.put_socket(index, handle=Handle.CLOSING, close_irp=irp)
    tx.emit(EventKind.SOCKET_CLOSING, socket=name)
    sock = tx.socket(index)
    cancel_status = STATUS[tx.scenario.settings.cancel_status]
    category = tx.scenario.sockets[index].category
    connected = category in ("connection", "stream") and sock.phase == "CONNECTED" and not sock.aborted
    if connected and sock.protocol != "FULLY_DISCONNECTED":
        abort(
            tx, index, cancel_status,
            f"Socket {name} is not disconnected in both directions, so WSK aborts the connection: the peer sees a reset (RST).",
        )  # fmt: skip
    elif sock.phase != Phase.CONNECTED:
        tx.say(_nothing_to_abort(tx, index))
    if sock.phase == Phase.LISTENING:
        accept.drop_backlog(tx, index)
    sock = tx.socket(index)
    cancelled = tuple(i for i in sock.pending)
    doomed = (*sock.doomed, *((i, cancel_status) for i in sock.pending))
    every = tuple(i for i, _ in doomed)
    # Step 1: indications not yet delivered are dropped, so no new callback starts for them.
    tx.put_socket(index, pending=(), doomed=doomed, cancelled_by_close=every, inbound=())
    if cancelled or every:
        ids = ", ".join(str(i) for i in every)
        tx.say(f"WSK will cancel and complete IRP(s) {ids} before the close completes.")


def _nothing_to_abort(tx: Transaction, index: int) -> str:
    """Why a close aborts nothing (step 2 is only for a connection): the socket has no connection yet, or never
    has one."""
    name = tx.socket_name(index)
    category = tx.scenario.sockets[index].category
    phase = tx.socket(index).phase
    if phase == Phase.CONNECTING:
        return f"Socket {name} is still CONNECTING: there is no connection to abort, and its pending connect is cancelled."
    if phase == Phase.LISTENING:
        # Only sockets the application holds stay open: one not accepted yet is dropped with the backlog, and one
        # already closed is gone.
        kept = [
            tx.socket_name(i)
            for i in accept.accepted_by(tx.scenario, index)
            if tx.socket(i).handle not in (Handle.NOT_ACCEPTED, Handle.CLOSED)
        ]
        if not kept:
            return f"Socket {name} listens: it has no connection to abort, and no socket it accepted is open."
        if len(kept) == 1:
            return (
                f"Socket {name} listens: it has no connection to abort. The socket it accepted, {kept[0]}, is a "
                "socket of its own, and stays open."
            )
        return (
            f"Socket {name} listens: it has no connection to abort. The sockets it accepted, "
            f"{', '.join(kept[:-1])} and {kept[-1]}, are sockets of their own, and stay open."
        )
    return f"Socket {name} ({category}, {phase}) has no connection, so there is nothing to abort."


# -- step 2: the abortive disconnect ------------------------------------------------------------------------------------


def abort(tx: Transaction, index: int, status: int, sentence: str) -> None:
    """An abortive disconnect ([WskDisconnect](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_disconnect)
    with WSK_FLAG_ABORTIVE, or step 2 of a close): pending IRPs are force-completed with ``status`` and the peer
    sees a reset, after which it can send nothing more."""
    sock = tx.socket(index)
    name = tx.socket_name(index)
    doomed = (*sock.doomed, *((i, status) for i in sock.pending))
    tx.put_socket(
        index, aborted=True, pending=(), doomed=doomed, inbound=(), peer_saw="rst",
        peer_data=0, peer_fin=False, peer_rst=False,
    )  # fmt: skip
    tx.say(sentence)
    tx.emit(EventKind.ABORTIVE_DISCONNECT, socket=name, text=sentence)


# -- step 4: what the close waits for -------------------------------------------------------------------------------------


def cancelled_routines_running(scenario: CompiledScenario, state: State, index: int) -> bool:
    """Whether a completion routine of an IRP the close cancelled is still running, when the scenario says the
    close waits for them (``cancelled_before_close``; the documents are silent on this ordering)."""
    if not scenario.settings.cancelled_before_close:
        return False
    cancelled = set(state.sockets[index].cancelled_by_close)
    return any(a.kind == "completion" and a.frames and a.frames[0].irp in cancelled for a in state.actors)


def close_must_wait(scenario: CompiledScenario, state: State, index: int) -> bool:
    """Whether the socket cannot be freed yet: cancelled IRPs still to complete (step 3), or callbacks or
    cancelled IRPs' completion routines still running (step 4)."""
    sock = state.sockets[index]
    return bool(sock.doomed or sock.callbacks or cancelled_routines_running(scenario, state, index))


# -- step 5: WSK frees the socket ---------------------------------------------------------------------------------------


def _close_pending(state: State, sock: Socket) -> bool:
    """The close call returned STATUS_PENDING and its IRP can still be completed (it was not lost)."""
    if sock.handle != Handle.CLOSING or not sock.close_returned or sock.close_irp is None:
        return False
    return not state.irp(sock.close_irp).lost


def free_socket_moves(scenario: CompiledScenario, state: State, index: int) -> list[Move]:
    """Step 5 as WSK's own move, after the close call returned STATUS_PENDING: once nothing is pending and no
    callback runs, WSK may free the socket."""
    sock = state.sockets[index]
    if not _close_pending(state, sock) or sock.freed or close_must_wait(scenario, state, index):
        return []
    name = scenario.sockets[index].name

    def free(tx: Transaction) -> None:
        free_socket(tx, index)

    label = f"WSK: free socket {name} (nothing pending, no callback running)"
    return [Move(Action(f"wsk-free-{name}", "wsk", label), free)]


def free_socket(tx: Transaction, index: int) -> None:
    """Step 5: WSK frees the WSK_SOCKET ([WSK_SOCKET](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/ns-wsk-_wsk_socket)).
    Retained indications are not reclaimed. A call still inside WSK on this socket now runs on freed memory
    (rule UB-5)."""
    name = tx.socket_name(index)
    tx.put_socket(index, freed=True)
    tx.say(f"WSK frees socket {name}: from now on any use of it is a use-after-free.")
    tx.emit(EventKind.SOCKET_FREED, socket=name)
    # The close call itself may still be on the stack (inline completion); any other call is UB-5.
    others = [(actor_id, fn) for actor_id, fn in tx.socket(index).calls if fn != "WskCloseSocket"]
    for actor_id, fn in others:
        nested = (
            " (a completion routine ran inline inside that call and closed the socket)"
            if any(a == actor_id and f == "WskCloseSocket" for a, f in tx.socket(index).calls)
            else ""
        )
        tx.violate(
            "socket_use_after_free",
            f"WSK frees socket {tx.socket_name(index)} while {actor_id} is still inside {fn}{nested}; "
            f"WSK will touch the freed socket when {fn} returns.",
            actor_id,
        )


# -- step 6: WSK completes the close IRP ----------------------------------------------------------------------------------


def close_irp_due(state: State, index: int) -> int | None:
    """Step 6: the close IRP WSK may now complete with STATUS_SUCCESS (the socket is freed and the IRP not yet
    completed), or None. WSK's move that completes it is ``irps.close_completion_move``."""
    sock = state.sockets[index]
    if not _close_pending(state, sock) or not sock.freed:
        return None
    assert sock.close_irp is not None
    if sock.close_irp_completed:
        return None  # already completed; the socket is closed once its completion routine returns
    if state.irp(sock.close_irp).state != IrpState.OWNED_BY_WSK:
        return None  # the application freed the IRP under WSK (rule IRP-B2): nothing completes it
    return sock.close_irp


def close_irp_completed(tx: Transaction, index: int, irp_id: int) -> None:
    """Step 6 has happened: WSK completed the close IRP. The socket remembers it, so that the close is never
    completed twice and its context may be freed, whatever becomes of the IRP afterwards."""
    sock = tx.socket(index)
    if sock.close_irp == irp_id and sock.handle == Handle.CLOSING and not sock.close_irp_completed:
        tx.put_socket(index, close_irp_completed=True)


# -- step 7: the socket is closed -------------------------------------------------------------------------------------------


def finish_close(tx: Transaction, index: int) -> None:
    """Step 7: once the close IRP's completion routine has returned (or was not invoked), the socket is CLOSED
    and no longer counts against WskDeregister. The IRP chapter calls it for the completion of a close IRP, with
    the socket that close was for."""
    sock = tx.socket(index)
    if sock.close_irp_completed and sock.freed and sock.handle == Handle.CLOSING:
        tx.put_socket(index, handle=Handle.CLOSED)
        tx.emit(EventKind.SOCKET_CLOSED, socket=tx.socket_name(index))


def close_completed(state: State, index: int) -> bool:
    """Whether the socket's close IRP has completed: from then on no routine or callback can use its context."""
    return state.sockets[index].close_irp_completed


# -- after the close: the socket context ------------------------------------------------------------------------------------


def free_socket_context(tx: Transaction, who: str, stmt: sc.FreeSocketContext) -> None:
    """The application frees its socket context. WSK never frees it; it is safe only once the close IRP has
    completed, because completion routines and callbacks in progress may still use it (rule UB-4,
    [Closing a Socket](https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket))."""
    index = tx.scenario.socket_of(stmt)
    ctx = tx.scenario.sockets[index].context
    sock = tx.socket(index)
    if sock.context_freed:
        tx.violate("context_use_after_free", f"{who} frees {ctx} a second time.", who)
    elif not close_completed(tx.state, index):
        still = "its close has not completed" if sock.handle == Handle.CLOSING else "the socket is still open"
        tx.violate(
            "context_use_after_free",
            f"{who} frees {ctx} while {still}: completion routines and callbacks may still use it.",
            who,
        )
    tx.put_socket(index, context_freed=True)
    tx.say(f"{who} frees the socket context {ctx}.")
    tx.emit(EventKind.CONTEXT_FREED, actor=who, socket=tx.socket_name(index))
