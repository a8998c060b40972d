"""Find the race, as a user would: one button, results with witness links, a progress bar for long searches,
and the fix verifier comparing close protections side by side."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from app.scenarios import load_library, with_copies
from app.web.links import encode_definition, play_link
from tests.e2e.helpers import snap


def test_find_the_race_and_watch_the_witness(page: Page, live_server: str, artifacts_dir: Path) -> None:
    page.goto(live_server + "/play/check-zero-then-close?v=2&s=")
    page.get_by_role("button", name="Find the race").click()
    page.get_by_role("button", name="Search every interleaving").click()
    panel = page.locator(".search-panel.done")
    expect(panel.locator(".verdict")).to_contain_text(re.compile(r"Found \d+ ways? to break the rules"))
    expect(panel.locator("table.witnesses")).to_contain_text("UB-2 / P1")
    snap(page, artifacts_dir / "find-the-race.png")
    panel.get_by_role("link", name=re.compile("witness")).first.click()
    expect(page.locator(".banner")).to_be_visible()
    expect(page.locator(".timeline .track li.preempt").first).to_have_attribute(
        "title", re.compile("a preemption")
    )


def test_a_long_search_shows_progress_then_results(page: Page, live_server: str) -> None:
    """Check zero, then close, with three senders: a scenario of one's own, and a search of several seconds."""
    design = with_copies(load_library().scenarios["protect-check-zero"], "Sender", 3)
    page.goto(
        live_server
        + play_link("custom", (), definition=encode_definition(design.source.model_dump(mode="json")))
    )
    page.get_by_role("button", name="Find the race").click()
    page.get_by_role("button", name="Search every interleaving").click()
    expect(page.locator(".search-panel progress")).to_be_visible()
    expect(page.locator(".search-stats").first).to_contain_text("states seen")
    expect(page.locator(".search-panel.done .verdict")).to_contain_text("break the rules", timeout=30_000)


def test_the_fix_verifier_compares_close_protections(
    page: Page, live_server: str, artifacts_dir: Path
) -> None:
    page.goto(live_server + "/")
    page.get_by_role("link", name="Compare the ways to protect a close, side by side").click()
    table = page.locator("table.family")
    expect(table.locator("tr.safe")).to_have_count(3, timeout=30_000)
    expect(table.locator("tr.buggy")).to_have_count(3)
    expect(table.locator("tr", has_text="run-down protection")).to_contain_text("safe in")
    snap(page, artifacts_dir / "fix-verifier.png")
