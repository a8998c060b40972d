"""Scenarios that once hurt the server, shared by the hardening tests and bench/abuse.py."""

from __future__ import annotations

from typing import Any

# A thread that allocates and frees an IRP forever: every third step adds an IRP to the world, so whole states
# grow with the run (a 2,000-step answer was 137 MB when every step carried them).
IRP_LOOP: dict[str, Any] = {
    "id": "irp-loop",
    "title": "An IRP per iteration",
    "summary": "Allocates and frees IRPs in a loop.",
    "expect": "safe",
    "threads": [
        {
            "name": "Loop",
            "program": [
                {"op": "IoAllocateIrp", "irp": "irp", "label": "top"},
                {"op": "IoFreeIrp", "irp": "irp"},
                {"op": "GotoIf", "target": "top"},
            ],
        }
    ],
}


# Three threads counting forever, each in its own word: a state space with no end, for searches at their bounds.
ENDLESS: dict[str, Any] = {
    "id": "endless",
    "title": "Three counters",
    "summary": "Every interleaving is a new state.",
    "expect": "safe",
    "memory": [{"name": f"W{name}"} for name in "ABC"],
    "threads": [
        {
            "name": name,
            "program": [
                {"op": "InterlockedIncrement", "var": f"W{name}", "label": "top"},
                {"op": "GotoIf", "target": "top"},
            ],
        }
        for name in "ABC"
    ],
}


def slow_condition(spaces: int = 110) -> dict[str, Any]:
    """A ReturnIf whose condition is spaces and then '=': it took a backtracking regex seconds to refuse."""
    return {
        "id": "redos",
        "title": "t",
        "summary": "s",
        "expect": "safe",
        "threads": [{"name": "W", "program": [{"op": "ReturnIf", "cond": " " * spaces + "="}]}],
    }
