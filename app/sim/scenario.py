"""The scenario language: what a scenario author writes, validated before anything runs.

A scenario describes one WSK client: its sockets (with their remote peers), the shared memory its threads use
(counter words, run-down protection blocks, events; each optionally a field of a socket's context), the
application threads (a fixed program, or a sandbox menu of operations), and the completion routines and event
callbacks WSK will run. Programs are lists of typed statements from a fixed library; each renders as one line of C.
No statement runs arbitrary code.

The documentation leaves some WSK behaviour unspecified (the status of the IRPs a close cancels, for one). Those
choices are the ``settings`` of a
scenario, with the reference's defaults, so they are visible and changeable rather than hidden in the engine.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)

from app.sim.ntstatus import STATUS
from app.sim.rules import VIOLATION_KINDS

LIMITS = {
    "threads": 8,
    "sockets": 4,
    "memory": 24,
    "routines": 16,
    "statements": 64,
    "menu": 12,
    "operations": 20,  # operations one sandbox thread may start in all (its max_operations)
    "schedule": 2000,  # actions in one schedule (a link's s=, a demo, an API request)
}
MAX_ACTION_ID = (
    48  # characters; the longest the engine makes is a 16-letter thread, '-' and a 12-letter operation
)

THREAD_NAME = re.compile(r"^[A-Z][A-Za-z0-9]{0,15}$")
SOCKET_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,11}$")
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
OP_ID = re.compile(r"^[a-z][a-z0-9]{0,11}$")
SCENARIO_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# Names are checked with fullmatch: with match, '$' also matches before a final newline, so 'Sender\n' would pass
# and make action ids that the scenario's own links cannot replay.


def _c_identifier(value: str) -> str:
    if not IDENT.fullmatch(value):
        raise ValueError(
            f"'{value[:40]}' is not a C identifier: use 1-32 letters, digits and underscores, not starting with a digit."
        )
    return value


# A C name in a program: a local, an IRP variable, a label, a routine, a memory word. The pattern is documented
# in the JSON Schema for editors; the check itself is _c_identifier, whose message says how to fix the name.
Identifier = Annotated[
    str, Field(max_length=32, json_schema_extra={"pattern": IDENT.pattern}), AfterValidator(_c_identifier)
]
# A statement's socket: empty for the scenario's only socket, else one of its names (checked against them later).
SocketRef = Annotated[str, Field(max_length=12)]
Tag = Annotated[str, Field(min_length=1, max_length=40)]
RuleId = Annotated[str, Field(min_length=1, max_length=16)]
ActionId = Annotated[str, Field(min_length=1, max_length=MAX_ACTION_ID)]

# Names a program may use without assigning them first: the parameters WSK passes in. A completion routine may
# also read ``PendingReturned``, which programs spell without the ``Irp->`` the C line shows (the expression
# tokenizer reads plain names): TRUE when the call that took the IRP returned STATUS_PENDING, FALSE when WSK
# completed it inline (the PendingReturned member of [IRP](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/ns-wdm-_irp)).
PENDING_RETURNED = "PendingReturned"
COMPLETION_PARAMETERS = ("Irp", PENDING_RETURNED)
CALLBACK_PARAMETERS = ("DataIndication", "Flags", "BytesIndicated", "AcceptSocket")
CONSTANTS = {"TRUE": 1, "FALSE": 0, "NULL": 0, "WSK_FLAG_ABORTIVE": 1, **STATUS}


#: The event callbacks a scenario can enable: WskReceiveEvent and WskDisconnectEvent of a connection-oriented socket,
#: WskReceiveFromEvent of a datagram socket, WskAcceptEvent of a listening socket.
EventName = Literal["receive", "disconnect", "receive_from", "accept"]


class Model(BaseModel):
    """Base for every input model: strict types, unknown fields refused, immutable once built."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --------------------------------------------------------------------------------------------------------------
# Expressions: a deliberately tiny grammar, parsed at validation time into typed operands.
# --------------------------------------------------------------------------------------------------------------

# Conditions and operands are read by a small hand-written tokenizer, never by a regular expression: a pattern
# with nested optional whitespace backtracks catastrophically on text such as 200 spaces and '=', and this text
# arrives in links that anyone can send. The tokenizer reads each character once, so its cost is linear.

MAX_EXPRESSION = 120  # characters in one condition or operand; real ones are under 40
MAX_NUMBER_DIGITS = 20  # enough for any 64-bit value, in decimal or hexadecimal
WORD_MIN, WORD_MAX = -(2**63), 2**64 - 1  # what a 64-bit machine word can hold, signed or not

CompareOp = Literal["==", "!=", "<", "<=", ">", ">=", "&", "nonzero", "zero"]
_COMPARISONS = ("==", "!=", "<=", ">=", "<", ">", "&")  # two-character operators first
_SYMBOLS = (*_COMPARISONS, "!", "+", "-")
_ASCII_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_PART = _NAME_START | _ASCII_DIGITS


