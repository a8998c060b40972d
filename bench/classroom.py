"""The classroom's broadcast: one worker, N followers of one room (real SSE clients on loopback), S steps.

For each step, the latency is the time from the presenter's POST /step to each follower reading the step event;
the script prints the number of connections, the p50/p90/p99/max of those latencies, and the server's RSS before
and with the followers connected. Budget (issue 12): 500 followers, p99 under 300 ms. Nothing here asserts: the
machine is shared and noisy; read the numbers.

    .venv/bin/python bench/classroom.py [--followers 500] [--steps 20] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.scenarios import load_library
from tests.live import live_server
from tests.sse import Follower


def _post(url: str, body: Any, key: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"} | ({"X-Presenter-Key": key} if key else {})
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def bench(base: str, pid: int, followers: int, steps: int) -> None:
    demo = load_library().get("close-during-send").source.demo or ()  # type: ignore[union-attr]
    run = f"/play/close-during-send?v=2&s={'.'.join(demo)}"
    room = _post(f"{base}/api/rooms", {"url": f"{run}&at=0"})
    code, key = room["code"], room["key"]
    rss_before = _rss_kb(pid)
    started = time.perf_counter()
    clients = []
    for batch in range(0, followers, 50):  # connect in batches, as a class arrives
        clients += await asyncio.gather(
            *(Follower.connect(f"{base}/api/rooms/{code}/events") for _ in range(min(50, followers - batch)))
        )
    await asyncio.gather(*(c.until("step") for c in clients))
    connected_s = time.perf_counter() - started
    latencies: list[float] = []
    posts: list[float] = []  # the presenter's POST alone, answered once the step is published
    for n in range(1, steps + 1):
        at = n % len(demo)
        label = f"step {at} of"

        async def arrival(c: Follower, label: str = label) -> float:
            await c.until("step", label, timeout=30)
            return time.perf_counter()  # when this follower read it

        waiting = [asyncio.create_task(arrival(c)) for c in clients]
        await asyncio.sleep(0.2)  # every follower is waiting before the step is sent
        sent = time.perf_counter()
        await asyncio.to_thread(_post, f"{base}/api/rooms/{code}/step", {"url": f"{run}&at={at}"}, key)
        posts.append((time.perf_counter() - sent) * 1000)
        latencies += [(t - sent) * 1000 for t in await asyncio.gather(*waiting)]
    rss_with = _rss_kb(pid)
    state = json.loads(urllib.request.urlopen(f"{base}/api/rooms/{code}", timeout=10).read())
    for c in clients:
        c.close()
    print(f"connections: {len(clients)} followers of one room (server counts {state['followers']})")
    print(f"connected in {connected_s:.2f} s; {steps} steps broadcast, {len(latencies)} deliveries")
    print(
        "latency ms (POST step -> step event read by each follower): "
        f"p50 {_pct(latencies, 50):.1f}, p90 {_pct(latencies, 90):.1f}, p99 {_pct(latencies, 99):.1f}, "
        f"max {max(latencies):.1f} (budget: p99 < 300)"
    )
    print(f"the presenter's POST /step alone: p50 {_pct(posts, 50):.1f} ms, max {max(posts):.1f} ms")
    print(f"server RSS: {rss_before / 1024:.1f} MB before, {rss_with / 1024:.1f} MB with the followers")
    print(f"bench client max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--followers", type=int, default=500)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--redis", default=None, help="REDIS_URL: broadcast through Redis pub/sub instead")
    args = parser.parse_args()
    env = {"REDIS_URL": args.redis} if args.redis else {"REDIS_URL": ""}
    # One worker; the file-descriptor limit must hold every follower's socket on both sides.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.followers + 256)), hard))
    with live_server("--limit-concurrency", str(2 * args.followers + 100), env=env) as server:
        print(
            f"server: one uvicorn worker at {server.url}, {'Redis ' + args.redis if args.redis else 'in-process broker'}"
        )
        asyncio.run(bench(server.url, server.pid, args.followers, args.steps))


if __name__ == "__main__":
    main()
