"""Searches shared by several workers through a real Redis (REDIS_URL): any worker answers for any search, a cancel
reaches the worker that runs it, the two-search limit counts every worker, a crashed worker leaks no slot, finished
reports outlive the workers, and every kept thing is bounded. Also: connecting fails early and clearly."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from json import dumps, loads
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from app.main import create_app
from app.scenarios import load_library
from app.sim.explore import Bounds
from app.web import shared
from app.web.searches import KEPT, Busy, RedisStore, Searches, Target
from app.web.shared import SharedStateError
from tests.live import free_port, live_server
from tests.web.helpers import eventually, long_search

LIBRARY = load_library()


@pytest.fixture
def workers(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Make apps that share the test Redis, as the workers of one deployment do; their runs stop at the end."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    apps: list[Any] = []

    def make() -> TestClient:
        app = create_app(LIBRARY)
        apps.append(app)
        return TestClient(app)

    yield make
    for app in apps:
        app.state.searches.close()


def test_without_redis_url_there_is_no_shared_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert shared.connect() is None and shared.connect("") is None
    assert create_app(LIBRARY).state.searches.networked is False


def test_a_bad_redis_url_stops_start_up_with_a_sentence_saying_what_to_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SharedStateError, match=r"not a valid Redis URL.*unset REDIS_URL"):
        shared.connect("http://localhost:6379")
    closed = f"redis://:secret@127.0.0.1:{free_port()}/0"  # nothing listens there
    with pytest.raises(SharedStateError, match="Cannot reach Redis") as caught:
        shared.connect(closed)
    assert "secret" not in str(caught.value) and ":***@127.0.0.1" in str(caught.value)
    monkeypatch.setenv("REDIS_URL", closed)
    with pytest.raises(SharedStateError):
        create_app(LIBRARY)


def test_any_worker_answers_for_a_search_and_a_cancel_reaches_the_worker_that_runs_it(workers: Any) -> None:
    first, second = workers(), workers()
    search = first.post("/api/explore/searches", json=long_search()).json()
    seen = []
    for n in range(12):  # every poll answers, whichever worker gets it, and the progress moves on
        polled = (first, second)[n % 2].get(search["url"])
        assert polled.status_code == 200 and polled.json()["status"] == "running"
        seen.append(polled.json()["progress"]["states"])
        time.sleep(0.05)
    assert seen[-1] > seen[0]
    cancelled = second.post(search["cancel"])
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert first.get(search["url"]).json()["status"] == "cancelled"
    runner = first.app.state.searches  # type: ignore[attr-defined]
    eventually(
        lambda: runner._runs, lambda runs: not runs
    )  # the run itself stopped, on the worker that ran it


def test_the_two_search_limit_counts_every_worker_and_identical_searches_share_one_run(workers: Any) -> None:
    first, second = workers(), workers()
    running = [first.post("/api/explore/searches", json=long_search(n)) for n in range(2)]
    assert [r.status_code for r in running] == [202, 202]
    refused = second.post("/api/explore/searches", json=long_search(2))
    assert refused.status_code == 429 and refused.headers["retry-after"] == "5"
    shared_run = second.post("/api/explore/searches", json=long_search(0))
    assert shared_run.status_code == 202 and shared_run.json()["id"] == running[0].json()["id"]
    assert not second.app.state.searches._runs  # type: ignore[attr-defined]  # it started nothing itself
    for r in running:
        second.post(r.json()["cancel"])
    assert second.post("/api/explore/searches", json=long_search(2)).status_code == 202  # the slots came back


def test_a_crashed_worker_leaks_no_slot(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    searches = Searches(shared=client)
    searches.store = RedisStore(client, keep=64, lease_s=0.5)  # a short lease, to see it expire
    targets = [
        Target.of(LIBRARY.scenarios[name], None, Bounds(), 10_000)
        for name in ("sandbox", "close-during-send", "double-close")
    ]
    # A worker claims two slots and dies before it runs or renews anything.
    for target in targets[:2]:
        _, started = searches.store.claim(searches._fresh(target), capacity=2)
        assert started
    with pytest.raises(Busy):
        searches.store.claim(searches._fresh(targets[2]), capacity=2)
    time.sleep(0.6)
    assert searches.get(targets[0].key.id) is None  # its running record expired with it: a GET runs it again
    _, started = searches.store.claim(searches._fresh(targets[2]), capacity=2)
    assert started, "the dead worker's slots expired"
    searches.close()


def test_finished_reports_outlive_the_workers_and_are_bounded(workers: Any, redis_url: str) -> None:
    first = workers()
    done = first.post("/api/explore/searches", json={"scenario": "close-during-send"}).json()
    done = eventually(lambda: first.get(done["url"]).json(), lambda s: s["status"] == "done")
    later = workers()  # a worker started after the first one is gone
    again = later.get(done["url"]).json()
    assert again == done, "answered from the stored report, not run again (same elapsed time)"

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    small = Searches(keep=2, shared=client)
    # A preemption bound gets the full search, which takes the sandbox long enough to outlast the others.
    running = small.start(Target.of(LIBRARY.scenarios["sandbox"], None, Bounds(max_preemptions=10), 30_000))
    ids = []
    for n in range(4):
        search = small.start(
            Target.of(LIBRARY.scenarios["double-close"], None, Bounds(max_states=50 + n), 10_000)
        )
        eventually(lambda s=search: small.get(s.id), lambda s: s is not None and s.status == "done")
        ids.append(search.id)
    assert client.zcard(KEPT) == 2 and [small.get(i) is not None for i in ids] == [False, False, True, True]
    assert small.get(running.id).status == "running"  # type: ignore[union-attr]  # never evicted
    small.close()


def _get_json(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, loads(err.read() or b"{}")


def _request(url: str, method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return loads(response.read())  # type: ignore[no-any-return]


@pytest.fixture
def two_uvicorn_workers(redis_url: str) -> Iterator[list[str]]:
    """Two real uvicorn processes serving app.main:app with the same REDIS_URL; their base URLs."""
    with ExitStack() as stack:
        servers = [stack.enter_context(live_server(env={"REDIS_URL": redis_url})) for _ in range(2)]
        yield [server.url for server in servers]


def test_two_uvicorn_workers_answer_every_poll_of_a_live_search(two_uvicorn_workers: list[str]) -> None:
    a, b = two_uvicorn_workers
    search = _request(a + "/api/explore/searches", "POST", long_search())
    answers = []
    for n in range(40):
        status, body = _get_json((a, b)[n % 2] + search["url"])
        answers.append((status, body.get("status")))
    assert answers == [(200, "running")] * 40
    assert _request(b + search["cancel"], "POST")["status"] == "cancelled"
    assert _get_json(a + search["url"]) == (200, _get_json(b + search["url"])[1])
