"""Socket calls: what happens when an actor enters a WSK socket function, and when the call returns.

Every IRP-taking WSK function follows one pattern ([Using IRPs with Winsock Kernel Functions](https://learn.microsoft.com/windows-hardware/drivers/network/using-irps-with-winsock-kernel-functions)):
the call takes the IRP; WSK either completes it before the call returns (the completion routine runs nested on
the caller's thread, and the call returns the IRP's status) or returns STATUS_PENDING and completes it later.
Each of these is a separate action, so a learner can see a completion routine free an IRP before the call
that was given it has returned.

A call is "in progress" from entry to return: that is the window [Closing a Socket](https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket)
forbids a close to overlap (rule UB-2 / P1), and the window in which WSK may free the socket under a racing
call (UB-5).
"""

from __future__ import annotations

from app.sim import close, irps
from app.sim import scenario as sc
from app.sim.model import Actor, Call, EventKind, Frame, Handle, IrpState, Phase, Socket, State
from app.sim.ntstatus import STATUS, status_name
from app.sim.program import CompiledScenario
from app.sim.records import replace
from app.sim.step import Action, Move, Transaction

SUCCESS = STATUS["STATUS_SUCCESS"]
PENDING = STATUS["STATUS_PENDING"]


def read_socket_dispatch(tx: Transaction, who: str, stmt: sc.ReadSocketDispatch) -> None:
    """``Dispatch = Socket->Dispatch``, the first half of every socket call: a dereference of the WSK_SOCKET
    itself, so a use after free once WSK has freed it (rule UB-5, [WSK_SOCKET](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/ns-wsk-_wsk_socket))."""
    index = tx.scenario.socket_of(stmt)
    name = tx.socket_name(index)
    if tx.socket(index).freed:
        tx.violate(
            "socket_use_after_free",
            f"{who} reads {name}->Dispatch, but WSK already freed socket {name}.",
            who,
        )
    tx.say(f"{who} reads the dispatch table of socket {name}.")


def enter_call(tx: Transaction, who: str, frame: Frame, stmt: sc.SocketCall) -> None:
    """An actor enters a socket function. Calling it after WskCloseSocket is rule UB-1 (and UB-5 once the socket
    is freed); passing an IRP that is freed, still in use, or not reinitialised is IRP-B3 or IRP-B5. Such a call
    is undefined: its IRP is lost to WSK. A completion routine must not pass on an IRP it handed over. A defined call takes the IRP (OWNED_BY_WSK) and has its entry effects;
    a close first checks the caller's obligations."""
    fn: str = stmt.op  # type: ignore[attr-defined]
    index = tx.scenario.socket_of(stmt)
    name = tx.socket_name(index)
    sock = tx.socket(index)
    undefined = False
    if sock.handle in (Handle.CLOSING, Handle.CLOSED):
        tx.violate(
            "call_after_close", f"{who} calls {fn} on socket {name} after WskCloseSocket was called.", who
        )
        undefined = True
        if sock.freed:
            tx.violate(
                "socket_use_after_free",
                f"{who} calls through {name}->Dispatch, but socket {name} was freed.",
                who,
            )
    irp_id: int | None = None
    irp_name: str | None = getattr(stmt, "irp", None)
    if irp_name is not None:
        irp_id = frame.local(irp_name)
        assert irp_id is not None, "validation guarantees the IRP was allocated"
        if irps.null_irp(tx, who, irp_id, f"calls {fn} with"):
            # WSK dereferences the NULL IRP: there is no IRP for it to take, and the call is undefined.
            irp_id, undefined = None, True
    if irp_id is not None:
        irp = tx.irp(irp_id)
        if irp.state == IrpState.FREED:
            tx.violate(
                "irp_use_after_free", f"{who} passes IRP {irp_id} to {fn}, but it was already freed.", who
            )
            undefined = True
        elif irps.handed_over(tx, who, frame, irp, f"calls {fn} with"):
            pass
        elif irp.state in (IrpState.OWNED_BY_WSK, IrpState.IN_COMPLETION_ROUTINE):
            tx.violate(
                "irp_reuse_while_pending",
                f"{who} passes IRP {irp_id} to {fn} while it is still in use.",
                who,
            )
            undefined = True
        elif irp.needs_reuse:
            tx.violate(
                "irp_reuse_while_pending",
                f"{who} passes IRP {irp_id} to {fn} again without calling IoReuseIrp first.",
                who,
            )
    if fn == "WskCloseSocket" and not undefined:
        close.check_close_preconditions(tx, who, sock)
    tx.put_socket(index, calls=(*sock.calls, (who, fn)))
    if irp_id is not None and not (undefined and tx.irp(irp_id).state == IrpState.FREED):
        old = tx.irp(irp_id)
        tx.put_irp(
            replace(
                old, state=IrpState.OWNED_BY_WSK, function=fn, socket=index, status=None,
                information=getattr(stmt, "bytes", 0), pending_returned=False, is_pending=False,
                needs_reuse=False, lost=undefined or old.lost, completions=0,
            )
        )  # fmt: skip
    call = Call(function=fn, socket=index, irp=irp_id, undefined=undefined)
    with_irp = f" with IRP {irp_id}" if irp_id is not None else ""
    tx.say(f"{who} calls {fn} on socket {name}{with_irp}.")
    tx.emit(EventKind.CALL_ENTERED, actor=who, irp=irp_id, function=fn, socket=name)
    if not undefined:
        call = call_entry_effects(tx, who, index, stmt, call)
    tx.put_frame(who, replace(frame, call=call))


