"""Explorer searches off the event loop: one run per search, observable while it runs, cancellable, never forgotten
while it runs, and answerable by any worker.

A search is deterministic, so it is named by what it searches: its id spells out the scenario (a built-in id, or
"custom"), the scenario's fingerprint, the bounds and the time limit (``SearchKey``). Hence:
  - an identical request names the same search, and shares the running one or gets its report, rather than
    starting a second run or being refused;
  - an id stays meaningful after a restart or an eviction: the web layer rebuilds the search from it (a custom
    scenario also needs its link definition) and runs it again.

Where searches live (a ``Store``): ``MemoryStore`` for one process, the embedded default; ``RedisStore`` when several
workers share a Redis (``REDIS_URL``): state, progress, cancel requests and finished reports are kept there, so any
worker answers for any search, a cancel reaches the worker that runs it, and the slot limit counts every worker.

Everything is bounded:
  - ``capacity`` user searches run at once (across every worker); the next distinct one is refused (``Busy``, which
    the API answers with 429 and Retry-After) instead of queued, so a thread pool's queue never grows;
  - a running search is never evicted; at most ``keep`` finished reports are kept, oldest first out;
  - the fix verifier's searches run on a lane of their own (one thread, no user slot), for a bounded set of targets,
    and their verdicts are kept for the life of the process.

In Redis, a running search holds a lease (``LEASE_S``) that its worker renews whenever it reports progress. A
worker that dies stops renewing, so its slot and its running record expire instead of leaking.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import redis
from starlette.concurrency import run_in_threadpool

from app.sim import CompiledScenario
from app.sim.explore import Bounds, Progress, Report, explore

log = logging.getLogger(__name__)

Status = Literal["running", "done", "cancelled", "failed"]
# A running search that reports no progress for this long is presumed dead (its worker crashed).
LEASE_S = 15.0
HEARTBEAT_S = 0.2  # with Redis: progress, lease and cancel request are exchanged at most this often
POLL_S = 0.1  # waiting for a search that another worker runs
KEEP_REPORTS_S = 24 * 3600  # with Redis: a finished report also expires after a day
MAX_VERDICTS = 256  # the fix verifier's kept verdicts: far more than the built-in families hold
LOST = "lost"  # a run stops with this when its lease was taken over; it is never shown


class Busy(RuntimeError):
    """Every search slot is taken; try again after ``retry_after`` seconds."""

    retry_after = 5


class Unavailable(RuntimeError):
    """The shared store (Redis) did not answer; the message says so, and the request may be retried."""

    retry_after = 5


_ID = re.compile(
    r"(?P<scenario>[a-z0-9][a-z0-9-]{0,63})\.(?P<version>[0-9a-f]{16})\."
    r"(?P<states>[0-9]{1,9})\.(?P<depth>[0-9]{1,9})\.(?P<preemptions>any|[0-9]{1,9})\.(?P<time>[0-9]{1,9})"
    r"(?:\.after-(?P<after>[0-9a-f]{16}))?"
)


def prefix_digest(prefix: tuple[str, ...]) -> str | None:
    """What names a prefix in a search id: too long to spell out, it travels beside the id (``?prefix=``)."""
    if not prefix:
        return None
    return hashlib.sha256(".".join(prefix).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SearchKey:
    """Everything a search's report depends on. ``id`` spells it out; ``parse`` reads an id back."""

    scenario: str  # a built-in scenario id, or "custom" (the scenario then travels as a link definition)
    version: str  # the scenario's fingerprint: another version of the scenario is another search
    bounds: Bounds
    time_limit_ms: int
    after: str | None = None  # the digest of the prefix the search starts after, if any (``prefix_digest``)

    @property
    def id(self) -> str:
        b = self.bounds
        preemptions = "any" if b.max_preemptions is None else str(b.max_preemptions)
        bounds = f"{b.max_states}.{b.max_depth}.{preemptions}.{self.time_limit_ms}"
        after = "" if self.after is None else f".after-{self.after}"
        return f"{self.scenario}.{self.version}.{bounds}{after}"

    @classmethod
    def parse(cls, search_id: str) -> SearchKey | None:
        """The key an id spells, or None if the text is not a search id (bounds are not range-checked here)."""
        m = _ID.fullmatch(search_id)
        if m is None:
            return None
        preemptions = None if m["preemptions"] == "any" else int(m["preemptions"])
        bounds = Bounds(int(m["states"]), int(m["depth"]), preemptions)
        return cls(m["scenario"], m["version"], bounds, int(m["time"]), m["after"])


