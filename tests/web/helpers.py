"""Helpers for web tests: searches that take long enough to watch, waiting for a change, and pressing the
player's buttons as a browser without script would."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any, TypeVar
from urllib.parse import unquote, urlencode

from fastapi.testclient import TestClient

T = TypeVar("T")

# The sandbox with up to ten preemptions gets the full search (a preemption bound is never reduced), which takes
# over fifteen seconds, so it is still running whenever a test looks; the tests cancel it when they are done.
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


class _Controls(HTMLParser):
    """The player's form (id="nav"): its action, its fields, and every button that submits it, wherever it is."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.buttons: list[dict[str, str]] = []
        self._in_form = False
        self._button: dict[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == "nav":
            self._in_form, self.action = True, a["action"]
        ours = self._in_form or a.get("form") == "nav"
        if tag == "input" and ours and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        if tag == "button" and ours and a.get("type") == "submit":
            self._button, self._text = a, []

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
        if tag == "button" and self._button is not None:
            self.buttons.append({**self._button, "text": " ".join("".join(self._text).split())})
            self._button = None


def controls(html: str) -> _Controls:
    found = _Controls()
    found.feed(html)
    assert found.action, "the page has no player form"
    return found


def press(client: TestClient, html: str, match: Callable[[dict[str, str]], bool]) -> str:
    """Submit the player's form with the one button ``match`` picks, as a browser without script would, and
    answer where the server sends it (the canonical link of the step it leads to)."""
    form = controls(html)
    chosen = [b for b in form.buttons if match(b)]
    assert len(chosen) == 1, f"{len(chosen)} buttons match among {[b.get('text') for b in form.buttons]}"
    query = dict(form.fields)
    if chosen[0].get("name"):
        query[chosen[0]["name"]] = chosen[0].get("value", "")
    response = client.get(form.action + "?" + urlencode(query), follow_redirects=False)
    assert response.status_code == 303, response.text[:500]
    return unquote(response.headers["location"])


def button(id_: str) -> Callable[[dict[str, str]], bool]:
    return lambda b: b.get("id") == id_


def action(action_id: str) -> Callable[[dict[str, str]], bool]:
    return lambda b: b.get("name") == "then" and b.get("value") == action_id


# The narration's words may improve after a link is recorded; the run it tells may not. Since the links in
# tests/web/links were recorded, a routine WSK runs inline is named with the thread it runs on
# ("CloseSocketComplete (on App's thread) reads ..." where it said "App reads ..."). Recorded narration is
# compared with today's put back in the words of then.
INLINE_ROUTINE = re.compile(r"\b\w+ \(on (\w+)'s thread\)")


def worded_then(narration: str) -> str:
    """Today's narration in the words it had when the recorded links were made."""
    return INLINE_ROUTINE.sub(r"\1", narration)
