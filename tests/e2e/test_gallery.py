"""A new user, in a real browser: opens the gallery, picks a scenario, reads its code and its narrated run."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def test_gallery_to_scenario_page(page: Page, live_server: str, artifacts_dir) -> None:
    page.goto(live_server + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Closing a WSK socket without racing your own threads"
    )
    expect(page.get_by_role("heading", name="Level 1: Closing basics")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "gallery.png"), full_page=True)
    page.locator(".card", has_text="Closing a socket, as the documentation shows it").get_by_role(
        "link", name="Code and a narrated run"
    ).click()
    expect(page).to_have_url(live_server + "/scenarios/seed-close-socket")
    expect(page.locator("ol.code").first).to_contain_text("WskCloseSocket(Socket, Irp)")
    expect(page.locator("ol.code").first).to_contain_text("if (!Irp) return STATUS_INSUFFICIENT_RESOURCES;")
    # Its narrated run is its demo: IoAllocateIrp fails, the page's check returns, and the socket stays open.
    expect(page.locator(".outcome")).to_have_text("Outcome: violation")
    page.screenshot(path=str(artifacts_dir / "scenario-seed.png"), full_page=True)


def test_a_buggy_scenario_page_names_the_rule(page: Page, live_server: str, artifacts_dir) -> None:
    page.goto(live_server + "/")
    page.locator(".card", has=page.locator(".badge.buggy")).first.get_by_role(
        "link", name="Code and a narrated run"
    ).click()
    expect(page.get_by_role("heading", name="The interleaving that breaks it")).to_be_visible()
    expect(page.locator(".violations li").first).to_contain_text("rule")
    page.screenshot(path=str(artifacts_dir / "scenario-buggy.png"), full_page=True)
