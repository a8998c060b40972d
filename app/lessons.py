"""The course: lessons as data files in ``lessons/``, validated at start-up against the scenarios they teach on.

A lesson walks one run of a built-in scenario (its ``schedule``) on the stage, and at chosen steps says why in the
author's words, or asks the learner to predict before it reveals. A question names only its kind (and what it is
about: a rule, a memory cell): the engine computes its answer key from the scenario (the enabled actions, the next
state, what can still happen), so a lesson file never holds an answer that could go stale when a scenario changes.

As with scenarios, a file that cannot be used stops the start-up with its name and the fix: a step that the run
does not have, a question the engine cannot answer, a schedule that does not replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.scenarios import Library, read_model
from app.sim import RULES, CompiledScenario, IllegalAction, Trace, parse_schedule, replay
from app.sim.model import State
from app.sim.reach import Meter, Reach, aftermath, measure

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
LESSON_DIR = ROOT / "lessons"
ANSWERABLE_STATES = 20_000  # a can-it-still-break question needs the scenario's whole graph within this

Text = Annotated[str, StringConstraints(min_length=1, max_length=1200)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DocLink(Input):
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    url: Annotated[str, StringConstraints(pattern=r"^https://learn\.microsoft\.com/\S{1,300}$")]


class LessonStep(Input):
    """What the lesson adds at one step of its run: why it matters, and or a question asked before the next step
    is revealed."""

    at: int = Field(ge=0, le=400, description="The step of the lesson's run (0 is the start).")
    why: Text | None = Field(default=None, description="Why this step matters, in the author's words.")
    ask: Literal["next", "can_break", "counter", "breaks"] | None = Field(
        default=None,
        description="'next': which of these actions can happen next? 'can_break': can the rule in 'rule' still "
        "break from here? 'counter': what will the memory cell or socket count in 'cell' be after the next "
        "step? 'breaks': which of the actions enabled now breaks the rule in 'rule', or makes it unavoidable? "
        "The engine computes the answer.",
    )
    rule: str | None = Field(
        default=None, description="The violation kind a 'can_break' or 'breaks' question is about."
    )
    cell: (
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[a-z_]{1,16})?$")] | None
    ) = Field(
        default=None,
        description="What a 'counter' question asks about: a memory cell of the scenario (a word, or a "
        "run-down block's count), or a socket's count: '<socket>.calls', '<socket>.pending', "
        "'<socket>.retained'.",
    )


class Lesson(Input):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    order: int = Field(ge=1, le=99)
    scenario: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    schedule: Annotated[str, StringConstraints(max_length=4000)] = ""
    goal: Text = Field(description="What the learner will understand at the end, in one or two sentences.")
    steps: list[LessonStep] = Field(max_length=200)
    docs: list[DocLink] = Field(min_length=1, max_length=8)


class LessonError(ValueError):
    """A lesson file that cannot be used, with a message naming the file and the fix."""


@dataclass(frozen=True)
class CompiledLesson:
    """A lesson, checked against its scenario: the run it walks, and its steps by number."""

    source: Lesson
    scenario: CompiledScenario
    trace: Trace
    steps: dict[int, LessonStep]

    @property
    def last(self) -> int:
        return len(self.trace.schedule)


@dataclass(frozen=True)
class Course:
    """The lessons in course order."""

    lessons: dict[str, CompiledLesson]

    def get(self, lesson_id: str) -> CompiledLesson | None:
        return self.lessons.get(lesson_id)

    def after(self, lesson_id: str) -> CompiledLesson | None:
        """The next lesson in the course, if any."""
        return following(self.lessons, lesson_id)


def following(in_order: dict[str, T], key: str) -> T | None:
    """What comes after ``key`` in an ordered collection (the course's lessons, the challenges), if anything."""
    ids = list(in_order)
    at = ids.index(key)
    return in_order[ids[at + 1]] if at + 1 < len(ids) else None


def load_lesson(path: Path, library: Library) -> CompiledLesson:
    """Read and check one lesson file; every problem is a LessonError naming the file, the place and the fix."""
    name = path.name
    lesson = read_model(path, Lesson, LessonError, name)
    if lesson.id != path.stem.split("-", 1)[-1] and lesson.id != path.stem:
        raise LessonError(f"{name}: the id '{lesson.id}' must match the file name (optionally after 'NN-').")
    scenario = library.get(lesson.scenario)
    if scenario is None:
        raise LessonError(
            f"{name}: there is no built-in scenario '{lesson.scenario}'; use an id from scenarios/."
        )
    try:
        trace = replay(scenario, parse_schedule(lesson.schedule))
    except IllegalAction as err:
        raise LessonError(f"{name}: the schedule does not replay on '{lesson.scenario}': {err}") from None
    except ValueError as err:
        raise LessonError(f"{name}: the schedule is malformed: {err}") from None
    steps: dict[int, LessonStep] = {}
    measured: list[Meter] = []

    def meter() -> Meter:  # searched once per lesson, and only if a question needs it
        if not measured:
            measured.append(measure(scenario, max_states=ANSWERABLE_STATES))
        return measured[0]

    for index, step in enumerate(lesson.steps):
        where = f"{name}: steps.{index} (at: {step.at})"
        if step.at in steps:
            raise LessonError(f"{where}: step {step.at} is described twice; merge the two entries.")
        if step.at > len(trace.schedule):
            raise LessonError(
                f"{where}: the run has only {len(trace.schedule)} steps; use a step from 0 to "
                f"{len(trace.schedule)} or lengthen the schedule."
            )
        if step.why is None and step.ask is None:
            raise LessonError(
                f"{where}: say why the step matters ('why') or ask something ('ask'), or remove it."
            )
        _check_question(where, step, scenario, trace, meter)
        steps[step.at] = step
    return CompiledLesson(lesson, scenario, trace, steps)


def _check_question(
    where: str, step: LessonStep, scenario: CompiledScenario, trace: Trace, meter: Callable[[], Meter]
) -> None:
    """A question must be one the engine can answer at its step, with at least one right and one wrong option."""
    if step.ask is None:
        for name in ("rule", "cell"):
            if getattr(step, name) is not None:
                raise LessonError(f"{where}: '{name}' belongs to a question; add 'ask' or remove it.")
        return
    if step.at == len(trace.schedule):
        raise LessonError(
            f"{where}: a question is asked before the next step is revealed, and step {step.at} is the last of "
            "the run; ask it earlier or lengthen the schedule."
        )
    takes = {"next": (), "can_break": ("rule",), "counter": ("cell",), "breaks": ("rule",)}[step.ask]
    for name in ("rule", "cell"):
        if name not in takes and getattr(step, name) is not None:
            raise LessonError(f"{where}: a '{step.ask}' question takes no '{name}'; remove it.")
    if step.ask == "counter":
        if step.cell is None:
            raise LessonError(
                f"{where}: a 'counter' question needs 'cell', one of: {', '.join(counters(scenario))}."
            )
        if step.cell not in counters(scenario):
            raise LessonError(
                f"{where}: '{step.cell}' is not a counter of '{scenario.source.id}'; use one of: "
                f"{', '.join(counters(scenario))}."
            )
    if step.ask in ("can_break", "breaks"):
        if step.rule not in RULES:
            raise LessonError(
                f"{where}: a '{step.ask}' question needs 'rule', one of the violation kinds: "
                f"{', '.join(sorted(RULES))}."
            )
        measured = meter()
        if not measured.exact:
            raise LessonError(
                f"{where}: the engine cannot answer this question: '{scenario.source.id}' has more than "
                f"{ANSWERABLE_STATES:,} states, so whether '{step.rule}' can still break is not known exactly. "
                "Teach it on a smaller scenario."
            )
        if step.ask == "breaks" and step.rule not in measured.kinds:
            breakable = ", ".join(sorted(measured.kinds)) or "none: every interleaving is safe"
            raise LessonError(
                f"{where}: no run of '{scenario.source.id}' breaks '{step.rule}', so no action can break it; "
                f"ask about a rule the scenario can break ({breakable}) or use 'can_break'."
            )
    asked = _ask(step, trace, step.at, meter)
    if not any(o.right for o in asked.options) or all(o.right for o in asked.options):
        answer = (
            "every option is right"
            if asked.options and all(o.right for o in asked.options)
            else "no option is right"
        )
        hint = ""
        if step.ask == "breaks":
            assert step.rule is not None
            useful = [
                at for at in range(len(trace.schedule)) if _has_right_and_wrong(_ask(step, trace, at, meter))
            ]
            hint = f" Steps of this run where it teaches: {', '.join(map(str, useful[:12])) or 'none'}."
        raise LessonError(
            f"{where}: at step {step.at} {answer}, so the question has nothing to choose; ask it at another "
            f"step.{hint}"
        )


def _has_right_and_wrong(asked: Question) -> bool:
    return any(o.right for o in asked.options) and not all(o.right for o in asked.options)


def load_course(library: Library, directory: Path = LESSON_DIR) -> Course:
    """Every ``*.yaml`` in ``directory``, checked, in course order; two lessons may not share an order."""
    lessons = [load_lesson(path, library) for path in sorted(directory.glob("*.yaml"))]
    lessons.sort(key=lambda lesson: lesson.source.order)
    seen: dict[int, str] = {}
    for lesson in lessons:
        other = seen.setdefault(lesson.source.order, lesson.source.id)
        if other != lesson.source.id:
            raise LessonError(
                f"lessons '{other}' and '{lesson.source.id}' both have order {lesson.source.order}; give each "
                "its own place in the course."
            )
    return Course({lesson.source.id: lesson for lesson in lessons})


# -- questions: the engine computes every answer -------------------------------------------------------------------

MAX_OPTIONS = 6


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    right: bool  # whether picking it (for 'next': ticking it) is right
    reason: str  # why, in a sentence the engine can back


@dataclass(frozen=True)
class Question:
    kind: str
    text: str
    options: tuple[Option, ...]
    many: bool  # several options may be right (tick all that apply)
    yes: str = "can happen"  # how the feedback marks a right option of a tick-all question, and a wrong one
    no: str = "cannot happen"


def question(lesson: CompiledLesson, at: int, meter: Meter | None = None) -> Question | None:
    """The question a lesson asks at step ``at`` (before revealing ``at + 1``), with its answer key."""
    step = lesson.steps.get(at)
    if step is None or step.ask is None:
        return None

    def measured() -> Meter:
        return meter or measure(lesson.scenario, max_states=ANSWERABLE_STATES)

    return _ask(step, lesson.trace, at, measured)


def _ask(step: LessonStep, trace: Trace, at: int, meter: Callable[[], Meter]) -> Question:
    """The question of ``step``, asked at step ``at`` of ``trace`` (the validation tries other steps too)."""
    if step.ask == "next":
        return _next_question(trace, at)
    if step.ask == "counter":
        assert step.cell is not None
        return _counter_question(trace, at, step.cell)
    assert step.rule is not None
    if step.ask == "breaks":
        return _breaks_question(trace, at, step.rule, meter())
    return _can_break_question(trace, at, step.rule, meter())


def _next_question(trace: Trace, at: int) -> Question:
    """Which of these can happen next? The options: every action enabled now, and actions the same run takes at
    other steps but that cannot happen now (each with the engine's reason why not)."""
    engine = trace.engine
    enabled = trace.enabled_at(at)
    now = {a.id for a in enabled}
    blocked = dict(engine.blocked(trace.snapshots[at].state, enabled))
    others: dict[str, str] = {}
    for index in range(len(trace.snapshots)):
        for action in trace.enabled_at(index):
            if action.id not in now:
                others.setdefault(action.id, action.label)
    options = [
        Option(a.id, a.label, True, f"It can: nothing stops {a.actor} from taking this step now.")
        for a in enabled
    ]
    moving: dict[str, list[str]] = {}
    for a in enabled:
        moving.setdefault(a.label.split(":", 1)[0], []).append(a.label.split(":", 1)[-1].strip())
    for action_id, label in sorted(others.items())[: max(0, MAX_OPTIONS - len(options))]:
        actor = label.split(":", 1)[0]
        why = blocked.get(actor) or blocked.get(actor.lower())
        if why:
            reason = f"Not now: {why}"
        elif actor in moving:
            reason = f"Not now: {actor}'s next step is another one ({'; '.join(moving[actor])})."
        else:
            reason = "Not now: it is not what this actor does next."
        options.append(Option(action_id, label, False, reason))
    options.sort(key=lambda o: o.label)
    return Question("next", "Which of these can happen next? Tick every one that can.", tuple(options), True)


VERDICT_OPTIONS = (
    ("unavoidable", "Yes, in every way the run can go on"),
    ("possible", "Yes, in some of the ways it can go on"),
    ("impossible", "No, not any more"),
    ("happened", "It already has"),
)


def _ways_on(reach: Reach, kind: str) -> str:
    """How many of the ways the run can go on from a state break ``kind``, when the meter counted them."""
    count, total = reach.count(kind), reach.continuations
    return f" ({count:,} of the {total:,} ways on)" if count is not None and total else ""


def _can_break_question(trace: Trace, at: int, kind: str, meter: Meter) -> Question:
    state = trace.snapshots[at].state
    reach = meter.at(state)
    assert reach is not None  # a complete graph holds every state a run reaches
    verdict = reach.verdict(kind, frozenset(state.violated))
    ways = _ways_on(reach, kind)
    reasons = {
        "unavoidable": f"Every way this run can go on from here breaks it{ways}.",
        "possible": f"Some ways this run can go on break it, and some do not{ways}.",
        "impossible": "No way this run can go on from here breaks it: the engine searched them all.",
        "happened": "The run has broken it already, at an earlier step.",
    }
    rule = RULES[kind]
    options = tuple(
        Option(value, label, value == verdict, reasons[verdict]) for value, label in VERDICT_OPTIONS
    )
    text = f"Can rule {rule.rule} ({rule.title}) still break from here?"
    return Question("can_break", text, options, False)


# What will the counter be? A word of shared memory, a run-down block's count, or a count the socket keeps.
SOCKET_COUNTS = {
    "calls": "the number of calls in progress on socket {socket}",
    "pending": "the number of IRPs WSK holds for socket {socket}",
    "retained": "the number of data indication lists the client retains on socket {socket}",
}


def counters(scenario: CompiledScenario) -> list[str]:
    """What a 'counter' question may ask about in ``scenario``: its words and run-down blocks, and each socket's
    counts (``s.calls``, ``s.pending``, ``s.retained``). Events are not counters: they are set or not."""
    cells = [cell.name for cell in scenario.memory if cell.kind in ("word", "rundown")]
    return cells + [f"{decl.name}.{field}" for decl in scenario.sockets for field in SOCKET_COUNTS]


def _counter(scenario: CompiledScenario, state: State, name: str) -> tuple[str, int]:
    """How the question names the counter, and its value in ``state``."""
    socket, _, field = name.partition(".")
    if field:
        index = scenario.socket_index[socket]
        sock = state.sockets[index]
        count = {"calls": len(sock.calls), "pending": len(sock.pending), "retained": sock.retained}[field]
        return SOCKET_COUNTS[field].format(socket=socket), count
    index = scenario.memory_index[name]
    cell = scenario.memory[index]
    if cell.kind == "rundown":
        return f"the count of calls holding {cell.c_name}", state.rundowns[index].count
    return cell.c_name, state.words[index]


def _counter_question(trace: Trace, at: int, name: str) -> Question:
    """What will the counter be after the next step? The key is its value in the engine's next state; the other
    options are the values a learner might plausibly guess: unchanged, one more or less, zero."""
    scenario = trace.scenario
    label, now = _counter(scenario, trace.snapshots[at].state, name)
    after = trace.snapshots[at + 1]
    _, then = _counter(scenario, after.state, name)
    assert after.action is not None
    guesses = {then, now, now + 1, now - 1, 0}
    if len(guesses) < 4:
        guesses.add(now + 2)
    values = sorted(v for v in guesses if v >= 0 or v == then or now < 0)
    change = "stays" if then == now else "becomes"
    why = f"After the next step it {change} {then}: {after.narration}"
    options = tuple(
        Option(str(v), str(v), v == then, why if v == then else f"Not {v}. {why}") for v in values
    )
    text = f"What will {label} be after the next step ({after.action.label})?"
    return Question("counter", text, options, False)


def _breaks_question(trace: Trace, at: int, kind: str, meter: Meter) -> Question:
    """Which action breaks it? Each action enabled now, right if after it the rule has been broken or every way
    on breaks it; the reason is the meter's verdict after that action."""
    engine = trace.engine
    state = trace.snapshots[at].state
    rule = RULES[kind]
    options = []
    for action in trace.enabled_at(at):
        after = aftermath(engine, meter, state, action.id)
        reach = after.reach
        assert reach is not None  # a complete graph holds every successor
        if kind in after.broken:
            found = [v.message for v in after.result.violations if v.kind == kind]
            reason = f"It breaks it at once: {found[0]}" if found else "It breaks it at once."
        elif kind in state.violated:
            reason = "The run had broken it already, before this step."
        else:
            ways = _ways_on(reach, kind)
            reason = {
                "unavoidable": f"After it the bug is certain: every way the run can go on breaks it{ways}.",
                "possible": f"After it the bug can still happen, but need not{ways}.",
                "impossible": "After it no way the run can go on breaks it.",
            }[reach.verdict(kind, frozenset())]
        options.append(Option(action.id, action.label, after.breaks(kind) or kind in state.violated, reason))
    options.sort(key=lambda o: o.label)
    text = (
        f"Which of these steps breaks rule {rule.rule} ({rule.title}), or makes it certain to break? "
        "Tick every one that does."
    )
    return Question("breaks", text, tuple(options), True, yes="breaks it", no="does not")


@dataclass(frozen=True)
class Feedback:
    right: bool
    marks: tuple[tuple[Option, bool], ...]  # each option, and whether the learner picked it
    summary: str


def grade(asked: Question, picked: set[str]) -> Feedback:
    """Compare the learner's picks with the engine's answer key."""
    right = {o.value for o in asked.options if o.right}
    correct = picked == right
    marks = tuple((o, o.value in picked) for o in asked.options)
    if correct:
        summary = "Right."
    elif asked.many:
        missed = len(right - picked)
        extra = len(picked - right)
        parts = [
            f"{missed} that {asked.yes} left unticked" if missed else "",
            f"{extra} that {asked.no} ticked" if extra else "",
        ]
        summary = "Not quite: " + " and ".join(p for p in parts if p) + "."
    else:
        summary = "Not quite."
    return Feedback(correct, marks, summary)
