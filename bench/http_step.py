"""HTTP-level step cost: a player fragment request at step 5 and at step 500, in process (TestClient, no network).

Prints numbers; asserts nothing. Run: .venv/bin/python bench/http_step.py

DESIGN section 8: a step request renders in well under 10 ms, and step 500 costs about what step 5 does. Two
measures: the server's own cost, from the Server-Timing header the player sends (replay or cache, view, template),
and the round trip through the test client, whose URL parsing grows with the link (a browser's does not); the
baseline for the round trip, measured in the same run, is the bare /healthz endpoint through the same client.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import LONG_SANDBOX, long_schedule, timed  # the same unbounded sandbox as bench/engine.py
from fastapi.testclient import TestClient

from app.main import create_app
from app.sim import Engine, load
from app.web.links import encode_definition, play_link

HX = {"HX-Request": "true"}


def median_ms(fn, repeat: int = 41) -> float:
    return timed(fn, repeat) * 1000


def server_ms(response) -> float:
    return float(response.headers["server-timing"].split("dur=")[1])


def step_forward_ms(client: TestClient, previous: str, url: str) -> tuple[float, float]:
    """A step forward: the cache holds the trace up to the previous step only. (server ms, round trip ms)"""
    client.app.state.traces = type(client.app.state.traces)()
    client.get(previous, headers=HX)
    start = time.perf_counter()
    response = client.get(url, headers=HX)
    return server_ms(response), (time.perf_counter() - start) * 1000


def main() -> None:
    scenario = load(LONG_SANDBOX)
    schedule = long_schedule(Engine(scenario), 520, seed=1)
    definition = encode_definition(scenario.source.model_dump(mode="json"))
    client = TestClient(create_app())
    hello = median_ms(lambda: client.get("/healthz"))
    print(f"baseline GET /healthz: {hello:.2f} ms")
    results = {}
    for n in (5, 500):
        url = play_link("custom", schedule[:n], definition=definition)
        previous = play_link("custom", schedule[: n - 1], definition=definition)
        client.get(url, headers=HX)  # warm: the trace is cached
        cached_server = statistics.median(server_ms(client.get(url, headers=HX)) for _ in range(41))
        cached_trip = median_ms(lambda url=url: client.get(url, headers=HX))
        forwards = [step_forward_ms(client, previous, url) for _ in range(15)]
        forward_server = statistics.median(f[0] for f in forwards)
        forward_trip = statistics.median(f[1] for f in forwards)
        results[n] = (cached_server, forward_server, cached_trip, forward_trip)
        print(
            f"step {n}: server {cached_server:.2f} ms (trace cached), {forward_server:.2f} ms (stepping forward); "
            f"round trip {cached_trip:.2f} / {forward_trip:.2f} ms"
        )
    a, b = results[5], results[500]
    print(
        f"ratio step 500 / step 5, server: cached {b[0] / a[0]:.2f}x, forward {b[1] / a[1]:.2f}x; "
        f"round trip: {b[2] / a[2]:.2f}x / {b[3] / a[3]:.2f}x ({b[3] / hello:.1f}x /healthz)"
    )


if __name__ == "__main__":
    main()
