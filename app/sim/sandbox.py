"""The live sandbox: a situation the user builds, one choice at a time, and the fixed scenario it amounts to.

A live sandbox is an ordinary scenario, written by this chapter rather than by hand, so the engine runs it like any
other and every choice the user makes is an action in its schedule:

- **The design** of the close's protection is the scenario: one live sandbox per design (``DESIGNS``), so a
  session's link names its design (``/play/live-rundown?...``).
- **A thread** is added with ``T2-add`` (threads ``T2``... are declared ``joins: when_added``; ``T1`` is there from
  the start).
- **An operation** is started on an idle thread with ``T1-send``, as often as the user likes (``times`` unset),
  up to ``MAX_OPERATIONS`` per thread: the socket operations (send, receive, disconnect, release, close), each
  wrapped in the design's protection, and the raw tools (take or drop a reference, acquire or release run-down
  protection, set or wait on an event).
- WSK's and the peer's moves are offered as everywhere else.

"Find the race" cannot search a sandbox whose threads may start operations for ever, so it searches the *situation
built so far* (``situation``): the threads that started operations, each allowed exactly the operations it started
(as often as it started them, in any order), and the peer allowed what it did; every interleaving of those is free.
That is again an ordinary scenario, and its witnesses replay in the live sandbox once its threads are added
(``live_schedule``).

The protection designs are those of the close-protection family (scenarios/protect-*.yaml), written here as a
prologue and epilogue around each socket call and a way to close: [Run-Down Protection](https://learn.microsoft.com/windows-hardware/drivers/kernel/run-down-protection)
and [Closing a Socket](https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket) say why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.sim.engine import Engine
from app.sim.program import compile_scenario
from app.sim.scenario import Scenario

#: Threads a live sandbox can have (T1 from the start; the others once added), and operations one thread may start.
MAX_THREADS = 5
MAX_OPERATIONS = 8
#: The peer may send this many segments, and may close (FIN) or reset (RST) the connection.
PEER_DATA = 2
PREFIX = "live-"
SITUATION = "-situation"

Statement = dict[str, Any]


@dataclass(frozen=True)
class Design:
    """One way to keep a close from racing the socket's other calls."""

    id: str
    name: str
    summary: str
    memory: tuple[Statement, ...]  # the cells the design needs
    guard: tuple[str, ...]  # what it does before a call, in words ("acquire run-down")
    unguard: tuple[str, ...]  # and after it
    closing: tuple[str, ...]  # what close does before WskCloseSocket
    refuses: bool  # whether the guard can turn a call away (the thread then frees its own IRP)

    def before(self) -> list[Statement]:
        """The statements before a socket call; a refused call jumps to ``refused``."""
        match self.id:
            case "check-zero":
                return [{"op": "InterlockedIncrement", "var": "Ref"}]
            case "flag-then-increment":
                return [
                    {"op": "GotoIf", "cond": "Closing", "target": "refused"},
                    {"op": "InterlockedIncrement", "var": "Ref"},
                ]
            case "interlocked-word":
                return [
                    {"op": "Read", "var": "State", "into": "old", "label": "tryref"},
                    {"op": "GotoIf", "cond": "old & 1", "target": "refused"},
                    {
                        "op": "InterlockedCompareExchange",
                        "var": "State",
                        "exchange": "old + 2",
                        "comparand": "old",
                        "into": "seen",
                    },
                    {"op": "GotoIf", "cond": "seen != old", "target": "tryref"},
                ]
            case "rundown":
                return [
                    {"op": "ExAcquireRundownProtection", "var": "Rundown", "into": "ok"},
                    {"op": "GotoIf", "cond": "!ok", "target": "refused"},
                ]
        return []

    def after(self) -> list[Statement]:
        """The statements after a socket call returns (not after its IRP completes: rule P2)."""
        match self.id:
            case "check-zero":
                return [{"op": "InterlockedDecrement", "var": "Ref"}]
            case "flag-then-increment":
                return [{"op": "InterlockedDecrement", "var": "Ref"}, {"op": "Return"}]
            case "interlocked-word":
                return [
                    {"op": "Read", "var": "State", "into": "old", "label": "deref"},
                    {
                        "op": "InterlockedCompareExchange",
                        "var": "State",
                        "exchange": "old - 2",
                        "comparand": "old",
                        "into": "seen",
                    },
                    {"op": "GotoIf", "cond": "seen != old", "target": "deref"},
                    {"op": "ReturnIf", "cond": "old - 2 != 1"},
                    {"op": "KeSetEvent", "var": "Drained"},
                    {"op": "Return"},
                ]
            case "rundown":
                return [{"op": "ExReleaseRundownProtection", "var": "Rundown"}, {"op": "Return"}]
        return []

    def before_close(self) -> list[Statement]:
        """What close does before WskCloseSocket: wait until no call is in progress, the design's way."""
        match self.id:
            case "check-zero":
                return [{"op": "GotoIf", "cond": "Ref != 0", "target": "drain", "label": "drain"}]
            case "flag-then-increment":
                return [
                    {"op": "InterlockedExchange", "var": "Closing", "value": "TRUE"},
                    {"op": "GotoIf", "cond": "Ref != 0", "target": "drain", "label": "drain"},
                ]
            case "interlocked-word":
                return [
                    {"op": "InterlockedOr", "var": "State", "value": 1, "into": "old"},
                    {"op": "GotoIf", "cond": "old == 0", "target": "close"},
                    {"op": "KeWaitForSingleObject", "var": "Drained"},
                ]
            case "rundown":
                return [{"op": "ExWaitForRundownProtectionRelease", "var": "Rundown"}]
        return []


