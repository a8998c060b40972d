"""Authoring and sharing, as a driver developer would: write a scenario with a mistake, see it at its line, fix it,
run it, find the race, share it by a short link, restart the server, and open the link in a fresh browser."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from app.web.editor import BLANK
from tests.e2e.helpers import Axe, snap
from tests.live import live_server as serve

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
MISTAKE = BLANK.replace("  - name: Closer", "  - name: closer")
MISTAKE_LINE = BLANK[: BLANK.index("  - name: Closer")].count("\n") + 1


def scenario_box(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("textbox", name=re.compile("Scenario"))


def test_write_run_find_the_race_share_restart_and_open_the_short_link(
    browser: Browser, artifacts_dir: Path, axe: Axe
) -> None:
    database = f"sqlite:///{Path(tempfile.mkdtemp(prefix='wsk-e2e-db-')) / 'wsk.db'}"
    with serve(env={"DATABASE_URL": database}) as server:
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        # 1. Write a scenario with an error; 2. see it at its line.
        page.goto(server.url + "/edit")
        scenario_box(page).fill(MISTAKE)
        problems = page.locator("#problems")
        expect(problems).to_contain_text(f"Line {MISTAKE_LINE}, column 11")
        expect(problems).to_contain_text("must start with a capital letter")
        expect(page.locator("#gutter li.bad")).to_have_text(str(MISTAKE_LINE))
        snap(page, artifacts_dir / "editor-error-desktop.png")
        axe.assert_clean(page, "the editor with a problem")
        # 3. Fix it and run it.
        scenario_box(page).fill(BLANK)
        expect(problems).to_contain_text("Valid")
        expect(page.locator("#gutter li.bad")).to_have_count(0)
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.locator("#player")).to_be_visible()
        expect(page.locator(".stage-bar h1")).to_have_text("My close")
        # 4. Find the race.
        page.get_by_role("button", name="Find the race").click()
        page.get_by_role("button", name="Search every interleaving").click()
        panel = page.locator(".search-panel.done")
        expect(panel.locator(".verdict")).to_contain_text(re.compile(r"Found \d+ ways? to break the rules"))
        panel.get_by_role("link", name=re.compile("witness")).first.click()
        expect(page.locator(".banner")).to_be_visible()
        step = page.locator(".stepcount").inner_text()
        # 5. Share it.
        page.get_by_role("button", name="Share").click()
        page.get_by_role("button", name="Make a short link").click()
        short = page.locator("#short-url")
        expect(short).to_have_value(re.compile(r"/s/[a-z2-7]{10}$"))
        path = "/s/" + short.input_value().rsplit("/s/", 1)[1]
        snap(page, artifacts_dir / "stage-short-link-desktop.png")
        axe.assert_clean(page, "the share popover with a short link")
        context.close()
    # 6. Restart the server (same database); 7. open the short link in a fresh browser context.
    with serve(env={"DATABASE_URL": database}) as server:
        context = browser.new_context(viewport=DESKTOP)
        try:
            page = context.new_page()
            page.goto(server.url + path)
            expect(page.locator(".stage-bar h1")).to_have_text("My close")
            expect(page.locator(".stepcount")).to_have_text(step)
            expect(page.locator(".banner")).to_be_visible()
        finally:
            context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_editor_and_the_verifier_read_well_and_pass_axe(
    browser: Browser, live_server: str, artifacts_dir: Path, axe: Axe, viewport: dict[str, int]
) -> None:
    name = "desktop" if viewport is DESKTOP else "phone"
    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        page.goto(live_server + "/edit?from=protect-check-zero")
        expect(page.locator("#problems")).to_be_attached()
        snap(page, artifacts_dir / f"editor-{name}.png")
        axe.assert_clean(page, f"the editor at {name}")
        page.goto(live_server + "/families/close-protection")
        expect(page.locator(".family-verdicts:not([hx-get])")).to_be_attached(timeout=120_000)
        expect(page.locator("table.family")).to_contain_text("while another call was in progress")
        snap(page, artifacts_dir / f"verifier-{name}.png")
        axe.assert_clean(page, f"the fix verifier at {name}")
        page.goto(live_server + "/s/nosuchlink")
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        axe.assert_clean(page, f"the short link 404 at {name}")
    finally:
        context.close()


def test_edit_a_copy_from_the_stage(page: Page, live_server: str) -> None:
    page.goto(live_server + "/play/protect-none?v=2&s=")
    page.get_by_role("link", name="Edit a copy").click()
    expect(scenario_box(page)).to_have_value(re.compile("id: protect-none"))
    expect(page.locator("#problems")).to_contain_text("Valid")
