"""Malformed scenarios are refused with a message that names the field and the fix."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from app.scenarios import ScenarioError, parse_scenario
from app.sim.scenario import Condition

BASE: dict[str, Any] = {
    "id": "v",
    "title": "t",
    "summary": "s",
    "expect": "safe",
    "memory": [{"name": "Ref", "kind": "word"}],
    "threads": [{"name": "W", "program": [{"op": "InterlockedIncrement", "var": "Ref"}]}],
}


def variant(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (variant(threads=[{"name": "w", "program": [{"op": "Return"}]}]), "must start with a capital letter"),
        (
            variant(threads=[{"name": "W", "program": [{"op": "InterlockedIncrement", "var": "Nope"}]}]),
            "'Nope' is not declared in 'memory'",
        ),
        (
            variant(threads=[{"name": "W", "program": [{"op": "KeSetEvent", "var": "Ref"}]}]),
            "'Ref' is a word, but KeSetEvent needs a event",
        ),
        (variant(threads=[{"name": "W", "program": [{"op": "Teleport"}]}]), "threads.0.program.0"),
        (
            variant(threads=[{"name": "W", "program": [{"op": "GotoIf", "target": "nowhere"}]}]),
            "no statement has label 'nowhere'",
        ),
        (
            variant(threads=[{"name": "W", "program": [{"op": "IoFreeIrp", "irp": "irpX"}]}]),
            "IRP 'irpX' is never allocated",
        ),
        (
            variant(threads=[{"name": "W", "program": [{"op": "ReturnIf", "cond": "Ref === 0"}]}]),
            "unexpected character '=' at position 7",
        ),
        (
            variant(threads=[{"name": "W", "program": [{"op": "ReturnIf", "cond": "ghost == 0"}]}]),
            "'ghost' is neither a memory word nor a local",
        ),
        (
            variant(routines={"Cr": {"kind": "completion", "program": [{"op": "IoFreeIrp", "irp": "Irp"}]}}),
            "must end with a Return statement",
        ),
        (variant(expect="buggy"), "needs a 'demo' schedule and the 'bugs'"),
        (variant(expect="buggy", demo="W", bugs=["no_such_bug"]), "unknown violation kind"),
        (variant(settings={"cancel_status": "STATUS_SUCCESS"}), "is not a known failure status"),
        (
            variant(threads=[{"name": "W", "program": [{"op": "Return"}]}], colour="red"),
            "colour: Extra inputs are not permitted",
        ),
        (
            variant(threads=[{"name": "W", "program": [{"op": "WskSend", "irp": "i", "socket": "zz"}]}]),
            "socket 'zz' does not exist",
        ),
        (variant(id="Bad Id"), "scenario id 'Bad Id' must be lowercase"),
        (variant(threads=[{"name": "W"}]), "needs exactly one of 'program'"),
        (
            variant(threads=[{"name": "W", "program": [{"op": "Assign", "into": "x", "value": "1"}]}] * 9),
            "threads",
        ),
    ],
)
def test_bad_scenarios_get_a_clear_error(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert expected in str(err.value)


def test_strict_types_refuse_silent_coercion():
    data = variant(level="2")
    with pytest.raises(ScenarioError, match="level"):
        parse_scenario(data)


def test_a_valid_scenario_compiles_and_renders_c():
    compiled = parse_scenario(BASE)
    assert compiled.programs["thread:W"].lines == ("InterlockedIncrement(&Ref);",)


# -- hardening: text anyone can put in a link -------------------------------------------------------------------


def returning_if(cond: str) -> dict[str, Any]:
    return variant(threads=[{"name": "W", "program": [{"op": "ReturnIf", "cond": cond}]}])


@pytest.mark.parametrize(
    "cond",
    [
        " " * 119 + "=",  # once took seconds: a backtracking regex, cost growing like n^4.5
        "a" + " " * 110 + "=",
        "!" + " " * 110 + "x =",
        "x" + " +" * 55,
        "0x" + "0" * 110,
    ],
)
def test_a_pathological_condition_is_refused_at_once(cond: str) -> None:
    """The condition tokenizer reads each character once; no input can make validation take long."""
    started = time.process_time()
    with pytest.raises(ScenarioError):
        parse_scenario(returning_if(cond))
    assert time.process_time() - started < 0.5  # generous: the old regex took about 3 s on the first of these


def test_an_overlong_condition_names_the_limit() -> None:
    with pytest.raises(ScenarioError, match="at most 120"):
        parse_scenario(returning_if("Ref == " + "1" * 200))


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ("Ref == ²", "unexpected character '²'"),  # isdigit() accepts it, int() refuses it
        ("Ref == ٣", "unexpected character '٣'"),  # an Arabic-Indic digit: \d would accept it
        ("Ref == 99999999999999999999999", "a 64-bit word"),
        ("Ref ==", "lacks an operand"),
        ("Ref == 1 == 2", "is not a condition"),
        ("!Ref == 0", "'!' can only negate a single operand"),
    ],
)
def test_malformed_conditions_say_what_is_wrong(cond: str, expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected):
        parse_scenario(returning_if(cond))


def test_conditions_keep_their_meaning() -> None:
    """The tokenizer reads the same language the scenarios are written in."""
    for text, op, right in [
        ("Ref == 0", "==", 0),
        ("Ref&1", "&", 1),
        ("Ref >= 0x10", ">=", 16),
        ("Ref != STATUS_PENDING", "!=", 0x103),
        ("Ref - 2 < -1", "<", -1),
    ]:
        cond = Condition.parse(text)
        assert (cond.left.name, cond.op, cond.right and cond.right.value) == ("Ref", op, right)
    assert Condition.parse("Ref - 2 < 1").left.offset == -2
    assert Condition.parse("!Ref").op == "zero"
    assert Condition.parse("Ref").op == "nonzero"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": "x\n"}, "scenario id"),
        ({"threads": [{"name": "Sender\n", "program": [{"op": "Return"}]}]}, "thread name"),
        ({"memory": [{"name": "Ref\n"}]}, "memory name"),
        ({"sockets": [{"name": "s\n"}]}, "socket name"),
        (
            {
                "threads": [
                    {"name": "W", "menu": [{"id": "send\n", "label": "x", "program": [{"op": "Return"}]}]}
                ]
            },
            "operation id",
        ),
        (
            {"threads": [{"name": "W", "program": [{"op": "Assign", "into": "x\n", "value": 1}]}]},
            "C identifier",
        ),
    ],
)
def test_names_ending_in_a_newline_are_refused(changes: dict[str, Any], field: str) -> None:
    """Names are matched whole: a trailing newline once passed and broke links and downloads."""
    with pytest.raises(ScenarioError, match=field):
        parse_scenario(variant(**changes))


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"demo": ["W"] * 2001, "expect": "buggy", "bugs": ["deadlock"]}, "demo"),
        ({"demo": ["W" * 49], "expect": "buggy", "bugs": ["deadlock"]}, "demo.0"),
        ({"tags": ["t" * 41]}, "tags.0"),
        ({"tags": ["t"] * 13}, "tags"),
        ({"rules": ["R" * 17]}, "rules.0"),
        ({"memory": [{"name": "Ref", "initial": 2**64}]}, "memory.0.initial"),
        ({"sockets": [{"context": "c" * 33}]}, "sockets.0.context"),
        ({"threads": [{"name": "W", "program": [{"op": "IoAllocateIrp", "irp": "i" * 33}]}]}, "irp"),
        ({"threads": [{"name": "W", "program": [{"op": "Return", "label": "l" * 33}]}]}, "label"),
        ({"settings": {"cancel_status": "S" * 41}}, "cancel_status"),
    ],
)
def test_every_list_and_string_is_bounded(changes: dict[str, Any], where: str) -> None:
    with pytest.raises(ScenarioError, match=where):
        parse_scenario(variant(**changes))


# -- each socket category has its own dispatch table -----------------------------------------------------------------


def on_socket(socket: dict[str, Any], *program: dict[str, Any]) -> dict[str, Any]:
    """One thread running ``program`` on the only socket, declared as ``socket``."""
    return variant(sockets=[{"name": "s", **socket}], threads=[{"name": "W", "program": list(program)}])


ALLOCATE = {"op": "IoAllocateIrp", "irp": "i"}
LISTENING = {"category": "listen", "state": "LISTENING"}
DATAGRAM = {"category": "datagram", "state": "BOUND"}
BASIC = {"category": "basic", "state": "CREATED"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            on_socket(LISTENING, ALLOCATE, {"op": "WskSend", "irp": "i"}),
            "WskSend is not in the dispatch table of listen socket 's' (WSK_PROVIDER_LISTEN_DISPATCH has",
        ),
        (
            on_socket(DATAGRAM, ALLOCATE, {"op": "WskSend", "irp": "i"}),
            "WskSend is not in the dispatch table of datagram socket 's' (WSK_PROVIDER_DATAGRAM_DISPATCH",
        ),
        (
            on_socket(DATAGRAM, ALLOCATE, {"op": "WskReceive", "irp": "i"}),
            "WskReceive is not in the dispatch table of datagram socket",
        ),
        (
            on_socket(BASIC, ALLOCATE, {"op": "WskSend", "irp": "i"}),
            "WskSend is not in the dispatch table of basic socket 's' (WSK_PROVIDER_BASIC_DISPATCH has, of the "
            "calls simulated, WskControlSocket, WskCloseSocket)",
        ),
        (
            on_socket(BASIC, ALLOCATE, {"op": "WskDisconnect", "irp": "i"}),
            "WskDisconnect is not in the dispatch table of basic socket",
        ),
        (on_socket(BASIC, {"op": "WskRelease"}), "WskRelease is not in the dispatch table of basic socket"),
        (
            on_socket(LISTENING, {"op": "WskRelease"}),
            "WskRelease is not in the dispatch table of listen socket",
        ),
        (
            on_socket(LISTENING, {"op": "WskControlSocket", "event": "receive", "enable": True}),
            "listen socket 's' has no receive event callback to enable or disable",
        ),
        (
            on_socket({"category": "basic", "state": "BOUND"}, ALLOCATE),
            "a basic socket cannot start BOUND (a basic socket has no WskBind",
        ),
        (
            on_socket({"category": "basic", "state": "LISTENING"}, ALLOCATE),
            "a basic socket cannot start LISTENING",
        ),
        (on_socket({"category": "basic"}, ALLOCATE), "a basic socket cannot start CONNECTED"),
        (on_socket({"category": "listen", "state": "BOUND"}, ALLOCATE), "a listen socket cannot start BOUND"),
        (on_socket({"category": "connection", "state": "LISTENING"}, ALLOCATE), "it never listens"),
        (
            on_socket({**DATAGRAM, "events": ["receive"], "callbacks": {"receive": "OnReceive"}}, ALLOCATE)
            | {"routines": {"OnReceive": {"kind": "callback", "program": [{"op": "Return"}]}}},
            "a datagram socket has no receive event callback (it has receive_from)",
        ),
    ],
)
def test_a_call_outside_the_socket_categorys_dispatch_table_is_refused(
    data: dict[str, Any], expected: str
) -> None:
    """A call that is not in the dispatch table of its socket's category, or a starting state or event callback
    the category does not have, is refused at validation with the reason."""
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    ("socket", "expected"),
    [
        (
            {**DATAGRAM, "peer": {"data": 1, "fin": True}},
            "a datagram socket has no connection for its peer to close gracefully (fin) or reset (rst); remove "
            "'fin' from its 'peer'",
        ),
        ({**DATAGRAM, "peer": {"rst": True}}, "remove 'rst' from its 'peer'"),
        (
            {**LISTENING, "peer": {"data": 2}},
            "a listen socket has no peer of its own (each socket it accepts has its own peer); remove 'data'",
        ),
        (
            {**BASIC, "peer": {"fin": True}},
            "a basic socket is never connected, so it has no peer; remove 'fin'",
        ),
    ],
)
def test_a_peer_act_the_socket_category_cannot_have_is_refused(socket: dict[str, Any], expected: str) -> None:
    """What the peer may do must be possible on that kind of socket: before, a datagram socket's FIN or a
    listening socket's data was silently ignored."""
    with pytest.raises(ScenarioError) as err:
        parse_scenario(on_socket(socket, ALLOCATE))
    assert expected in str(err.value)


