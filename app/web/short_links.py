"""Short links that never break: ``/s/<id>`` for a step of a run, stored by content (app/db).

``POST /api/short-links`` takes a stage link of this site, replays it exactly as the stage would (``locate``), and
stores the scenario's content, the schedule and the step; the stage's Share popover does the same through
``POST /share/short``. ``GET /s/<id>`` sends the browser to the stage: to the built-in scenario while it is the
version the link was made with, else to the stored version, which travels in the link as a custom scenario.

A long link to a built-in scenario carries ``h``, the first characters of its content hash. When the scenario has
changed since, the stage says so and offers the version the link was made with (the store keeps every built-in
version it has served).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.db import ID_CHARS, Store, StoreFull
from app.scenarios import ScenarioError, parse_scenario
from app.web import render
from app.web.editor import form_fields
from app.web.errors import API_ERRORS, PAGE_ERRORS, ErrorOut, PageError
from app.web.link_versions import accounted_for, old_link
from app.web.links import LinkError, encode_definition, play_link
from app.web.player import MAX_LINK_SCHEDULE, locate

router = APIRouter()

MAX_URL_CHARS = 60_000  # a stage link's schedule (40,000) and scenario (12,000), with its address around them

SHORT_ERRORS: dict[int | str, dict[str, Any]] = {
    **API_ERRORS,
    507: {"model": ErrorOut, "description": "The link store is full; share the long link instead."},
}


class ShortLinkRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"url": "/play/close-during-send?v=2&s=Sender.Closer&at=1"}]},
    )

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_CHARS,
        description="A stage link of this site (/play/<scenario>?v=2&s=...&at=..., or the whole address).",
    )


class ShortLinkOut(BaseModel):
    id: str
    url: str = Field(description="The short link's path: /s/<id>.")


@dataclass(frozen=True)
class Shared:
    """A stage link, checked by replaying it: what a short link stores."""

    compiled: Any
    built_in: str | None
    schedule: tuple[str, ...]
    at: int


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _stage(request: Request, url: str) -> Shared:
    """The stage link ``url`` replayed, or a 422 saying why it cannot be shortened."""
    if len(url) > MAX_URL_CHARS:
        raise HTTPException(
            422,
            f"This link is {len(url):,} characters long; a short link can be made of at most {MAX_URL_CHARS:,}.",
        )
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise HTTPException(422, "This is not a link. Copy the stage's link from its Share button.") from None
    if (parts.scheme or parts.netloc) and (
        parts.scheme not in ("http", "https") or parts.netloc != request.url.netloc
    ):
        raise HTTPException(
            422,
            f"Only this site's stage links can be shortened, and this one is of '{parts.netloc[:80]}'. "
            "Give the path (/play/...) or a link of this site.",
        )
    segments = parts.path.split("/")
    if len(segments) != 3 or segments[0] != "" or segments[1] != "play" or not segments[2]:
        raise HTTPException(
            422,
            "Only stage links can be shortened: /play/<scenario>?v=2&s=<schedule>&at=<step>. Copy the link from "
            "the stage's Share button.",
        )
    query = parse_qs(parts.query, keep_blank_values=True, max_num_fields=20)
    first = {name: values[0] for name, values in query.items()}
    if len(first.get("s", "")) > MAX_LINK_SCHEDULE:
        raise HTTPException(422, f"This link's schedule is longer than {MAX_LINK_SCHEDULE:,} characters.")
    scenario_id = segments[2][:64]
    try:
        loc = locate(request, scenario_id, first.get("v"), first.get("s"), first.get("at"), first.get("def"))
    except HTTPException as err:
        raise HTTPException(
            422, f"This link does not replay, so it cannot be shortened: {err.detail}"
        ) from None
    compiled, built_in = loc.compiled, None if loc.definition else scenario_id
    wanted = first.get("h")
    if (
        built_in
        and wanted
        and not compiled.fingerprint.startswith(wanted)
        and not accounted_for(first.get("v"), built_in, wanted)  # then the link was read as today's already
    ):
        # A link made with an earlier version of the scenario: shorten what it showed, if the store has it.
        earlier = store_of(request).scenario_with_prefix(wanted[:16])
        if earlier is not None:
            compiled = _compiled(earlier[1])
            return Shared(compiled, built_in, loc.schedule, loc.at)
    return Shared(compiled, built_in, loc.schedule, loc.at)


def _compiled(data: dict[str, Any]) -> Any:
    try:
        return parse_scenario(data)
    except ScenarioError as err:  # a version stored by an earlier release that this one no longer accepts
        raise HTTPException(422, f"The stored version of this scenario no longer loads: {err}") from None


def _save(request: Request, url: str) -> ShortLinkOut:
    shared = _stage(request, url)
    try:
        short_id = store_of(request).save(shared.compiled, shared.built_in, shared.schedule, shared.at)
    except StoreFull as err:
        raise HTTPException(507, str(err)) from None
    return ShortLinkOut(id=short_id, url=f"/s/{short_id}")


@router.post("/api/short-links", response_model=ShortLinkOut, responses=SHORT_ERRORS, tags=["api"])
def create_short_link(request: Request, body: ShortLinkRequest) -> ShortLinkOut:
    """Store a stage link by content and answer its short link; the same content always gets the same id. The link
    must be one of this site's stage links and must replay."""
    return _save(request, body.url)