def call_entry_effects(tx: Transaction, who: str, index: int, stmt: sc.SocketCall, call: Call) -> Call:
    """What WSK does as soon as a call enters, before any completion: a call the protocol state forbids gets
    its failure status; a close starts at once ([WskCloseSocket](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_close_socket)),
    so does an abortive disconnect, and a graceful one sends FIN ([WskDisconnect](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_disconnect));
    a receive lifts a receive-event suspension; WskControlSocket and WskRelease, which take no IRP, decide their
    status here; a connect makes the socket CONNECTING."""
    sock = tx.socket(index)
    failure = call_failure(tx.scenario, sock, stmt)
    if failure is not None:
        return replace(call, status=failure)
    match stmt:
        case sc.WskCloseSocket():
            close.begin_close(tx, index, call.irp)
        case sc.WskDisconnect(abortive=True):
            name = tx.socket_name(index)
            close.abort(
                tx,
                index,
                STATUS[tx.scenario.settings.abort_status],
                f"WSK aborts the connection on socket {name}: the peer sees a reset (RST).",
            )
        case sc.WskDisconnect():
            tx.put_socket(index, send_shutting=True, peer_saw="fin")
            tx.say("The local side sends FIN; the disconnect completes once the peer acknowledges it.")
        case sc.WskReceive():
            tx.put_socket(index, receive_suspended=False)
        case sc.WskConnect():
            tx.put_socket(index, phase=Phase.CONNECTING)
            tx.say(
                f"Socket {tx.socket_name(index)} is CONNECTING: WSK asks the peer to accept the connection."
            )
        case sc.WskControlSocket():
            events = set(sock.events)
            events = events | {stmt.event} if stmt.enable else events - {stmt.event}
            tx.put_socket(index, events=tuple(sorted(events)))
            running = any(tx.actor(a).top and tx.actor(a).top.event == stmt.event for a in sock.callbacks)  # type: ignore[union-attr]
            status = STATUS["STATUS_EVENT_PENDING"] if (not stmt.enable and running) else SUCCESS
            return replace(call, status=status)
        case sc.WskRelease():
            if sock.retained == 0:
                return replace(call, status=STATUS["STATUS_INVALID_PARAMETER"])
            tx.put_socket(index, retained=sock.retained - 1)
            return replace(call, status=SUCCESS)
    return call


