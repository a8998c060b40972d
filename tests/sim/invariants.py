"""The engine's own invariants: what must hold after every step of every scenario, buggy or not.

A scenario with an intentional bug breaks a rule (a violation the engine reports); it must never break one of
these, which are about the simulator's bookkeeping, not about the application it simulates. Each check names what
it found, so a failure reads as a sentence.
"""

from __future__ import annotations

from collections import Counter

from app.sim import Engine, StepResult
from app.sim import scenario as sc
from app.sim.model import EventKind, Handle, IrpState, Phase, State
from app.sim.ntstatus import STATUS
from app.sim.rules import VIOLATION_KINDS

ENVIRONMENT = ("wsk", "peer")
# How a handle may change in one step: it only moves forward, (NOT_ACCEPTED ->) OPEN (-> NOT_FUNCTIONAL after a
# reset) -> CLOSING -> CLOSED, and never straight from open to closed (entering the close and completing it are
# separate steps).
HANDLE_STEPS = {
    (Handle.NOT_ACCEPTED, Handle.OPEN),
    (Handle.OPEN, Handle.NOT_FUNCTIONAL),
    (Handle.OPEN, Handle.CLOSING),
    (Handle.NOT_FUNCTIONAL, Handle.CLOSING),
    (Handle.CLOSING, Handle.CLOSED),
}


# Where the connection of a socket a listening socket accepts may go in one step: it arrives, is offered to the
# accept callback or handed to a WskAccept IRP, and is accepted, refused, or dropped with the listening socket.
UNBORN = (Phase.NO_CONNECTION, Phase.INCOMING, Phase.ACCEPTING, Phase.REJECTED, Phase.DROPPED)
ACCEPT_STEPS = {
    (Phase.NO_CONNECTION, Phase.INCOMING),
    (Phase.INCOMING, Phase.ACCEPTING),
    (Phase.INCOMING, Phase.CONNECTED),
    (Phase.INCOMING, Phase.DROPPED),
    (Phase.ACCEPTING, Phase.CONNECTED),
    (Phase.ACCEPTING, Phase.REJECTED),
}


def check_state(engine: Engine, state: State) -> None:
    """What holds of any reachable state on its own."""
    for index, irp in enumerate(state.irps):
        assert irp.id == index + 1, (
            f"IRP at index {index} has id {irp.id}: IRPs are numbered from 1, in order"
        )
        assert irp.completions <= 1, f"IRP {irp.id} completed {irp.completions} times in one use"
    ids = [a.id for a in state.actors]
    assert len(ids) == len(set(ids)), f"two actors share an id: {ids}"
    assert not set(ids) & set(ENVIRONMENT), f"an actor is named like the environment: {ids}"
    for actor in state.actors:
        assert not (actor.finished and actor.frames), f"{actor.id} has finished but still has frames"
        if actor.kind != "thread":
            assert actor.frames, f"{actor.id} ({actor.kind}) returned but is still an actor"
        if actor.kind == "completion":
            assert actor.frames[0].irp is not None, f"completion routine {actor.id} completes no IRP"
        for frame in actor.frames[:-1]:
            assert frame.waiting is None, f"{actor.id} waits in a frame that is not its innermost"
    assert state.captures >= 0, "NPI captures went negative"
    assert list(state.violated) == sorted(set(state.violated)), (
        f"violated is not a sorted set: {state.violated}"
    )
    assert set(state.violated) <= set(VIOLATION_KINDS), f"unknown violation kinds in {state.violated}"
    assert not (state.deregistering and state.deregistered), "deregistering and deregistered at once"
    assert len(state.words) == len(state.rundowns) == len(state.events) == len(engine.scenario.memory)
    _check_calls(state)
    _check_sockets(engine, state)
    _check_unborn(engine, state)


