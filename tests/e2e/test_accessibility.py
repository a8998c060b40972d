"""The pages around the player, checked with axe-core in a real browser (issue 10, item 8).

WCAG 2.1 level AA at desktop size (1366x768), phone size (390x844) and in large type (the site's toggle, which a
lecturer turns on for a projector), plus 7:1 text contrast in large type, because projectors wash colours out.
Also what axe cannot measure: at phone size no page scrolls sideways (WCAG 1.4.10, reflow).

The player has tests of its own; these cover the gallery, the glossary, a scenario's page, the fix verifier of a
family and an error page. axe-core is the pinned copy from scripts/fetch_test_assets.py (tests/e2e/helpers.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from app.scenarios import load_library
from tests.e2e.helpers import Axe, AxeViolation, axe_report

FAMILY = "close-protection"
FAMILY_SIZE = sum(1 for c in load_library().scenarios.values() if c.source.family == FAMILY)

PAGES = {
    "gallery": "/",
    "glossary": "/glossary",
    "scenario-safe": "/scenarios/close-with-pending-receive",
    "scenario-buggy": "/scenarios/close-during-send",  # its narrated run breaks rules: the violations list
    "family": f"/families/{FAMILY}",
    "not-found": "/scenarios/no-such-scenario",
}


@dataclass(frozen=True)
class Mode:
    width: int
    height: int
    large: bool = False


MODES = {
    "desktop": Mode(1366, 768),
    "phone": Mode(390, 844),
    "large-type": Mode(1366, 768, large=True),
}


@contextmanager
def open_page(browser: Browser, url: str, mode: Mode) -> Iterator[Page]:
    """``url`` in a fresh context at ``mode``'s size, in large type if asked, once it has its final content."""
    context = browser.new_context(viewport={"width": mode.width, "height": mode.height})
    try:
        page = context.new_page()
        response = page.goto(url)
        assert response is not None
        if mode.large:
            # The toggle is remembered in localStorage and applied by static/js/player.js on every page.
            page.evaluate("localStorage.setItem('wsk.large', '1')")
            page.reload()
            expect(page.locator("html")).to_have_class(re.compile(r"\blarge\b"))
            expect(page.get_by_role("button", name="Large type")).to_have_attribute("aria-pressed", "true")
        if "/families/" in url:  # the verdicts fill in by themselves; check the finished table
            done = page.locator("table.family tbody tr:is(.safe, .buggy)")
            expect(done).to_have_count(FAMILY_SIZE, timeout=60_000)
            expect(page.get_by_role("status")).to_have_count(0)
        elif url.endswith("no-such-scenario"):
            assert response.status == 404
            expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
        else:
            assert response.ok, response.status
            expect(page.get_by_role("heading", level=1)).to_be_visible()
        yield page
    finally:
        context.close()


