"""Explanations: why an actor cannot move, and what is wrong when the run ends.

The player shows, for every actor that cannot move, one reason in plain words; and when nothing can move any
more, the run ends in a deadlock (someone still waits) or is checked for what was left behind: IRPs never freed
(rule IRP-B6), sockets never closed, contexts never freed, retained indications and NPI captures never
released, any of which keeps [WskDeregister](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nf-wsk-wskderegister)
waiting or leaks memory ([Unregistering a Winsock Kernel Application](https://learn.microsoft.com/windows-hardware/drivers/network/unregistering-a-winsock-kernel-application)).
"""

from __future__ import annotations

from app.sim import accept, close, irps, memory, peer
from app.sim.model import Actor, Handle, Irp, IrpState, Phase, State
from app.sim.ntstatus import status_name
from app.sim.program import CompiledScenario
from app.sim.step import Violation, violation


def why_blocked(scenario: CompiledScenario, state: State, actor: Actor) -> str:
    """Why an actor with no enabled action cannot move, as the rest of a sentence after its name."""
    frame = actor.top
    if frame is None and not actor.present:
        return "was never added: every thread that was had stopped"
    if frame is None:
        return (
            "has finished its program"
            if actor.finished or actor.kind != "thread"
            else "has used every operation of its menu"
        )
    if frame.waiting is not None:
        return memory.wait_text(scenario, state, frame)
    missing = unborn_socket(scenario, state, actor)
    if missing is not None:
        return missing
    return "cannot move"


def unborn_socket(scenario: CompiledScenario, state: State, actor: Actor) -> str | None:
    """Why an actor's next statement cannot run because the socket it names is not the application's yet (an
    accepted socket before it is accepted), as the rest of a sentence after its name; None otherwise."""
    frame = actor.top
    if frame is None or frame.call is not None or frame.waiting is not None:
        return None
    statements = scenario.programs[frame.program].statements
    if frame.pc >= len(statements):
        return None
    index = accept.unborn(scenario, state, statements[frame.pc])
    if index is None:
        return None
    op = statements[frame.pc].op  # type: ignore[attr-defined]
    return f"cannot run {op} yet: {accept.unborn_text(scenario, state, index)}"


def why_wsk_idle(scenario: CompiledScenario, state: State) -> str:
    """Why WSK has nothing to do: what each pending IRP waits for, what each close waits for, and indications
    nobody can take."""
    reasons: list[str] = []
    for index, sock in enumerate(state.sockets):
        name = scenario.sockets[index].name
        for irp_id in sock.pending:
            irp = state.irp(irp_id)
            if irp.lost:
                reasons.append(f"IRP {irp_id} ({irp.function}) is lost and will never complete")
            elif irp.function == "WskReceive":
                reasons.append(f"IRP {irp_id} (WskReceive) waits for data from the peer")
            elif irp.function == "WskSend":
                reasons.append(f"IRP {irp_id} (WskSend) waits for the peer to accept data")
            elif irp.function == "WskDisconnect":
                reasons.append(f"IRP {irp_id} (WskDisconnect) waits for the peer to acknowledge the FIN")
            elif irp.function == "WskReceiveFrom":
                reasons.append(f"IRP {irp_id} (WskReceiveFrom) waits for a datagram")
            elif irp.function == "WskAccept":
                reasons.append(f"IRP {irp_id} (WskAccept) waits for an incoming connection")
        if sock.handle == Handle.CLOSING and not sock.freed:
            if sock.callbacks:
                reasons.append(f"the close of {name} waits for {', '.join(sock.callbacks)} to return")
            elif not sock.close_returned:
                reasons.append(f"the close of {name} waits for WskCloseSocket to return")
            elif close.cancelled_routines_running(scenario, state, index):
                reasons.append(f"the close of {name} waits for the completion routines of cancelled IRPs")
        if sock.inbound and sock.handle in (Handle.OPEN, Handle.NOT_FUNCTIONAL):
            if scenario.sockets[index].category == "datagram":
                reasons.append(f"a datagram on {name} waits for a WskReceiveFrom or an enabled callback")
            else:
                reasons.append(f"an indication on {name} waits for a WskReceive or an enabled callback")
        if accept.backlog(scenario, state, index) and sock.handle == Handle.OPEN:
            reasons.append(
                f"an incoming connection on {name} waits for a WskAccept or an enabled accept callback"
            )
    return "; ".join(reasons) if reasons else "has nothing to do: no IRP can complete and no callback is due"


