"""Rendered steps, cached by URL: a versioned step link always renders the same thing, so it is rendered once.

A player page or fragment is a pure function of its URL, of whether htmx asked for the fragment, and of the build
(code, templates, built-in scenarios). Hence:
  - ``StepCache`` keeps rendered bodies by that key, bounded in bytes (least recently used out first), so a class
    opening the same demo step costs one render;
  - ``etag`` names a rendering without rendering it, so a browser or a CDN that already has it gets a 304;
  - ``BUILD`` changes whenever anything that shapes a rendering changes, so a new deployment never serves an old
    rendering under a current ETag.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# A day: within one deployment a step URL's rendering never changes; across deployments the ETag does.
CACHE_CONTROL = "public, max-age=86400"


def _build_id() -> str:
    """A digest of every file that shapes a rendering: the code, the templates, static files and scenarios."""
    digest = hashlib.sha256()
    for folder in ("app", "templates", "static", "scenarios", "lessons"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


BUILD = _build_id()


@dataclass(frozen=True)
class StepKey:
    """What a rendered step depends on: the page it is on (/play or /embed), its URL's query, and the variant."""

    base: str
    path: str
    query: str
    fragment: bool
    meter: bool = (
        False  # whether the scenario's reachability meter was ready (else the step shows a placeholder)
    )

    @property
    def etag(self) -> str:
        text = f"{BUILD}\n{self.base}\n{self.path}\n{self.query}\n{self.fragment}\n{self.meter}"
        return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


class StepCache:
    """Rendered bodies by StepKey, at most ``max_bytes`` in all; safe to share between request threads."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024, max_entry: int = 1024 * 1024):
        self.max_bytes = max_bytes
        self.max_entry = max_entry  # a body larger than this is not worth a slot
        self._bodies: OrderedDict[StepKey, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: StepKey) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: StepKey, body: bytes) -> None:
        if len(body) > self.max_entry:
            return
        with self._lock:
            old = self._bodies.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._bodies[key] = body
            self._size += len(body)
            while self._size > self.max_bytes:
                _, dropped = self._bodies.popitem(last=False)
                self._size -= len(dropped)

    @property
    def size(self) -> int:
        return self._size


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether a request's If-None-Match names this ETag (or is '*')."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag in tags or "*" in tags