def _check_unborn(engine: Engine, state: State) -> None:
    """A socket that is not the application's yet has nothing of the application's: no call, IRP, callback,
    close or freed context; exactly one accept callback is deciding about an ACCEPTING one; and a socket a
    listening socket accepted is CONNECTED once it is the application's."""
    offered = Counter(
        a.frames[0].accepting for a in state.actors if a.kind == "callback" and a.frames[0].event == "accept"
    )
    for index, sock in enumerate(state.sockets):
        accepted = engine.scenario.sockets[index].accepted_from is not None
        if sock.handle == Handle.NOT_ACCEPTED:
            assert accepted, f"socket {index} is NOT_ACCEPTED but no listening socket accepts it"
            assert sock.phase in UNBORN, f"socket {index} is NOT_ACCEPTED but {sock.phase}"
            assert not (sock.calls or sock.pending or sock.doomed or sock.callbacks or sock.retained), (
                f"socket {index} does not exist yet but has calls, IRPs or callbacks"
            )
            assert sock.close_irp is None and not sock.freed and not sock.context_freed, (
                f"socket {index} does not exist yet but is closing or freed"
            )
        elif accepted:
            assert sock.phase == Phase.CONNECTED, f"accepted socket {index} is {sock.handle} but {sock.phase}"
        assert offered[index] == (sock.phase == Phase.ACCEPTING), (
            f"socket {index} is {sock.phase} while {offered[index]} accept callback(s) decide about it"
        )


def _check_calls(state: State) -> None:
    """A call is in progress on a socket exactly while an actor has a frame inside it."""
    in_frames: Counter[tuple[int, str, str]] = Counter()
    for actor in state.actors:
        for frame in actor.frames:
            if frame.call is not None:
                in_frames[(frame.call.socket, actor.id, frame.call.function)] += 1
    on_sockets: Counter[tuple[int, str, str]] = Counter(
        (index, who, fn) for index, sock in enumerate(state.sockets) for who, fn in sock.calls
    )
    assert in_frames == on_sockets, (
        f"calls in frames {dict(in_frames)} != calls on sockets {dict(on_sockets)}"
    )


def _check_sockets(engine: Engine, state: State) -> None:
    queued: list[int] = []
    callback_actors = {a.id for a in state.actors if a.kind == "callback"}
    listed: list[str] = []
    failures = {
        engine.cancel_status,
        engine.abort_status,
        STATUS["STATUS_CANCELLED"],
        STATUS["STATUS_CONNECTION_RESET"],
    }
    for index, sock in enumerate(state.sockets):
        assert sock.retained >= 0, f"socket {index}: retained indications went negative"
        assert sock.peer_data >= 0, f"socket {index}: the peer's data budget went negative"
        if sock.freed:
            assert sock.handle in (Handle.CLOSING, Handle.CLOSED), f"socket {index} freed while {sock.handle}"
        if sock.handle == Handle.CLOSED:
            assert sock.freed, f"socket {index} is CLOSED but was never freed"
        if sock.handle in (Handle.OPEN, Handle.NOT_FUNCTIONAL):
            assert sock.close_irp is None, f"socket {index} has a close IRP but its handle is {sock.handle}"
        for irp_id in sock.pending:
            irp = state.irp(irp_id)
            assert irp.is_pending, f"IRP {irp_id} is queued on socket {index} but not pending"
            assert irp.socket == index, (
                f"IRP {irp_id} is queued on socket {index} but belongs to {irp.socket}"
            )
        for irp_id, status in sock.doomed:
            assert status in failures, f"IRP {irp_id} is to fail with an unexpected status {status:#x}"
            assert state.irp(irp_id).socket == index
        queued += [*sock.pending, *(i for i, _ in sock.doomed)]
        for actor_id in sock.callbacks:
            assert actor_id in callback_actors, (
                f"socket {index} lists callback {actor_id}, which is not running"
            )
            assert state.actor(actor_id).frames[0].socket == index
        listed += sock.callbacks
        for actor_id in callback_actors:
            if state.actor(actor_id).frames[0].socket == index:
                assert actor_id in sock.callbacks, (
                    f"callback {actor_id} runs but socket {index} does not list it"
                )
    assert len(queued) == len(set(queued)), f"an IRP is queued twice: {queued}"
    assert len(listed) == len(set(listed)), f"a callback is listed twice: {listed}"


