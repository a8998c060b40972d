"""Completion routines and event callbacks: the application's code that WSK runs.

A completion routine runs when WSK completes an IRP armed with it (the IRP chapter starts it); it must return
STATUS_MORE_PROCESSING_REQUIRED for an IRP the application allocated
([Using IRPs with Winsock Kernel Functions](https://learn.microsoft.com/windows-hardware/drivers/network/using-irps-with-winsock-kernel-functions)).
Event callbacks are how WSK tells the application that data or a disconnect arrived
([Winsock Kernel Events](https://learn.microsoft.com/windows-hardware/drivers/network/winsock-kernel-events));
a close waits for those in progress before it completes
([Closing a Socket](https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket)).
Neither may wait for WSK (the memory chapter's waits check that).
"""

from __future__ import annotations

from app.sim import accept, irps
from app.sim.model import SEGMENT, Actor, EventKind, Frame, Handle, Phase, State
from app.sim.ntstatus import STATUS, status_name
from app.sim.program import CompiledScenario
from app.sim.records import replace
from app.sim.scenario import EventName
from app.sim.step import Action, Move, Transaction

PENDING = STATUS["STATUS_PENDING"]
MORE_PROCESSING = STATUS["STATUS_MORE_PROCESSING_REQUIRED"]


def return_from(tx: Transaction, who: str, value: int | None) -> None:
    """The actor's innermost program returns ``value``. A completion routine must return
    STATUS_MORE_PROCESSING_REQUIRED (rule IRP-B4 / I-2) and gives its IRP back to the application, which may end
    a close (close step 7; the IRP chapter's ``routine_returned``); an event callback returns to WSK; a function returns to its caller; a thread that
    runs off its program finishes. A routine or callback that returned is no longer an actor."""
    actor = tx.actor(who)
    frame = actor.top
    assert frame is not None
    program = tx.program(frame)
    frames = actor.frames[:-1]
    shown = "" if value is None else f" {status_name(value)}"
    if program.kind == "completion":
        assert frame.irp is not None
        if value != MORE_PROCESSING:
            tx.violate(
                "completion_wrong_return",
                f"{program.title} returns{shown or ' nothing'} for IRP {frame.irp} instead of "
                "STATUS_MORE_PROCESSING_REQUIRED.",
                who,
            )
        irps.routine_returned(tx, who, frame, value)
        tx.say(f"{program.title} returns{shown}.")
        tx.emit(
            EventKind.COMPLETION_RETURNED,
            actor=who,
            irp=frame.irp,
            status=shown.strip() or None,
            text=program.title,
        )
    elif program.kind == "callback":
        callback_returned(tx, who, frame, value)
        tx.say(f"{program.title} returns{shown} to WSK.")
    elif frames:
        tx.say(f"{who} returns{shown} from {program.title}.")
    else:
        what = f" {program.title.split(': ', 1)[-1]}" if program.key.startswith("menu:") else ""
        tx.say(f"{who} finishes{what}, returning{shown}." if shown else f"{who} finishes{what}.")
    actor = tx.actor(who)
    if frames or actor.kind == "thread":
        thread = next((t for t in tx.scenario.threads if t.name == who), None)
        finished = not frames and thread is not None and thread.program is not None
        tx.put_actor(replace(actor, frames=frames, finished=finished))
        if finished:
            tx.emit(EventKind.THREAD_FINISHED, actor=who)
    else:
        tx.drop_actor(who)


