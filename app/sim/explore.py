"""Searching every interleaving of a scenario, breadth-first, each distinct state once.

Breadth-first order means the first time a violation kind is seen, it is seen at the smallest depth: the recorded
witness is a shortest schedule for that kind within the searched bounds. States include the set of rules already
broken, so two paths that reach the same world with different histories of violations stay distinct.

There are two searches, and both are exact for the bounds searched: every violation kind either finds, the other
finds too, with a shortest witness of the same length (which replays: it is a path of real steps), and both find
every way a run can end.

**The full search** tries every enabled action of every state and stores every distinct state. It alone can count
schedules (paths to an end) and every distinct end state, and it alone honours ``max_preemptions``, whose search
key also holds the last actor and the preemptions used (the same world reached with fewer preemptions can go
further).

**The reduced search** gives the same verdicts from far fewer states and steps, by three reductions that lose
nothing (a partial-order reduction: persistent sets of private steps, with sleep sets):

- *Private steps wait for their actor's next shared step* (a Lipton reduction). A step that touches only its own
  actor and IRPs nobody else can reach (app/sim/independence.py) commutes with every other actor's step, and
  nobody can enable, disable or change it. So any run can be rearranged, without changing its length, what it
  reaches or which rules it breaks, so that each actor's private steps come just before that actor's next
  shared step (or at its end). The search therefore follows an actor through its private steps and its next
  shared step as one *block*, and never interleaves other actors between them. A block of several steps counts as
  that many steps: states are taken in order of their depth in steps (a bucket queue), and a violation inside a
  block is recorded at its own step. A shortest witness has no step that the rule it breaks does not depend on,
  so it too can be rearranged into blocks, and is found with its true length.
- *States equal up to names meet* (app/sim/canon.py): IRP numbers, callback numbers, which of two identical
  threads did what, orders that mean nothing, and locals nobody will read. The search keeps the first real state
  it reaches with each key; its witnesses are paths of real states and replay as they are.
- *Sleep sets*: each unit (an actor's block, or one move of WSK or the peer) records what its steps read and write
  (app/sim/footprint.py). Once a unit has been followed from a state, it is asleep in the states reached by the
  units followed after it that it commutes with: both orders reach the same state, by paths of the same length,
  and the first order is already being followed. A state reached again with fewer units asleep than when it was
  expanded is expanded again for those (Godefroid's sleep sets with state caching). Where two ways to one key name
  things differently, nothing is asleep. Sleep sets save steps, not states.

What the reduced search cannot give is the full search's counts: it does not count schedules (``schedules`` is
None), and ``terminal_states`` and ``outcomes`` count end states up to names (each way a run can end is found, and
counted once however many IRP numberings or thread orders lead to it). ``Report.reduced`` says which search the
figures come from. ``explore`` runs the reduced search and, when it is small enough, the full search too, so that
small scenarios keep their exact counts.

Bounds:
  ``max_states``       distinct states kept;
  ``max_depth``        actions in a schedule;
  ``max_preemptions``  switches away from an application thread, routine or callback that could still have run
                       (2-3 catch most bugs, as loom and CHESS report): full search only;
  and whatever the caller's ``should_stop`` decides (a time limit, a cancellation): the engine has no clock.
"""

from __future__ import annotations

from array import array
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from app.sim import scenario as sc
from app.sim.canon import StateKeys
from app.sim.engine import Engine, Violation, is_preemption, next_last_actor
from app.sim.footprint import NOTHING, ROUTINE_ENDS, Footprint, Footprints
from app.sim.independence import Privacy
from app.sim.model import Actor, State
from app.sim.program import CompiledScenario
from app.sim.step import ENVIRONMENT, IllegalAction, Move

CHECK_EVERY = (
    64  # expansions between calls to should_stop: few enough that a time limit or a cancel is prompt
)
#: The full search runs after the reduced one, for exact counts, when the reduced search kept at most this many
#: states; it is given up (and the reduced figures kept) beyond ``EXACT_COUNTS_STATES`` states, or beyond
#: ``EXACT_COUNTS_RATIO`` times the reduced search's (the built-in scenarios need at most 6 and 4,426), so that a
#: scenario too large to count costs little more than its reduced search.
EXACT_COUNTS_AFTER = 1_000
EXACT_COUNTS_STATES = 5_000
EXACT_COUNTS_RATIO = 6


