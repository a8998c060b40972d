"""The space-time diagram of a run, and the run's exports: SVG, a Mermaid sequence diagram, Chrome trace JSON.

One line per actor (each application thread, WSK, each completion-routine or callback execution, the peer), time
flowing left to right, a mark per step on the line of the actor that moved, and arrows for the hand-offs the
documentation talks about: an IRP passed to WSK with a call, WSK completing an IRP into its completion routine,
a close cancelling the socket's pending IRPs, WSK delivering an event callback, the peer's data and FIN or RST.
Broken rules are marked with their rule id and preemptions are underlined.

``layout`` reads a trace into plain records; each renderer only draws them. The SVG uses presentation attributes
rather than a <style> element, so it renders the same inside the page (under a CSP without inline styles) and as
a standalone file.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from app.sim import RULES, Trace

WSK, PEER = "wsk", "peer"


@dataclass(frozen=True)
class Handoff:
    """Something passed from one actor to another at a step: an IRP, a completion, a cancel, a callback, data."""

    source: str
    target: str
    label: str


@dataclass(slots=True)
class Mark:
    """One step: who moved, what it was, and what it handed to whom. A trace's marks are read once and shared by
    every step of it that is drawn, and by the traces that extend it: never changed once made."""

    step: int
    actor: str
    label: str
    rules: tuple[str, ...] = ()  # rule ids broken at this step
    culprits: tuple[str, ...] = ()  # for each of them, the actor that broke it
    preemption: bool = False
    handoffs: tuple[Handoff, ...] = ()
    label_row: int = 0  # which of the two rows its rule label takes: marks with rules alternate along the run
    # What drawing the mark needs wherever it is drawn, worked out once: a long run draws the same marks at every
    # step, and escaping their text was a third of the drawing. ``involved``: the lines it touches (its actor, the
    # culprits, the hand-offs' ends); ``title``, ``handoff_titles``, ``rule_label``: its texts, escaped.
    involved: tuple[str, ...] = field(init=False)
    title: str = field(init=False)
    handoff_titles: tuple[str, ...] = field(init=False)
    rule_label: str = field(init=False)
    # The mark as last drawn, with the diagram's lines and link choice it was drawn with (one tuple, so that two
    # threads drawing it at once never pair one drawing with the other's lines).
    drawn: tuple[tuple[Any, ...], str] | None = field(init=False, default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.involved = (
            self.actor,
            *self.culprits,
            *(h.target for h in self.handoffs),
            *(h.source for h in self.handoffs),
        )
        what = f"step {self.step}: {self.label}" + (
            f" (breaks {', '.join(self.rules)})" if self.rules else ""
        )
        what += " (a preemption)" if self.preemption else ""
        self.title = escape(what)
        self.handoff_titles = tuple(escape(h.label) for h in self.handoffs)
        self.rule_label = escape(self.rules[0].split(" /")[0]) if self.rules else ""


@dataclass
class Layout:
    actors: list[str]  # in the order of their lines, top to bottom
    marks: list[Mark]  # step 1 to the last step shown, in order
    first: int  # the first step shown (earlier ones are summarised)
    current: int | None  # the step to highlight


def _routine_actor(trace: Trace, after: int, irp: int | None) -> str | None:
    """The execution WSK started for an IRP's completion routine: the first actor named cr<irp> to move."""
    prefix = f"cr{irp}"
    for snapshot in trace.snapshots[after:]:
        actor = snapshot.action.actor if snapshot.action else ""
        if actor == prefix or (actor.startswith(prefix) and set(actor[len(prefix) :]) == {"x"}):
            return actor
    return None


