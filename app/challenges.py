"""Challenges: data files in ``challenges/`` where the learner is the scheduler (break) or the designer (fix).

A *break* challenge names a built-in scenario and a goal, a violation kind ("free the socket while Sender is still
inside WskSend" is ``socket_use_after_free`` on close-during-send). The learner takes one action at a time on the
stage; the engine says when the goal's rule breaks (a win) and when the run ends without it (a loss). The score is
the run's steps and preemptions up to the win, against the shortest witness the explorer finds, which is also what
the hints reveal one action at a time.

A *fix* challenge starts from a buggy design and offers, for some threads or routines (its *slots*), a few
programs to choose from. The learner picks one per slot; the explorer searches every interleaving of the design
they picked, and the challenge is won when it proves that no rule can break (goal ``{safe: true}``).

As with scenarios and lessons, a file that cannot be used stops the start-up with its name and the fix, and the
explorer decides what an author could get wrong: a break goal that no interleaving reaches, or that every
interleaving reaches (the learner could not lose); a fix challenge whose starting design is already safe, or whose
``solution`` is not.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.lessons import DocLink, following
from app.scenarios import Library, ScenarioError, parse_scenario, read_model
from app.sim import RULES, VIOLATION_KINDS, CompiledScenario, Trace, replay
from app.sim.explore import Bounds, Report, explore
from app.sim.reach import measure

ROOT = Path(__file__).resolve().parent.parent
CHALLENGE_DIR = ROOT / "challenges"
SEARCH_STATES = 50_000  # a challenge's scenario (and every design of a fix challenge) is searched within this
LOSABLE_STATES = 20_000  # "can the learner lose?" needs the whole graph within this

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=1200)]
Kind = Literal[VIOLATION_KINDS]  # type: ignore[valid-type]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BreakGoal(Input):
    """Make this rule break."""

    kind: Kind = Field(description="The violation kind whose breaking wins the challenge.")


class SafeGoal(Input):
    """Make every interleaving safe."""

    safe: Literal[True]


class Option(Input):
    """One program a slot can hold: what the learner picks."""

    id: Id
    label: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    program: list[dict[str, Any]] = Field(min_length=1, max_length=40)


class Slot(Input):
    """A thread or a completion routine of the base scenario whose program the learner chooses."""

    thread: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    routine: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    options: list[Option] = Field(min_length=2, max_length=8)


class Challenge(Input):
    id: Id
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    order: int = Field(ge=1, le=99)
    scenario: Id = Field(
        description="Break: the scenario played. Fix: the base whose slots the learner fills."
    )
    goal: BreakGoal | SafeGoal
    story: Text = Field(description="What the learner must do, and why it matters, in a few sentences.")
    lost: Text | None = Field(
        default=None, description="Break: what usually went wrong when a run ends without the goal."
    )
    memory: list[dict[str, Any]] | None = Field(
        default=None,
        max_length=8,
        description="Fix: the shared memory every design may use (replaces the base's).",
    )
    slots: list[Slot] | None = Field(default=None, min_length=1, max_length=4)
    start: dict[str, Id] | None = Field(default=None, description="Fix: the option each slot starts with.")
    solution: dict[str, Id] | None = Field(
        default=None,
        description="Fix: a pick the explorer must prove safe (it is never shown to the learner).",
    )
    docs: list[DocLink] = Field(min_length=1, max_length=8)


class ChallengeError(ValueError):
    """A challenge file that cannot be used, with a message naming the file and the fix."""


@dataclass(frozen=True)
class Score:
    steps: int
    preemptions: int

    def better_than(self, other: Score) -> bool:
        return (self.steps, self.preemptions) < (other.steps, other.preemptions)


@dataclass(frozen=True)
class Choice:
    """A slot as the learner sees it: its name and the code of each option."""

    name: str  # the thread's or routine's name
    kind: str  # "thread" | "routine"
    options: tuple[tuple[str, str, tuple[str, ...]], ...]  # (id, label, lines of C)


@dataclass(frozen=True)
class CompiledChallenge:
    source: Challenge
    scenario: CompiledScenario  # break: the scenario played; fix: the starting design
    witness: tuple[str, ...]  # break: the explorer's shortest schedule to the goal; fix: ()
    best: Score | None  # break: that witness's score
    choices: tuple[Choice, ...]  # fix: the slots

    @property
    def kind(self) -> Literal["break", "fix"]:
        return "break" if isinstance(self.source.goal, BreakGoal) else "fix"

    @property
    def goal_kind(self) -> str | None:
        return self.source.goal.kind if isinstance(self.source.goal, BreakGoal) else None

    def goal_json(self) -> dict[str, Any]:
        return self.source.goal.model_dump(mode="json")


@dataclass(frozen=True)
class Catalogue:
    """The challenges in order."""

    challenges: dict[str, CompiledChallenge]

    def get(self, challenge_id: str) -> CompiledChallenge | None:
        return self.challenges.get(challenge_id)

    def after(self, challenge_id: str) -> CompiledChallenge | None:
        return following(self.challenges, challenge_id)


# -- searches, shared: a scenario's search is the same every time it is asked ------------------------------------

_SEARCHED: OrderedDict[str, Report] = OrderedDict()
_SEARCH_LOCK = threading.Lock()
SEARCHES_KEPT = 512


def search(compiled: CompiledScenario) -> Report:
    """The explorer's report on a scenario (kept by its fingerprint: the engine is pure, so it cannot change)."""
    with _SEARCH_LOCK:
        known = _SEARCHED.get(compiled.fingerprint)
        if known is not None:
            _SEARCHED.move_to_end(compiled.fingerprint)
            return known
    report = explore(compiled, Bounds(max_states=SEARCH_STATES))
    with _SEARCH_LOCK:
        _SEARCHED[compiled.fingerprint] = report
        while len(_SEARCHED) > SEARCHES_KEPT:
            _SEARCHED.popitem(last=False)
    return report