@dataclass(frozen=True)
class Target:
    """A search to run: its key, the compiled scenario, for a custom scenario its link definition, and the prefix
    (a schedule) it starts after."""

    key: SearchKey
    scenario: CompiledScenario
    definition: str | None
    prefix: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        scenario: CompiledScenario,
        definition: str | None,
        bounds: Bounds,
        time_limit_ms: int,
        prefix: tuple[str, ...] = (),
    ) -> Target:
        name = "custom" if definition is not None else scenario.source.id
        key = SearchKey(name, scenario.fingerprint, bounds, time_limit_ms, prefix_digest(prefix))
        return cls(key, scenario, definition, prefix)


@dataclass(frozen=True)
class Search:
    """A search as it stands. Immutable: the store replaces it as it progresses and when it ends."""

    key: SearchKey
    scenario: str  # the scenario's own id (a custom scenario's too), for answers and links
    definition: str | None  # a custom scenario's link definition, so witness links replay it
    status: Status
    progress: Progress
    started_at: float  # wall clock, so that any worker can tell how long it has run
    run: str  # which run wrote it: a run that lost its lease never overwrites the run that took over
    elapsed: int | None = None  # milliseconds, once it ended
    report: Report | None = None
    # Its report is the answer to any identical request: it ended by itself or by a bound, not by a cancel, a
    # clock or a failure.
    reusable: bool = False
    cancel_requested: bool = False
    prefix: tuple[str, ...] = ()  # the schedule the search starts after, so that its address can carry it

    @property
    def id(self) -> str:
        return self.key.id

    @property
    def elapsed_ms(self) -> int:
        if self.elapsed is not None:
            return self.elapsed
        return max(0, int((time.time() - self.started_at) * 1000))


class Store(Protocol):
    """Where searches are kept. Every method is atomic with respect to every other caller (thread or worker)."""

    heartbeat_s: float

    def get(self, search_id: str) -> Search | None: ...

    def claim(self, fresh: Search, capacity: int | None) -> tuple[Search, bool]:
        """The running or reusable search with fresh's id and False; else ``fresh`` stored as running and True.

        With a ``capacity``, a new run also takes a slot, or raises Busy when ``capacity`` runs hold one.
        """
        ...

    def heartbeat(self, search_id: str, run: str, progress: Progress) -> str | None:
        """Record progress and renew the lease; "cancelled" if a cancel was requested, LOST if another run took
        over, else None."""
        ...

    def finish(self, search: Search) -> None:
        """Store the ended search (unless another run took over), free its slot, evict the oldest beyond keep."""
        ...

    def release(self, run: str) -> None:
        """Free a lost run's slot without storing anything."""
        ...

    def cancel(self, search_id: str) -> Search | None:
        """Ask a running search to stop (its run notices at its next heartbeat); the search as it stands."""
        ...


def _busy(capacity: int) -> Busy:
    return Busy(f"All {capacity} search slots are taken by running searches; try again in a few seconds.")


class MemoryStore:
    """One process's searches, in memory."""

    heartbeat_s = 0.0  # progress is a dictionary write: record all of it

    def __init__(self, keep: int):
        self.keep = keep
        self._lock = threading.Lock()
        self._searches: dict[str, Search] = {}
        # Ended searches, oldest first: only these are ever evicted.
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._slots: set[str] = set()  # runs that hold a user slot

    def get(self, search_id: str) -> Search | None:
        with self._lock:
            return self._searches.get(search_id)

    def claim(self, fresh: Search, capacity: int | None) -> tuple[Search, bool]:
        with self._lock:
            current = self._searches.get(fresh.id)
            if current is not None and (current.status == "running" or current.reusable):
                return current, False
            if capacity is not None:
                if len(self._slots) >= capacity:
                    raise _busy(capacity)
                self._slots.add(fresh.run)
            self._finished.pop(fresh.id, None)
            self._searches[fresh.id] = fresh
            return fresh, True

    def heartbeat(self, search_id: str, run: str, progress: Progress) -> str | None:
        with self._lock:
            current = self._searches.get(search_id)
            if current is None or current.run != run:
                return LOST
            self._searches[search_id] = replace(current, progress=progress)
            return "cancelled" if current.cancel_requested else None

    def finish(self, search: Search) -> None:
        with self._lock:
            self._slots.discard(search.run)
            current = self._searches.get(search.id)
            if current is not None and current.run != search.run:
                return
            self._searches[search.id] = search
            self._finished[search.id] = None
            while len(self._finished) > self.keep:
                oldest, _ = self._finished.popitem(last=False)
                del self._searches[oldest]

    def release(self, run: str) -> None:
        with self._lock:
            self._slots.discard(run)

    def cancel(self, search_id: str) -> Search | None:
        with self._lock:
            current = self._searches.get(search_id)
            if current is not None and current.status == "running":
                current = self._searches[search_id] = replace(current, cancel_requested=True)
            return current


