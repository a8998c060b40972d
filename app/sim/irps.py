"""The IRP lifecycle: what the application does with its IRPs, and how WSK completes them.

[Using IRPs with Winsock Kernel Functions](https://learn.microsoft.com/windows-hardware/drivers/network/using-irps-with-winsock-kernel-functions)
describes the life of an IRP the application allocates: IoAllocateIrp (ALLOCATED), IoSetCompletionRoutine
(ARMED), passed to a WSK function (OWNED_BY_WSK: the application must not touch it), completed by WSK (its
completion routine runs: IN_COMPLETION_ROUTINE), back with the application (OWNED_BY_APP), then IoReuseIrp for
another call or IoFreeIrp (FREED). Every step out of that order breaks one of the IRP rules in app/sim/rules.py.

Who frees the IRP is the application's choice, one owner per IRP: the completion routine (the documentation's
model), or the caller. In the caller-frees model the routine only signals an event and returns
STATUS_MORE_PROCESSING_REQUIRED; the caller waits, reads IoStatus, then frees or reuses the IRP. The caller may
well do that before the routine's ``return`` has run: once a routine returns STATUS_MORE_PROCESSING_REQUIRED the
I/O manager no longer touches the IRP, so a routine that touches it no more after signalling has handed it over.
What is wrong is touching the IRP after it was freed or reused: the routine itself (a later read, a second
free), or the I/O manager, when the routine returns any other status and completion goes on. Each use of an IRP
has its own number (``Irp.use``), so a routine still on the stack for one use is told apart from the next use.

WSK completes an IRP either inline, before the call returns, or later, while the call's IRP is pending; one rule,
``ready_result``, says when it can, for both.
"""

from __future__ import annotations

from app.sim import accept, close
from app.sim import scenario as sc
from app.sim.model import SEGMENT, Actor, Call, EventKind, Frame, Irp, IrpState, Phase, State
from app.sim.ntstatus import GARBAGE, STATUS, is_success, status_name
from app.sim.program import CompiledScenario
from app.sim.records import replace
from app.sim.step import Action, Move, Transaction

SUCCESS = STATUS["STATUS_SUCCESS"]
PENDING = STATUS["STATUS_PENDING"]
CANCELLED = STATUS["STATUS_CANCELLED"]
MORE_PROCESSING = STATUS["STATUS_MORE_PROCESSING_REQUIRED"]
#: The calls whose IoStatus.Information is a byte count, which WSK's completion shows.
BYTE_COUNTS = ("WskSend", "WskReceive", "WskSendTo", "WskReceiveFrom")

# -- what the application does with its IRPs ---------------------------------------------------------------------------


def run_irp_statement(tx: Transaction, who: str, frame: Frame, stmt: sc.Statement) -> None:
    """One of the application's IRP routines: [IoAllocateIrp](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-ioallocateirp),
    [IoSetCompletionRoutine](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-iosetcompletionroutine),
    [IoReuseIrp](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-ioreuseirp),
    [IoFreeIrp](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-iofreeirp),
    [IoCancelIrp](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-iocancelirp), or a read of
    IoStatus; then the frame goes on to its next statement."""
    nxt = replace(frame, pc=frame.pc + 1)
    match stmt:
        case sc.IoAllocateIrp():
            irp = Irp(id=len(tx.state.irps) + 1)
            tx.put_irp(irp)
            tx.put_frame(who, nxt.with_local(stmt.irp, irp.id))
            tx.say(f"{who} allocates IRP {irp.id}.")
            tx.emit(EventKind.IRP_ALLOCATED, actor=who, irp=irp.id)
            return
        case sc.IoSetCompletionRoutine():
            target = irp_for_app(tx, who, frame, stmt.irp, "IoSetCompletionRoutine")
            if target is not None and target.state != IrpState.FREED:
                invoke = (stmt.invoke_on_success, stmt.invoke_on_error, stmt.invoke_on_cancel)
                armed = IrpState.ARMED if target.state != IrpState.IN_COMPLETION_ROUTINE else target.state
                tx.put_irp(replace(target, state=armed, routine=stmt.routine, invoke=invoke))
                tx.say(f"{who} arms IRP {target.id} with completion routine {stmt.routine}.")
                tx.emit(EventKind.IRP_ARMED, actor=who, irp=target.id, text=stmt.routine)
        case sc.IoReuseIrp():
            target = irp_for_app(tx, who, frame, stmt.irp, "IoReuseIrp")
            if target is not None:
                reuse_irp(tx, who, target)
                if frame.irp == target.id:  # a routine that reuses its own IRP owns the new use too
                    nxt = replace(nxt, irp_use=target.use + 1)
        case sc.IoFreeIrp():
            free_irp(tx, who, frame, stmt.irp)
        case sc.IoCancelIrp():
            cancel_irp(tx, who, frame, stmt.irp)
        case sc.ReadIoStatus():
            tx.put_frame(who, nxt.with_local(stmt.into, read_io_status(tx, who, frame, stmt)))
            return
        case _:
            raise AssertionError(f"unhandled IRP statement {stmt!r}")
    tx.put_frame(who, nxt)