def check_step(engine: Engine, before: State, result: StepResult) -> None:
    """What holds of one step: the change from ``before`` to ``result.state``."""
    after = result.state
    assert len(after.irps) in (len(before.irps), len(before.irps) + 1), "IRPs appeared or vanished"
    completed = {e.irp for e in result.events if e.kind == EventKind.IRP_COMPLETED}
    for old in before.irps:
        new = after.irp(old.id)
        if old.state == IrpState.FREED:
            assert new.state == IrpState.FREED, f"IRP {old.id} was freed and came back to life as {new.state}"
        if old.lost:
            assert old.id not in completed, f"IRP {old.id} was lost to WSK, yet it completed"
    for index, (old, new) in enumerate(zip(before.sockets, after.sockets, strict=True)):
        if old.handle != new.handle:
            assert (old.handle, new.handle) in HANDLE_STEPS, (
                f"socket {index}: the handle went from {old.handle} to {new.handle}"
            )
        assert new.freed >= old.freed, f"socket {index} was freed and came back"
        assert new.context_freed >= old.context_freed, f"socket {index}'s context was freed and came back"
        assert new.peer_data <= old.peer_data, f"socket {index}: the peer's data budget grew"
        if old.phase != new.phase and old.phase in UNBORN:
            assert (old.phase, new.phase) in ACCEPT_STEPS, (
                f"socket {index}: its connection went from {old.phase} to {new.phase}"
            )
    assert set(before.violated) <= set(after.violated), "a violation was forgotten"
    found = {v.kind for v in result.violations}
    assert found <= set(after.violated), f"violations {found} of this step are not in the state"
    flagged = [e for e in result.events if e.kind == EventKind.VIOLATION]
    assert len(flagged) == len(result.violations), "each violation is one violation event"
    assert after.next_callback >= before.next_callback
    _check_rundowns(engine, before, result)


def _check_rundowns(engine: Engine, before: State, result: StepResult) -> None:
    """A run-down count changes only by one, and only through the statement that changes it; once run-down has
    begun it stays begun. (A scenario may release more than it acquired: the count then goes negative on purpose,
    by an ExReleaseRundownProtection, never by itself.)"""
    after = result.state
    actor = before.actor(result.action.actor) if result.action.actor not in ENVIRONMENT else None
    frame = actor.top if actor is not None else None
    stmt = None
    if frame is not None and frame.call is None and frame.waiting is None:
        statements = engine.scenario.programs[frame.program].statements
        stmt = statements[frame.pc] if frame.pc < len(statements) else None
    for index, (old, new) in enumerate(zip(before.rundowns, after.rundowns, strict=True)):
        assert new.active >= old.active, f"run-down {index} stopped being run down"
        var = getattr(stmt, "var", None)
        on_this = var is not None and engine.scenario.memory_index.get(var) == index
        if new.count == old.count + 1:
            assert on_this and isinstance(stmt, sc.ExAcquireRundownProtection), (
                f"run-down {index} grew by itself"
            )
        elif new.count == old.count - 1:
            assert on_this and isinstance(stmt, sc.ExReleaseRundownProtection), (
                f"run-down {index} fell by itself"
            )
        else:
            assert new.count == old.count, f"run-down {index} jumped from {old.count} to {new.count}"
        if new.count < 0:
            assert old.count < 0 or isinstance(stmt, sc.ExReleaseRundownProtection)


def check_moves(engine: Engine, state: State) -> None:
    """The enabled actions have distinct ids (a schedule names them) and belong to actors that exist; a run is
    running exactly while something can move, and only an ended run has end-of-run violations."""
    enabled = engine.enabled(state)
    ids = [a.id for a in enabled]
    assert len(ids) == len(set(ids)), f"two enabled actions share an id: {ids}"
    actors = {a.id for a in state.actors} | set(ENVIRONMENT)
    assert all(a.actor in actors for a in enabled), f"an action of an actor that does not exist: {enabled}"
    outcome = engine.outcome(state)
    terminal = engine.terminal_violations(state)
    if enabled:
        assert outcome == "running" and terminal == (), (outcome, terminal)
    else:
        assert outcome in ("ok", "violation", "deadlock")
        assert (outcome == "ok") == (not state.violated and not terminal), (outcome, state.violated, terminal)
        assert (outcome == "deadlock") == any(v.kind == "deadlock" for v in terminal)