def _tokens(text: str) -> list[tuple[int, str]]:
    """Split an expression into names, ASCII numbers and operator symbols, each with its position; anything else
    is an error."""
    if len(text) > MAX_EXPRESSION:
        raise ValueError(
            f"'{text[:40]}...' is {len(text)} characters long; an expression may have at most {MAX_EXPRESSION}."
        )
    tokens: list[tuple[int, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t":
            i += 1
            continue
        start = i
        if text.startswith(("0x", "0X"), i):
            i += 2
            while i < len(text) and text[i] in _HEX_DIGITS:
                i += 1
        elif ch in _ASCII_DIGITS:
            while i < len(text) and text[i] in _ASCII_DIGITS:
                i += 1
        elif ch in _NAME_START:
            while i < len(text) and text[i] in _NAME_PART:
                i += 1
        else:
            symbol = next((s for s in _SYMBOLS if text.startswith(s, i)), None)
            if symbol is None:
                raise ValueError(
                    f"'{text}' has an unexpected character {ch!r} at position {i + 1}; expressions use names, "
                    "numbers and the operators == != < <= > >= & ! + -."
                )
            i += len(symbol)
        tokens.append((start, text[start:i]))
    return tokens


def _number(token: str) -> int | None:
    """The value of a decimal or 0x-hexadecimal token, or None if it is not a number."""
    if token[:2] in ("0x", "0X"):
        digits, base = token[2:], 16
    elif token[0] in _ASCII_DIGITS:
        digits, base = token, 10
    else:
        return None
    if not digits or len(digits) > MAX_NUMBER_DIGITS:
        raise ValueError(f"'{token}' is not a number a 64-bit word can hold.")
    return int(digits, base)


def _in_word(value: int, text: str) -> int:
    if not WORD_MIN <= value <= WORD_MAX:
        raise ValueError(f"'{text}' does not fit in a 64-bit word.")
    return value


class Operand(Model):
    """A constant, a status name, or a name (a local variable or a shared memory word) plus an offset."""

    value: int | None = Field(default=None, ge=WORD_MIN, le=WORD_MAX)
    name: str | None = Field(default=None, max_length=32)
    offset: int = Field(default=0, ge=WORD_MIN, le=WORD_MAX)
    text: str = Field(max_length=MAX_EXPRESSION)

    @staticmethod
    def parse(text: str) -> Operand:
        """Parse an operand as written in a scenario (``Ref``, ``STATUS_PENDING``, ``st + 1``)."""
        return Operand.read([t for _, t in _tokens(text)], text)

    @staticmethod
    def read(tokens: list[str], text: str, whole: str | None = None) -> Operand:
        """An operand from its tokens: ``[-]number``, or ``name [(+|-) number]``. ``text`` is how it was written,
        and ``whole`` the condition it is part of, for the error message."""
        shown = text.strip()
        where = f"'{shown}' is not an operand" if shown else f"'{whole}' lacks an operand"
        problem = (
            f"{where}: write a number, a status name (STATUS_PENDING), TRUE/FALSE/NULL, "
            "or a variable name optionally followed by + or - and a number (old + 2)."
        )
        if not tokens:
            raise ValueError(problem)
        sign = 1
        if tokens[0] == "-" and len(tokens) == 2:
            sign, tokens = -1, tokens[1:]
        number = _number(tokens[0])
        if number is not None:
            if len(tokens) != 1:
                raise ValueError(problem)
            return Operand(value=_in_word(sign * number, text), text=shown)
        if sign < 0 or tokens[0][0] not in _NAME_START:
            raise ValueError(problem)
        name, offset = tokens[0], 0
        if len(tokens) == 3 and tokens[1] in ("+", "-"):
            amount = _number(tokens[2])
            if amount is None:
                raise ValueError(problem)
            offset = amount if tokens[1] == "+" else -amount
        elif len(tokens) != 1:
            raise ValueError(problem)
        if len(name) > 32:
            raise ValueError(f"'{name}' is too long for a name: at most 32 characters.")
        if name in CONSTANTS:
            return Operand(value=_in_word(CONSTANTS[name] + offset, text), text=shown)
        return Operand(name=name, offset=offset, text=shown)


class Condition(Model):
    """``left op right``; ``x`` alone means x != 0 and ``!x`` means x == 0; ``&`` tests for common bits."""

    left: Operand
    op: CompareOp
    right: Operand | None = None
    text: str = Field(max_length=MAX_EXPRESSION)

    @staticmethod
    def parse(text: str) -> Condition:
        """Parse a condition as written in a scenario (``Ref != 0``, ``!Irp``, ``PendingReturned``)."""
        positioned = _tokens(text)
        negated = bool(positioned) and positioned[0][1] == "!"
        if negated:
            positioned = positioned[1:]
        tokens = [t for _, t in positioned]
        ops = [i for i, t in enumerate(tokens) if t in _COMPARISONS]
        if not tokens or len(ops) > 1 or (ops and ops[0] == 0):
            raise ValueError(f"'{text}' is not a condition: write 'Ref == 0', 'old & 1', 'Closing' or '!ok'.")
        if not ops:
            left = Operand.read(tokens, text[positioned[0][0] :], text)
            return Condition(left=left, op="zero" if negated else "nonzero", text=text.strip())
        if negated:
            raise ValueError(f"'{text}': '!' can only negate a single operand; write 'x == 0' instead.")
        split = ops[0]
        at, op = positioned[split]
        return Condition(
            left=Operand.read(tokens[:split], text[:at], text),
            op=cast(CompareOp, op),
            right=Operand.read(tokens[split + 1 :], text[at + len(op) :], text),
            text=text.strip(),
        )


# What an author writes: text (or a plain number or boolean), parsed by the validators below into the records above,
# and written back as that same text, so a scenario read from the API or a link looks like the file it came from.
OperandText = Annotated[
    Operand,
    PlainSerializer(lambda operand: operand.text, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": MAX_EXPRESSION},
                {"type": "integer", "minimum": WORD_MIN, "maximum": WORD_MAX},
                {"type": "boolean"},
            ],
            "description": "A number, a status or constant name, or a name optionally followed by + or - and a number.",
        }
    ),
]
ConditionText = Annotated[
    Condition,
    PlainSerializer(lambda condition: condition.text, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_EXPRESSION,
            "description": "'left op right' with op one of == != < <= > >= &, or 'x' (x != 0), or '!x' (x == 0).",
        }
    ),
]


def _condition(value: object) -> object:
    return Condition.parse(value) if isinstance(value, str) else value


