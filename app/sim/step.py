"""One step of a run: the records it produces, and the transaction that makes it.

A step is atomic. The engine finds the enabled actions (each an ``Action`` with a short URL-safe id), and taking
one runs its ``Move`` against a ``Transaction``: a mutable working copy of the world that collects what happened
(``Event``), the rules broken (``Violation``) and one sentence per effect, and is frozen back into a ``State`` at
the end as a ``StepResult``. Nothing else ever changes a state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.sim.model import Actor, EventKind, Frame, Irp, Socket, State
from app.sim.program import CompiledProgram, CompiledScenario
from app.sim.records import replace
from app.sim.rules import RULES


@dataclass(frozen=True, slots=True)
class Action:
    """One enabled step: its id (used in schedules and links), the actor taking it, and what it will do."""

    id: str
    actor: str
    label: str


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened during a step; ``kind`` is stable (irp_completed, socket_freed, violation, ...)."""

    kind: EventKind
    actor: str | None = None
    irp: int | None = None
    function: str | None = None
    status: str | None = None
    socket: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule, found at a step; ``kind`` is one of rules.VIOLATION_KINDS, ``rule`` its rule ids there."""

    kind: str
    rule: str
    message: str
    actor: str | None = None


def violation(kind: str, message: str) -> Violation:
    """A violation found at the end of a run (no actor to blame), with the rule ids ``rules.RULES`` gives it."""
    return Violation(kind=kind, rule=RULES[kind].rule, message=message)


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one step did: the action, what else was enabled, the new state, its events, narration and
    violations."""

    action: Action
    enabled_before: tuple[
        Action, ...
    ]  # what could have happened instead: tells whether this was a preemption
    state: State
    events: tuple[Event, ...]
    narration: str
    violations: tuple[Violation, ...]


ENVIRONMENT = ("wsk", "peer")  # actors that act on other processors: their turns are not thread switches


def is_preemption(enabled_before: tuple[Action, ...], last_actor: str | None, action: Action) -> bool:
    """Taking ``action`` switches away from ``last_actor`` (the last application thread, completion routine or
    callback to move) although it could still have run. WSK and the peer act on other processors, so their
    actions preempt no one."""
    if last_actor is None or action.actor in ENVIRONMENT or action.actor == last_actor:
        return False
    return any(a.actor == last_actor for a in enabled_before)


def next_last_actor(last_actor: str | None, action: Action) -> str | None:
    """The application-side actor that moved last, after ``action`` (environment actions leave it as it was)."""
    return last_actor if action.actor in ENVIRONMENT else action.actor


class IllegalAction(ValueError):
    """An action id that is not enabled in the current state; the message lists the legal ones."""

    def __init__(self, action: str, enabled: tuple[Action, ...], step: int | None = None):
        where = f" at step {step}" if step is not None else ""
        legal = ", ".join(f"{a.id} ({a.label})" for a in enabled) or "none: the run has ended"
        super().__init__(f"Action '{action}' is not possible{where}. Possible actions: {legal}.")
        self.action = action
        self.enabled = enabled
        self.step = step


@dataclass(frozen=True, slots=True)
class Move:
    """An enabled action and what taking it does to a transaction."""

    action: Action
    perform: Callable[[Transaction], None]