@dataclass(frozen=True)
class Bounds:
    """Named limits on a search; whichever cuts the search first is reported as ``stopped_by``."""

    max_states: int = 200_000
    max_depth: int = 400
    max_preemptions: int | None = None


@dataclass(frozen=True)
class Progress:
    """How far a search has come, for ``should_stop`` (and a progress bar): states kept, steps taken, depth."""

    states: int
    transitions: int
    depth: int


@dataclass
class Report:
    """What a search found: whether it was complete (else the bound that stopped it), its size, how runs end, and
    the shortest witness of each rule broken."""

    complete: bool
    stopped_by: str | None
    states: int
    transitions: int
    terminal_states: int = 0
    schedules: int | None = None  # distinct complete schedules, when finitely many (no cycles) and complete
    outcomes: Counter[str] = field(default_factory=Counter)  # ok, deadlock, and each violation kind
    witnesses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    max_depth_seen: int = 0
    # True: the figures come from the reduced search (end states counted up to names, no schedule count).
    reduced: bool = False
    # Violation kinds whose witness may not be a shortest one: the search dropped or left unexpanded a state
    # shallower than the witness (max_states, a time limit, a cancel). Bounds on depth and preemptions do not count:
    # a witness is a shortest one among the schedules they allow.
    unproven: list[str] = field(default_factory=list)


def explore(
    scenario: CompiledScenario,
    bounds: Bounds | None = None,
    should_stop: Callable[[Progress], str | None] | None = None,
    *,
    reduce: bool = True,
    prefix: tuple[str, ...] = (),
) -> Report:
    """Search the scenario's schedules; report outcomes, shortest witnesses, and whether the search was complete.

    With ``reduce`` (the default), the reduced search, then the full search for exact counts when that is small;
    without it, or with ``max_preemptions``, the full search alone.

    With a ``prefix`` (a schedule), the search starts from the state the prefix reaches: it answers "what can
    still happen from here?". Its witnesses are whole schedules, the prefix then the steps found after it, so that
    they replay from the start; only rules broken after the prefix count as found, and the bounds (depth,
    preemptions) count from the end of the prefix. A prefix that is not a schedule of the scenario raises
    ``IllegalAction``."""
    bounds = bounds or Bounds()
    # In a live sandbox a thread can be added only while another goes on, so adding reads what stopping writes:
    # steps the reduction takes for private. Its searches (of a whole live sandbox, not of a situation built in
    # one: app/sim/sandbox.py) are full ones.
    joins = any(t.joins == "when_added" for t in scenario.threads)
    if not reduce or bounds.max_preemptions is not None or joins:
        return FullSearch(scenario, bounds, should_stop, prefix).run()
    report = ReducedSearch(scenario, bounds, should_stop, prefix).run()
    if report.complete and report.states <= EXACT_COUNTS_AFTER:
        cap = min(bounds.max_states, EXACT_COUNTS_STATES, EXACT_COUNTS_RATIO * report.states)
        small = replace(bounds, max_states=cap)
        full = FullSearch(scenario, small, None, prefix).run()
        if full.complete:
            return full
    return report


def count_schedules(start: int, successors: dict[int, tuple[int, ...]]) -> int | None:
    """Distinct complete schedules = paths from the start to a terminal state; None if a cycle (a spin loop)
    makes them infinitely many. Iterative depth-first search, so deep graphs do not hit the recursion limit."""
    paths: dict[int, int] = {}
    on_stack: set[int] = {start}
    stack: list[tuple[int, int]] = [(start, 0)]
    while stack:
        node, index = stack[-1]
        children = successors.get(node, ())
        if index < len(children):
            stack[-1] = (node, index + 1)
            child = children[index]
            if child in on_stack:
                return None
            if child not in paths:
                stack.append((child, 0))
                on_stack.add(child)
            continue
        stack.pop()
        on_stack.discard(node)
        paths[node] = sum(paths[c] for c in children) if children else 1
    return paths[start]