def call_failure(scenario: CompiledScenario, sock: Socket, stmt: sc.SocketCall) -> int | None:
    """The failure status WSK completes a call with when the protocol state does not allow it: not connected,
    or after a reset, or a send after the send side was shut; a connect on a socket that is not bound, or not
    only bound ([WskConnect](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_connect));
    an accept on a socket that does not listen
    ([WskAccept](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_accept)); a datagram
    call on a datagram socket that is not bound
    ([WskSendTo](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_send_to),
    [WskReceiveFrom](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive_from));
    enabling or disabling the accept or receive-from event before the socket is bound
    ([SO_WSK_EVENT_CALLBACK](https://learn.microsoft.com/windows-hardware/drivers/network/so-wsk-event-callback))."""
    connected = sock.phase == Phase.CONNECTED
    # A connection the peer reset fails calls with STATUS_CONNECTION_RESET; one we aborted, with abort_status.
    reset = (
        STATUS["STATUS_CONNECTION_RESET"]
        if sock.peer_saw != "rst" and sock.aborted
        else STATUS[scenario.settings.abort_status]
    )
    match stmt:
        case sc.WskControlSocket():
            bound = sc.BOUND_EVENTS.get(stmt.event)
            if bound is not None and sock.phase != bound:
                return STATUS["STATUS_INVALID_DEVICE_STATE"]
        case sc.WskConnect():
            if sock.phase != Phase.BOUND:
                return STATUS["STATUS_INVALID_DEVICE_STATE"]
        case sc.WskSend():
            if not connected:
                return STATUS["STATUS_INVALID_DEVICE_STATE"]
            if sock.aborted:
                return reset
            if sock.send_shutting or sock.send_shut:
                return STATUS["STATUS_INVALID_DEVICE_STATE"]
        case sc.WskReceive():
            if not connected:
                return STATUS["STATUS_INVALID_DEVICE_STATE"]
            if sock.aborted:
                return reset
        case sc.WskAccept():
            if sock.phase != Phase.LISTENING:
                return STATUS["STATUS_INVALID_DEVICE_STATE"]
        case sc.WskSendTo() | sc.WskReceiveFrom():
            if sock.phase != Phase.BOUND:
                return STATUS["STATUS_INVALID_DEVICE_STATE"]
        case sc.WskDisconnect():
            if not connected:
                return STATUS["STATUS_INVALID_DEVICE_STATE"]
            if sock.aborted:
                return reset
            if not stmt.abortive and (sock.send_shutting or sock.send_shut):
                return STATUS["STATUS_INVALID_DEVICE_STATE"]
    return None


def call_moves(
    scenario: CompiledScenario, state: State, actor: Actor, frame: Frame, call: Call
) -> list[Move]:
    """How a call inside WSK can go on: return its decided status; return STATUS_PENDING (a call after close
    pends forever); or have WSK complete its IRP inline first, when ``irps.inline_result`` allows it. Every
    IRP-taking call may pend: the documents allow STATUS_PENDING from all of them."""
    who = actor.id
    fn = call.function
    sock = state.sockets[call.socket]
    if call.status is not None and (call.completed_inline or call.irp is None):
        label = f"{who}: {fn} returns {status_name(call.status)}"
        return [Move(Action(who, who, label), lambda tx: finish_call(tx, who, call.status))]  # type: ignore[arg-type]
    if call.undefined or (fn != "WskCloseSocket" and sock.handle in (Handle.CLOSING, Handle.CLOSED)):
        never = (
            f"WSK never completes IRP {call.irp}"
            if call.irp is not None
            else "the socket is closing"
            if sock.handle in (Handle.CLOSING, Handle.CLOSED)
            else "it was given no IRP"
        )
        label = f"{who}: {fn} returns STATUS_PENDING; {never}"
        return [Move(Action(f"{who}-p", who, label), lambda tx: pend(tx, who, lost=True))]
    moves: list[Move] = []
    if call.status is not None:  # a failure decided at entry: completes inline with it
        label = f"{who}: WSK completes IRP {call.irp} inline with {status_name(call.status)}"
        status = call.status
        return [Move(Action(f"{who}-i", who, label), lambda tx: complete_inline(tx, who, status, 0))]
    early = irps.inline_result(scenario, state, call)
    label = f"{who}: {fn} returns STATUS_PENDING (WSK keeps IRP {call.irp})"
    moves.append(Move(Action(f"{who}-p", who, label), lambda tx: pend(tx, who, lost=False)))
    if early is not None:
        status, info = early
        label = f"{who}: WSK completes IRP {call.irp} inline with {status_name(status)}"
        moves.append(Move(Action(f"{who}-i", who, label), lambda tx: complete_inline(tx, who, status, info)))
    return moves