def _handoffs(trace: Trace, index: int) -> tuple[tuple[Handoff, ...], bool]:
    """The hand-offs of a step, and whether one of them still waits for its routine's execution to move (a longer
    run can name it)."""
    snapshot = trace.snapshots[index]
    mover = snapshot.action.actor if snapshot.action else WSK
    found: list[Handoff] = []
    unnamed = False
    for event in snapshot.events:
        if event.kind == "call_entered" and event.actor:
            irp = f" (IRP {event.irp})" if event.irp is not None else ""
            found.append(Handoff(event.actor, WSK, f"{event.function}{irp}"))
        elif event.kind == "completion_started":
            target = (
                event.actor if event.actor not in (None, WSK) else _routine_actor(trace, index, event.irp)
            )
            if target:
                found.append(Handoff(WSK, target, f"IRP {event.irp} completes into {event.text}"))
            else:
                unnamed = True
        elif event.kind == "callback_started" and event.actor:
            found.append(Handoff(WSK, event.actor, f"{event.text} called"))
        elif event.kind == "socket_closing":
            found.append(Handoff(mover, WSK, f"close of {event.socket} cancels its pending IRPs"))
        elif event.kind == "irp_cancel_requested" and event.actor:
            found.append(Handoff(event.actor, WSK, f"cancel IRP {event.irp}"))
        elif event.kind.startswith("peer_"):
            found.append(Handoff(PEER, WSK, event.kind.removeprefix("peer_").replace("_", " ")))
    return tuple(h for h in found if h.source != h.target), unnamed


def _lines(threads: list[str], marks: list[Mark]) -> list[str]:
    """The diagram's lines, top to bottom: the threads, WSK, the executions the marks involve, the peer."""
    executions: list[str] = []
    placed = {*threads, WSK, PEER}  # looked up once per name a mark involves: a set, not the lists
    for mark in marks:
        for name in mark.involved:
            if name not in placed:
                placed.add(name)
                executions.append(name)
    return [*threads, WSK, *executions, PEER]


@dataclass(frozen=True)
class Marks:
    """A mark for each step of a trace, and from which step on a longer run could mark them otherwise: its last
    step (the end of the run adds its findings there), or an earlier one whose completion routine has not moved
    yet (a later step names its execution). With them, what the summary of any prefix of the run counts, so that a
    step's summary costs what its sentence does, not what the run's length does."""

    marks: tuple[Mark, ...]
    settled: int  # marks[: settled] are the same in every run that extends this one
    handoffs_until: tuple[int, ...]  # [k]: the hand-offs of steps 1..k
    first_moves: dict[str, int]  # each actor that moved, and the first step it did
    broken: tuple[tuple[int, str], ...]  # (step, rule id) of every broken rule, in order


def _mark(trace: Trace, index: int, label_row: int) -> tuple[Mark, bool]:
    snapshot = trace.snapshots[index]
    assert snapshot.action is not None
    final = index == len(trace.snapshots) - 1
    found = snapshot.violations + (trace.terminal_violations if final else ())
    handoffs, unnamed = _handoffs(trace, index)
    mark = Mark(
        step=index,
        actor=snapshot.action.actor,
        label=snapshot.action.label,
        rules=tuple(v.rule for v in found),
        culprits=tuple(v.actor or snapshot.action.actor for v in found),
        preemption=snapshot.preemption,
        handoffs=handoffs,
        label_row=label_row,
    )
    return mark, unnamed


def _marks_from(trace: Trace, earlier: Marks | None = None) -> Marks:
    """The trace's marks: the settled ones of ``earlier`` (a trace this one extends) as they are, the rest read."""
    keep = earlier.settled if earlier is not None else 0
    marks = list(earlier.marks[:keep]) if earlier is not None else []
    handoffs_until = list(earlier.handoffs_until[: keep + 1]) if earlier is not None else [0]
    first_moves = {a: s for a, s in earlier.first_moves.items() if s <= keep} if earlier is not None else {}
    broken = [(s, r) for s, r in earlier.broken if s <= keep] if earlier is not None else []
    settled = max(0, len(trace.snapshots) - 2)  # the last step's mark is never settled
    # The marks with a rule label so far: the next one takes the other row.
    labelled = len({step for step, _ in broken})
    for index in range(keep + 1, len(trace.snapshots)):
        mark, unnamed = _mark(trace, index, labelled % 2)
        labelled += 1 if mark.rules else 0
        marks.append(mark)
        handoffs_until.append(handoffs_until[-1] + len(mark.handoffs))
        first_moves.setdefault(mark.actor, index)
        broken += [(index, rule) for rule in mark.rules]
        if unnamed:
            settled = min(settled, index - 1)
    return Marks(tuple(marks), settled, tuple(handoffs_until), first_moves, tuple(broken))


