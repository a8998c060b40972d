"""The classroom over HTTP: a presenter drives one stage, students follow it live (server-sent events) and answer.

- ``POST /api/rooms`` opens a class on a stage URL and answers its join code, join link, presenter link and key.
  The key travels only in the presenter link's fragment (``#key=``), which browsers never send to a server, and in
  the ``X-Presenter-Key`` header of the presenter's requests; the join link never holds it.
- ``POST /api/rooms/{code}/step`` moves the class (the URL is checked like any player or lesson link);
  ``/question``, ``/question/reveal`` and ``/answers`` ask, reveal and answer live questions, whose answer keys the
  engine computes. ``GET /api/rooms/{code}/events`` is the room's event stream: on every (re)connection it sends
  the whole current state first, so a late joiner, a phone back from a tunnel and a browser after a server restart
  all land on the class's step at once.
- Pages: ``/join`` and ``/join/{code}`` for students, ``/present/{code}`` (the projected stage) and
  ``/present/{code}/notes`` (speaker notes for a second window) for the presenter.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

import anyio
import redis.asyncio as aioredis
import segno
from fastapi import APIRouter, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from app.lessons import CompiledLesson, Course, question
from app.rooms import (
    CODE_ALPHABET,
    CODE_LENGTH,
    CODE_PATTERN,
    STUDENT_PATTERN,
    Broker,
    Choice,
    Event,
    Limits,
    LiveQuestion,
    MemoryBroker,
    MemoryStore,
    RedisBroker,
    RedisStore,
    Room,
    RoomError,
    RoomStore,
    Unavailable,
    connection_id,
    key_matches,
    new_key,
    tally,
)
from app.scenarios import describe_errors
from app.sim import RULES
from app.sim.reach import aftermath
from app.web.errors import API_ERRORS, PAGE_ERRORS, ErrorOut
from app.web.link_versions import lesson_step
from app.web.links import lesson_link
from app.web.meter import Meters
from app.web.player import LinkQuery, Location, locate, parse_step
from app.web.shared import CONNECT_TIMEOUT_S, REDIS_URL

api = APIRouter(prefix="/api/rooms", tags=["classroom"])
pages = APIRouter(tags=["classroom"])

KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing an idle stream, and finds dead ones
RETRY_MS = 2000  # how soon a browser reconnects after a drop

Code = Annotated[
    str,
    Path(
        description="The class's join code: six characters, as shown on the projector.",
        json_schema_extra={"pattern": CODE_PATTERN},
        max_length=CODE_LENGTH,
        examples=["K7QM2P"],
    ),
]
PresenterKey = Annotated[
    str | None,
    Header(
        alias="X-Presenter-Key",
        max_length=200,
        description="The presenter's key, as answered by POST /api/rooms (and in the presenter link's #key=).",
    ),
]


# -- the shape of the API -----------------------------------------------------------------------------------------


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StageIn(Input):
    url: str = Field(
        min_length=1,
        max_length=60_000,
        description="A stage: a player link (/play/<scenario>?v=2&s=...&at=N, custom scenarios with def=) or a "
        "lesson step (/learn/<lesson>?v=2&at=N). A full URL of this server is accepted too.",
        examples=["/play/close-during-send?v=2&s=&at=0"],
    )


class AskIn(Input):
    kind: Literal["next", "breaks", "lesson"] = Field(
        description="'next': what happens next? (students pick among the enabled actions); 'breaks': which action "
        "breaks it? (the enabled actions after which a rule has broken or can no longer be avoided); 'lesson': "
        "the question the projected lesson asks at this step."
    )


class AnswerIn(Input):
    question: int = Field(
        ge=1, le=2**53, description="The id of the question answered (GET /api/rooms/{code})."
    )
    student: str = Field(
        pattern=STUDENT_PATTERN,
        description="A random id the student's browser keeps (8-64 of A-Z a-z 0-9 _ -): one answer per student.",
    )
    picks: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=12, description="The values of the options picked."
    )


class RoomCreated(BaseModel):
    code: str
    join_url: str = Field(description="What students open; it holds no key.")
    presenter_url: str = Field(
        description="Opens presenter mode, on this or a second device; the key is after #."
    )
    key: str = Field(description="The presenter key: send it as X-Presenter-Key to drive the class.")


class OptionOut(BaseModel):
    value: str
    label: str
    picked: int | None = Field(description="How many picked it; null until the answers are revealed.")
    right: bool | None = Field(description="Whether it is right; null until revealed.")
    reason: str | None = Field(description="The engine's reason; null until revealed.")


class QuestionOut(BaseModel):
    id: int
    kind: str
    text: str
    many: bool
    url: str
    answers: int
    revealed: bool
    options: list[OptionOut]


class RoomOut(BaseModel):
    url: str
    label: str
    followers: int = Field(description="Devices connected to the room's event stream now.")
    question: QuestionOut | None


class AnswerOut(BaseModel):
    answers: int = Field(description="How many answers the question has now.")


ROOM_ERRORS: dict[int | str, dict[str, Any]] = {
    **API_ERRORS,
    404: {
        "model": ErrorOut,
        "description": "There is no class with this code (it ended, or it is mistyped).",
    },
    429: {"model": ErrorOut, "description": "A limit is reached: the detail names it."},
    503: {"model": ErrorOut, "description": "The shared store (Redis) did not answer; try again."},
}
PRESENTER_ERRORS: dict[int | str, dict[str, Any]] = {
    **ROOM_ERRORS,
    403: {"model": ErrorOut, "description": "The X-Presenter-Key header is missing or wrong."},
    409: {"model": ErrorOut, "description": "The question cannot be revealed or answered in its state."},
}


# -- the classroom's state in the app ------------------------------------------------------------------------------


@dataclass
class Classroom:
    store: RoomStore
    broker: Broker


def install(app: FastAPI, limits: Limits | None = None) -> None:
    """Rooms in Redis when the app shares state through it (``REDIS_URL``), else in this process."""
    if app.state.shared is not None:
        client = aioredis.from_url(
            os.environ[REDIS_URL],
            decode_responses=True,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=None,  # a pub/sub listener waits as long as the class is quiet
            health_check_interval=30,
        )
        store: RoomStore = RedisStore(client, limits)
        classroom = Classroom(store, RedisBroker(client))
        classroom.broker._on_resync = lambda code: resync(app, classroom, code)  # type: ignore[attr-defined]
    else:
        classroom = Classroom(MemoryStore(limits), MemoryBroker())
    app.state.classroom = classroom

    async def close() -> None:
        await classroom.broker.close()

    app.router.on_shutdown.append(close)


def _classroom(request: Request) -> Classroom:
    classroom: Classroom = request.app.state.classroom
    return classroom


def _fail(err: RoomError | Unavailable) -> HTTPException:
    if isinstance(err, RoomError):
        return HTTPException(err.status, str(err))
    return HTTPException(503, str(err), headers={"Retry-After": "5"})


async def _room(request: Request, code: str) -> Room:
    try:
        room = await _classroom(request).store.get(code)
    except Unavailable as err:
        raise _fail(err) from None
    if room is None:
        raise HTTPException(
            404,
            f"There is no class '{code}': it ended, or the code is mistyped. Ask the presenter for the link.",
        )
    return room


async def _presenter_room(request: Request, code: str, key: str | None) -> Room:
    room = await _room(request, code)
    if not key_matches(room.key_hash, key):
        raise HTTPException(
            403,
            "Only the presenter can do this: send the presenter key in the X-Presenter-Key header (it is in the "
            "presenter link, after #key=).",
        )
    return room


# -- stage URLs: checked like any link -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    url: str  # canonical
    label: str
    loc: Location
    lesson: CompiledLesson | None = None


STAGES = (
    "a player link (/play/<scenario>?v=2&s=...&at=N), a lesson step (/learn/<lesson>?v=2&at=N) or a challenge's stage "
    "(/challenges/<challenge>?v=2&s=...&at=N)"
)


def resolve(request: Request, url: str) -> Stage:
    """The stage a URL shows, checked as the player or the course checks it (same 4xx and messages), with its
    canonical URL. Runs in a worker thread: locating a step replays its run."""
    parts = urlsplit(url.strip())
    if (parts.scheme or parts.netloc) and (
        parts.scheme not in ("http", "https") or parts.netloc != request.url.netloc
    ):
        raise HTTPException(422, f"A class can only show a stage of this server: give {STAGES}.")
    path = parts.path
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    segments = path.split("/")
    if len(segments) == 3 and segments[1] in ("play", "embed") and segments[2]:
        try:
            link = LinkQuery.model_validate(query)
        except ValidationError as err:
            raise HTTPException(422, f"This link is not valid: {describe_errors(err.errors())}.") from None
        loc = locate(request, segments[2], link.v, link.s, link.at, link.definition)
        from app.web.player import link as canonical

        title = loc.compiled.source.title
        return Stage(
            canonical(loc, loc.schedule, loc.at, "/play"),
            f"{title}, step {loc.at} of {len(loc.schedule)}",
            loc,
        )
    if len(segments) == 3 and segments[1] == "learn" and segments[2]:
        course: Course = request.app.state.course
        lesson = course.get(segments[2])
        if lesson is None:
            raise HTTPException(
                404, f"There is no lesson '{segments[2][:64]}'. The course at /learn lists them."
            )
        named = lesson_step(query.get("v"), lesson.scenario.source.id, lesson.trace.schedule, query.get("at"))
        at = parse_step(named or "0", lesson.last)
        trace = request.app.state.traces.get(lesson.scenario, lesson.trace.schedule)
        loc = Location(lesson.scenario, None, lesson.trace.schedule, at, trace)
        label = f"Lesson: {lesson.source.title}, step {at} of {lesson.last}"
        return Stage(lesson_link(lesson.source.id, at), label, loc, lesson)
    if len(segments) == 3 and segments[1] == "challenges" and segments[2]:
        return _challenge_stage(request, segments[2], query)
    raise HTTPException(422, f"'{path[:80]}' is not a stage a class can follow: give {STAGES}.")


def _challenge_stage(request: Request, challenge_id: str, query: dict[str, str]) -> Stage:
    """A break challenge's stage at a step (a fix challenge is a design page, not a run a class can follow)."""
    from app.web import challenges

    challenge = challenges.find(request, challenge_id)
    if challenge.kind == "fix":
        raise HTTPException(
            422,
            f"Challenge '{challenge_id[:64]}' is a fix challenge: a design page, not a run to follow. Present a "
            "break challenge, or the scenario the design runs on.",
        )
    s, at_text = challenges.read_link(challenge, query.get("v"), query.get("s"), query.get("at"))
    schedule = challenges.parse_link_schedule(s)
    trace = challenges.replay_attempt(request, challenge, schedule)
    at = parse_step(at_text, len(schedule))
    hints = challenges.hints_shown(query.get("h"), len(challenge.witness))
    loc = Location(challenge.scenario, None, schedule, at, trace)
    label = f"Challenge: {challenge.source.title}, step {at} of {len(schedule)}"
    return Stage(challenges.stage_link(challenge, schedule, at, hints), label, loc)


