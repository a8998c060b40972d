"""Abuse bench: replays the hardening issue's bombs against a live server and prints what each costs everyone else.

For each bomb it prints the answer's status, how long the bomb took, the worst latency of a cheap request
(GET /healthz) made from another connection meanwhile, and the server's peak RSS so far. The baseline, measured in
the same run before any bomb, is the cheap request's worst latency on an idle server and the idle RSS.

Targets (DESIGN section 8): no bomb delays other requests by more than 1 s; peak RSS stays under 500 MB.

Run: .venv/bin/python bench/abuse.py            (starts its own uvicorn on a free loopback port)
     .venv/bin/python bench/abuse.py --workers 2
It sends traffic only to 127.0.0.1. Asserts nothing; prints numbers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.web.explore import MAX_STATES
from app.web.links import encode_definition
from tests.bombs import ENDLESS, IRP_LOOP, slow_condition
from tests.live import live_server

LATENCY_TARGET_S = 1.0
RSS_TARGET_MB = 500


class Server:
    def __init__(self, base: str):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, int]:
        """(status, bytes of the answer); a connection the server drops counts as status 0."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, len(response.read())
        except (OSError, http.client.HTTPException):
            return 0, 0
        finally:
            connection.close()

    def post_json(self, path: str, data: Any) -> tuple[int, int]:
        return self.request("POST", path, json.dumps(data).encode(), {"content-type": "application/json"})


def rss_mb(pids: list[int]) -> tuple[float, float]:
    """(current, peak) resident memory of the server processes, from /proc."""
    now = peak = 0.0
    for pid in pids:
        try:
            fields = dict(
                line.split(":", 1)
                for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if ":" in line
            )
        except OSError:
            continue
        now += int(fields["VmRSS"].split()[0]) / 1024
        peak = max(peak, int(fields["VmHWM"].split()[0]) / 1024)
    return now, peak


def server_pids(root_pid: int) -> list[int]:
    """The uvicorn process and its workers."""
    pids = [root_pid]
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"PPid:\t{root_pid}\n" in status.read_text():
                pids.append(int(status.parent.name))
        except OSError:
            pass
    return pids


