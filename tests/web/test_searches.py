"""Searches in one process (no REDIS_URL): a running search is never forgotten, identical searches share one run,
at most two distinct ones run (the rest are refused, never queued), at most ``keep`` reports are kept, and a
search's address gives the same answer after a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import app.web.searches as searches_module
from app.main import create_app
from app.scenarios import load_library
from app.sim.explore import explore
from app.web.searches import Searches, SearchKey
from tests.web.helpers import eventually, long_search

LIBRARY = load_library()


@pytest.fixture
def make_client() -> Iterator[Any]:
    """Clients of fresh apps (each a 'process' with its own memory); their searches are cancelled at the end."""
    apps: list[Any] = []

    def make(searches: Searches | None = None) -> TestClient:
        app = create_app(LIBRARY)
        if searches is not None:
            app.state.searches = searches
        apps.append(app)
        return TestClient(app)

    yield make
    for app in apps:
        app.state.searches.close()


def finished(client: TestClient, url: str) -> dict[str, Any]:
    return eventually(lambda: client.get(url).json(), lambda s: s["status"] != "running")


def without_timing(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "elapsed_ms"}


def test_a_running_search_is_never_evicted_by_finished_ones_and_stays_cancellable(make_client: Any) -> None:
    searches = Searches(keep=2)
    client = make_client(searches)
    running = client.post("/api/explore/searches", json=long_search()).json()
    quick = []
    for n in range(5):  # five distinct finished searches: more than are kept
        body = {"scenario": "close-during-send", "bounds": {"max_states": 100 + n}}
        quick.append(finished(client, client.post("/api/explore/searches", json=body).json()["url"]))
    assert sum(searches.get(s["id"]) is not None for s in quick) == 2  # only the last two reports are kept
    polled = client.get(running["url"])
    assert polled.status_code == 200 and polled.json()["status"] == "running"
    cancelled = client.post(running["cancel"])
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    # A bound cut the search before the cancel did; the answer still says what ended it.
    assert cancelled.json()["result"]["stopped_by"] == "cancelled"


def test_identical_searches_share_one_run_and_a_third_distinct_one_is_refused(make_client: Any) -> None:
    client = make_client()
    first = client.post("/api/explore/searches", json=long_search(0))
    second = client.post("/api/explore/searches", json=long_search(1))
    assert first.status_code == second.status_code == 202
    again = client.post("/api/explore/searches", json=long_search(0))
    assert again.status_code == 202, "an identical search is shared, not refused"
    assert again.json()["id"] == first.json()["id"] and again.json()["status"] == "running"
    third = client.post("/api/explore/searches", json=long_search(2))
    assert third.status_code == 429 and third.headers["retry-after"] == "5"
    assert "try again" in third.json()["detail"]
    assert client.post(first.json()["cancel"]).json()["status"] == "cancelled"
    panel = client.post(f"/search/cancel/{second.json()['id']}")  # the player's Cancel button
    assert panel.status_code == 200 and "stopped by cancelled" in panel.text
    restarted = client.post("/api/explore/searches", json=long_search(0)).json()
    assert restarted["status"] == "running", "a cancelled search is not the answer: it runs again"
    client.post(restarted["cancel"])


def test_a_search_address_gives_the_same_answer_after_a_restart(make_client: Any) -> None:
    before = make_client()
    started = before.post("/api/explore/searches", json={"scenario": "close-during-send"}).json()
    assert started["url"] == f"/api/explore/searches/{started['id']}"
    answer = finished(before, started["url"])
    assert answer["status"] == "done" and answer["result"]["witnesses"]

    after = make_client()  # a new process: it has never seen this search
    again = finished(after, started["url"])
    assert again["id"] == answer["id"] and again["status"] == "done"
    assert without_timing(again["result"]) == without_timing(answer["result"])
    panel = make_client().get(f"/search/progress/{started['id']}")
    assert panel.status_code == 200 and "Found 4 ways to break the rules" in panel.text


def test_a_custom_scenario_search_address_carries_its_scenario_across_a_restart(make_client: Any) -> None:
    custom = LIBRARY.scenarios["check-zero-then-close"].source.model_dump(mode="json") | {"id": "my-close"}
    before = make_client()
    started = before.post("/api/explore/searches", json={"scenario": custom}).json()
    assert started["id"].startswith("custom.") and "?def=" in started["url"]
    answer = finished(before, started["url"])
    assert answer["result"]["scenario"] == "my-close"
    assert answer["result"]["witnesses"][0]["link"].startswith("/play/custom?v=2&def=")

    after = make_client()
    again = finished(after, started["url"])
    assert without_timing(again["result"]) == without_timing(answer["result"])
    # Without its 'def', an address cannot bring back a custom scenario that a new process has never seen.
    bare = make_client().get(f"/api/explore/searches/{started['id']}")
    assert bare.status_code == 404 and "'def'" in bare.json()["detail"]


def test_an_address_that_names_no_search_here_is_a_404_that_says_what_to_do(make_client: Any) -> None:
    client = make_client()
    scenario = LIBRARY.scenarios["close-during-send"]
    key = SearchKey.parse(f"close-during-send.{scenario.fingerprint}.80000.400.any.10000")
    assert key is not None and key.id == f"close-during-send.{scenario.fingerprint}.80000.400.any.10000"
    cases = {
        "does-not-exist": "POST /api/explore/searches",
        f"close-during-send.{'0' * 16}.80000.400.any.10000": "another version",
        f"close-during-send.{scenario.fingerprint}.999999999.400.any.10000": "POST /api/explore/searches",
        f"no-such-scenario.{scenario.fingerprint}.80000.400.any.10000": "does not have",
    }
    for search_id, says in cases.items():
        for url in (f"/api/explore/searches/{search_id}", f"/search/progress/{search_id}"):
            response = client.get(url, headers={"accept": "application/json"})
            assert response.status_code == 404 and says in response.json()["detail"], (url, response.text)
    assert (
        client.post(f"/api/explore/searches/{key.id}/cancel").status_code == 404
    )  # nothing running to cancel


def test_running_a_search_again_after_a_restart_takes_a_slot_like_any_other(make_client: Any) -> None:
    started = make_client().post("/api/explore/searches", json={"scenario": "close-during-send"}).json()
    full = make_client(Searches(capacity=0))
    refused = full.get(started["url"])
    assert refused.status_code == 429 and refused.headers["retry-after"] == "5"


def test_a_stored_report_keeps_which_search_counted_it_and_older_ones_read_as_full() -> None:
    reduced = explore(LIBRARY.scenarios["sandbox"])
    assert reduced.reduced
    assert searches_module._report_from_json(searches_module._report_json(reduced)) == reduced
    older = json.loads(searches_module._report_json(reduced))
    del older["reduced"]  # stored before the reduced search existed: a full search's report
    assert searches_module._report_from_json(json.dumps(older)).reduced is False


def test_a_search_from_a_prefix_carries_its_prefix_across_a_restart(make_client: Any) -> None:
    before = make_client()
    request = {"scenario": "close-during-send", "prefix": "Sender.Sender.Sender"}
    started = before.post("/api/explore/searches", json=request).json()
    assert ".after-" in started["id"] and started["url"].endswith("?prefix=Sender.Sender.Sender")
    whole = before.post("/api/explore/searches", json={"scenario": "close-during-send"}).json()
    assert whole["id"] != started["id"], "a search from a prefix is another search"
    answer = finished(before, started["url"])
    assert answer["result"]["prefix"] == ["Sender", "Sender", "Sender"]

    again = finished(make_client(), started["url"])
    assert without_timing(again["result"]) == without_timing(answer["result"])
    bare = make_client().get(f"/api/explore/searches/{started['id']}")
    assert bare.status_code == 404 and "'prefix'" in bare.json()["detail"]
    other = make_client().get(f"/api/explore/searches/{started['id']}?prefix=Sender")
    assert other.status_code == 404 and "'prefix'" in other.json()["detail"]
