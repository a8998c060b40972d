"""Which steps commute with every other: an actor working on what only it can reach.

Two steps of different actors are independent when each leaves the other possible and taking them in either order
gives the same world. The explorer needs one kind of independence, the strongest: a step that touches nothing but
its own actor (its program counter and locals) and IRPs nobody else can reach. Such a *private* step

- commutes with every step of every other actor, since they touch disjoint parts of the world;
- cannot be enabled, disabled or changed by another actor, since nobody else can reach what it reads;
- and so can wait until its actor's next step that is not private, and be taken just before it, without changing
  what any run can reach, which rules it breaks, or after how many steps (the explorer's module docstring).

A step is private when its statement is, and the statement's IRP, if it names one, is private to the actor:

- IoAllocateIrp makes a new IRP that only its caller holds (two allocations commute up to the IRPs' numbers,
  which the explorer's state key ignores: app/sim/canon.py); its failure (``allocation_can_fail``) too;
- IoSetCompletionRoutine, IoReuseIrp, IoFreeIrp, IoCancelIrp and reading IoStatus, on an IRP that WSK does not
  hold, that no socket queues, whose close is not under way, and that no other actor holds (a routine of it, a
  call with it, a local it will still use);
- assigning a local, jumping, returning, on locals and constants only (``Irp->PendingReturned`` reads the IRP);
- a thread finishing its program, a completion routine returning for a private IRP of a use that is not a close,
  a sandbox thread choosing its next operation or stopping.

Everything else touches what others can reach and is never private: shared memory (each access may also be a use
after free of a socket context), socket calls and their returns, waits and wake-ups, event callbacks returning,
WSK and the peer. Anything not listed as private is treated as touching everything.
"""

from __future__ import annotations

from app.sim import scenario as sc
from app.sim.canon import irp_locals, irp_numbers_are_names
from app.sim.liveness import live_locals
from app.sim.model import Actor, Frame, Handle, IrpState, State
from app.sim.program import CompiledProgram, CompiledScenario

#: Statements that use one IRP of the actor's, and touch nothing else when that IRP is private.
IRP_STATEMENTS = (sc.IoSetCompletionRoutine, sc.IoReuseIrp, sc.IoFreeIrp, sc.IoCancelIrp, sc.ReadIoStatus)


class Privacy:
    """Tells, for one scenario, which actors' next steps are private."""

    def __init__(self, scenario: CompiledScenario):
        self.scenario = scenario
        # When a program can read an IRP's number as a value (store it in memory, compare it), an IRP can be
        # reached without holding it, and the order of allocations shows: no IRP step is private then.
        self.irps_are_names = irp_numbers_are_names(scenario)
        self.live = {
            key: tuple(live & irp_locals(program) for live in live_locals(program))
            for key, program in scenario.programs.items()
        }

    def acts_alone(self, state: State, actor: Actor) -> bool:
        """Whether every step the actor can take now is private. False for an actor with nothing to do."""
        frame = actor.top
        if frame is None:
            # A sandbox thread picks its next operation, or stops; a live sandbox thread not added yet may be added
            # only while another thread goes on, which it reads.
            return actor.kind == "thread" and actor.present
        if frame.waiting is not None or frame.call is not None:
            return False
        program = self.scenario.programs[frame.program]
        if frame.pc >= len(program.statements):
            return self._returns_alone(state, actor, frame, program)
        stmt = program.statements[frame.pc]
        if not self._statement_alone(state, actor, frame, stmt):
            return False
        # Running past the last statement returns in the same step (the engine's ``_settle``).
        last = frame.pc + 1 >= len(program.statements) and not isinstance(stmt, sc.Return)
        return not last or self._returns_alone(state, actor, frame, program)

    def _statement_alone(self, state: State, actor: Actor, frame: Frame, stmt: sc.Statement) -> bool:
        match stmt:
            case sc.IoAllocateIrp():
                return self.irps_are_names
            case _ if isinstance(stmt, IRP_STATEMENTS):
                return self.irp_private(state, actor, frame.local(stmt.irp))
            case sc.Assign():
                return self._operands_alone(state, actor, frame, (stmt.value,))
            case sc.GotoIf():
                return stmt.cond is None or self._operands_alone(state, actor, frame, _operands(stmt.cond))
            case sc.ReturnIf():
                operands = (*_operands(stmt.cond), *((stmt.status,) if stmt.status else ()))
                if not self._operands_alone(state, actor, frame, operands):
                    return False
                program = self.scenario.programs[frame.program]
                return self._returns_alone(state, actor, frame, program)
            case sc.Return():
                operands = (stmt.status,) if stmt.status else ()
                program = self.scenario.programs[frame.program]
                return self._operands_alone(state, actor, frame, operands) and self._returns_alone(
                    state, actor, frame, program
                )
        return False

    def _operands_alone(
        self, state: State, actor: Actor, frame: Frame, operands: tuple[sc.Operand, ...]
    ) -> bool:
        """Constants and locals are the actor's own; a memory word is shared, and PendingReturned reads the IRP."""
        for operand in operands:
            if operand.name is None:
                continue
            if operand.name in self.scenario.memory_index:
                return False
            if operand.name == sc.PENDING_RETURNED and not self.irp_private(state, actor, frame.irp):
                return False
        return True

    def _returns_alone(self, state: State, actor: Actor, frame: Frame, program: CompiledProgram) -> bool:
        """A thread finishing or a function returning is the actor's own business. A completion routine's return
        also finishes its IRP's completion (private if the IRP is), and a close routine's ends the close (the
        socket's). An event callback's return is news for its socket."""
        if program.kind == "callback":
            return False
        if program.kind == "completion":
            return not frame.closes and self.irp_private(state, actor, frame.irp)
        return True

    def irp_private(self, state: State, actor: Actor, irp_id: int | None) -> bool:
        """Whether only ``actor`` can reach IRP ``irp_id``: WSK does not hold it, no socket names it in a queue or
        in a close under way, and no other actor's frame holds it (as the IRP it completes, the IRP of a call in
        progress, or a local it may still use). NULL (0) or no IRP at all touches nothing shared."""
        if not irp_id:
            return True
        if not self.irps_are_names or not 0 < irp_id <= len(state.irps):
            return False
        if state.irp(irp_id).state == IrpState.OWNED_BY_WSK:
            return False
        for sock in state.sockets:
            if irp_id in sock.pending or any(irp == irp_id for irp, _ in sock.doomed):
                return False
            if sock.close_irp == irp_id and sock.handle != Handle.CLOSED:
                return False
        for other in state.actors:
            if other.id != actor.id and any(self._holds(frame, irp_id) for frame in other.frames):
                return False
        return True

    def _holds(self, frame: Frame, irp_id: int) -> bool:
        if frame.irp == irp_id or (frame.call is not None and frame.call.irp == irp_id):
            return True
        live = self.live[frame.program]
        names = live[frame.pc] if frame.pc < len(live) else frozenset[str]()
        return any(value == irp_id and name in names for name, value in frame.locals)


def _operands(cond: sc.Condition | None) -> tuple[sc.Operand, ...]:
    if cond is None:
        return ()
    return (cond.left,) if cond.right is None else (cond.left, cond.right)
