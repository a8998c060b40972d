"""HTTP-level step cost, in process and under load.

Prints numbers; asserts nothing. Run: .venv/bin/python bench/http_step.py (the load part needs wrk:
apt-get install wrk).

In process (TestClient): a player fragment at step 5 and at step 500, from the server's cache of rendered steps and
when stepping forward (only the previous step's trace cached, nothing rendered); the server's own cost comes from
the Server-Timing header. Then each fragment's size, how often the schedule is repeated in it, and how the fragment
grows with the run's length.

Under load (a real uvicorn, one worker, wrk with 50 connections): a bare hello endpoint (/healthz), the same step
over and over (a class opening one demo), and distinct steps of random runs of every built-in scenario, each as a
ratio to hello measured in the same run; and the bytes a browser transfers for the first load of a stage.
Budgets: repeated step >= 0.6 of hello, distinct steps >= 0.25, step 500 <= 1.5x step 5, a fragment grows by
about 200 bytes per step at most and holds the schedule at most 3 times, first load <= 40 KB.
"""

from __future__ import annotations

import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import LONG_SANDBOX, long_schedule, timed  # the same unbounded sandbox as bench/engine.py
from fastapi.testclient import TestClient

from app.main import create_app, tune_garbage_collection
from app.scenarios import load_library
from app.sim import Engine, load, replay, run_on
from app.web.links import encode_definition, play_link
from tests.live import live_server

HX = {"HX-Request": "true"}


def median_ms(fn, repeat: int = 41) -> float:
    return timed(fn, repeat) * 1000


def server_ms(response) -> float:
    return float(response.headers["server-timing"].split("dur=")[1])


def step_forward_ms(client: TestClient, previous: str, url: str) -> tuple[float, float]:
    """A step forward: the cache holds the trace up to the previous step only. (server ms, round trip ms)"""
    client.app.state.traces = type(client.app.state.traces)()
    client.app.state.steps = type(client.app.state.steps)()  # and no rendered step either
    client.get(previous, headers=HX)
    start = time.perf_counter()
    response = client.get(url, headers=HX)
    return server_ms(response), (time.perf_counter() - start) * 1000


def main() -> None:
    scenario = load(LONG_SANDBOX)
    schedule = long_schedule(Engine(scenario), 520, seed=1)
    definition = encode_definition(scenario.source.model_dump(mode="json"))
    client = TestClient(create_app())
    tune_garbage_collection()  # as the served process does (app/main.py): it is that process being measured
    # The first step of a custom scenario starts its reachability meter's search in the background; measured
    # while it runs, a step takes turns with it for the GIL and costs 1-2.5 times as much, at random.
    started = time.perf_counter()
    meter = f"/meter/custom?v=2&s=&def={definition}"
    while 'class="meter pending"' in client.get(meter).text and time.perf_counter() - started < 120:
        time.sleep(0.2)
    hello = median_ms(lambda: client.get("/healthz"))
    print(f"baseline GET /healthz: {hello:.2f} ms")
    results = {}
    urls = {
        n: (
            play_link("custom", schedule[:n], definition=definition),
            play_link("custom", schedule[: n - 1], definition=definition),
        )
        for n in (5, 500)
    }
    # Steps forward at 5 and at 500 take turns, so that whatever else the machine does meanwhile weighs on both.
    forwards: dict[int, list[tuple[float, float]]] = {5: [], 500: []}
    for _ in range(41):
        for n in (5, 500):
            forwards[n].append(step_forward_ms(client, urls[n][1], urls[n][0]))
    for n in (5, 500):
        url = urls[n][0]
        client.get(url, headers=HX)  # warm: the trace is cached
        cached_server = statistics.median(server_ms(client.get(url, headers=HX)) for _ in range(41))
        cached_trip = median_ms(lambda url=url: client.get(url, headers=HX))
        forward_server = statistics.median(f[0] for f in forwards[n])
        forward_trip = statistics.median(f[1] for f in forwards[n])
        results[n] = (cached_server, forward_server, cached_trip, forward_trip)
        print(
            f"step {n}: server {cached_server:.2f} ms (rendered step cached), {forward_server:.2f} ms (stepping forward); "
            f"round trip {cached_trip:.2f} / {forward_trip:.2f} ms"
        )
    sizes = {}
    for n in (5, 500):
        url = play_link("custom", schedule[:n], definition=definition)
        body = client.get(url, headers=HX).text
        sizes[n] = len(body)
        copies = body.count(".".join(schedule[:n]))
        print(
            f"step {n}: fragment {len(body):,} bytes; the schedule appears {copies} times (budget: at most 3)"
        )
    print(
        f"fragment growth: {(sizes[500] - sizes[5]) / 495:.0f} bytes per step of run length (budget: about 200)"
    )
    a, b = results[5], results[500]
    print(
        f"ratio step 500 / step 5, server: cached {b[0] / a[0]:.2f}x, forward {b[1] / a[1]:.2f}x; "
        f"round trip: {b[2] / a[2]:.2f}x / {b[3] / a[3]:.2f}x ({b[3] / hello:.1f}x /healthz)"
    )


