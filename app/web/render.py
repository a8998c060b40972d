"""Rendering a template into an answer: one typed place, so that routes stay thin and typed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

# A dict's own attributes (items, keys, get, ...): a name that is not one of them can only be one of its keys.
DICT_ATTRIBUTES = frozenset(dir(dict))


class ViewEnvironment(Environment):
    """Jinja's environment, looking a view's dict up by key first.

    Views are dicts, and ``lane.kind`` in a template makes Jinja try ``getattr(lane, "kind")`` first: on a dict that
    raises and catches an AttributeError before the key is found, a third of a player step's template time. For a
    plain dict, a name that is not one of dict's own attributes can only be a key, so looking it up first gives
    every lookup the answer Jinja's order gives (``d.items`` is still the method).
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass  # missing: Jinja's own lookup makes the same Undefined it always did
        return super().getattr(obj, attribute)


def templates(directory: Path) -> Jinja2Templates:
    """The app's templates: autoescaped as Starlette's default environment is (HTML and XML), never re-read from
    disk (rendered steps are cached under a build id that covers the templates, app/web/caching.py, so an edited
    template needs a restart anyway; the check stat-ed every included file, 7 per step)."""
    environment = ViewEnvironment(
        loader=FileSystemLoader(directory), autoescape=select_autoescape(), auto_reload=False
    )
    return Jinja2Templates(env=environment)


def page(request: Request, name: str, view: dict[str, Any]) -> HTMLResponse:
    """The template ``name`` rendered with the prepared ``view`` (templates only loop and branch over it)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, view)
