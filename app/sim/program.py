"""A validated scenario compiled for the engine: indexed programs, memory layout, and one line of C per statement.

Compiling resolves names once (socket names to indices, memory names to cells) so that stepping does no parsing,
and renders every statement as the C line a learner recognises from the WSK documentation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from app.sim import scenario as sc


@dataclass(frozen=True, slots=True)
class MemoryCell:
    """A declared memory cell, compiled: its kind, its initial value, and the socket context it lives in (rule UB-4)."""

    name: str
    kind: str  # "word" | "rundown" | "event"
    initial: int
    context_socket: int | None  # index of the socket whose context holds it
    c_name: str  # how programs spell it: ctx->Ref, or Ref for a global
    synchronization: bool = False  # an auto-reset event: the wait it satisfies resets it

    @property
    def declaration(self) -> str:
        """The line of C that sets the cell up before any thread runs: an event's KeInitializeEvent says its type
        ([KeInitializeEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-keinitializeevent)),
        a run-down block's ExInitializeRundownProtection
        ([Run-Down Protection](https://learn.microsoft.com/windows-hardware/drivers/kernel/run-down-protection))."""
        if self.kind == "event":
            kind = "SynchronizationEvent" if self.synchronization else "NotificationEvent"
            return f"KeInitializeEvent(&{self.c_name}, {kind}, {'TRUE' if self.initial else 'FALSE'});"
        if self.kind == "rundown":
            return f"ExInitializeRundownProtection(&{self.c_name});"
        if self.context_socket is not None:
            return f"{self.c_name} = {self.initial};"  # a field of the context, set up when it is allocated
        return f"LONG {self.c_name} = {self.initial};"


@dataclass(frozen=True, slots=True)
class CompiledProgram:
    """One program ready to run: its statements, the line of C each renders as, and its labels."""

    key: str  # "thread:Closer", "menu:Player:send", "routine:SendComplete"
    title: str  # what the UI calls it: "Closer", "Player: Send", "SendComplete"
    kind: str  # "thread" | "completion" | "callback"
    statements: tuple[sc.Statement, ...]
    lines: tuple[str, ...]  # one line of C per statement
    labels: tuple[tuple[str, int], ...]

    def label_index(self, label: str) -> int:
        """The statement a ``GotoIf`` target names."""
        return dict(self.labels)[label]


@dataclass(frozen=True, slots=True)
class CompiledThread:
    """One thread, compiled: its script's program, or a sandbox thread's menu and how it joins and stops."""

    name: str
    irql: str
    program: str | None  # key of its program, or None for a sandbox thread
    menu: tuple[tuple[str, str, str, int | None], ...]  # (op id, label, program key, times)
    joins: str = "at_start"  # "when_added": a live sandbox thread, there once the user adds it
    max_operations: int | None = None  # operations it may start in all
    stops: str = "when_told"  # "when_done": it offers no stop action, and is done once its menu is used up


@dataclass(frozen=True)
class CompiledScenario:
    """A validated scenario, ready for the engine: sockets, memory and threads by index, every program compiled."""

    source: sc.Scenario
    fingerprint: str
    sockets: tuple[sc.SocketDecl, ...]
    socket_index: dict[str, int]
    memory: tuple[MemoryCell, ...]
    memory_index: dict[str, int]
    threads: tuple[CompiledThread, ...]
    programs: dict[str, CompiledProgram]

    @property
    def setup_lines(self) -> tuple[str, ...]:
        """The shared memory's set-up, one line of C per cell, in declaration order."""
        return tuple(cell.declaration for cell in self.memory)

    @property
    def settings(self) -> sc.Settings:
        """The scenario's settings: where the documentation is silent, the choice made visible."""
        return self.source.settings

    def socket_of(self, stmt: sc.Statement) -> int:
        """The socket a statement names, or the only socket when it names none."""
        name: str = getattr(stmt, "socket", "") or self.sockets[0].name
        return self.socket_index[name]


def fingerprint(scenario: sc.Scenario) -> str:
    """A content hash of the scenario's canonical JSON: equal content, equal fingerprint."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def compile_scenario(scenario: sc.Scenario) -> CompiledScenario:
    """Resolve every name of a validated scenario and render its programs."""
    sockets = tuple(scenario.sockets)
    socket_index = {s.name: i for i, s in enumerate(sockets)}
    memory = tuple(
        MemoryCell(
            name=m.name,
            kind=m.kind,
            initial=m.initial,
            context_socket=None if m.in_context is None else socket_index[m.in_context],
            c_name=m.name
            if m.in_context is None
            else f"{sockets[socket_index[m.in_context]].context}->{m.name}",
            synchronization=m.event_type == "synchronization",
        )
        for m in scenario.memory
    )
    memory_index = {cell.name: i for i, cell in enumerate(memory)}
    renderer = _Renderer(scenario, memory_index, memory)
    programs: dict[str, CompiledProgram] = {}
    threads: list[CompiledThread] = []

    def add(key: str, title: str, kind: str, statements: list[sc.Statement]) -> str:
        programs[key] = CompiledProgram(
            key=key,
            title=title,
            kind=kind,
            statements=tuple(statements),
            lines=tuple(
                f"{s.label}: {renderer.line(s)}" if s.label else renderer.line(s) for s in statements
            ),
            labels=tuple((s.label, i) for i, s in enumerate(statements) if s.label),
        )
        return key

    for t in scenario.threads:
        if t.program is not None:
            threads.append(
                CompiledThread(t.name, t.irql, add(f"thread:{t.name}", t.name, "thread", list(t.program)), ())
            )
        else:
            menu = tuple(
                (
                    op.id,
                    op.label,
                    add(f"menu:{t.name}:{op.id}", f"{t.name}: {op.label}", "thread", list(op.program)),
                    op.times,
                )
                for op in t.menu or []
            )
            threads.append(CompiledThread(t.name, t.irql, None, menu, t.joins, t.max_operations, t.stops))
    for name, routine in scenario.routines.items():
        add(f"routine:{name}", name, routine.kind, list(routine.program))
    return CompiledScenario(
        source=scenario,
        fingerprint=fingerprint(scenario),
        sockets=sockets,
        socket_index=socket_index,
        memory=memory,
        memory_index=memory_index,
        threads=tuple(threads),
        programs=programs,
    )


class _Renderer:
    """Spells statements as C, using the scenario's own names for sockets, contexts and memory."""

    def __init__(self, scenario: sc.Scenario, memory_index: dict[str, int], memory: tuple[MemoryCell, ...]):
        self.scenario = scenario
        self.memory = {name: memory[i] for name, i in memory_index.items()}
        self.only_socket = scenario.sockets[0]

    def sock(self, stmt: sc.Statement) -> str:
        return getattr(stmt, "socket", "") or self.only_socket.name

    def ctx(self, stmt: sc.Statement) -> str:
        name = self.sock(stmt)
        return next(s.context for s in self.scenario.sockets if s.name == name)

    def var(self, name: str) -> str:
        return self.memory[name].c_name if name in self.memory else name

    def operand(self, o: sc.Operand) -> str:
        if o.name is None:
            return o.text
        base = f"Irp->{o.name}" if o.name == sc.PENDING_RETURNED else self.var(o.name)
        return base if not o.offset else f"{base} {'+' if o.offset > 0 else '-'} {abs(o.offset)}"

    def cond(self, c: sc.Condition) -> str:
        left = self.operand(c.left)
        if c.op == "nonzero":
            return left
        if c.op == "zero":
            return f"!{left}"
        assert c.right is not None
        if c.op == "&":
            return f"{left} & {self.operand(c.right)}"
        return f"{left} {c.op} {self.operand(c.right)}"

    @staticmethod
    def assign(into: str | None, call: str) -> str:
        return f"{into} = {call};" if into else f"{call};"

    def call(self, s: sc.SocketCall) -> str:
        """A socket call through its socket's dispatch table: ``st = s->Dispatch->WskXxx(s, ..., Irp);``."""
        irp: str = getattr(s, "irp", "")
        match s:
            case sc.WskSend() | sc.WskReceive():
                args = f"&buf, 0, {irp}"
            case sc.WskAccept():
                args = f"0, NULL, NULL, NULL, NULL, {irp}"
            case sc.WskConnect():
                args = f"&RemoteAddress, 0, {irp}"
            case sc.WskDisconnect():
                args = f"NULL, {'WSK_FLAG_ABORTIVE' if s.abortive else '0'}, {irp}"
            case sc.WskSendTo():
                args = f"&buf, 0, &RemoteAddress, 0, NULL, {irp}"
            case sc.WskReceiveFrom():
                args = f"&buf, 0, &From, 0, NULL, NULL, {irp}"
            case sc.WskControlSocket():
                mask = f"WSK_EVENT_{s.event.upper()}" + ("" if s.enable else " | WSK_EVENT_DISABLE")
                args = f"/* {mask} */"
            case sc.WskRelease():
                args = f"{self.ctx(s)}->Retained"
            case _:
                args = irp
        sock = self.sock(s)
        op: str = s.op  # type: ignore[attr-defined]
        return self.assign(s.into, f"{sock}->Dispatch->{op}({sock}, {args})")

    def line(self, s: sc.Statement) -> str:
        match s:
            case sc.IoAllocateIrp():
                return f"{s.irp} = IoAllocateIrp(1, FALSE);"
            case sc.IoSetCompletionRoutine():
                flags = ", ".join(
                    "TRUE" if f else "FALSE"
                    for f in (s.invoke_on_success, s.invoke_on_error, s.invoke_on_cancel)
                )
                return f"IoSetCompletionRoutine({s.irp}, {s.routine}, {self.only_socket.context}, {flags});"
            case sc.IoReuseIrp():
                return f"IoReuseIrp({s.irp}, STATUS_UNSUCCESSFUL);"
            case sc.IoFreeIrp():
                return f"IoFreeIrp({s.irp});"
            case sc.IoCancelIrp():
                return f"IoCancelIrp({s.irp});"
            case sc.ReadIoStatus():
                return f"{s.into} = {s.irp}->IoStatus.{s.field};"
            case sc.SocketCall():
                return self.call(s)
            case sc.ReadSocketDispatch():
                return f"Dispatch = {self.sock(s)}->Dispatch;"
            case sc.InterlockedIncrement():
                return self.assign(s.into, f"InterlockedIncrement(&{self.var(s.var)})")
            case sc.InterlockedDecrement():
                return self.assign(s.into, f"InterlockedDecrement(&{self.var(s.var)})")
            case sc.InterlockedExchange():
                return self.assign(
                    s.into, f"InterlockedExchange(&{self.var(s.var)}, {self.operand(s.value)})"
                )
            case sc.InterlockedCompareExchange():
                args = f"&{self.var(s.var)}, {self.operand(s.exchange)}, {self.operand(s.comparand)}"
                return self.assign(s.into, f"InterlockedCompareExchange({args})")
            case sc.InterlockedOr():
                return self.assign(s.into, f"InterlockedOr(&{self.var(s.var)}, {self.operand(s.value)})")
            case sc.Read():
                return f"{s.into} = {self.var(s.var)};"
            case sc.Write():
                return f"{self.var(s.var)} = {self.operand(s.value)};"
            case sc.Assign():
                return f"{s.into} = {self.operand(s.value)};"
            case sc.ExAcquireRundownProtection():
                return self.assign(s.into, f"ExAcquireRundownProtection(&{self.var(s.var)})")
            case sc.ExReleaseRundownProtection():
                return f"ExReleaseRundownProtection(&{self.var(s.var)});"
            case sc.ExWaitForRundownProtectionRelease():
                return f"ExWaitForRundownProtectionRelease(&{self.var(s.var)});"
            case sc.KeSetEvent():
                return f"KeSetEvent(&{self.var(s.var)}, IO_NO_INCREMENT, FALSE);"
            case sc.KeClearEvent():
                return f"KeClearEvent(&{self.var(s.var)});"
            case sc.KeWaitForSingleObject():
                return f"KeWaitForSingleObject(&{self.var(s.var)}, Executive, KernelMode, FALSE, NULL);"
            case sc.FreeSocketContext():
                return f"ExFreePool({self.ctx(s)});"
            case sc.WskReleaseProviderNPI():
                return "WskReleaseProviderNPI(&WskRegistration);"
            case sc.WskDeregister():
                return "WskDeregister(&WskRegistration);"
            case sc.Return():
                return "return;" if s.status is None else f"return {self.operand(s.status)};"
            case sc.ReturnIf():
                tail = "return;" if s.status is None else f"return {self.operand(s.status)};"
                return f"if ({self.cond(s.cond)}) {tail}"
            case sc.GotoIf():
                return f"goto {s.target};" if s.cond is None else f"if ({self.cond(s.cond)}) goto {s.target};"
        raise AssertionError(f"no C rendering for {type(s).__name__}")
