"""The course in a real browser: every question of every lesson answered right and wrong, the next step revealed
only after an answer, and a finished lesson marked in the course."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.lessons import load_course, question
from app.scenarios import load_library
from tests.e2e.helpers import snap

COURSE = load_course(load_library())
QUESTIONS = [
    (lesson_id, at) for lesson_id, lesson in COURSE.lessons.items() for at, s in lesson.steps.items() if s.ask
]


def answer(page: Page, values: list[str]) -> None:
    form = page.locator("form#question")
    for value in values:
        form.locator(f'input[value="{value}"]').check()
    form.get_by_role("button", name="Check my answer").click()


@pytest.mark.parametrize(("lesson_id", "at"), QUESTIONS)
def test_a_question_is_answered_right_and_wrong_then_the_step_is_revealed(
    page: Page, live_server: str, artifacts_dir: Path, lesson_id: str, at: int
) -> None:
    asked = question(COURSE.lessons[lesson_id], at)
    assert asked is not None
    right = [o.value for o in asked.options if o.right]
    wrong = [o.value for o in asked.options if not o.right]
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server}/learn/{lesson_id}?v=2&at={at}")
    expect(page.locator("#ctl-forward")).to_have_attribute("aria-disabled", "true")
    answer(page, wrong[:1])
    expect(page.locator("#question .verdict-line")).to_contain_text("Not quite")
    expect(page.locator("#question .is-right").first).to_be_visible()
    page.reload()
    answer(page, right if asked.many else right[:1])
    expect(page.locator("#question .verdict-line")).to_contain_text("Right.")
    expect(page.locator("#ctl-forward")).not_to_have_attribute(
        "aria-disabled", "true"
    )  # answered: it goes on
    snap(page, artifacts_dir / f"lesson-{lesson_id}-{at}.png")
    page.get_by_role("button", name=f"See step {at + 1}").click()
    expect(page.locator("#player")).to_have_attribute("data-at", str(at + 1))
    expect(page).to_have_url(re.compile(rf"/learn/{lesson_id}\?v=2&at={at + 1}$"))


def test_a_finished_lesson_is_marked_in_the_course(page: Page, live_server: str) -> None:
    lesson_id, lesson = next(iter(COURSE.lessons.items()))
    page.goto(f"{live_server}/learn")
    expect(page.locator(f'[data-lesson="{lesson_id}"] .done-mark')).to_be_hidden()
    page.goto(f"{live_server}/learn/{lesson_id}?v=2&at={lesson.last}")
    expect(page.get_by_text("Lesson complete.")).to_be_visible()
    page.goto(f"{live_server}/learn")
    expect(page.locator(f'[data-lesson="{lesson_id}"] .done-mark')).to_be_visible()
