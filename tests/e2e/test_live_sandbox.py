"""The live sandbox in Chromium: find it in the gallery, choose a design, add threads, send again and again, close,
find the race in the situation built, watch its witness, and share the session as a link that replays; at laptop
and projector sizes (one screen, no axe violations) and on a phone (stacked)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import Axe, axe_report, snap, stage_context
from tests.e2e.test_stage import MEASURE

SIZES = {
    "laptop": ({"width": 1366, "height": 768}, False),
    "projector": ({"width": 1280, "height": 720}, True),
}


@pytest.fixture(params=list(SIZES))
def stage(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[Page, str]]:
    viewport, large = SIZES[request.param]
    context = stage_context(browser, viewport, large, reduced_motion="reduce")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        yield page, request.param
        assert not errors, errors
    finally:
        context.close()


def at(page: Page) -> int:
    return int(page.locator("#player").get_attribute("data-at") or "0")


def take(page: Page, action: str) -> None:
    """Press the button of one action and wait for the step it leads to."""
    before = at(page)
    page.locator(f'#player button[name="then"][value="{action}"]').first.click()
    expect(page.locator("#player")).to_have_attribute("data-at", str(before + 1))


def add_thread(page: Page, name: str) -> None:
    """Press the build bar's button that adds a thread, and wait for its lane."""
    before = at(page)
    page.get_by_role("button", name=f"+ Add thread {name}").click()
    expect(page.locator("#player")).to_have_attribute("data-at", str(before + 1))
    expect(page.locator(".threads .lane h3 span", has_text=name)).to_be_attached()


def run_operation(page: Page, thread: str) -> None:
    """Let a thread run its operation to its end: its own steps, WSK completing inline."""
    for _ in range(40):
        lane = page.locator(".threads .lane", has=page.locator(f'h3 span:text-is("{thread}")'))
        if lane.locator("button.chip").count():
            return  # idle again: it offers its operations
        buttons = lane.locator('button[name="then"]')
        values = [buttons.nth(i).get_attribute("value") or "" for i in range(buttons.count())]
        inline = [v for v in values if v.endswith("-i")]
        plain = [v for v in values if v == thread]
        take(page, (inline or plain or values)[0])
    raise AssertionError(f"{thread} did not finish its operation")


def test_build_a_situation_find_its_race_and_share_it(
    stage: tuple[Page, str], live_server: str, axe: Axe, artifacts_dir: Path
) -> None:
    page, size = stage
    page.goto(live_server + "/")
    page.get_by_role("link", name="Sandbox: build your own situation").click()
    expect(page.locator(".design-in-force")).to_contain_text("no protection")

    # Choose a design: the stage says which is in force and what each operation does under it.
    page.get_by_role("button", name="Design and operations").click()
    page.get_by_role("link", name="check zero, then close").click()
    expect(page).to_have_url(re.compile(r"/play/live-check-zero\?v=2&s=$"))
    expect(page.locator(".design-in-force")).to_contain_text("check zero, then close")
    page.get_by_role("button", name="Design and operations").click()
    expect(page.locator("#designs")).to_contain_text("Ref++, WskSend, Ref--")
    axe.assert_clean(page, f"the live sandbox's designs popover at {size}")
    page.keyboard.press("Escape")

    # T1 sends, and sends again; a second thread sends; a third closes.
    take(page, "T1-send")
    run_operation(page, "T1")
    take(page, "T1-send")
    run_operation(page, "T1")
    add_thread(page, "T2")
    take(page, "T2-send")
    add_thread(page, "T3")
    take(page, "T3-close")
    take(page, "T3")
    add_thread(page, "T4")  # several lanes: they scroll inside their row
    expect(page.locator(".threads .lane")).to_have_count(4)
    found: list[str] = page.evaluate(MEASURE)["problems"]
    assert not found, found
    snap(page, artifacts_dir / f"live-sandbox-built-{size}.png")
    axe.assert_clean(page, f"the live sandbox at {size}")
    if size == "projector":
        contrast = axe.enhanced_contrast_violations(page)
        assert not contrast, axe_report(contrast)

    # Find the race searches what was built, says so, and finds the check-zero race.
    page.get_by_role("button", name="Find the race").first.click()
    page.get_by_role("button", name="Search the situation built so far").click()
    panel = page.locator(".search-panel.done")
    expect(panel).to_be_visible(timeout=60_000)
    expect(panel).to_contain_text("T1: send 2 times; T2: send; T3: close")
    expect(panel.locator(".verdict")).to_contain_text("Found")
    snap(page, artifacts_dir / f"live-sandbox-search-{size}.png")
    axe.assert_clean(page, f"the live sandbox's search results at {size}")

    # Its witness replays in the sandbox, where the close runs with a send in progress.
    panel.get_by_role("link", name=re.compile("witness")).first.click()
    expect(page).to_have_url(re.compile(r"/play/live-check-zero\?v=2&s=T2-add\.T3-add\."))
    expect(page.locator(".banner h2")).to_contain_text("broken")
    snap(page, artifacts_dir / f"live-sandbox-witness-{size}.png")

    # The session is a link like any other: the share link opens the very same step.
    page.get_by_role("button", name="Share").click()
    link = page.locator("#share-link").input_value()
    narration = page.locator("#narration").inner_text()
    step = at(page)
    page.goto(live_server + link)
    expect(page.locator("#player")).to_have_attribute("data-at", str(step))
    expect(page.locator("#narration")).to_have_text(narration)


def test_the_live_sandbox_stacks_on_a_phone(
    browser: Browser, live_server: str, axe: Axe, artifacts_dir: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(live_server + "/play/live-rundown?v=2&s=T1-send.T1.T1.T2-add.T2-close.T3-add")
        expect(page.locator(".threads .lane")).to_have_count(3)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing is wider than the phone"
        box: Any = page.locator("#nav").bounding_box()
        assert box and abs(box["y"] + box["height"] - 844) <= 1, box
        take(page, "T3-send")
        expect(page.locator(".design-in-force")).to_contain_text("run-down protection")
        axe.assert_clean(page, "the live sandbox on a phone")
        snap(page, artifacts_dir / "live-sandbox-phone.png")
    finally:
        context.close()
