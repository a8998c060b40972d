"""The simulated world at one instant: immutable, hashable, and built only from tuples and frozen records.

Equal worlds compare and hash equal, which is what lets the explorer visit each state once. Identifiers come
from counters in the state itself (IRP 1, 2, ...; callback executions cb1, cb2, ...), never from memory addresses,
so a replay always names things the same way.

The names of states, event kinds and waits are ``StrEnum`` members: they compare, hash, format and serialise
exactly as the strings they replace, so traces, links and JSON answers are unchanged, while the type checker
catches a misspelt state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from app.sim.program import CompiledScenario
from app.sim.records import remember_hash, replace
from app.sim.scenario import CONNECTED_STATES, EventName, SocketDecl


class IrpState(StrEnum):
    """Where an application-allocated IRP is in its life, as [Using IRPs with Winsock Kernel Functions](https://learn.microsoft.com/windows-hardware/drivers/network/using-irps-with-winsock-kernel-functions)
    describes it: allocated, armed with a completion routine, owned by WSK while a call holds it, in its
    completion routine, back with the application, and freed."""

    ALLOCATED = "ALLOCATED"
    ARMED = "ARMED"
    OWNED_BY_WSK = "OWNED_BY_WSK"
    IN_COMPLETION_ROUTINE = "IN_COMPLETION_ROUTINE"
    OWNED_BY_APP = "OWNED_BY_APP"
    FREED = "FREED"


class Handle(StrEnum):
    """The socket handle as the application sees it. It dies when WskCloseSocket is called, not when the close
    completes ([Closing a Socket](https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket));
    NOT_FUNCTIONAL is the state the send and receive pages describe after a reset. A scenario starts with its
    sockets, except those a listening socket will accept: NOT_ACCEPTED until WSK gives the application the
    accepted socket ([WskAccept](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_accept)),
    there is no such socket to use, close or wait for."""

    NOT_ACCEPTED = "NOT_ACCEPTED"
    OPEN = "OPEN"
    NOT_FUNCTIONAL = "NOT_FUNCTIONAL"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"


class Phase(StrEnum):
    """WSK's side of a socket, before the connection states of ``Socket.protocol``: CREATED (not bound), BOUND,
    LISTENING, CONNECTING while a [WskConnect](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_connect)
    is pending, and CONNECTED."""

    CREATED = "CREATED"
    BOUND = "BOUND"
    LISTENING = "LISTENING"
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    # A socket a listening socket will accept, before it is the application's (app/sim/accept.py): no connection
    # has arrived for it yet; one has and waits in the backlog; WskAcceptEvent is deciding; the callback refused
    # it, or the listening socket was closed first, so WSK closed it and it will never be the application's.
    NO_CONNECTION = "NO_CONNECTION"
    INCOMING = "INCOMING"
    ACCEPTING = "ACCEPTING"
    REJECTED = "REJECTED"
    DROPPED = "DROPPED"


class WaitKind(StrEnum):
    """What a blocked actor waits for: a kernel event ([KeWaitForSingleObject](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-kewaitforsingleobject)),
    the release of run-down protection ([ExWaitForRundownProtectionRelease](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-exwaitforrundownprotectionrelease)),
    or the end of its open sockets and NPI captures ([WskDeregister](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nf-wsk-wskderegister)).
    RELEASED is a wait on a notification event that a KeSetEvent has satisfied: the waiter is ready to return,
    whatever happens to the event before it does (a KeClearEvent cannot take the release back). OFFERED is a wait
    on a synchronization event that was waiting when a KeSetEvent satisfied one of its waiters: which one is the
    kernel's choice, so each such waiter may be the one (``State.offers`` counts the releases not yet taken)."""

    EVENT = "event"
    RUNDOWN = "rundown"
    DEREGISTER = "deregister"
    RELEASED = "released"
    OFFERED = "offered"


class EventKind(StrEnum):
    """The stable kinds of what happens during a step; the API, the player's timeline and the golden traces
    use these names."""

    OPERATION_STARTED = "operation_started"
    THREAD_ADDED = "thread_added"
    THREAD_FINISHED = "thread_finished"
    IRP_ALLOCATED = "irp_allocated"
    IRP_ARMED = "irp_armed"
    IRP_REUSED = "irp_reused"
    IRP_FREED = "irp_freed"
    IRP_CANCEL_REQUESTED = "irp_cancel_requested"
    IRP_COMPLETED = "irp_completed"
    COMPLETION_STARTED = "completion_started"
    COMPLETION_RETURNED = "completion_returned"
    CALL_ENTERED = "call_entered"
    CALL_RETURNED = "call_returned"
    ABORTIVE_DISCONNECT = "abortive_disconnect"
    SOCKET_CLOSING = "socket_closing"
    SOCKET_FREED = "socket_freed"
    SOCKET_CLOSED = "socket_closed"
    CONTEXT_FREED = "context_freed"
    CALLBACK_STARTED = "callback_started"
    CALLBACK_RETURNED = "callback_returned"
    WAIT_STARTED = "wait_started"
    WAIT_ENDED = "wait_ended"
    PEER_DATA = "peer_data"
    PEER_FIN = "peer_fin"
    PEER_RST = "peer_rst"
    PEER_CONNECT = "peer_connect"
    VIOLATION = "violation"


#: What arrives from the peer, in order: a data segment, a graceful disconnect, or a reset.
Indication = Literal["data", "fin", "rst"]
#: Who runs an actor's statements: an application thread, or a routine WSK calls.
ActorKind = Literal["thread", "completion", "callback"]
#: What the peer has seen of our side of the connection.
PeerSaw = Literal["nothing", "fin", "rst"]
#: One wait: its kind and the memory cell it watches (0 for WskDeregister).
Wait = tuple[WaitKind, int]

#: Bytes in one data segment from the peer.
SEGMENT = 100

# The members under their old names, which other modules and tests import.
ALLOCATED = IrpState.ALLOCATED
ARMED = IrpState.ARMED
OWNED_BY_WSK = IrpState.OWNED_BY_WSK
IN_COMPLETION_ROUTINE = IrpState.IN_COMPLETION_ROUTINE
OWNED_BY_APP = IrpState.OWNED_BY_APP
FREED = IrpState.FREED
OPEN = Handle.OPEN
NOT_FUNCTIONAL = Handle.NOT_FUNCTIONAL
CLOSING = Handle.CLOSING
CLOSED = Handle.CLOSED


@remember_hash
@dataclass(frozen=True, slots=True)
class Irp:
    """An application-allocated IRP and where it is in its life cycle."""

    id: int
    state: IrpState = IrpState.ALLOCATED
    routine: str | None = None  # completion routine name, once armed
    invoke: tuple[bool, bool, bool] = (True, True, True)  # on success, on error, on cancel
    function: str | None = None  # the WSK function it was last passed to
    socket: int | None = None
    status: int | None = None  # IoStatus.Status once completed
    information: int = 0
    pending_returned: bool = False
    is_pending: bool = False  # queued inside WSK (after the call returned STATUS_PENDING)
    needs_reuse: bool = False  # completed once; must pass through IoReuseIrp before the next WSK call
    lost: bool = False  # swallowed by undefined behaviour: WSK will never complete it
    completions: int = 0  # completions since it was last (re)initialised
    # Each use of the IRP (from IoAllocateIrp or IoReuseIrp to its completion) has its own number, so that what
    # is known about one use (whose close it completes, which routine owns it) never applies to the next.
    use: int = 0
    _hash: int = field(default=0, init=False, repr=False, compare=False)  # remember_hash keeps it here


@dataclass(frozen=True, slots=True)
class Call:
    """A socket function an actor has entered and not yet returned from."""

    function: str
    socket: int
    irp: int | None
    undefined: bool = False  # entered on a closed socket: what WSK does is undefined
    completed_inline: bool = False
    status: int | None = None  # the status the call will return, once decided


@remember_hash
@dataclass(frozen=True, slots=True)
class Frame:
    """One activation of a program: a thread's script, a sandbox operation, or a routine WSK runs."""

    program: str
    pc: int = 0
    locals: tuple[tuple[str, int], ...] = ()
    irp: int | None = None  # the IRP a completion routine is completing
    irp_use: int = 0  # which use of that IRP the routine owns (``Irp.use``): it may be reused under it
    closes: bool = False  # the routine completes a close IRP: its return ends the close (close step 7)
    socket: int | None = None  # the socket an event callback serves
    event: EventName | None = None  # which callback
    accepting: int | None = None  # the socket an accept callback is offered (WskAcceptEvent's AcceptSocket)
    consumed: Indication | None = None  # the indication a callback was given
    call: Call | None = None
    waiting: Wait | None = None
    _hash: int = field(default=0, init=False, repr=False, compare=False)  # remember_hash keeps it here

    def local(self, name: str) -> int | None:
        """The value of a local variable of this activation, or None if it was never set."""
        for key, value in self.locals:
            if key == name:
                return value
        return None

    def with_local(self, name: str, value: int) -> Frame:
        """This frame with one local set; the others keep their order, so equal histories give equal frames."""
        kept = tuple((k, v) for k, v in self.locals if k != name)
        return replace(self, locals=(*kept, (name, value)))


@remember_hash
@dataclass(frozen=True, slots=True)
class Actor:
    """Something that runs statements: an application thread, or a completion routine or event callback
    executing in WSK's context."""

    id: str
    kind: ActorKind
    irql: str
    frames: tuple[Frame, ...] = ()
    finished: bool = False
    ops_used: tuple[tuple[str, int], ...] = ()  # sandbox: how often each menu operation was started
    present: bool = True  # False for a live sandbox thread the user has not added yet (``joins: when_added``)
    _hash: int = field(default=0, init=False, repr=False, compare=False)  # remember_hash keeps it here

    @property
    def top(self) -> Frame | None:
        """The innermost activation: the one that runs next (None for an idle sandbox thread)."""
        return self.frames[-1] if self.frames else None


@remember_hash
@dataclass(frozen=True, slots=True)
class Socket:
    """One WSK_SOCKET: the handle as the application sees it, and WSK's side of the connection."""

    handle: Handle = Handle.OPEN
    phase: str = Phase.CONNECTED  # a Phase; a plain string compares and hashes equal to its member
    send_shutting: bool = False
    send_shut: bool = False
    recv_shut: bool = False
    aborted: bool = False
    freed: bool = False  # WSK has freed the WSK_SOCKET memory
    calls: tuple[tuple[str, str], ...] = ()  # (actor id, function) calls in progress
    pending: tuple[int, ...] = ()  # IRPs WSK holds, in the order they were queued
    doomed: tuple[tuple[int, int], ...] = ()  # (IRP, status): must be completed with this failure
    cancelled_by_close: tuple[int, ...] = ()
    callbacks: tuple[str, ...] = ()  # actor ids of event callbacks in progress
    events: tuple[str, ...] = ()  # enabled event callbacks
    receive_suspended: bool = False  # after STATUS_DATA_NOT_ACCEPTED, until the next WskReceive
    inbound: tuple[Indication, ...] = ()  # indications from the peer not yet consumed
    retained: int = 0  # data indication lists the application holds (receive event returned PENDING)
    close_irp: int | None = None
    close_returned: bool = False  # the WskCloseSocket call returned STATUS_PENDING
    close_irp_completed: bool = (
        False  # WSK completed the close IRP (close step 6), whatever became of it since
    )
    context_freed: bool = False
    peer_data: int = 0
    peer_fin: bool = False
    peer_rst: bool = False
    peer_saw: PeerSaw = "nothing"
    _hash: int = field(default=0, init=False, repr=False, compare=False)  # remember_hash keeps it here

    @property
    def protocol(self) -> str:
        """The provider-side protocol state: a graceful [WskDisconnect](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_disconnect)
        shuts the send side, the peer's FIN ([WskDisconnectEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_disconnect_event))
        the receive side, and a reset aborts both."""
        if self.phase != "CONNECTED":
            return self.phase
        if self.aborted:
            return "ABORTED"
        if self.send_shut and self.recv_shut:
            return "FULLY_DISCONNECTED"
        if self.send_shut:
            return "SEND_SHUT"
        if self.send_shutting:
            return "SEND_SHUTTING"
        if self.recv_shut:
            return "RECV_SHUT"
        return "CONNECTED"


@dataclass(frozen=True, slots=True)
class Rundown:
    """EX_RUNDOWN_REF as {active, count}: [Run-Down Protection](https://learn.microsoft.com/windows-hardware/drivers/kernel/run-down-protection).
    Once ``active``, acquisitions fail; the waiter returns when ``count`` reaches zero."""

    active: bool = False
    count: int = 0


@remember_hash
@dataclass(frozen=True, slots=True)
class State:
    """The whole world: actors, sockets, IRPs, memory cells and the registration, plus the rules broken so far."""

    actors: tuple[Actor, ...]
    sockets: tuple[Socket, ...]
    irps: tuple[Irp, ...] = ()
    words: tuple[int, ...] = ()  # one slot per memory cell; rundown and event cells use their own tuples
    rundowns: tuple[Rundown, ...] = ()
    events: tuple[bool, ...] = ()
    # Per memory cell: KeSetEvents on a synchronization event that satisfied a waiter none of its waiters has yet
    # taken (each goes to one of the waits OFFERED it).
    offers: tuple[int, ...] = ()
    captures: int = 0
    deregistering: bool = False
    deregistered: bool = False
    next_callback: int = 1
    violated: tuple[str, ...] = ()  # kinds detected so far (sorted), part of the state so outcomes are exact
    _hash: int = field(default=0, init=False, repr=False, compare=False)  # remember_hash keeps it here

    def actor(self, actor_id: str) -> Actor:
        """The actor with this id; KeyError if there is none (a routine that returned is gone)."""
        for a in self.actors:
            if a.id == actor_id:
                return a
        raise KeyError(actor_id)

    def irp(self, irp_id: int) -> Irp:
        """IRP ``irp_id``: IRPs are numbered from 1 in allocation order and never leave the state."""
        return self.irps[irp_id - 1]

    @property
    def open_sockets(self) -> int:
        """Sockets the application has and has not closed yet, accepted ones included: what
        [WskDeregister](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nf-wsk-wskderegister) waits for."""
        return sum(1 for s in self.sockets if s.handle not in (Handle.CLOSED, Handle.NOT_ACCEPTED))


def peer_may_act(decl: SocketDecl) -> bool:
    """Whether the peer of a declared socket may ever act, so that its budget (``peer``) is there from the start:
    a connected socket's peer, or a bound one's, once a WskConnect has connected it; and whoever sends datagrams
    to a datagram socket, while it is bound. The peer acts only while the socket can hear it (app/sim/peer.py)."""
    if decl.category in ("connection", "stream"):
        return decl.state in CONNECTED_STATES or decl.state == Phase.BOUND
    return decl.category == "datagram"


def initial_state(scenario: CompiledScenario) -> State:
    """The world before the first step: threads at their first statement, sockets as declared."""
    actors = []
    for t in scenario.threads:
        frames = (Frame(program=t.program),) if t.program is not None else ()
        actors.append(
            Actor(id=t.name, kind="thread", irql=t.irql, frames=frames, present=t.joins == "at_start")
        )
    sockets = []
    for decl in scenario.sockets:
        connected = decl.category in ("connection", "stream") and decl.state in CONNECTED_STATES
        proto = decl.state
        peer = peer_may_act(decl)
        accepted = decl.accepted_from is not None
        sockets.append(
            Socket(
                handle=Handle.NOT_ACCEPTED if accepted else Handle.OPEN,
                phase=Phase.NO_CONNECTION if accepted else Phase.CONNECTED if connected else decl.state,
                send_shut=proto in ("SEND_SHUT", "FULLY_DISCONNECTED"),
                recv_shut=proto in ("RECV_SHUT", "FULLY_DISCONNECTED"),
                aborted=proto == "ABORTED",
                events=tuple(sorted(decl.events)),
                peer_data=decl.peer.data if peer else 0,
                peer_fin=decl.peer.fin and peer,
                peer_rst=decl.peer.rst and peer,
            )
        )
    memory = scenario.memory
    return State(
        actors=tuple(actors),
        sockets=tuple(sockets),
        words=tuple(cell.initial if cell.kind == "word" else 0 for cell in memory),
        rundowns=tuple(Rundown() for _ in memory),
        events=tuple(cell.kind == "event" and cell.initial != 0 for cell in memory),
        offers=(0,) * len(memory),
        captures=scenario.source.registration.npi_captured,
    )