# -- questions: the engine computes every answer key -----------------------------------------------------------------


def ask(request: Request, stage: Stage, kind: str, question_id: int, limits: Limits) -> LiveQuestion:
    loc = stage.loc
    engine = loc.trace.engine
    state = loc.trace.snapshots[loc.at].state
    enabled = loc.trace.enabled_at(loc.at)
    if kind == "lesson":
        if stage.lesson is None:
            raise HTTPException(422, "The class is not on a lesson: ask 'next' or 'breaks' instead.")
        meters: Meters = request.app.state.meters
        asked = question(stage.lesson, loc.at, meters.wait(stage.lesson.scenario, timeout=30))
        if asked is None:
            raise HTTPException(
                422,
                f"The lesson asks nothing at step {loc.at}: ask 'next' or 'breaks', or go to a marked step.",
            )
        keyed = tuple(Choice(o.value, o.label, o.right, o.reason) for o in asked.options)
        return LiveQuestion(question_id, "lesson", asked.text, asked.many, keyed[: limits.options], stage.url)
    if not enabled:
        raise HTTPException(
            422, f"Nothing can happen after step {loc.at} of this run, so there is nothing to ask."
        )
    shown = list(enabled[: limits.options])
    taken = loc.schedule[loc.at] if loc.at < len(loc.schedule) else None
    if taken is not None and taken not in {a.id for a in shown}:
        shown[-1] = next(a for a in enabled if a.id == taken)
    choices: list[Choice] = []
    if kind == "next":
        for action in shown:
            if taken is None:
                choices.append(
                    Choice(
                        action.id,
                        action.label,
                        True,
                        f"It can: nothing stops {action.actor} from moving now.",
                    )
                )
            elif action.id == taken:
                choices.append(
                    Choice(action.id, action.label, True, "This is the step the run on the screen takes.")
                )
            else:
                choices.append(
                    Choice(
                        action.id,
                        action.label,
                        False,
                        "It could happen too, in another interleaving; this run takes another step.",
                    )
                )
        text = "What happens next?" if taken else "What can happen next? Pick every step that can."
        return LiveQuestion(question_id, "next", text, taken is None, tuple(choices), stage.url)
    meters = request.app.state.meters
    meter = meters.wait(loc.compiled, timeout=30)
    if not meter.exact:
        raise HTTPException(
            422,
            f"'{loc.compiled.source.id}' has more states than the meter searches, so which action breaks a rule is "
            "not known exactly; ask 'next' instead.",
        )
    for action in shown:
        after = aftermath(engine, meter, state, action.id)
        broken, doomed = sorted(after.broken), sorted(after.doomed)
        if broken:
            rule = RULES[broken[0]]
            why = f"It breaks rule {rule.rule} ({rule.title}) at once."
        elif doomed:
            rule = RULES[doomed[0]]
            why = f"After it, rule {rule.rule} ({rule.title}) breaks in every way the run can go on."
        else:
            why = "After it, the run can still end without breaking another rule."
        choices.append(Choice(action.id, action.label, bool(broken or doomed), why))
    if not any(c.right for c in choices):
        none_why = "Right: no step from here breaks a rule at once or makes breaking one unavoidable."
    else:
        none_why = "At least one step from here breaks a rule, or makes breaking one unavoidable."
    choices.append(Choice("@none", "None of them", not any(c.right for c in choices), none_why))
    return LiveQuestion(
        question_id,
        "breaks",
        "Which action breaks it? Pick every one that does.",
        True,
        tuple(choices),
        stage.url,
    )


