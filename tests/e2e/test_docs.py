"""The API reference at /docs, in a real browser with no network but the test server: Swagger UI comes from the
vendored files, renders the operations, and runs under the strict CSP with no console error and no CSP violation."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Page, Request, Route, expect

# Runs before any page script (injected over the DevTools protocol, so the page's CSP does not apply to it).
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sample || ""));
});
"""


def test_docs_render_offline_under_the_strict_csp(page: Page, live_server: str, artifacts_dir) -> None:
    local = urlsplit(live_server).netloc
    blocked: list[str] = []
    errors: list[str] = []
    failed: list[str] = []

    def only_the_test_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == local:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            errors.append(msg.text)

    def on_failed(request: Request) -> None:
        failed.append(f"{request.url}: {request.failure}")

    page.route("**/*", only_the_test_server)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("requestfailed", on_failed)
    page.add_init_script(RECORD_CSP_VIOLATIONS)

    response = page.goto(live_server + "/docs")
    assert response is not None and response.ok
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "unsafe" not in csp

    expect(page.get_by_role("heading", name="WSK close visualizer")).to_be_visible()
    run_path = page.locator(".opblock-summary-path[data-path='/api/run']")
    operation = page.locator(".opblock-post", has=run_path)
    expect(operation).to_be_visible()
    expect(page.locator(".opblock-get .opblock-summary-path[data-path='/api/scenarios']")).to_be_visible()
    # Styled by the vendored stylesheet: POST operations get Swagger UI's green.
    expect(page.locator(".opblock-post").first).to_have_css("background-color", "rgba(73, 204, 144, 0.1)")

    page.screenshot(path=str(artifacts_dir / "docs.png"))  # the viewport: readable at a glance

    # Swagger UI's own interaction: open POST /api/run, try it out, execute; the request goes to the test server
    # (connect-src 'self') and the highlighted answer renders.
    run_path.click()
    expect(operation.locator(".opblock-section-request-body")).to_be_visible()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("textarea.body-param__text").fill('{"scenario": "seed-close-socket", "schedule": []}')
    operation.get_by_role("button", name="Execute").click()
    live = operation.locator(".live-responses-table")
    expect(live.locator("tr.response .response-col_status")).to_have_text("200")
    expect(live.locator("tr.response .response-col_description")).to_contain_text('"fingerprint"')
    live.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "docs-executed.png"))

    # A schema in the Schemas section expands (Swagger UI's model view).
    models = page.locator("section.models")
    title = page.get_by_role("button", name="RunRequest", exact=True)
    run_request = models.locator("article[data-json-schema-level='0']", has=title)
    expect(run_request).not_to_contain_text("continue_with")
    run_request.get_by_role("button", name="RunRequest", exact=True).click()
    expect(run_request).to_contain_text("continue_with")

    violations = page.evaluate("window.__cspViolations")
    assert violations == [], violations
    assert errors == [], errors
    assert blocked == [], blocked
    assert failed == [], failed
