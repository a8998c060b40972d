"""The classroom's API: rooms, the presenter key, stage URLs checked like links, questions whose answer keys come
from the engine, one answer per student, limits with 4xx answers that name them, and the event stream's first
events (the whole state, so a late joiner or a reconnection lands on the class's step at once)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.rooms import Limits, MemoryStore, key_matches
from app.scenarios import load_library
from app.web import rooms
from tests.sse import run

LIBRARY = load_library()
DEMO = ".".join(LIBRARY.get("close-during-send").source.demo or ())  # type: ignore[union-attr]
RUN = f"/play/close-during-send?v=2&s={DEMO}&at=0"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.delenv("REDIS_URL", raising=False)
    return TestClient(create_app(LIBRARY))


def _open(client: TestClient, url: str = RUN) -> dict[str, Any]:
    answer = client.post("/api/rooms", json={"url": url})
    assert answer.status_code == 201, answer.text
    room: dict[str, Any] = answer.json()
    return room


def _key(room: dict[str, Any]) -> dict[str, str]:
    return {"X-Presenter-Key": room["key"]}


def test_a_room_has_a_short_code_a_join_link_without_the_key_and_a_presenter_link(client: TestClient) -> None:
    room = _open(client)
    assert (len(room["code"]) == 6 and room["code"].isupper()) or room["code"].isalnum()
    assert room["join_url"].endswith(f"/join/{room['code']}") and room["key"] not in room["join_url"]
    assert room["presenter_url"].endswith(f"/present/{room['code']}#key={room['key']}")
    assert len(room["key"]) >= 32
    state = client.get(f"/api/rooms/{room['code']}").json()
    assert state["url"] == RUN.removesuffix("&at=0") + "&at=0" or state["url"].startswith(
        "/play/close-during-send"
    )
    assert state["followers"] == 0 and state["question"] is None
    assert room["key"] not in client.get(f"/join/{room['code']}").text
    assert room["key"] not in client.get(f"/present/{room['code']}").text


def test_only_the_presenter_key_drives(client: TestClient) -> None:
    room = _open(client)
    code = room["code"]
    step = {"url": f"/play/close-during-send?v=2&s={DEMO}&at=2"}
    for headers in ({}, {"X-Presenter-Key": "x" * 32}, {"X-Presenter-Key": room["key"][:-1]}):
        refused = client.post(f"/api/rooms/{code}/step", json=step, headers=headers)
        assert refused.status_code == 403 and "presenter key" in refused.json()["detail"]
    assert client.post(f"/api/rooms/{code}/question", json={"kind": "next"}).status_code == 403
    assert client.post(f"/api/rooms/{code}/question/reveal").status_code == 403
    assert client.delete(f"/api/rooms/{code}/question").status_code == 403
    assert client.get(f"/rooms/{code}/notes").status_code == 403
    moved = client.post(f"/api/rooms/{code}/step", json=step, headers=_key(room))
    assert moved.status_code == 200 and moved.json()["url"].endswith("&at=2")
    assert "step 2 of" in moved.json()["label"]


def test_keys_compare_in_constant_time_and_are_stored_as_hashes() -> None:
    from app.rooms import key_hash

    assert key_matches(key_hash("secret-key-123456"), "secret-key-123456")
    assert not key_matches(key_hash("secret-key-123456"), None)
    assert not key_matches(key_hash("secret-key-123456"), "secret-key-123457")


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("/play/no-such-scenario?v=2&s=", 404, "no scenario"),
        ("/play/close-during-send?v=2&s=nope", 422, "cannot be replayed"),
        ("/play/close-during-send?v=3&s=", 400, "version"),
        ("/play/close-during-send?v=2&s=&at=99", 422, "not a step"),
        ("/play/custom?v=2&def=!!!", 422, "copy the link again"),
        ("/learn/no-such-lesson?at=0", 404, "no lesson"),
        ("/glossary", 422, "not a stage"),
        ("https://elsewhere.example/play/sandbox", 422, "this server"),
        ("javascript:alert(1)", 422, "this server"),
    ],
)
def test_a_stage_url_is_checked_like_any_link(client: TestClient, url: str, status: int, says: str) -> None:
    refused = client.post("/api/rooms", json={"url": url})
    assert refused.status_code == status, refused.text
    assert says in refused.json()["detail"]
    room = _open(client)
    moved = client.post(f"/api/rooms/{room['code']}/step", json={"url": url}, headers=_key(room))
    assert moved.status_code == status


def test_a_full_url_of_this_server_and_a_lesson_are_stages(client: TestClient) -> None:
    room = _open(client, f"http://testserver{RUN}")
    assert client.get(f"/api/rooms/{room['code']}").json()["url"].startswith("/play/close-during-send")
    lesson = next(iter(client.app.state.course.lessons))  # type: ignore[attr-defined]
    room = _open(client, f"/learn/{lesson}?v=2&at=1")
    state = client.get(f"/api/rooms/{room['code']}").json()
    assert state["url"] == f"/learn/{lesson}?v=2&at=1" and state["label"].startswith("Lesson: ")


def test_a_break_challenge_is_a_stage_a_fix_challenge_is_not(client: TestClient) -> None:
    """A class can follow a challenge's run step by step (hints shown travel with it); a fix challenge is a design
    page, and the refusal says what to present instead."""
    room = _open(client, "/challenges/free-socket-under-send?v=2&s=Sender&h=1")
    state = client.get(f"/api/rooms/{room['code']}").json()
    assert state["url"] == "/challenges/free-socket-under-send?v=2&s=Sender&h=1"
    assert state["label"].startswith("Challenge: ")
    moved = client.post(
        f"/api/rooms/{room['code']}/step",
        json={"url": "/challenges/free-socket-under-send?v=2&s=Sender&at=0"},
        headers=_key(room),
    )
    assert moved.status_code == 200, moved.text
    assert client.get(moved.json()["url"], headers={"HX-Request": "true"}).status_code == 200
    fix = client.post("/api/rooms", json={"url": "/challenges/fix-close-protection"})
    assert fix.status_code == 422 and "fix challenge" in fix.json()["detail"]
    wrong = client.post("/api/rooms", json={"url": "/challenges/free-socket-under-send?v=2&s=Nobody"})
    assert wrong.status_code == 422 and "cannot be replayed" in wrong.json()["detail"]


def test_bad_bodies_are_refused_with_422(client: TestClient) -> None:
    assert client.post("/api/rooms", json={"url": RUN, "extra": 1}).status_code == 422
    assert client.post("/api/rooms", json={"url": ""}).status_code == 422
    assert client.post("/api/rooms", json={}).status_code == 422
    assert client.get("/api/rooms/lower1").status_code == 404
    assert client.get("/api/rooms/ABCDEF").status_code == 404


def test_what_happens_next_marks_the_step_the_run_takes(client: TestClient) -> None:
    room = _open(client)
    asked = client.post(f"/api/rooms/{room['code']}/question", json={"kind": "next"}, headers=_key(room))
    assert asked.status_code == 201
    q = asked.json()
    assert q["kind"] == "next" and not q["many"] and not q["revealed"]
    assert all(o["right"] is None and o["picked"] is None for o in q["options"])  # hidden until revealed
    first = DEMO.split(".")[0]
    assert first in [o["value"] for o in q["options"]]
    revealed = client.post(f"/api/rooms/{room['code']}/question/reveal", headers=_key(room)).json()
    right = [o["value"] for o in revealed["options"] if o["right"]]
    assert right == [first]
    assert all(o["reason"] for o in revealed["options"])


def test_which_action_breaks_it_asks_the_meter(client: TestClient) -> None:
    room = _open(client)
    code = room["code"]
    # Walk the demo to the step before its first broken rule: the step the demo takes there breaks it.
    loc_trace = client.app.state.traces.get(  # type: ignore[attr-defined]
        LIBRARY.get("close-during-send"), tuple(DEMO.split("."))
    )
    first_break = next(s for s, _ in loc_trace.violations)
    url = f"/play/close-during-send?v=2&s={DEMO}&at={first_break - 1}"
    assert client.post(f"/api/rooms/{code}/step", json={"url": url}, headers=_key(room)).status_code == 200
    assert (
        client.post(f"/api/rooms/{code}/question", json={"kind": "breaks"}, headers=_key(room)).status_code
        == 201
    )
    revealed = client.post(f"/api/rooms/{code}/question/reveal", headers=_key(room)).json()
    right = {o["value"] for o in revealed["options"] if o["right"]}
    assert DEMO.split(".")[first_break - 1] in right and "@none" not in right


def test_a_lesson_question_is_asked_only_where_the_lesson_asks_one(client: TestClient) -> None:
    course = client.app.state.course  # type: ignore[attr-defined]
    lesson = next(c for c in course.lessons.values() if any(s.ask for s in c.steps.values()))
    at = next(n for n, s in lesson.steps.items() if s.ask)
    quiet = next(n for n in range(lesson.last + 1) if n not in lesson.steps or not lesson.steps[n].ask)
    room = _open(client, f"/learn/{lesson.source.id}?v=2&at={quiet}")
    refused = client.post(f"/api/rooms/{room['code']}/question", json={"kind": "lesson"}, headers=_key(room))
    assert refused.status_code == 422 and "asks nothing" in refused.json()["detail"]
    client.post(
        f"/api/rooms/{room['code']}/step",
        json={"url": f"/learn/{lesson.source.id}?v=2&at={at}"},
        headers=_key(room),
    )
    asked = client.post(f"/api/rooms/{room['code']}/question", json={"kind": "lesson"}, headers=_key(room))
    assert asked.status_code == 201 and asked.json()["kind"] == "lesson"
    on_play = _open(client)
    refused = client.post(
        f"/api/rooms/{on_play['code']}/question", json={"kind": "lesson"}, headers=_key(on_play)
    )
    assert refused.status_code == 422 and "not on a lesson" in refused.json()["detail"]


def test_one_answer_per_student_counted_live_and_shown_only_once_revealed(client: TestClient) -> None:
    room = _open(client)
    code = room["code"]
    q = client.post(f"/api/rooms/{code}/question", json={"kind": "next"}, headers=_key(room)).json()
    pick = q["options"][0]["value"]
    answer = {"question": q["id"], "student": "student-one", "picks": [pick]}
    assert client.post(f"/api/rooms/{code}/answers", json=answer).json() == {"answers": 1}
    again = client.post(f"/api/rooms/{code}/answers", json=answer | {"picks": [q["options"][1]["value"]]})
    assert again.status_code == 409 and "one answer per student" in again.json()["detail"]
    other = client.post(f"/api/rooms/{code}/answers", json=answer | {"student": "student-two"})
    assert other.json() == {"answers": 2}
    hidden = client.get(f"/api/rooms/{code}").json()["question"]
    assert hidden["answers"] == 2 and all(o["picked"] is None for o in hidden["options"])
    # Bad answers: an unknown option, two picks for a one-pick question, a stale question, a bad student id.
    for bad, status in (
        (answer | {"student": "student-3", "picks": ["nope"]}, 422),
        (answer | {"student": "student-3", "picks": [pick, q["options"][1]["value"]]}, 422),
        (answer | {"student": "student-3", "question": q["id"] + 7}, 409),
        (answer | {"student": "short"}, 422),
        (answer | {"student": "student-3", "picks": []}, 422),
    ):
        assert client.post(f"/api/rooms/{code}/answers", json=bad).status_code == status, bad
    shown = client.post(f"/api/rooms/{code}/question/reveal", headers=_key(room)).json()
    assert {o["value"]: o["picked"] for o in shown["options"]}[pick] == 2
    late = client.post(f"/api/rooms/{code}/answers", json=answer | {"student": "student-4"})
    assert late.status_code == 409 and "revealed" in late.json()["detail"]
    assert client.delete(f"/api/rooms/{code}/question", headers=_key(room)).status_code == 204
    assert client.get(f"/api/rooms/{code}").json()["question"] is None


def _small(client: TestClient, **limits: Any) -> None:
    classroom = client.app.state.classroom  # type: ignore[attr-defined]
    classroom.store = MemoryStore(Limits(**limits))


def test_limits_answer_429_naming_the_limit(client: TestClient) -> None:
    _small(client, rooms=2, answers=1, followers=1)
    room = _open(client)
    _open(client)
    full = client.post("/api/rooms", json={"url": RUN})
    assert full.status_code == 429 and "2 classes are open" in full.json()["detail"]
    q = client.post(f"/api/rooms/{room['code']}/question", json={"kind": "next"}, headers=_key(room)).json()
    answer = {"question": q["id"], "student": "student-one", "picks": [q["options"][0]["value"]]}
    assert client.post(f"/api/rooms/{room['code']}/answers", json=answer).status_code == 201
    over = client.post(f"/api/rooms/{room['code']}/answers", json=answer | {"student": "student-two"})
    assert over.status_code == 429 and "1 answers" in over.json()["detail"]


def test_a_room_expires_after_a_period_without_activity() -> None:
    now = [1000.0]
    store = MemoryStore(Limits(room_ttl_s=60), clock=lambda: now[0])

    room = run(store.create("/play/sandbox?v=2&s=", "Sandbox", "k" * 32))
    now[0] += 59
    assert run(store.get(room.code)) is not None
    run(store.set_step(room.code, "/play/sandbox?v=2&s=", "Sandbox"))  # activity
    now[0] += 59
    assert run(store.get(room.code)) is not None
    now[0] += 2
    assert run(store.get(room.code)) is None


def test_the_event_stream_starts_with_the_whole_state(client: TestClient) -> None:
    room = _open(client)
    code = room["code"]
    client.post(f"/api/rooms/{code}/question", json={"kind": "next"}, headers=_key(room))
    with client.stream("GET", f"/api/rooms/{code}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        seen = b""
        for chunk in stream.iter_bytes():
            seen += chunk
            if b"event: answers" in seen:
                break
    text = seen.decode()
    assert text.startswith("retry: ")
    assert "event: step" in text and 'data-url="/play/close-during-send' in text
    assert "event: question" in text and "What happens next?" in text
    assert "Send my answer" in text and "is-right" not in text  # the answer key is not sent before the reveal


def test_the_event_stream_refuses_a_crowd_with_429(client: TestClient) -> None:
    room = _open(client)
    classroom = client.app.state.classroom  # type: ignore[attr-defined]
    classroom.store.limits = Limits(followers=0)
    refused = client.get(f"/api/rooms/{room['code']}/events")
    assert refused.status_code == 429 and "the most one class takes" in refused.json()["detail"]
    assert client.get("/api/rooms/ABCDEF/events").status_code == 404


def test_pages_for_students_and_presenters(client: TestClient) -> None:
    room = _open(client)
    code = room["code"]
    assert (
        client.get(f"/join?code={code.lower()}", follow_redirects=False).headers["location"]
        == f"/join/{code}"
    )
    assert client.get("/join?code=nope").status_code == 422
    assert client.get("/join/ZZZZZZ").status_code == 404
    page = client.get(f"/present/{code}").text
    assert "<svg" in page and f"/join/{code}" in page and 'sse-connect="/api/rooms/' in page
    notes = client.get(f"/rooms/{code}/notes", headers=_key(room))
    assert notes.status_code == 200 and "Next in this run" in notes.text
    assert rooms.STAGES in client.post("/api/rooms", json={"url": "/"}).json()["detail"]
