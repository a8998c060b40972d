"""Challenges: every file is won by its explorer witness and lost by a clean run, bad files are refused with the
file and the fix, and the API and pages judge, hint and verify completion links."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.challenges import CHALLENGE_DIR, ChallengeError, load_catalogue, load_challenge
from app.scenarios import load_library
from app.sim import replay
from tests.challenge_runs import clean_run

LIBRARY = load_library()
CATALOGUE = load_catalogue(LIBRARY)
BREAK = [c for c in CATALOGUE.challenges.values() if c.kind == "break"]
FIX = [c for c in CATALOGUE.challenges.values() if c.kind == "fix"]


def test_there_are_at_least_six_challenges_of_both_kinds() -> None:
    assert len(CATALOGUE.challenges) >= 6
    assert len(BREAK) >= 6 and len(FIX) >= 2
    assert [c.source.order for c in CATALOGUE.challenges.values()] == sorted(
        c.source.order for c in CATALOGUE.challenges.values()
    )


@pytest.mark.parametrize("challenge", BREAK, ids=lambda c: c.source.id)
def test_a_break_challenge_is_won_by_its_witness(client: TestClient, challenge) -> None:
    answer = client.post(
        f"/api/challenges/{challenge.source.id}/attempts", json={"schedule": list(challenge.witness)}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["won"] is True and body["outcome"] == "won"
    assert (
        body["score"]
        == body["best"]
        == {
            "steps": challenge.best.steps,
            "preemptions": challenge.best.preemptions,
        }
    )
    assert body["link"].startswith(f"/challenges/{challenge.source.id}/won?")
    # The completion link replays the win for anyone.
    page = client.get(body["link"])
    assert page.status_code == 200
    assert "verified by replaying it" in page.text


@pytest.mark.parametrize("challenge", BREAK, ids=lambda c: c.source.id)
def test_a_break_challenge_is_lost_by_a_clean_run(client: TestClient, challenge) -> None:
    run = clean_run(challenge)
    body = client.post(
        f"/api/challenges/{challenge.source.id}/attempts", json={"schedule": ".".join(run)}
    ).json()
    assert body["won"] is False and body["outcome"] == "lost"
    assert body["reason"].startswith("The run ended cleanly")
    assert challenge.source.lost in body["reason"]
    assert body["score"]["steps"] == len(run)
    # The stage says so too, and the completion link for it is refused with the reason.
    page = client.get(f"/challenges/{challenge.source.id}?v=2&s={'.'.join(run)}")
    assert "Lost: the run ended without the goal" in page.text
    refused = client.get(f"/challenges/{challenge.source.id}/won?v=2&s={'.'.join(run)}")
    assert refused.status_code == 422 and "does not win" in refused.text


@pytest.mark.parametrize("challenge", FIX, ids=lambda c: c.source.id)
def test_a_fix_challenge_starts_unsafe_and_its_solution_is_proven_safe(client: TestClient, challenge) -> None:
    url = f"/api/challenges/{challenge.source.id}/attempts"
    start = client.post(url, json={"choices": challenge.source.start}).json()
    assert start["won"] is False and start["outcome"] == "unsafe"
    assert start["witnesses"] and all(
        w["link"].startswith("/play/custom?v=2&def=") for w in start["witnesses"]
    )
    witness = start["witnesses"][0]
    trace = replay(challenge.scenario, witness["schedule"])
    assert witness["kind"] in {v.kind for _, v in trace.violations}
    solved = client.post(url, json={"choices": challenge.source.solution}).json()
    assert solved["won"] is True and solved["outcome"] == "safe"
    assert solved["reason"].startswith("Proven safe")
    page = client.get(solved["link"])
    assert page.status_code == 200 and "verified by the server" in page.text


def test_the_list_gives_id_title_scenario_and_a_machine_readable_goal(client: TestClient) -> None:
    listed = client.get("/api/challenges").json()
    assert [c["id"] for c in listed] == list(CATALOGUE.challenges)
    by_id = {c["id"]: c for c in listed}
    assert by_id["free-socket-under-send"]["goal"] == {"kind": "socket_use_after_free"}
    assert by_id["free-socket-under-send"]["scenario"] == "close-during-send"
    assert by_id["close-never-completes"]["goal"] == {"kind": "deadlock"}
    fix = by_id["fix-close-protection"]
    assert fix["goal"] == {"safe": True}
    assert isinstance(fix["scenario"], dict) and fix["scenario"]["threads"]
    assert {s["name"] for s in fix["slots"]} == {"Sender", "Closer"}
    assert all(o["code"] for s in fix["slots"] for o in s["options"])


@pytest.mark.parametrize(
    ("challenge_id", "body", "status", "says"),
    [
        ("no-such-challenge", {"schedule": []}, 404, "There is no challenge"),
        ("free-socket-under-send", {"choices": {"Sender": "plain"}}, 422, "break challenge"),
        ("free-socket-under-send", {}, 422, "break challenge"),
        ("free-socket-under-send", {"schedule": ["Nobody"]}, 422, "cannot be replayed"),
        ("free-socket-under-send", {"schedule": "a..b"}, 422, "malformed"),
        ("free-socket-under-send", {"schedule": [], "extra": 1}, 422, "extra"),
        ("fix-close-protection", {"schedule": []}, 422, "fix challenge"),
        ("fix-close-protection", {"choices": {"Sender": "plain"}}, 422, "'Closer' has none"),
        ("fix-close-protection", {"choices": {"Sender": "nope", "Closer": "plain"}}, 422, "not an option"),
        ("fix-close-protection", {"choices": {"Nobody": "x"}}, 422, "no slot 'Nobody'"),
    ],
)
def test_a_bad_attempt_is_refused_with_the_problem(
    client: TestClient, challenge_id: str, body: dict, status: int, says: str
) -> None:
    answer = client.post(f"/api/challenges/{challenge_id}/attempts", json=body)
    assert answer.status_code == status, answer.text
    assert says in answer.text


def test_an_unfinished_run_is_neither_won_nor_lost(client: TestClient) -> None:
    body = client.post("/api/challenges/free-socket-under-send/attempts", json={"schedule": "Sender"}).json()
    assert body["won"] is False and body["outcome"] == "running"
    assert body["score"] == {"steps": 1, "preemptions": 0}


# -- the stage -----------------------------------------------------------------------------------------------------


def test_the_stage_takes_actions_and_keeps_hints_in_the_link(client: TestClient) -> None:
    moved = client.get(
        "/challenges/free-socket-under-send",
        params={"v": "2", "s": "", "at": "0", "h": "2", "then": "Sender"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == "/challenges/free-socket-under-send?v=2&s=Sender&h=2"
    hinted = client.get(
        "/challenges/free-socket-under-send",
        params={"v": "2", "s": "Sender", "h": "2", "hint": "more"},
        follow_redirects=False,
    )
    assert hinted.headers["location"] == "/challenges/free-socket-under-send?v=2&s=Sender&h=3"
    page = client.get(hinted.headers["location"])
    assert page.text.count("<li") >= 3 and "The shortest solution, so far" in page.text
    shown = client.get("/challenges/free-socket-under-send?v=2&s=&hint=all", follow_redirects=False)
    best = CATALOGUE.get("free-socket-under-send").best
    assert shown.headers["location"].endswith(f"h={best.steps}")
    fragment = client.get(
        "/challenges/free-socket-under-send",
        params={"v": "2", "s": "", "at": "0", "then": "Closer"},
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 200 and fragment.headers["HX-Push-Url"].endswith("s=Closer")
    assert 'id="player"' in fragment.text and "challenge-goal" in fragment.text


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("v=2&s=&then=@demo", 422, "no demo run"),
        ("v=2&s=&h=99", 422, "not a number of hints"),
        ("v=2&s=Nobody", 422, "cannot be replayed"),
        ("v=3&s=", 400, "version 3"),
        ("v=x&s=", 400, "reads versions 1, 2"),
    ],
)
def test_a_bad_stage_link_is_refused(client: TestClient, query: str, status: int, says: str) -> None:
    answer = client.get(f"/challenges/free-socket-under-send?{query}")
    assert answer.status_code == status and says in answer.text


def test_a_won_step_carries_the_win_for_the_browser_to_remember(client: TestClient) -> None:
    challenge = CATALOGUE.get("free-socket-under-send")
    page = client.get(f"/challenges/free-socket-under-send?v=2&s={'.'.join(challenge.witness)}").text
    assert 'data-challenge-won="free-socket-under-send"' in page
    assert f'data-steps="{challenge.best.steps}"' in page
    # Watching someone else's win is not winning it.
    watched = client.get(f"/challenges/free-socket-under-send?v=2&s={'.'.join(challenge.witness)}&w=1").text
    assert "data-challenge-won" not in watched and "A completed challenge" in watched


def test_the_fix_page_checks_a_design(client: TestClient) -> None:
    page = client.get("/challenges/fix-close-protection")
    assert page.status_code == 200 and "Check every interleaving" in page.text
    check = client.get(
        "/challenges/fix-close-protection/check?c=Sender:count&c=Closer:wait-zero",
        headers={"HX-Request": "true"},
    )
    assert check.status_code == 200 and "Not safe yet" in check.text and "Watch it on the stage" in check.text
    plain = client.get("/challenges/fix-close-protection/check?c=Sender:count", follow_redirects=False)
    assert plain.status_code == 303
    assert client.get("/challenges/fix-close-protection?c=Sender:bad").status_code == 422
    assert client.get("/challenges/fix-close-protection/won?c=Sender:plain&c=Closer:plain").status_code == 422
    assert client.get("/challenges/free-socket-under-send/check").status_code == 422


def test_the_course_lists_the_challenges_and_the_gallery_counts_progress(client: TestClient) -> None:
    course = client.get("/learn").text
    for challenge_id in CATALOGUE.challenges:
        assert f'data-challenge="{challenge_id}"' in course
    assert 'id="progress-export"' in course and 'id="progress-import"' in course
    gallery = client.get("/").text
    assert 'id="progress-summary"' in gallery and "free-socket-under-send" in gallery


# -- bad files -----------------------------------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


DOCS = "docs:\n  - title: Closing a Socket\n    url: https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "id: x\ntitle: T\norder: 1\nscenario: protect-rundown\ngoal: {kind: socket_use_after_free}\nstory: S\n"
            "lost: L\n" + DOCS,
            "the goal cannot be reached",
        ),
        (
            "id: x\ntitle: T\norder: 1\nscenario: completion-returns-success\ngoal: {kind: completion_wrong_return}\nstory: S\n"
            "lost: L\n" + DOCS,
            "cannot lose",
        ),
        (
            "id: x\ntitle: T\norder: 1\nscenario: close-during-send\ngoal: {kind: socket_use_after_free}\n"
            "story: S\n" + DOCS,
            "needs 'lost'",
        ),
        (
            "id: x\ntitle: T\norder: 1\nscenario: close-during-send\ngoal: {kind: not_a_kind}\nstory: S\n"
            "lost: L\n" + DOCS,
            "goal",
        ),
        (
            "id: x\ntitle: T\norder: 1\nscenario: nowhere\ngoal: {safe: true}\nstory: S\n" + DOCS,
            "no built-in",
        ),
        (
            "id: y\ntitle: T\norder: 1\nscenario: close-during-send\ngoal: {safe: true}\nstory: S\n" + DOCS,
            "file name",
        ),
        ("id: [x\n", "not valid YAML"),
    ],
)
def test_a_bad_challenge_file_names_the_file_and_the_fix(tmp_path: Path, text: str, says: str) -> None:
    path = _write(tmp_path, "09-x.yaml", text)
    with pytest.raises(ChallengeError) as err:
        load_challenge(path, LIBRARY)
    assert str(err.value).startswith("09-x.yaml")
    assert says in str(err.value)


def test_a_fix_challenge_whose_start_is_safe_or_whose_solution_is_not_is_refused(tmp_path: Path) -> None:
    original = (CHALLENGE_DIR / "08-fix-completion-routine.yaml").read_text(encoding="utf-8")
    safe_start = original.replace(
        "start: {SendComplete: return-success}", "start: {SendComplete: free-and-keep}"
    )
    with pytest.raises(ChallengeError, match="already safe"):
        load_challenge(_write(tmp_path, "fix-completion-routine.yaml", safe_start), LIBRARY)
    bad_solution = original.replace(
        "solution: {SendComplete: free-and-keep}", "solution: {SendComplete: keep}"
    )
    with pytest.raises(ChallengeError, match=r"goal cannot be reached with the 'solution'.*irp_leak"):
        load_challenge(_write(tmp_path, "fix-completion-routine.yaml", bad_solution), LIBRARY)
    unknown = original.replace("routine: SendComplete", "routine: Nowhere")
    with pytest.raises(ChallengeError, match="no routine 'Nowhere'"):
        load_challenge(_write(tmp_path, "fix-completion-routine.yaml", unknown), LIBRARY)


def test_two_challenges_with_one_order_are_refused(tmp_path: Path) -> None:
    for name in ("01-free-socket-under-send.yaml", "02-slip-past-check-zero.yaml"):
        shutil.copy(CHALLENGE_DIR / name, tmp_path / name)
    text = (
        (tmp_path / "02-slip-past-check-zero.yaml")
        .read_text(encoding="utf-8")
        .replace("order: 2", "order: 1")
    )
    (tmp_path / "02-slip-past-check-zero.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ChallengeError, match="both have order 1"):
        load_catalogue(LIBRARY, tmp_path)