# Redis keys. A search is a hash under PREFIX + id; SLOTS maps each run holding a user slot to its lease's expiry
# (milliseconds, the server's clock, so workers' clocks need not agree); KEPT maps ended searches to when they ended.
PREFIX = "wsk:search:"
SLOTS = "wsk:searches:slots"
KEPT = "wsk:searches:kept"

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

# KEYS: search, SLOTS, KEPT. ARGV: id, run, capacity (-1: takes no slot), lease ms, then the new hash's fields.
_CLAIM = (
    _NOW
    + """
if redis.call('HGET', KEYS[1], 'status') == 'running' or redis.call('HGET', KEYS[1], 'reusable') == '1' then
  return {0, redis.call('HGETALL', KEYS[1])}
end
local capacity = tonumber(ARGV[3])
if capacity >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= capacity then return {-1} end
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[2])
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1}
"""
)

# KEYS: search, SLOTS. ARGV: run, lease ms, states, transitions, depth.
_HEARTBEAT = (
    _NOW
    + """
if redis.call('HGET', KEYS[1], 'run') ~= ARGV[1] then return 'lost' end
redis.call('HSET', KEYS[1], 'states', ARGV[3], 'transitions', ARGV[4], 'depth', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'XX', now + tonumber(ARGV[2]), ARGV[1])
if redis.call('HGET', KEYS[1], 'cancel') == '1' then return 'cancelled' end
return ''
"""
)

# KEYS: search, SLOTS, KEPT. ARGV: id, run, keep, ttl ms, key prefix, then the hash's fields.
_FINISH = (
    _NOW
    + """
redis.call('ZREM', KEYS[2], ARGV[2])
local owner = redis.call('HGET', KEYS[1], 'run')
if owner and owner ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[3], now, ARGV[1])
local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[3])
if over > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[3], 0, over - 1)) do
    if redis.call('HGET', ARGV[5] .. old, 'status') ~= 'running' then redis.call('DEL', ARGV[5] .. old) end
  end
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, over - 1)
end
return 1
"""
)

# KEYS: search.
_CANCEL = """
if redis.call('HGET', KEYS[1], 'status') == 'running' then redis.call('HSET', KEYS[1], 'cancel', '1') end
return redis.call('HGETALL', KEYS[1])
"""


@contextmanager
def _answering() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as err:
        raise Unavailable(
            f"The shared search store (Redis) did not answer ({err}); try again in a few seconds."
        ) from None


class RedisStore:
    """Searches shared by every worker through Redis. Each change is one Lua script, so it is atomic."""

    heartbeat_s = HEARTBEAT_S

    def __init__(self, client: redis.Redis, keep: int, lease_s: float = LEASE_S):
        self.keep = keep
        self.lease_ms = int(lease_s * 1000)
        self._redis = client
        self._claim = client.register_script(_CLAIM)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._finish = client.register_script(_FINISH)
        self._cancel = client.register_script(_CANCEL)

    def get(self, search_id: str) -> Search | None:
        if SearchKey.parse(search_id) is None:  # no key for text that cannot be an id
            return None
        with _answering():
            fields: dict[str, str] = self._redis.hgetall(PREFIX + search_id)  # type: ignore[assignment]
        return _from_fields(search_id, fields)

    def claim(self, fresh: Search, capacity: int | None) -> tuple[Search, bool]:
        args: list[str | int] = [fresh.id, fresh.run, -1 if capacity is None else capacity, self.lease_ms]
        with _answering():
            answer: list[Any] = self._claim(keys=[PREFIX + fresh.id, SLOTS, KEPT], args=args + _flat(fresh))
        if answer[0] == -1:
            raise _busy(capacity or 0)
        if answer[0] == 1:
            return fresh, True
        current = _from_fields(fresh.id, dict(zip(answer[1][::2], answer[1][1::2], strict=True)))
        assert current is not None
        return current, False

    def heartbeat(self, search_id: str, run: str, progress: Progress) -> str | None:
        args: list[str | int] = [run, self.lease_ms, progress.states, progress.transitions, progress.depth]
        with _answering():
            answer = self._heartbeat(keys=[PREFIX + search_id, SLOTS], args=args)
        return str(answer) or None

    def finish(self, search: Search) -> None:
        args: list[str | int] = [search.id, search.run, self.keep, KEEP_REPORTS_S * 1000, PREFIX]
        with _answering():
            self._finish(keys=[PREFIX + search.id, SLOTS, KEPT], args=args + _flat(search))

    def release(self, run: str) -> None:
        with _answering():
            self._redis.zrem(SLOTS, run)

    def cancel(self, search_id: str) -> Search | None:
        if SearchKey.parse(search_id) is None:
            return None
        with _answering():
            flat: list[str] = self._cancel(keys=[PREFIX + search_id])
        return _from_fields(search_id, dict(zip(flat[::2], flat[1::2], strict=True)))