def allocation_failure_move(who: str, stmt: sc.IoAllocateIrp) -> Move:
    """With the setting ``allocation_can_fail``, IoAllocateIrp has a second outcome, its own action
    ``<actor>-nomem``: it returns NULL ("IoAllocateIrp returns a pointer to an IRP, if sufficient resources are
    available; otherwise NULL", [IoAllocateIrp](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-ioallocateirp)).
    No IRP is allocated; the variable holds NULL (0), which the program must test before using it."""

    def fail(tx: Transaction) -> None:
        frame = tx.actor(who).top
        assert frame is not None
        tx.put_frame(who, replace(frame, pc=frame.pc + 1).with_local(stmt.irp, 0))
        tx.say(f"IoAllocateIrp returns NULL to {who}: there are not enough resources for an IRP.")

    return Move(Action(f"{who}-nomem", who, f"{who}: IoAllocateIrp fails and returns NULL"), fail)


def null_irp(tx: Transaction, who: str, irp_id: int | None, verb: str) -> bool:
    """Whether the IRP variable holds NULL, from an IoAllocateIrp that failed: using it dereferences a null
    pointer (``null_irp``). Reports the violation."""
    if irp_id != 0:
        return False
    tx.violate(
        "null_irp", f"{who} {verb} a NULL IRP: IoAllocateIrp failed and nothing tested its result.", who
    )
    return True


def irp_for_app(tx: Transaction, who: str, frame: Frame, name: str, verb: str) -> Irp | None:
    """The IRP a local names, if the application may touch it now: not after IoFreeIrp (rule IRP-B3), not while
    WSK owns it (rule IRP-B5), and not from a completion routine that handed it over (``handed_over``). None,
    after reporting the violation, otherwise."""
    irp_id = frame.local(name)
    if irp_id is None or null_irp(tx, who, irp_id, f"calls {verb} on"):
        return None
    irp = tx.irp(irp_id)
    if irp.state == IrpState.FREED:
        tx.violate("irp_use_after_free", f"{who} calls {verb} on IRP {irp.id}, which was already freed.", who)
        return None
    if handed_over(tx, who, frame, irp, f"calls {verb} on"):
        return None
    if irp.state == IrpState.OWNED_BY_WSK:
        tx.violate(
            "irp_reuse_while_pending", f"{who} calls {verb} on IRP {irp.id} while WSK still owns it.", who
        )
        return None
    return irp


def handed_over(tx: Transaction, who: str, frame: Frame, irp: Irp, doing: str) -> bool:
    """Whether a completion routine touches its IRP after handing it over: someone reinitialised it with IoReuseIrp
    while the routine was still on the stack (legal at that moment, see the module docstring), so the IRP now
    carries another operation, which the routine corrupts (rule IRP-B5). Reports the violation."""
    if frame.irp != irp.id or irp.use == frame.irp_use or irp.state == IrpState.FREED:
        return False
    tx.violate(
        "irp_reuse_while_pending",
        f"{who} {doing} IRP {irp.id} after handing it over: it was reinitialised with IoReuseIrp and now carries "
        "another operation.",
        who,
    )
    return True


def routine_running(state: State, irp: Irp) -> str | None:
    """The actor whose completion routine for the IRP's current use is still on the stack, if any: in the
    caller-frees model (rule I-10) that routine may have handed the IRP over already."""
    for actor in state.actors:
        if any(f.irp == irp.id and f.irp_use == irp.use for f in actor.frames):
            return actor.id
    return None


