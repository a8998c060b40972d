"""Shared memory: interlocked words, run-down protection, kernel events, and the waits that block on them.

This is what an application uses to make closing a socket safe while other threads may still call it:
[Closing a Socket](https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket) asks it to
"atomically test and increment" a reference count before each call and to close only when the count is zero;
[Run-Down Protection](https://learn.microsoft.com/windows-hardware/drivers/kernel/run-down-protection) is the
kernel's ready-made form of that count. Each statement here is one atomic step, as the Interlocked functions are.

A cell that lives in a socket context (``ctx->Ref``) dies with the context: touching it after
FreeSocketContext breaks rule UB-4 (``context_use_after_free``).
"""

from __future__ import annotations

from app.sim import scenario as sc
from app.sim.model import Actor, EventKind, Frame, IrpState, Rundown, State, Wait, WaitKind
from app.sim.ntstatus import GARBAGE, show_value
from app.sim.program import CompiledScenario
from app.sim.records import replace
from app.sim.step import Transaction

#: The statements that may block their actor.
WAITS = (sc.KeWaitForSingleObject, sc.ExWaitForRundownProtectionRelease, sc.WskDeregister)

# -- values ---------------------------------------------------------------------------------------------------------


def touch(tx: Transaction, who: str, index: int, verb: str) -> None:
    """Any access to a memory cell: if the cell lives in a socket context that was freed, the access is a use
    after free (rule UB-4, [Closing a Socket](https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket))."""
    cell = tx.scenario.memory[index]
    if cell.context_socket is not None and tx.socket(cell.context_socket).context_freed:
        tx.violate("context_use_after_free", f"{who} {verb} {cell.c_name} after the context was freed.", who)


def value(tx: Transaction, who: str, frame: Frame, operand: sc.Operand) -> int:
    """An operand's value: a constant, a memory cell (a read, checked by ``touch``) or a local, plus its
    offset."""
    if operand.name is None:
        assert operand.value is not None
        return operand.value
    if operand.name == sc.PENDING_RETURNED and frame.irp is not None:
        return pending_returned(tx, who, frame) + operand.offset
    index = tx.scenario.memory_index.get(operand.name)
    if index is not None:
        touch(tx, who, index, "reads")
        return tx.state.words[index] + operand.offset
    return (frame.local(operand.name) or 0) + operand.offset


def pending_returned(tx: Transaction, who: str, frame: Frame) -> int:
    """``Irp->PendingReturned`` in a completion routine: TRUE (1) when the call that took the IRP returned
    STATUS_PENDING, FALSE (0) when WSK completed it inline ([IRP](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/ns-wdm-_irp),
    [Using IRPs with Winsock Kernel Functions](https://learn.microsoft.com/windows-hardware/drivers/network/using-irps-with-winsock-kernel-functions)).
    It is a read of the IRP: after the caller freed it (rule IRP-B3) it yields garbage, and after IoReuseIrp it
    belongs to another operation (IRP-B5)."""
    assert frame.irp is not None
    irp = tx.irp(frame.irp)
    if irp.state == IrpState.FREED:
        tx.violate(
            "irp_use_after_free", f"{who} reads PendingReturned of IRP {irp.id}, which was freed.", who
        )
        return GARBAGE
    if irp.use != frame.irp_use:
        tx.violate(
            "irp_reuse_while_pending",
            f"{who} reads PendingReturned of IRP {irp.id} after handing it over: it now carries another operation.",
            who,
        )
    return int(irp.pending_returned)


def test(tx: Transaction, who: str, frame: Frame, cond: sc.Condition) -> bool:
    """Evaluate a condition of ReturnIf or GotoIf. Reading memory here is a separate step from any later
    change to it: that gap is the "check, then act" race the scenarios teach."""
    left = value(tx, who, frame, cond.left)
    if cond.op == "nonzero":
        return left != 0
    if cond.op == "zero":
        return left == 0
    assert cond.right is not None
    right = value(tx, who, frame, cond.right)
    return {
        "==": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
        ">": left > right, ">=": left >= right, "&": (left & right) != 0,
    }[cond.op]  # fmt: skip


# -- interlocked words, run-down protection and events ---------------------------------------------------------------


def set_word(tx: Transaction, index: int, word: int) -> None:
    """Store a word (the caller has already narrated how)."""
    tx.put_cell("words", index, word)


def set_rundown(tx: Transaction, index: int, rundown: Rundown) -> None:
    """Store a run-down block."""
    tx.put_cell("rundowns", index, rundown)