# -- events ------------------------------------------------------------------------------------------------------------


def _render(source: Request | FastAPI, name: str, **view: Any) -> str:
    app = source if isinstance(source, FastAPI) else source.app
    return str(app.state.templates.get_template(name).render(**view)).strip()


def step_event(app: FastAPI, room: Room) -> Event:
    return Event("step", _render(app, "partials/room-step.html", room=room), room.seq)


def question_event(app: FastAPI, room: Room, answers: list[list[str]]) -> Event:
    view = question_view(room.question, answers) if room.question else None
    return Event("question", _render(app, "partials/room-question.html", q=view, code=room.code), room.seq)


def answers_event(count: int) -> Event:
    return Event("answers", f"{count} answer{'s' if count != 1 else ''}")


def followers_event(count: int) -> Event:
    return Event("followers", f"{count} connected")


def question_view(q: LiveQuestion, answers: list[list[str]]) -> dict[str, Any]:
    counted = tally(q, answers)
    top = max([n for _, n in counted.picks] + [1])
    picks = dict(counted.picks)
    return {
        "id": q.id,
        "kind": q.kind,
        "text": q.text,
        "many": q.many,
        "revealed": q.revealed,
        "answers": counted.answers,
        "options": [
            {
                "value": o.value,
                "label": o.label,
                "right": o.right,
                "reason": o.reason,
                "picked": picks[o.value],
                # Bars are SVG widths (the CSP allows no inline style), out of 100.
                "width": round(100 * picks[o.value] / top),
            }
            for o in q.options
        ],
    }


