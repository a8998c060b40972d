"""Classrooms: a presenter drives one stage, students follow it live and answer questions.

A room is small: the stage URL the class is on, a hash of the presenter's key, a sequence number, and at most one
live question with its answers. Where rooms live (a ``RoomStore``) and how their events reach the followers (a
``Broker``) come in two kinds each:

- ``MemoryStore`` and ``MemoryBroker``: one process, the embedded default;
- ``RedisStore`` and ``RedisBroker`` (``REDIS_URL``): any number of workers on any number of machines serve one
  class. Rooms, keys, questions, answers and followers are kept in Redis, and every change is published on the
  room's channel; each worker holds one pattern subscription and hands each message to its own followers.

A follower never waits for another: it is sent the latest event of each kind (``Subscription``), so a slow phone
skips intermediate steps instead of queueing them, and memory stays bounded whatever the class does.

Everything is bounded (``Limits``): rooms, followers per room, answers per question, options per question, the
length of a stage URL; a room expires after ``room_ttl_s`` without any activity.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, cast

import redis
import redis.asyncio as aioredis

log = logging.getLogger(__name__)

# Join codes are read aloud and typed on phones: no 0/O, 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
CODE_PATTERN = rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$"
STUDENT_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


@dataclass(frozen=True)
class Limits:
    rooms: int = 200  # open rooms in the deployment
    followers: int = 600  # live connections to one room (students, projectors, presenter windows)
    answers: int = 1000  # answers to one question
    options: int = 12  # options of one question
    url_chars: int = 60_000  # a stage URL: a link's schedule and custom scenario fit in a request line
    room_ttl_s: float = 3 * 3600.0  # a room without any activity for this long is gone


class RoomError(Exception):
    """A request the room cannot take; ``status`` is the HTTP status, the message names the limit or the fix."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Unavailable(RuntimeError):
    """The shared store (Redis) did not answer."""


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_key() -> str:
    """The presenter's key: 192 random bits, never stored (only its hash), never in a join link."""
    return secrets.token_urlsafe(24)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(stored_hash: str, key: str | None) -> bool:
    """Whether ``key`` is the room's presenter key, in constant time."""
    if not key:
        return False
    return hmac.compare_digest(stored_hash, key_hash(key[:200]))


# -- questions -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    right: bool
    reason: str


@dataclass(frozen=True)
class LiveQuestion:
    """A question asked on one step: its answer key comes from the engine, and stays hidden until revealed."""

    id: int
    kind: str  # "next" | "breaks" | "lesson"
    text: str
    many: bool  # several options may be picked
    options: tuple[Choice, ...]
    url: str  # the step it is asked on
    revealed: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LiveQuestion:
        data = json.loads(text)
        data["options"] = tuple(Choice(**o) for o in data["options"])
        return cls(**data)


@dataclass(frozen=True)
class Tally:
    """The answers to a question: how many, and how many picked each option."""

    answers: int
    picks: tuple[tuple[str, int], ...]


def tally(question: LiveQuestion, answers: list[list[str]]) -> Tally:
    counts: Counter[str] = Counter()
    for picks in answers:
        counts.update(set(picks))
    return Tally(len(answers), tuple((o.value, counts[o.value]) for o in question.options))


@dataclass(frozen=True)
class Room:
    code: str
    url: str  # the stage the class is on (a canonical player or lesson link)
    label: str  # how the stage reads: "Close during send, step 4 of 12"
    key_hash: str
    seq: int  # grows with every change, so an event stream's ids grow
    question: LiveQuestion | None
    active_at: float  # wall clock of the last change or answer


# -- events and followers ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One server-sent event: its name (step, question, followers) and its data (HTML, one or more lines)."""

    name: str
    data: str
    id: int | None = None

    def encode(self) -> bytes:
        lines = [f"event: {self.name}"]
        if self.id is not None:
            lines.append(f"id: {self.id}")
        lines += [f"data: {line}" for line in self.data.split("\n")]
        return ("\n".join(lines) + "\n\n").encode()


