"""The stage in a real browser: one screen at laptop and projector sizes, at every step of every built-in scenario;
a phone stacks it with the controls at the bottom; the embed is compact; and a step animates only what it changed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from app.scenarios import load_library
from app.sim import replay, run_on
from app.web.links import play_link
from tests.e2e.helpers import Axe, axe_report, snap, stage_context

LIBRARY = load_library()


def whole_run(scenario_id: str) -> tuple[str, ...]:
    """The run a learner watches: the demo for a buggy scenario, else round robin to the end."""
    compiled = LIBRARY.scenarios[scenario_id]
    if compiled.source.demo:
        return tuple(compiled.source.demo)
    return run_on(replay(compiled, ()), "round_robin", 60).schedule


# Everything that matters for a step, measured in the page: the problems, as sentences (an empty list is a pass).
MEASURE = """() => {
  const problems = [];
  const vw = innerWidth, vh = innerHeight, doc = document.documentElement;
  if (doc.scrollHeight > vh + 1 || doc.scrollWidth > vw + 1) {
    problems.push(`the page scrolls: ${doc.scrollWidth}x${doc.scrollHeight} in ${vw}x${vh}`);
  }
  const shown = (el) => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.top >= -1 && r.left >= -1 && r.bottom <= vh + 1 && r.right <= vw + 1; };
  const inside = (item, box) => { const i = item.getBoundingClientRect(), b = box.getBoundingClientRect();
    return i.top >= b.top - 1 && i.bottom <= b.bottom + 1 && i.left >= b.left - 1 && i.right <= b.right + 1; };
  for (const [name, sel] of [["the step controls", "#nav"], ["the narration", "#narration"],
      ["the threads", ".threads"], ["WSK's context", ".wsk-context"], ["the sockets", ".sockets"],
      ["the IRP board", ".irp-board"], ["the diagram", ".diagram-wrap"]]) {
    const el = document.querySelector(sel);
    if (!el) problems.push(`${name} is missing`); else if (!shown(el)) problems.push(`${name} is not on screen`);
  }
  for (const lane of document.querySelectorAll(".threads .lane")) {
    const name = lane.querySelector("h3 span").textContent;
    const row = lane.closest(".lane-row");
    if (!inside(lane, row) && row.scrollWidth <= row.clientWidth) problems.push(`lane ${name} is cut off`);
    const line = lane.querySelector("li.current");
    if (line && !inside(line, lane.querySelector(".code-scroll"))) problems.push(`${name}'s current line is out of view`);
  }
  // With several sockets (a listener and what it accepted), their cards scroll inside the region: the one this
  // step changed is brought into view, and some card always shows.
  const sockets = document.querySelector(".sockets"), cards = [...sockets.querySelectorAll(".socket-card")];
  const visible = (card) => { const r = card.getBoundingClientRect(), b = sockets.getBoundingClientRect();
    return r.bottom > b.top + 20 && r.top < b.bottom - 20; };
  if (!cards.some(visible)) problems.push("no socket card shows");
  const changed = sockets.querySelector("dd.changed");
  if (changed && !inside(changed, sockets)) problems.push("the socket field this step changed is out of view");
  const wsk = document.querySelector(".wsk-context");
  for (const lane of wsk.querySelectorAll(".lane.kind-completion, .lane.kind-callback")) {
    const r = lane.getBoundingClientRect(), b = wsk.getBoundingClientRect();
    if (r.bottom < b.top || r.top > b.bottom) problems.push(`routine ${lane.querySelector("h3 span").textContent} is out of view`);
  }
  const fwd = document.getElementById("ctl-forward").getBoundingClientRect();
  return {problems, forward: [Math.round(fwd.left), Math.round(fwd.top)], at: document.getElementById("player").dataset.at};
}"""

SIZES = {
    "laptop 1366x768": ({"width": 1366, "height": 768}, False),
    "projector 1280x720, large type": ({"width": 1280, "height": 720}, True),
}


@pytest.fixture(params=list(SIZES), ids=lambda name: name.split()[0])
def stage(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    viewport, large = SIZES[request.param]
    context = stage_context(browser, viewport, large, reduced_motion="reduce")
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def test_every_step_of_every_scenario_fits_one_screen_and_the_controls_stay_put(
    stage: Page, live_server: str, artifacts_dir: Path
) -> None:
    failures: list[str] = []
    for scenario_id in sorted(LIBRARY.scenarios):
        run = whole_run(scenario_id)
        stage.goto(live_server + play_link(scenario_id, run, at=0))
        expect(stage.locator("#player")).to_have_attribute("data-at", "0")
        first: dict[str, Any] = stage.evaluate(MEASURE)
        for at in range(len(run) + 1):
            if at:
                stage.keyboard.press("ArrowRight")
                expect(stage.locator("#player")).to_have_attribute("data-at", str(at))
            seen: dict[str, Any] = stage.evaluate(MEASURE)
            moved = [abs(a - b) for a, b in zip(seen["forward"], first["forward"], strict=True)]
            if max(moved) > 2:
                seen["problems"].append(f"Forward moved from {first['forward']} to {seen['forward']}")
            failures += [f"{scenario_id} step {at}: {p}" for p in seen["problems"]]
    width = stage.viewport_size["width"] if stage.viewport_size else 0
    stage.screenshot(path=str(artifacts_dir / f"stage-last-{width}.png"))
    assert not failures, "\n".join(failures[:40])


def test_the_stage_names_its_regions_for_assistive_technology(page: Page, live_server: str) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    run = whole_run("close-during-send")
    page.goto(live_server + play_link("close-during-send", run, at=5))
    expect(page.get_by_role("region", name=re.compile("socket", re.I)).first).to_be_visible()
    expect(page.get_by_role("region", name=re.compile("IRP")).first).to_be_visible()
    expect(page.get_by_role("region", name=re.compile("diagram", re.I))).to_be_visible()
    expect(page.get_by_role("region", name="Application threads")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Forward"))).to_be_visible()
    expect(page.get_by_role("button", name="Large type")).to_have_attribute("aria-pressed", "false")
    expect(page.locator('.code-scroll li[aria-current="step"]').first).to_be_visible()


def test_a_phone_stacks_the_stage_with_the_controls_fixed_at_the_bottom(
    page: Page, live_server: str, artifacts_dir: Path
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    run = whole_run("close-during-send")
    page.goto(live_server + play_link("close-during-send", run, at=5))
    controls = page.locator("#nav")
    for at in (6, 7, 8):
        box = controls.bounding_box()
        assert box and abs(box["y"] + box["height"] - 844) <= 1, box
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing is wider than the phone"
        page.mouse.wheel(0, 600)
        page.get_by_role("button", name=re.compile("^Forward")).click()
        expect(page.locator("#player")).to_have_attribute("data-at", str(at))
    snap(page, artifacts_dir / "stage-phone.png")


def test_the_embed_is_a_compact_stage_that_never_scrolls_its_host(
    page: Page, live_server: str, artifacts_dir: Path
) -> None:
    page.set_viewport_size({"width": 800, "height": 500})
    run = whole_run("close-during-send")
    page.goto(live_server + play_link("close-during-send", run, at=3).replace("/play/", "/embed/"))
    for at in range(4, 11):
        page.get_by_role("button", name=re.compile("^Forward")).click()
        expect(page.locator("#player")).to_have_attribute("data-at", str(at))
        sizes = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        assert sizes[0] <= 800 and sizes[1] <= 500, f"the embed overflows its frame at step {at}: {sizes}"
        for region in (".threads", ".socket-card", ".irp-board", "#ctl-back", "#ctl-forward"):
            expect(page.locator(region).first).to_be_in_viewport()
    page.screenshot(path=str(artifacts_dir / "stage-embed.png"))


def test_quick_key_presses_are_never_dropped_and_focus_stays(page: Page, live_server: str) -> None:
    run = whole_run("close-during-send")
    page.goto(live_server + play_link("close-during-send", run, at=0))
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#player")).to_have_attribute("data-at", "5")
    expect(page).to_have_url(re.compile(r"at=5$"))
    page.locator(".action").first.focus()
    page.keyboard.press("Enter")  # the action is taken, and its button may be gone from the next step
    expect(page.locator("#player")).to_have_attribute("data-at", "6")
    # Focus stays on a control of the stage (the same button, or Forward if it is gone), never the page.
    expect(page.locator("#player button:focus")).to_have_count(1)
    page.keyboard.press("Enter")  # and the keyboard user goes on from there
    expect(page.locator("#player")).to_have_attribute("data-at", "7")


def test_a_step_answered_before_the_last_one_settled_keeps_focus_and_keys(
    page: Page, live_server: str
) -> None:
    # On a loaded machine the next step's answer can arrive before the last step has settled, and the last step
    # then settles while the next one waits to be swapped in. Each step keeps its own record of the focus it found,
    # and only the newest step frees the keys, so neither is lost in that race. Slow swaps and settles (2 s and
    # 1 s) make that order certain here: step 5 settles between step 6's answer and its swap.
    run = whole_run("close-during-send")
    page.goto(live_server + play_link("close-during-send", run, at=4))
    page.evaluate("htmx.config.defaultSwapDelay = 2000; htmx.config.defaultSettleDelay = 1000")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#player")).to_have_attribute("data-at", "5")
    page.locator(".action").first.focus()
    page.keyboard.press("Enter")  # before step 5 has settled
    expect(page.locator("#player")).to_have_attribute("data-at", "6")
    expect(page.locator("#player button:focus")).to_have_count(1)
    page.evaluate("htmx.config.defaultSwapDelay = 0; htmx.config.defaultSettleDelay = 20")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#player")).to_have_attribute("data-at", "9")


def test_a_step_marks_what_it_changed_until_the_next_step(page: Page, live_server: str) -> None:
    page.goto(live_server + "/play/check-zero-then-close?v=2&s=Sender&at=0")
    page.keyboard.press("ArrowRight")
    expect(page.locator(".memory dd.changed")).to_contain_text("1")
    expect(page.locator(".threads .lane.changed")).to_have_count(1)
    page.keyboard.press("ArrowLeft")
    expect(page.locator(".memory dd.changed")).to_have_count(0)
    expect(page.locator(".lane.changed")).to_have_count(0)


STAGE_STEPS = {  # a step in the middle of a run, one where a rule breaks, and the end of a safe run
    "middle": ("close-during-send", 5),
    "broken": ("close-during-send", 6),
    "ended": ("protect-rundown", None),
}
STAGE_MODES = {
    "desktop": ({"width": 1366, "height": 768}, False),
    "phone": ({"width": 390, "height": 844}, False),
    "large-type": ({"width": 1280, "height": 720}, True),
}


@pytest.mark.parametrize("mode", STAGE_MODES)
@pytest.mark.parametrize("step", STAGE_STEPS)
def test_the_stage_has_no_wcag21_aa_violations(
    browser: Browser, live_server: str, axe: Axe, step: str, mode: str
) -> None:
    scenario_id, at = STAGE_STEPS[step]
    viewport, large = STAGE_MODES[mode]
    context = stage_context(browser, viewport, large)
    try:
        page = context.new_page()
        run = whole_run(scenario_id)
        page.goto(live_server + play_link(scenario_id, run, at=at))
        expect(page.locator("#player")).to_be_visible()
        expect(page.locator("#meter:not(.pending)")).to_be_attached(timeout=30_000)  # the finished meter too
        axe.assert_clean(page, f"the stage, {step}, at {mode}")
        if large:  # projectors wash colours out: 7:1 for text
            found = axe.enhanced_contrast_violations(page)
            assert not found, f"large type, the stage, {step}:\n{axe_report(found)}"
        page.get_by_role("button", name="Share").click()
        expect(page.locator("#share-link")).to_be_visible()
        axe.assert_clean(page, f"the stage's share popover, {step}, at {mode}")
    finally:
        context.close()


def test_focus_is_never_lost_after_a_search_or_a_popover(page: Page, live_server: str) -> None:
    page.goto(live_server + "/play/check-zero-then-close?v=2&s=")
    opener = page.get_by_role("button", name="Find the race")
    opener.click()
    page.get_by_role("button", name="Search every interleaving").click()
    expect(page.locator(".search-panel.done .verdict")).to_be_visible(timeout=30_000)
    expect(page.locator("#search-pop :focus")).to_have_count(1)  # the finished panel, not the page
    page.keyboard.press("Escape")
    expect(page.locator("#search-pop")).to_be_hidden()
    expect(opener).to_be_focused()  # closing gives the focus back to what opened it
    page.keyboard.press("?")
    expect(page.locator("dialog#keys")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog#keys")).to_be_hidden()
    assert page.evaluate("document.activeElement !== document.body"), "focus came back from the dialog"


def test_the_meter_says_what_can_still_break_and_follows_the_steps(page: Page, live_server: str) -> None:
    run = whole_run("close-during-send")
    page.goto(live_server + play_link("close-during-send", run, at=5))
    meter = page.get_by_role("region", name="Can a rule still break from here?")
    expect(meter).to_contain_text("still possible", timeout=30_000)
    expect(meter.locator(".reading.happened")).to_have_count(0)
    page.keyboard.press("ArrowRight")  # step 6: Closer enters WskCloseSocket while Sender is inside WskSend
    expect(page.locator("#player")).to_have_attribute("data-at", "6")
    expect(meter.locator(".reading.happened")).to_contain_text("UB-2 / P1")
    page.keyboard.press("ArrowRight")
    expect(meter.locator(".reading.unavoidable")).to_contain_text("IRP-B6")
