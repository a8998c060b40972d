"""Which version of a built-in scenario a long link was made with: its ``h``, the first characters of the
scenario's content hash. When the scenario has changed since, the stage says so and offers the version the link
was made with, which the store (app/db) keeps for every built-in version the server has served."""

from __future__ import annotations

from fastapi import Request

from app.db import Store
from app.sim import CompiledScenario
from app.web.link_versions import accounted_for
from app.web.links import LinkError, encode_definition, play_link

HASH_CHARS = 8  # enough to tell versions apart, short enough to read in a link
MAX_HASH_CHARS = 16  # the whole fingerprint


def content_hash(compiled: CompiledScenario) -> str:
    """The short content hash a long link to a built-in scenario carries (``h``)."""
    return compiled.fingerprint[:HASH_CHARS]


def made_with(request: Request, compiled: CompiledScenario) -> dict[str, str] | None:
    """None when the link carries no ``h`` or this version's; else what to say, and (when the store has it) the
    stage of the version the link was made with, at the link's schedule and step."""
    wanted = request.query_params.get("h", "")
    if not wanted or len(wanted) > MAX_HASH_CHARS or compiled.fingerprint.startswith(wanted):
        return None
    if accounted_for(request.query_params.get("v"), compiled.source.id, wanted):
        return None  # changed since exactly as the link's version says: the run shown is the one shared
    notice = {
        "says": "This scenario has changed since this link was made, so the run shown here may differ from the "
        "one that was shared.",
        "stored": "",
    }
    store: Store = request.app.state.store
    earlier = store.scenario_with_prefix(wanted)
    if earlier is not None:
        schedule = tuple(s for s in request.query_params.get("s", "").split(".") if s)
        at_text = request.query_params.get("at", "")
        at = int(at_text) if at_text.isascii() and at_text.isdigit() and len(at_text) < 6 else None
        try:
            definition = encode_definition(earlier[1])
            notice["stored"] = play_link(compiled.source.id, schedule, at=at, definition=definition)
        except LinkError:
            pass
    return notice
