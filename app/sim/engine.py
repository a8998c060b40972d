"""The step function: what each actor may do next, and what doing it changes.

One action is one atomic step. At every state the engine lists the enabled actions, each with a short URL-safe id,
the actor that takes it and a human label, and explains why every other actor cannot move. Every
nondeterministic choice is such an action: which thread runs, whether WSK completes a call inline or pends it,
when it completes a pending IRP or delivers an event callback, and when the peer sends data, FIN or RST.
So a run is fully described by its schedule.

Action ids:
  ``Closer``        the thread (or routine execution) ``Closer`` runs its next statement
  ``Closer-p``      the socket call Closer is inside returns STATUS_PENDING
  ``Closer-i``      WSK completes the IRP of Closer's call inline, before the call returns
  ``Closer-nomem``  Closer's IoAllocateIrp fails and returns NULL (with the setting ``allocation_can_fail``)
  ``Player-send``   the sandbox thread Player starts its menu operation ``send``
  ``T2-add``        the user adds the live sandbox thread T2 (declared ``joins: when_added``)
  ``cr3``, ``cb1``  the completion routine of IRP 3, the first event callback execution
  ``wsk-c3``        WSK completes IRP 3
  ``wsk-free-s``    WSK frees socket s at the end of its close
  ``wsk-rcv-s``     WSK calls the receive event callback of socket s (``wsk-dsc-s``: disconnect; ``wsk-rfr-s``:
                    the receive-from event of a datagram socket; ``wsk-acc-s``: the accept event of a listening one)
  ``peer-data-s``   the peer sends data on s, or a datagram to it (``peer-fin-s``, ``peer-rst-s``)
  ``peer-conn-s``   a peer connects to the listening socket s

This module only dispatches: it lists the moves of every actor and runs a statement by handing it to the chapter
that models it. Read the chapters in this order, each top to bottom:

  model.py      the state of the world (actors, sockets, IRPs, memory)
  step.py       one step: its transaction, actions, events and violations
  memory.py     interlocked words, run-down protection, events and waits
  irps.py       the IRP lifecycle, and when WSK completes an IRP
  close.py      WskCloseSocket, in its documented order
  accept.py     listening sockets, and the sockets they accept
  calls.py      socket calls, on entry and on return
  callbacks.py  completion routines and event callbacks
  peer.py       the remote peer
  explain.py    why an actor is blocked, and what is wrong at the end of a run
"""

from __future__ import annotations

from app.sim import accept, callbacks, calls, close, explain, irps, memory, peer
from app.sim import scenario as sc
from app.sim.model import Actor, EventKind, Frame, State, initial_state
from app.sim.ntstatus import STATUS
from app.sim.program import CompiledProgram, CompiledScenario
from app.sim.records import replace
from app.sim.step import (
    Action,
    Event,
    IllegalAction,
    Move,
    StepResult,
    Transaction,
    Violation,
    is_preemption,
    next_last_actor,
)

__all__ = [
    "Action",
    "Engine",
    "Event",
    "IllegalAction",
    "StepResult",
    "Violation",
    "is_preemption",
    "next_last_actor",
]


