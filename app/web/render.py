"""Rendering a template into an answer: one typed place, so that routes stay thin and typed."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates


def page(request: Request, name: str, view: dict[str, Any]) -> HTMLResponse:
    """The template ``name`` rendered with the prepared ``view`` (templates only loop and branch over it)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, view)