class _Search:
    """What both searches keep: each stored state's key, the step that first reached it (its parent and the
    actions from there), its depth, the report, and the best witness per violation kind."""

    def __init__(
        self,
        scenario: CompiledScenario,
        bounds: Bounds,
        should_stop: Callable[[Progress], str | None] | None,
        prefix: tuple[str, ...] = (),
    ):
        self.engine = Engine(scenario)
        self.bounds = bounds
        # Where the search starts: the initial state, or the state a prefix reaches (and the actor that moved last
        # in it, from which preemptions are counted).
        self.prefix = prefix
        self.origin = self.engine.initial()
        self.origin_last: str | None = None
        for step, action_id in enumerate(prefix, 1):
            moves = self.engine.moves(self.origin)
            move = next((m for m in moves if m.action.id == action_id), None)
            if move is None:
                raise IllegalAction(action_id, tuple(m.action for m in moves), step)
            self.origin, _ = self.engine.successor(self.origin, move)
            self.origin_last = next_last_actor(self.origin_last, move.action)
        self.should_stop = should_stop
        self.index: dict[bytes, int] = {}
        self.parent = array("i")
        self.via: list[tuple[str, ...]] = []  # the actions from the parent (several for a block of steps)
        self.depth = array("i")
        self._steps: dict[tuple[str, ...], tuple[str, ...]] = {}  # one copy of each tuple of actions
        self.report = Report(complete=True, stopped_by=None, states=0, transitions=0)
        # Each violation kind's shortest witness so far: (its length, the stored state, the actions after it).
        self.found: dict[str, tuple[int, int, tuple[str, ...]]] = {}
        self.expansions = 0
        # Every state shallower than this was kept and expanded: a witness no longer than it is a shortest one.
        self.horizon: int | None = None

    def cut(self, reason: str) -> None:
        if self.report.complete:
            self.report.complete, self.report.stopped_by = False, reason

    def lose(self, depth: int) -> None:
        """A state of this depth was dropped, or will not be expanded."""
        if self.horizon is None or depth < self.horizon:
            self.horizon = depth

    def add(self, key: bytes, parent: int, actions: tuple[str, ...], depth: int) -> int:
        """Store a new state; its index."""
        number = len(self.parent)
        self.index[key] = number
        self.parent.append(parent)
        self.via.append(self._steps.setdefault(actions, actions))
        self.depth.append(depth)
        self.report.states += 1
        return number

    def path_to(self, number: int, tail: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The schedule that reached stored state ``number``, then ``tail``."""
        pieces = [tail]
        while number > 0:
            pieces.append(self.via[number])
            number = self.parent[number]
        return tuple(action for piece in reversed(pieces) for action in piece)

    def note(self, kinds: list[str], number: int, tail: tuple[str, ...]) -> None:
        """Violation ``kinds`` were found after stored state ``number`` then ``tail``: keep the witness if it is the
        first of its kind or shorter than the one kept (its path is only walked at the end)."""
        length = self.depth[number] + len(tail)
        for kind in kinds:
            known = self.found.get(kind)
            if known is None or length < known[0]:
                self.found[kind] = (length, number, tail)

    def end(self, number: int, state: State, moves: list[Move]) -> None:
        """A state where nothing can move: count its outcome, and note what is wrong at the end."""
        engine, report = self.engine, self.report
        report.terminal_states += 1
        terminal = engine.terminal_violations(state) if not moves else ()
        self.note([v.kind for v in terminal], number, ())
        outcome = engine.outcome(state, terminal, enabled=())
        report.outcomes[outcome if outcome in ("ok", "deadlock") else "violation"] += 1
        for kind in sorted((set(state.violated) | {v.kind for v in terminal}) - {"deadlock"}):
            report.outcomes[kind] += 1

    def checkpoint(self, depth: int) -> bool:
        """Count an expansion; every CHECK_EVERY of them, ask ``should_stop``. True if the search must stop."""
        self.expansions += 1
        if self.should_stop is None or self.expansions % CHECK_EVERY:
            return False
        reason = self.should_stop(Progress(self.report.states, self.report.transitions, depth))
        if reason:
            self.cut(reason)
            return True
        return False

    def finish(self) -> Report:
        for kind, (length, number, tail) in self.found.items():
            self.report.witnesses[kind] = self.prefix + self.path_to(number, tail)
            if self.horizon is not None and length > self.horizon:
                self.report.unproven.append(kind)
        return self.report


class FullSearch(_Search):
    """Every enabled action of every state; each state kept under its exact key (module docstring)."""

    def __init__(
        self,
        scenario: CompiledScenario,
        bounds: Bounds,
        should_stop: Callable[[Progress], str | None] | None,
        prefix: tuple[str, ...] = (),
    ):
        super().__init__(scenario, bounds, should_stop, prefix)
        self.keys = StateKeys(scenario, exact=True)
        self.tracked = bounds.max_preemptions is not None
        self.successors: dict[int, tuple[int, ...]] = {}

    def key(self, state: State, last: str | None, used: int) -> bytes:
        """A key is as long as its first words say, so a suffix cannot make two keys collide."""
        key = self.keys.key(state)
        return key + f"{last}/{used}".encode() if self.tracked else key

    def run(self) -> Report:
        """Search breadth-first, every enabled action of every state, until done or a bound stops it."""
        start, last = self.origin, self.origin_last if self.tracked else None
        self.add(self.key(start, last, 0), -1, (), 0)
        queue: deque[tuple[int, State, str | None, int]] = deque([(0, start, last, 0)])
        while queue:
            number, state, last, used = queue.popleft()
            d = self.depth[number]
            self.report.max_depth_seen = max(self.report.max_depth_seen, d)
            if self.checkpoint(d):
                self.lose(d)
                break
            moves = self.engine.moves(state)
            if not moves:
                self.end(number, state, moves)
                continue
            if d >= self.bounds.max_depth:
                self.cut("max_depth")
                continue
            self.successors[number] = tuple(self.expand(number, state, last, used, moves, queue))
        if self.report.complete:
            self.report.schedules = count_schedules(0, self.successors)
        return self.finish()

    def expand(
        self,
        number: int,
        state: State,
        last: str | None,
        used: int,
        moves: list[Move],
        queue: deque[tuple[int, State, str | None, int]],
    ) -> list[int]:
        """Take every enabled action; queue the states not seen before. The states reached, in order."""
        enabled = tuple(m.action for m in moves)
        reached: list[int] = []
        for move in moves:
            spent = used
            if self.tracked:
                spent += is_preemption(enabled, last, move.action)
                if spent > (self.bounds.max_preemptions or 0):
                    self.cut("max_preemptions")
                    continue
            after, violations = self.engine.successor(state, move)
            self.report.transitions += 1
            self.note(_kinds(violations), number, (move.action.id,))
            last_after = next_last_actor(last, move.action) if self.tracked else None
            key = self.key(after, last_after, spent)
            known = self.index.get(key)
            if known is not None:
                reached.append(known)
                continue
            if self.report.states >= self.bounds.max_states:
                self.cut("max_states")
                self.lose(self.depth[number] + 1)
                continue
            child = self.add(key, number, (move.action.id,), self.depth[number] + 1)
            reached.append(child)
            queue.append((child, after, last_after, spent))
        return reached


Unit = tuple[
    str, list[Move]
]  # an actor's block (its id and its moves), or one move of WSK or the peer (its id)
Sleep = dict[str, Footprint]  # units not to follow from a state, each with what it touches
Asleep = frozenset[tuple[str, Footprint]]  # the same, kept


class ReducedSearch(_Search):
    """Blocks of private steps, states equal up to names, and sleep sets (module docstring)."""

    def __init__(
        self,
        scenario: CompiledScenario,
        bounds: Bounds,
        should_stop: Callable[[Progress], str | None] | None,
        prefix: tuple[str, ...] = (),
    ):
        super().__init__(scenario, bounds, should_stop, prefix)
        self.report.reduced = True
        self.keys = StateKeys(scenario)
        self.privacy = Privacy(scenario)
        self.footprints = Footprints(scenario)
        # States waiting to be expanded, by depth (each with the depth it was queued at).
        self.buckets: dict[int, list[tuple[int, State, int]]] = {}
        self.deepest = 0
        self.level = 0  # the depth being expanded
        self.naming = array("i")  # per state: how its representative names things (StateKeys.named_key)
        self.expanded = bytearray()
        self.asleep: dict[int, Asleep] = {}  # states waiting to be expanded: what not to follow from them
        self.skipped: list[frozenset[str] | None] = []  # expanded states: what was not followed from them
        self._sets: dict[frozenset[str], frozenset[str]] = {}
        self._asleep: dict[Asleep, Asleep] = {}  # many states share one sleep set: one copy of each
        # Programs that can jump back on a test of their own locals, and sandbox threads that can start an operation
        # again, may go round a loop of private steps: their blocks remember the states they pass through, and stop
        # where one comes back. (A jump back on shared memory, a spin, is a shared step: it ends its block.)
        memory = scenario.memory_index
        self.looping = {
            key
            for key, program in scenario.programs.items()
            if any(
                isinstance(stmt, sc.GotoIf)
                and program.label_index(stmt.target) <= pc
                and not any(name in memory for name in stmt.reads_locals)
                for pc, stmt in enumerate(program.statements)
            )
        }
        self.repeating = {t.name for t in scenario.threads if any(times is None for *_, times in t.menu)}

    def run(self) -> Report:
        """Search by depth in steps, an actor's block of private steps at a time, until done or a bound stops it."""
        start = self.origin
        key, naming = self.keys.named_key(start)
        self.remember(key, -1, (), 0, naming)
        self.buckets[0] = [(0, start, 0)]
        while self.level <= self.deepest:
            for number, state, queued in self.buckets.pop(self.level, ()):
                if self.depth[number] != queued or self.expanded[number]:
                    continue  # reached by a shorter path since, and expanded from there
                self.report.max_depth_seen = self.level
                if self.checkpoint(self.level):
                    self.lose(self.level)
                    return self.finish()
                self.expanded[number] = 1
                sleep = dict(self.asleep.pop(number, ()))
                skipped = self.expand(number, state, queued, sleep, None)
                self.skipped[number] = self._sets.setdefault(skipped, skipped) if skipped else None
            self.level += 1
        return self.finish()

    def remember(self, key: bytes, parent: int, steps: tuple[str, ...], depth: int, naming: int) -> int:
        """Store a new state, as ``add`` does, with its naming and the reduced search's own records."""
        number = self.add(key, parent, steps, depth)
        self.naming.append(naming)
        self.expanded.append(0)
        self.skipped.append(None)
        return number

    def units(self, moves: list[Move]) -> list[Unit]:
        """A state's moves as units: each actor's moves together (its block), and each move of WSK and the peer
        on its own (they act for many IRPs and sockets at once)."""
        units: dict[str, list[Move]] = {}
        for move in moves:
            actor = move.action.actor
            units.setdefault(move.action.id if actor in ENVIRONMENT else actor, []).append(move)
        return list(units.items())

    def expand(
        self, number: int, state: State, d: int, sleep: Sleep, only: frozenset[str] | None
    ) -> frozenset[str]:
        """Follow each unit from this state (only those in ``only``, if given) that is not asleep; put to sleep, in
        the states each one reaches, the units followed before it and those asleep here that commute with it.
        The units not followed, because they were asleep."""
        moves = self.engine.moves(state)
        if not moves:
            self.end(number, state, moves)
            return frozenset()
        if d >= self.bounds.max_depth:
            self.cut("max_depth")
            return frozenset()
        followed: list[tuple[str, Footprint]] = []
        skipped: set[str] = set()
        for unit_id, own in self.units(moves):
            if unit_id in sleep or (only is not None and unit_id not in only):
                skipped.add(unit_id)
                continue
            ends, footprint = self.unit(number, state, d, unit_id, own)
            asleep = {t: f for t, f in (*sleep.items(), *followed) if f.commutes_with(footprint)}
            for after, steps in ends:
                self.store(after, number, steps, asleep)
            followed.append((unit_id, footprint))
        return frozenset(skipped)

    def unit(
        self, number: int, state: State, d: int, unit_id: str, moves: list[Move]
    ) -> tuple[list[tuple[State, tuple[str, ...]]], Footprint]:
        """Take one unit: the states where it ends, with the steps to each, and what its shared steps touch."""
        actor = None if moves[0].action.actor in ENVIRONMENT else state.actor(unit_id)
        if actor is not None and self.privacy.acts_alone(state, actor):
            return self.block(number, state, d, actor, moves)
        ends: list[tuple[State, tuple[str, ...]]] = []
        footprint = NOTHING
        for move in moves:  # WSK, the peer, or an actor whose next step is shared: one step each
            after, violations = self.engine.successor(state, move)
            self.report.transitions += 1
            self.note(_kinds(violations), number, (move.action.id,))
            footprint |= self.footprints.of_step(state, move, after)
            ends.append((after, (move.action.id,)))
        return ends, self.footprints.once(footprint)

    def block(
        self, number: int, state: State, d: int, actor: Actor, moves: list[Move]
    ) -> tuple[list[tuple[State, tuple[str, ...]]], Footprint]:
        """Follow one actor from this state through its private steps, and then its next shared step (each of
        them, where it has a choice): where each way ends, and what the shared steps touch."""
        actor_id = actor.id
        loops = actor_id in self.repeating or any(f.program in self.looping for f in actor.frames)
        passed: set[bytes] = set()
        ends: list[tuple[State, tuple[str, ...]]] = []
        footprint = NOTHING
        stack: list[tuple[State, list[Move], tuple[str, ...], bool]] = [(state, moves, (), True)]
        while stack:
            here, here_moves, steps_here, private = stack.pop()
            for move in here_moves:
                after, violations = self.engine.successor(here, move)
                self.report.transitions += 1
                steps = (*steps_here, move.action.id)
                self.note(_kinds(violations), number, steps)
                if not private:
                    footprint |= self.footprints.of_step(here, move, after)
                elif actor.kind != "thread" and all(a.id != actor_id for a in after.actors):
                    # A private step touches nothing another unit touches, except the last of a routine's: it
                    # leaves the set of running routines, which a close may be waiting on.
                    footprint |= ROUTINE_ENDS
                follow = self.engine.moves_of(after, actor_id) if private else []
                if not follow or d + len(steps) >= self.bounds.max_depth:
                    if private and not follow and any(a.id == actor_id for a in after.actors):
                        footprint |= self.footprints.of_waiting(after, after.actor(actor_id))
                    ends.append((after, steps))
                    continue
                if loops:
                    key = self.keys.key(after)
                    if key in passed:
                        continue  # round a loop: every way on from here is being followed already
                    passed.add(key)
                stack.append((after, follow, steps, self.privacy.acts_alone(after, after.actor(actor_id))))
        return ends, self.footprints.once(footprint)

    def store(self, state: State, parent: int, steps: tuple[str, ...], sleep: Sleep) -> None:
        """Keep a state where a unit ends, unless one equal up to names is kept at the same depth or less; what is
        asleep in it is what is asleep on every way to it (where two ways name things differently, nothing)."""
        depth = self.depth[parent] + len(steps)
        key, naming = self.keys.named_key(state)
        known = self.index.get(key)
        if known is None:
            if self.report.states >= self.bounds.max_states:
                self.cut("max_states")
                self.lose(depth)
                return
            known = self.remember(key, parent, steps, depth, naming)
            if sleep:
                self.asleep[known] = self.kept(sleep)
        elif not self.expanded[known]:
            same = naming == self.naming[known]
            kept = self.asleep.pop(known, frozenset())
            both = {t: f for t, f in kept if same and sleep.get(t) == f}
            if depth >= self.depth[known]:
                if both:
                    self.asleep[known] = self.kept(both)
                return
            self.parent[known], self.depth[known] = parent, depth
            self.via[known] = self._steps.setdefault(steps, steps)
            self.naming[known] = naming
            if both:
                self.asleep[known] = self.kept(both)
        else:
            self.revisit(known, naming, sleep)
            return
        # A state found by a revisit (below) may be shallower than the depth being expanded: it waits at this one.
        self.buckets.setdefault(max(depth, self.level), []).append((known, state, depth))
        self.deepest = max(self.deepest, depth)

    def kept(self, sleep: Sleep) -> Asleep:
        """A sleep set as it is kept while its state waits: one shared copy of each."""
        frozen = frozenset(sleep.items())
        return self._asleep.setdefault(frozen, frozen)

    def revisit(self, known: int, naming: int, sleep: Sleep) -> None:
        """A state already expanded is reached again with less asleep than when it was expanded: follow, from its
        representative, what was asleep then and is not now (all of it, if the two ways name things
        differently)."""
        skipped = self.skipped[known]
        if not skipped:
            return
        if naming == self.naming[known]:
            missing = skipped - sleep.keys()
            still: Sleep = {t: f for t, f in sleep.items() if t in skipped}
        else:
            missing, still = skipped, {}
        if not missing:
            return
        remaining = skipped - missing
        self.skipped[known] = self._sets.setdefault(remaining, remaining) if remaining else None
        representative = self.rebuild(known)
        self.expand(known, representative, self.depth[known], still, missing)

    def rebuild(self, number: int) -> State:
        """The state a stored state stands for, replayed from where the search started along the path that reached
        it."""
        state = self.origin
        for action_id in self.path_to(number):
            move = next(m for m in self.engine.moves(state) if m.action.id == action_id)
            state, _ = self.engine.successor(state, move)
        return state


def _kinds(violations: tuple[Violation, ...]) -> list[str]:
    return [v.kind for v in violations]