@pytest.fixture
def shown(
    request: pytest.FixtureRequest, browser: Browser, live_server: str, artifacts_dir: Path
) -> Iterator[Page]:
    """The page named by the test's ``name`` parameter, at the size named by its ``mode`` parameter (in large
    type if it has none)."""
    name, mode = request.node.callspec.params["name"], request.node.callspec.params.get("mode", "large-type")
    with open_page(browser, live_server + PAGES[name], MODES[mode]) as page:
        yield page
        rep = getattr(request.node, "_e2e_rep_call", None)
        if rep is not None and rep.outcome != "skipped":
            # What axe looked at, to compare with its report: every run, since xfailed ones matter too.
            shots = artifacts_dir / "a11y"
            shots.mkdir(exist_ok=True)
            page.screenshot(path=str(shots / f"{name}-{mode}.png"), full_page=True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", PAGES)
def test_no_wcag21_aa_violations(shown: Page, axe: Axe, name: str, mode: str) -> None:
    axe.assert_clean(shown, f"{name} at {mode}")


@pytest.mark.parametrize("name", PAGES)
def test_large_type_text_has_enhanced_contrast(shown: Page, axe: Axe, name: str) -> None:
    """7:1 (4.5:1 for large-scale text) in the page's own content; the site's header and footer are below."""
    found = axe.enhanced_contrast_violations(shown, within="main")
    assert not found, f"large type, {name}:\n{axe_report(found)}"


def test_large_type_site_header_and_footer_have_enhanced_contrast(
    browser: Browser, live_server: str, axe: Axe
) -> None:
    with open_page(browser, live_server + "/glossary", MODES["large-type"]) as page:
        found = axe.enhanced_contrast_violations(page, within="header.site, footer.site")
        assert not found, axe_report(found)


@pytest.mark.parametrize("name", PAGES)
def test_no_page_scrolls_sideways_on_a_phone(browser: Browser, live_server: str, name: str) -> None:
    """WCAG 1.4.10 (reflow, level AA), which axe cannot measure: no text runs past a 390 px wide screen."""
    with open_page(browser, live_server + PAGES[name], MODES["phone"]) as page:
        overflow = page.evaluate(
            """() => {
              const width = document.documentElement.clientWidth, found = [];
              const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
              while (walker.nextNode()) {
                const range = document.createRange();
                range.selectNodeContents(walker.currentNode);
                if ([...range.getClientRects()].some((r) => r.right > width + 1)) {
                  found.push(walker.currentNode.textContent.trim().slice(0, 80));
                }
              }
              return {scroll: document.documentElement.scrollWidth, width, found};
            }"""
        )
        assert overflow["scroll"] <= overflow["width"] and not overflow["found"], overflow


def test_the_axe_helper_names_the_rule_the_element_and_the_fix(
    page: Page, live_server: str, axe: Axe
) -> None:
    """The checks above can fail: break a page on purpose and read what the helper reports."""
    page.goto(live_server + "/glossary")
    axe.assert_clean(page)
    page.evaluate(
        """() => {
          const img = document.createElement("img");
          img.src = "data:image/gif;base64,R0lGODlhAQABAAAAACw=";
          img.className = "no-alt";
          document.querySelector("main h1").after(img);
          document.querySelector("main p").style.color = "#c8c8c8";
        }"""
    )
    found = {v.rule: v for v in axe.violations(page)}
    assert set(found) == {"image-alt", "color-contrast"}, axe_report(list(found.values()))
    assert isinstance(found["image-alt"], AxeViolation)
    expect(page.locator(found["image-alt"].nodes[0].target)).to_have_class("no-alt")  # it names the element
    assert re.search(
        r"contrast of 1\.\d+ .* Expected contrast ratio of 4\.5:1", found["color-contrast"].nodes[0].summary
    )
    with pytest.raises(AssertionError) as failure:
        axe.assert_clean(page, "the broken glossary")
    message = str(failure.value)
    assert "the broken glossary" in message and "image-alt (critical)" in message
    assert "dequeuniversity.com/rules/axe/" in message and '<img src="data:image/gif' in message


@pytest.mark.parametrize("mode", ["desktop", "large-type"])
@pytest.mark.parametrize("state", ["hover", "focus"])
def test_the_gallerys_button_link_stays_readable_on_hover_and_focus(
    browser: Browser, live_server: str, axe: Axe, mode: str, state: str
) -> None:
    """The one .ctl on these pages turns white on blue when pointed at or focused: still readable."""
    with open_page(browser, live_server + "/", MODES[mode]) as page:
        link = page.get_by_role("link", name="Compare the ways to protect a close, side by side")
        if state == "hover":
            link.hover()
            assert link.evaluate("el => el.matches(':hover')")
        else:
            for _ in range(10):  # from the skip link on, as a keyboard user meets it
                page.keyboard.press("Tab")
                if link.evaluate("el => el === document.activeElement"):
                    break
            else:
                pytest.fail("ten Tab presses never reached the link")
            assert link.evaluate("el => el.matches(':focus-visible')")
        expect(link).to_have_css("color", "rgb(255, 255, 255)")  # the state's colours are the ones measured
        rules = ("color-contrast", "color-contrast-enhanced") if MODES[mode].large else ("color-contrast",)
        found = axe.violations(page, rules=rules, within=".intro .ctl")
        assert not found, axe_report(found)