def test_a_datagram_sockets_peer_may_send_datagrams() -> None:
    assert parse_scenario(on_socket({**DATAGRAM, "peer": {"data": 2}}, ALLOCATE)).sockets[0].peer.data == 2


@pytest.mark.parametrize(
    "socket",
    [
        BASIC,
        LISTENING,
        {"category": "listen", "state": "CREATED"},
        DATAGRAM,
        {"category": "stream", "state": "LISTENING"},
    ],
)
def test_every_category_may_be_closed(socket: dict[str, Any]) -> None:
    """WskCloseSocket is in every dispatch table (WSK_PROVIDER_BASIC_DISPATCH): closing any category runs cleanly."""
    from app.sim import run_on, start

    program = [
        ALLOCATE,
        {"op": "IoSetCompletionRoutine", "irp": "i", "routine": "Closed"},
        {"op": "WskCloseSocket", "irp": "i"},
    ]
    done = [{"op": "FreeSocketContext"}, {"op": "IoFreeIrp", "irp": "Irp"},
            {"op": "Return", "status": "STATUS_MORE_PROCESSING_REQUIRED"}]  # fmt: skip
    data = on_socket(socket, *program) | {"routines": {"Closed": {"kind": "completion", "program": done}}}
    trace = run_on(start(parse_scenario(data)), "round_robin", 50)
    assert trace.outcome == "ok"
    assert "abortive_disconnect" not in [e.kind for s in trace.snapshots for e in s.events]
