"""The course: lessons as data files in ``lessons/``, validated at start-up against the scenarios they teach on.

A lesson walks one run of a built-in scenario (its ``schedule``) on the stage, and at chosen steps says why in the
author's words, or asks the learner to predict before it reveals. A question names only its kind: the engine
computes its answer key from the scenario (the enabled actions, or what can still happen), so a lesson file never
holds an answer that could go stale when a scenario changes.

As with scenarios, a file that cannot be used stops the start-up with its name and the fix: a step that the run
does not have, a question the engine cannot answer, a schedule that does not replay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from app.scenarios import Library, describe_errors
from app.sim import RULES, CompiledScenario, IllegalAction, Trace, parse_schedule, replay
from app.sim.reach import Meter, measure

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
    ask: Literal["next", "can_break"] | None = Field(
        default=None,
        description="'next': which of these actions can happen next? 'can_break': can the rule in 'rule' still "
        "break from here? The engine computes the answer.",
    )
    rule: str | None = Field(default=None, description="The violation kind a 'can_break' question is about.")


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
        ids = list(self.lessons)
        at = ids.index(lesson_id)
        return self.lessons[ids[at + 1]] if at + 1 < len(ids) else None


def load_lesson(path: Path, library: Library) -> CompiledLesson:
    """Read and check one lesson file; every problem is a LessonError naming the file, the place and the fix."""
    name = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        lesson = Lesson.model_validate_json(json.dumps(data))
    except yaml.YAMLError as err:
        raise LessonError(f"{name} is not valid YAML: {err}") from None
    except ValidationError as err:
        raise LessonError(f"{name}: {describe_errors(err.errors())}") from None
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
        _check_question(where, step, scenario, trace)
        steps[step.at] = step
    return CompiledLesson(lesson, scenario, trace, steps)


def _check_question(where: str, step: LessonStep, scenario: CompiledScenario, trace: Trace) -> None:
    """A question must be one the engine can answer at its step."""
    if step.ask is None:
        if step.rule is not None:
            raise LessonError(
                f"{where}: 'rule' belongs to a 'can_break' question; add 'ask: can_break' or remove it."
            )
        return
    if step.at == len(trace.schedule):
        raise LessonError(
            f"{where}: a question is asked before the next step is revealed, and step {step.at} is the last of "
            "the run; ask it earlier or lengthen the schedule."
        )
    if step.ask == "next":
        if step.rule is not None:
            raise LessonError(f"{where}: a 'next' question takes no 'rule'; remove it.")
        return
    if step.rule not in RULES:
        raise LessonError(
            f"{where}: a 'can_break' question needs 'rule', one of the violation kinds: "
            f"{', '.join(sorted(RULES))}."
        )
    meter = measure(scenario, max_states=ANSWERABLE_STATES)
    if not meter.exact:
        raise LessonError(
            f"{where}: the engine cannot answer this question: '{scenario.source.id}' has more than "
            f"{ANSWERABLE_STATES:,} states, so whether '{step.rule}' can still break is not known exactly. Teach "
            "it on a smaller scenario."
        )


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


def question(lesson: CompiledLesson, at: int, meter: Meter | None = None) -> Question | None:
    """The question a lesson asks at step ``at`` (before revealing ``at + 1``), with its answer key."""
    step = lesson.steps.get(at)
    if step is None or step.ask is None:
        return None
    if step.ask == "next":
        return _next_question(lesson, at)
    assert step.rule is not None
    meter = meter or measure(lesson.scenario, max_states=ANSWERABLE_STATES)
    return _can_break_question(lesson, at, step.rule, meter)


def _next_question(lesson: CompiledLesson, at: int) -> Question:
    """Which of these can happen next? The options: every action enabled now, and actions the same run takes at
    other steps but that cannot happen now (each with the engine's reason why not)."""
    trace = lesson.trace
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
    for action_id, label in sorted(others.items())[: max(0, MAX_OPTIONS - len(options))]:
        actor = label.split(":", 1)[0]
        why = blocked.get(actor) or blocked.get(actor.lower())
        reason = f"Not now: {why}" if why else "Not now: it is not what this actor does next."
        options.append(Option(action_id, label, False, reason))
    options.sort(key=lambda o: o.label)
    return Question("next", "Which of these can happen next? Tick every one that can.", tuple(options), True)


VERDICT_OPTIONS = (
    ("unavoidable", "Yes, in every way the run can go on"),
    ("possible", "Yes, in some of the ways it can go on"),
    ("impossible", "No, not any more"),
    ("happened", "It already has"),
)


def _can_break_question(lesson: CompiledLesson, at: int, kind: str, meter: Meter) -> Question:
    state = lesson.trace.snapshots[at].state
    reach = meter.at(state)
    assert reach is not None  # a complete graph holds every state a run reaches
    verdict = reach.verdict(kind, frozenset(state.violated))
    count, total = reach.count(kind), reach.continuations
    ways = f" ({count:,} of the {total:,} ways on)" if count is not None and total else ""
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
            f"{missed} that can happen left unticked" if missed else "",
            f"{extra} that cannot ticked" if extra else "",
        ]
        summary = "Not quite: " + " and ".join(p for p in parts if p) + "."
    else:
        summary = "Not quite."
    return Feedback(correct, marks, summary)