def _operand(value: object) -> object:
    if isinstance(value, bool):  # YAML reads an unquoted TRUE or FALSE as a boolean
        return Operand(value=int(value), text="TRUE" if value else "FALSE")
    if isinstance(value, str):
        return Operand.parse(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Operand(value=value, text=str(value))
    return value


# --------------------------------------------------------------------------------------------------------------
# Statements. Each is one atomic step except socket calls and waits, which the engine splits (enter / return).
# --------------------------------------------------------------------------------------------------------------


class Statement(Model):
    """Common to every statement: an optional label that GotoIf can jump to."""

    label: Identifier | None = None

    @property
    def reads_locals(self) -> tuple[str, ...]:
        """The names this statement's operands and condition read (locals, memory cells or PendingReturned)."""
        names: list[str] = []
        for value in self.__dict__.values():
            if isinstance(value, Operand) and value.name:
                names.append(value.name)
            if isinstance(value, Condition):
                names += [o.name for o in (value.left, value.right) if o is not None and o.name]
        return tuple(names)

    @property
    def assigns(self) -> tuple[str, ...]:
        """The local this statement sets (its ``into``), if any."""
        into = getattr(self, "into", None)
        return (into,) if into else ()


class IoAllocateIrp(Statement):
    """Allocate an IRP with one stack location (rule I-6: the allocating driver must free it)."""

    op: Literal["IoAllocateIrp"]
    irp: Identifier

    @property
    def assigns(self) -> tuple[str, ...]:
        """The IRP variable the allocation sets."""
        return (self.irp,)


class IoSetCompletionRoutine(Statement):
    """Arm an IRP's completion routine; all three invoke flags should be TRUE (rule I-1)."""

    op: Literal["IoSetCompletionRoutine"]
    irp: Identifier
    routine: Identifier
    invoke_on_success: bool = True
    invoke_on_error: bool = True
    invoke_on_cancel: bool = True


class IoReuseIrp(Statement):
    """Reinitialise a completed IRP before passing it to WSK again (rule IRP-B5)."""

    op: Literal["IoReuseIrp"]
    irp: Identifier


class IoFreeIrp(Statement):
    """Free an IRP the application allocated (rules I-3, IRP-B1, IRP-B2)."""

    op: Literal["IoFreeIrp"]
    irp: Identifier


class IoCancelIrp(Statement):
    """Ask WSK to cancel a pending IRP the application created (rule I-8, race IRP-B9)."""

    op: Literal["IoCancelIrp"]
    irp: Identifier


class ReadIoStatus(Statement):
    """Read ``Irp->IoStatus.Status`` (or ``.Information``) into a local (rule IRP-B3 if the IRP was freed)."""

    op: Literal["ReadIoStatus"]
    irp: Identifier
    into: Identifier
    field: Literal["Status", "Information"] = "Status"


class SocketCall(Statement):
    """A call to one of the socket's functions: two steps, enter and return (the window of rule P1)."""

    socket: SocketRef = ""
    into: Identifier | None = None


class WskSend(SocketCall):
    """Send on a connected socket ([WskSend](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_send)):
    WSK completes the IRP once the peer has taken every byte; a close meanwhile is rule UB-2 / P1."""

    op: Literal["WskSend"]
    irp: Identifier
    bytes: int = Field(default=100, ge=1, le=65536)


class WskReceive(SocketCall):
    """Receive on a connected socket ([WskReceive](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive)):
    pending until data or the peer's FIN arrives, and taking precedence over the receive event (rule E-7)."""

    op: Literal["WskReceive"]
    irp: Identifier


class WskAccept(SocketCall):
    """Accept an incoming connection on a listening socket ([WskAccept](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_accept)):
    at once if one is waiting, else the IRP stays pending until one arrives. The IRP completes with the accepted
    socket, the next of those the scenario declares ``accepted_from`` this one."""

    op: Literal["WskAccept"]
    irp: Identifier


class WskConnect(SocketCall):
    """Connect a bound connection or stream socket to its peer ([WskConnect](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_connect)):
    the socket is CONNECTING while the IRP is pending, and CONNECTED once it completes with success."""

    op: Literal["WskConnect"]
    irp: Identifier


class WskDisconnect(SocketCall):
    """Disconnect gracefully (FIN) or, with ``abortive``, reset the connection
    ([WskDisconnect](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_disconnect))."""

    op: Literal["WskDisconnect"]
    irp: Identifier
    abortive: bool = False


class WskSendTo(SocketCall):
    """Send one datagram from a bound datagram socket ([WskSendTo](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_send_to))."""

    op: Literal["WskSendTo"]
    irp: Identifier
    bytes: int = Field(default=100, ge=1, le=65536)


class WskReceiveFrom(SocketCall):
    """Receive one datagram on a bound datagram socket ([WskReceiveFrom](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_receive_from)):
    the IRP stays pending until a datagram arrives, and takes precedence over the receive-from event callback."""

    op: Literal["WskReceiveFrom"]
    irp: Identifier


class WskControlSocket(SocketCall):
    """Enable or disable one event callback with SO_WSK_EVENT_CALLBACK (no IRP), as [Enabling and Disabling Event
    Callback Functions](https://learn.microsoft.com/windows-hardware/drivers/network/enabling-and-disabling-event-callback-functions)
    describes."""

    op: Literal["WskControlSocket"]
    event: EventName
    enable: bool


class WskRelease(SocketCall):
    """Return one retained data indication list to WSK (rule P3)."""

    op: Literal["WskRelease"]


class WskCloseSocket(SocketCall):
    """Close the socket ([WskCloseSocket](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_close_socket)):
    no other call may be in progress (rule UB-2 / P1) and none may follow (UB-1); pending IRPs are cancelled (P2)."""

    op: Literal["WskCloseSocket"]
    irp: Identifier


class ReadSocketDispatch(Statement):
    """``Dispatch = Socket->Dispatch``: a dereference of the WSK_SOCKET itself (rule UB-5 once it is freed)."""

    op: Literal["ReadSocketDispatch"]
    socket: SocketRef = ""


class MemoryStatement(Statement):
    """A statement on one shared memory cell (a word, a run-down block or an event)."""

    var: Identifier


class InterlockedIncrement(MemoryStatement):
    """Atomically add one to the word; ``into`` receives the new value."""

    op: Literal["InterlockedIncrement"]
    into: Identifier | None = None


class InterlockedDecrement(MemoryStatement):
    """Atomically subtract one from the word; ``into`` receives the new value."""

    op: Literal["InterlockedDecrement"]
    into: Identifier | None = None


class InterlockedExchange(MemoryStatement):
    """Atomically store ``value``; ``into`` receives the previous value."""

    op: Literal["InterlockedExchange"]
    value: OperandText
    into: Identifier | None = None
    _v = field_validator("value", mode="before")(_operand)


class InterlockedCompareExchange(MemoryStatement):
    """Atomically store ``exchange`` if the word equals ``comparand``; ``into`` receives the original value."""

    op: Literal["InterlockedCompareExchange"]
    exchange: OperandText
    comparand: OperandText
    into: Identifier
    _v = field_validator("exchange", "comparand", mode="before")(_operand)


class InterlockedOr(MemoryStatement):
    """Atomically OR bits into the word (a full barrier); ``into`` receives the previous value."""

    op: Literal["InterlockedOr"]
    value: OperandText
    into: Identifier | None = None
    _v = field_validator("value", mode="before")(_operand)


class Read(MemoryStatement):
    """A plain (non-interlocked) read of a shared word into a local."""

    op: Literal["Read"]
    into: Identifier


class Write(MemoryStatement):
    """A plain (non-interlocked) write of a shared word, such as setting a flag."""

    op: Literal["Write"]
    value: OperandText
    _v = field_validator("value", mode="before")(_operand)


class Assign(Statement):
    """Set a local variable."""

    op: Literal["Assign"]
    into: Identifier
    value: OperandText
    _v = field_validator("value", mode="before")(_operand)


class ExAcquireRundownProtection(MemoryStatement):
    """The atomic test-and-increment of [Run-Down Protection](https://learn.microsoft.com/windows-hardware/drivers/kernel/run-down-protection):
    TRUE and one more reference, or FALSE once run-down began."""

    op: Literal["ExAcquireRundownProtection"]
    into: Identifier | None = None


class ExReleaseRundownProtection(MemoryStatement):
    """Give back one run-down reference; the last one releases a closer waiting for run-down."""

    op: Literal["ExReleaseRundownProtection"]


class ExWaitForRundownProtectionRelease(MemoryStatement):
    """Refuse new acquisitions, then block until every granted reference is released (IRQL <= APC_LEVEL)."""

    op: Literal["ExWaitForRundownProtectionRelease"]


class KeSetEvent(MemoryStatement):
    """Signal the event: every waiter of a notification event is released, one waiter of a synchronization event."""

    op: Literal["KeSetEvent"]


class KeClearEvent(MemoryStatement):
    """Reset the event to not signalled, so that a later wait blocks until the next KeSetEvent."""

    op: Literal["KeClearEvent"]


class KeWaitForSingleObject(MemoryStatement):
    """Block until the event is signalled (a synchronization event is reset by the satisfied wait); illegal at
    DISPATCH_LEVEL (rule IRP-B7)."""

    op: Literal["KeWaitForSingleObject"]


class FreeSocketContext(Statement):
    """Free the application's socket context; anything that touches it afterwards is rule UB-4."""

    op: Literal["FreeSocketContext"]
    socket: SocketRef = ""


class WskReleaseProviderNPI(Statement):
    """Release the captured provider NPI: one capture fewer for WskDeregister to wait for (rule R-REG-5)."""

    op: Literal["WskReleaseProviderNPI"]


class WskDeregister(Statement):
    """Blocks until every captured NPI is released and every socket is closed (rule R-REG-5)."""

    op: Literal["WskDeregister"]


class Return(Statement):
    """Return from the current routine; completion routines must return STATUS_MORE_PROCESSING_REQUIRED."""

    op: Literal["Return"]
    status: OperandText | None = None
    _v = field_validator("status", mode="before")(_operand)


class ReturnIf(Statement):
    """Return ``status`` when the condition holds, as ``if (!Irp) return STATUS_INSUFFICIENT_RESOURCES;`` does."""

    op: Literal["ReturnIf"]
    cond: ConditionText
    status: OperandText | None = None
    _c = field_validator("cond", mode="before")(_condition)
    _v = field_validator("status", mode="before")(_operand)


class GotoIf(Statement):
    """Jump to a labelled statement when the condition holds (or always, without a condition): loops."""

    op: Literal["GotoIf"]
    target: Identifier
    cond: ConditionText | None = None
    _c = field_validator("cond", mode="before")(_condition)


AnyStatement = Annotated[
    IoAllocateIrp
    | IoSetCompletionRoutine
    | IoReuseIrp
    | IoFreeIrp
    | IoCancelIrp
    | ReadIoStatus
    | WskSend
    | WskReceive
    | WskAccept
    | WskConnect
    | WskDisconnect
    | WskSendTo
    | WskReceiveFrom
    | WskControlSocket
    | WskRelease
    | WskCloseSocket
    | ReadSocketDispatch
    | InterlockedIncrement
    | InterlockedDecrement
    | InterlockedExchange
    | InterlockedCompareExchange
    | InterlockedOr
    | Read
    | Write
    | Assign
    | ExAcquireRundownProtection
    | ExReleaseRundownProtection
    | ExWaitForRundownProtectionRelease
    | KeSetEvent
    | KeClearEvent
    | KeWaitForSingleObject
    | FreeSocketContext
    | WskReleaseProviderNPI
    | WskDeregister
    | Return
    | ReturnIf
    | GotoIf,
    Field(discriminator="op"),
]

STATEMENT_OPS: tuple[str, ...] = tuple(
    cls.model_fields["op"].annotation.__args__[0]  # type: ignore[union-attr]
    for cls in (
        IoAllocateIrp, IoSetCompletionRoutine, IoReuseIrp, IoFreeIrp, IoCancelIrp, ReadIoStatus, WskSend,
        WskReceive, WskAccept, WskConnect, WskDisconnect, WskSendTo, WskReceiveFrom, WskControlSocket, WskRelease, WskCloseSocket, ReadSocketDispatch,
        InterlockedIncrement, InterlockedDecrement, InterlockedExchange, InterlockedCompareExchange, InterlockedOr,
        Read, Write, Assign, ExAcquireRundownProtection, ExReleaseRundownProtection,
        ExWaitForRundownProtectionRelease, KeSetEvent, KeClearEvent, KeWaitForSingleObject, FreeSocketContext,
        WskReleaseProviderNPI, WskDeregister, Return, ReturnIf, GotoIf,
    )
)  # fmt: skip

Program = Annotated[list[AnyStatement], Field(min_length=1, max_length=LIMITS["statements"])]


# --------------------------------------------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------------------------------------------


class Settings(Model):
    """Where the documentation is silent, an explicit choice; each default is the most likely reading of it."""

    cancel_status: str = Field(
        max_length=40,
        default="STATUS_CANCELLED",
        description="Status of the IRPs WskCloseSocket cancels (undocumented; Wine uses STATUS_CANCELLED).",
    )
    abort_status: str = Field(
        max_length=40,
        default="STATUS_CONNECTION_ABORTED",
        description="Status of pending IRPs force-completed by an abortive WskDisconnect.",
    )
    cancelled_before_close: bool = Field(
        default=True,
        description="Completion routines of IRPs cancelled by a close return before the close IRP completes.",
    )
    callbacks_after_close_starts: bool = Field(
        default=False, description="Whether WSK may start new event callbacks once WskCloseSocket was called."
    )
    serialize_callbacks: bool = Field(
        default=True,
        description="At most one event callback runs at a time per socket (receive is always serial).",
    )
    half_open: bool = Field(
        default=True, description="The transport keeps receiving after a local graceful disconnect."
    )
    callback_irql: Literal["PASSIVE_LEVEL", "DISPATCH_LEVEL"] = Field(
        default="DISPATCH_LEVEL",
        description="IRQL at which WSK runs completion routines and event callbacks.",
    )
    allocation_can_fail: bool = Field(
        default=False,
        description="IoAllocateIrp may return NULL (insufficient resources): each allocation offers that outcome "
        "as its own action.",
    )
    # Left out of the scenario's JSON while false, so that every scenario written before it existed keeps its
    # fingerprint (its links' content hash and its search ids stay valid).
    callbacks_despite_pending: bool = Field(
        default=False,
        exclude_if=lambda value: value is False,
        description="A pending WskReceive, WskReceiveFrom or WskAccept takes precedence over the matching event "
        "callback, but the documentation says races exist where WSK could still call the callback. True: WSK may "
        "still call it while such an IRP is pending.",
    )

    @field_validator("cancel_status", "abort_status")
    @classmethod
    def _known_failure(cls, value: str) -> str:
        if value not in STATUS or STATUS[value] < 0x80000000:
            failures = ", ".join(name for name, code in STATUS.items() if code >= 0xC0000000)
            raise ValueError(f"'{value}' is not a known failure status; use one of: {failures}.")
        return value


class Peer(Model):
    """What the remote endpoint may do. Each budgeted act is an action the schedule chooses when to take."""

    data: int = Field(default=0, ge=0, le=4, description="How many data segments the peer may send.")
    fin: bool = Field(default=False, description="Whether the peer may close its half gracefully (FIN).")
    rst: bool = Field(default=False, description="Whether the peer may reset the connection (RST).")
    accepts_data: bool = Field(
        default=True, description="False models a full receive window: sends stay pending."
    )
    acks_disconnect: bool = Field(
        default=True,
        description="False models a stuck graceful disconnect: the peer never acknowledges, so its IRP never "
        "completes.",
    )


SocketState = Literal[
    "CONNECTED", "RECV_SHUT", "SEND_SHUT", "FULLY_DISCONNECTED", "ABORTED", "CREATED", "BOUND", "LISTENING"
]
SocketCategory = Literal["connection", "stream", "listen", "datagram", "basic"]
#: The states of a connected socket (connection or stream); the others are CREATED (not bound), BOUND, LISTENING.
CONNECTED_STATES = ("CONNECTED", "RECV_SHUT", "SEND_SHUT", "FULLY_DISCONNECTED", "ABORTED")

# Each socket category has its own provider dispatch table: Socket->Dispatch points at a
# [WSK_PROVIDER_BASIC_DISPATCH](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/ns-wsk-_wsk_provider_basic_dispatch)
# (WskControlSocket, WskCloseSocket), which every other table starts with, or at a
# [WSK_PROVIDER_LISTEN_DISPATCH](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/ns-wsk-_wsk_provider_listen_dispatch)
# (no data transfer: WskAccept), a
# [WSK_PROVIDER_DATAGRAM_DISPATCH](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/ns-wsk-_wsk_provider_datagram_dispatch)
# (WskSendTo and WskReceiveFrom, and WskRelease), a
# [WSK_PROVIDER_CONNECTION_DISPATCH](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/ns-wsk-_wsk_provider_connection_dispatch)
# or a [WSK_PROVIDER_STREAM_DISPATCH](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/ns-wsk-_wsk_provider_stream_dispatch)
# (WskConnect, WskSend, WskReceive, WskDisconnect, WskRelease; a stream socket may also WskAccept). A call that is
# not in its socket's table has no function
# pointer to go through, so a program that makes one is refused before it runs. Below: the calls the simulator
# models that each table has.
_BASIC_CALLS = ("WskControlSocket", "WskCloseSocket")
_CONNECTED_CALLS = (*_BASIC_CALLS, "WskConnect", "WskSend", "WskReceive", "WskDisconnect", "WskRelease")
DISPATCH: dict[str, tuple[str, tuple[str, ...]]] = {
    "basic": ("WSK_PROVIDER_BASIC_DISPATCH", _BASIC_CALLS),
    "listen": ("WSK_PROVIDER_LISTEN_DISPATCH", (*_BASIC_CALLS, "WskAccept")),
    "datagram": (
        "WSK_PROVIDER_DATAGRAM_DISPATCH",
        (*_BASIC_CALLS, "WskSendTo", "WskReceiveFrom", "WskRelease"),
    ),
    "connection": ("WSK_PROVIDER_CONNECTION_DISPATCH", _CONNECTED_CALLS),
    "stream": ("WSK_PROVIDER_STREAM_DISPATCH", (*_CONNECTED_CALLS, "WskAccept")),
}
# The states each category may start in, with the reason for the others
# ([Winsock Kernel Socket Categories](https://learn.microsoft.com/windows-hardware/drivers/network/winsock-kernel-socket-categories)):
# a basic socket cannot be bound at all; a listening socket listens as soon as it is bound; a datagram socket is
# never connected; a connection socket never listens; a stream socket may do either.
START_STATES: dict[str, tuple[tuple[str, ...], str]] = {
    "basic": (("CREATED",), "a basic socket has no WskBind: it can only be controlled and closed"),
    "listen": (("CREATED", "LISTENING"), "a listening socket starts listening when it is bound"),
    "datagram": (("CREATED", "BOUND"), "a datagram socket is never connected nor listening"),
    "connection": (("CREATED", "BOUND", *CONNECTED_STATES), "a connection socket connects, it never listens"),
    "stream": (("CREATED", "BOUND", "LISTENING", *CONNECTED_STATES), ""),
}
# The event callbacks of each category are those of the client's dispatch table for it: WskReceiveEvent and
# WskDisconnectEvent in the connection dispatch table
# ([WSK_CLIENT_CONNECTION_DISPATCH](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/ns-wsk-_wsk_client_connection_dispatch)),
# WskReceiveFromEvent in the datagram one
# ([WSK_CLIENT_DATAGRAM_DISPATCH](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/ns-wsk-_wsk_client_datagram_dispatch)),
# WskAcceptEvent in the listen one
# ([WSK_CLIENT_LISTEN_DISPATCH](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/ns-wsk-_wsk_client_listen_dispatch));
# a stream socket's has both kinds; a basic socket has none. Below: the ones the simulator models, per category.
EVENT_CATEGORIES: dict[str, tuple[str, ...]] = {
    "basic": (),
    "listen": ("accept",),
    "datagram": ("receive_from",),
    "connection": ("receive", "disconnect"),
    "stream": ("receive", "disconnect", "accept"),
}
# Listening and datagram sockets must be bound before their event callbacks are enabled or disabled
# ([SO_WSK_EVENT_CALLBACK](https://learn.microsoft.com/windows-hardware/drivers/network/so-wsk-event-callback)):
# the state each of those events needs.
BOUND_EVENTS = {"accept": "LISTENING", "receive_from": "BOUND"}
#: The categories a listening socket, the origin of accepted sockets, may have.
LISTENERS = ("listen", "stream")


class SocketDecl(Model):
    """One socket the scenario starts with (or, ``accepted_from`` a listening socket, will accept): its category,
    whose dispatch table limits the calls programs may make on it, its state, its context and its peer."""

    name: str = Field(default="s", max_length=12, json_schema_extra={"pattern": SOCKET_NAME.pattern})
    category: SocketCategory = "connection"
    state: SocketState = "CONNECTED"
    # Left out of the scenario's JSON while unset, so that a scenario without accepted sockets is written, linked
    # and fingerprinted exactly as before the field existed (its links and search ids stay valid).
    accepted_from: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        max_length=12,
        description="For a socket the scenario starts without: the listening socket that will accept it. It "
        "exists once a WskAccept completes with it or WskAcceptEvent accepts it.",
    )
    context: Identifier = Field(default="ctx", description="The C name of this socket's context in programs.")
    events: list[EventName] = Field(
        default_factory=list, max_length=2, description="Event callbacks enabled when the scenario starts."
    )
    callbacks: dict[EventName, Identifier] = Field(
        default_factory=dict, description="Which routine WSK calls for each event."
    )
    peer: Peer = Peer()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SOCKET_NAME.fullmatch(value):
            raise ValueError(f"socket name '{value}' must be 1-12 letters or digits, starting with a letter.")
        return value