async def publish(request: Request, room: Room, *names: str) -> None:
    classroom = _classroom(request)
    for name in names:
        if name == "step":
            await classroom.broker.publish(room.code, step_event(request.app, room))
        elif name == "question":
            answers = await classroom.store.answers(room.code, room.question.id) if room.question else []
            await classroom.broker.publish(room.code, question_event(request.app, room, answers))


async def resync(app: FastAPI, classroom: Classroom, code: str) -> None:
    """After the bus lost messages: send a room's whole state again to this worker's followers."""
    room = await classroom.store.get(code)
    if room is None:
        return
    answers = await classroom.store.answers(code, room.question.id) if room.question else []
    for event in (step_event(app, room), question_event(app, room, answers)):
        classroom.broker.fanout.deliver(code, event)  # type: ignore[attr-defined]


# -- the API -------------------------------------------------------------------------------------------------------


def _links(request: Request, code: str, key: str) -> tuple[str, str]:
    base = str(request.base_url).rstrip("/")
    return f"{base}/join/{code}", f"{base}/present/{code}#key={key}"


@api.post("", status_code=201, response_model=RoomCreated, responses=ROOM_ERRORS)
async def create_room(request: Request, body: StageIn) -> RoomCreated:
    """Open a class on a stage. Keep ``key`` (or the presenter link) secret: it is what lets you drive."""
    stage = await run_in_threadpool(resolve, request, body.url)
    key = new_key()
    try:
        room = await _classroom(request).store.create(stage.url, stage.label, key)
    except (RoomError, Unavailable) as err:
        raise _fail(err) from None
    join_url, presenter_url = _links(request, room.code, key)
    return RoomCreated(code=room.code, join_url=join_url, presenter_url=presenter_url, key=key)


