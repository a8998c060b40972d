"""What a shared step reads and writes, so that the explorer can tell two steps that commute.

Private steps commute with everything (app/sim/independence.py). Shared steps commute when neither writes what the
other reads or writes: a thread's ExAcquireRundownProtection and another's WskSend touch different things, and
taking them in either order reaches the same world. The explorer's sleep sets use this: once it has followed one
step from a state, it need not follow it again after a step that commutes with it, whose other order it has
already followed.

A footprint names the parts of the world a step touches:

- ``("mem", i)``: memory cell i (a word, a run-down block or an event);
- ``("sock", j)``: everything about socket j, its calls, queues, handle, context and peer;
- ``("irp", n)``: IRP n;
- ``("reg",)``: the registration (NPI captures, WskDeregister);
- ``("routines",)``: which completion routines are running. Starting and finishing one commute with each other
  (they only add to and take from the set), and conflict with a close that waits for them;
- ``("actor", id)``: an actor's own record;
- ``EVERYTHING``: a step this module cannot classify, which conflicts with every step.

What a step *writes* is read off the step itself: the parts of the world that differ before and after it. What it
*reads* cannot be seen that way, so it is listed here, per kind of step, from the chapters that run it, and
generously: a step that reads a socket reads all of it, and when a scenario has listening sockets, every socket
step reads every socket. A new IRP (IoAllocateIrp) touches nothing another step could have touched, and neither
do the numbers of new IRPs and callbacks, which the explorer's state key ignores (app/sim/canon.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.sim import scenario as sc
from app.sim.model import Actor, Frame, State, WaitKind
from app.sim.program import CompiledProgram, CompiledScenario
from app.sim.step import ENVIRONMENT, Move

Part = tuple[str, ...] | tuple[str, int]
EVERYTHING: Part = ("*",)
ROUTINES: Part = ("routines",)
REGISTRATION: Part = ("reg",)


@dataclass(frozen=True, slots=True)
class Footprint:
    """The parts a step reads, writes, and adds to or takes from (``grows``: changes that commute with each
    other)."""

    reads: frozenset[Part] = frozenset()
    writes: frozenset[Part] = frozenset()
    grows: frozenset[Part] = frozenset()

    def commutes_with(self, other: Footprint) -> bool:
        """Whether the two steps commute: neither writes what the other touches, and only growths meet."""
        if EVERYTHING in self.reads or EVERYTHING in other.reads:
            return False
        mine = self.reads | self.writes | self.grows
        theirs = other.reads | other.writes | other.grows
        return not (
            self.writes & theirs
            or other.writes & mine
            or self.grows & other.reads
            or other.grows & self.reads
        )

    def __or__(self, other: Footprint) -> Footprint:
        return Footprint(self.reads | other.reads, self.writes | other.writes, self.grows | other.grows)


NOTHING = Footprint()
#: A routine's or callback's last step, as far as other actors can tell: it leaves the set of running routines.
ROUTINE_ENDS = Footprint(grows=frozenset({ROUTINES}))
#: The IRP routines: they read the IRP a local names (and IoCancelIrp, that IRP's socket).
IRP_ROUTINES = (sc.IoSetCompletionRoutine, sc.IoReuseIrp, sc.IoFreeIrp, sc.IoCancelIrp, sc.ReadIoStatus)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one statement reads, as far as the statement alone says (``Footprints._plan``)."""

    cells: frozenset[Part]
    pending_returned: bool
    kind: str  # plain, socket, registration, return, irp, or everything
    socket: int | None
    irp: str | None  # the local that names its IRP