class MemoryDecl(Model):
    """One shared memory cell: a word, a run-down block or a kernel event, global or a field of a socket context
    (then freed with it: rule UB-4)."""

    name: str = Field(max_length=32, json_schema_extra={"pattern": IDENT.pattern})
    kind: Literal["word", "rundown", "event"] = "word"
    initial: int = Field(default=0, ge=WORD_MIN, le=WORD_MAX)
    in_context: str | None = Field(
        max_length=12,
        default=None,
        description="The socket whose context holds this field (rendered ctx->Name); freed with it.",
    )
    # KeInitializeEvent's Type: a NotificationEvent stays signalled until KeClearEvent; a SynchronizationEvent
    # is reset by the wait it satisfies, so each KeSetEvent releases one waiter
    # ([KeInitializeEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wdm/nf-wdm-keinitializeevent)).
    event_type: Literal["notification", "synchronization"] | None = Field(
        default=None,
        description="For kind event only: notification (the default) or synchronization (auto-reset).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not IDENT.fullmatch(value) or value in CONSTANTS or value == PENDING_RETURNED:
            raise ValueError(
                f"memory name '{value}' must be a C identifier that is not a constant, status name or "
                f"{PENDING_RETURNED}."
            )
        return value

    @model_validator(mode="after")
    def _event_type(self) -> MemoryDecl:
        if self.event_type is not None and self.kind != "event":
            raise ValueError(
                f"memory '{self.name}' is a {self.kind}: only an event has an event_type (remove it, or set kind: event)."
            )
        return self


class MenuOperation(Model):
    """One sandbox operation: a labelled program the user may start whenever the thread is idle."""

    id: str = Field(max_length=12, json_schema_extra={"pattern": OP_ID.pattern})
    label: str = Field(min_length=1, max_length=60)
    program: Program
    times: int | None = Field(
        default=None, ge=1, le=20, description="How often it may be used (unbounded if unset)."
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if value == "stop":
            raise ValueError(
                "operation id 'stop' is reserved: every sandbox thread offers it to end the thread."
            )
        if value == "nomem":
            raise ValueError(
                "operation id 'nomem' is reserved: it is the action of an IoAllocateIrp that returns NULL."
            )
        if not OP_ID.fullmatch(value):
            raise ValueError(
                f"operation id '{value}' must be 1-12 lowercase letters or digits, starting with a letter."
            )
        return value


class ThreadDecl(Model):
    """One application thread: a script (``program``), or a sandbox thread whose operations the user starts (``menu``)."""

    name: str = Field(max_length=16, json_schema_extra={"pattern": THREAD_NAME.pattern})
    irql: Literal["PASSIVE_LEVEL", "DISPATCH_LEVEL"] = "PASSIVE_LEVEL"
    program: Program | None = None
    menu: list[MenuOperation] | None = Field(default=None, min_length=1, max_length=LIMITS["menu"])
    joins: Literal["at_start", "when_added"] = Field(
        default="at_start",
        description="A sandbox thread's arrival: there from the start, or only once the user adds it (its action "
        "'<name>-add'), so that a live sandbox can grow thread by thread.",
    )
    max_operations: int | None = Field(
        default=None,
        ge=1,
        le=LIMITS["operations"],
        description="How many operations a sandbox thread may start in all (unbounded if unset).",
    )
    stops: Literal["when_told", "when_done"] = Field(
        default="when_told",
        description="When a sandbox thread stops: when the user says so (its action '<name>-stop'), or by itself "
        "once it has used every operation as often as its 'times' allows (it cannot stop before).",
    )

    @model_serializer(mode="wrap")
    def _omit_sandbox_defaults(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """A thread that does not use the live sandbox's fields dumps exactly as before they existed, so the
        fingerprints of existing scenarios (and the search ids made from them) stay what they were."""
        data = handler(self)
        if isinstance(data, dict):
            if data.get("joins") == "at_start":
                del data["joins"]
            if data.get("max_operations") is None:
                data.pop("max_operations", None)
            if data.get("stops") == "when_told":
                del data["stops"]
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not THREAD_NAME.fullmatch(value):
            raise ValueError(
                f"thread name '{value}' must start with a capital letter and have at most 16 letters or digits "
                "(lowercase names are reserved for wsk, peer and completion-routine or callback executions)."
            )
        return value

    @model_validator(mode="after")
    def _program_or_menu(self) -> ThreadDecl:
        if (self.program is None) == (self.menu is None):
            raise ValueError(
                f"thread '{self.name}' needs exactly one of 'program' (a script) or 'menu' (sandbox)."
            )
        sandbox_only = (
            self.joins != "at_start" or self.max_operations is not None or self.stops != "when_told"
        )
        if self.program is not None and sandbox_only:
            raise ValueError(
                f"thread '{self.name}': 'joins', 'max_operations' and 'stops' are for sandbox threads (with a "
                "'menu'); remove them or give the thread a menu."
            )
        if self.stops == "when_done" and any(op.times is None for op in self.menu or []):
            raise ValueError(
                f"thread '{self.name}' stops when done, so every operation of its menu needs 'times' (how often)."
            )
        return self


class RoutineDecl(Model):
    """A completion routine (rules I-1 to I-4) or an event callback (rules E-1 to E-8) that WSK runs."""

    kind: Literal["completion", "callback"]
    program: Program


class Registration(Model):
    """The WSK registration at the start: provider NPI captures WskDeregister waits for (rule R-REG-5)."""

    npi_captured: int = Field(
        default=0, ge=0, le=4, description="Provider NPI captures still held at the start."
    )


class Scenario(Model):
    """A complete, self-contained scenario. Nothing in the engine knows a scenario by its id."""

    id: str = Field(max_length=64, json_schema_extra={"pattern": SCENARIO_ID.pattern})
    title: str = Field(min_length=1, max_length=100)
    summary: str = Field(min_length=1, max_length=2000)
    level: int = Field(
        default=1, ge=1, le=3, description="1: closing basics, 2: races, 3: IRP ownership and teardown."
    )
    order: int = Field(
        default=50, ge=0, le=100, description="Position within its level in the gallery (lower first)."
    )
    tags: list[Tag] = Field(default_factory=list, max_length=12)
    rules: list[RuleId] = Field(
        default_factory=list, max_length=12, description="Reference rule ids it teaches."
    )
    expect: Literal["safe", "buggy"] | None = Field(
        default=None,
        description="What the built-in library promises: safe in every interleaving, or buggy (with a demo and "
        "the bugs it shows). Optional in a scenario of your own; the library requires it.",
    )
    demo: list[ActionId] | None = Field(
        default=None,
        max_length=LIMITS["schedule"],
        description="For buggy scenarios: a schedule that shows the bug.",
    )
    bugs: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list,
        max_length=8,
        description="For buggy scenarios: the violation kinds the demo shows.",
    )
    family: str | None = Field(
        default=None,
        max_length=40,
        description="Scenarios of one family run the same workload and differ only in one design choice.",
    )
    variant: str | None = Field(
        default=None, max_length=60, description="What this member of the family does differently."
    )
    settings: Settings = Settings()
    registration: Registration = Registration()
    sockets: list[SocketDecl] = Field(
        default_factory=lambda: [SocketDecl()], min_length=1, max_length=LIMITS["sockets"]
    )
    memory: list[MemoryDecl] = Field(default_factory=list, max_length=LIMITS["memory"])
    threads: list[ThreadDecl] = Field(min_length=1, max_length=LIMITS["threads"])
    routines: dict[Identifier, RoutineDecl] = Field(default_factory=dict, max_length=LIMITS["routines"])

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not SCENARIO_ID.fullmatch(value):
            raise ValueError(
                f"scenario id '{value}' must be lowercase letters, digits and dashes (at most 64)."
            )
        return value

    @field_validator("demo", mode="before")
    @classmethod
    def _demo(cls, value: object) -> object:
        return value.split(".") if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        problems = list(_cross_check(self))
        if problems:
            raise ValueError("; ".join(problems))
        if self.expect == "buggy" and not (self.demo and self.bugs):
            raise ValueError(
                "a buggy scenario needs a 'demo' schedule and the 'bugs' (violation kinds) it shows."
            )
        if (self.family is None) != (self.variant is None):
            raise ValueError("'family' and 'variant' go together: give both or neither.")
        if self.expect == "safe" and self.bugs:
            raise ValueError("a safe scenario cannot list 'bugs'; set expect: buggy or remove them.")
        unknown = [b for b in self.bugs if b not in VIOLATION_KINDS]
        if unknown:
            raise ValueError(
                f"unknown violation kind(s) {unknown} in 'bugs'; known kinds: {', '.join(VIOLATION_KINDS)}."
            )
        return self


# --------------------------------------------------------------------------------------------------------------
# Cross-field validation: every name a program uses must exist, with the right kind.
# --------------------------------------------------------------------------------------------------------------


def _unique(kind: str, names: list[str]) -> list[str]:
    dupes = sorted(name for name, count in Counter(names).items() if count > 1)
    return [f"{kind} name '{n}' is used twice; names must be unique" for n in dupes]


def _cross_check(sc: Scenario) -> list[str]:
    problems: list[str] = []
    problems += _unique("socket", [s.name for s in sc.sockets])
    problems += _unique("thread", [t.name for t in sc.threads])
    problems += _unique("memory", [m.name for m in sc.memory])
    sockets = {s.name for s in sc.sockets}
    memory = {m.name: m for m in sc.memory}
    for m in sc.memory:
        if m.in_context is not None and m.in_context not in sockets:
            problems.append(
                f"memory '{m.name}': in_context '{m.in_context}' is not a socket (have: {sorted(sockets)})"
            )
    for name in sc.routines:
        if not IDENT.fullmatch(name):
            problems.append(f"routine name '{name}' must be a C identifier")
    for s in sc.sockets:
        for event, handler in s.callbacks.items():
            if handler not in sc.routines or sc.routines[handler].kind != "callback":
                problems.append(
                    f"socket '{s.name}': callback for '{event}' is '{handler}', which is not a routine of kind callback"
                )
        for event in s.events:
            if event not in s.callbacks:
                problems.append(
                    f"socket '{s.name}': event '{event}' is enabled but has no routine in 'callbacks'"
                )
        problems += _check_category(s)
        problems += _check_accepted(s, {d.name: d for d in sc.sockets})
    programs: list[tuple[str, list[Statement], str]] = []
    for t in sc.threads:
        if t.program is not None:
            programs.append((f"thread '{t.name}'", list(t.program), "thread"))
        for op in t.menu or []:
            programs.append((f"thread '{t.name}' operation '{op.id}'", list(op.program), "thread"))
        if t.menu is not None:
            problems += _unique(f"thread '{t.name}' operation", [op.id for op in t.menu])
    for name, routine in sc.routines.items():
        programs.append((f"routine '{name}'", list(routine.program), routine.kind))
    for where, program, kind in programs:
        problems += _check_program(sc, where, program, kind, memory)
    return problems


def _check_category(s: SocketDecl) -> list[str]:
    """What a socket's category allows it (``START_STATES``, ``EVENT_CATEGORIES``): its starting state, and the
    event callbacks it may have."""
    problems: list[str] = []
    states, why = START_STATES[s.category]
    if s.state not in states:
        because = f" ({why})" if why else ""
        problems.append(
            f"socket '{s.name}': a {s.category} socket cannot start {s.state}{because}; "
            f"set state to one of {', '.join(states)}"
        )
    allowed = EVENT_CATEGORIES[s.category]
    for event in sorted({*s.events, *s.callbacks} - set(allowed)):
        problems.append(
            f"socket '{s.name}': a {s.category} socket has no {event} event callback "
            f"({_events_of(s.category)}); remove it from 'events' and 'callbacks'"
        )
    for event in s.events:
        bound = BOUND_EVENTS.get(event)
        if bound is not None and s.state != bound:
            problems.append(
                f"socket '{s.name}': a {s.category} socket's {event} event callback can only be enabled once it "
                f"is bound; set state: {bound}, or remove '{event}' from 'events'"
            )
    # What the peer may do must be something it can do to this kind of socket: a datagram socket has no connection
    # to close or reset (its peer only sends datagrams), and a listening or basic socket has no peer of its own
    # (connections arrive as accepted sockets, each with its own peer). Ignored, it would be a silent default.
    acts = [act for act in ("data", "fin", "rst") if getattr(s.peer, act)]
    if s.category == "datagram":
        acts = [act for act in acts if act != "data"]
    if s.category in ("datagram", "listen", "basic") and acts:
        why = {
            "datagram": "has no connection for its peer to close gracefully (fin) or reset (rst)",
            "listen": "has no peer of its own (each socket it accepts has its own peer)",
            "basic": "is never connected, so it has no peer",
        }[s.category]
        problems.append(
            f"socket '{s.name}': a {s.category} socket {why}; remove {', '.join(repr(a) for a in acts)} from its "
            "'peer'"
        )
    return problems


def _check_accepted(s: SocketDecl, sockets: dict[str, SocketDecl]) -> list[str]:
    """A socket ``accepted_from`` a listening socket: that socket must exist and listen; the accepted socket is
    a connection socket, CONNECTED once accepted, with every event callback disabled until the program enables
    one ([WskAccept](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_accept),
    [WskAcceptEvent](https://learn.microsoft.com/windows-hardware/drivers/ddi/wsk/nc-wsk-pfn_wsk_accept_event))."""
    if s.accepted_from is None:
        return []
    where = f"socket '{s.name}': accepted_from"
    listener = sockets.get(s.accepted_from)
    if listener is None or listener.name == s.name:
        others = sorted(n for n, d in sockets.items() if d.category in LISTENERS and n != s.name)
        return [f"{where} '{s.accepted_from}' must name another socket, a listening one (have: {others})"]
    problems = []
    if listener.category not in LISTENERS or listener.state != "LISTENING":
        problems.append(
            f"{where} '{listener.name}' is a {listener.category} socket that starts {listener.state}; it must be "
            "a listen or stream socket that starts LISTENING, so that a connection can arrive"
        )
    if s.category != "connection" or s.state != "CONNECTED":
        problems.append(
            f"socket '{s.name}' is accepted from '{listener.name}', so it is a connection socket, CONNECTED once "
            "accepted: remove its 'category' and 'state'"
        )
    if s.events:
        problems.append(
            f"socket '{s.name}' is accepted from '{listener.name}': an accepted socket starts with every event "
            "callback disabled; remove 'events' and enable them with WskControlSocket once it is accepted"
        )
    return problems


def _events_of(category: str) -> str:
    """The event callbacks a category has, in words, for an error message."""
    events = EVENT_CATEGORIES[category]
    if not events:
        return f"a {category} socket has no event callbacks the simulator models"
    return f"it has {' and '.join(events)}"


def _check_socket_use(sc: Scenario, at: str, stmt: Statement) -> list[str]:
    """A statement that names a socket: the socket must exist (and be named when there are several), and a
    socket call must be in the dispatch table of the socket's category (``DISPATCH``)."""
    socket: str | None = getattr(stmt, "socket", None)
    if socket is None:
        return []
    decls = {s.name: s for s in sc.sockets}
    if socket == "" and len(decls) > 1:
        return [f"{at}: name the socket ('socket: ...'); this scenario has several"]
    if socket and socket not in decls:
        return [f"{at}: socket '{socket}' does not exist (have: {sorted(decls)})"]
    decl = decls[socket] if socket else sc.sockets[0]
    table, calls = DISPATCH[decl.category]
    op: str = stmt.op  # type: ignore[attr-defined]
    if isinstance(stmt, SocketCall) and op not in calls:
        return [
            f"{at}: {op} is not in the dispatch table of {decl.category} socket '{decl.name}' "
            f"({table} has, of the calls simulated, {', '.join(calls)})"
        ]
    if isinstance(stmt, WskControlSocket) and stmt.event not in EVENT_CATEGORIES[decl.category]:
        return [
            f"{at}: {decl.category} socket '{decl.name}' has no {stmt.event} event callback to enable or disable "
            f"({_events_of(decl.category)})"
        ]
    if isinstance(stmt, WskControlSocket) and stmt.enable and stmt.event not in decl.callbacks:
        # WSK would call the client's callback for this event: enabling it without one is enabling nothing.
        return [
            f"{at}: socket '{decl.name}' has no routine for its {stmt.event} event; name one in the socket's "
            f"'callbacks' (a routine of kind callback) before enabling the event"
        ]
    return []


_MEMORY_KIND = {
    "ExAcquireRundownProtection": "rundown",
    "ExReleaseRundownProtection": "rundown",
    "ExWaitForRundownProtectionRelease": "rundown",
    "KeSetEvent": "event",
    "KeClearEvent": "event",
    "KeWaitForSingleObject": "event",
}


def _check_program(
    sc: Scenario,
    where: str,
    program: list[Statement],
    kind: str,
    memory: dict[str, MemoryDecl],
) -> list[str]:
    problems: list[str] = []
    labels = [s.label for s in program if s.label]
    problems += _unique(f"{where}: label", labels)
    assigned = {name for s in program for name in s.assigns}
    assigned |= set(
        COMPLETION_PARAMETERS if kind == "completion" else CALLBACK_PARAMETERS if kind == "callback" else ()
    )
    for index, stmt in enumerate(program, start=1):
        at = f"{where}, statement {index} ({stmt.op})"  # type: ignore[attr-defined]
        problems += _check_socket_use(sc, at, stmt)
        var = getattr(stmt, "var", None)
        if var is not None:
            want = _MEMORY_KIND.get(stmt.op, "word")  # type: ignore[attr-defined]
            if var not in memory:
                problems.append(f"{at}: '{var}' is not declared in 'memory' (add it with kind: {want})")
            elif memory[var].kind != want:
                problems.append(f"{at}: '{var}' is a {memory[var].kind}, but {stmt.op} needs a {want}")  # type: ignore[attr-defined]
        routine = getattr(stmt, "routine", None)
        if routine is not None and (routine not in sc.routines or sc.routines[routine].kind != "completion"):
            problems.append(f"{at}: '{routine}' is not a routine of kind completion")
        irp = getattr(stmt, "irp", None)
        if irp is not None and not isinstance(stmt, IoAllocateIrp) and irp not in assigned:
            problems.append(
                f"{at}: IRP '{irp}' is never allocated in this program (use IoAllocateIrp, or 'Irp' in a completion routine)"
            )
        for name in stmt.reads_locals:
            if name == PENDING_RETURNED and kind != "completion":
                problems.append(f"{at}: only a completion routine can read {name} (Irp->{name} of its IRP)")
            elif name not in assigned and name not in memory:
                problems.append(
                    f"{at}: '{name}' is neither a memory word nor a local assigned in this program"
                )
            elif name in memory and memory[name].kind != "word":
                problems.append(f"{at}: '{name}' is a {memory[name].kind}; only words can be compared")
        for name in stmt.assigns:
            if name in memory:
                problems.append(
                    f"{at}: '{name}' is a memory word; store into it with Write or an Interlocked statement"
                )
            elif not IDENT.fullmatch(name) or name in CONSTANTS or name == PENDING_RETURNED:
                problems.append(f"{at}: '{name}' is not a valid local variable name")
        if isinstance(stmt, GotoIf) and stmt.target not in labels:
            problems.append(f"{at}: no statement has label '{stmt.target}'")
    if kind in ("completion", "callback") and not isinstance(program[-1], Return | GotoIf):
        problems.append(
            f"{where}: a {kind} routine must end with a Return statement (its return value matters)"
        )
    return problems