def shortest(report: Report) -> tuple[str, tuple[str, ...]] | None:
    """The shortest witness a report holds, with its kind (the first kind by name among equals)."""
    if not report.witnesses:
        return None
    kind = min(report.witnesses, key=lambda k: (len(report.witnesses[k]), k))
    return kind, report.witnesses[kind]


# -- loading -------------------------------------------------------------------------------------------------------


def load_challenge(path: Path, library: Library) -> CompiledChallenge:
    """Read and check one challenge file; every problem is a ChallengeError naming the file and the fix."""
    name = path.name
    challenge = read_model(path, Challenge, ChallengeError, name)
    if challenge.id != path.stem.split("-", 1)[-1] and challenge.id != path.stem:
        raise ChallengeError(
            f"{name}: the id '{challenge.id}' must match the file name (optionally after 'NN-')."
        )
    base = library.get(challenge.scenario)
    if base is None:
        raise ChallengeError(
            f"{name}: there is no built-in scenario '{challenge.scenario}'; use an id from scenarios/."
        )
    if isinstance(challenge.goal, BreakGoal):
        return _load_break(name, challenge, base)
    return _load_fix(name, challenge, base)


def _load_break(name: str, challenge: Challenge, scenario: CompiledScenario) -> CompiledChallenge:
    for field in ("memory", "slots", "start", "solution"):
        if getattr(challenge, field) is not None:
            raise ChallengeError(
                f"{name}: '{field}' belongs to a fix challenge (goal: {{safe: true}}); remove it from this break "
                "challenge."
            )
    if challenge.lost is None:
        raise ChallengeError(
            f"{name}: a break challenge needs 'lost': a sentence on what usually went wrong when a run ends "
            "without the goal."
        )
    kind = challenge.goal.kind  # type: ignore[union-attr]
    report = search(scenario)
    witness = report.witnesses.get(kind)
    if witness is None:
        reachable = ", ".join(sorted(report.witnesses)) or "none"
        if not report.complete:
            raise ChallengeError(
                f"{name}: the explorer could not decide whether '{kind}' can happen in '{challenge.scenario}': it "
                f"stopped at {report.states:,} states ({report.stopped_by}). Use a smaller scenario."
            )
        raise ChallengeError(
            f"{name}: the goal cannot be reached: the explorer searched every interleaving of "
            f"'{challenge.scenario}' and none breaks '{kind}'. Kinds that can break there: {reachable}."
        )
    meter = measure(scenario, max_states=LOSABLE_STATES)
    if meter.exact:
        reach = meter.at(replay(scenario, ()).final)
        if reach is not None and kind in reach.unavoidable:
            raise ChallengeError(
                f"{name}: every interleaving of '{challenge.scenario}' breaks '{kind}', so the learner cannot "
                "lose; choose a scenario where some runs end without it."
            )
    trace = replay(scenario, witness)
    return CompiledChallenge(challenge, scenario, witness, score_of(trace, len(witness)), ())