class Footprints:
    """Footprints of the shared steps of one scenario."""

    def __init__(self, scenario: CompiledScenario):
        self.scenario = scenario
        # A listening socket's steps change the sockets it accepts: then every socket step reads every socket.
        self.linked = any(decl.accepted_from for decl in scenario.sockets)
        self.every_socket = frozenset(("sock", j) for j in range(len(scenario.sockets)))
        self._known: dict[Footprint, Footprint] = {}
        self._plans: dict[tuple[str, int], _Plan] = {}

    def of_step(self, before: State, move: Move, after: State) -> Footprint:
        """The footprint of a shared step that was taken: what it reads, and what it changed."""
        reads = self._reads(before, move)
        writes, grows = _changes(before, after, move.action.actor)
        return self.once(Footprint(frozenset(reads), frozenset(writes), frozenset(grows)))

    def of_waiting(self, state: State, actor: Actor) -> Footprint:
        """What keeps an actor that has steps left from taking one (a statement on a socket that is not the
        application's yet): another actor's step that changes it lets this one move."""
        frame = actor.top
        if frame is None or frame.call is not None or frame.waiting is not None:
            return NOTHING
        program = self.scenario.programs[frame.program]
        if frame.pc >= len(program.statements):
            return NOTHING
        stmt = program.statements[frame.pc]
        if getattr(stmt, "socket", None) is None:
            return self.once(Footprint(frozenset({EVERYTHING})))
        return self.once(Footprint(frozenset(self._socket(state, self.scenario.socket_of(stmt)))))

    def once(self, footprint: Footprint) -> Footprint:
        """One copy of each distinct footprint: the explorer keeps many."""
        return self._known.setdefault(footprint, footprint)

    # -- what each kind of step reads -------------------------------------------------------------------------------

    def _reads(self, state: State, move: Move) -> set[Part]:
        actor_id = move.action.actor
        if actor_id in ENVIRONMENT:
            return self._environment(state, move)
        actor = state.actor(actor_id)
        frame = actor.top
        if frame is None:
            return set()  # a sandbox thread starting an operation or stopping: its own record
        if frame.waiting is not None:
            kind, index = frame.waiting
            if kind == WaitKind.DEREGISTER:
                return {REGISTRATION, *self.every_socket}
            return self._cell(index)
        if frame.call is not None:  # returning from a call, pending it, or completing it inline
            call = frame.call
            return {*self._socket(state, call.socket), *self._irp(call.irp), ROUTINES}
        program = self.scenario.programs[frame.program]
        if frame.pc >= len(program.statements):
            return self._return(state, frame, program)
        stmt = program.statements[frame.pc]
        reads = self._statement(state, frame, stmt)
        if frame.pc + 1 >= len(program.statements) and not isinstance(stmt, sc.Return):
            reads |= self._return(state, frame, program)  # running past the end returns in the same step
        return reads

    def _statement(self, state: State, frame: Frame, stmt: sc.Statement) -> set[Part]:
        plan = self._plans.get((frame.program, frame.pc))
        if plan is None:
            plan = self._plans[frame.program, frame.pc] = self._plan(stmt)
        reads = set(plan.cells)
        if plan.pending_returned:
            reads |= self._irp(frame.irp)
        if plan.irp is not None:
            irp_id = frame.local(plan.irp)
            reads |= self._irp(irp_id)
            if plan.kind == "irp" and irp_id and 0 < irp_id <= len(state.irps):
                owner = state.irp(irp_id).socket
                if owner is not None:
                    reads |= self._socket(state, owner)  # IoCancelIrp: the socket's queues
        match plan.kind:
            case "socket":
                assert plan.socket is not None
                reads |= self._socket(state, plan.socket)
            case "registration":
                reads |= {REGISTRATION, *self.every_socket}
            case "return":
                reads |= self._return(state, frame, self.scenario.programs[frame.program])
            case "everything":
                reads.add(EVERYTHING)
        return reads

    def _plan(self, stmt: sc.Statement) -> _Plan:
        """What a statement reads whatever the state: the memory cells it names, whether it reads
        ``Irp->PendingReturned``, its IRP, and what else its kind of statement reads."""
        cells: set[Part] = set()
        pending_returned = False
        for value in stmt.__dict__.values():  # every operand, in conditions too
            operands = (value.left, value.right) if isinstance(value, sc.Condition) else (value,)
            for operand in operands:
                if isinstance(operand, sc.Operand) and operand.name:
                    if operand.name == sc.PENDING_RETURNED:
                        pending_returned = True
                    elif operand.name in self.scenario.memory_index:
                        cells |= self._cell(self.scenario.memory_index[operand.name])
        kind, socket = "plain", None
        match stmt:
            case sc.MemoryStatement():
                cells |= self._cell(self.scenario.memory_index[stmt.var])
            case sc.WskDeregister() | sc.WskReleaseProviderNPI():
                kind = "registration"
            case sc.SocketCall() | sc.ReadSocketDispatch() | sc.FreeSocketContext():
                kind, socket = "socket", self.scenario.socket_of(stmt)
            case sc.Return() | sc.ReturnIf():
                kind = "return"
            case sc.Assign() | sc.GotoIf() | sc.IoAllocateIrp():
                pass
            case _ if isinstance(stmt, IRP_ROUTINES):
                kind = "irp"
            case _:
                kind = "everything"
        irp = None if isinstance(stmt, sc.IoAllocateIrp) else getattr(stmt, "irp", None)
        return _Plan(frozenset(cells), pending_returned, kind, socket, irp)

    def _return(self, state: State, frame: Frame, program: CompiledProgram) -> set[Part]:
        """A program returning: a completion routine finishes its IRP's completion (and a close's), an event
        callback reports to its socket (an accept callback, to the socket it was offered)."""
        if program.kind == "completion":
            sockets = (
                self._socket(state, frame.socket) if frame.closes and frame.socket is not None else set()
            )
            return {*self._irp(frame.irp), *sockets}
        if program.kind == "callback" and frame.socket is not None:
            offered = self._socket(state, frame.accepting) if frame.accepting is not None else set()
            return {*self._socket(state, frame.socket), *offered}
        return set()

    def _environment(self, state: State, move: Move) -> set[Part]:
        """WSK's and the peer's moves are all about one socket (named in their ids) and its IRPs; WSK's also read
        the running routines (a close waits for them, a completion starts one)."""
        name = move.action.id.rsplit("-", 1)[-1]
        index = self.scenario.socket_index.get(name)
        if move.action.id.startswith("wsk-c"):  # completing IRP n: its socket is the IRP's
            irp = state.irp(int(move.action.id[len("wsk-c") :]))
            index = irp.socket
        if index is None:
            return {EVERYTHING}
        return (
            {*self._socket(state, index), ROUTINES}
            if move.action.actor == "wsk"
            else self._socket(state, index)
        )

    # -- parts -------------------------------------------------------------------------------------------------------

    def _socket(self, state: State, index: int) -> set[Part]:
        """A socket, and the IRPs it names (its queues and its close IRP), which WSK reads with it."""
        sock = state.sockets[index]
        named = {*sock.pending, *(irp for irp, _ in sock.doomed)}
        if sock.close_irp is not None:
            named.add(sock.close_irp)
        parts: set[Part] = {("irp", n) for n in named}
        parts |= self.every_socket if self.linked else {("sock", index)}
        return parts

    def _cell(self, index: int) -> set[Part]:
        """A memory cell; one in a socket context also reads whether the context was freed (rule UB-4)."""
        owner = self.scenario.memory[index].context_socket
        return {("mem", index)} if owner is None else {("mem", index), ("sock", owner)}

    @staticmethod
    def _irp(irp_id: int | None) -> set[Part]:
        return {("irp", irp_id)} if irp_id else set()