class Transaction:
    """A mutable view of one step's changes, frozen back into a State at the end.

    Every chapter of the engine reads and writes the world through it, and reports through ``say`` (one
    sentence of narration), ``emit`` (an event) and ``violate`` (a broken rule, which is also remembered in
    the state so that the explorer's outcomes are exact).
    """

    def __init__(self, scenario: CompiledScenario, state: State, narrate: bool = True):
        self.scenario = scenario
        self.state = state
        # The explorer's steps are never shown: it only needs the new state and the rules broken.
        self.narrate = narrate
        self.events: list[Event] = []
        self.violations: list[Violation] = []
        self.sentences: list[str] = []
        # A routine WSK runs inline, nested on a thread's stack, acts as that thread (its actor id) but is not the
        # thread's own code: (actor id, how the narration names it) while one of its statements runs.
        self.voice: tuple[str, str] | None = None

    # -- reading and writing the world ------------------------------------------------------------------------

    def program(self, frame: Frame) -> CompiledProgram:
        """The compiled program a frame runs."""
        return self.scenario.programs[frame.program]

    def actor(self, actor_id: str) -> Actor:
        """The actor as this step has left it so far."""
        return self.state.actor(actor_id)

    def put_actor(self, actor: Actor) -> None:
        """Replace the actor with the same id, or add it at the end (a routine or callback WSK starts)."""
        actors = tuple(actor if a.id == actor.id else a for a in self.state.actors)
        if all(a.id != actor.id for a in self.state.actors):
            actors = (*actors, actor)
        self.state = replace(self.state, actors=actors)

    def drop_actor(self, actor_id: str) -> None:
        """Remove an actor: a routine or callback that returned to WSK."""
        self.state = replace(self.state, actors=tuple(a for a in self.state.actors if a.id != actor_id))

    def put_frame(self, actor_id: str, frame: Frame) -> None:
        """Replace the actor's innermost frame."""
        actor = self.actor(actor_id)
        self.put_actor(replace(actor, frames=(*actor.frames[:-1], frame)))

    def irp(self, irp_id: int) -> Irp:
        """IRP ``irp_id`` as this step has left it so far."""
        return self.state.irp(irp_id)

    def put_irp(self, irp: Irp) -> None:
        """Replace the IRP with the same id, or add it if its id is the next one (IoAllocateIrp)."""
        irps = list(self.state.irps)
        if irp.id > len(irps):
            irps.append(irp)
        else:
            irps[irp.id - 1] = irp
        self.state = replace(self.state, irps=tuple(irps))

    def socket(self, index: int) -> Socket:
        """Socket ``index`` (its place in the scenario's declarations) as this step has left it so far."""
        return self.state.sockets[index]

    def put_socket(self, index: int, **changes: object) -> None:
        """Change some fields of one socket."""
        sockets = list(self.state.sockets)
        sockets[index] = replace(sockets[index], **changes)
        self.state = replace(self.state, sockets=tuple(sockets))

    def put_cell(self, cells: str, index: int, value: object) -> None:
        """Store one memory cell's value in one of the state's per-cell tuples (``words``, ``rundowns``, ``events``
        or ``offers``)."""
        values = list(getattr(self.state, cells))
        values[index] = value
        self.state = replace(self.state, **{cells: tuple(values)})

    def socket_name(self, index: int) -> str:
        """The name the scenario gives socket ``index``."""
        return self.scenario.sockets[index].name

    # -- reporting ---------------------------------------------------------------------------------------------

    def say(self, sentence: str) -> None:
        """Add one sentence to the step's narration. A sentence about what a nested routine does names the
        routine and the thread it runs on ("SendComplete (on Sender's thread) frees IRP 1."), not the thread."""
        if self.narrate:
            if self.voice is not None and sentence.startswith(self.voice[0] + " "):
                sentence = self.voice[1] + sentence[len(self.voice[0]) :]
            self.sentences.append(sentence)

    def emit(self, kind: EventKind, **fields: object) -> None:
        """Record an event of this step."""
        if self.narrate:
            self.events.append(Event(kind=kind, **fields))  # type: ignore[arg-type]

    def violate(self, kind: str, message: str, actor: str | None) -> None:
        """Record a broken rule: a Violation, a violation event, and the kind in the state's ``violated``."""
        rule = RULES[kind]
        self.violations.append(Violation(kind=kind, rule=rule.rule, message=message, actor=actor))
        self.emit(EventKind.VIOLATION, actor=actor, text=f"{kind}: {message}")
        if kind not in self.state.violated:
            self.state = replace(self.state, violated=tuple(sorted((*self.state.violated, kind))))

    def result(self, action: Action, enabled_before: tuple[Action, ...]) -> StepResult:
        """Freeze the step: the narration is the sentences, then each broken rule in words."""
        narration = " ".join(self.sentences)
        for v in self.violations:
            narration += f" Rule {v.rule} is broken: {v.message}"
        return StepResult(
            action, enabled_before, self.state, tuple(self.events), narration.strip(), tuple(self.violations)
        )