DESIGNS: dict[str, Design] = {
    d.id: d
    for d in (
        Design(
            "none",
            "no protection",
            "Nothing stops a close from running while another thread is inside a socket call.",
            (),
            (),
            (),
            (),
            False,
        ),
        Design(
            "check-zero",
            "check zero, then close",
            "Each call counts itself in Ref; close spins until it reads Ref == 0. The read and the close are two "
            "steps, so a call can slip in between (race R1).",
            ({"name": "Ref", "kind": "word"},),
            ("Ref++",),
            ("Ref--",),
            ("wait for Ref == 0",),
            False,
        ),
        Design(
            "flag-then-increment",
            "flag, then increment",
            "Close sets Closing, then waits for Ref == 0; a call checks Closing, then counts itself. The check and "
            "the count are two steps (race R2).",
            ({"name": "Ref", "kind": "word"}, {"name": "Closing", "kind": "word"}),
            ("check Closing", "Ref++"),
            ("Ref--",),
            ("set Closing", "wait for Ref == 0"),
            True,
        ),
        Design(
            "interlocked-word",
            "flag and count in one word",
            "The closing bit and the count share State: a call adds 2 with InterlockedCompareExchange only while "
            "bit 0 is clear; close sets bit 0 and waits on Drained if calls were in progress.",
            ({"name": "State", "kind": "word"}, {"name": "Drained", "kind": "event"}),
            ("State += 2 if open",),
            ("State -= 2",),
            ("set the closing bit", "wait on Drained"),
            True,
        ),
        Design(
            "rundown",
            "run-down protection",
            "Each call acquires run-down protection (which fails once the close has begun) and releases it when "
            "the call returns; close waits for every acquisition to be released.",
            ({"name": "Rundown", "kind": "rundown"},),
            ("acquire",),
            ("release",),
            ("wait for run-down release",),
            True,
        ),
    )
}

#: The raw tools every live sandbox offers, whatever the design: the cells they use are always there.
TOOL_MEMORY: tuple[Statement, ...] = (
    {"name": "Ref", "kind": "word"},
    {"name": "Rundown", "kind": "rundown"},
    {"name": "Ready", "kind": "event"},
)


@dataclass(frozen=True)
class Operation:
    """One operation of the sandbox's menu: its id (the action is ``<thread>-<id>``), its name, and its program
    under a design."""

    id: str
    name: str
    socket_call: str | None  # the WSK function it calls, for the socket operations
    irp: str | None  # its IRP variable, for the calls that take one
    routine: str | None  # the completion routine of that IRP

    def program(self, design: Design) -> list[Statement]:
        """The operation's statements under the design's close protection."""
        if self.id == "close":
            return [
                {"op": "IoAllocateIrp", "irp": "irpC"},
                {"op": "IoSetCompletionRoutine", "irp": "irpC", "routine": "CloseComplete"},
                *design.before_close(),
                {"op": "WskCloseSocket", "irp": "irpC", "into": "st"}
                | ({"label": "close"} if design.id == "interlocked-word" else {}),
            ]
        if self.socket_call is None:
            return list(TOOLS[self.id])
        call: Statement = {"op": self.socket_call, "into": "st"}
        setup: list[Statement] = []
        if self.irp is not None:
            call["irp"] = self.irp
            setup = [
                {"op": "IoAllocateIrp", "irp": self.irp},
                {"op": "IoSetCompletionRoutine", "irp": self.irp, "routine": self.routine},
            ]
        refused: list[Statement] = []
        if design.refuses:
            # Turned away before the call: the IRP never went to WSK, so it is still this thread's to free.
            refused = [
                {"op": "IoFreeIrp", "irp": self.irp, "label": "refused"}
                if self.irp is not None
                else {"op": "Return", "label": "refused"}
            ]
        return [*setup, *design.before(), call, *design.after(), *refused]

    def steps(self, design: Design) -> str:
        """What the operation does under a design, in a few words: 'acquire run-down, WskSend, release run-down'."""
        if self.id == "close":
            return ", ".join([*design.closing, "WskCloseSocket"])
        if self.socket_call is None:
            return TOOL_STEPS[self.id]
        return ", ".join([*design.guard, self.socket_call, *design.unguard])