def set_event(tx: Transaction, index: int, signalled: bool) -> None:
    """Signal or reset an event: [KeSetEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-kesetevent)
    and [KeClearEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-keclearevent) (and a
    satisfied wait on a synchronization event, which resets it)."""
    tx.put_cell("events", index, signalled)


def run_memory_statement(tx: Transaction, who: str, frame: Frame, stmt: sc.MemoryStatement) -> None:
    """One atomic memory operation and its result: the Interlocked functions
    ([InterlockedCompareExchange](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-interlockedcompareexchange)
    and kin), a plain read or write, run-down protection, KeSetEvent or KeClearEvent."""
    index = tx.scenario.memory_index[stmt.var]
    cell = tx.scenario.memory[index]
    touch(tx, who, index, "uses")
    old = tx.state.words[index]
    result = old
    match stmt:
        case sc.InterlockedIncrement():
            result = old + 1
            set_word(tx, index, result)
            tx.say(f"{who} atomically increments {cell.c_name} to {result}.")
        case sc.InterlockedDecrement():
            result = old - 1
            set_word(tx, index, result)
            tx.say(f"{who} atomically decrements {cell.c_name} to {result}.")
        case sc.InterlockedExchange():
            set_word(tx, index, value(tx, who, frame, stmt.value))
            tx.say(f"{who} atomically sets {cell.c_name} to {tx.state.words[index]} (it was {old}).")
        case sc.InterlockedCompareExchange():
            comparand = value(tx, who, frame, stmt.comparand)
            exchange = value(tx, who, frame, stmt.exchange)
            if old == comparand:
                set_word(tx, index, exchange)
                tx.say(f"{who}'s compare-exchange on {cell.c_name} succeeds: {old} becomes {exchange}.")
            else:
                tx.say(
                    f"{who}'s compare-exchange on {cell.c_name} fails: it expected {comparand} but found {old}."
                )
        case sc.InterlockedOr():
            set_word(tx, index, old | value(tx, who, frame, stmt.value))
            tx.say(f"{who} atomically ORs into {cell.c_name}: {old} becomes {tx.state.words[index]}.")
        case sc.Read():
            tx.say(f"{who} reads {cell.c_name} = {old}.")
        case sc.Write():
            set_word(tx, index, value(tx, who, frame, stmt.value))
            tx.say(f"{who} writes {show_value(tx.state.words[index])} to {cell.c_name}.")
        case sc.ExAcquireRundownProtection() | sc.ExReleaseRundownProtection():
            result = _rundown_protection(tx, who, index, stmt)
        case sc.KeSetEvent():
            if cell.synchronization:
                signal_synchronization_event(tx, who, index)
            else:
                set_event(tx, index, True)
                tx.say(f"{who} signals the event {cell.c_name}.")
                release_waiters(tx, index)
        case sc.KeClearEvent():
            set_event(tx, index, False)
            tx.say(f"{who} clears the event {cell.c_name}: it is no longer signalled.")
        case _:
            raise AssertionError(f"unhandled memory statement {stmt!r}")
    into: str | None = getattr(stmt, "into", None)
    nxt = replace(frame, pc=frame.pc + 1)
    tx.put_frame(who, nxt.with_local(into, result) if into else nxt)


def _rundown_protection(tx: Transaction, who: str, index: int, stmt: sc.MemoryStatement) -> int:
    """[ExAcquireRundownProtection](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-exacquirerundownprotection)
    is the atomic test-and-increment: TRUE (1) and one more reference, or FALSE (0) once run-down has begun.
    [ExReleaseRundownProtection](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-exreleaserundownprotection)
    gives one back; the last one wakes the closer waiting for run-down."""
    rundown = tx.state.rundowns[index]
    old = tx.state.words[index]
    if isinstance(stmt, sc.ExReleaseRundownProtection):
        set_rundown(tx, index, replace(rundown, count=rundown.count - 1))
        woken = " The waiting closer can now go on." if rundown.active and rundown.count == 1 else ""
        tx.say(f"{who} releases run-down protection ({rundown.count - 1} left).{woken}")
        return old
    if rundown.active:
        tx.say(f"{who} fails to acquire run-down protection: the socket is being run down.")
        return 0
    set_rundown(tx, index, replace(rundown, count=rundown.count + 1))
    tx.say(f"{who} acquires run-down protection ({rundown.count + 1} reference(s) held).")
    return 1