# -- under load: a real server, one worker, 50 connections (wrk) -------------------------------------------------

WRK_SECONDS = 8
DISTINCT_SCRIPT = """
-- Each wrk thread walks its own part of a pool of distinct step URLs, so no URL is asked for twice.
local urls = {}
for line in io.lines("%(pool)s") do urls[#urls + 1] = line end
local counter = 0
local offset = 0
init = function(args) offset = math.random(#urls) end
request = function()
  counter = counter + 1
  local url = urls[((offset + counter) %% #urls) + 1]
  return wrk.format("GET", url, {["HX-Request"] = "true"})
end
"""
REPEATED_SCRIPT = """
wrk.headers["HX-Request"] = "true"
"""


def distinct_step_urls(wanted: int = 40_000, per_run: int = 300) -> list[str]:
    """Distinct step URLs: every step of random runs (seed after seed) of every built-in scenario, shuffled, so that
    a load run of a few seconds never asks for the same step twice."""
    library = list(load_library().scenarios.values())
    urls: set[str] = set()
    for seed in range(2_000):
        for scenario in library:
            trace = run_on(replay(scenario, ()), "random", per_run, seed=seed)
            urls.update(
                play_link(scenario.source.id, trace.schedule, at=n) for n in range(len(trace.schedule) + 1)
            )
        if len(urls) >= wanted:
            break
    pool = sorted(urls)
    random.Random(1).shuffle(pool)
    return pool


def wrk(url: str, script: str | None = None, seconds: int = WRK_SECONDS) -> float:
    """Requests per second that wrk (2 threads, 50 connections) gets from one URL, or from what a script asks."""
    command = ["wrk", "-t2", "-c50", f"-d{seconds}s", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script or "")
    if script:
        command[1:1] = ["-s", lua.name]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([0-9.]+)", out)[1])  # type: ignore[index]


def transferred(base: str, path: str, headers: dict[str, str] | None = None) -> int:
    """Bytes on the wire for one GET, as a browser asks for it (gzip accepted)."""
    request = urllib.request.Request(base + path, headers={"Accept-Encoding": "gzip", **(headers or {})})
    with urllib.request.urlopen(request) as response:
        return len(response.read())


def warm_meters(base: str) -> None:
    """Have the server search every built-in scenario's meter first (once per process, kept for its life), so that
    the figures are a serving server's and not its first minute's (the sandbox's meter alone takes seconds)."""
    started = time.perf_counter()
    for scenario_id in load_library().scenarios:
        while (
            'class="meter pending"'
            in urllib.request.urlopen(f"{base}/meter/{scenario_id}?v=2&s=").read().decode()
        ):
            time.sleep(0.2)
    print(f"  (every built-in scenario's meter searched first, in {time.perf_counter() - started:.1f} s)")


def under_load() -> None:
    if shutil.which("wrk") is None:
        print("under load: skipped, wrk is not installed (apt-get install wrk)")
        return
    pool = Path(tempfile.mkdtemp()) / "urls.txt"
    urls = distinct_step_urls()
    pool.write_text("\n".join(urls) + "\n")
    with live_server() as server:
        base = server.url
        repeated = base + "/play/close-during-send?v=2&s=Sender.Sender.Closer&at=2"
        warm_meters(base)
        hello = wrk(base + "/healthz")
        same = wrk(repeated, REPEATED_SCRIPT)
        distinct = wrk(base + "/healthz", DISTINCT_SCRIPT % {"pool": pool})
        print(
            f"under load (one worker, 50 connections, {WRK_SECONDS} s each; {len(urls)} distinct step URLs):"
        )
        print(f"  hello /healthz        {hello:8.0f} req/s")
        print(f"  repeated step         {same:8.0f} req/s  {same / hello:.2f}x hello (budget >= 0.6)")
        print(
            f"  distinct steps        {distinct:8.0f} req/s  {distinct / hello:.2f}x hello (budget >= 0.25)"
        )
        page = "/play/close-during-send?v=2&s=Sender.Sender.Closer&at=2"
        assets = [
            "/static/css/app.css",
            "/static/css/transitions.css",
            "/static/js/htmx.min.js",
            "/static/js/player.js",
        ]
        first = transferred(base, page) + sum(transferred(base, a) for a in assets)
        print(f"  first load of a stage {first / 1024:8.1f} KB transferred, gzip (budget <= 40 KB)")


if __name__ == "__main__":
    main()
    under_load()