@api.get("/{code}", response_model=RoomOut, responses=ROOM_ERRORS)
async def get_room(request: Request, code: Code) -> RoomOut:
    """Where the class is, how many devices follow it, and its question (the answers only once revealed)."""
    room = await _room(request, code)
    store = _classroom(request).store
    try:
        followers = await store.followers(code)
        answers = await store.answers(code, room.question.id) if room.question else []
    except Unavailable as err:
        raise _fail(err) from None
    return RoomOut(url=room.url, label=room.label, followers=followers, question=_question_out(room, answers))


def _question_out(room: Room, answers: list[list[str]]) -> QuestionOut | None:
    q = room.question
    if q is None:
        return None
    picks = dict(tally(q, answers).picks)
    options = [
        OptionOut(
            value=o.value,
            label=o.label,
            picked=picks[o.value] if q.revealed else None,
            right=o.right if q.revealed else None,
            reason=o.reason if q.revealed else None,
        )
        for o in q.options
    ]
    return QuestionOut(
        id=q.id, kind=q.kind, text=q.text, many=q.many, url=q.url, answers=len(answers), revealed=q.revealed,
        options=options,
    )  # fmt: skip


@api.post("/{code}/step", response_model=RoomOut, responses=PRESENTER_ERRORS)
async def move(request: Request, code: Code, body: StageIn, key: PresenterKey = None) -> RoomOut:
    """Move the class to a stage (presenter only). Every follower gets it at once."""
    room = await _presenter_room(request, code, key)
    stage = await run_in_threadpool(resolve, request, body.url)
    store = _classroom(request).store
    try:
        if stage.url != room.url:
            room = await store.set_step(code, stage.url, stage.label)
            await publish(request, room, "step")
        followers = await store.followers(code)
    except (RoomError, Unavailable) as err:
        raise _fail(err) from None
    answers = await store.answers(code, room.question.id) if room.question else []
    return RoomOut(url=room.url, label=room.label, followers=followers, question=_question_out(room, answers))


@api.post("/{code}/question", response_model=QuestionOut, status_code=201, responses=PRESENTER_ERRORS)
async def ask_question(request: Request, code: Code, body: AskIn, key: PresenterKey = None) -> QuestionOut:
    """Ask the class a question on its current step (presenter only); it replaces any question asked before."""
    room = await _presenter_room(request, code, key)
    store = _classroom(request).store

    def build() -> LiveQuestion:
        stage = resolve(request, room.url)
        return ask(request, stage, body.kind, room.seq + 1, store.limits)

    asked = await run_in_threadpool(build)
    try:
        room = await store.set_question(code, asked)
        await publish(request, room, "question")
    except (RoomError, Unavailable) as err:
        raise _fail(err) from None
    await _classroom(request).broker.publish(code, answers_event(0))
    out = _question_out(room, [])
    assert out is not None
    return out


@api.post("/{code}/question/reveal", response_model=QuestionOut, responses=PRESENTER_ERRORS)
async def reveal(request: Request, code: Code, key: PresenterKey = None) -> QuestionOut:
    """Show everyone the answers: how many picked each option, which are right and why (presenter only)."""
    room = await _presenter_room(request, code, key)
    if room.question is None:
        raise HTTPException(409, "The class has no question to reveal; ask one first.")
    store = _classroom(request).store
    try:
        if not room.question.revealed:
            room = await store.set_question(
                code, LiveQuestion(**{**room.question.__dict__, "revealed": True})
            )
            await publish(request, room, "question")
        answers = await store.answers(code, room.question.id) if room.question else []
    except (RoomError, Unavailable) as err:
        raise _fail(err) from None
    out = _question_out(room, answers)
    assert out is not None
    return out


