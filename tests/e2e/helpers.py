"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page


def stage_context(browser: Browser, viewport: dict[str, int], large: bool, **options: Any) -> BrowserContext:
    """A browser context of this size, with large type switched on before any page loads when ``large`` (the
    stage reads the choice from localStorage, as a returning visitor's would be)."""
    context = browser.new_context(viewport=viewport, **options)  # type: ignore[arg-type]
    if large:
        context.add_init_script("try { localStorage.setItem('wsk.large', '1'); } catch (e) {}")
    return context


def snap(page: Page, path: Path) -> None:
    """A full-page screenshot once the step's view transition has finished animating."""
    # Awaited through page.evaluate (the page's CSP forbids the eval that wait_for_function would need): every
    # running animation's end, cancelled ones included, or 5 s at most.
    page.evaluate(_ANIMATIONS_DONE)
    page.screenshot(path=str(path), full_page=True)


_ANIMATIONS_DONE = """() => Promise.race([
  Promise.all(document.getAnimations().map((a) => a.finished.catch(() => null))),
  new Promise((done) => setTimeout(done, 5000)),
])"""


# -- axe-core ------------------------------------------------------------------------------------------------------

# WCAG 2.1 level A and AA: what issue 10 asks for ("0 violations, WCAG 2.1 AA").
WCAG21_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
# 7:1 text contrast (4.5:1 for large text), WCAG 1.4.6, level AAA: large type is for projectors, which wash
# colours out. axe tags it wcag2aaa; only this one rule of that level is asked for.
ENHANCED_CONTRAST = "color-contrast-enhanced"

_RUN_AXE = """async ([runOnly, context]) => {
  const results = await axe.run(context || document, {runOnly, resultTypes: ["violations"], elementRef: false});
  const ran = results.violations.length + results.passes.length + results.incomplete.length
    + results.inapplicable.length;
  return {ran, violations: results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({
      target: n.target.map((t) => Array.isArray(t) ? t.join(" >>> ") : t).join(" "),
      html: n.html, summary: n.failureSummary || "",
    })),
  }))};
}"""


@dataclass(frozen=True)
class AxeNode:
    target: str  # axe's CSS selector for the element
    html: str  # the start of its outer HTML
    summary: str  # axe's "Fix any of the following: ..." text, with measured values (e.g. the contrast ratio)


@dataclass(frozen=True, repr=False)
class AxeViolation:
    rule: str
    impact: str | None
    help: str
    help_url: str
    nodes: tuple[AxeNode, ...]

    def __repr__(self) -> str:  # short, for pytest's assertion output; str() has the details
        return f"<axe {self.rule}: {len(self.nodes)} element(s)>"

    def __str__(self) -> str:
        lines = [f"{self.rule} ({self.impact}): {self.help} [{len(self.nodes)} element(s)] {self.help_url}"]
        for node in self.nodes:
            lines.append(f"  - {node.target}")
            lines.append(f"      {node.html[:200]}")
            lines += [f"      {line.strip()}" for line in node.summary.splitlines() if line.strip()]
        return "\n".join(lines)


def axe_report(violations: list[AxeViolation]) -> str:
    """All violations, one block per rule, naming each element and what axe measured: what to fix, and where."""
    return "\n".join(str(v) for v in violations) or "no violations"


class Axe:
    """Runs the pinned axe-core (see scripts/fetch_test_assets.py) in a page, under the page's own CSP.

    The site's CSP is ``script-src 'self'``, so Playwright's ``add_script_tag`` (an inline <script>) is refused.
    ``page.evaluate`` is not: it runs over the DevTools protocol, which a page's CSP does not govern, and axe
    itself needs no eval. So the source is evaluated into the page as it is served, and no test needs a
    ``bypass_csp`` context, which would also hide the CSP violations the other tests look for. A navigation or
    reload drops ``window.axe``; each run injects it again when it is missing.
    """

    def __init__(self, source: str):
        self.source = source

    def inject(self, page: Page) -> None:
        if not page.evaluate("typeof window.axe === 'object'"):
            page.evaluate(self.source)

    def violations(
        self,
        page: Page,
        *,
        tags: tuple[str, ...] = WCAG21_AA,
        rules: tuple[str, ...] | None = None,
        within: str | dict[str, Any] | None = None,
    ) -> list[AxeViolation]:
        """axe's violations on the page as it is now: the rules with any of ``tags``, or exactly ``rules``;
        in the whole document, or only ``within`` (an axe context: a CSS selector such as ``"main"`` or
        ``"header, footer"``, or ``{"include": [...], "exclude": [...]}``)."""
        self.inject(page)
        run_only: dict[str, Any] = (
            {"type": "rule", "values": list(rules)} if rules else {"type": "tag", "values": list(tags)}
        )
        result = page.evaluate(_RUN_AXE, [run_only, within])
        # A misspelt tag or rule, or a context matching nothing, would make any page look clean.
        assert result["ran"] > 0, f"axe ran no rules (runOnly={run_only}, within={within!r})"
        return [
            AxeViolation(
                rule=v["id"],
                impact=v["impact"],
                help=v["help"],
                help_url=v["helpUrl"],
                nodes=tuple(AxeNode(n["target"], n["html"], n["summary"]) for n in v["nodes"]),
            )
            for v in result["violations"]
        ]

    def enhanced_contrast_violations(
        self, page: Page, within: str | dict[str, Any] | None = None
    ) -> list[AxeViolation]:
        """Text below 7:1 contrast (4.5:1 for large text): axe's color-contrast-enhanced rule alone."""
        return self.violations(page, rules=(ENHANCED_CONTRAST,), within=within)

    def assert_clean(self, page: Page, what: str = "", **options: Any) -> None:
        found = self.violations(page, **options)
        assert not found, f"axe: {len(found)} rule(s) violated on {what or page.url}:\n{axe_report(found)}"
