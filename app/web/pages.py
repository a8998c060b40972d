"""HTML pages. Templates are dumb: they loop and branch over view data prepared here."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from app.sim import RULES, run_on
from app.web import glossary, render
from app.web.errors import PAGE_ERRORS
from app.web.links import play_link
from app.web.params import ScenarioId

router = APIRouter()

LEVELS = {
    1: ("Closing basics", "How a close proceeds when one thread owns the socket, and what WSK does for you."),
    2: (
        "Races and protection",
        "Two threads and one socket: the interleavings that break rule P1, and the fixes.",
    ),
    3: ("IRP ownership and teardown", "Who owns an IRP when, callbacks, contexts, and unloading cleanly."),
}


def gallery_view(library: Any) -> list[dict[str, Any]]:
    groups = []
    scenarios = list(library.scenarios.values())
    for level, items in groupby(scenarios, key=lambda c: c.source.level):
        title, blurb = LEVELS[level]
        groups.append(
            {
                "level": level,
                "title": title,
                "blurb": blurb,
                "scenarios": [
                    {
                        "id": c.source.id,
                        "title": c.source.title,
                        "summary": c.source.summary,
                        "expect": c.source.expect,
                        "rules": c.source.rules,
                        "tags": c.source.tags,
                        "demo": ".".join(c.source.demo or ()),
                    }
                    for c in items
                ],
            }
        )
    return groups


@router.get("/", response_class=HTMLResponse)
async def gallery(request: Request) -> HTMLResponse:
    library = request.app.state.library
    view = {"groups": gallery_view(library), "families": list(library.families.values())}
    return render.page(request, "pages/gallery.html", view)


def scenario_view(library: Any, traces: Any, scenario_id: str) -> dict[str, Any]:
    """The read-only page: the code, the settings, and one narrated run (the demo for buggy scenarios, else a
    round-robin run to the end)."""
    compiled = library.get(scenario_id)
    if compiled is None:
        raise HTTPException(404, f"There is no scenario '{scenario_id}'. The gallery lists them all.")
    source = compiled.source
    trace = traces.get(compiled, tuple(source.demo or ()))
    heading = "The interleaving that breaks it" if source.demo else "One run, round robin"
    if not source.demo:
        trace = run_on(trace, "round_robin", 500)
    steps = [
        {
            "index": s.index,
            # Each step of the narrated run opens on the stage (no dead ends).
            "href": play_link(source.id, trace.schedule, at=s.index),
            "action": s.action.label if s.action else None,
            "narration": s.narration,
            "violations": s.violations,
        }
        for s in trace.snapshots
    ]
    violations = [
        {
            "step": step,
            "rule": v.rule,
            "message": v.message,
            "title": RULES[v.kind].title,
            "consequence": RULES[v.kind].consequence,
            "doc_title": RULES[v.kind].doc_title,
            "doc_url": RULES[v.kind].doc_url,
        }
        for step, v in trace.violations
    ]
    settings = [
        (name, getattr(source.settings, name), field.description or "")
        for name, field in type(source.settings).model_fields.items()
    ]
    return {
        "s": source,
        "programs": list(compiled.programs.values()),
        "setup": compiled.setup_lines,
        "run": {
            "heading": heading,
            "schedule": ".".join(trace.schedule),
            "steps": steps,
            "outcome": trace.outcome,
            "violations": violations,
        },
        "settings": settings,
    }


@router.get(
    "/scenarios/{scenario_id}",
    response_class=HTMLResponse,
    responses={404: PAGE_ERRORS[404], 422: PAGE_ERRORS[422]},
)
def scenario_page(request: Request, scenario_id: ScenarioId) -> HTMLResponse:
    """A plain ``def``: the first view of a scenario replays it, which is CPU work for the thread pool."""
    view = scenario_view(request.app.state.library, request.app.state.traces, scenario_id)
    return render.page(request, "pages/scenario.html", view)


@router.get("/glossary", response_class=HTMLResponse)
async def glossary_page(request: Request) -> HTMLResponse:
    """Every word and rule id the stage explains, with the documentation page that defines it."""
    view = {"entries": glossary.entries()}
    return render.page(request, "pages/glossary.html", view)