def callback_returned(tx: Transaction, who: str, frame: Frame, value: int | None) -> None:
    """An event callback returns to WSK. For a receive event with data
    ([WskReceiveEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive_event)),
    STATUS_PENDING retains the data indication (it must be released with WskRelease before the close: rule
    UB-3), and STATUS_DATA_NOT_ACCEPTED puts the data back and suspends receive events until the next
    WskReceive. A receive-from event for a datagram
    ([WskReceiveFromEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive_from_event))
    retains it the same way, but STATUS_DATA_NOT_ACCEPTED disables the callback until the application enables it
    again with WskControlSocket. An accept event
    ([WskAcceptEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_accept_event))
    that returns STATUS_SUCCESS accepts the socket it was offered; any other status refuses it, and WSK closes
    it."""
    assert frame.socket is not None
    index = frame.socket
    sock = tx.socket(index)
    changes: dict[str, object] = {"callbacks": tuple(c for c in sock.callbacks if c != who)}
    if frame.event == "accept" and frame.accepting is not None:
        if value == STATUS["STATUS_SUCCESS"]:
            accept.accept(tx, frame.accepting, f"{tx.program(frame).title} accepts the connection")
        else:
            accept.reject(tx, frame.accepting)
    if frame.event in ("receive", "receive_from") and frame.consumed == "data":
        if value == PENDING:
            changes["retained"] = sock.retained + 1
            tx.say("The application keeps the data indication (it must WskRelease it before closing).")
            if sock.handle in (Handle.CLOSING, Handle.CLOSED):
                tx.violate(
                    "close_with_retained_indication",
                    f"{who} retains a data indication on socket {tx.socket_name(index)} after WskCloseSocket was "
                    "called: it can never be released legally.",
                    who,
                )
        elif value == STATUS["STATUS_DATA_NOT_ACCEPTED"]:
            changes["inbound"] = ("data", *sock.inbound)
            if frame.event == "receive":
                changes["receive_suspended"] = True
            else:
                changes["events"] = tuple(e for e in sock.events if e != "receive_from")
                tx.say(
                    "WSK keeps the datagram buffered and disables the receive-from event callback until the "
                    "application enables it again."
                )
    tx.put_socket(index, **changes)
    tx.emit(
        EventKind.CALLBACK_RETURNED,
        actor=who,
        socket=tx.socket_name(index),
        status=None if value is None else status_name(value),
    )


def callback_moves(scenario: CompiledScenario, state: State, index: int) -> list[Move]:
    """Whether WSK may now call an event callback of socket ``index``: not for a freed or closed socket, nor
    once its close has begun unless ``callbacks_after_close_starts`` (the documents only speak of callbacks
    already in progress). Which callback depends on the socket: a datagram socket's receive-from event, or a
    connection's receive or disconnect event, or a listening socket's accept event. See [Winsock Kernel Events](https://learn.microsoft.com/windows-hardware/drivers/network/winsock-kernel-events)."""
    sock = state.sockets[index]
    if sock.freed or sock.handle == Handle.CLOSED:
        return []
    if sock.handle == Handle.CLOSING and not scenario.settings.callbacks_after_close_starts:
        return []
    if scenario.sockets[index].category == "datagram":
        return _receive_from_moves(scenario, state, index)
    if sock.phase == Phase.LISTENING:
        return _accept_moves(scenario, state, index)
    return _connection_event_moves(scenario, state, index)


def _connection_event_moves(scenario: CompiledScenario, state: State, index: int) -> list[Move]:
    """A connection's callback for the first indication waiting: the receive event for data, the disconnect
    event for FIN or RST (or the receive event with DataIndication == NULL for a reset when no disconnect event
    is enabled). Not while a WskReceive is pending, which takes precedence (rule E-7); the receive event never
    twice at once (rule E-5); and one callback at a time per socket with ``serialize_callbacks``."""
    sock = state.sockets[index]
    if not sock.inbound:
        return []
    if _pending_takes_precedence(scenario, state, sock.pending, "WskReceive"):
        return []  # a pending receive takes precedence over the receive event (rule E-7)
    head = sock.inbound[0]
    event: EventName = "receive" if head == "data" else "disconnect"
    if head == "rst" and "disconnect" not in sock.events:
        event = "receive"
    if event not in sock.events or (event == "receive" and sock.receive_suspended):
        return []
    running = [state.actor(a) for a in sock.callbacks]
    if any(a.frames and a.frames[0].event == event == "receive" for a in running):
        return []  # WskReceiveEvent is always called serially (rule E-5)
    if scenario.settings.serialize_callbacks and running:
        return []
    routine = scenario.sockets[index].callbacks[event]
    what = {"data": f"{SEGMENT} bytes", "fin": "a graceful disconnect", "rst": "an abortive disconnect"}[head]
    if head == "rst" and event == "receive":
        what = "DataIndication == NULL (the socket is no longer functional)"
    code = "rcv" if event == "receive" else "dsc"
    label = f"WSK: call {routine} ({'WskReceiveEvent' if event == 'receive' else 'WskDisconnectEvent'}) with {what}"
    data = head == "data"
    frame = Frame(
        program=f"routine:{routine}", socket=index, event=event, consumed=head,
        locals=(("DataIndication", int(data)), ("Flags", int(head == "rst")),
                ("BytesIndicated", SEGMENT if data else 0)),
    )  # fmt: skip

    def deliver(tx: Transaction) -> None:
        start_callback(tx, index, frame, what, consumes=True)

    return [Move(Action(f"wsk-{code}-{scenario.sockets[index].name}", "wsk", label), deliver)]