def _marks(trace: Trace) -> Marks:
    """A mark for each step of the whole trace (a routine's line is named by the steps after its start, and the
    end of the run adds its own findings to the last step), read once per trace: every step of it drawn shares
    them, so a step no longer reads the run up to it again."""
    return _marks_from(trace)


def _grown_marks(earlier: Marks, trace: Trace) -> Marks:
    """The marks of a trace that extends one already marked: the settled marks stay, the rest are read again, so a
    step forward reads one step, not the whole run."""
    return _marks_from(trace, earlier)


def _kept_marks(trace: Trace) -> Marks:
    return trace.kept("diagram.marks", _marks, _grown_marks)


def layout(
    trace: Trace, last: int | None = None, current: int | None = None, steps: int | None = None
) -> Layout:
    """The diagram's records for steps 1..last (all by default). With ``steps``, only the last that many of them,
    with the lines those marks involve (threads, WSK and the peer always): what the player draws, so that a long
    run draws no more than a short one, and costs no more to draw."""
    last = len(trace.snapshots) - 1 if last is None else last
    kept = _kept_marks(trace)
    marks = kept.marks[:last]
    # A live sandbox thread has a line once the user has added it (a thread not added yet is not in the run).
    movers = {actor for actor, step in kept.first_moves.items() if step <= last}
    threads = [t.name for t in trace.scenario.source.threads if t.joins == "at_start" or t.name in movers]
    shown = list(marks[-steps:] if steps is not None and len(marks) > steps else marks)
    return Layout(_lines(threads, shown), shown, shown[0].step if shown else 1, current)


def summary(marks: Sequence[Mark]) -> str:
    """A text alternative of a run's marks: how many steps, who moved, what was handed over, which rules broke."""
    return _summary_text(
        marks[-1].step if marks else 0,
        {m.actor for m in marks},
        sum(len(m.handoffs) for m in marks),
        [(m.step, rule) for m in marks for rule in m.rules],
    )


def summary_until(trace: Trace, last: int) -> str:
    """The summary of steps 1..last of a trace, from the counts its marks keep: what ``summary`` says of them."""
    kept = _kept_marks(trace)
    return _summary_text(
        last,
        {actor for actor, step in kept.first_moves.items() if step <= last},
        kept.handoffs_until[last],
        list(kept.broken[: bisect_right(kept.broken, last, key=lambda broken: broken[0])]),
    )


def by_rule(broken_at: Iterable[tuple[int, str]]) -> list[tuple[str, int, int]]:
    """Broken rules as (rule, the step it first broke at, how many times it broke), in the order they first broke:
    a long run can break the same rule dozens of times, and a list of every break would crowd out the stage."""
    first: dict[str, int] = {}
    times: dict[str, int] = {}
    for step, rule in broken_at:
        first.setdefault(rule, step)
        times[rule] = times.get(rule, 0) + 1
    return [(rule, step, times[rule]) for rule, step in first.items()]


def _summary_text(last: int, movers: set[str], handoffs: int, broken_at: list[tuple[int, str]]) -> str:
    broken = [
        f"{rule} at step {step}"
        + (f" (and {times - 1} more time{'s' if times > 2 else ''})" if times > 1 else "")
        for rule, step, times in by_rule(broken_at)
    ]
    text = (
        f"{last} steps by {', '.join(sorted(movers)) or 'nobody yet'}, with {handoffs} hand-offs between actors"
        + (f"; rules broken: {', '.join(broken)}." if broken else "; no rule broken.")
    )
    return text


