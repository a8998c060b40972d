"""The reachability meter on every stage: for each rule the scenario can break, whether at this step it has
happened, is now unavoidable, is still possible, or can no longer happen.

A scenario's whole state graph is searched once (app/sim/reach.py), in the background and bounded, and kept; each
step is then a lookup. Until the search is done, the stage shows a placeholder that asks again (``GET /meter/...``
with the player's form, so it follows the learner's steps), and the rendered steps say whether they carry the
meter, so that a cached step never keeps a placeholder (app/web/player.py keys its cache on it).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from app.sim import RULES, CompiledScenario
from app.sim.model import State
from app.sim.reach import Meter, measure

MAX_STATES = 80_000  # as a search (app/web/explore.py): about 1.5 KB a state while searching
TIME_LIMIT_S = 30.0  # beyond this the meter is labelled "within N states" rather than left computing
KEPT = 24  # meters of custom scenarios kept; one is a few bytes a state once searched

Word = Literal["happened", "unavoidable", "possible", "impossible", "not_found"]
SAYS: dict[str, str] = {
    "happened": "happened",
    "unavoidable": "now unavoidable",
    "possible": "still possible",
    "impossible": "no longer possible",
    "not_found": "not found",
}


@dataclass(frozen=True)
class Reading:
    """The meter at one step: one line per rule."""

    kind: str
    rule: str
    title: str
    word: Word
    says: str
    count: int | None  # continuations from here that break it, when counted
    continuations: int | None


class Meters:
    """Meters by scenario, computed one at a time in a background thread and kept: the ``pinned`` ones (the
    built-in scenarios: all of them together take about 6 MB) for the life of the process, and up to ``kept``
    others (custom scenarios), least recently used out. Evicting a built-in one would have a gallery's worth of
    visitors recompute meters over and over (the sandbox's takes seconds)."""

    def __init__(
        self,
        max_states: int = MAX_STATES,
        time_limit_s: float = TIME_LIMIT_S,
        kept: int = KEPT,
        pinned: frozenset[str] = frozenset(),
    ):
        self.max_states, self.time_limit_s, self.kept, self.pinned = max_states, time_limit_s, kept, pinned
        self._done: OrderedDict[str, Meter] = OrderedDict()
        self._running: dict[str, Future[Meter]] = {}
        self._definitions: OrderedDict[str, str] = OrderedDict()  # a custom link's def -> its fingerprint
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="meter")
        self._closing = threading.Event()

    def known(self, compiled: CompiledScenario | None, definition: str | None) -> bool:
        """Whether a step's meter is ready, asked before the step is located (to key the rendered-step cache): by
        the built-in scenario, or by the encoded custom scenario of a link seen before."""
        with self._lock:
            key = compiled.fingerprint if compiled is not None else self._definitions.get(definition or "")
            return key is not None and key in self._done

    def remember(self, definition: str, compiled: CompiledScenario) -> None:
        """Note which scenario a custom link's ``def`` encodes, so that ``known`` can answer for it."""
        with self._lock:
            self._definitions[definition] = compiled.fingerprint
            while len(self._definitions) > 4 * self.kept:
                self._definitions.popitem(last=False)

    def ready(self, compiled: CompiledScenario) -> Meter | None:
        """The scenario's meter if it has been computed; otherwise start computing it and answer None."""
        key = compiled.fingerprint
        with self._lock:
            meter = self._done.get(key)
            if meter is not None:
                self._done.move_to_end(key)
                return meter
            if key in self._running:
                return None
            future = self._pool.submit(self._compute, compiled)
            self._running[key] = future
        # Outside the lock: a search that has already finished runs its callback right here, and the callback
        # takes the lock.
        future.add_done_callback(partial(self._finish, key))
        return None

    def wait(self, compiled: CompiledScenario, timeout: float | None = None) -> Meter:
        """The scenario's meter, computing it if need be (for the API, which answers when it has it)."""
        meter = self.ready(compiled)
        if meter is not None:
            return meter
        with self._lock:
            future = self._running.get(compiled.fingerprint)
            done = self._done.get(compiled.fingerprint)
        if done is not None:
            return done
        assert future is not None
        return future.result(timeout)

    def close(self) -> None:
        """Stop: a search under way ends at its next check, and queued ones never start (server shutdown)."""
        self._closing.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _compute(self, compiled: CompiledScenario) -> Meter:
        deadline = time.monotonic() + self.time_limit_s
        return measure(
            compiled,
            self.max_states,
            should_stop=lambda _states: self._closing.is_set() or time.monotonic() > deadline,
        )

    def _finish(self, key: str, future: Future[Meter]) -> None:
        with self._lock:
            self._running.pop(key, None)
            if not future.cancelled() and future.exception() is None:
                self._done[key] = future.result()
                unpinned = [k for k in self._done if k not in self.pinned]
                for oldest in unpinned[: max(0, len(unpinned) - self.kept)]:
                    del self._done[oldest]


def readings(meter: Meter, state: State, broken: frozenset[str]) -> list[Reading]:
    """The meter's lines for a step whose state is ``state`` and whose run has broken ``broken`` so far (at the
    end of a run, the end-of-run violations included)."""
    reach = meter.at(state)
    # What matters most first: what must still happen, then what may, then what did, then what cannot.
    order = {"unavoidable": 0, "possible": 1, "not_found": 2, "happened": 3, "impossible": 4}
    lines = []
    for kind in sorted(meter.kinds | broken, key=lambda k: (RULES[k].rule, k)):
        if reach is None:  # not seen by a search that was cut short
            word: Word = "happened" if kind in broken else "not_found"
        else:
            word = reach.verdict(kind, broken)  # type: ignore[assignment]
            if word == "impossible" and not meter.exact:
                word = "not_found"
            if word == "unavoidable" and not meter.exact:
                word = "possible"
        count = reach.count(kind) if reach is not None and word in ("possible", "unavoidable") else None
        lines.append(
            Reading(
                kind=kind,
                rule=RULES[kind].rule,
                title=RULES[kind].title,
                word=word,
                says=SAYS[word],
                count=count,
                continuations=reach.continuations if reach is not None else None,
            )
        )
    return sorted(lines, key=lambda line: order[line.word])


def view(meter: Meter | None, state: State, broken: frozenset[str]) -> dict[str, Any]:
    """What the stage's meter shows: its lines, or that it is still being computed."""
    if meter is None:
        return {"ready": False}
    return {
        "ready": True,
        "exact": meter.exact,
        "states": meter.states,
        "lines": readings(meter, state, broken),
    }