@api.delete("/{code}/question", status_code=204, responses=PRESENTER_ERRORS)
async def close_question(request: Request, code: Code, key: PresenterKey = None) -> Response:
    """Take the question off everyone's screen (presenter only)."""
    room = await _presenter_room(request, code, key)
    if room.question is not None:
        try:
            room = await _classroom(request).store.set_question(code, None)
            await publish(request, room, "question")
        except (RoomError, Unavailable) as err:
            raise _fail(err) from None
    return Response(status_code=204)


@api.post("/{code}/answers", response_model=AnswerOut, status_code=201, responses=PRESENTER_ERRORS)
async def answer(request: Request, code: Code, body: AnswerIn) -> AnswerOut:
    """Answer the class's question: once per student (409 for a second answer). Counted at once, shown to the
    class only when the presenter reveals the answers."""
    room = await _room(request, code)
    q = room.question
    if q is None or q.id != body.question:
        raise HTTPException(409, "That question is no longer asked; answer the one on the screen now.")
    if q.revealed:
        raise HTTPException(409, "The answers to this question are revealed: it takes no more answers.")
    values = {o.value for o in q.options}
    unknown = [p for p in body.picks if p not in values]
    if unknown:
        raise HTTPException(422, f"'{unknown[0]}' is not an option of this question; pick among its options.")
    if len(set(body.picks)) != len(body.picks):
        raise HTTPException(422, "An option is picked twice; pick each option at most once.")
    if not q.many and len(body.picks) != 1:
        raise HTTPException(422, "This question takes exactly one pick.")
    classroom = _classroom(request)
    try:
        count = await classroom.store.answer(code, q.id, body.student, body.picks)
        await classroom.broker.publish(code, answers_event(count))
    except (RoomError, Unavailable) as err:
        raise _fail(err) from None
    return AnswerOut(answers=count)


@api.get(
    "/{code}/events",
    response_class=StreamingResponse,
    responses={
        **ROOM_ERRORS,
        200: {
            "description": "Server-sent events: 'step' (where the class is, as HTML with the stage link), "
            "'question' (the question panel as HTML), 'answers' and 'followers' (counts). The whole state is sent "
            "first on every connection, so a reconnection resynchronises.",
            # Each event as schemathesis and OpenAPI 3.2 tools read a stream: its name, data and id.
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "event": {"type": "string"},
                            "data": {"type": "string"},
                            "id": {"type": "string"},
                        },
                    }
                }
            },
        },
    },
)
async def events(request: Request, code: Code) -> StreamingResponse:
    """The room's event stream (for EventSource, or htmx's SSE extension)."""
    room = await _room(request, code)
    classroom = _classroom(request)
    conn = connection_id()
    sub = classroom.broker.subscribe(code)
    try:
        await classroom.store.join(code, conn)
        answers = await classroom.store.answers(code, room.question.id) if room.question else []
    except (RoomError, Unavailable) as err:
        classroom.broker.unsubscribe(code, sub)
        raise _fail(err) from None
    first = [
        f"retry: {RETRY_MS}\n\n".encode(),
        step_event(request.app, room).encode(),
        question_event(request.app, room, answers).encode(),
        answers_event(len(answers)).encode(),
    ]

    async def stream() -> Any:
        try:
            counting(request, code)
            for chunk in first:
                yield chunk
            while True:
                pending = await sub.take(KEEPALIVE_S)
                if not pending:
                    yield b": still here\n\n"
                    await classroom.store.alive(code, conn)
                    continue
                yield b"".join(event.encode() for event in pending)
        finally:
            classroom.broker.unsubscribe(code, sub)
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                try:
                    await classroom.store.leave(code, conn)
                    counting(request, code)
                except (Unavailable, RoomError):
                    pass

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


COUNT_EVERY_S = 1.0  # a class arriving all at once is counted once a second, not once per arrival
_counting: set[str] = set()


def counting(request: Request, code: str) -> None:
    """Tell the room how many devices follow it, soon: arrivals and departures within a second make one event
    (500 students joining would otherwise send each of them 500 counts)."""
    if code in _counting:
        return
    _counting.add(code)
    classroom = _classroom(request)

    async def later() -> None:
        try:
            await asyncio.sleep(COUNT_EVERY_S)
            _counting.discard(code)
            await classroom.broker.publish(code, followers_event(await classroom.store.followers(code)))
        except (Unavailable, RoomError):
            pass
        finally:
            _counting.discard(code)

    task = asyncio.get_running_loop().create_task(later())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