def why_peer_idle(scenario: CompiledScenario, state: State) -> str:
    """Why the peer does nothing: it has nothing left to send, or, socket by socket, there is no connection (not
    yet, or no more) and no bound datagram socket for it to send to."""
    if any(peer.peer_alive(scenario, state, index) for index in range(len(state.sockets))):
        return "has nothing more to send"
    reasons = [
        reason
        for index in range(len(state.sockets))
        if (reason := _why_no_peer(scenario, state, index)) is not None
    ]
    return "can do nothing: " + "; ".join(reasons)


def _why_no_peer(scenario: CompiledScenario, state: State, index: int) -> str | None:
    """Why the peer cannot act on one socket, as a clause; None for a socket that does not exist for the
    application yet (its listening socket's clause covers it)."""
    sock = state.sockets[index]
    decl = scenario.sockets[index]
    if sock.handle == Handle.NOT_ACCEPTED:
        return None
    if sock.handle in (Handle.CLOSING, Handle.CLOSED):
        return f"socket {decl.name} is closed"
    if sock.phase == Phase.LISTENING:
        return f"every connection declared for socket {decl.name} has arrived"
    if decl.category == "datagram":
        return f"datagram socket {decl.name} is not bound"
    if sock.phase == Phase.CONNECTING:
        return f"socket {decl.name} is still connecting: there is no connection yet"
    if sock.phase != Phase.CONNECTED:
        return f"socket {decl.name} is {sock.phase} and has no connection"
    return f"the connection on socket {decl.name} is closed or reset"


def end_of_run_violations(scenario: CompiledScenario, state: State) -> tuple[Violation, ...]:
    """For a state where nothing can move: a deadlock if anyone still waits (rules S8, S9, S15), for an event,
    a release, WskDeregister, or a socket that is never accepted; else every leak: IRPs never freed
    (``irp_leak``), and sockets, contexts, retained indications and NPI captures left at unload
    (``leak_at_unload``). A socket that was never accepted was never the application's: it leaks nothing."""
    waiting = []
    for a in state.actors:
        if a.top is not None and a.top.waiting is not None:
            waiting.append(f"{a.id} {memory.wait_text(scenario, state, a.top)}")
        elif (missing := unborn_socket(scenario, state, a)) is not None:
            waiting.append(f"{a.id} {missing}")
    if waiting:
        return (violation("deadlock", f"No action is possible while {'; '.join(waiting)}."),)
    found: list[Violation] = []
    for irp in state.irps:
        if irp.state != IrpState.FREED:
            found.append(violation("irp_leak", leak_text(irp)))
    leaks = []
    for index, sock in enumerate(state.sockets):
        name = scenario.sockets[index].name
        if sock.handle == Handle.NOT_ACCEPTED:
            continue
        if sock.handle == Handle.CLOSING:
            # WskCloseSocket was called, but its IRP never came back (it was freed under WSK, or lost).
            leaks.append(f"the close of socket {name} never completed, so WskDeregister would wait forever")
        elif sock.handle != Handle.CLOSED:
            leaks.append(f"socket {name} was never closed, so WskDeregister would wait forever")
        if not sock.context_freed:
            leaks.append(f"the context of socket {name} ({scenario.sockets[index].context}) was never freed")
        if sock.retained:
            leaks.append(f"{sock.retained} data indication list(s) of socket {name} were never released")
    if state.captures:
        leaks.append(f"{state.captures} provider NPI capture(s) were never released")
    if leaks:
        found.append(violation("leak_at_unload", "At the end of the run " + "; ".join(leaks) + "."))
    return tuple(found)


def leak_text(irp: Irp) -> str:
    """Why an IRP was never freed, in one sentence: lost in a dead socket, still pending, its routine ran but
    kept it, or its routine was never invoked for that outcome (rule I-1)."""
    if irp.lost:
        return f"IRP {irp.id} ({irp.function}) was swallowed by a call on a dead socket and never completed."
    if irp.state == IrpState.OWNED_BY_WSK:
        return f"IRP {irp.id} ({irp.function}) is still pending inside WSK; nothing will complete it."
    if irp.state == IrpState.OWNED_BY_APP and irp.routine and irp.status is not None:
        invoked = irps.invokes_routine(irp, irp.status)
        why = (
            "its completion routine ran but did not free it"
            if invoked
            else (
                "its completion routine was not invoked for that outcome (rule I-1: arm it with TRUE, TRUE, TRUE)"
            )
        )
        return f"IRP {irp.id} ({irp.function}) completed with {status_name(irp.status)} but was never freed: {why}."
    return f"IRP {irp.id} was allocated but never freed."
