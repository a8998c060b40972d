"""Find the race over HTTP: the JSON API, its bounds and bad input, searches that can be cancelled or refused,
the player's panel and the fix verifier."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

import app.web.searches as searches_module
from app.main import create_app
from app.scenarios import load_library
from app.sim import replay
from app.sim.explore import explore
from tests.web.helpers import eventually, long_search

LIBRARY = load_library()


def test_explore_finds_the_race_with_a_shortest_witness_link(client: TestClient) -> None:
    body = client.post("/api/explore", json={"scenario": "close-during-send"}).json()
    assert body["complete"] and body["stopped_by"] is None
    assert body["states"] > 0 and body["transitions"] >= body["states"] - 1
    assert body["outcomes"]["ok"] > 0 and body["outcomes"]["close_with_call_in_progress"] > 0
    witness = next(w for w in body["witnesses"] if w["kind"] == "close_with_call_in_progress")
    assert witness["link"] == "/play/close-during-send?v=2&s=" + ".".join(witness["schedule"])
    trace = replay(LIBRARY.scenarios["close-during-send"], witness["schedule"])
    assert (witness["length"], "close_with_call_in_progress") in {(s, v.kind) for s, v in trace.violations}


def test_a_safe_scenario_is_proved_safe_in_every_schedule(client: TestClient) -> None:
    body = client.post("/api/explore", json={"scenario": "rundown-protection"}).json()
    assert body["complete"] and body["witnesses"] == [] and set(body["outcomes"]) == {"ok"}
    assert body["schedules"] and body["schedules"] > 1000


def test_a_small_scenario_is_counted_in_full_and_says_so(client: TestClient) -> None:
    body = client.post("/api/explore", json={"scenario": "rundown-protection"}).json()
    assert (
        body["reduced"] is False
        and body["schedules"] == explore(LIBRARY.scenarios["rundown-protection"]).schedules
    )
    panel = client.post("/search/rundown-protection").text
    assert f"all {body['schedules']:,} schedules" in panel and "reduced" not in panel


def test_a_large_scenario_is_searched_reduced_and_the_page_says_what_was_counted(client: TestClient) -> None:
    """The reduced search gives the full search's verdict and witnesses, but counts end states up to names and no
    schedules: the answer says so, and the page states no number it did not compute."""
    body = client.post("/api/explore", json={"scenario": "sandbox"}).json()
    full = explore(LIBRARY.scenarios["sandbox"], reduce=False)
    assert body["reduced"] is True and body["complete"] and body["schedules"] is None
    assert {w["kind"]: w["length"] for w in body["witnesses"]} == {
        k: len(w) for k, w in full.witnesses.items()
    }
    assert body["states"] < full.states and body["terminal_states"] < full.terminal_states
    search = client.post(
        "/api/explore/searches", json={"scenario": "sandbox"}
    ).json()  # the same search, done
    assert (
        eventually(lambda: client.get(search["url"]).json(), lambda s: s["status"] == "done")["result"]
        == body
    )
    panel = client.get(search["url"].replace("/api/explore/searches/", "/search/progress/")).text
    assert "of a reduced search" in panel and "distinct end states" in panel
    assert "the schedules are not counted" in panel and " schedules</" not in panel
    assert f"{full.states:,}" not in panel and f"{full.terminal_states} end states" not in panel


def test_a_witness_the_state_bound_may_have_made_longer_is_not_called_shortest(client: TestClient) -> None:
    request = {"scenario": "sandbox", "bounds": {"max_states": 100}}
    body = client.post("/api/explore", json=request).json()
    assert body["stopped_by"] == "max_states"
    assert {w["shortest"] for w in body["witnesses"]} == {True, False}
    search = client.post("/api/explore/searches", json=request).json()
    panel = client.get(search["url"].replace("/api/explore/searches/", "/search/progress/")).text
    assert panel.count("a shorter one may exist") == sum(not w["shortest"] for w in body["witnesses"])


def test_bounds_stop_the_search_and_say_which(client: TestClient) -> None:
    for bounds, reason in (
        ({"max_states": 20}, "max_states"),
        ({"max_depth": 4}, "max_depth"),
        ({"max_preemptions": 0}, "max_preemptions"),
    ):
        body = client.post("/api/explore", json={"scenario": "close-during-send", "bounds": bounds}).json()
        assert body["complete"] is False and body["stopped_by"] == reason and body["schedules"] is None


def test_bad_input_gets_a_clear_4xx(client: TestClient) -> None:
    assert client.post("/api/explore", json={"scenario": "nope"}).status_code == 404
    too_big = client.post("/api/explore", json={"scenario": "sandbox", "bounds": {"max_states": 10**9}})
    assert too_big.status_code == 422 and "bounds.max_states" in too_big.json()["detail"]
    unknown = client.post("/api/explore", json={"scenario": "sandbox", "bounds": {"speed": 1}})
    assert unknown.status_code == 422 and "speed: Extra inputs are not permitted" in unknown.json()["detail"]
    assert client.get("/api/explore/searches/does-not-exist").status_code == 404


def test_a_search_can_be_started_polled_and_cancelled(client: TestClient) -> None:
    started = client.post(
        "/api/explore/searches", json={"scenario": "sandbox", "bounds": {"max_preemptions": 10}}
    )
    assert started.status_code == 202
    search = started.json()
    polled = client.get(search["url"]).json()
    assert polled["id"] == search["id"] and polled["status"] in ("running", "done")
    cancelled = client.post(search["cancel"]).json()
    assert cancelled["status"] in ("cancelled", "done")


def test_searches_beyond_capacity_are_refused_with_retry_after() -> None:
    app = create_app()
    app.state.searches.capacity = 0
    with TestClient(app) as fresh:
        response = fresh.post("/api/explore", json={"scenario": "seed-close-socket"})
        assert response.status_code == 429 and response.headers["retry-after"] == "5"
        assert "try again" in response.json()["detail"]


def test_the_player_offers_find_the_race_and_shows_results(client: TestClient) -> None:
    page = client.get("/play/close-during-send?v=2&s=").text
    assert 'hx-post="/search/close-during-send"' in page
    panel = client.post("/search/close-during-send").text
    assert "Found" in panel and "watch the" in panel and "/play/close-during-send?v=2&amp;s=" in panel
    safe = client.post("/search/rundown-protection").text
    assert "Safe in every interleaving" in safe


FAMILY = [c.source for c in LIBRARY.scenarios.values() if c.source.family == "close-protection"]
COMPUTING = "Still being computed"


def verdicts_when_computed(client: TestClient) -> str:
    return eventually(
        lambda: client.get("/families/close-protection/verdicts").text, lambda h: COMPUTING not in h
    )


def test_the_fix_verifier_answers_at_once_then_fills_in_each_variant_verdict() -> None:
    app = create_app(LIBRARY)
    with TestClient(app) as fresh:
        first = fresh.get("/families/close-protection").text
        assert COMPUTING in first and 'hx-get="/families/close-protection/verdicts"' in first
        assert all(source.variant in first for source in FAMILY)

        html = verdicts_when_computed(fresh)
        assert "hx-get" not in html  # done: it stops polling
        assert html.count('<tr class="safe">') == sum(1 for s in FAMILY if s.expect == "safe")
        assert html.count('<tr class="buggy">') == html.count("shortest witness") == len(FAMILY) - 3
        assert all(source.variant in html for source in FAMILY)
        later = fresh.get("/families/close-protection").text
        assert COMPUTING not in later and html.strip() in later
        assert fresh.get("/families/nope").status_code == 404
        assert fresh.get("/families/nope/verdicts").status_code == 404
    app.state.searches.close()


def test_the_fix_verifier_computes_each_verdict_once_for_everyone(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[str] = []

    def counted(scenario: Any, *args: Any, **kwargs: Any) -> Any:
        runs.append(scenario.source.id)
        return explore(scenario, *args, **kwargs)

    monkeypatch.setattr(searches_module, "explore", counted)
    app = create_app(LIBRARY)
    with TestClient(app) as fresh:
        fresh.get("/families/close-protection")
        verdicts_when_computed(fresh)
        for _ in range(3):
            fresh.get("/families/close-protection")
            fresh.get("/families/close-protection/verdicts")
    assert sorted(runs) == sorted(s.id for s in FAMILY)
    app.state.searches.close()


def test_the_fix_verifier_takes_no_user_search_slot_and_is_not_refused_by_them() -> None:
    app = create_app(LIBRARY)
    with TestClient(app) as fresh:
        long = [fresh.post("/api/explore/searches", json=long_search(n)).json() for n in range(2)]
        assert (
            fresh.post("/api/explore/searches", json=long_search(2)).status_code == 429
        )  # every slot is taken
        page = fresh.get("/families/close-protection").text
        assert COMPUTING in page
        html = verdicts_when_computed(fresh)
        assert html.count('<tr class="safe">') == 3 and html.count('<tr class="buggy">') == 3
        assert all(fresh.get(s["url"]).json()["status"] == "running" for s in long)
    app.state.searches.close()


def test_a_witness_run_marks_its_preemptions_on_the_timeline(client: TestClient) -> None:
    witness = client.post("/api/explore", json={"scenario": "close-during-send"}).json()["witnesses"][0][
        "link"
    ]
    html = client.get(witness).text
    assert re.search(r'<li class="[^"]*\bpreempt\b[^"]*" title="[^"]*a preemption', html)


def test_a_search_from_a_prefix_finds_what_can_still_happen_from_there(client: TestClient) -> None:
    """Once Sender is inside WskSend, a close can still break P1; but a send after close (which needs the close to
    come first) no longer can. Witnesses start with the prefix and replay from the start."""
    prefix = ["Sender", "Sender", "Sender"]
    body = client.post("/api/explore", json={"scenario": "close-during-send", "prefix": prefix}).json()
    assert body["prefix"] == prefix and body["complete"]
    kinds = {w["kind"] for w in body["witnesses"]}
    assert "close_with_call_in_progress" in kinds and "call_after_close" not in kinds
    for witness in body["witnesses"]:
        assert witness["schedule"][:3] == prefix
        trace = replay(LIBRARY.scenarios["close-during-send"], witness["schedule"])
        assert (witness["length"], witness["kind"]) in {(s, v.kind) for s, v in trace.violations}
    same = client.post(
        "/api/explore", json={"scenario": "close-during-send", "prefix": "Sender.Sender.Sender"}
    )
    assert same.json()["witnesses"] == body["witnesses"]


def test_a_prefix_the_scenario_cannot_run_is_a_422_naming_the_step() -> None:
    with TestClient(create_app()) as client:
        bad = client.post("/api/explore", json={"scenario": "close-during-send", "prefix": "Sender.Closer-p"})
        assert bad.status_code == 422
        assert (
            "prefix: Action 'Closer-p' is not possible at step 2. Possible actions:" in bad.json()["detail"]
        )
        malformed = client.post("/api/explore", json={"scenario": "close-during-send", "prefix": "Sender..x"})
        assert malformed.status_code == 422 and "is not an action id" in malformed.json()["detail"]