def reuse_irp(tx: Transaction, who: str, irp: Irp) -> None:
    """[IoReuseIrp](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-ioreuseirp): the IRP is
    reinitialised for a new use. Legal while its completion routine has yet to return, in the caller-frees model
    (rule I-10): the routine has handed the IRP over, and must not touch it again."""
    routine = routine_running(tx.state, irp)
    tx.put_irp(Irp(id=irp.id, state=IrpState.ALLOCATED, use=irp.use + 1))
    if routine is not None and routine != who:
        tx.say(
            f"{who} reinitialises IRP {irp.id} with IoReuseIrp; {routine} has handed it over and must not touch it."
        )
    else:
        tx.say(f"{who} reinitialises IRP {irp.id} with IoReuseIrp.")
    tx.emit(EventKind.IRP_REUSED, actor=who, irp=irp.id)


def free_irp(tx: Transaction, who: str, frame: Frame, name: str) -> None:
    """IoFreeIrp: legal once the IRP is back with the application, from its own completion routine, or from the
    caller once the routine has signalled it (the caller-frees model: the routine must then touch it no more).
    A second free is rule IRP-B1; freeing an IRP WSK still owns is IRP-B2."""
    irp_id = frame.local(name)
    if irp_id is None or null_irp(tx, who, irp_id, "calls IoFreeIrp on"):
        return
    irp = tx.irp(irp_id)
    if irp.state == IrpState.FREED:
        tx.say(f"{who} calls IoFreeIrp on IRP {irp.id} again.")
        tx.violate("irp_double_free", f"{who} frees IRP {irp.id}, which was already freed.", who)
        return
    if not handed_over(tx, who, frame, irp, "frees") and irp.state == IrpState.OWNED_BY_WSK:
        tx.violate(
            "irp_free_while_pending",
            f"{who} frees IRP {irp.id} while WSK still owns it ({irp.function}).",
            who,
        )
    routine = routine_running(tx.state, irp)
    tx.put_irp(replace(irp, state=IrpState.FREED))
    if routine is not None and routine != who and irp.state == IrpState.IN_COMPLETION_ROUTINE:
        tx.say(f"{who} frees IRP {irp.id}; {routine} has handed it over and must not touch it again.")
    else:
        tx.say(f"{who} frees IRP {irp.id}.")
    tx.emit(EventKind.IRP_FREED, actor=who, irp=irp.id)


def cancel_irp(tx: Transaction, who: str, frame: Frame, name: str) -> None:
    """IoCancelIrp: a pending IRP will be completed with STATUS_CANCELLED; one that is not pending is left
    alone. Cancelling an IRP that was already freed is the cancel/completion race of rule IRP-B9."""
    irp_id = frame.local(name)
    if irp_id is None or null_irp(tx, who, irp_id, "calls IoCancelIrp on"):
        return
    irp = tx.irp(irp_id)
    if irp.state == IrpState.FREED:
        tx.violate(
            "irp_use_after_free",
            f"{who} calls IoCancelIrp on IRP {irp.id}, which was already freed.",
            who,
        )
        return
    handed_over(tx, who, frame, irp, "cancels")
    if irp.is_pending and irp.socket is not None and not irp.lost:
        sock = tx.socket(irp.socket)
        if all(i != irp.id for i, _ in sock.doomed):
            tx.put_socket(
                irp.socket,
                pending=tuple(i for i in sock.pending if i != irp.id),
                doomed=(*sock.doomed, (irp.id, CANCELLED)),
            )
        tx.say(f"{who} cancels IRP {irp.id}; WSK will complete it with STATUS_CANCELLED.")
    else:
        tx.say(f"{who} calls IoCancelIrp on IRP {irp.id}, which is not pending: nothing happens.")
    tx.emit(EventKind.IRP_CANCEL_REQUESTED, actor=who, irp=irp.id)


def read_io_status(tx: Transaction, who: str, frame: Frame, stmt: sc.ReadIoStatus) -> int:
    """The value of Irp->IoStatus.Status or .Information. Reading a freed IRP (rule IRP-B3: its completion
    routine may have freed it before the call returned) yields garbage."""
    irp_id = frame.local(stmt.irp)
    if irp_id is None:
        return 0
    if null_irp(tx, who, irp_id, "reads IoStatus of"):
        return GARBAGE
    irp = tx.irp(irp_id)
    if irp.state == IrpState.FREED:
        tx.violate(
            "irp_use_after_free", f"{who} reads IoStatus of IRP {irp.id}, which was already freed.", who
        )
        tx.say(f"{who} reads garbage from the freed IRP {irp.id}.")
        return GARBAGE
    handed_over(tx, who, frame, irp, "reads IoStatus of")
    value = (
        irp.information if stmt.field == "Information" else (PENDING if irp.status is None else irp.status)
    )
    shown = str(value) if stmt.field == "Information" else status_name(value)
    tx.say(f"{who} reads IoStatus.{stmt.field} of IRP {irp.id}: {shown}.")
    return value