class Subscription:
    """One follower's mailbox: the latest event of each name, in the order they first arrived.

    A follower that reads slowly misses intermediate steps, never the current one, and never holds more than one
    event per name."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, Event] = OrderedDict()
        self._ready = asyncio.Event()

    def offer(self, event: Event) -> None:
        self._pending[event.name] = event
        self._ready.set()

    async def take(self, timeout: float) -> list[Event]:
        """The pending events, waiting up to ``timeout`` seconds for one; [] if none came."""
        if not self._pending:
            # asyncio.timeout, not wait_for: no extra task per wake-up, which counts with 500 followers.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
        events = list(self._pending.values())
        self._pending.clear()
        self._ready.clear()
        return events


class Fanout:
    """A process's followers, by room: hands each event to every local subscription of its room."""

    def __init__(self) -> None:
        self._rooms: dict[str, set[Subscription]] = {}

    def add(self, code: str) -> Subscription:
        sub = Subscription()
        self._rooms.setdefault(code, set()).add(sub)
        return sub

    def remove(self, code: str, sub: Subscription) -> None:
        subs = self._rooms.get(code)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._rooms[code]

    def deliver(self, code: str, event: Event) -> None:
        for sub in self._rooms.get(code, ()):
            sub.offer(event)

    def local(self, code: str) -> int:
        return len(self._rooms.get(code, ()))


class Broker(Protocol):
    async def publish(self, code: str, event: Event) -> None: ...

    def subscribe(self, code: str) -> Subscription: ...

    def unsubscribe(self, code: str, sub: Subscription) -> None: ...

    async def close(self) -> None: ...


class MemoryBroker:
    """Events within one process."""

    def __init__(self) -> None:
        self.fanout = Fanout()

    async def publish(self, code: str, event: Event) -> None:
        self.fanout.deliver(code, event)

    def subscribe(self, code: str) -> Subscription:
        return self.fanout.add(code)

    def unsubscribe(self, code: str, sub: Subscription) -> None:
        self.fanout.remove(code, sub)

    async def close(self) -> None:
        return None


CHANNEL = "wsk:room-events:"


class RedisBroker:
    """Events through Redis pub/sub: every worker publishes there, and one task per worker listens to every room's
    channel (a pattern subscription) and hands each message to its own followers. The listener starts with the
    first follower and reconnects after a Redis outage; followers whose events were lost meanwhile are sent the
    room's whole state again (``on_resync``)."""

    RETRY_S = 1.0

    def __init__(self, client: aioredis.Redis, on_resync: Any = None) -> None:
        self._redis = client
        self.fanout = Fanout()
        self._listener: asyncio.Task[None] | None = None
        self._on_resync = on_resync  # async callable(code), run for each local room after a reconnect

    async def publish(self, code: str, event: Event) -> None:
        message = json.dumps({"n": event.name, "d": event.data, "i": event.id})
        try:
            await self._redis.publish(CHANNEL + code, message)
        except redis.RedisError as err:
            raise Unavailable(f"The class's message bus (Redis) did not answer ({err}).") from None

    def subscribe(self, code: str) -> Subscription:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen())
        return self.fanout.add(code)

    def unsubscribe(self, code: str, sub: Subscription) -> None:
        self.fanout.remove(code, sub)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener

    async def _listen(self) -> None:
        lost = False
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.psubscribe(CHANNEL + "*")
                    if lost and self._on_resync is not None:
                        for code in list(self.fanout._rooms):
                            await self._on_resync(code)
                    lost = False
                    async for message in pubsub.listen():
                        if message.get("type") != "pmessage":
                            continue
                        code = str(message["channel"]).removeprefix(CHANNEL)
                        data = json.loads(message["data"])
                        self.fanout.deliver(code, Event(data["n"], data["d"], data["i"]))
            except asyncio.CancelledError:
                raise
            except Exception as err:  # Redis went away: wait, reconnect, resync
                log.warning("room events: lost the Redis subscription (%s); reconnecting", err)
                lost = True
                await asyncio.sleep(self.RETRY_S)


