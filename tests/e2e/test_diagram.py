"""The space-time diagram in a real browser: it shows the run so far, and a mark takes you to its step."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from app.scenarios import load_library
from tests.e2e.helpers import snap

DEMO = ".".join(load_library().scenarios["close-during-send"].source.demo or ())


def test_a_mark_of_the_diagram_goes_to_its_step(page: Page, live_server: str, artifacts_dir: Path) -> None:
    page.goto(f"{live_server}/play/close-during-send?v=1&s={DEMO}&at=9")
    figure = page.get_by_role("region", name=re.compile("diagram"))
    expect(figure.get_by_role("img", name=re.compile("Space-time diagram"))).to_be_visible()
    figure.scroll_into_view_if_needed()
    snap(page, artifacts_dir / "diagram-step-9.png")
    figure.locator("a[data-at='6'] circle").click()  # the dot, where a person clicks
    expect(page.locator("#scrub")).to_have_value("6")
    expect(page).to_have_url(re.compile(r"at=6"))
    expect(page.locator("svg.diagram circle")).to_have_count(6)  # the run so far
    expect(page.locator("svg.diagram text", has_text="UB-2")).to_be_visible()


def test_the_diagram_exports_are_offered_for_download(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/play/close-during-send?v=1&s={DEMO}")
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
    page.goto(f"{live_server}/play/close-during-send?v=1&s={DEMO}&at=6")
    word = page.locator(".banner a.term")
    word.focus()
    shown = word.evaluate("el => getComputedStyle(el, '::after').content")
    assert "WskCloseSocket was called while another call was in progress" in shown
    page.screenshot(path=str(artifacts_dir / "term-on-focus.png"))
    word.click()
    expect(page).to_have_url(re.compile(r"/glossary#term-ub-2-p1$"))
    expect(page.locator("#term-ub-2-p1")).to_be_visible()