# -- when WSK completes an IRP ----------------------------------------------------------------------------------------------
#
# One rule decides it, ``ready_result``: what WSK could complete an IRP with right now, given its socket and that
# socket's peer. The same rule is asked at two moments: while the call that took the IRP has yet to return (WSK may
# then complete it inline, ``inline_result``), and at any later time while it is pending (WSK completes it on its own
# thread, ``natural_completion``). A close is the one call the rule does not cover: it waits for the socket's own
# teardown, which the close chapter decides.


def ready_result(scenario: CompiledScenario, state: State, irp: Irp) -> tuple[int, int] | None:
    """What WSK can complete an IRP it holds with now, as (status, Information), or None while it must wait: a
    send once the peer accepts data; a receive once a segment or the peer's FIN is there, or at once with 0 bytes
    when the peer has closed its side already ([WskReceive](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive));
    a graceful disconnect once the peer acknowledges the FIN, an abortive one at once
    ([WskDisconnect](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_disconnect));
    a connect at any time, because the simulated peer always accepts a connection
    ([WskConnect](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_connect));
    an accept once a connection waits in the listening socket's backlog, the IRPs in the order they were queued
    ([WskAccept](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_accept));
    a datagram send at once, since no peer has to accept it
    ([WskSendTo](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_send_to)), and a
    datagram receive once a datagram is there
    ([WskReceiveFrom](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive_from))."""
    assert irp.socket is not None
    sock = state.sockets[irp.socket]
    peer = scenario.sockets[irp.socket].peer
    match irp.function:
        case "WskSend":
            return (SUCCESS, irp.information) if peer.accepts_data else None
        case "WskReceive":
            if sock.inbound[:1] == ("data",):
                return SUCCESS, SEGMENT
            if sock.inbound[:1] == ("fin",) or (sock.recv_shut and not sock.inbound):
                return SUCCESS, 0
            return None
        case "WskDisconnect":
            return (SUCCESS, 0) if sock.aborted or peer.acks_disconnect else None
        case "WskConnect":
            return SUCCESS, 0
        case "WskAccept":
            queued = [i for i in sock.pending if state.irp(i).function == "WskAccept"]
            first = not queued or queued[0] == irp.id
            return (SUCCESS, 0) if first and accept.backlog(scenario, state, irp.socket) else None
        case "WskSendTo":
            return SUCCESS, irp.information
        case "WskReceiveFrom":
            return (SUCCESS, SEGMENT) if sock.inbound[:1] == ("data",) else None
    return None


def inline_result(scenario: CompiledScenario, state: State, call: Call) -> tuple[int, int] | None:
    """Whether WSK could complete this call's IRP before the call returns, and with what (status,
    Information); None if it can only pend. A close completes inline only when nothing is left to wait for."""
    assert call.irp is not None
    if call.function == "WskCloseSocket":
        return None if close.close_must_wait(scenario, state, call.socket) else (SUCCESS, 0)
    return ready_result(scenario, state, state.irp(call.irp))


def natural_completion(scenario: CompiledScenario, state: State, irp: Irp) -> tuple[int, int] | None:
    """Whether WSK can now complete a pending IRP on its own, and how (``ready_result``). An IRP swallowed by a
    call on a dead socket never completes."""
    if irp.lost or (irp.state == IrpState.FREED and irp.function is None):
        return None
    return ready_result(scenario, state, irp)