@router.post("/share/short", response_class=HTMLResponse, include_in_schema=False)
async def share_short(request: Request) -> Response:
    """The Share popover's "Make a short link": the short link as a fragment to show (and copy)."""
    fields = await form_fields(request, MAX_URL_CHARS)
    out = await run_in_threadpool(_save, request, fields.get("url", ""))
    view = {"short": out, "absolute": f"{str(request.base_url).rstrip('/')}{out.url}"}
    return render.page(request, "partials/short-link.html", view)


ShortId = Annotated[
    str,
    Path(
        max_length=32,
        description="A short link's id, as POST /api/short-links gave it.",
        examples=["abcdefghij"],
    ),
]


@router.get(
    "/s/{short_id}",
    response_class=RedirectResponse,
    status_code=302,
    responses={
        302: {"description": "To the stage of the stored scenario, schedule and step."},
        404: PAGE_ERRORS[404],
        422: PAGE_ERRORS[422],
    },
)
def open_short_link(request: Request, short_id: ShortId) -> Response:
    """Open a short link: the stage of the stored run, of the built-in scenario while it is unchanged, else of the
    stored version."""
    stored = None
    if len(short_id) == ID_CHARS and all(c in "abcdefghijklmnopqrstuvwxyz234567" for c in short_id):
        stored = store_of(request).load(short_id)
    if stored is None:
        raise PageError(
            404,
            f"There is no short link '{short_id[:32]}'. Check that it was copied whole (ids are {ID_CHARS} "
            "letters and digits); a new one is made by the Share button of any stage.",
            forward=[],
        )
    library = request.app.state.library
    current = library.get(stored.built_in) if stored.built_in else None
    at = stored.at
    built_in = stored.built_in if current is not None else None
    older = old_link(built_in, stored.scenario_hash, stored.schedule, at) if built_in else None
    if current is not None and current.fingerprint == stored.scenario_hash:
        target = play_link(stored.built_in or "", stored.schedule, at=at)
    elif older is not None:
        # Stored before a change that a link version accounts for: the link as it was written then, which the
        # stage reads as today's and says what changed (app/web/link_versions.py).
        target = older
    else:
        try:
            definition = encode_definition(stored.scenario)
        except LinkError as err:
            raise HTTPException(422, str(err)) from None
        target = play_link(stored.scenario.get("id", "custom"), stored.schedule, at=at, definition=definition)
    return RedirectResponse(target, status_code=302)
