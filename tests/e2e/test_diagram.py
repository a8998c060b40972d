"""The space-time diagram in a real browser: it shows the run so far, and a mark takes you to its step. And its
Mermaid export, drawn by Mermaid itself (the pinned copy from scripts/fetch_test_assets.py) in the same Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from app.scenarios import load_library
from app.sim import Trace, replay, run_on
from app.web import diagram
from tests.e2e.helpers import snap

LIBRARY = load_library()
DEMO = ".".join(LIBRARY.scenarios["close-during-send"].source.demo or ())


def test_a_mark_of_the_diagram_goes_to_its_step(page: Page, live_server: str, artifacts_dir: Path) -> None:
    page.goto(f"{live_server}/play/close-during-send?v=2&s={DEMO}&at=9")
    figure = page.get_by_role("region", name=re.compile("diagram"))
    expect(figure.get_by_role("img", name=re.compile("Space-time diagram"))).to_be_visible()
    figure.scroll_into_view_if_needed()
    snap(page, artifacts_dir / "diagram-step-9.png")
    figure.locator("[data-at='6'] circle").click()  # the dot, where a person clicks
    expect(page.locator("#scrub")).to_have_value("6")
    expect(page).to_have_url(re.compile(r"at=6"))
    expect(page.locator("svg.diagram circle")).to_have_count(6)  # the run so far
    expect(page.locator("svg.diagram text", has_text="UB-2")).to_be_visible()


def test_the_diagram_exports_are_offered_for_download(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/play/close-during-send?v=2&s={DEMO}")
    page.get_by_role("button", name="Share").click()
    share = page.get_by_role("dialog", name="Share this exact step").or_(page.locator("#share"))
    expect(share).to_be_visible()
    for name, ending in (("SVG", ".svg"), ("Mermaid", ".mmd"), ("Perfetto trace", ".trace.json")):
        with page.expect_download() as download:
            share.get_by_role("button", name=name, exact=True).click()
        assert download.value.suggested_filename.endswith(ending)


def test_a_rule_id_explains_itself_on_keyboard_focus(
    page: Page, live_server: str, artifacts_dir: Path
) -> None:
    page.goto(f"{live_server}/play/close-during-send?v=2&s={DEMO}&at=6")
    word = page.locator(".banner a.term")
    word.focus()
    shown = word.evaluate("el => getComputedStyle(el, '::after').content")
    assert "WskCloseSocket was called while another call was in progress" in shown
    page.screenshot(path=str(artifacts_dir / "term-on-focus.png"))
    word.click()
    expect(page).to_have_url(re.compile(r"/glossary#term-ub-2-p1$"))
    expect(page.locator("#term-ub-2-p1")).to_be_visible()


# -- The Mermaid export, drawn by Mermaid itself ------------------------------------------------------------------


def _mermaid_runs() -> dict[str, tuple[str, Trace]]:
    """A run of every built-in scenario, as its page narrates it (the demo, else round robin to the end), and the
    longest random run of the sandbox among a few seeds: the long run."""
    runs: dict[str, tuple[str, Trace]] = {}
    for sid, compiled in LIBRARY.scenarios.items():
        demo = tuple(compiled.source.demo or ())
        trace = replay(compiled, demo)
        runs[sid] = (sid, trace if demo else run_on(trace, "round_robin", 500))
    start = replay(LIBRARY.scenarios["sandbox"], ())
    longest = max(
        (run_on(start, "random", 500, seed=seed) for seed in range(20)), key=lambda t: len(t.schedule)
    )
    runs["sandbox-long"] = ("sandbox", longest)
    return runs


MERMAID_RUNS = _mermaid_runs()

RENDER_MERMAID = """async ([id, text]) => {
  await mermaid.parse(text);  // rejects with Mermaid's parse error
  const { svg } = await mermaid.render(id, text);
  const figure = document.createElement("figure");
  figure.id = "figure-" + id;
  figure.innerHTML = svg;
  document.body.replaceChildren(figure);
  const root = figure.querySelector("svg");
  const texts = (selector) => [...root.querySelectorAll(selector)].map((e) => e.textContent);
  return {
    kind: root.getAttribute("aria-roledescription"),
    actors: texts("text.actor"),
    messages: texts("text.messageText"),
    arrows: root.querySelectorAll(".messageLine0, .messageLine1").length,
    notes: texts("text.noteText"),
    texts: texts("text"),
  };
}"""


@pytest.fixture(scope="module")
def mermaid_page(browser: Browser, mermaid_js: str) -> Iterator[tuple[Page, list[str]]]:
    """A blank page in the test's Chromium with the pinned Mermaid loaded; and the page's errors, collected."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.set_content("<!doctype html><html lang='en'><title>Mermaid</title><body></body></html>")
    page.add_script_tag(content=mermaid_js)  # about:blank has no CSP; this page is never the app's
    page.evaluate("mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' })")
    try:
        yield page, errors
    finally:
        context.close()


