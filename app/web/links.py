"""Links that reproduce a run: ``/play/<id>?v=2&s=<schedule>&at=<step>``.

A custom scenario travels inside the link (``def=``: its canonical JSON, deflated and base64url-encoded), so it
needs no storage on the server. Both directions are bounded: a link that is too long, or that inflates into too
much data, is refused with a message rather than processed.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any
from urllib.parse import quote

LINK_VERSION = 2  # app/web/link_versions.py says what links of earlier versions become
MAX_DEF_CHARS = 12_000  # encoded, in the URL
MAX_DEF_BYTES = 128_000  # once inflated


# What a query value keeps unescaped: action ids, '.' between them, and base64url. A link's values are nearly always
# only these, and checking is cheaper than quoting a long schedule character by character (twice a player step).
_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")


def _value(text: str) -> str:
    """A query value as urlencode writes it with safe='.-_~' (spaces as '+', everything else %-escaped)."""
    return text if _SAFE.fullmatch(text) else quote(text, safe=".-_~ ").replace(" ", "+")


class LinkError(ValueError):
    """A link that cannot be decoded, with a message that says what is wrong and what to do."""


def encode_definition(scenario: dict[str, Any]) -> str:
    canonical = json.dumps(scenario, sort_keys=True, separators=(",", ":")).encode()
    packed = zlib.compress(canonical, level=9)
    text = base64.urlsafe_b64encode(packed).decode().rstrip("=")
    if len(text) > MAX_DEF_CHARS:
        raise LinkError(
            f"This scenario is too large to travel in a link ({len(text)} > {MAX_DEF_CHARS} characters)."
        )
    return text


def decode_definition(text: str) -> dict[str, Any]:
    if len(text) > MAX_DEF_CHARS:
        raise LinkError(f"The scenario in this link is too long ({len(text)} > {MAX_DEF_CHARS} characters).")
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_DEF_BYTES + 1)
    except (ValueError, zlib.error):
        raise LinkError(
            "The scenario in this link is damaged (it is not valid deflate+base64url); copy the link again."
        ) from None
    if len(raw) > MAX_DEF_BYTES or inflater.unconsumed_tail:
        raise LinkError(f"The scenario in this link inflates beyond {MAX_DEF_BYTES} bytes; it is refused.")
    try:
        data = json.loads(raw)
    except ValueError:
        raise LinkError(
            "The scenario in this link is not valid JSON once decoded; copy the link again."
        ) from None
    if not isinstance(data, dict):
        raise LinkError("The scenario in this link is not a JSON object.")
    return data


def play_link(
    scenario_id: str, schedule: tuple[str, ...], at: int | None = None, definition: str | None = None
) -> str:
    """The canonical player link for a scenario (built-in, or custom with its definition) at a step."""
    query = f"v={LINK_VERSION}"
    if definition is not None:
        query += f"&def={_value(definition)}"
    query += f"&s={_value('.'.join(schedule))}"
    if at is not None and at != len(schedule):
        query += f"&at={at}"
    path = "custom" if definition is not None else scenario_id
    return f"/play/{path}?{query}"


def lesson_link(lesson_id: str, at: int) -> str:
    """The link to a step of a lesson, in the current link version (its ``v`` says how to read ``at`` once a
    lesson's run changes: app/web/link_versions.py)."""
    return f"/learn/{lesson_id}?v={LINK_VERSION}&at={at}"