def release_waiters(tx: Transaction, index: int) -> None:
    """KeSetEvent on a notification event satisfies every wait on it at once ("the system attempts to satisfy as
    many waits as possible", [KeSetEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-kesetevent)):
    each waiter is released then, and returns on its next step even if a KeClearEvent resets the event first.
    Without this a "pulse" (KeSetEvent, then KeClearEvent) would leave the waiters blocked, a deadlock the kernel
    does not have."""
    for actor in tx.state.actors:
        frame = actor.top
        if frame is not None and frame.waiting == (WaitKind.EVENT, index):
            tx.put_frame(actor.id, replace(frame, waiting=(WaitKind.RELEASED, index)))


def signal_synchronization_event(tx: Transaction, who: str, index: int) -> None:
    """KeSetEvent on a synchronization (auto-reset) event: when a thread waits on it, the kernel satisfies exactly
    one wait at once and the event stays not signalled; with nobody waiting, it stays signalled until a wait takes
    it ([KeSetEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-kesetevent),
    [KeInitializeEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-keinitializeevent)).
    Which waiter is the kernel's choice: each one waiting now is OFFERED the release, and the first of them to
    return takes it. So a KeClearEvent after it cannot take the release back, a second KeSetEvent releases a second
    waiter, and a thread that starts waiting afterwards cannot take a release meant for those already waiting."""
    cell = tx.scenario.memory[index]
    waiters = [
        actor.id
        for actor in tx.state.actors
        if actor.top is not None and actor.top.waiting in ((WaitKind.EVENT, index), (WaitKind.OFFERED, index))
    ]
    offered = tx.state.offers[index]
    if len(waiters) <= offered:  # every waiter already has a release coming: the event keeps this signal
        set_event(tx, index, True)
        tx.say(f"{who} signals the synchronization event {cell.c_name}.")
        return
    set_offers(tx, index, offered + 1)
    for actor_id in waiters:
        frame = tx.actor(actor_id).top
        assert frame is not None
        if frame.waiting == (WaitKind.EVENT, index):
            tx.put_frame(actor_id, replace(frame, waiting=(WaitKind.OFFERED, index)))
    names = " or ".join(waiters)
    tx.say(
        f"{who} signals the synchronization event {cell.c_name}: the kernel satisfies one wait at once ({names}), "
        "and the event stays not signalled."
    )


def set_offers(tx: Transaction, index: int, count: int) -> None:
    """How many releases of a synchronization event its OFFERED waiters have yet to take."""
    tx.put_cell("offers", index, count)


def release_provider_npi(tx: Transaction, who: str) -> None:
    """[WskReleaseProviderNPI](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nf-wsk-wskreleaseprovidernpi):
    one capture fewer for WskDeregister to wait for."""
    tx.state = replace(tx.state, captures=max(0, tx.state.captures - 1))
    tx.say(f"{who} releases the provider NPI ({tx.state.captures} capture(s) left).")


# -- waits -----------------------------------------------------------------------------------------------------------


def in_routine(scenario: CompiledScenario, actor: Actor) -> str | None:
    """The completion routine or event callback the actor is running inside, in words, or None for plain
    thread code."""
    for frame in reversed(actor.frames):
        program = scenario.programs[frame.program]
        if program.kind in ("completion", "callback"):
            what = "completion routine" if program.kind == "completion" else "event callback"
            return f"{what} {program.title}"
    return None


def begin_wait(tx: Transaction, who: str, frame: Frame, stmt: sc.Statement) -> None:
    """Enter a wait. Waiting is illegal inside a completion routine or event callback (rule UB-7 / E-4,
    [Winsock Kernel Events](https://learn.microsoft.com/windows-hardware/drivers/network/winsock-kernel-events))
    and at DISPATCH_LEVEL (rule IRP-B7). A wait already satisfied returns at once; otherwise the actor blocks
    until ``wait_satisfied``."""
    actor = tx.actor(who)
    op: str = stmt.op  # type: ignore[attr-defined]
    routine = in_routine(tx.scenario, actor)
    if routine is not None:
        tx.violate("wait_in_callback", f"{who} calls {op} inside the {routine}.", who)
    if actor.irql == "DISPATCH_LEVEL":
        tx.violate("wait_at_dispatch", f"{who} calls {op} at DISPATCH_LEVEL.", who)
    waiting: Wait
    if isinstance(stmt, sc.WskDeregister):
        waiting = (WaitKind.DEREGISTER, 0)
        tx.state = replace(tx.state, deregistering=True)
    else:
        index = tx.scenario.memory_index[stmt.var]  # type: ignore[attr-defined]
        touch(tx, who, index, "waits on")
        if isinstance(stmt, sc.ExWaitForRundownProtectionRelease):
            # From now on no acquisition succeeds: the wait "prevents new requests for run-down protection".
            set_rundown(tx, index, replace(tx.state.rundowns[index], active=True))
            waiting = (WaitKind.RUNDOWN, index)
        else:
            waiting = (WaitKind.EVENT, index)
    if wait_satisfied(tx.state, waiting):
        tx.say(f"{who} calls {op}, which returns at once.")
        _wait_done(tx, who, replace(frame, pc=frame.pc + 1), waiting)
    else:
        blocked = replace(frame, waiting=waiting)
        tx.put_frame(who, blocked)
        tx.say(f"{who} calls {op} and blocks: it {wait_text(tx.scenario, tx.state, blocked)}.")
        tx.emit(EventKind.WAIT_STARTED, actor=who, text=op)


