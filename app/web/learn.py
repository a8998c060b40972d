"""The course over HTTP: ``/learn`` lists the lessons; ``/learn/<lesson>?at=N`` teaches one on the stage; the
lesson's questions are answered at ``/learn/<lesson>/answer`` and graded by the engine.

A lesson step is the player's stage for the lesson's own run, with the author's "why" and, at chosen steps, a
question that must be answered before the next step is revealed. The stage's buttons are the player's: a step
control stays in the lesson; an action the run does not take leaves the lesson for the player, from that step.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.lessons import CompiledLesson, Course, grade, question
from app.web.errors import PAGE_ERRORS
from app.web.link_versions import lesson_step
from app.web.links import lesson_link
from app.web.meter import Meters
from app.web.player import Location, follow, meter_view, parse_step, player_view

router = APIRouter(tags=["learn"])
LessonId = Annotated[str, Query(max_length=64)]


def _course(request: Request) -> Course:
    course: Course = request.app.state.course
    return course


def _lesson(request: Request, lesson_id: str) -> CompiledLesson:
    lesson = _course(request).get(lesson_id)
    if lesson is None:
        raise HTTPException(
            404, f"There is no lesson '{lesson_id[:64]}'. The course at /learn lists them all."
        )
    return lesson


def _location(request: Request, lesson: CompiledLesson, at: int) -> Location:
    trace = request.app.state.traces.get(lesson.scenario, lesson.trace.schedule)
    return Location(lesson.scenario, None, lesson.trace.schedule, at, trace)


@router.get("/learn", response_class=HTMLResponse)
async def course_page(request: Request) -> Response:
    """The course, in order: each lesson's title and goal; the browser marks those finished."""
    lessons = [
        {"id": lesson.source.id, "title": lesson.source.title, "goal": lesson.source.goal, "order": n}
        for n, lesson in enumerate(_course(request).lessons.values(), start=1)
    ]
    body = request.app.state.templates.get_template("pages/learn.html").render(
        request=request, lessons=lessons
    )
    return HTMLResponse(body)


@router.get("/learn/{lesson_id}", response_class=HTMLResponse, responses=PAGE_ERRORS)
async def lesson_page(
    request: Request,
    lesson_id: str,
    at: Annotated[str | None, Query(max_length=8)] = None,
    to: Annotated[str | None, Query(max_length=8)] = None,
    then: Annotated[str | None, Query(max_length=48)] = None,
    v: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """A step of a lesson. ``to`` (a step control) stays in the lesson; ``then`` (an action) leaves it for the
    player, on a branch of the lesson's run. A link of an older link version (``v``; none before version 2) names
    the step its lesson had then, moved to where that step is today."""
    lesson = _lesson(request, lesson_id)
    scenario_id, run = lesson.scenario.source.id, lesson.trace.schedule
    at, to = lesson_step(v, scenario_id, run, at), lesson_step(v, scenario_id, run, to)
    fragment = request.headers.get("hx-request") == "true"
    step = parse_step(to if to is not None else at, lesson.last) if (to or at) else 0
    if then is not None:
        loc = _location(request, lesson, parse_step(at, lesson.last))
        _, _, target = await run_in_threadpool(follow, loc, then, None, "/play")
        return Response(
            status_code=200 if fragment else 303, headers={"HX-Redirect": target, "Location": target}
        )
    if to is not None and not fragment:
        return RedirectResponse(lesson_link(lesson_id, step), status_code=303)

    def render() -> str:
        loc = _location(request, lesson, step)
        meters: Meters = request.app.state.meters
        view = player_view(loc, "/play") | {"meter": meter_view(loc, meters.ready(loc.compiled))}
        view["nav"] = view["nav"] | {"action": f"/learn/{lesson_id}"}
        view["lesson"] = lesson_view(request, lesson, step)
        name = "partials/player.html" if fragment else "pages/lesson.html"
        return str(request.app.state.templates.get_template(name).render(request=request, **view))

    headers = {"HX-Push-Url": lesson_link(lesson_id, step)} if fragment else {}
    return HTMLResponse(await run_in_threadpool(render), headers=headers)


def lesson_view(request: Request, lesson: CompiledLesson, at: int) -> dict[str, Any]:
    """What the lesson adds to the stage at a step: the author's why, the question (not its answer), the docs."""
    step = lesson.steps.get(at)
    asked = question(lesson, at, _meter(request, lesson)) if step and step.ask else None
    nxt = _course(request).after(lesson.source.id)
    return {
        "id": lesson.source.id,
        "title": lesson.source.title,
        "goal": lesson.source.goal,
        "why": step.why if step else None,
        "question": asked,
        "answer_url": f"/learn/{lesson.source.id}/answer",
        "docs": lesson.source.docs,
        "finished": at == lesson.last,
        "next": {"id": nxt.source.id, "title": nxt.source.title} if nxt else None,
    }


def _meter(request: Request, lesson: CompiledLesson) -> Any:
    meters: Meters = request.app.state.meters
    return meters.wait(lesson.scenario, timeout=30)


@router.get("/learn/{lesson_id}/answer", response_class=HTMLResponse, responses=PAGE_ERRORS)
async def answer(
    request: Request,
    lesson_id: str,
    at: Annotated[str, Query(max_length=8)],
    pick: Annotated[list[str] | None, Query(max_length=12)] = None,
) -> Response:
    """Grade an answer to the question at step ``at``: each option marked, with the engine's reason."""
    lesson = _lesson(request, lesson_id)
    step = parse_step(at, lesson.last)

    def graded() -> str:
        asked = question(lesson, step, _meter(request, lesson))
        if asked is None:
            raise HTTPException(
                422, f"Step {step} of this lesson asks nothing; the questions are at its marked steps."
            )
        picked = {p[:64] for p in (pick or [])}
        unknown = picked - {o.value for o in asked.options}
        if unknown:
            raise HTTPException(422, f"'{sorted(unknown)[0]}' is not one of the options of this question.")
        feedback = grade(asked, picked)
        return str(
            request.app.state.templates.get_template("partials/lesson-feedback.html").render(
                request=request, question=asked, feedback=feedback, at=step, lesson_id=lesson_id
            )
        )

    return HTMLResponse(await run_in_threadpool(graded))