def completion_moves(scenario: CompiledScenario, state: State, index: int) -> list[Move]:
    """WSK's completions on one socket: first the IRPs it must fail (cancelled, or aborted), then the pending
    ones that can complete on their own."""
    sock = state.sockets[index]
    moves: list[Move] = []
    for irp_id, status in sock.doomed:
        irp = state.irp(irp_id)
        label = f"WSK: complete IRP {irp_id} ({irp.function}) with {status_name(status)}"
        moves.append(completion_move(irp_id, status, 0, label))
    for irp_id in sock.pending:
        natural = natural_completion(scenario, state, state.irp(irp_id))
        if natural is not None:
            status, info = natural
            irp = state.irp(irp_id)
            detail = f", {info} bytes" if irp.function in BYTE_COUNTS else ""
            if irp.function == "WskAccept":
                detail = (
                    f", accepting socket {scenario.sockets[accept.backlog(scenario, state, index)[0]].name}"
                )
            label = f"WSK: complete IRP {irp_id} ({irp.function}) with {status_name(status)}{detail}"
            moves.append(completion_move(irp_id, status, info, label))
    return moves


def completion_move(irp_id: int, status: int, info: int, label: str) -> Move:
    """WSK completes a pending IRP, on its own thread: the protocol effect, then the completion."""

    def perform(tx: Transaction) -> None:
        apply_completion(tx, irp_id, status)
        complete_irp(tx, irp_id, status, info, inline_on=None)

    return Move(Action(f"wsk-c{irp_id}", "wsk", label), perform)


def close_completion_move(close_irp: int) -> Move:
    """Close step 6 as WSK's move: complete the close IRP with STATUS_SUCCESS (``close.close_irp_due`` says
    when). A close has no protocol effect to apply."""

    def complete(tx: Transaction) -> None:
        complete_irp(tx, close_irp, SUCCESS, 0, inline_on=None)

    label = f"WSK: complete close IRP {close_irp} with STATUS_SUCCESS"
    return Move(Action(f"wsk-c{close_irp}", "wsk", label), complete)


def apply_completion(tx: Transaction, irp_id: int, status: int) -> None:
    """What a completion means for the socket: a WskConnect that succeeds connects it, one that fails (a close
    cancelled it) leaves it bound; a WskAccept that succeeds hands over the oldest connection waiting, as the
    accepted socket; a graceful WskDisconnect's FIN is acknowledged (the send side is shut), a WskReceive (or
    WskReceiveFrom) consumes the indication (the datagram) it was given."""
    irp = tx.irp(irp_id)
    if irp.socket is None:
        return
    sock = tx.socket(irp.socket)
    if irp.function == "WskConnect" and sock.phase == Phase.CONNECTING:
        _connect_completed(tx, irp.socket, status)
    if not is_success(status):
        return
    if irp.function == "WskAccept":
        accept.take(tx, irp.socket)
    if irp.function == "WskDisconnect" and not sock.aborted:
        tx.put_socket(irp.socket, send_shutting=False, send_shut=True)
    if irp.function in ("WskReceive", "WskReceiveFrom") and sock.inbound:
        tx.put_socket(irp.socket, inbound=sock.inbound[1:])


def _connect_completed(tx: Transaction, index: int, status: int) -> None:
    """A connect ends: with success the socket is CONNECTED, and its peer may act from now on; otherwise (a close
    cancelled it) the socket is only bound again."""
    name = tx.socket_name(index)
    if is_success(status):
        tx.put_socket(index, phase=Phase.CONNECTED)
        tx.say(f"The peer accepts the connection: socket {name} is CONNECTED.")
    else:
        tx.put_socket(index, phase=Phase.BOUND)
        tx.say(f"The connect of socket {name} ends without a connection ({status_name(status)}).")


# -- WSK completes an IRP ------------------------------------------------------------------------------------------------------


def invokes_routine(irp: Irp, status: int) -> bool:
    """Whether the IRP's completion routine runs for this outcome: IoSetCompletionRoutine's three flags, for
    success, error and cancel (rule I-1 asks for all three TRUE, "to ensure that the IoCompletion routine is
    always called")."""
    if status == CANCELLED:
        return irp.invoke[2]
    return irp.invoke[0] if is_success(status) else irp.invoke[1]


