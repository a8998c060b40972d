"""Helpers for tests of searches: requests for searches that take long enough to watch, and waiting for a change."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# The sandbox with up to ten preemptions takes about half a minute to search, so it is still running whenever a
# test looks; the tests cancel it when they are done.
LONG_SEARCH: dict[str, Any] = {
    "scenario": "sandbox",
    "bounds": {"max_preemptions": 10, "time_limit_ms": 30_000},
}


def long_search(n: int = 0) -> dict[str, Any]:
    """The n-th of several distinct long searches (they differ only in their time limit, so in their id)."""
    return {**LONG_SEARCH, "bounds": {**LONG_SEARCH["bounds"], "time_limit_ms": 30_000 + n}}


def eventually(
    get: Callable[[], T], until: Callable[[T], bool], timeout: float = 30.0, every: float = 0.05
) -> T:
    """Call ``get`` until ``until`` holds for its answer; fail with the last answer after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not there after {timeout} s: {value!r}"[:2000])
        time.sleep(every)