SOCKET_OPERATIONS = (
    Operation("send", "send", "WskSend", "irpS", "SendComplete"),
    Operation("receive", "receive", "WskReceive", "irpR", "ReceiveComplete"),
    Operation("disconnect", "disconnect", "WskDisconnect", "irpD", "DisconnectComplete"),
    Operation("release", "release", "WskRelease", None, None),
    Operation("close", "close", "WskCloseSocket", "irpC", "CloseComplete"),
)
TOOLS: dict[str, list[Statement]] = {
    "ref": [{"op": "InterlockedIncrement", "var": "Ref"}],
    "deref": [{"op": "InterlockedDecrement", "var": "Ref"}],
    "rdacquire": [{"op": "ExAcquireRundownProtection", "var": "Rundown", "into": "ok"}],
    "rdrelease": [{"op": "ExReleaseRundownProtection", "var": "Rundown"}],
    "setevent": [{"op": "KeSetEvent", "var": "Ready"}],
    "waitevent": [{"op": "KeWaitForSingleObject", "var": "Ready"}],
}
TOOL_STEPS = {
    "ref": "InterlockedIncrement(&Ref)",
    "deref": "InterlockedDecrement(&Ref)",
    "rdacquire": "ExAcquireRundownProtection(&Rundown)",
    "rdrelease": "ExReleaseRundownProtection(&Rundown)",
    "setevent": "KeSetEvent(&Ready)",
    "waitevent": "KeWaitForSingleObject(&Ready)",
}
TOOL_OPERATIONS = (
    Operation("ref", "take a reference", None, None, None),
    Operation("deref", "drop a reference", None, None, None),
    Operation("rdacquire", "acquire run-down", None, None, None),
    Operation("rdrelease", "release run-down", None, None, None),
    Operation("setevent", "set event", None, None, None),
    Operation("waitevent", "wait on event", None, None, None),
)
OPERATIONS = (*SOCKET_OPERATIONS, *TOOL_OPERATIONS)

ROUTINES: dict[str, Any] = {
    "SendComplete": {"kind": "completion", "program": [
        {"op": "IoFreeIrp", "irp": "Irp"}, {"op": "Return", "status": "STATUS_MORE_PROCESSING_REQUIRED"}]},
    "ReceiveComplete": {"kind": "completion", "program": [
        {"op": "IoFreeIrp", "irp": "Irp"}, {"op": "Return", "status": "STATUS_MORE_PROCESSING_REQUIRED"}]},
    "DisconnectComplete": {"kind": "completion", "program": [
        {"op": "IoFreeIrp", "irp": "Irp"}, {"op": "Return", "status": "STATUS_MORE_PROCESSING_REQUIRED"}]},
    "CloseComplete": {"kind": "completion", "program": [
        {"op": "FreeSocketContext"}, {"op": "IoFreeIrp", "irp": "Irp"},
        {"op": "Return", "status": "STATUS_MORE_PROCESSING_REQUIRED"}]},
    # Keeps the data indication (returns STATUS_PENDING): the application must give it back with WskRelease.
    "OnReceive": {"kind": "callback", "program": [{"op": "Return", "status": "STATUS_PENDING"}]},
}  # fmt: skip


def thread_name(number: int) -> str:
    """The live sandbox's name for its n-th thread (T1, T2, ...)."""
    return f"T{number}"


def live_id(design: str) -> str:
    """The scenario id of the live sandbox for one close-protection design."""
    return f"{PREFIX}{design}"