def _changes(before: State, after: State, actor_id: str) -> tuple[set[Part], set[Part]]:
    """The parts of the world a step changed, and the running routines it started or finished. New IRPs and new
    callback numbers are nobody's yet."""
    writes: set[Part] = set()
    grows: set[Part] = set()
    if before.sockets is not after.sockets:
        socks = enumerate(zip(before.sockets, after.sockets, strict=True))
        writes |= {("sock", j) for j, (a, b) in socks if a is not b and a != b}
    if before.irps is not after.irps:
        irps = enumerate(zip(before.irps, after.irps, strict=False))  # new IRPs are nobody's yet
        writes |= {("irp", i + 1) for i, (c, d) in irps if c is not d and c != d}
    cells = (
        (before.words, after.words),
        (before.rundowns, after.rundowns),
        (before.events, after.events),
        (before.offers, after.offers),
    )
    for old_cells, new_cells in cells:
        if old_cells is not new_cells:
            pairs = enumerate(zip(old_cells, new_cells, strict=True))
            writes |= {("mem", i) for i, (e, f) in pairs if e != f}
    if (before.captures, before.deregistering, before.deregistered) != (
        after.captures,
        after.deregistering,
        after.deregistered,
    ):
        writes.add(REGISTRATION)
    if before.actors is not after.actors:
        old_actors = {a.id: a for a in before.actors}
        new_actors = {a.id: a for a in after.actors}
        for name in old_actors.keys() | new_actors.keys():
            old, new = old_actors.get(name), new_actors.get(name)
            if old is None or new is None:
                grows.add(ROUTINES)  # a routine or callback started, or finished (its own last step)
            elif name == actor_id:
                writes.add(("actor", name))
            elif old is not new and old != new:
                writes.add(("actor", name))  # a KeSetEvent releasing the waiters of a notification event
    return writes, grows