def _flat(search: Search) -> list[str | int]:
    """A search as a Redis hash's field, value, field, value..."""
    p = search.progress
    fields = {
        "status": search.status,
        "scenario": search.scenario,
        "definition": search.definition or "",
        "prefix": ".".join(search.prefix),
        "states": str(p.states),
        "transitions": str(p.transitions),
        "depth": str(p.depth),
        "started_at": repr(search.started_at),
        "run": search.run,
        "elapsed": "" if search.elapsed is None else str(search.elapsed),
        "report": "" if search.report is None else _report_json(search.report),
        "reusable": "1" if search.reusable else "0",
        "cancel": "1" if search.cancel_requested else "0",
    }
    return [item for pair in fields.items() for item in pair]


def _from_fields(search_id: str, f: dict[str, str]) -> Search | None:
    key = SearchKey.parse(search_id)
    if key is None or "status" not in f:
        return None
    return Search(
        key=key,
        scenario=f["scenario"],
        definition=f["definition"] or None,
        status=f["status"],  # type: ignore[arg-type]
        progress=Progress(int(f["states"]), int(f["transitions"]), int(f["depth"])),
        started_at=float(f["started_at"]),
        run=f["run"],
        elapsed=int(f["elapsed"]) if f["elapsed"] else None,
        report=_report_from_json(f["report"]) if f["report"] else None,
        reusable=f["reusable"] == "1",
        cancel_requested=f.get("cancel") == "1",
        prefix=tuple(f["prefix"].split(".")) if f.get("prefix") else (),
    )


def _report_json(r: Report) -> str:
    return json.dumps(
        {
            "complete": r.complete,
            "stopped_by": r.stopped_by,
            "states": r.states,
            "transitions": r.transitions,
            "terminal_states": r.terminal_states,
            "schedules": r.schedules,
            "outcomes": dict(r.outcomes),
            "witnesses": {kind: list(schedule) for kind, schedule in r.witnesses.items()},
            "max_depth_seen": r.max_depth_seen,
            "reduced": r.reduced,
            "unproven": r.unproven,
        },
        separators=(",", ":"),
    )


def _report_from_json(text: str) -> Report:
    d = json.loads(text)
    return Report(
        complete=d["complete"],
        stopped_by=d["stopped_by"],
        states=d["states"],
        transitions=d["transitions"],
        terminal_states=d["terminal_states"],
        schedules=d["schedules"],
        outcomes=Counter(d["outcomes"]),
        witnesses={kind: tuple(schedule) for kind, schedule in d["witnesses"].items()},
        max_depth_seen=d["max_depth_seen"],
        reduced=d.get("reduced", False),  # a report stored before the reduced search existed was a full one
        unproven=d.get("unproven", []),
    )