def finish_wait(tx: Transaction, who: str) -> None:
    """A blocked actor whose wait is now satisfied returns from the wait function."""
    frame = tx.actor(who).top
    assert frame is not None and frame.waiting is not None
    op = tx.program(frame).statements[frame.pc].op  # type: ignore[attr-defined]
    tx.say(f"{who} returns from {op}.")
    tx.emit(EventKind.WAIT_ENDED, actor=who, text=op)
    _wait_done(tx, who, replace(frame, pc=frame.pc + 1, waiting=None), frame.waiting)


def _wait_done(tx: Transaction, who: str, frame: Frame, waiting: Wait) -> None:
    """A wait returns. One that a synchronization (auto-reset) event satisfied resets the event, so the other
    waiters stay blocked: each KeSetEvent releases exactly one of them
    ([KeInitializeEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-keinitializeevent),
    [KeWaitForSingleObject](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-kewaitforsingleobject)).
    The model resets the event when the waiter returns rather than inside KeSetEvent, so a thread that starts to
    wait in between may take the signal instead; still one waiter per KeSetEvent."""
    kind, index = waiting
    if kind == WaitKind.DEREGISTER:
        tx.state = replace(tx.state, deregistered=True, deregistering=False)
    if kind == WaitKind.EVENT and tx.scenario.memory[index].synchronization:
        set_event(tx, index, False)
    tx.put_frame(who, frame)
    if kind == WaitKind.OFFERED:
        left = tx.state.offers[index] - 1
        set_offers(tx, index, left)
        if left == 0:  # the releases are all taken: the other waiters wait for the next KeSetEvent again
            for actor in tx.state.actors:
                top = actor.top
                if top is not None and top.waiting == (WaitKind.OFFERED, index):
                    tx.put_frame(actor.id, replace(top, waiting=(WaitKind.EVENT, index)))


def wait_satisfied(state: State, waiting: Wait) -> bool:
    """Whether a wait may return now: its event is signalled, every run-down reference is released, or (for
    [WskDeregister](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nf-wsk-wskderegister)) every
    socket is closed and every NPI capture released."""
    kind, index = waiting
    if kind == WaitKind.EVENT:
        return state.events[index]
    if kind == WaitKind.RELEASED:
        return True
    if kind == WaitKind.OFFERED:
        return state.offers[index] > 0
    if kind == WaitKind.RUNDOWN:
        return state.rundowns[index].count <= 0
    return state.captures == 0 and state.open_sockets == 0


def wait_text(scenario: CompiledScenario, state: State, frame: Frame) -> str:
    """What a blocked frame waits for, as the rest of a sentence that starts with the actor's name."""
    assert frame.waiting is not None
    kind, index = frame.waiting
    if kind == WaitKind.RELEASED:
        return f"was released by a KeSetEvent on {scenario.memory[index].c_name} and returns from its wait"
    if kind == WaitKind.OFFERED:
        return (
            f"may be the waiter a KeSetEvent on the synchronization event {scenario.memory[index].c_name} "
            "released, and return from its wait"
        )
    if kind == WaitKind.EVENT:
        cell = scenario.memory[index]
        if cell.synchronization:
            return f"waits for the synchronization event {cell.c_name}, which is not signalled"
        return f"waits for the event {cell.c_name}, which is not signalled"
    if kind == WaitKind.RUNDOWN:
        count = state.rundowns[index].count
        return f"waits in ExWaitForRundownProtectionRelease for {count} reference(s) still held"
    return (
        f"waits in WskDeregister for {state.open_sockets} open socket(s) and {state.captures} captured NPI(s)"
    )
