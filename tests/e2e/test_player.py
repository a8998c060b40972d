"""The player in a real browser, used as a learner or teacher would: buttons, keys, back, reload, autoplay."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from app.scenarios import load_library
from tests.e2e.helpers import snap

LIBRARY = load_library()


def step_count(page: Page):
    return page.locator(".stepcount .at")


def take(page: Page, label: str | re.Pattern[str]) -> None:
    """Click the enabled action whose label matches, and wait until the player shows the next step."""
    before = int(step_count(page).inner_text())
    page.locator("button.action", has_text=label).first.click()
    expect(step_count(page)).to_have_text(str(before + 1))


def take_while(page: Page, label: re.Pattern[str], limit: int = 12) -> None:
    """Keep taking matching actions (at most ``limit``, so a wrong expectation fails instead of hanging)."""
    for _ in range(limit):
        if not page.locator("button.action", has_text=label).count():
            return
        take(page, label)
    raise AssertionError(f"still offering {label.pattern!r} after {limit} steps")


def test_open_a_scenario_from_the_gallery_and_step_with_buttons(
    page: Page, live_server: str, artifacts_dir: Path
) -> None:
    page.goto(live_server + "/")
    page.get_by_role("link", name="Closing while another thread is inside WskSend").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Closing while another thread is inside WskSend"
    )
    expect(step_count(page)).to_have_text("0")
    first = page.locator("button.action").first
    label = first.inner_text()
    first.click()
    expect(step_count(page)).to_have_text("1")
    expect(page).to_have_url(re.compile(r"/play/close-during-send\?v=2&s=[A-Za-z]+$"))
    expect(page.locator(".took")).to_have_text(re.sub(r"^\d\s+", "", label))
    page.locator("button.action").first.click()
    expect(step_count(page)).to_have_text("2")
    snap(page, artifacts_dir / "player-step-2.png")


def test_keyboard_steps_without_scrolling_and_the_back_button_restores(page: Page, live_server: str) -> None:
    page.goto(live_server + "/play/close-during-send?v=2&s=")
    page.mouse.wheel(0, 300)  # the stage fits the window: there is nothing to scroll
    for key, step, url in (("1", "1", r"s=Sender$"), ("1", "2", r"s=Sender\.Sender$"), ("ArrowLeft", "1", r"at=1$"),
                           ("ArrowRight", "2", r"s=Sender\.Sender$"), ("Home", "0", r"at=0$"), ("End", "2", r"s=Sender\.Sender$")):  # fmt: skip
        page.keyboard.press(key)
        expect(step_count(page)).to_have_text(step)
        expect(page).to_have_url(re.compile(url))
        assert page.evaluate("window.scrollY") == 0, "keys must not scroll the page"
    page.go_back()
    expect(step_count(page)).to_have_text("0")
    page.go_back()
    expect(step_count(page)).to_have_text("2")
    page.go_forward()
    expect(step_count(page)).to_have_text("0")


def test_keyboard_users_keep_focus_on_the_control_they_used(page: Page, live_server: str) -> None:
    page.goto(live_server + "/play/close-during-send?v=2&s=Sender.Sender.Sender")
    page.locator("#ctl-back").focus()
    page.keyboard.press("Enter")
    expect(step_count(page)).to_have_text("2")
    expect(page.locator("#ctl-back")).to_be_focused()


def test_a_changed_count_is_marked(page: Page, live_server: str) -> None:
    page.goto(live_server + "/play/check-zero-then-close?v=2&s=Sender")
    expect(page.locator(".memory dd.changed")).to_contain_text("1")


def test_the_scrubber_jumps_to_any_step(page: Page, live_server: str) -> None:
    demo = ".".join(LIBRARY.scenarios["close-during-send"].source.demo or [])
    page.goto(f"{live_server}/play/close-during-send?v=2&s={demo}")
    page.locator("#scrub").fill("4")
    expect(step_count(page)).to_have_text("4")
    expect(page).to_have_url(re.compile(r"&at=4$"))
    page.locator(".broken-at button", has_text="UB-2 / P1").click()
    expect(page.locator(".banner h2")).to_contain_text("UB-2 / P1")


def test_a_deep_link_reloads_to_the_same_picture(page: Page, live_server: str) -> None:
    demo = ".".join(LIBRARY.scenarios["close-during-send"].source.demo or [])
    url = f"{live_server}/play/close-during-send?v=2&s={demo}&at=6"
    page.goto(url)
    narration = page.locator("#narration").inner_text()
    expect(step_count(page)).to_have_text("6")
    page.reload()
    expect(page.locator("#narration")).to_have_text(narration)
    expect(page.locator(".banner h2")).to_contain_text("UB-2 / P1")


def test_keys_are_listed_under_question_mark_and_ignored_in_text_fields(page: Page, live_server: str) -> None:
    page.goto(live_server + "/play/seed-close-socket?v=2&s=")
    page.keyboard.press("?")
    expect(page.locator("dialog#keys")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog#keys")).to_be_hidden()
    page.locator("#scrub").focus()  # keys typed into a field belong to the field
    page.keyboard.press("1")
    page.get_by_role("button", name="Share").click()  # and keys pressed in an open popover belong to it
    expect(page.locator("#share-link")).to_be_visible()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Escape")
    expect(page.locator("#share-link")).to_be_hidden()
    expect(step_count(page)).to_have_text("0")
    page.keyboard.press("ArrowRight")  # the stage has the keys again
    expect(step_count(page)).to_have_text("1")


def test_autoplay_a_buggy_demo_to_the_end_shows_the_violation_banner(
    page: Page, live_server: str, artifacts_dir: Path
) -> None:
    page.goto(live_server + "/play/close-during-send?v=2&s=")
    page.locator("#ctl-speed").select_option("300")
    page.get_by_role("button", name="Show me the bug").click()
    # The demo loads and plays by itself, and stops where the first rule breaks: step 6, the close.
    expect(step_count(page)).to_have_text("6", timeout=30_000)
    banner = page.locator(".banner")
    expect(banner.locator("h2")).to_contain_text("Rule UB-2 / P1 broken at step 6")
    play = page.locator("#ctl-play")
    expect(play).to_have_text(re.compile("Continue"))
    expect(play).to_have_attribute("aria-pressed", "false")
    snap(page, artifacts_dir / "player-stopped-at-bug.png")
    play.click()  # Continue: plays on, and stops again at the next step that breaks a rule
    expect(step_count(page)).to_have_text("8", timeout=30_000)
    expect(play).to_have_text(re.compile("Continue"))
    demo = LIBRARY.scenarios["close-during-send"].source.demo or []
    for _ in range(4):  # continue through the remaining breaks to the end of the demo
        if step_count(page).inner_text() == str(len(demo)):
            break
        play.click()
        expect(play).to_have_attribute("aria-pressed", "false", timeout=30_000)
    expect(step_count(page)).to_have_text(str(len(demo)), timeout=30_000)
    expect(banner).to_be_visible()
    snap(page, artifacts_dir / "player-violation.png")


def test_the_sandbox_lets_a_user_send_and_close(page: Page, live_server: str, artifacts_dir: Path) -> None:
    page.goto(live_server + "/play/sandbox?v=2&s=")
    take(page, "Worker: Send")
    take_while(page, re.compile(r"Worker: (run|enter|test)"))
    take(page, re.compile(r"Worker: WskSend returns STATUS_PENDING"))
    expect(page.locator(".col-owned_by_wsk .irp-card")).to_contain_text("WskSend")
    take_while(page, re.compile(r"Worker: (run|enter|test)"))  # drops its reference: Ref is 0 again
    take(page, "Closer: Close")
    take_while(page, re.compile(r"Closer: (run|test|enter)"))
    expect(page.locator(".irp-card", has_text="WskCloseSocket")).to_be_visible()
    take(page, re.compile(r"Closer: WskCloseSocket returns STATUS_PENDING"))
    expect(page.locator(".socket-card")).to_contain_text("CLOSING")
    expect(page.locator(".socket-card")).to_contain_text("STATUS_CANCELLED")
    snap(page, artifacts_dir / "player-sandbox.png")


def test_large_type_mode_for_projection_is_remembered(
    page: Page, live_server: str, artifacts_dir: Path
) -> None:
    page.goto(live_server + "/play/close-during-send?v=2&s=")
    page.get_by_role("button", name="Large type").click()
    expect(page.locator("html")).to_have_class(re.compile(r"\blarge\b"))
    page.goto(live_server + "/play/rundown-protection?v=2&s=")
    expect(page.locator("html")).to_have_class(re.compile(r"\blarge\b"))
    expect(page.get_by_role("button", name="Large type")).to_have_attribute("aria-pressed", "true")
    snap(page, artifacts_dir / "player-large-type.png")


def test_phone_layout_and_embed(page: Page, live_server: str, artifacts_dir: Path) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server + "/play/rundown-protection?v=2&s=")
    expect(page.locator(".threads .lane").first).to_be_visible()
    snap(page, artifacts_dir / "player-phone.png")
    page.set_viewport_size({"width": 900, "height": 700})
    page.goto(live_server + "/embed/seed-close-socket?v=2&s=App.App")
    expect(page.locator("footer")).to_have_count(0)
    page.keyboard.press("1")
    expect(step_count(page)).to_have_text("3")
    expect(page).to_have_url(re.compile(r"/embed/seed-close-socket\?v=2&s=App\.App\.App$"))