# -- stores ----------------------------------------------------------------------------------------------------------


class RoomStore(Protocol):
    limits: Limits

    async def create(self, url: str, label: str, key: str) -> Room: ...

    async def get(self, code: str) -> Room | None: ...

    async def set_step(self, code: str, url: str, label: str) -> Room: ...

    async def set_question(self, code: str, question: LiveQuestion | None) -> Room: ...

    async def answer(self, code: str, question_id: int, student: str, picks: list[str]) -> int:
        """Record one student's answer (RoomError 409 if they answered already); the number of answers."""
        ...

    async def answers(self, code: str, question_id: int) -> list[list[str]]: ...

    async def join(self, code: str, connection: str) -> int:
        """Count a connection in (RoomError 429 beyond the limit); the room's connections."""
        ...

    async def alive(self, code: str, connection: str) -> None:
        """The connection is still there (with Redis, a worker that dies stops saying so and its count expires)."""
        ...

    async def leave(self, code: str, connection: str) -> int: ...

    async def followers(self, code: str) -> int: ...


def _gone(code: str) -> RoomError:
    return RoomError(
        404,
        f"There is no class '{code}': it ended, or the code is mistyped. Ask the presenter for the join link.",
    )


def _too_many_answers(limits: Limits) -> RoomError:
    return RoomError(
        429,
        f"This question already has {limits.answers} answers, the most one question takes; the results will "
        "show them.",
    )


def _already(student: str) -> RoomError:
    return RoomError(409, "This device has already answered this question: one answer per student.")


def _not_asked(question_id: int) -> RoomError:
    return RoomError(
        409,
        f"Question {question_id} is not the class's current question (it was closed or replaced); "
        "answer the one shown now.",
    )


@dataclass
class _MemoryRoom:
    room: Room
    answers: dict[str, list[str]] = field(default_factory=dict)
    connections: set[str] = field(default_factory=set)


class MemoryStore:
    """Rooms in this process's memory; expired rooms are dropped on the next call."""

    def __init__(self, limits: Limits | None = None, clock: Any = time.time) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._rooms: dict[str, _MemoryRoom] = {}

    def _sweep(self) -> None:
        cutoff = self._clock() - self.limits.room_ttl_s
        for code in [c for c, r in self._rooms.items() if r.room.active_at < cutoff]:
            del self._rooms[code]

    def _find(self, code: str) -> _MemoryRoom:
        self._sweep()
        found = self._rooms.get(code)
        if found is None:
            raise _gone(code)
        return found

    async def create(self, url: str, label: str, key: str) -> Room:
        self._sweep()
        if len(self._rooms) >= self.limits.rooms:
            raise _full(self.limits)
        code = new_code()
        while code in self._rooms:
            code = new_code()
        room = Room(code, url, label, key_hash(key), 1, None, self._clock())
        self._rooms[code] = _MemoryRoom(room)
        return room

    async def get(self, code: str) -> Room | None:
        self._sweep()
        found = self._rooms.get(code)
        return found.room if found else None

    async def set_step(self, code: str, url: str, label: str) -> Room:
        found = self._find(code)
        found.room = replace(
            found.room, url=url, label=label, seq=found.room.seq + 1, active_at=self._clock()
        )
        return found.room

    async def set_question(self, code: str, question: LiveQuestion | None) -> Room:
        found = self._find(code)
        if question is None or (found.room.question and found.room.question.id != question.id):
            found.answers = {}
        found.room = replace(found.room, question=question, seq=found.room.seq + 1, active_at=self._clock())
        return found.room

    async def answer(self, code: str, question_id: int, student: str, picks: list[str]) -> int:
        found = self._find(code)
        if found.room.question is None or found.room.question.id != question_id:
            raise _not_asked(question_id)
        if student in found.answers:
            raise _already(student)
        if len(found.answers) >= self.limits.answers:
            raise _too_many_answers(self.limits)
        found.answers[student] = picks
        found.room = replace(found.room, active_at=self._clock())
        return len(found.answers)

    async def answers(self, code: str, question_id: int) -> list[list[str]]:
        found = self._find(code)
        if found.room.question is None or found.room.question.id != question_id:
            return []
        return list(found.answers.values())

    async def join(self, code: str, connection: str) -> int:
        found = self._find(code)
        if len(found.connections) >= self.limits.followers:
            raise _crowded(self.limits)
        found.connections.add(connection)
        return len(found.connections)

    async def alive(self, code: str, connection: str) -> None:
        return None

    async def leave(self, code: str, connection: str) -> int:
        found = self._rooms.get(code)
        if found is None:
            return 0
        found.connections.discard(connection)
        return len(found.connections)

    async def followers(self, code: str) -> int:
        found = self._rooms.get(code)
        return len(found.connections) if found else 0