def _load_fix(name: str, challenge: Challenge, base: CompiledScenario) -> CompiledChallenge:
    if challenge.lost is not None:
        raise ChallengeError(
            f"{name}: 'lost' belongs to a break challenge; a fix challenge's verdict says why."
        )
    if not challenge.slots or challenge.start is None or challenge.solution is None:
        raise ChallengeError(
            f"{name}: a fix challenge (goal: {{safe: true}}) needs 'slots' (what the learner chooses), 'start' (the "
            "buggy design it begins with) and 'solution' (a design the explorer must prove safe)."
        )
    threads = {t.name for t in base.source.threads}
    routines = set(base.source.routines)
    names: list[str] = []
    for index, slot in enumerate(challenge.slots):
        where = f"{name}: slots.{index}"
        if (slot.thread is None) == (slot.routine is None):
            raise ChallengeError(f"{where}: name either a 'thread' or a 'routine' of '{challenge.scenario}'.")
        if slot.thread is not None and slot.thread not in threads:
            raise ChallengeError(
                f"{where}: '{challenge.scenario}' has no thread '{slot.thread}'; it has {sorted(threads)}."
            )
        if slot.routine is not None and slot.routine not in routines:
            raise ChallengeError(
                f"{where}: '{challenge.scenario}' has no routine '{slot.routine}'; it has {sorted(routines)}."
            )
        slot_name = slot.thread or slot.routine or ""
        if slot_name in names:
            raise ChallengeError(f"{where}: '{slot_name}' has two slots; merge their options.")
        names.append(slot_name)
        ids = [o.id for o in slot.options]
        if len(set(ids)) != len(ids):
            raise ChallengeError(f"{where}: two options share an id; give each its own.")
    for field in ("start", "solution"):
        picks: dict[str, str] = getattr(challenge, field)
        problem = pick_problem(challenge, picks)
        if problem:
            raise ChallengeError(f"{name}: '{field}': {problem}")
    choices = []
    for slot in challenge.slots:
        options = []
        for option in slot.options:
            picks = {**challenge.start, _slot_name(slot): option.id}
            try:
                compiled = compose(challenge, base, picks)
            except ScenarioError as err:
                raise ChallengeError(
                    f"{name}: option '{option.id}' of '{_slot_name(slot)}' does not compile: {err}"
                ) from None
            key = f"thread:{slot.thread}" if slot.thread else f"routine:{slot.routine}"
            options.append((option.id, option.label, compiled.programs[key].lines))
        choices.append(Choice(_slot_name(slot), "thread" if slot.thread else "routine", tuple(options)))
    start = compose(challenge, base, challenge.start)
    verdict = search(start)
    if verdict.complete and not verdict.witnesses:
        raise ChallengeError(
            f"{name}: the 'start' design is already safe in every interleaving: there is nothing to fix."
        )
    solved = search(compose(challenge, base, challenge.solution))
    if not solved.complete or solved.witnesses:
        found = shortest(solved)
        why = f"'{found[0]}' can break" if found else f"the search stopped at {solved.states:,} states"
        raise ChallengeError(
            f"{name}: the goal cannot be reached with the 'solution' design ({why}); give a pick the explorer "
            "proves safe."
        )
    return CompiledChallenge(challenge, start, (), None, tuple(choices))


def _slot_name(slot: Slot) -> str:
    return slot.thread or slot.routine or ""