def _pending_takes_precedence(
    scenario: CompiledScenario, state: State, pending: tuple[int, ...], function: str
) -> bool:
    """Whether a pending IRP of ``function`` keeps WSK from calling the matching event callback. The documentation
    gives it precedence but warns that "race conditions exist where the WSK subsystem could still call" the
    callback (rule E-7, [WskReceiveEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive_event)):
    the setting ``callbacks_despite_pending`` lets the callback come anyway, as a choice of its own."""
    if scenario.settings.callbacks_despite_pending:
        return False
    return any(state.irp(i).function == function for i in pending)


def _receive_from_moves(scenario: CompiledScenario, state: State, index: int) -> list[Move]:
    """A datagram socket's receive-from event for the first datagram waiting
    ([WskReceiveFromEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive_from_event)):
    only while it is enabled, and not while a WskReceiveFrom is pending, which takes precedence (rule E-7).
    Whether this callback is serial is not documented: ``serialize_callbacks`` decides."""
    sock = state.sockets[index]
    if not sock.inbound or "receive_from" not in sock.events:
        return []
    if _pending_takes_precedence(scenario, state, sock.pending, "WskReceiveFrom"):
        return []  # a pending receive-from takes precedence over the event (rule E-7)
    if scenario.settings.serialize_callbacks and sock.callbacks:
        return []
    routine = scenario.sockets[index].callbacks["receive_from"]
    what = f"a {SEGMENT}-byte datagram"
    label = f"WSK: call {routine} (WskReceiveFromEvent) with {what}"
    frame = Frame(
        program=f"routine:{routine}", socket=index, event="receive_from", consumed="data",
        locals=(("DataIndication", 1), ("Flags", 0), ("BytesIndicated", SEGMENT)),
    )  # fmt: skip

    def deliver(tx: Transaction) -> None:
        start_callback(tx, index, frame, what, consumes=True)

    return [Move(Action(f"wsk-rfr-{scenario.sockets[index].name}", "wsk", label), deliver)]


def _accept_moves(scenario: CompiledScenario, state: State, index: int) -> list[Move]:
    """A listening socket's accept event for the oldest connection in its backlog
    ([WskAcceptEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_accept_event)):
    only while it is enabled, and not while a WskAccept is pending, which takes precedence (rule E-7). Whether
    accept callbacks may overlap is not documented: ``serialize_callbacks`` decides."""
    sock = state.sockets[index]
    waiting = accept.backlog(scenario, state, index)
    if not waiting or "accept" not in sock.events:
        return []
    if _pending_takes_precedence(scenario, state, sock.pending, "WskAccept"):
        return []  # a pending accept takes precedence over the accept event (rule E-7)
    if scenario.settings.serialize_callbacks and sock.callbacks:
        return []
    offered = waiting[0]
    routine = scenario.sockets[index].callbacks["accept"]
    what = f"the incoming connection that will be socket {scenario.sockets[offered].name}"
    label = f"WSK: call {routine} (WskAcceptEvent) with {what}"
    frame = Frame(
        program=f"routine:{routine}", socket=index, event="accept", accepting=offered,
        locals=(("AcceptSocket", 1), ("Flags", 0)),
    )  # fmt: skip

    def deliver(tx: Transaction) -> None:
        start_callback(tx, index, frame, what, consumes=False)
        accept.offer(tx, offered)

    return [Move(Action(f"wsk-acc-{scenario.sockets[index].name}", "wsk", label), deliver)]


def start_callback(tx: Transaction, index: int, frame: Frame, what: str, consumes: bool) -> None:
    """WSK calls an event callback of socket ``index``: it runs as a new actor ``cb<n>`` at the scenario's
    callback IRQL, and the close of the socket waits for it (close step 4). A callback given an indication
    takes it off the socket's queue (``consumes``)."""
    scenario = tx.scenario
    sock = tx.socket(index)
    name = tx.socket_name(index)
    actor_id = f"cb{tx.state.next_callback}"
    tx.put_actor(Actor(id=actor_id, kind="callback", irql=scenario.settings.callback_irql, frames=(frame,)))
    tx.state = replace(tx.state, next_callback=tx.state.next_callback + 1)
    inbound = sock.inbound[1:] if consumes else sock.inbound
    tx.put_socket(index, inbound=inbound, callbacks=(*sock.callbacks, actor_id))
    routine = tx.program(frame).title
    tx.say(f"WSK calls {routine} on socket {name} with {what}; it runs as {actor_id}.")
    tx.emit(EventKind.CALLBACK_STARTED, actor=actor_id, socket=name, text=routine)
