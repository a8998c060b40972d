"""Link version 2 in Chromium: a v=1 seed link recorded before the seed gained its 'if (!Irp)' step opens on the
same step with a notice that says what was added, and the seed's stage offers the failed allocation, whose run ends
with the socket left open."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import Axe, axe_report, snap, stage_context

RECORDED = json.loads((Path(__file__).parents[1] / "web" / "links" / "seed-v1.json").read_text())
AT_3 = next(r for r in RECORDED if r["at"] == 3 and r["link"].startswith("/play/"))
MODES = {
    "desktop": ({"width": 1366, "height": 768}, False),
    "phone": ({"width": 390, "height": 844}, False),
    "large-type": ({"width": 1366, "height": 768}, True),
}


def test_a_recorded_v1_seed_link_opens_on_its_step_and_says_what_was_added(
    page: Page, live_server: str, artifacts_dir: Path
) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(live_server + AT_3["link"])
    notice = page.locator(".made-with")
    expect(notice).to_contain_text("made before this scenario ran the documentation's 'if (!Irp)' check")
    expect(notice).to_contain_text("every later step is one further on")
    expect(notice).not_to_contain_text("may differ")
    # The same step: IoSetCompletionRoutine has just run, and App is at its WskCloseSocket call.
    expect(page.locator("#narration")).to_have_text(AT_3["page"]["narration"])
    current = page.locator(".lane li.current").first
    expect(current).to_have_text(AT_3["page"]["current_lines"][0])
    expect(page.locator(".stepcount .at")).to_have_text("4")
    expect(page.locator("#share-link")).to_have_value(
        re.compile(r"\?v=2&s=App\.App\.App\.App\.App\.App-p\..*&at=4&h=")
    )
    snap(page, artifacts_dir / "seed-v1-link-desktop.png")
    # Stepping on writes today's links.
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(
        re.compile(r"/play/seed-close-socket\?v=2&s=App\.App\.App\.App\.App\.App-p\..*&at=5$")
    )
    expect(page.locator("#narration")).to_contain_text("App calls WskCloseSocket")


def test_the_seed_offers_a_failed_allocation_and_its_run_ends_with_the_socket_open(
    page: Page, live_server: str, artifacts_dir: Path
) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(live_server + "/play/seed-close-socket?v=2&s=App")
    snap(page, artifacts_dir / "seed-allocation-choice-desktop.png")
    page.get_by_role("button", name=re.compile("IoAllocateIrp fails and returns NULL")).click()
    expect(page).to_have_url(re.compile(r"s=App\.App-nomem$"))
    expect(page.locator("#narration")).to_contain_text("IoAllocateIrp returns NULL to App")
    expect(page.locator(".lane li.current").first).to_have_text(
        "if (!Irp) return STATUS_INSUFFICIENT_RESOURCES;"
    )
    page.get_by_role("button", name="Forward").click()
    expect(page).to_have_url(re.compile(r"s=App\.App-nomem\.App$"))
    expect(page.locator("#narration")).to_contain_text("returning STATUS_INSUFFICIENT_RESOURCES")
    expect(page.locator(".banner h2")).to_contain_text("R-REG-5")
    expect(page.locator(".banner")).to_contain_text("socket Socket was never closed")
    snap(page, artifacts_dir / "seed-allocation-failed-desktop.png")


@pytest.mark.parametrize("mode", MODES)
def test_the_upgrade_notice_has_no_wcag21_aa_violations(
    browser: Browser, live_server: str, axe: Axe, artifacts_dir: Path, mode: str
) -> None:
    viewport, large = MODES[mode]
    context = stage_context(browser, viewport, large)
    try:
        page = context.new_page()
        page.goto(live_server + AT_3["link"])
        expect(page.locator(".made-with")).to_be_visible()
        expect(page.locator("#meter:not(.pending)")).to_be_attached(timeout=30_000)
        axe.assert_clean(page, f"a v=1 seed link's stage at {mode}")
        if large:
            found = axe.enhanced_contrast_violations(page)
            assert not found, f"large type, a v=1 seed link's stage:\n{axe_report(found)}"
        snap(page, artifacts_dir / f"seed-v1-link-{mode}.png")
    finally:
        context.close()