def design_of(scenario_id: str) -> Design | None:
    """The design of a live sandbox's id (``live-rundown``), or None for any other scenario."""
    return DESIGNS.get(scenario_id.removeprefix(PREFIX)) if scenario_id.startswith(PREFIX) else None


def operation_label(op: Operation, design: Design) -> str:
    """The label of an operation's action: its name and what it does under the design (at most 60 characters)."""
    return f"{op.name}: {op.steps(design)}"


def live_scenario(design_id: str) -> Scenario:
    """The live sandbox of one design: T1 present, T2.. added by the user, every operation as often as wanted."""
    design = DESIGNS[design_id]
    menu = [
        {"id": op.id, "label": operation_label(op, design), "program": op.program(design)}
        for op in OPERATIONS
    ]
    threads = [
        {
            "name": thread_name(n),
            "menu": menu,
            "max_operations": MAX_OPERATIONS,
            **({} if n == 1 else {"joins": "when_added"}),
        }
        for n in range(1, MAX_THREADS + 1)
    ]
    memory = {cell["name"]: cell for cell in (*design.memory, *TOOL_MEMORY)}
    return Scenario.model_validate(
        {
            "id": live_id(design.id),
            "title": f"Sandbox: build your own situation ({design.name})",
            "summary": (
                f"Close protection in force: {design.name}. {design.summary} Add threads, and on any idle thread "
                "start any operation, as often as you like; WSK and the peer move when you choose. Find the race "
                "searches every interleaving of the situation you have built so far."
            ),
            "level": 1,
            "order": 95,
            "tags": ["sandbox", "live", "free-play"],
            "rules": ["P1", "P2", "P3", "R1", "R2", "UB-1", "UB-2"],
            "sockets": [
                {
                    "name": "s",
                    "context": "ctx",
                    "events": ["receive"],
                    "callbacks": {"receive": "OnReceive"},
                    "peer": {"data": PEER_DATA, "fin": True, "rst": True},
                }
            ],
            "memory": list(memory.values()),
            "threads": threads,
            "routines": ROUTINES,
        }
    )


def live_scenarios() -> list[Scenario]:
    """One live sandbox scenario per close-protection design."""
    return [live_scenario(design) for design in DESIGNS]


@dataclass(frozen=True)
class Situation:
    """What a session has built so far: the operations each thread started (by id, with how often), and what the
    peer did."""

    design: str
    operations: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]  # (thread, ((op id, times), ...))
    peer_data: int
    peer_fin: bool
    peer_rst: bool

    @property
    def empty(self) -> bool:
        """Whether no thread has started any operation yet."""
        return not self.operations

    def describe(self) -> str:
        """In words, for the page: 'T1: send 2 times, close; T2: send; the peer: 1 segment'."""
        parts = [
            f"{thread}: " + ", ".join(op if n == 1 else f"{op} {n} times" for op, n in ops)
            for thread, ops in self.operations
        ]
        peer = [f"{self.peer_data} segment{'s' if self.peer_data != 1 else ''}"] if self.peer_data else []
        peer += ["FIN"] * self.peer_fin + ["RST"] * self.peer_rst
        if peer:
            parts.append("the peer: " + ", ".join(peer))
        return "; ".join(parts)


def situation_of(design_id: str, schedule: Iterable[str]) -> Situation:
    """The situation a live session's schedule has built: read from its actions alone (``T1-send``,
    ``peer-data-s``...), each of which the engine has already checked."""
    started: dict[str, Counter[str]] = {}
    ops = {op.id for op in OPERATIONS}
    threads = {thread_name(n) for n in range(1, MAX_THREADS + 1)}
    peer: Counter[str] = Counter()
    for action in schedule:
        actor, _, what = action.partition("-")
        if actor in threads and what in ops:
            started.setdefault(actor, Counter())[what] += 1
        elif actor == "peer":
            peer[what.rpartition("-")[0]] += 1
    order = [op.id for op in OPERATIONS]
    return Situation(
        design=design_id,
        operations=tuple(
            (thread, tuple((op, counts[op]) for op in order if counts[op]))
            for thread, counts in sorted(started.items(), key=lambda kv: int(kv[0][1:]))
        ),
        peer_data=peer["data"],
        peer_fin=peer["fin"] > 0,
        peer_rst=peer["rst"] > 0,
    )