def pick_problem(challenge: Challenge, picks: dict[str, str]) -> str | None:
    """What is wrong with a pick (one option id per slot), in a sentence; None if it is complete and known."""
    slots = {_slot_name(s): s for s in challenge.slots or []}
    unknown = sorted(set(picks) - set(slots))
    if unknown:
        return f"there is no slot '{unknown[0][:32]}'; the slots are {', '.join(slots)}."
    missing = [s for s in slots if s not in picks]
    if missing:
        return f"pick an option for every slot; '{missing[0]}' has none."
    for slot_name, option_id in picks.items():
        ids = [o.id for o in slots[slot_name].options]
        if option_id not in ids:
            return f"'{option_id[:64]}' is not an option of '{slot_name}'; its options are {', '.join(ids)}."
    return None


def compose(challenge: Challenge, base: CompiledScenario, picks: dict[str, str]) -> CompiledScenario:
    """The base scenario with each slot's program replaced by the picked option's (picks already checked)."""
    data = base.source.model_dump(mode="json", exclude={"expect", "demo", "bugs", "family", "variant"})
    if challenge.memory is not None:
        data["memory"] = challenge.memory
    for slot in challenge.slots or []:
        option = next(o for o in slot.options if o.id == picks[_slot_name(slot)])
        if slot.thread is not None:
            for thread in data["threads"]:
                if thread["name"] == slot.thread:
                    thread["program"] = option.program
        else:
            data["routines"][slot.routine]["program"] = option.program
    data["id"] = challenge.id
    data["title"] = challenge.title
    return parse_scenario(data)


def load_catalogue(library: Library, directory: Path = CHALLENGE_DIR) -> Catalogue:
    """Every ``*.yaml`` in ``directory``, checked, in order; two challenges may not share an order."""
    challenges = [load_challenge(path, library) for path in sorted(directory.glob("*.yaml"))]
    challenges.sort(key=lambda c: c.source.order)
    seen: dict[int, str] = {}
    for c in challenges:
        other = seen.setdefault(c.source.order, c.source.id)
        if other != c.source.id:
            raise ChallengeError(
                f"challenges '{other}' and '{c.source.id}' both have order {c.source.order}; give each its own place."
            )
    return Catalogue({c.source.id: c for c in challenges})


# -- judging a run -------------------------------------------------------------------------------------------------


def score_of(trace: Trace, steps: int) -> Score:
    """The score of a run's first ``steps`` steps: their number, and how many of them preempted a thread."""
    return Score(steps, sum(1 for s in trace.snapshots[1 : steps + 1] if s.preemption))


@dataclass(frozen=True)
class Judgement:
    outcome: Literal["won", "lost", "running"]
    won_at: int | None  # the step the goal's rule broke
    score: Score  # up to the win, else of the whole run
    reason: str


def judge(challenge: CompiledChallenge, trace: Trace, at: int | None = None) -> Judgement:
    """Whether the run, up to step ``at`` (its end by default), has won the break challenge, lost it, or goes on."""
    kind = challenge.goal_kind
    assert kind is not None
    last = len(trace.schedule)
    at = last if at is None else at
    rule = RULES[kind]
    hits = [step for step, v in trace.violations if v.kind == kind and step <= at]
    if hits:
        step = min(hits)
        return Judgement(
            "won", step, score_of(trace, step), f"Won: at step {step}, rule {rule.rule} broke ({rule.title})."
        )
    score = score_of(trace, at)
    ended = at == last and not trace.enabled
    if not ended:
        return Judgement(
            "running", None, score, f"Not yet: the run goes on, and rule {rule.rule} has not broken."
        )
    others = sorted({v.kind for step, v in trace.violations if step <= at} - {kind})
    if trace.outcome == "ok":
        what = "The run ended cleanly: every IRP came back and nothing broke."
    elif others:
        names = ", ".join(f"{RULES[k].rule} ({RULES[k].title.lower()})" for k in others)
        what = f"The run ended having broken {names}, but not rule {rule.rule}."
    else:
        what = f"The run ended ({trace.outcome}) without breaking rule {rule.rule}."
    return Judgement("lost", None, score, f"{what} {challenge.source.lost}")