def complete_irp(tx: Transaction, irp_id: int, status: int, information: int, inline_on: str | None) -> None:
    """WSK completes an IRP: it leaves the socket's queues, then its completion routine runs if armed for this
    outcome (rule I-1), on the caller's thread when ``inline_on`` names it, else as a new actor at the
    scenario's callback IRQL ([IO_COMPLETION_ROUTINE](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nc-wdm-io_completion_routine)).
    Completing an IRP the application already freed writes into freed memory (``irp_use_after_free``)."""
    irp = tx.irp(irp_id)
    where = "wsk" if inline_on is None else inline_on
    if irp.socket is not None:
        sock = tx.socket(irp.socket)
        tx.put_socket(
            irp.socket,
            pending=tuple(i for i in sock.pending if i != irp_id),
            doomed=tuple(d for d in sock.doomed if d[0] != irp_id),
        )
    tx.emit(
        EventKind.IRP_COMPLETED, actor=where, irp=irp_id, function=irp.function, status=status_name(status)
    )
    if irp.state == IrpState.FREED:
        tx.violate(
            "irp_use_after_free",
            f"WSK completes IRP {irp_id}, but the application already freed it: WSK writes into freed memory.",
            where,
        )
        return
    if irp.function == "WskCloseSocket" and irp.socket is not None:
        close.close_irp_completed(tx, irp.socket, irp_id)
    invoked = irp.routine is not None and invokes_routine(irp, status)
    irp = replace(
        irp,
        status=status,
        information=information,
        is_pending=False,
        needs_reuse=True,
        completions=irp.completions + 1,
        state=IrpState.IN_COMPLETION_ROUTINE if invoked else IrpState.OWNED_BY_APP,
    )
    tx.put_irp(irp)
    text = f"IRP {irp_id} ({irp.function}) completes with {status_name(status)}"
    if not invoked:
        skipped = " (its completion routine is not invoked for this outcome)" if irp.routine else ""
        tx.say(f"{text}{skipped}.")
        if irp.function == "WskCloseSocket" and irp.socket is not None:
            close.finish_close(tx, irp.socket)
        return
    _start_completion_routine(tx, irp, text, inline_on)
    tx.emit(EventKind.COMPLETION_STARTED, actor=where, irp=irp_id, text=irp.routine)


def _start_completion_routine(tx: Transaction, irp: Irp, text: str, inline_on: str | None) -> None:
    """The routine runs nested in the caller's call when WSK completes inline, else as actor ``cr<IRP id>``."""
    assert irp.routine is not None
    frame = Frame(
        program=f"routine:{irp.routine}", locals=(("Irp", irp.id),), irp=irp.id, socket=irp.socket,
        irp_use=irp.use, closes=irp.function == "WskCloseSocket",
    )  # fmt: skip
    if inline_on is not None:
        actor = tx.actor(inline_on)
        tx.put_actor(replace(actor, frames=(*actor.frames, frame)))
        tx.say(f"{text} inline: {irp.routine} runs on {inline_on}'s thread before the call returns.")
        return
    actor_id = f"cr{irp.id}"
    while any(a.id == actor_id for a in tx.state.actors):
        actor_id += "x"
    irql = tx.scenario.settings.callback_irql
    tx.put_actor(Actor(id=actor_id, kind="completion", irql=irql, frames=(frame,)))
    tx.say(f"{text}; WSK runs {irp.routine} as {actor_id} at {irql}.")


# -- the completion routine returns -------------------------------------------------------------------------------------


def routine_returned(tx: Transaction, who: str, frame: Frame, value: int | None) -> None:
    """The IRP's side of a completion routine's return. STATUS_MORE_PROCESSING_REQUIRED ends completion: the I/O
    manager touches the IRP no more, so whatever the caller did with it meanwhile (freed or reused it, in the
    caller-frees model) is safe, and an IRP still in its routine is back with the application. Any other status
    lets the I/O manager go on completing the IRP: if it was freed meanwhile, it writes into freed memory
    (IRP-B3); if it was reused, it completes someone else's operation (IRP-B5). A close IRP's routine that
    returns ends the close it completed (close step 7), even if its IRP already carries another close."""
    assert frame.irp is not None
    irp = tx.irp(frame.irp)
    if value != MORE_PROCESSING:
        if irp.state == IrpState.FREED:
            tx.violate(
                "irp_use_after_free",
                f"The I/O manager goes on completing IRP {irp.id}, which was already freed: it reads and writes "
                "freed memory.",
                who,
            )
        elif irp.use != frame.irp_use:
            tx.violate(
                "irp_reuse_while_pending",
                f"The I/O manager goes on completing IRP {irp.id}, which was reinitialised with IoReuseIrp and "
                "now carries another operation.",
                who,
            )
    if irp.state == IrpState.IN_COMPLETION_ROUTINE and irp.use == frame.irp_use:
        tx.put_irp(replace(irp, state=IrpState.OWNED_BY_APP))
    if frame.closes and frame.socket is not None:
        close.finish_close(tx, frame.socket)