def chip(action_id: str) -> str | None:
    """The short name of a live sandbox thread's choice (its operations, and stop), or None for other actions."""
    thread, _, what = action_id.partition("-")
    if not (thread[:1] == "T" and thread[1:].isdigit()):
        return None
    if what == "stop":
        return "stop"
    return next((op.name for op in OPERATIONS if op.id == what), None)


def over_bounds(schedule: Iterable[str]) -> str | None:
    """What a live session's schedule asks for beyond the sandbox's bounds, in a sentence that names the bound; None
    if nothing. The engine would refuse such an action too, but only as one it cannot take."""
    started: Counter[str] = Counter()
    ops = {op.id for op in OPERATIONS}
    for action in schedule:
        actor, _, what = action.partition("-")
        if actor[:1] == "T" and actor[1:].isdigit() and actor[1:].isascii() and int(actor[1:]) > MAX_THREADS:
            return (
                f"'{action}' names thread {actor}, but a sandbox has at most {MAX_THREADS} threads "
                f"(T1 to T{MAX_THREADS})."
            )
        if what in ops:
            started[actor] += 1
            if started[actor] > MAX_OPERATIONS:
                return (
                    f"thread {actor} starts more than {MAX_OPERATIONS} operations, the most one sandbox thread may "
                    "start. Add another thread instead."
                )
    return None


def situation_scenario(situation: Situation) -> Scenario:
    """The fixed scenario a situation amounts to: its threads, each with a menu of exactly the operations it
    started (``times`` as often), all there from the start; the peer allowed what it did. Its id names the live
    sandbox it comes from, so its witnesses can be replayed there (``live_schedule``)."""
    live = live_scenario(situation.design)
    data = live.model_dump(mode="json")
    menus = {t["name"]: {op["id"]: op for op in t["menu"]} for t in data["threads"]}
    data["threads"] = [
        {
            "name": thread,
            "menu": [{**menus[thread][op], "times": times} for op, times in ops],
            "stops": "when_done",
        }
        for thread, ops in situation.operations
    ]
    data["sockets"][0]["peer"] = {
        "data": situation.peer_data,
        "fin": situation.peer_fin,
        "rst": situation.peer_rst,
    }
    data["id"] = f"{live.id}{SITUATION}"
    data["title"] = f"The situation built in the sandbox ({DESIGNS[situation.design].name})"
    data["summary"] = (
        f"Built in the live sandbox: {situation.describe() or 'nothing yet'}. Every interleaving of these "
        "operations is free."
    )[:2000]
    data["tags"] = ["sandbox", "situation"]
    return Scenario.model_validate(data)


def live_schedule(situation: Scenario, schedule: Iterable[str]) -> tuple[str, tuple[str, ...]] | None:
    """A schedule of a situation's scenario as a schedule of the live sandbox it was built in: its threads are
    added first, and those of the live sandbox it leaves out are added and stopped (so a run that ends in the
    situation ends in the sandbox too). None if ``situation`` is not exactly a situation of a live sandbox (a
    custom scenario that merely borrows the name)."""
    design = design_of(situation.id.removesuffix(SITUATION)) if situation.id.endswith(SITUATION) else None
    if design is None:
        return None
    used = [t.name for t in situation.threads]
    if not used or any(name not in {thread_name(n) for n in range(1, MAX_THREADS + 1)} for name in used):
        return None
    rebuilt = Situation(
        design=design.id,
        operations=tuple(
            (t.name, tuple((op.id, op.times or 0) for op in t.menu or [])) for t in situation.threads
        ),
        peer_data=situation.sockets[0].peer.data,
        peer_fin=situation.sockets[0].peer.fin,
        peer_rst=situation.sockets[0].peer.rst,
    )
    try:
        if situation_scenario(rebuilt) != situation:
            return None
    except ValueError:
        return None
    last = max(int(name[1:]) for name in used)
    prefix: list[str] = []
    for n in range(1, last + 1):
        name = thread_name(n)
        if n > 1:
            prefix.append(f"{name}-add")
        if name not in used:
            prefix.append(f"{name}-stop")
    steps = tuple(schedule)
    # A run of the situation ends once its threads have used up their operations; in the sandbox they could start
    # more, so the run ends there only once each is told to stop: then what is found at the end (leaks, a
    # deadlock) is found in the sandbox too.
    engine = Engine(compile_scenario(situation))
    state = engine.initial()
    for action in steps:
        state = engine.step(state, action).state
    tail = [f"{name}-stop" for name in used] if not engine.enabled(state) else []
    return live_id(design.id), (*prefix, *steps, *tail)
