"""The space-time diagram and the run's exports (SVG, Mermaid, Chrome trace JSON) say what happened, as data."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from fastapi.testclient import TestClient

from app.scenarios import load_library
from app.sim import Trace, replay, run_on
from app.web import diagram

LIBRARY = load_library()
CLOSE_DURING_SEND = LIBRARY.scenarios["close-during-send"]
DEMO = tuple(CLOSE_DURING_SEND.source.demo or ())
EXPORT = f"/export/close-during-send?v=2&s={'.'.join(DEMO)}&at=6"
SVG_NS = "{http://www.w3.org/2000/svg}"


def demo_layout() -> diagram.Layout:
    return diagram.layout(replay(CLOSE_DURING_SEND, DEMO), current=6)


def test_a_line_per_actor_and_a_mark_per_step() -> None:
    view = demo_layout()
    assert view.actors == ["Sender", "Closer", "wsk", "cr2", "peer"]
    assert [m.step for m in view.marks] == list(range(1, len(DEMO) + 1))
    assert [m.actor for m in view.marks][:4] == ["Sender", "Sender", "Sender", "Closer"]


def test_hand_offs_follow_the_irp_from_the_caller_to_wsk_and_into_its_completion_routine() -> None:
    handoffs = {(m.step, h.source, h.target) for m in demo_layout().marks for h in m.handoffs}
    assert (3, "Sender", "wsk") in handoffs  # WskSend passes IRP 1 to WSK
    assert (6, "Closer", "wsk") in handoffs  # WskCloseSocket, which cancels the pending send
    assert (10, "wsk", "cr2") in handoffs  # WSK completes IRP 2 into CloseComplete


def test_broken_rules_are_marked_where_they_break_with_who_broke_them() -> None:
    broken = {m.step: list(zip(m.rules, m.culprits, strict=True)) for m in demo_layout().marks if m.rules}
    assert broken[6] == [("UB-2 / P1", "Closer")]
    assert 8 in broken and 9 in broken


def test_the_svg_export_is_a_standalone_picture(client: TestClient) -> None:
    response = client.get(EXPORT + "&format=svg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-disposition"].endswith('.svg"')
    root = ET.fromstring(response.text)  # well-formed XML
    assert root.tag == f"{SVG_NS}svg" and root.get("role") == "img"
    assert "diagram" in (root.findtext(f"{SVG_NS}title") or "").lower()
    assert "rules broken" in (root.findtext(f"{SVG_NS}desc") or "")
    assert not root.findall(f".//{SVG_NS}script") and not root.findall(f".//{SVG_NS}style")
    assert "href" not in response.text and "url(" not in response.text  # no external references
    assert len(root.findall(f".//{SVG_NS}circle")) == len(DEMO)


def test_the_mermaid_export_is_a_sequence_diagram_of_the_run(client: TestClient) -> None:
    text = client.get(EXPORT + "&format=mermaid").text
    lines = text.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert "    participant A0 as Sender" in lines and "    participant A2 as wsk" in lines
    assert "    A0->>A2: 3. WskSend (IRP 1)" in lines
    assert any(line.startswith("    Note over A1: breaks UB-2 / P1") for line in lines)
    # ';' would end Mermaid's statement: it is written as Mermaid's entity code, which draws as ';' again.
    assert (
        "    Note over A0: 9. Sender: WskSend returns STATUS_PENDING#59; WSK never completes IRP 1" in lines
    )


def test_the_mermaid_export_writes_what_mermaid_reads_specially_as_entity_codes() -> None:
    label = "a; b # c <br> d %%{init: {}}%% & e\nf"
    view = diagram.Layout(
        actors=["T#1", "wsk", "peer"],
        marks=[
            diagram.Mark(1, "T#1", label),
            diagram.Mark(2, "T#1", "call", handoffs=[diagram.Handoff("T#1", "wsk", label)]),
        ],
        first=1,
        current=None,
    )
    lines = diagram.mermaid(view, "Title; #1").splitlines()
    coded = "a#59; b #35; c #lt;br#gt; d #37;#37;{init: {}}#37;#37; #amp; e f"
    assert lines == [
        "sequenceDiagram",
        "    title Title#59; #35;1",
        "    participant A0 as T#35;1",
        "    participant A1 as wsk",
        "    participant A2 as peer",
        f"    Note over A0: 1. {coded}",
        f"    A0->>A1: 2. {coded}",
    ]


def test_the_perfetto_export_has_a_track_per_actor_a_slice_per_step_and_flows(client: TestClient) -> None:
    trace = json.loads(client.get(EXPORT + "&format=perfetto").text)
    events = trace["traceEvents"]
    tracks = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert tracks == {"Sender", "Closer", "wsk", "cr2", "peer"}
    assert len([e for e in events if e["ph"] == "X"]) == len(DEMO)
    starts = {e["id"] for e in events if e["ph"] == "s"}
    ends = {e["id"] for e in events if e["ph"] == "f"}
    assert starts and starts == ends
    assert any(e["ph"] == "i" and e["name"] == "breaks UB-2 / P1" for e in events)


def test_an_unknown_export_format_is_refused(client: TestClient) -> None:
    assert client.get(EXPORT + "&format=png").status_code == 422


def test_the_player_shows_the_run_so_far_and_links_each_format(client: TestClient) -> None:
    page = client.get(f"/play/close-during-send?v=2&s={'.'.join(DEMO)}&at=6").text
    assert 'aria-label="Space-time diagram of the run"' in page
    assert page.count('<g class="mark" data-at="') == 6  # the run so far: steps 1 to 6
    for fmt in ("json", "svg", "mermaid", "perfetto"):  # the share popover's export form offers each
        assert f'name="format" value="{fmt}"' in page, fmt


def long_run() -> Trace:
    """143 steps of the live sandbox without protection: 26 broken rules and hand-offs all along."""
    trace = run_on(replay(LIBRARY.get("live-none"), ()), "random", 300, seed=2)
    assert len(trace.schedule) > 120 and len(trace.violations) > 10
    return trace


def test_a_long_run_draws_only_its_last_steps() -> None:
    trace = long_run()
    view = diagram.layout(trace, steps=80)
    assert len(view.marks) == 80 and view.first == len(trace.schedule) - 79


def test_a_mark_is_drawn_alike_in_every_window_that_shows_it() -> None:
    """Step k is drawn at the same place whichever steps are shown, and the view box starts at the first one shown:
    so a step forward draws only its new mark, and every mark stays inside the picture."""
    trace = long_run()
    mark = re.compile(r'<g class="mark" data-at="(\d+)"><circle cx="(\d+)"')
    where: dict[int, int] = {}
    for last in range(81, len(trace.schedule) + 1):
        picture = diagram.svg(diagram.layout(trace, last, last, steps=80), "t", "d", clickable=True)
        left, _, width, _ = (int(n) for n in re.search(r'viewBox="([^"]+)"', picture)[1].split())  # type: ignore[index]
        marks = [(int(step), int(x)) for step, x in mark.findall(picture)]
        assert [step for step, _ in marks] == list(range(last - 79, last + 1))
        for step, x in marks:
            assert where.setdefault(step, x) == x, f"step {step} moved at step {last}"
            assert left < x < left + width


def test_neighbouring_rule_labels_take_turns_between_two_rows() -> None:
    """Marks that break a rule alternate their labels between two rows along the whole run, so that two labels
    next to each other never overlap, wherever the window starts."""
    rows = [m.label_row for m in diagram.layout(long_run()).marks if m.rules]
    assert len(rows) >= 10
    assert rows == [n % 2 for n in range(len(rows))]


def test_a_rule_broken_again_and_again_is_listed_once_with_how_often() -> None:
    """A long run can break one rule dozens of times: the stage's list and the diagram's summary name each rule
    once, at the step it first broke, and say how often it broke."""
    assert diagram.by_rule([(80, "UB-2 / P1"), (81, "UB-5"), (84, "UB-5"), (90, "UB-5")]) == [
        ("UB-2 / P1", 80, 1),
        ("UB-5", 81, 3),
    ]
    trace = long_run()
    summary = diagram.summary_until(trace, len(trace.schedule))
    assert summary.count("UB-5 at step") == 1 and "more times)" in summary
