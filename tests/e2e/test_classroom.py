"""The classroom in Chromium: a presenter and two students, each in a browser context of their own.

Follow, late join, detach ("on your own"), "back to the class", a question answered by both students, a reveal with
the bar chart; presenter mode's key kept out of the address bar; axe on the join and presenter pages; screenshots
of the projector (1280x720, large type) and of a phone (390x844).
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect

from app.scenarios import load_library
from tests.e2e.helpers import Axe, snap

# The demo run of a buggy scenario, from its start: each step has one next action that the run takes.
DEMO = ".".join(load_library().get("close-during-send").source.demo or ())  # type: ignore[union-attr]
RUN = f"/play/close-during-send?v=2&s={DEMO}&at=0"


def _open_room(live_server: str, url: str = RUN) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{live_server}/api/rooms",
        data=json.dumps({"url": url}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        room: dict[str, Any] = json.loads(answer.read())
    return room


def _context(browser: Browser, width: int = 1280, height: int = 800) -> BrowserContext:
    return browser.new_context(viewport={"width": width, "height": height})


def _at(page: Page) -> Any:
    return page.locator("#player .stepcount .at")


def test_a_class_follows_the_presenter_late_joiners_land_on_the_step_and_students_can_detach(
    browser: Browser, live_server: str, artifacts_dir: Path
) -> None:
    contexts = [_context(browser, 1280, 720), _context(browser), _context(browser, 390, 844)]
    try:
        presenter_ctx, first_ctx, late_ctx = contexts
        # "Start a class" on a stage: a room on that exact step, then presenter mode.
        presenter = presenter_ctx.new_page()
        presenter.goto(f"{live_server}{RUN}")
        presenter.locator("#start-class").click()
        expect(presenter).to_have_url(
            re.compile(r"/present/[A-Z2-9]{6}$")
        )  # the key is gone from the address bar
        code = presenter.url.rsplit("/", 1)[1]
        expect(_at(presenter)).to_have_text("0")
        expect(presenter.locator("html")).to_have_class(re.compile(r"\blarge\b"))

        first = first_ctx.new_page()
        first.goto(f"{live_server}/join/{code}")
        expect(_at(first)).to_have_text("0")
        expect(first.locator("#follow-badge")).to_have_text("Following the class")
        expect(presenter.locator(".followers")).to_contain_text("connected")

        # The presenter drives from the keyboard; the student's screen follows.
        presenter.locator("body").press("ArrowRight")
        expect(_at(presenter)).to_have_text("1")
        expect(_at(first)).to_have_text("1")
        presenter.locator("body").press("ArrowRight")
        expect(_at(first)).to_have_text("2")

        # A late joiner, on a phone, lands on the class's step at once (not on step 0).
        late = late_ctx.new_page()
        late.goto(f"{live_server}/join/{code}")
        expect(_at(late)).to_have_text("2")
        snap(late, artifacts_dir / "classroom-phone-following.png")

        # A student detaches by stepping on their own; the class goes on without them.
        first.locator("#ctl-back").click()
        expect(_at(first)).to_have_text("1")
        expect(first.locator("#follow-badge")).to_have_text("On your own")
        expect(first).to_have_url(f"{live_server}/join/{code}")  # still the room's page
        presenter.locator("body").press("ArrowRight")
        expect(_at(late)).to_have_text("3")
        expect(first.locator("#class-at")).to_contain_text("step 3")
        expect(_at(first)).to_have_text("1")
        # ... and comes back.
        first.locator("#back-to-class").click()
        expect(_at(first)).to_have_text("3")
        expect(first.locator("#follow-badge")).to_have_text("Following the class")
        expect(first.locator("#back-to-class")).to_be_hidden()

        # A question: both students answer, one answer each; the answers stay hidden until the reveal.
        presenter.locator("#open-ask").click()
        presenter.locator('[data-ask="next"]').click()
        expect(presenter.locator("#ask-status")).to_contain_text("Asked")
        presenter.keyboard.press("Escape")
        for student, pick in ((first, 0), (late, 1)):
            card = student.locator("#room-question .room-q")
            expect(card).to_contain_text("What")
            card.locator("input[name=pick]").nth(pick).check()
            card.get_by_role("button", name="Send my answer").click()
            expect(card.locator(".room-sent")).to_be_visible()
            expect(card.locator(".bars")).to_have_count(0)
        expect(presenter.locator("#room-question .answers-count")).to_have_text("2 answers")
        snap(late, artifacts_dir / "classroom-phone-question.png")

        presenter.locator("#open-ask").click()
        presenter.locator("#reveal-answers").click()
        presenter.keyboard.press("Escape")
        for student in (first, late, presenter):
            bars = student.locator("#room-question .bars .bar")
            expect(bars.first).to_be_visible()
            expect(student.locator("#room-question .bar.is-right")).to_have_count(1)
        expect(first.locator("#room-question .bar.picked")).to_have_count(1)
        expect(first.locator("#room-question .bar-count").first).to_have_text(re.compile(r"[0-9]"))
        snap(presenter, artifacts_dir / "classroom-projector-reveal.png")
        snap(late, artifacts_dir / "classroom-phone-reveal.png")
    finally:
        for context in contexts:
            context.close()


def test_a_second_answer_is_refused_and_a_student_cannot_drive(browser: Browser, live_server: str) -> None:
    room = _open_room(live_server)
    context = _context(browser)
    try:
        page = context.new_page()
        page.goto(room["join_url"])
        expect(_at(page)).to_have_text("0")
        moved = page.evaluate(
            """async (code) => (await fetch(`/api/rooms/${code}/step`, {method: "POST",
                headers: {"Content-Type": "application/json"}, body: JSON.stringify({url: "/play/sandbox"})})).status""",
            room["code"],
        )
        assert moved == 403
    finally:
        context.close()


def test_speaker_notes_follow_the_presenter_and_show_the_answers(browser: Browser, live_server: str) -> None:
    room = _open_room(live_server)
    context = _context(browser)
    try:
        presenter = context.new_page()
        presenter.goto(room["presenter_url"])
        expect(_at(presenter)).to_have_text("0")
        with context.expect_page() as opened:
            presenter.locator("#open-notes").click()
        notes = opened.value
        expect(notes.locator("#notes h2")).to_contain_text("step 0")
        expect(notes).to_have_url(re.compile(r"/notes$"))
        presenter.locator("body").press("ArrowRight")
        expect(notes.locator("#notes h2")).to_contain_text("step 1")
        presenter.locator("#open-ask").click()
        presenter.locator('[data-ask="breaks"]').click()
        expect(notes.locator(".notes-answers")).to_contain_text("not revealed yet")
        expect(notes.locator(".notes-answers li.is-right")).to_have_count(1)
    finally:
        context.close()


def test_the_join_and_presenter_pages_have_no_wcag21_aa_violations(
    browser: Browser, live_server: str, axe: Axe
) -> None:
    room = _open_room(live_server)
    context = _context(browser)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/join")
        axe.assert_clean(page, "the join form")
        page.goto(room["join_url"])
        expect(_at(page)).to_have_text("0")
        axe.assert_clean(page, "a student's page")
        presenter = context.new_page()
        presenter.goto(room["presenter_url"])
        expect(_at(presenter)).to_have_text("0")
        axe.assert_clean(presenter, "presenter mode")
        presenter.locator("#open-ask").click()
        presenter.locator('[data-ask="next"]').click()
        expect(page.locator("#room-question .room-q")).to_be_visible()
        axe.assert_clean(page, "a student's page with a question")
        presenter.locator("#reveal-answers").click()
        expect(page.locator("#room-question .bars")).to_be_visible()
        axe.assert_clean(page, "a student's page with the results")
        presenter.keyboard.press("Escape")
        presenter.locator("#open-invite").click()
        expect(presenter.locator("#invite svg")).to_be_visible()
        axe.assert_clean(presenter, "the invite with its QR code")
    finally:
        context.close()
