"""Find the race over HTTP: the JSON API, its bounds and bad input, searches that can be cancelled or refused,
the player's panel and the fix verifier."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.main import create_app
from app.scenarios import load_library
from app.sim import replay

LIBRARY = load_library()


def test_explore_finds_the_race_with_a_shortest_witness_link(client: TestClient) -> None:
    body = client.post("/api/explore", json={"scenario": "close-during-send"}).json()
    assert body["complete"] and body["stopped_by"] is None
    assert body["states"] > 0 and body["transitions"] >= body["states"] - 1
    assert body["outcomes"]["ok"] > 0 and body["outcomes"]["close_with_call_in_progress"] > 0
    witness = next(w for w in body["witnesses"] if w["kind"] == "close_with_call_in_progress")
    assert witness["link"] == "/play/close-during-send?v=1&s=" + ".".join(witness["schedule"])
    trace = replay(LIBRARY.scenarios["close-during-send"], witness["schedule"])
    assert (witness["length"], "close_with_call_in_progress") in {(s, v.kind) for s, v in trace.violations}


def test_a_safe_scenario_is_proved_safe_in_every_schedule(client: TestClient) -> None:
    body = client.post("/api/explore", json={"scenario": "rundown-protection"}).json()
    assert body["complete"] and body["witnesses"] == [] and set(body["outcomes"]) == {"ok"}
    assert body["schedules"] and body["schedules"] > 1000


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
    cancelled = client.delete(search["url"]).json()
    assert cancelled["status"] in ("cancelled", "done")


def test_searches_beyond_capacity_are_refused_with_retry_after() -> None:
    app = create_app()
    app.state.searches.capacity = 0
    with TestClient(app) as fresh:
        response = fresh.post("/api/explore", json={"scenario": "seed-close-socket"})
        assert response.status_code == 429 and response.headers["retry-after"] == "5"
        assert "try again" in response.json()["detail"]


def test_the_player_offers_find_the_race_and_shows_results(client: TestClient) -> None:
    page = client.get("/play/close-during-send?v=1&s=").text
    assert 'hx-post="/search/close-during-send"' in page
    panel = client.post("/search/close-during-send").text
    assert "Found" in panel and "watch the" in panel and "/play/close-during-send?v=1&amp;s=" in panel
    safe = client.post("/search/rundown-protection").text
    assert "Safe in every interleaving" in safe


def test_the_fix_verifier_shows_each_variant_with_its_verdict(client: TestClient) -> None:
    members = [c.source for c in LIBRARY.scenarios.values() if c.source.family == "close-protection"]
    html = client.get("/families/close-protection").text
    for source in members:
        assert source.variant in html
    assert html.count("safe in") >= sum(1 for s in members if s.expect == "safe")
    assert html.count("shortest witness") >= sum(1 for s in members if s.expect == "buggy")
    assert client.get("/families/nope").status_code == 404


def test_a_witness_run_marks_its_preemptions_on_the_timeline(client: TestClient) -> None:
    witness = client.post("/api/explore", json={"scenario": "close-during-send"}).json()["witnesses"][0][
        "link"
    ]
    html = client.get(witness).text
    assert re.search(r'<li class="[^"]*\bpreempt\b[^"]*" title="[^"]*a preemption', html)
