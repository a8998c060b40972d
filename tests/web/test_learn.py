"""The course over HTTP: lesson files checked at start-up, the course page, a lesson's step with its question (and
not its answer), and answers graded by the engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.lessons import LessonError, load_course, load_lesson, question
from app.scenarios import load_library

LIBRARY = load_library()
COURSE = load_course(LIBRARY)

GOOD = """
id: tiny
title: A tiny lesson
order: 3
scenario: seed-close-socket
schedule: App.App.App.App
goal: Something worth knowing.
steps:
  - {at: 1, why: Because.}
  - {at: 3, ask: next}
docs:
  - {title: Closing a Socket, url: "https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket"}
"""


def write(tmp_path: Path, text: str, name: str = "03-tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_lesson_file_loads(tmp_path: Path) -> None:
    lesson = load_lesson(write(tmp_path, GOOD), LIBRARY)
    assert lesson.last == 4 and set(lesson.steps) == {1, 3}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("schedule: App.App.App.App", "schedule: App.Nobody"), "the schedule does not replay"),
        (("{at: 1, why: Because.}", "{at: 9, why: Because.}"), "the run has only 4 steps"),
        (("{at: 3, ask: next}", "{at: 4, ask: next}"), "step 4 is the last of the run"),
        (("{at: 3, ask: next}", "{at: 3, ask: can_break, rule: no_such_rule}"), "needs 'rule', one of"),
        (("scenario: seed-close-socket", "scenario: no-such"), "there is no built-in scenario 'no-such'"),
        (("{at: 1, why: Because.}", "{at: 1}"), "say why the step matters"),
        (("goal: Something worth knowing.\n", ""), "goal: Field required"),
    ],
)
def test_a_broken_lesson_file_is_refused_with_its_name_and_the_fix(
    tmp_path: Path, change: tuple[str, str], says: str
) -> None:
    with pytest.raises(LessonError) as err:
        load_lesson(write(tmp_path, GOOD.replace(*change)), LIBRARY)
    assert str(err.value).startswith("03-tiny.yaml") and says in str(err.value)


def test_a_question_on_a_scenario_too_big_to_answer_is_refused(tmp_path: Path) -> None:
    text = (
        GOOD.replace("seed-close-socket", "sandbox")
        .replace("App.App.App.App", "Closer-close")
        .replace(
            "{at: 1, why: Because.}\n  - {at: 3, ask: next}",
            "{at: 0, ask: can_break, rule: close_with_call_in_progress}",
        )
    )
    with pytest.raises(LessonError, match="cannot answer this question"):
        load_lesson(write(tmp_path, text), LIBRARY)


def test_the_course_lists_its_lessons_in_order(client: TestClient) -> None:
    html = client.get("/learn").text
    titles = re.findall(r'<h2><a href="/learn/([a-z0-9-]+)">', html)
    assert titles == list(COURSE.lessons) and len(titles) >= 2


def test_a_question_step_shows_the_question_and_hides_its_answer(client: TestClient) -> None:
    html = client.get("/learn/why-close-races?v=2&at=5").text
    assert 'id="question"' in html and "Which of these can happen next?" in html
    assert 'class="action' not in html, "the actions that can happen next are the answer: not shown yet"
    assert 'aria-disabled="true" title="Answer the question first' in html
    assert "Why it matters." in html


@pytest.mark.parametrize(
    ("lesson_id", "at"),
    [
        (lesson_id, at)
        for lesson_id, lesson in COURSE.lessons.items()
        for at, s in lesson.steps.items()
        if s.ask
    ],
)
def test_every_question_is_graded_right_and_wrong_by_the_engine(
    client: TestClient, lesson_id: str, at: int
) -> None:
    lesson = COURSE.lessons[lesson_id]
    asked = question(lesson, at)
    assert asked is not None
    right = [o.value for o in asked.options if o.right]
    wrong = [o.value for o in asked.options if not o.right]
    assert right and wrong, "a question with no right or no wrong answer teaches nothing"
    url = f"/learn/{lesson_id}/answer"
    good = client.get(url, params={"at": at, "pick": right})
    assert good.status_code == 200 and "Right." in good.text and f'value="{at + 1}"' in good.text
    bad = client.get(url, params={"at": at, "pick": wrong[:1]})
    assert "Not quite" in bad.text and "is-right" in bad.text


def test_next_options_are_exactly_the_enabled_actions_and_the_others_say_why_not() -> None:
    lesson = COURSE.lessons["why-close-races"]
    asked = question(lesson, 5)
    assert asked is not None
    assert {o.value for o in asked.options if o.right} == {a.id for a in lesson.trace.enabled_at(5)}
    assert all(o.reason.startswith("Not now") for o in asked.options if not o.right)


def test_bad_answers_are_refused_clearly(client: TestClient) -> None:
    assert client.get("/learn/no-such").status_code == 404
    assert client.get("/learn/why-close-races/answer", params={"at": 1}).status_code == 422
    odd = client.get("/learn/why-close-races/answer", params={"at": 5, "pick": "Nobody"})
    assert odd.status_code == 422 and "not one of the options" in odd.text


def test_a_step_control_stays_in_the_lesson_and_an_action_leaves_for_the_player(client: TestClient) -> None:
    moved = client.get("/learn/why-close-races?v=2&at=2&to=3", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/learn/why-close-races?v=2&at=3"
    left = client.get("/learn/why-close-races?v=2&at=3&then=Closer", follow_redirects=False)
    assert left.headers["location"].startswith("/play/close-during-send?v=2&s=Sender.Sender.Sender.Closer")


def test_the_last_step_says_the_lesson_is_done_and_offers_the_next(client: TestClient) -> None:
    first = next(iter(COURSE.lessons))
    lesson = COURSE.lessons[first]
    html = client.get(f"/learn/{first}?v=2&at={lesson.last}").text
    assert "Lesson complete." in html and f'data-lesson-done="{first}"' in html


def test_the_example_in_the_writing_guide_is_a_valid_lesson(tmp_path: Path) -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "writing-lessons.md").read_text()
    example = guide.split("```yaml\n", 1)[1].split("```", 1)[0].replace("order: 4", "order: 40")
    lesson = load_lesson(write(tmp_path, example, "40-why-close-races.yaml"), LIBRARY)
    assert lesson.source.scenario == "close-during-send" and lesson.steps[5].ask == "breaks"


def test_the_gallery_starts_with_the_course(client: TestClient) -> None:
    assert 'href="/learn">Start here: the course</a>' in client.get("/").text


# -- the new question kinds: the engine computes their keys, and refuses what it cannot answer -------------------

RACE = """
id: tiny
title: A tiny race
order: 3
scenario: check-zero-then-close
schedule: Closer.Closer.Closer.Sender.Sender.Sender.Sender.Closer
goal: Something worth knowing.
steps:
  - {at: 3, ask: counter, cell: Ref}
  - {at: 7, ask: breaks, rule: close_with_call_in_progress}