class Engine:
    """Interprets one compiled scenario. Pure: the same state and action always give the same result, and
    nothing but the state remembers anything between steps."""

    def __init__(self, scenario: CompiledScenario):
        self.scenario = scenario
        self.settings = scenario.settings
        self.cancel_status = STATUS[self.settings.cancel_status]
        self.abort_status = STATUS[self.settings.abort_status]

    def initial(self) -> State:
        """The world before the first step."""
        return initial_state(self.scenario)

    # -- public queries ----------------------------------------------------------------------------------------

    def enabled(self, state: State) -> tuple[Action, ...]:
        """The actions possible now, threads first (in declaration order), then routines, WSK and the peer."""
        return tuple(m.action for m in self._moves(state))

    def step(self, state: State, action_id: str) -> StepResult:
        """Take one enabled action. Raises IllegalAction (listing the legal ones) for any other id."""
        moves = self._moves(state)
        for move in moves:
            if move.action.id == action_id:
                tx = Transaction(self.scenario, state)
                move.perform(tx)
                self._settle(tx, move.action.actor)
                return tx.result(move.action, tuple(m.action for m in moves))
        raise IllegalAction(action_id, tuple(m.action for m in moves))

    # -- the explorer's queries: moves listed once per state, steps taken without narration ---------------------

    def moves(self, state: State) -> list[Move]:
        """Every enabled move, in the order ``enabled`` lists their actions. The explorer lists a state's moves
        once and takes each with ``successor``, instead of listing them again for every ``step``."""
        return self._moves(state)

    def moves_of(self, state: State, actor_id: str) -> list[Move]:
        """The enabled moves of one application thread, completion routine or event callback (none if it is
        gone): the explorer follows one actor through steps that touch nothing but that actor."""
        for actor in state.actors:
            if actor.id == actor_id:
                return self._actor_moves(state, actor)
        return []

    def successor(self, state: State, move: Move) -> tuple[State, tuple[Violation, ...]]:
        """The state after ``move`` (one of ``moves(state)``) and the rules it broke: exactly what ``step`` gives,
        without the narration and events that only a replayed trace shows."""
        tx = Transaction(self.scenario, state, narrate=False)
        move.perform(tx)
        self._settle(tx, move.action.actor)
        return tx.state, tuple(tx.violations)

    def blocked(self, state: State, enabled: tuple[Action, ...] | None = None) -> tuple[tuple[str, str], ...]:
        """For every actor that cannot move now, why not, as (actor id, reason). A caller that has listed the
        state's enabled actions passes them, so they are not listed again."""
        listed = enabled if enabled is not None else tuple(m.action for m in self._moves(state))
        movers = {action.actor for action in listed}
        reasons: list[tuple[str, str]] = []
        for actor in state.actors:
            if actor.id not in movers:
                reasons.append((actor.id, explain.why_blocked(self.scenario, state, actor)))
        if "wsk" not in movers:
            reasons.append(("wsk", explain.why_wsk_idle(self.scenario, state)))
        if "peer" not in movers:
            reasons.append(("peer", explain.why_peer_idle(self.scenario, state)))
        return tuple(reasons)

    def terminal_violations(self, state: State) -> tuple[Violation, ...]:
        """What is wrong once nothing can move any more: a deadlock, or leaks at unload."""
        if self._moves(state):
            return ()
        return explain.end_of_run_violations(self.scenario, state)

    def outcome(
        self,
        state: State,
        terminal: tuple[Violation, ...] | None = None,
        enabled: tuple[Action, ...] | None = None,
    ) -> str:
        """running, ok, violation or deadlock. ``enabled``, when given, are the state's enabled actions."""
        if enabled if enabled is not None else self._moves(state):
            return "running"
        terminal = self.terminal_violations(state) if terminal is None else terminal
        if any(v.kind == "deadlock" for v in terminal):
            return "deadlock"
        return "violation" if state.violated or terminal else "ok"

    def _settle(self, tx: Transaction, actor_id: str) -> None:
        """A program that ran past its last statement returns in the same step: falling off the end is not an
        action a learner should have to take."""
        while any(a.id == actor_id for a in tx.state.actors):
            frame = tx.actor(actor_id).top
            if frame is None or frame.call or frame.waiting or frame.pc < len(self.program(frame).statements):
                return
            callbacks.return_from(tx, actor_id, None)

    def program(self, frame: Frame) -> CompiledProgram:
        """The compiled program a frame runs."""
        return self.scenario.programs[frame.program]

    # -- enumerating moves ---------------------------------------------------------------------------------------

    def _moves(self, state: State) -> list[Move]:
        """Every enabled move, in a fixed order: actors (threads in declaration order, then routines and
        callbacks in the order they started), then WSK socket by socket, then the peer."""
        moves: list[Move] = []
        for actor in state.actors:
            moves += self._actor_moves(state, actor)
        moves += self._wsk_moves(state)
        moves += peer.peer_moves(self.scenario, state)
        return moves

    def _actor_moves(self, state: State, actor: Actor) -> list[Move]:
        """One actor's move: start an operation (sandbox), wake from a wait, go on with a call, return at the
        end of its program, or run its next statement."""
        frame = actor.top
        if frame is None:
            return self._menu_moves(state, actor)
        if frame.waiting is not None:
            if not memory.wait_satisfied(state, frame.waiting):
                return []
            stmt = self.program(frame).statements[frame.pc]
            label = f"{actor.id}: wakes up and returns from {stmt.op}"  # type: ignore[attr-defined]
            return [Move(Action(actor.id, actor.id, label), lambda tx: memory.finish_wait(tx, actor.id))]
        if frame.call is not None:
            return calls.call_moves(self.scenario, state, actor, frame, frame.call)
        program = self.program(frame)
        if frame.pc >= len(program.statements):
            label = f"{actor.id}: reaches the end of {program.title}"
            return [
                Move(Action(actor.id, actor.id, label), lambda tx: callbacks.return_from(tx, actor.id, None))
            ]
        stmt = program.statements[frame.pc]
        if accept.unborn(self.scenario, state, stmt) is not None:
            return []  # the socket it names is not the application's yet: explain.why_blocked says so
        label = f"{actor.id}: {self._describe(stmt)}"
        moves = [Move(Action(actor.id, actor.id, label), lambda tx: self._execute(tx, actor.id))]
        if isinstance(stmt, sc.IoAllocateIrp) and self.settings.allocation_can_fail:
            moves.append(irps.allocation_failure_move(actor.id, stmt))
        return moves

    def _menu_moves(self, state: State, actor: Actor) -> list[Move]:
        """A sandbox thread between operations: start any operation it has uses left of, or stop. A live sandbox
        thread not added yet can be added while the session goes on (some added thread has not stopped): once
        every thread has stopped, the run is over and what it left behind is checked."""
        thread = next((t for t in self.scenario.threads if t.name == actor.id), None)
        if thread is None or actor.finished:
            return []
        if not actor.present:
            going_on = any(a.kind == "thread" and a.present and not a.finished for a in state.actors)
            return [self._join_move(actor)] if going_on else []
        used = dict(actor.ops_used)
        moves = []
        for op_id, label, key, times in thread.menu:
            if times is not None and used.get(op_id, 0) >= times:
                continue
            if thread.max_operations is not None and sum(used.values()) >= thread.max_operations:
                break  # it has started as many operations as it may: it can only stop

            def start(tx: Transaction, op_id: str = op_id, key: str = key, label: str = label) -> None:
                a = tx.actor(actor.id)
                counts = dict(a.ops_used)
                counts[op_id] = counts.get(op_id, 0) + 1
                tx.put_actor(replace(a, frames=(Frame(program=key),), ops_used=tuple(sorted(counts.items()))))
                tx.say(f"{actor.id} starts the operation '{label}'.")
                tx.emit(EventKind.OPERATION_STARTED, actor=actor.id, text=label)

            moves.append(Move(Action(f"{actor.id}-{op_id}", actor.id, f"{actor.id}: {label}"), start))

        if thread.stops == "when_done":
            return moves  # it goes on until its menu is used up; then it has nothing more to do

        def stop(tx: Transaction) -> None:
            tx.put_actor(replace(tx.actor(actor.id), finished=True))
            tx.say(f"{actor.id} stops: it will start no more operations.")
            tx.emit(EventKind.THREAD_FINISHED, actor=actor.id)

        moves.append(
            Move(Action(f"{actor.id}-stop", actor.id, f"{actor.id}: stop (start no more operations)"), stop)
        )
        return moves

    @staticmethod
    def _join_move(actor: Actor) -> Move:
        """A live sandbox thread the user has not added yet: adding it is its only move (a choice of the user's,
        recorded in the schedule like any other, so that a session is a link)."""

        def join(tx: Transaction) -> None:
            tx.put_actor(replace(tx.actor(actor.id), present=True))
            tx.say(f"You add thread {actor.id}: it is idle, ready to start any operation.")
            tx.emit(EventKind.THREAD_ADDED, actor=actor.id)

        return Move(Action(f"{actor.id}-add", actor.id, f"Add thread {actor.id}"), join)

    # -- statements ------------------------------------------------------------------------------------------------

    def _describe(self, stmt: sc.Statement) -> str:
        """The label of a statement about to run."""
        op: str = stmt.op  # type: ignore[attr-defined]
        if isinstance(stmt, sc.SocketCall):
            return f"enter {op}"
        if isinstance(stmt, sc.ReturnIf | sc.GotoIf):
            return f"test {stmt.cond.text if stmt.cond else 'and jump'}"
        return f"run {op}"

    def _execute(self, tx: Transaction, actor_id: str) -> None:
        """Run the actor's next statement: each kind belongs to one chapter."""
        actor = tx.actor(actor_id)
        frame = actor.top
        assert frame is not None
        program = self.program(frame)
        stmt = program.statements[frame.pc]
        if tx.narrate and len(actor.frames) > 1 and program.kind != "thread":  # the explorer says nothing
            tx.voice = (actor_id, f"{program.title} (on {actor_id}'s thread)")
        try:
            self._run(tx, actor_id, frame, stmt)
        finally:
            tx.voice = None

    def _run(self, tx: Transaction, who: str, frame: Frame, stmt: sc.Statement) -> None:
        """Run one statement of ``who``'s innermost frame: each kind belongs to one chapter."""
        nxt = replace(frame, pc=frame.pc + 1)
        match stmt:
            case (
                sc.IoAllocateIrp()
                | sc.IoSetCompletionRoutine()
                | sc.IoReuseIrp()
                | sc.IoFreeIrp()
                | sc.IoCancelIrp()
                | sc.ReadIoStatus()
            ):
                irps.run_irp_statement(tx, who, frame, stmt)
            case sc.SocketCall():
                calls.enter_call(tx, who, frame, stmt)
            case sc.ReadSocketDispatch():
                calls.read_socket_dispatch(tx, who, stmt)
                tx.put_frame(who, nxt)
            case sc.FreeSocketContext():
                close.free_socket_context(tx, who, stmt)
                tx.put_frame(who, nxt)
            case sc.WskReleaseProviderNPI():
                memory.release_provider_npi(tx, who)
                tx.put_frame(who, nxt)
            case sc.Return() | sc.ReturnIf() | sc.GotoIf() | sc.Assign():
                self._control_flow(tx, who, frame, stmt)
            case _ if isinstance(stmt, memory.WAITS):
                memory.begin_wait(tx, who, frame, stmt)
            case sc.MemoryStatement():
                memory.run_memory_statement(tx, who, frame, stmt)
            case _:
                raise AssertionError(f"unhandled statement {stmt!r}")

    def _control_flow(self, tx: Transaction, who: str, frame: Frame, stmt: sc.Statement) -> None:
        """The program's own statements: return (a value), return if, jump if, and assign a local."""
        nxt = replace(frame, pc=frame.pc + 1)
        match stmt:
            case sc.Return():
                callbacks.return_from(
                    tx, who, None if stmt.status is None else memory.value(tx, who, frame, stmt.status)
                )
            case sc.ReturnIf():
                if memory.test(tx, who, frame, stmt.cond):
                    tx.say(f"{who} finds '{stmt.cond.text}' true and returns.")
                    callbacks.return_from(
                        tx, who, None if stmt.status is None else memory.value(tx, who, frame, stmt.status)
                    )
                else:
                    tx.say(f"{who} finds '{stmt.cond.text}' false and carries on.")
                    tx.put_frame(who, nxt)
            case sc.GotoIf():
                if stmt.cond is None or memory.test(tx, who, frame, stmt.cond):
                    jump_to = self.program(frame).label_index(stmt.target)
                    tx.put_frame(who, replace(frame, pc=jump_to))
                    direction = "back " if jump_to <= frame.pc else ""
                    tx.say(f"{who} jumps {direction}to {stmt.target}.")
                else:
                    tx.put_frame(who, nxt)
                    tx.say(f"{who} does not jump: '{stmt.cond.text if stmt.cond else ''}' is false.")
            case sc.Assign():
                tx.put_frame(who, nxt.with_local(stmt.into, memory.value(tx, who, frame, stmt.value)))
                tx.say(f"{who} sets {stmt.into}.")
            case _:
                raise AssertionError(f"unhandled control statement {stmt!r}")

    # -- WSK's own work ---------------------------------------------------------------------------------------------

    def _wsk_moves(self, state: State) -> list[Move]:
        """WSK's jobs, socket by socket: IRPs to complete, then the close's own steps (free the socket,
        complete the close IRP), then an event callback to deliver."""
        moves: list[Move] = []
        for index in range(len(state.sockets)):
            moves += irps.completion_moves(self.scenario, state, index)
            moves += close.free_socket_moves(self.scenario, state, index)
            due = close.close_irp_due(state, index)
            if due is not None:
                moves.append(irps.close_completion_move(due))
            moves += callbacks.callback_moves(self.scenario, state, index)
        return moves
