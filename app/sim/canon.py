"""The explorer's key for a state: the world with the names that carry no meaning taken out.

Two worlds can differ only in how things happen to be named, and then everything that can happen next happens in
both, under the same renaming, and breaks the same rules:

- **IRP numbers.** IoAllocateIrp numbers IRPs in the order they are allocated, so two threads that allocate one
  each get 1 and 2 or 2 and 1 depending on who went first. The key numbers IRPs afresh, in the order it meets them
  walking the world (threads in order, then routines and callbacks, then sockets, then IRPs nobody holds), so the
  two orders of the allocations meet again.
- **Callback executions** (cb1, cb2, ...), numbered in the order WSK started them.
- **Identical threads**: threads with the same program (or menu) at the same IRQL are interchangeable; the key
  lists them in a canonical order, so "Sender1 sent, then Sender2" and "Sender2 sent, then Sender1" meet again.
- **Orders that mean nothing**: of routines and callbacks among the actors, of the callbacks and calls in progress
  on a socket, of the IRPs a close cancelled, and of a frame's locals (looked up by name).
- **Values nobody will read**: a local that its program will write before it next reads it (``st`` after a call
  whose status nothing tests) is left out (app/sim/liveness.py).

The engine keeps its numbering (action ids such as ``wsk-c2`` and every link depend on it); only the key forgets it.
The explorer keeps, for each key, the first world it reached with it, and every schedule it reports is a path of
real worlds, so it replays as it is.

Renaming IRPs is sound only when no program can tell two IRP numbers apart except by which IRP they name:
``irp_numbers_are_names`` checks that a local holding an IRP is only ever set by IoAllocateIrp (or is a completion
routine's ``Irp``) and only used as an IRP or tested against NULL. Otherwise IRPs keep their numbers in the key.

A key is a compact byte string: each part of the world (an actor, a socket, an IRP, the shared memory) is interned
once as a small integer, and the key lists those integers, two bytes each. Equal keys mean equal worlds up to the
renaming above; anything the key cannot rename it keeps, so a key never merges worlds that could behave
differently.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterable

from app.sim import scenario as sc
from app.sim.liveness import live_locals
from app.sim.model import Actor, Frame, Irp, Socket, State
from app.sim.program import CompiledProgram, CompiledScenario

#: Entries of the per-record memo before it starts afresh (keeping the last ones as a second chance): it serves the
#: records a state shares with the states it was reached from, and must not keep every record alive.
MEMO_LIMIT = 512


#: Codes below this many fit a key's two-byte words; larger ones take three words (``_pack``).
WIDE = 0xFFFF


def _pack(codes: list[int]) -> bytes:
    """A key's codes as bytes: two per code, or, for a code of ``WIDE`` or more, ``WIDE`` and two more words. Each
    code has exactly one spelling, so equal code lists, and only they, give equal bytes."""
    if max(codes) < WIDE:
        return array("H", codes).tobytes()
    words: list[int] = []
    for code in codes:
        words += (code,) if code < WIDE else (WIDE, code >> 16, code & WIDE)
    return array("H", words).tobytes()


def irp_locals(program: CompiledProgram) -> frozenset[str]:
    """The locals of a program that hold IRPs: those its statements pass as an IRP, and a completion routine's
    ``Irp``."""
    names = {name for stmt in program.statements if (name := getattr(stmt, "irp", None))}
    if program.kind == "completion":
        names.add("Irp")
    return frozenset(names)


def irp_numbers_are_names(scenario: CompiledScenario) -> bool:
    """Whether IRP numbers are only names to every program: no local that holds an IRP is assigned by anything but
    IoAllocateIrp, and none is read except as an IRP, or compared with NULL (a failed allocation). Then renaming
    IRPs changes nothing a program can see."""
    for program in scenario.programs.values():
        irps = irp_locals(program)
        for stmt in program.statements:
            if not isinstance(stmt, sc.IoAllocateIrp) and irps & set(stmt.assigns):
                return False
            if any(name in irps for name in _values_read(stmt)):
                return False
    return True


def _values_read(stmt: sc.Statement) -> Iterable[str]:
    """The names a statement reads as numbers: every operand, except an IRP tested against NULL in a condition,
    which reads whether the allocation succeeded rather than which IRP it got."""
    for value in stmt.__dict__.values():
        if isinstance(value, sc.Operand) and value.name:
            yield value.name
        if isinstance(value, sc.Condition) and not _null_test(value):
            yield from (o.name for o in (value.left, value.right) if o is not None and o.name)


def _null_test(cond: sc.Condition) -> bool:
    """``x``, ``!x``, ``x == 0`` or ``x != 0`` (NULL is 0): true or false alike for every IRP number."""
    if cond.left.offset:
        return False
    if cond.op in ("zero", "nonzero"):
        return True
    right = cond.right
    return cond.op in ("==", "!=") and right is not None and right.name is None and right.value == 0


def thread_classes(scenario: CompiledScenario) -> list[list[int]]:
    """Groups (of two or more) of interchangeable threads, by position: the same program, or the same menu of the
    same programs, at the same IRQL."""
    groups: dict[Hashable, list[int]] = {}
    for index, thread in enumerate(scenario.threads):
        if thread.program is not None:
            shape: Hashable = ("program", scenario.programs[thread.program].statements)
        else:
            shape = (
                "menu",
                tuple(
                    (op, label, scenario.programs[key].statements, times)
                    for op, label, key, times in thread.menu
                ),
                thread.joins,
                thread.max_operations,
                thread.stops,
            )
        groups.setdefault((shape, thread.irql), []).append(index)
    return [members for members in groups.values() if len(members) > 1]


class StateKeys:
    """Computes keys for the states of one scenario. Each key is computed once per state; the parts of a state
    it shares with the state it came from are looked up, not encoded again.

    ``exact`` keys rename and reorder nothing: equal exactly when the states are equal, for the search that
    counts every state and schedule (it stores these compact keys instead of the states themselves)."""

    def __init__(self, scenario: CompiledScenario, exact: bool = False):
        self.threads = len(scenario.threads)
        self.exact = exact
        self.renames_irps = not exact and irp_numbers_are_names(scenario)
        self.classes = [] if exact else thread_classes(scenario)
        self._irp_locals = {key: irp_locals(program) for key, program in scenario.programs.items()}
        # A local no statement will read before writing it again makes no difference to what happens next.
        self._live = {key: live_locals(program) for key, program in scenario.programs.items()}
        # Identical threads run programs with different keys (thread:Sender1, thread:Sender2): one name for both.
        first: dict[tuple[sc.Statement, ...], str] = {}
        self._program_name = {
            key: first.setdefault(program.statements, key) if key.startswith("thread:") and not exact else key
            for key, program in scenario.programs.items()
        }
        self._codes: dict[Hashable, int] = {}
        self._memo: dict[int, tuple[object, int, tuple[int, ...]]] = {}
        self._older: dict[int, tuple[object, int, tuple[int, ...]]] = {}
        self._last_shared: tuple[tuple[object, ...] | None, int] = (None, 0)
        self._last_irps: tuple[tuple[Irp, ...] | None, list[int]] = (None, [])

    def key(self, state: State) -> bytes:
        """The state's key: equal for two states exactly when they are equal up to the renamings of the module
        docstring (or, for ``exact`` keys, exactly when they are equal)."""
        if self.exact:
            if len(self._memo) > MEMO_LIMIT:
                self._older, self._memo = self._memo, {}
            return self._exact_key(state)
        return self.named_key(state)[0]

    def named_key(self, state: State) -> tuple[bytes, int]:
        """The state's key, and a code for how its names map onto the key's (its actors' ids and its IRPs'
        numbers, in the key's order): two states with equal keys and equal codes name everything alike, so an
        action id means the same step in both."""
        if len(self._memo) > MEMO_LIMIT:
            self._older, self._memo = self._memo, {}
        parts = [self._actor(a) for a in state.actors]
        order = self._thread_order(state, parts)
        irps = state.irps
        numbers: dict[int, int] = {} if self.renames_irps else {irp.id: irp.id for irp in irps}
        for index in order:
            for ref in parts[index][1]:
                if ref not in numbers:
                    numbers[ref] = len(numbers) + 1
        # Routines and callbacks have no fixed place: order them by what they are, IRPs already numbered first.
        others = list(range(self.threads, len(parts)))
        if len(others) > 1:
            others.sort(key=lambda j: (parts[j][0], self._holds(state, parts[j][1], numbers)))
        for j in others:
            for ref in parts[j][1]:
                if ref not in numbers:
                    numbers[ref] = len(numbers) + 1
        sockets = [self._socket(sock) for sock in state.sockets]
        for _, irp_refs, _ in sockets:
            for ref in irp_refs:
                if ref not in numbers:
                    numbers[ref] = len(numbers) + 1
        if len(numbers) < len(irps):  # IRPs nobody holds any more: in the order of what they are
            for _, irp_id in sorted((self._irp(irp), irp.id) for irp in irps if irp.id not in numbers):
                numbers[irp_id] = len(numbers) + 1
        out = [len(others), len(irps)]
        code = self._code
        for i in (*order, *others):
            part, refs = parts[i]
            out.append(code((part, tuple(numbers[r] for r in refs))) if refs else part)
        place: dict[str, int] | None = None
        for sock_code, irp_refs, (calls, callbacks) in sockets:
            if not (irp_refs or calls or callbacks):
                out.append(sock_code)
                continue
            if place is None and (calls or callbacks):
                place = {state.actors[index].id: slot for slot, index in enumerate((*order, *others))}
            named = (
                sock_code,
                tuple(numbers[r] for r in irp_refs),
                tuple(sorted((place[a], function) for a, function in calls)) if place and calls else (),
                tuple(sorted(place[c] for c in callbacks)) if place and callbacks else (),
            )
            out.append(self._code(named))
        by_number = [0] * len(irps)
        ids = [0] * len(irps)
        for irp, irp_code in zip(irps, self._irp_codes(irps), strict=True):
            by_number[numbers[irp.id] - 1] = irp_code
            ids[numbers[irp.id] - 1] = irp.id
        out += by_number
        out.append(self._shared(state, 0))
        # The threads' order, the routines' and callbacks' names, the IRPs' numbers: each interned apart, since
        # few of each occur but many combinations.
        routines = tuple(state.actors[j].id for j in others)
        naming = (self._code(tuple(order)), self._code(routines), self._code(tuple(ids)))
        return _pack(out), self._code(naming)

    def _exact_key(self, state: State) -> bytes:
        """Nothing renamed or reordered: each part as it is, names included."""
        out = [len(state.actors), len(state.irps)]
        out += [self._actor(a)[0] for a in state.actors]
        for sock in state.sockets:
            sock_code, irp_refs, (calls, callbacks) = self._socket(sock)
            out.append(self._code((sock_code, irp_refs, calls, callbacks)))
        out += [self._irp(irp) for irp in state.irps]
        out.append(self._shared(state, state.next_callback))
        return _pack(out)

    def _thread_order(self, state: State, parts: list[tuple[int, tuple[int, ...]]]) -> list[int]:
        """The threads in key order: in declaration order, except that each group of identical threads is sorted
        by what each thread is (and what its IRPs are), so that which of them did what does not matter."""
        order = list(range(self.threads))
        for members in self.classes:
            codes = [parts[i][0] for i in members]
            if len(set(codes)) == len(codes):  # no two alike: what their IRPs are cannot change the order
                ranked = sorted(members, key=lambda i: parts[i][0])
            else:
                ranked = sorted(members, key=lambda i: (parts[i][0], self._irp_contents(state, parts[i][1])))
            for slot, index in zip(members, ranked, strict=True):
                order[slot] = index
        return order

    def _shared(self, state: State, next_callback: int) -> int:
        """Shared memory, the registration, and the rules broken so far (most steps change none of them: the
        last answer is kept, and given again while its tuples are the very same ones)."""
        part = (
            state.words,
            state.rundowns,
            state.events,
            state.offers,
            state.captures,
            state.deregistering,
            state.deregistered,
            state.violated,
            next_callback,
        )
        last, code = self._last_shared
        if last is not None and all(a is b for a, b in zip(part, last, strict=True)):
            return code
        code = self._code(part)
        self._last_shared = (part, code)
        return code

    # -- parts -------------------------------------------------------------------------------------------------------

    def _code(self, part: Hashable) -> int:
        """The small integer that stands for a part: the same one every time the part comes back."""
        code = self._codes.get(part)
        if code is None:
            code = self._codes[part] = len(self._codes)
        return code

    def _irp_contents(self, state: State, refs: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(self._irp(state.irp(r)) for r in refs)

    def _holds(
        self, state: State, refs: tuple[int, ...], numbers: dict[int, int]
    ) -> tuple[tuple[int, int], ...]:
        """What an actor's IRPs are, for ordering it: their new numbers where given, else what they contain."""
        return tuple((0, numbers[r]) if r in numbers else (1, self._irp(state.irp(r))) for r in refs)

    def _actor(self, actor: Actor) -> tuple[int, tuple[int, ...]]:
        """An actor without its name and with its IRPs blanked out, and the IRPs it holds in the order it holds
        them. A routine or callback is told apart by what it runs, not by its name."""
        memo = self._memo.get(id(actor)) or self._older.get(id(actor))
        if memo is not None and memo[0] is actor:
            return memo[1], memo[2]
        refs: list[int] = []
        frames = tuple(self._frame(frame, refs) for frame in actor.frames)
        name = actor.id if self.exact else ""
        code = self._code(
            (name, actor.kind, actor.irql, frames, actor.finished, actor.ops_used, actor.present)
        )
        self._memo[id(actor)] = (actor, code, tuple(refs))
        return code, tuple(refs)

    def _frame(self, frame: Frame, refs: list[int]) -> Hashable:
        names = self._irp_locals[frame.program] if self.renames_irps else frozenset()
        local_values: list[tuple[str, int]] = []
        if self.exact:
            local_values += frame.locals
        else:
            live = self._live[frame.program]
            alive = live[frame.pc] if frame.pc < len(live) else frozenset[str]()
            for name, value in sorted(frame.locals):  # looked up by name: their order means nothing
                if name not in alive:
                    continue
                if name in names and value:  # 0 is NULL, from an allocation that failed: no IRP to rename
                    refs.append(value)
                    value = -1
                local_values.append((name, value))
        irp = frame.irp
        if irp is not None and self.renames_irps:
            refs.append(irp)
            irp = -1
        call = frame.call
        call_part: Hashable = None
        if call is not None:
            call_irp = call.irp
            if call_irp is not None and self.renames_irps:
                refs.append(call_irp)
                call_irp = -1
            call_part = (
                call.function,
                call.socket,
                call_irp,
                call.undefined,
                call.completed_inline,
                call.status,
            )
        return (
            self._program_name[frame.program], frame.pc, tuple(local_values), irp, frame.irp_use, frame.closes,
            frame.socket, frame.event, frame.accepting, frame.consumed, call_part, frame.waiting,
        )  # fmt: skip

    def _socket(
        self, sock: Socket
    ) -> tuple[int, tuple[int, ...], tuple[tuple[tuple[str, str], ...], tuple[str, ...]]]:
        """A socket without the IRPs and actors it names, the IRPs it names (its queue in order, then those it
        must fail, those its close cancelled, and its close IRP), and the actors it names."""
        memo = self._memo.get(id(sock)) or self._older.get(id(sock))
        if memo is not None and memo[0] is sock:
            return memo[1], memo[2], (sock.calls, sock.callbacks)
        cancelled = sock.cancelled_by_close if self.exact else tuple(sorted(sock.cancelled_by_close))
        irp_refs = (*sock.pending, *(irp for irp, _ in sock.doomed), *cancelled)
        if sock.close_irp is not None:
            irp_refs = (*irp_refs, sock.close_irp)
        code = self._code(
            (
                sock.handle, sock.phase, sock.send_shutting, sock.send_shut, sock.recv_shut, sock.aborted,
                sock.freed, len(sock.pending), tuple(status for _, status in sock.doomed), len(cancelled),
                sock.close_irp is None, sock.events, sock.receive_suspended, sock.inbound, sock.retained,
                sock.close_returned, sock.close_irp_completed, sock.context_freed, sock.peer_data,
                sock.peer_fin, sock.peer_rst, sock.peer_saw,
            )
        )  # fmt: skip
        self._memo[id(sock)] = (sock, code, irp_refs)
        return code, irp_refs, (sock.calls, sock.callbacks)

    def _irp_codes(self, irps: tuple[Irp, ...]) -> list[int]:
        """Each IRP's code; most steps leave the tuple of IRPs as it was, and then its codes too."""
        last, codes = self._last_irps
        if irps is not last:
            codes = [self._irp(irp) for irp in irps]
            self._last_irps = (irps, codes)
        return codes

    def _irp(self, irp: Irp) -> int:
        """An IRP without its number."""
        memo = self._memo.get(id(irp)) or self._older.get(id(irp))
        if memo is not None and memo[0] is irp:
            return memo[1]
        code = self._code(
            (
                irp.state, irp.routine, irp.invoke, irp.function, irp.socket, irp.status, irp.information,
                irp.pending_returned, irp.is_pending, irp.needs_reuse, irp.lost, irp.completions, irp.use,
            )
        )  # fmt: skip
        self._memo[id(irp)] = (irp, code, ())
        return code
