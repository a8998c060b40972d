"""Malformed scenarios are refused with a message that names the field and the fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.scenarios import ScenarioError, parse_scenario

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
            "is not an operand",
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