@pytest.mark.parametrize("run", MERMAID_RUNS)
def test_mermaid_draws_the_mermaid_export(
    mermaid_page: tuple[Page, list[str]], live_server: str, artifacts_dir: Path, run: str
) -> None:
    page, errors = mermaid_page
    errors.clear()
    scenario, trace = MERMAID_RUNS[run]
    steps = len(trace.schedule)
    at = steps // 2
    response = page.request.get(
        f"{live_server}/export/{scenario}?v=2&s={'.'.join(trace.schedule)}&at={at}&format=mermaid"
    )
    assert response.ok and response.headers["content-type"].startswith("text/plain"), response.status
    text = response.text()

    drawn = page.evaluate(RENDER_MERMAID, [f"run-{run}", text])
    page.locator(f"#figure-run-{run} svg").screenshot(path=str(artifacts_dir / f"mermaid-{run}.png"))
    assert errors == [], errors
    assert drawn["kind"] == "sequence", drawn["kind"]  # not Mermaid's error picture

    # The title, and a participant per actor: every thread, WSK and the peer (a box above and below each line).
    title = LIBRARY.scenarios[scenario].source.title
    assert f"Space-time diagram: {title}, {steps} steps" in drawn["texts"]
    view = diagram.layout(trace, current=at)
    threads = [t.name for t in trace.scenario.source.threads]
    assert {*threads, "wsk", "peer"} <= set(drawn["actors"])
    assert sorted(drawn["actors"]) == sorted(view.actors * 2)

    # An arrow per hand-off and a note per other step, each with exactly the words of the run, in order.
    handoffs = [f"{m.step}. {h.label}" for m in view.marks for h in m.handoffs]
    assert drawn["messages"] == handoffs
    assert drawn["arrows"] == len(handoffs)
    steps_noted = [f"{m.step}. {m.label}" for m in view.marks if not m.handoffs]
    assert [n for n in drawn["notes"] if not n.startswith("breaks ")] == steps_noted
    # Every broken rule is marked with its id.
    broken = [n for n in drawn["notes"] if n.startswith("breaks ")]
    rules = [v.rule for _, v in trace.violations]  # with the end-of-run ones, at the last step
    assert len(broken) == len(rules) and all(
        note.startswith(f"breaks {rule}") for note, rule in zip(broken, rules, strict=True)
    ), (broken, rules)


def test_the_mermaid_runs_include_a_broken_rule_and_a_long_run() -> None:
    """The cases above are worth drawing: one breaks rules, one is long."""
    assert MERMAID_RUNS["close-during-send"][1].violations
    assert len(MERMAID_RUNS["sandbox-long"][1].schedule) > 30


def test_a_meter_update_leaves_the_diagram_where_the_user_scrolled_it(page: Page, live_server: str) -> None:
    """The meter (and a search) swap themselves in while they compute. Only a step may scroll the stage's regions
    or take the step controls' turn: the diagram stays where the user put it, and the arrow keys still step."""
    trace = run_on(replay(LIBRARY.get("live-none"), ()), "random", 300, seed=2)
    page.goto(f"{live_server}/play/live-none?v=1&s={'.'.join(trace.schedule)}&at=100")
    wrap = page.locator(".diagram-wrap")
    expect(wrap.locator("svg.diagram")).to_be_visible()
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth"), "the diagram is wider than its box"
    wrap.evaluate("w => { w.scrollLeft = 0; }")
    page.evaluate(
        "() => document.addEventListener('htmx:afterSettle', (e) => {"
        " if (e.detail.target.id === 'meter') document.body.dataset.meterSwapped = 'yes'; })"
    )
    page.evaluate(
        "() => htmx.ajax('GET', '/meter/close-during-send?v=1&s=', {target: '#meter', swap: 'outerHTML', select: '#meter'})"
    )
    expect(page.locator("body[data-meter-swapped='yes']")).to_be_attached()
    assert wrap.evaluate("w => w.scrollLeft") == 0, "the meter's swap scrolled the diagram"
    page.locator("#ctl-forward").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#player")).to_have_attribute("data-at", "101")
    assert wrap.evaluate("w => w.scrollLeft") > 0, "a step shows its own mark, at the diagram's right end"


def test_the_lines_names_stay_in_view_while_the_diagram_scrolls(page: Page, live_server: str) -> None:
    """The diagram opens scrolled to its right end (this step), far from its left edge: the names of its lines lie
    over it at the left of the box, and a click through them still reaches a mark."""
    trace = run_on(replay(LIBRARY.get("live-none"), ()), "random", 300, seed=2)
    page.goto(f"{live_server}/play/live-none?v=1&s={'.'.join(trace.schedule)}&at=100")
    wrap = page.locator(".diagram-wrap")
    expect(wrap.locator("svg.diagram")).to_be_visible()
    assert wrap.evaluate("w => w.scrollLeft") > 500, "the diagram opens at its right end"
    names = wrap.locator("svg.diagram-labels")
    box, at_the_end = wrap.bounding_box(), names.bounding_box()
    assert box and at_the_end and 0 <= at_the_end["x"] - box["x"] <= 6, (
        box,
        at_the_end,
    )  # border and padding
    # This run has broken rules 26 times by its end; the list of them keeps to two lines, and the diagram its room.
    assert box["height"] > 80, box
    shown = names.locator("text").all_text_contents()
    assert {"T1", "WSK"} <= set(shown) and "steps 1-20" in shown
    own = wrap.locator("svg.diagram > text").all_text_contents()  # the diagram's own names, for the exports
    assert [t for t in own if t in shown] == shown
    wrap.evaluate("w => { w.scrollLeft = 0; }")
    at_the_start = names.bounding_box()
    assert at_the_start and abs(at_the_start["x"] - at_the_end["x"]) <= 1, "the names do not move"
    # The column lets clicks through: a mark under it is still a link to its step.
    first = wrap.locator("svg.diagram [data-at]").first
    step = first.get_attribute("data-at")
    first.locator("circle").click()
    expect(page.locator("#player")).to_have_attribute("data-at", str(step))