docs:
  - {title: Closing a Socket, url: "https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket"}
"""


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            ("{at: 3, ask: counter, cell: Ref}", "{at: 3, ask: counter, cell: Nope}"),
            "'Nope' is not a counter",
        ),
        (("{at: 3, ask: counter, cell: Ref}", "{at: 3, ask: counter}"), "needs 'cell', one of: Ref, s.calls"),
        (
            ("{at: 3, ask: counter, cell: Ref}", "{at: 8, ask: counter, cell: Ref}"),
            "step 8 is the last of the run",
        ),
        (("{at: 3, ask: counter, cell: Ref}", "{at: 3, ask: next, cell: Ref}"), "takes no 'cell'"),
        (
            ("{at: 3, ask: counter, cell: Ref}", "{at: 3, why: Hm., cell: Ref}"),
            "'cell' belongs to a question",
        ),
        (
            ("rule: close_with_call_in_progress}", "rule: deadlock}"),
            "no run of 'check-zero-then-close' breaks",
        ),
        (
            ("rule: close_with_call_in_progress}", "rule: nonsense}"),
            "needs 'rule', one of the violation kinds",
        ),
        (
            ("{at: 7, ask: breaks", "{at: 2, ask: breaks"),
            "no option is right, so the question has nothing to choose; ask it at another step. Steps of this run where it teaches: 7.",
        ),
        (("{at: 7, ask: breaks", "{at: 12, ask: breaks"), "the run has only 8 steps"),
    ],
)
def test_a_question_the_engine_cannot_answer_is_refused_with_the_fix(
    tmp_path: Path, change: tuple[str, str], says: str
) -> None:
    with pytest.raises(LessonError) as err:
        load_lesson(write(tmp_path, RACE.replace(*change)), LIBRARY)
    assert str(err.value).startswith("03-tiny.yaml: steps.") and says in str(err.value)


def test_the_counter_key_is_the_value_in_the_engines_next_state(tmp_path: Path) -> None:
    lesson = load_lesson(write(tmp_path, RACE), LIBRARY)
    asked = question(lesson, 3)
    assert asked is not None and asked.kind == "counter" and not asked.many
    assert [o.value for o in asked.options if o.right] == ["1"]  # Sender's InterlockedIncrement: 0 becomes 1
    assert {"0", "1", "2"} <= {o.value for o in asked.options}
    assert "ctx->Ref" in asked.text and "increments ctx->Ref to 1" in asked.options[0].reason


def test_a_socket_count_can_be_asked_too(tmp_path: Path) -> None:
    text = RACE.replace("{at: 3, ask: counter, cell: Ref}", "{at: 6, ask: counter, cell: s.calls}")
    asked = question(load_lesson(write(tmp_path, text), LIBRARY), 6)
    assert asked is not None and [o.value for o in asked.options if o.right] == ["1"]  # Sender enters WskSend
    assert "calls in progress on socket s" in asked.text


def test_which_action_breaks_it_is_judged_by_the_meter(tmp_path: Path) -> None:
    lesson = load_lesson(write(tmp_path, RACE), LIBRARY)
    asked = question(lesson, 7)
    assert asked is not None and asked.kind == "breaks" and asked.many
    assert {o.value for o in asked.options} == {a.id for a in lesson.trace.enabled_at(7)}
    assert {o.value for o in asked.options if o.right} == {"Closer"}
    reasons = {o.value: o.reason for o in asked.options}
    assert reasons["Closer"].startswith("It breaks it at once")
    assert "no way the run can go on breaks it" in reasons["Sender-p"]


def test_the_new_kinds_are_graded_over_http(client: TestClient) -> None:
    counter = [
        (i, at) for i, lsn in COURSE.lessons.items() for at, s in lsn.steps.items() if s.ask == "counter"
    ]
    breaks = [
        (i, at) for i, lsn in COURSE.lessons.items() for at, s in lsn.steps.items() if s.ask == "breaks"
    ]
    assert counter and breaks, "the course uses both new kinds"
    lesson_id, at = counter[0]
    asked = question(COURSE.lessons[lesson_id], at)
    assert asked is not None
    page = client.get(f"/learn/{lesson_id}?v=2&at={at}").text
    assert 'type="radio" name="pick"' in page and "What will" in page
    wrong = next(o.value for o in asked.options if not o.right)
    bad = client.get(f"/learn/{lesson_id}/answer", params={"at": at, "pick": wrong})
    assert "Not quite." in bad.text and "After the next step it" in bad.text
    lesson_id, at = breaks[0]
    asked = question(COURSE.lessons[lesson_id], at)
    assert asked is not None
    right = [o.value for o in asked.options if o.right]
    good = client.get(f"/learn/{lesson_id}/answer", params={"at": at, "pick": right})
    assert "Right." in good.text and "breaks it" in good.text
    none = client.get(f"/learn/{lesson_id}/answer", params={"at": at})
    assert f"{len(right)} that breaks it left unticked" in none.text


def test_every_lesson_has_a_goal_two_questions_and_a_recap() -> None:
    assert len(COURSE.lessons) == 10
    for lesson_id, lesson in COURSE.lessons.items():
        asks = [s for s in lesson.steps.values() if s.ask]
        assert len(asks) >= 2, f"{lesson_id}: predict-then-check at least twice"
        last = lesson.steps.get(lesson.last)
        assert last is not None and last.why and "Recap" in last.why, f"{lesson_id}: a recap at the last step"