def worst_cheap_latency(server: Server, while_running: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run the bomb; meanwhile poll /healthz. Returns (the bomb's result, its seconds, worst probe seconds)."""
    done = threading.Event()
    worst = 0.0

    def probe() -> None:
        nonlocal worst
        while not done.is_set():
            started = time.perf_counter()
            server.request("GET", "/healthz")
            worst = max(worst, time.perf_counter() - started)
            time.sleep(0.02)

    prober = threading.Thread(target=probe)
    prober.start()
    started = time.perf_counter()
    try:
        result = while_running()
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        prober.join()
    return result, elapsed, worst


def bombs(server: Server) -> list[tuple[str, Callable[[], Any]]]:
    redos_link = f"/play/custom?v=2&def={encode_definition(slow_condition(110))}"
    loop_run = {"scenario": IRP_LOOP, "schedule": ["Loop"] * 2000}
    loop_link = f"/export/custom?v=2&def={encode_definition(IRP_LOOP)}&s={'.'.join(['Loop'] * 2000)}"
    big = b"{" + b" " * (20 * 1024 * 1024) + b"}"

    def chunked_20mb() -> tuple[int, int]:
        def chunks() -> Any:
            for _ in range(20):
                yield b" " * (1024 * 1024)

        connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
        try:
            connection.request(
                "POST",
                "/api/run",
                body=chunks(),
                headers={"content-type": "application/json"},
                encode_chunked=True,
            )
            response = connection.getresponse()
            return response.status, len(response.read())
        except OSError:
            return 0, 0
        finally:
            connection.close()

    def at_once(count: int, fn: Callable[[], tuple[int, int]]) -> tuple[int, int]:
        with ThreadPoolExecutor(count) as pool:
            results = list(pool.map(lambda _: fn(), range(count)))
        return results[0][0], sum(size for _, size in results)

    def search_storm() -> tuple[int, int]:
        """Ten different searches of an endless space at the largest bounds, watched for 30 s, then cancelled."""
        accepted, statuses = [], []
        for n in range(10):
            connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
            body = {"scenario": ENDLESS, "bounds": {"max_states": MAX_STATES - n, "time_limit_ms": 60_000}}
            connection.request(
                "POST",
                "/api/explore/searches",
                json.dumps(body).encode(),
                {"content-type": "application/json"},
            )
            response = connection.getresponse()
            answer = response.read()
            statuses.append(response.status)
            if response.status == 202:
                accepted.append(json.loads(answer)["cancel"])
            connection.close()
        time.sleep(30)
        for url in accepted:
            server.request("POST", url)
        return max(set(statuses), key=statuses.count), len(accepted)

    return [
        ("condition of 110 spaces and '=' in a GET link", lambda: server.request("GET", redos_link)),
        (
            "the same condition, POST /api/run",
            lambda: server.post_json("/api/run", {"scenario": slow_condition(110)}),
        ),
        (
            "the same condition, POST /api/explore",
            lambda: server.post_json("/api/explore", {"scenario": slow_condition(110)}),
        ),
        ("a 2,000-step IRP loop, POST /api/run", lambda: server.post_json("/api/run", loop_run)),
        (
            "the same, whole states at every step",
            lambda: server.post_json("/api/run", {**loop_run, "states": "every_step"}),
        ),
        (
            "four /export links of the loop at once",
            lambda: at_once(4, lambda: server.request("GET", loop_link)),
        ),
        (
            "a 20 MB body with Content-Length",
            lambda: server.request("POST", "/api/run", big, {"content-type": "application/json"}),
        ),
        ("a 20 MB chunked body", chunked_20mb),
        (
            "a 1 MB demo list",
            lambda: server.post_json(
                "/api/run",
                {
                    "scenario": {
                        **IRP_LOOP,
                        "expect": "buggy",
                        "bugs": ["deadlock"],
                        "demo": ["Loop"] * 200_000,
                    }
                },
            ),
        ),
        ("at=%C2%B2", lambda: server.request("GET", "/play/seed-close-socket?v=2&s=App&at=%C2%B2")),
        (
            "an at of 5,000 digits",
            lambda: server.request("GET", f"/play/seed-close-socket?v=2&at={'9' * 5000}"),
        ),
        (
            "an id ending in a newline, /export",
            lambda: server.request("GET", "/export/seed-close-socket%0A?v=2"),
        ),
        ("a 100 KB URL", lambda: server.request("GET", f"/play/seed-close-socket?v=2&s={'A.' * 50_000}")),
        ("ten endless searches, watched for 30 s (a storm)", search_storm),
        (
            "fifty clients stepping the sandbox at once",
            lambda: at_once(50, lambda: server.request("GET", "/play/sandbox?v=2&s=")),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    extra = ("--workers", str(args.workers)) if args.workers > 1 else ()
    with live_server(*extra) as live:
        server, pid = Server(live.url), live.pid
        time.sleep(1.0 if args.workers > 1 else 0)
        _, _, idle = worst_cheap_latency(server, lambda: time.sleep(2))
        idle_rss, _ = rss_mb(server_pids(pid))
        print(
            f"baseline: worst /healthz latency on an idle server {idle * 1000:.1f} ms; RSS {idle_rss:.0f} MB"
        )
        print(f"{'bomb':50} {'status':>6} {'took':>8} {'worst other':>12} {'x idle':>8} {'peak RSS':>9}")
        failures = []
        for name, bomb in bombs(server):
            (status, _), took, worst = worst_cheap_latency(server, bomb)
            pids = server_pids(pid)
            _, peak = rss_mb(pids)
            print(
                f"{name[:50]:50} {status:>6} {took:>7.2f}s {worst * 1000:>10.0f}ms "
                f"{worst / max(idle, 1e-3):>7.1f}x {peak:>7.0f}MB"
            )
            if worst > LATENCY_TARGET_S or peak > RSS_TARGET_MB or status == 0 or status >= 500:
                failures.append(name)
        print(
            f"targets: other requests delayed by at most {LATENCY_TARGET_S:.0f} s, peak RSS under {RSS_TARGET_MB} MB, "
            "no 5xx and no dropped connection"
        )
        print(
            "all bombs within the targets" if not failures else f"outside the targets: {'; '.join(failures)}"
        )


if __name__ == "__main__":
    main()