def _full(limits: Limits) -> RoomError:
    return RoomError(
        429,
        f"{limits.rooms} classes are open, the most this server holds at once; a class closes after "
        f"{limits.room_ttl_s / 3600:g} hours without activity. Try again later.",
    )


def _crowded(limits: Limits) -> RoomError:
    return RoomError(
        429,
        f"This class has {limits.followers} devices connected, the most one class takes; share a projector "
        "or a neighbour's screen.",
    )


ROOM = "wsk:room:"
ROOMS = "wsk:rooms"  # every open room, scored by the time of its last activity

# KEYS: room hash, rooms zset. ARGV: code, now, cutoff, limit, ttl_ms, then field, value, ...
_CREATE = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

# KEYS: room hash, rooms zset, answers hash, connections zset. ARGV: code, now, ttl_ms, then field, value, ...
# The question's answers go when another question replaces it (ARGV[4] is then 1).
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
if ARGV[4] == '1' then redis.call('DEL', KEYS[3]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""

# KEYS: room hash, answers hash, rooms zset. ARGV: question id, student, picks, limit, code, now, ttl_ms.
_ANSWER = """
local asked = redis.call('HGET', KEYS[1], 'question_id')
if not asked then return -3 end
if asked ~= ARGV[1] then return -2 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return -1 end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return -4 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
return redis.call('HLEN', KEYS[2])
"""

# KEYS: room hash, connections zset. ARGV: connection, now, expires at, limit, ttl_ms.
_JOIN = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return -1 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return redis.call('ZCARD', KEYS[2])
"""


class RedisStore:
    """Rooms in Redis, shared by every worker. Each change is one Lua script, so it is atomic; every key of a room
    expires after ``room_ttl_s`` without activity. A connection is a member of the room's connections set until
    its expiry, which the worker that holds it renews (``alive``): a worker that dies leaks no follower."""

    CONNECTION_LEASE_S = 45.0

    def __init__(self, client: aioredis.Redis, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._redis = client
        self._create = client.register_script(_CREATE)
        self._update = client.register_script(_UPDATE)
        self._answer = client.register_script(_ANSWER)
        self._join = client.register_script(_JOIN)

    @property
    def _ttl_ms(self) -> int:
        return int(self.limits.room_ttl_s * 1000)

    @contextlib.asynccontextmanager
    async def _answering(self) -> AsyncIterator[None]:
        try:
            yield
        except redis.RedisError as err:
            raise Unavailable(
                f"The class's shared store (Redis) did not answer ({err}); try again in a few seconds."
            ) from None

    async def create(self, url: str, label: str, key: str) -> Room:
        now = time.time()
        cutoff = now - self.limits.room_ttl_s
        for _ in range(8):
            code = new_code()
            fields = ["url", url, "label", label, "key", key_hash(key), "seq", "1", "question", ""]
            fields += ["question_id", "", "active_at", repr(now)]
            args: list[str | int] = [code, repr(now), repr(cutoff), self.limits.rooms, self._ttl_ms, *fields]
            async with self._answering():
                made = await self._create(keys=[ROOM + code, ROOMS], args=args)
            if made == -1:
                raise _full(self.limits)
            if made == 1:
                return Room(code, url, label, key_hash(key), 1, None, now)
        raise Unavailable("Could not find a free class code; try again.")

    async def get(self, code: str) -> Room | None:
        async with self._answering():
            fields = await cast(Awaitable[dict[str, str]], self._redis.hgetall(ROOM + code))
        return _room(code, fields)

    async def _change(self, code: str, fields: list[str], fresh_question: bool) -> Room:
        now = time.time()
        keys = [ROOM + code, ROOMS, f"{ROOM}{code}:answers", f"{ROOM}{code}:connections"]
        args: list[str | int] = [
            code,
            repr(now),
            self._ttl_ms,
            "1" if fresh_question else "0",
            *fields,
            "active_at",
            repr(now),
        ]
        async with self._answering():
            flat = await self._update(keys=keys, args=args)
        if flat is None:
            raise _gone(code)
        room = _room(code, dict(zip(flat[::2], flat[1::2], strict=True)))
        assert room is not None
        return room

    async def set_step(self, code: str, url: str, label: str) -> Room:
        return await self._change(code, ["url", url, "label", label], False)

    async def set_question(self, code: str, question: LiveQuestion | None) -> Room:
        current = await self.get(code)
        if current is None:
            raise _gone(code)
        fresh = question is None or current.question is None or current.question.id != question.id
        text = question.to_json() if question else ""
        qid = str(question.id) if question else ""
        return await self._change(code, ["question", text, "question_id", qid], fresh)

    async def answer(self, code: str, question_id: int, student: str, picks: list[str]) -> int:
        keys = [ROOM + code, f"{ROOM}{code}:answers", ROOMS]
        args: list[str | int] = [
            str(question_id),
            student,
            json.dumps(picks),
            self.limits.answers,
            code,
            repr(time.time()),
        ]
        async with self._answering():
            got = int(await self._answer(keys=keys, args=[*args, self._ttl_ms]))
        if got == -3:
            raise _gone(code)
        if got == -2:
            raise _not_asked(question_id)
        if got == -1:
            raise _already(student)
        if got == -4:
            raise _too_many_answers(self.limits)
        return got

    async def answers(self, code: str, question_id: int) -> list[list[str]]:
        async with self._answering():
            asked = await cast(Awaitable[str | None], self._redis.hget(ROOM + code, "question_id"))
            if asked != str(question_id):
                return []
            values = await cast(Awaitable[list[str]], self._redis.hvals(f"{ROOM}{code}:answers"))
        return [list(json.loads(v)) for v in values]

    async def join(self, code: str, connection: str) -> int:
        now = time.time()
        keys = [ROOM + code, f"{ROOM}{code}:connections"]
        args: list[str | int] = [
            connection,
            repr(now),
            repr(now + self.CONNECTION_LEASE_S),
            self.limits.followers,
            self._ttl_ms,
        ]
        async with self._answering():
            got = int(await self._join(keys=keys, args=args))
        if got == -2:
            raise _gone(code)
        if got == -1:
            raise _crowded(self.limits)
        return got

    async def alive(self, code: str, connection: str) -> None:
        async with self._answering():
            await cast(
                Awaitable[int],
                self._redis.zadd(
                    f"{ROOM}{code}:connections", {connection: time.time() + self.CONNECTION_LEASE_S}, xx=True
                ),
            )

    async def leave(self, code: str, connection: str) -> int:
        async with self._answering():
            await self._redis.zrem(f"{ROOM}{code}:connections", connection)
        return await self.followers(code)

    async def followers(self, code: str) -> int:
        async with self._answering():
            return int(await self._redis.zcount(f"{ROOM}{code}:connections", repr(time.time()), "+inf"))


def _room(code: str, f: dict[str, str]) -> Room | None:
    if not f or "url" not in f:
        return None
    question = LiveQuestion.from_json(f["question"]) if f.get("question") else None
    return Room(
        code, f["url"], f.get("label", ""), f["key"], int(f.get("seq", "1")), question, float(f["active_at"])
    )


def connection_id() -> str:
    return uuid.uuid4().hex