_tasks: set[asyncio.Task[None]] = set()


# -- pages ---------------------------------------------------------------------------------------------------------


def _code(code: str) -> str:
    """A code as typed: spaces and case do not matter."""
    return "".join(code.split()).upper()[: CODE_LENGTH + 2]


@pages.get("/join", response_class=HTMLResponse, include_in_schema=False)
async def join_form(request: Request, code: Annotated[str | None, Query(max_length=32)] = None) -> Response:
    """Where a student types the code from the projector."""
    problem = None
    if code is not None:
        typed = _code(code)
        if len(typed) == CODE_LENGTH and all(c in CODE_ALPHABET for c in typed):
            return RedirectResponse(f"/join/{typed}", status_code=303)
        problem = f"A class code is {CODE_LENGTH} letters and digits, like K7QM2P; check it on the projector."
    body = _render(request, "pages/join-code.html", request=request, problem=problem, code=code or "")
    return HTMLResponse(body, status_code=422 if problem else 200)


def _page_code(code: str) -> str:
    typed = _code(code)
    if len(typed) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in typed):
        raise HTTPException(
            404, f"'{code[:16]}' is not a class code; codes are like K7QM2P. Open /join to type one."
        )
    return typed


@pages.get("/join/{code}", response_class=HTMLResponse, responses=PAGE_ERRORS, include_in_schema=False)
async def join_page(request: Request, code: str) -> Response:
    typed = _page_code(code)
    if typed != code:
        return RedirectResponse(f"/join/{typed}", status_code=307)
    room = await _room(request, typed)
    return HTMLResponse(_render(request, "pages/join.html", request=request, room=room, role="student"))


@pages.get("/present/{code}", response_class=HTMLResponse, responses=PAGE_ERRORS, include_in_schema=False)
async def present_page(request: Request, code: str) -> Response:
    """Presenter mode: the stage alone, in large type. The page needs the key (from the link's #key=) to drive."""
    room = await _room(request, _page_code(code))
    join_url, _ = _links(request, room.code, "")
    qr = segno.make(join_url, error="m")
    view = {
        "request": request,
        "room": room,
        "role": "presenter",
        "join_url": join_url,
        # segno writes the code as an SVG path with attributes only (no style), so it passes the CSP.
        "qr": Markup(
            qr.svg_inline(
                scale=8, border=2, dark="#000", light="#fff", omitsize=True, title="QR code of the join link"
            )
        ),
    }
    return HTMLResponse(_render(request, "pages/present.html", **view))


@pages.get(
    "/present/{code}/notes", response_class=HTMLResponse, responses=PAGE_ERRORS, include_in_schema=False
)
async def notes_page(request: Request, code: str) -> Response:
    room = await _room(request, _page_code(code))
    return HTMLResponse(_render(request, "pages/notes.html", request=request, room=room, role="notes"))


@pages.get("/rooms/{code}/notes", response_class=HTMLResponse, responses=PAGE_ERRORS, include_in_schema=False)
async def notes(request: Request, code: str, key: PresenterKey = None) -> Response:
    """The speaker notes at the class's step: what happened, why it matters, what comes next, and the answers."""
    room = await _presenter_room(request, _page_code(code), key)
    answers = await _classroom(request).store.answers(room.code, room.question.id) if room.question else []

    def view() -> dict[str, Any]:
        stage = resolve(request, room.url)
        loc = stage.loc
        snap = loc.trace.snapshots[loc.at]
        nxt = loc.trace.snapshots[loc.at + 1].action if loc.at < len(loc.schedule) else None
        lesson_step = stage.lesson.steps.get(loc.at) if stage.lesson else None
        lesson_q = None
        if stage.lesson is not None and lesson_step is not None and lesson_step.ask:
            meters: Meters = request.app.state.meters
            lesson_q = question(stage.lesson, loc.at, meters.wait(stage.lesson.scenario, timeout=30))
        return {
            "room": room,
            "narration": snap.narration,
            "took": snap.action.label if snap.action else None,
            "next": nxt.label if nxt else None,
            "why": lesson_step.why if lesson_step else None,
            "lesson_question": lesson_q,
            "q": question_view(room.question, answers) if room.question else None,
        }

    return HTMLResponse(
        _render(request, "partials/room-notes.html", **(await run_in_threadpool(view))),
        headers={"Cache-Control": "no-store"},
    )
