"""Running explorer searches off the event loop: bounded in number, observable while they run, cancellable.

The engine's explorer has no clock; this module gives it one. Each search runs in a small thread pool with a
``should_stop`` callback that records progress, honours a time limit and a cancel request. At most ``capacity``
searches run at once; the next one is refused (the API answers 429 with Retry-After) rather than queued without
bound. Finished reports are kept by (scenario fingerprint, bounds), since the same search gives the same report.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from app.sim import CompiledScenario
from app.sim.explore import Bounds, Progress, Report, explore


class Busy(RuntimeError):
    """Every search slot is taken; try again after ``retry_after`` seconds."""

    retry_after = 5


@dataclass
class Search:
    id: str
    scenario: CompiledScenario
    definition: str | None
    bounds: Bounds
    time_limit_ms: int
    started: float = field(default_factory=time.monotonic)
    progress: Progress = field(default_factory=lambda: Progress(1, 0, 0))
    cancel: threading.Event = field(default_factory=threading.Event)
    future: Future[Report] | None = None
    finished: float | None = None

    @property
    def status(self) -> str:
        if self.future is None or not self.future.done():
            return "running"
        if self.future.exception() is not None:
            return "failed"
        return "cancelled" if self.future.result().stopped_by == "cancelled" else "done"

    @property
    def elapsed_ms(self) -> int:
        return int(((self.finished or time.monotonic()) - self.started) * 1000)


class Searches:
    def __init__(self, capacity: int = 2, keep: int = 64):
        self.capacity = capacity
        self.keep = keep
        self._pool = ThreadPoolExecutor(max_workers=capacity, thread_name_prefix="explore")
        self._searches: OrderedDict[str, Search] = OrderedDict()
        self._reports: OrderedDict[tuple[str, Bounds, int], Report] = OrderedDict()
        self._lock = threading.Lock()

    def start(
        self, scenario: CompiledScenario, definition: str | None, bounds: Bounds, time_limit_ms: int
    ) -> Search:
        search = Search(uuid.uuid4().hex[:12], scenario, definition, bounds, time_limit_ms)
        key = (scenario.fingerprint, bounds, time_limit_ms)
        with self._lock:
            cached = self._reports.get(key)
            if cached is not None:
                done: Future[Report] = Future()
                done.set_result(cached)
                search.future, search.finished = done, search.started
                search.progress = Progress(cached.states, cached.transitions, cached.max_depth_seen)
            else:
                running = sum(1 for s in self._searches.values() if s.status == "running")
                if running >= self.capacity:
                    raise Busy(f"{running} searches are already running; try again in a few seconds.")
                search.future = self._pool.submit(self._run, search, key)
            self._searches[search.id] = search
            while len(self._searches) > self.keep:
                self._searches.popitem(last=False)
        return search

    def get(self, search_id: str) -> Search | None:
        with self._lock:
            return self._searches.get(search_id)

    def _run(self, search: Search, key: tuple[str, Bounds, int]) -> Report:
        deadline = search.started + search.time_limit_ms / 1000

        def should_stop(progress: Progress) -> str | None:
            search.progress = progress
            if search.cancel.is_set():
                return "cancelled"
            if time.monotonic() > deadline:
                return "time_limit"
            return None

        try:
            report = explore(search.scenario, search.bounds, should_stop)
        finally:
            search.finished = time.monotonic()
        search.progress = Progress(report.states, report.transitions, report.max_depth_seen)
        if report.stopped_by not in ("cancelled", "time_limit"):
            with self._lock:
                self._reports[key] = report
                while len(self._reports) > self.keep:
                    self._reports.popitem(last=False)
        return report
