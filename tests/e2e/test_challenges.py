"""Challenges in a real browser: playing a break challenge to a win and to a loss, hints and the confirmed "Show
solution", a fix challenge checked by the explorer, progress exported and imported, and a completion link watched
by someone else; on a laptop and a phone, with axe finding nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from app.challenges import load_catalogue
from app.scenarios import load_library
from tests.challenge_runs import clean_run
from tests.e2e.helpers import Axe, snap

CATALOGUE = load_catalogue(load_library())
FIRST = CATALOGUE.get("free-socket-under-send")
assert FIRST is not None
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}


def take(page: Page, action: str, at: int) -> None:
    page.locator(f'button.action[value="{action}"]').first.click()
    expect(page.locator("#player")).to_have_attribute("data-at", str(at))


def stored(page: Page, key: str) -> str | None:
    return page.evaluate("(k) => localStorage.getItem(k)", key)


@pytest.mark.parametrize("size", SIZES)
def test_the_learner_schedules_the_win_and_it_is_scored_and_remembered(
    page: Page, live_server: str, artifacts_dir: Path, axe: Axe, size: str
) -> None:
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))
    page.goto(f"{live_server}/challenges/{FIRST.source.id}")
    expect(page.locator(".challenge-goal .goal")).to_contain_text("You win when rule UB-5 breaks")
    axe.assert_clean(page, f"a challenge's stage at its start, {size}")
    snap(page, artifacts_dir / f"challenge-start-{size}.png")
    for at, action in enumerate(FIRST.witness, start=1):
        take(page, action, at)
    won = page.locator(".challenge-goal .result.won")
    expect(won).to_contain_text(f"You won: rule UB-5 broke at step {FIRST.best.steps}")
    expect(won).to_contain_text(f"{FIRST.best.steps} steps, {FIRST.best.preemptions} preemption(s)")
    expect(won).to_contain_text("As short as it gets")
    expect(page).to_have_url(re.compile(rf"/challenges/{FIRST.source.id}\?v=2&s=Sender\."))
    axe.assert_clean(page, f"a challenge won, {size}")
    snap(page, artifacts_dir / f"challenge-won-{size}.png")
    entry = json.loads(stored(page, f"wsk.challenge.{FIRST.source.id}") or "null")
    assert entry == {
        "steps": FIRST.best.steps,
        "preemptions": FIRST.best.preemptions,
        "schedule": ".".join(FIRST.witness),
        "hints": 0,
    }
    page.goto(f"{live_server}/learn")
    card = page.locator(f'[data-challenge="{FIRST.source.id}"]')
    expect(card.locator(".done-mark")).to_have_text(
        f"\u2713 solved in {FIRST.best.steps} steps, 1 preemption(s)"
    )
    expect(card.locator("a.completion")).to_be_visible()
    page.goto(f"{live_server}/")
    expect(page.locator("#progress-summary")).to_contain_text("1 of 8 challenges solved")


def test_a_run_that_ends_cleanly_is_a_loss_with_a_reason(
    page: Page, live_server: str, artifacts_dir: Path
) -> None:
    run = clean_run(FIRST)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server}/challenges/{FIRST.source.id}?v=2&s={'.'.join(run[:-1])}")
    take(page, run[-1], len(run))
    lost = page.locator(".challenge-goal .result.lost")
    expect(lost).to_contain_text("Lost: the run ended without the goal")
    expect(lost).to_contain_text("The run ended cleanly")
    snap(page, artifacts_dir / "challenge-lost.png")
    lost.get_by_role("button", name="Go back a step").click()
    expect(page.locator("#player")).to_have_attribute("data-at", str(len(run) - 1))
    assert stored(page, f"wsk.challenge.{FIRST.source.id}") is None


def test_hints_reveal_the_solution_one_action_at_a_time_and_show_solution_asks_first(
    page: Page, live_server: str, artifacts_dir: Path, axe: Axe
) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server}/challenges/{FIRST.source.id}")
    page.locator("#ctl-hint").click()
    expect(page.locator(".hint-list li")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"h=1$"))
    page.locator("#ctl-hint").click()
    expect(page.locator(".hint-list li")).to_have_count(2)
    take(page, FIRST.witness[0], 1)  # the hints stay with the run
    expect(page.locator(".hint-list li")).to_have_count(2)
    expect(page.locator(".on-track")).to_have_text("you are on it")
    confirm = page.locator("#ctl-solution")
    expect(confirm).to_be_hidden()
    page.get_by_text("Show solution").click()
    expect(confirm).to_be_visible()
    expect(page.locator("#show-solution")).to_contain_text(f"Show all {len(FIRST.witness)} steps")
    axe.assert_clean(page, "a challenge asking before it shows the solution")
    confirm.click()
    expect(page.locator(".hint-list li")).to_have_count(len(FIRST.witness))
    expect(page.locator("#ctl-hint")).to_have_count(0)
    snap(page, artifacts_dir / "challenge-solution.png")
    page.get_by_role("link", name="Step through the solution").click()
    for at in range(1, len(FIRST.witness) + 1):
        page.locator("#ctl-forward").click()
        expect(page.locator("#player")).to_have_attribute("data-at", str(at))
    expect(page.locator(".challenge-goal .result.won")).to_contain_text(f"with {len(FIRST.witness)} hint(s)")


@pytest.mark.parametrize("size", SIZES)
def test_a_fix_challenge_is_won_when_the_explorer_proves_the_design_safe(
    page: Page, live_server: str, artifacts_dir: Path, axe: Axe, size: str
) -> None:
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))
    page.goto(f"{live_server}/challenges/fix-close-protection")
    page.get_by_label("Count the call in Ref around WskSend", exact=True).check()
    page.get_by_label("Wait until Ref is 0, then close", exact=True).check()
    page.get_by_role("button", name="Check every interleaving").click()
    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text("Not safe yet")
    expect(verdict.get_by_role("link", name="Watch it on the stage").first).to_be_visible()
    axe.assert_clean(page, f"a fix challenge, unsafe, {size}")
    snap(page, artifacts_dir / f"challenge-fix-unsafe-{size}.png")
    page.get_by_label("Acquire run-down protection for the call, give up if it fails", exact=True).check()
    page.get_by_label("Wait for run-down protection to be released, then close", exact=True).check()
    page.get_by_role("button", name="Check every interleaving").click()
    expect(verdict).to_contain_text("Proven safe: challenge solved")
    expect(page).to_have_url(re.compile(r"c=Sender:rundown&c=Closer:rundown-wait"))
    axe.assert_clean(page, f"a fix challenge, solved, {size}")
    snap(page, artifacts_dir / f"challenge-fix-safe-{size}.png")
    assert json.loads(stored(page, "wsk.challenge.fix-close-protection") or "null") == {
        "choices": "Closer:rundown-wait,Sender:rundown"
    }
    completion = verdict.get_by_role("link", name="Completion link").get_attribute("href")
    page.goto(f"{live_server}{completion}")
    expect(page.get_by_text("A completed challenge, verified by the server")).to_be_visible()


def test_progress_is_exported_and_imported_and_a_bad_file_changes_nothing(
    browser: Browser, page: Page, live_server: str, tmp_path: Path, artifacts_dir: Path, axe: Axe
) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server}/challenges/{FIRST.source.id}?v=2&s={'.'.join(FIRST.witness)}")
    expect(page.locator(".challenge-goal .result.won")).to_be_visible()
    page.goto(f"{live_server}/learn#progress")
    axe.assert_clean(page, "the course with challenges and progress")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export progress to a file").click()
    saved = tmp_path / "progress.json"
    download.value.save_as(saved)
    data = json.loads(saved.read_text())
    assert data["format"] == "wsk-close-progress" and data["version"] == 1
    assert data["challenges"][FIRST.source.id]["steps"] == FIRST.best.steps
    expect(page.locator("#progress-message")).to_contain_text("Exported 0 lesson(s) and 1 challenge(s)")

    other = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        fresh = other.new_page()
        fresh.goto(f"{live_server}/learn")
        fresh.evaluate("localStorage.setItem('wsk.lesson.irp-and-completion-routine', 'done')")
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**data, "challenges": {FIRST.source.id: {"steps": -1}}}))
        fresh.locator("#progress-import").set_input_files(str(bad))
        message = fresh.locator("#progress-message")
        expect(message).to_contain_text("Nothing was imported, and your progress is as it was")
        expect(message).to_contain_text(f"challenge '{FIRST.source.id}'")
        not_json = tmp_path / "notes.json"
        not_json.write_text("my notes")
        fresh.locator("#progress-import").set_input_files(str(not_json))
        expect(message).to_contain_text("is not JSON")
        snap(fresh, artifacts_dir / "progress-import-refused.png")
        assert fresh.evaluate("localStorage.getItem('wsk.challenge.free-socket-under-send')") is None
        assert fresh.evaluate("localStorage.getItem('wsk.lesson.irp-and-completion-routine')") == "done"
        fresh.locator("#progress-import").set_input_files(str(saved))
        expect(message).to_contain_text("Imported 0 lesson(s) and 1 challenge(s)")
        expect(fresh.locator(f'[data-challenge="{FIRST.source.id}"] .done-mark')).to_be_visible()
        assert fresh.evaluate("localStorage.getItem('wsk.lesson.irp-and-completion-routine')") == "done"
    finally:
        other.close()


def test_a_completion_link_replays_the_win_for_someone_else(
    browser: Browser, live_server: str, artifacts_dir: Path
) -> None:
    link = f"/challenges/{FIRST.source.id}/won?v=2&s={'.'.join(FIRST.witness)}"
    teacher = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = teacher.new_page()
        page.goto(f"{live_server}{link}")
        expect(page.locator(".challenge-goal .proof")).to_contain_text("verified by replaying it")
        snap(page, artifacts_dir / "challenge-completion-link.png")
        for at in range(1, len(FIRST.witness) + 1):
            page.locator("#ctl-forward").click()
            expect(page.locator("#player")).to_have_attribute("data-at", str(at))
        expect(page.locator(".challenge-goal .result.won")).to_contain_text("The win")
        # Watching a win is not winning it: the teacher's browser records nothing.
        assert page.evaluate("localStorage.getItem('wsk.challenge.free-socket-under-send')") is None
        page.goto(f"{live_server}/challenges/{FIRST.source.id}/won?v=2&s=Sender")
        expect(page.get_by_text("does not win the challenge")).to_be_visible()
    finally:
        teacher.close()