# -- SVG ---------------------------------------------------------------------------------------------------------

LANE_H, STEP_W, LABEL_W, TOP, RIGHT = 22, 18, 92, 40, 48  # TOP holds two staggered rows of rule labels
SHOWN_AS = {WSK: "WSK", PEER: "Peer"}
INK, MUTED, LINE, ORANGE, VERMILLION, BLUE, CURRENT = (
    "#1d1d1b",
    "#5f5b52",
    "#d9d5ca",
    "#b86e00",
    "#c2410c",
    "#0f5f8a",
    "#fff2c2",
)


def svg(view: Layout, title: str, description: str, clickable: bool = False, standalone: bool = False) -> str:
    """The diagram as SVG. ``clickable`` marks each step's dot with its step number (``data-at``), so that a click
    on it goes to that step (static/js/player.js). The picture stays one image (``role="img"``) with nothing
    focusable inside: keyboard users reach every step with the scrubber next to it, which says the same.

    Step k is always drawn at the same x, and the view box starts where the first step shown is: so a mark is
    drawn the same in every window that shows it, and is drawn once (``Mark.drawn``) while its lines stay put."""
    rows = _rows(view)
    width = LABEL_W + STEP_W * (len(view.marks) + 1) + RIGHT
    height = _height(view)
    # The view box's left edge: the steps before the first one shown lie off to its left.
    left = STEP_W * (view.first - 1)

    # A standalone file declares its namespace; inside the page the HTML parser supplies it and CSS finds the class.
    who = 'xmlns="http://www.w3.org/2000/svg"' if standalone else 'class="diagram"'
    out = [
        f'<svg {who} role="img" aria-labelledby="diagram-title diagram-desc" width="{width}" height="{height}" '
        f'viewBox="{left} 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<title id="diagram-title">{escape(title)}</title>',
        f'<desc id="diagram-desc">{escape(description)}</desc>',
    ]
    if standalone:
        at = f' x="{left}"' if left else ""  # the view box starts at the first step shown
        out.append(f'<rect{at} width="{width}" height="{height}" fill="#ffffff"/>')
    if view.current is not None and view.first <= view.current <= view.first + len(view.marks) - 1:
        out.append(
            f'<rect class="current-step" x="{_x(view.current) - STEP_W // 2}" y="2" width="{STEP_W}" '
            f'height="{height - 4}" fill="{CURRENT}"/>'
        )
    out += _not_shown(view, left)
    for actor, y in rows.items():
        out.append(_name(actor, y, left))
        out.append(
            f'<line x1="{left + LABEL_W - 4}" y1="{y}" x2="{left + width - 2}" y2="{y}" stroke="{LINE}" '
            'stroke-width="1"/>'
        )
    # A mark drawn with these same lines, in this order, is drawn again exactly as it was.
    lines = (tuple(view.actors), clickable)
    for mark in view.marks:
        drawn = mark.drawn
        if drawn is None or drawn[0] != lines:
            drawn = mark.drawn = (lines, _draw(mark, rows, clickable))
        out.append(drawn[1])
    out.append("</svg>")
    return "\n".join(out)


def label_column(view: Layout) -> str:
    """The diagram's left edge alone, for the stage: the name of each line (and the note that early steps are not
    shown), drawn at the diagram's own heights on an opaque ground. The stage lays it over the diagram and keeps it
    at the left while the diagram scrolls sideways (app.css), so a line's name stays in view at every step. The
    diagram holds the same words, so this column is hidden from assistive technology."""
    height = _height(view)
    width = LABEL_W - 6
    out = [
        f'<svg class="diagram-labels" aria-hidden="true" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        *_not_shown(view, 0),
        *(_name(actor, y, 0) for actor, y in _rows(view).items()),
        "</svg>",
    ]
    return "\n".join(out)


