"""IoAllocateIrp can fail (setting ``allocation_can_fail``): each allocation then offers the action
``<thread>-nomem``, after which the IRP variable holds NULL. Testing it is the program's job; using it is the
violation ``null_irp``."""

from __future__ import annotations

from typing import Any

import pytest

from app.scenarios import ScenarioError, parse_scenario
from app.sim import replay
from app.sim.rules import RULES
from tests.sim.helpers import close_program, scenario

SEND = [
    {"op": "IoAllocateIrp", "irp": "irp"},
    {"op": "IoSetCompletionRoutine", "irp": "irp", "routine": "IoComplete"},
    {"op": "WskSend", "irp": "irp", "into": "st"},
]
TEST_IRP = {"op": "ReturnIf", "cond": "!irp", "status": "STATUS_INSUFFICIENT_RESOURCES"}


def build(program: list[dict[str, Any]], can_fail: bool = True) -> Any:
    return scenario({"W": program}, settings={"allocation_can_fail": can_fail})


def ids(trace: Any) -> list[str]:
    return [a.id for a in trace.enabled]


def test_the_failure_is_an_action_only_when_the_setting_allows_it() -> None:
    assert ids(replay(build(SEND), "")) == ["W", "W-nomem"]
    assert ids(replay(build(SEND, can_fail=False), "")) == ["W"]
    assert ids(replay(build(SEND), "W")) == ["W"], "only an IoAllocateIrp can fail"


def test_a_failed_allocation_leaves_null_and_allocates_nothing() -> None:
    trace = replay(build([SEND[0], TEST_IRP, *close_program()]), "W-nomem")
    assert trace.final.irps == ()
    assert trace.final.actor("W").top.local("irp") == 0  # type: ignore[union-attr]
    assert "IoAllocateIrp returns NULL to W" in trace.snapshots[-1].narration
    tested = replay(build([SEND[0], TEST_IRP, *close_program()]), "W-nomem.W")
    assert "null_irp" not in [v.kind for _, v in tested.violations]
    assert "finds '!irp' true and returns" in tested.snapshots[-1].narration


def test_the_next_allocation_after_a_failure_is_still_irp_1() -> None:
    trace = replay(
        build([{"op": "IoAllocateIrp", "irp": "a"}, {"op": "IoAllocateIrp", "irp": "b"}]), "W-nomem.W"
    )
    assert [i.id for i in trace.final.irps] == [1]


@pytest.mark.parametrize(
    ("program", "schedule"),
    [
        (SEND, "W-nomem.W.W"),  # IoSetCompletionRoutine(NULL, ...)
        ([SEND[0], SEND[2]], "W-nomem.W"),  # WskSend(..., NULL)
        ([SEND[0], {"op": "IoFreeIrp", "irp": "irp"}], "W-nomem.W"),
        ([SEND[0], {"op": "ReadIoStatus", "irp": "irp", "into": "st"}], "W-nomem.W"),
    ],
)
def test_using_a_null_irp_is_a_violation(program: list[dict[str, Any]], schedule: str) -> None:
    trace = replay(build(program), schedule)
    assert trace.violations[0][1].kind == "null_irp"


def test_a_socket_call_with_a_null_irp_takes_no_irp_and_never_completes() -> None:
    trace = replay(build([SEND[0], SEND[2]]), "W-nomem.W")
    assert ids(trace) == ["W-p"]
    assert "given no IRP" in trace.enabled[0].label
    assert trace.final.irps == ()


def test_the_null_irp_rule_names_its_documentation() -> None:
    rule = RULES["null_irp"]
    assert rule.doc_title == "IoAllocateIrp" and rule.doc_url.endswith("/ddi/wdm/nf-wdm-ioallocateirp")


def test_the_failure_action_id_is_reserved_in_menus() -> None:
    data = {
        "id": "t", "title": "t", "summary": "t",
        "threads": [{"name": "P", "menu": [{"id": "nomem", "label": "x", "program": SEND}]}],
    }  # fmt: skip
    with pytest.raises(ScenarioError, match="'nomem' is reserved"):
        parse_scenario(data)
