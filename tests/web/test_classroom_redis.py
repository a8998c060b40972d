"""The classroom across workers: two uvicorn workers share a real redis-server (REDIS_URL). Rooms, keys and
questions live in Redis, and events reach every follower through pub/sub, whichever worker holds its stream."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import redis

from app.scenarios import load_library
from tests.live import live_server
from tests.sse import Follower, run

DEMO = ".".join(load_library().get("close-during-send").source.demo or ())  # type: ignore[union-attr]
RUN = f"/play/close-during-send?v=2&s={DEMO}&at=0"
FOLLOWERS = 8  # the kernel spreads connections over both workers


def _call(url: str, body: Any = None, key: str | None = None, method: str = "POST") -> Any:
    headers = {"Content-Type": "application/json"} | ({"X-Presenter-Key": key} if key else {})
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def test_two_workers_serve_one_class_through_redis(redis_url: str) -> None:
    with live_server("--workers", "2", env={"REDIS_URL": redis_url}) as server:
        room = _call(f"{server.url}/api/rooms", {"url": RUN})
        code, key = room["code"], room["key"]
        stored = redis.Redis.from_url(redis_url, decode_responses=True)
        assert stored.hget(f"wsk:room:{code}", "url") == RUN  # the room is in Redis
        assert key not in json.dumps(stored.hgetall(f"wsk:room:{code}"))  # only the key's hash is

        async def follow() -> list[str]:
            followers = [
                await Follower.connect(f"{server.url}/api/rooms/{code}/events") for _ in range(FOLLOWERS)
            ]
            try:
                assert {f.status for f in followers} == {200}
                for f in followers:  # each lands on the class's step at once
                    await f.until("step", "step 0 of")
                state = _call(f"{server.url}/api/rooms/{code}", method="GET")
                assert state["followers"] == FOLLOWERS  # counted across both workers
                _call(f"{server.url}/api/rooms/{code}/step", {"url": RUN.replace("at=0", "at=3")}, key)
                steps = [await f.until("step", "step 3 of") for f in followers]
                _call(f"{server.url}/api/rooms/{code}/question", {"kind": "next"}, key)
                asked = [await f.until("question", "What happens next?") for f in followers]
                return [m.data for m in steps + asked]
            finally:
                for f in followers:
                    f.close()

        seen = run(follow())
        assert len(seen) == 2 * FOLLOWERS
        # Answers from anywhere count once per student, across workers.
        q = _call(f"{server.url}/api/rooms/{code}", method="GET")["question"]
        answer = {"question": q["id"], "student": "student-one", "picks": [q["options"][0]["value"]]}
        assert _call(f"{server.url}/api/rooms/{code}/answers", answer) == {"answers": 1}
        for _ in range(4):  # whichever worker answers, the second answer is refused
            try:
                _call(f"{server.url}/api/rooms/{code}/answers", answer)
                raise AssertionError("a second answer was accepted")
            except urllib.error.HTTPError as err:
                assert err.code == 409
        revealed = _call(f"{server.url}/api/rooms/{code}/question/reveal", None, key)
        assert sum(o["picked"] for o in revealed["options"]) == 1
        assert stored.pttl(f"wsk:room:{code}") > 0  # every room key expires without activity


def test_a_class_outlives_a_server_restart_with_redis(redis_url: str) -> None:
    with live_server(env={"REDIS_URL": redis_url}) as server:
        room = _call(f"{server.url}/api/rooms", {"url": RUN})
        _call(
            f"{server.url}/api/rooms/{room['code']}/step", {"url": RUN.replace("at=0", "at=2")}, room["key"]
        )
    with live_server(env={"REDIS_URL": redis_url}) as again:

        async def reconnect() -> str:
            follower = await Follower.connect(f"{again.url}/api/rooms/{room['code']}/events")
            try:
                return (await follower.until("step")).data
            finally:
                follower.close()

        assert "step 2 of" in run(reconnect())