def complete_inline(tx: Transaction, who: str, status: int, information: int) -> None:
    """WSK completes the call's IRP before the call returns: the completion routine runs nested on the
    caller's thread. A close that completes inline has freed the socket first (close steps 5 and 6)."""
    frame = tx.actor(who).top
    assert frame is not None and frame.call is not None
    call = frame.call
    irp_id = call.irp
    assert irp_id is not None
    tx.put_frame(who, replace(frame, call=replace(call, completed_inline=True, status=status)))
    if call.function == "WskCloseSocket":
        close.free_socket(tx, call.socket)
    irps.apply_completion(tx, irp_id, status)
    irps.complete_irp(tx, irp_id, status, information, inline_on=who)


def pend(tx: Transaction, who: str, lost: bool) -> None:
    """The call returns STATUS_PENDING and WSK keeps the IRP: queued on the socket, or, for a close, the close
    goes on in the background. A ``lost`` IRP was swallowed by a call on a dead socket and will never
    complete."""
    frame = tx.actor(who).top
    assert frame is not None and frame.call is not None
    call = frame.call
    sock = tx.socket(call.socket)
    name = tx.socket_name(call.socket)
    if lost and sock.freed and not call.undefined:
        tx.violate(
            "socket_use_after_free",
            f"{call.function} was still running inside WSK when socket {name} was freed; WSK now queues "
            f"IRP {call.irp} on the freed socket.",
            who,
        )
    if call.irp is not None:
        irp = tx.irp(call.irp)
        if irp.state != IrpState.FREED:
            tx.put_irp(replace(irp, is_pending=True, pending_returned=True, lost=irp.lost or lost))
        if lost:
            tx.say(f"IRP {call.irp} is queued where nothing will ever complete it.")
        elif call.function == "WskCloseSocket":
            tx.put_socket(call.socket, close_returned=True)
        else:
            tx.put_socket(call.socket, pending=(*tx.socket(call.socket).pending, call.irp))
    finish_call(tx, who, PENDING)


def finish_call(tx: Transaction, who: str, status: int) -> None:
    """The call returns ``status`` to its caller: it is no longer in progress on the socket."""
    actor = tx.actor(who)
    frame = actor.top
    assert frame is not None and frame.call is not None
    call = frame.call
    sock = tx.socket(call.socket)
    calls = list(sock.calls)
    if (who, call.function) in calls:
        calls.remove((who, call.function))
    tx.put_socket(call.socket, calls=tuple(calls))
    stmt = tx.program(frame).statements[frame.pc]
    into: str | None = getattr(stmt, "into", None)
    nxt = replace(frame, pc=frame.pc + 1, call=None)
    tx.put_frame(who, nxt.with_local(into, status) if into else nxt)
    tx.say(f"{who}'s {call.function} returns {status_name(status)}.")
    tx.emit(
        EventKind.CALL_RETURNED,
        actor=who,
        irp=call.irp,
        function=call.function,
        status=status_name(status),
    )