class Searches:
    """The deployment's searches: kept in a store (shared when ``shared`` is a Redis client), run in this process.

    Every method but ``wait`` may do network I/O with Redis: async callers run them in a thread.
    """

    def __init__(self, capacity: int = 2, keep: int = 64, shared: redis.Redis | None = None):
        self.capacity = capacity
        self.store: Store = RedisStore(shared, keep) if shared is not None else MemoryStore(keep)
        # With Redis every call is network I/O, which async callers must run in a thread; in memory it is a
        # dictionary look-up under a lock, cheaper than a trip to the thread pool.
        self.networked = shared is not None
        self._pool = ThreadPoolExecutor(max_workers=max(1, capacity), thread_name_prefix="explore")
        self._verifier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify")
        self._runs: dict[str, Future[None]] = {}  # this process's runs, by search id, until they end
        self._user_runs: set[str] = set()  # those of them that hold a user slot
        # The fix verifier's ended searches, kept for the life of the process.
        self._verdicts: dict[str, Search] = {}
        self._lock = threading.Lock()

    def get(self, search_id: str) -> Search | None:
        return self.store.get(search_id)

    def start(self, target: Target) -> Search:
        """The search for ``target``: the one running (shared by every identical request), a reusable report, or
        a new run in a free user slot. Raises Busy when every slot (of every worker) is taken."""
        current = self.store.get(target.key.id)
        if current is not None and (current.status == "running" or current.reusable):
            return current
        with self._lock:
            # This process never takes more runs than slots exist, even if a lease expired under a stalled run:
            # its thread pool's queue stays bounded.
            if len(self._user_runs) >= self.capacity:
                raise _busy(self.capacity)
            search, started = self.store.claim(self._fresh(target), self.capacity)
            if started:
                self._user_runs.add(search.id)
                self._runs[search.id] = self._pool.submit(self._run, target, search)
        return search

    def precompute(self, target: Target) -> Search:
        """The fix verifier's search for ``target``: its verdict once known (kept for the life of the process),
        else the search as it runs. It runs on the verifier's own lane, outside the user slots, so it is never
        refused. Meant for a bounded set of targets (the built-in families)."""
        with self._lock:
            known = self._verdicts.get(target.key.id)
        if known is not None:
            return known
        current = self.store.get(target.key.id)
        if current is None or current.status == "cancelled":
            with self._lock:
                current, started = self.store.claim(self._fresh(target), None)
                if started:
                    self._runs[current.id] = self._verifier.submit(self._run, target, current)
        if current.status in ("done", "failed"):  # a verdict, even a time-limited one: it is not redone
            with self._lock:
                if len(self._verdicts) < MAX_VERDICTS:
                    self._verdicts[current.id] = current
        return current

    def cancel(self, search_id: str) -> Search | None:
        """Ask a running search to stop, wherever it runs; the search as it stands (None if unknown)."""
        return self.store.cancel(search_id)

    async def wait(self, search_id: str, timeout: float | None) -> Search | None:
        """The search once it has ended, or as it stands after ``timeout`` seconds (None: no limit); None if it is
        unknown, or vanished with a crashed worker. Never blocks the event loop."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        with self._lock:
            local = self._runs.get(search_id)
        if local is not None:  # run here: its future says when it ends
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(local)), timeout)
            return await self._read(search_id)
        while True:  # run by another worker: watch the store
            search = await self._read(search_id)
            if search is None or search.status != "running":
                return search
            left = POLL_S if deadline is None else min(POLL_S, deadline - loop.time())
            if left <= 0:
                return search
            await asyncio.sleep(left)

    async def _read(self, search_id: str) -> Search | None:
        if self.networked:
            return await run_in_threadpool(self.store.get, search_id)
        return self.store.get(search_id)

    def close(self) -> None:
        """Cancel this process's runs and stop its threads, without waiting for them."""
        with self._lock:
            running = list(self._runs)
        for search_id in running:
            with suppress(Unavailable):  # unreachable: its lease expires instead
                self.store.cancel(search_id)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._verifier.shutdown(wait=False, cancel_futures=True)

    def _fresh(self, target: Target) -> Search:
        return Search(
            key=target.key,
            scenario=target.scenario.source.id,
            definition=target.definition,
            prefix=target.prefix,
            status="running",
            progress=Progress(1, 0, 0),
            started_at=time.time(),
            run=uuid.uuid4().hex,
        )

    def _run(self, target: Target, search: Search) -> None:
        started = time.monotonic()
        deadline = started + target.key.time_limit_ms / 1000
        last_beat = started
        stop: str | None = (
            None  # why this run stopped the search ("cancelled", "time_limit", LOST), if it did
        )

        def should_stop(progress: Progress) -> str | None:
            nonlocal last_beat, stop
            now = time.monotonic()
            if now - last_beat >= self.store.heartbeat_s:
                last_beat = now
                stop = self.store.heartbeat(search.id, search.run, progress)
            if stop is None and now > deadline:
                stop = "time_limit"
            return stop

        ended: Search | None
        try:
            report = explore(target.scenario, target.key.bounds, should_stop, prefix=target.prefix)
            if stop is not None:
                # The engine names the first cut (a bound may have cut a branch earlier); what ended the search
                # is ours, and it decides whether the report may answer identical requests.
                report.complete, report.stopped_by = False, stop
            ended = replace(
                search,
                status="cancelled" if stop == "cancelled" else "done",
                progress=Progress(report.states, report.transitions, report.max_depth_seen),
                report=report,
                reusable=stop is None,
            )
            if stop == LOST:
                ended = None
        except Exception:
            log.exception("search %s failed", search.id)
            ended = replace(search, status="failed")
        # Leave this process's count first, so that a waiter who sees the search end can start the next one here.
        with self._lock:
            self._runs.pop(search.id, None)
            self._user_runs.discard(search.id)
        try:
            if ended is None:
                self.store.release(search.run)
            else:
                self.store.finish(replace(ended, elapsed=int((time.monotonic() - started) * 1000)))
        except Unavailable:
            log.exception("search %s ended but could not be stored; its lease will expire", search.id)