def _rows(view: Layout) -> dict[str, int]:
    """The height of each actor's line."""
    return {actor: TOP + LANE_H * n + LANE_H // 2 for n, actor in enumerate(view.actors)}


def _height(view: Layout) -> int:
    return TOP + LANE_H * len(view.actors) + 6


def _not_shown(view: Layout, left: int) -> list[str]:
    """At the diagram's left edge (from ``left``), the note that its first steps are not shown, if they are not."""
    if view.first == 1:
        return []
    return [
        f'<text x="{left + 4}" y="12" fill="{MUTED}">steps 1-{view.first - 1}</text>',
        f'<text x="{left + 4}" y="26" fill="{MUTED}">not shown</text>',
    ]


def _name(actor: str, y: int, left: int) -> str:
    """The name of an actor's line, at the diagram's left edge (from ``left``)."""
    return f'<text x="{left + 4}" y="{y + 4}" fill="{INK}">{escape(SHOWN_AS.get(actor, actor))}</text>'


def _x(step: int) -> int:
    """Where step ``step`` is drawn, in every window that shows it."""
    return LABEL_W + STEP_W * (step - 1) + STEP_W // 2


def _draw(mark: Mark, rows: dict[str, int], clickable: bool) -> str:
    """One mark: its hand-off arrows, its dot (larger and vermillion when it breaks a rule, underlined when it is a
    preemption) and its rule label, on one of two rows so that neighbouring labels do not overlap."""
    cx, cy = _x(mark.step), rows[mark.actor]
    parts = []
    for h, handoff_title in zip(mark.handoffs, mark.handoff_titles, strict=True):
        y1, y2 = rows[h.source], rows[h.target]
        tip = y2 - 4 if y2 > y1 else y2 + 4
        parts.append(
            f'<line x1="{cx}" y1="{y1}" x2="{cx}" y2="{tip}" stroke="{BLUE}" stroke-width="1.5">'
            f"<title>{handoff_title}</title></line>"
        )
        parts.append(
            f'<path d="M{cx - 3},{tip - 4 if y2 > y1 else tip + 4} L{cx + 3},{tip - 4 if y2 > y1 else tip + 4} '
            f'L{cx},{tip} Z" fill="{BLUE}"/>'
        )
    colour = VERMILLION if mark.rules else INK
    dot = (
        f'<circle cx="{cx}" cy="{cy}" r="{5 if mark.rules else 4}" fill="{colour}"><title>{mark.title}</title>'
        "</circle>"
    )
    if mark.preemption:
        dot += f'<line x1="{cx - 5}" y1="{cy + 7}" x2="{cx + 5}" y2="{cy + 7}" stroke="{ORANGE}" stroke-width="2"/>'
    if mark.rules:
        ly = 12 if mark.label_row == 0 else 26
        dot += (
            f'<line x1="{cx}" y1="{ly + 3}" x2="{cx}" y2="{cy - 6}" stroke="{VERMILLION}" stroke-width="1" '
            f'stroke-dasharray="2 2"/><text x="{cx}" y="{ly}" fill="{VERMILLION}" font-weight="bold" '
            f'text-anchor="middle">{mark.rule_label}</text>'
        )
    if clickable:
        dot = f'<g class="mark" data-at="{mark.step}">{dot}</g>'
    parts.append(dot)
    return "\n".join(parts)


# -- Mermaid ----------------------------------------------------------------------------------------------------


# Mermaid reads ';' as the end of a statement, '#' as the start of a comment or of an entity code (#59;), "<br>" as a
# line break and "%%{...}%%" as a directive. Each such character is written as Mermaid's own entity code for it,
# which it draws as the character itself, so the picture says exactly what the run says (tests/e2e/test_diagram.py
# renders every export with Mermaid and compares).
MERMAID_CODES = {"#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "%": "#37;"}


def _mermaid_text(text: str) -> str:
    """One line of text for Mermaid: line breaks (which end a statement) and runs of spaces become one space."""
    return "".join(MERMAID_CODES.get(c, c) for c in " ".join(text.split()))


def mermaid(view: Layout, title: str) -> str:
    """A Mermaid sequenceDiagram: a participant per actor, a message per hand-off, a note per other step."""
    names = {actor: f"A{n}" for n, actor in enumerate(view.actors)}
    lines = ["sequenceDiagram", f"    title {_mermaid_text(title)}"]
    lines += [f"    participant {names[a]} as {_mermaid_text(a)}" for a in view.actors]
    for mark in view.marks:
        label = _mermaid_text(f"{mark.step}. {mark.label}")
        if mark.handoffs:
            for h in mark.handoffs:
                lines.append(
                    f"    {names[h.source]}->>{names[h.target]}: {mark.step}. {_mermaid_text(h.label)}"
                )
        else:
            lines.append(f"    Note over {names[mark.actor]}: {label}")
        for rule, culprit in zip(mark.rules, mark.culprits, strict=True):
            why = RULES_BY_ID.get(rule)
            lines.append(
                f"    Note over {names[culprit]}: {_mermaid_text(f'breaks {rule}' + (f' ({why})' if why else ''))}"
            )
    return "\n".join(lines) + "\n"


RULES_BY_ID = {rule.rule: rule.title for rule in RULES.values()}


# -- Chrome Trace Event Format (Perfetto) ------------------------------------------------------------------------

STEP_US = 1000  # each step is drawn as one millisecond


def perfetto(view: Layout, title: str) -> dict[str, Any]:
    """The run as Chrome trace events: a track per actor, a slice per step, flow arrows for hand-offs, and an
    instant event per broken rule. Perfetto UI and chrome://tracing open it."""
    tids = {actor: n + 1 for n, actor in enumerate(view.actors)}
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": 1, "tid": 0, "args": {"name": title}},
    ]
    events += [
        {"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": actor}}
        for actor, tid in tids.items()
    ]
    events += [
        {"name": "thread_sort_index", "ph": "M", "pid": 1, "tid": tid, "args": {"sort_index": tid}}
        for tid in tids.values()
    ]
    acts: dict[str, list[int]] = {}
    for mark in view.marks:
        acts.setdefault(mark.actor, []).append(mark.step)
        events.append(
            {
                "name": mark.label,
                "cat": "step",
                "ph": "X",
                "ts": mark.step * STEP_US,
                "dur": STEP_US,
                "pid": 1,
                "tid": tids[mark.actor],
                "args": {"step": mark.step, "preemption": mark.preemption},
            }
        )
        for rule in mark.rules:
            events.append(
                {
                    "name": f"breaks {rule}",
                    "cat": "violation",
                    "ph": "i",
                    "s": "t",
                    "ts": mark.step * STEP_US + 500,
                    "pid": 1,
                    "tid": tids[mark.actor],
                }
            )
    flow = 0
    for mark in view.marks:
        for h in mark.handoffs:
            # A flow ends on the target's next slice: the step where it acts on what it was handed.
            later = [s for s in acts.get(h.target, []) if s >= mark.step]
            source_slice = mark.step if h.source == mark.actor else None
            if not later or source_slice is None:
                continue
            flow += 1
            common = {"name": h.label, "cat": "handoff", "id": flow, "pid": 1}
            events.append({**common, "ph": "s", "ts": mark.step * STEP_US + 1, "tid": tids[h.source]})
            events.append(
                {**common, "ph": "f", "bp": "e", "ts": later[0] * STEP_US + 1, "tid": tids[h.target]}
            )
    return {"traceEvents": events, "displayTimeUnit": "ms", "otherData": {"title": title}}


def perfetto_json(view: Layout, title: str) -> str:
    return json.dumps(perfetto(view, title), indent=1)
