"""Kernel events: a notification event stays signalled and releases every waiter until KeClearEvent resets it; a
synchronization (auto-reset) event is reset by the wait it satisfies, so one KeSetEvent releases one waiter."""

from __future__ import annotations

from typing import Any

import pytest

from app.scenarios import ScenarioError, parse_scenario
from app.sim import load, replay
from app.sim.program import compile_scenario

WAIT = {"op": "KeWaitForSingleObject", "var": "E"}


def with_event(event_type: str | None, threads: list[dict[str, Any]]) -> Any:
    """A scenario of ``threads`` around one event E (a notification event unless ``event_type`` says otherwise)."""
    event: dict[str, Any] = {"name": "E", "kind": "event"}
    if event_type is not None:
        event["event_type"] = event_type
    return load(
        {
            "id": "t", "title": "t", "summary": "t",
            "sockets": [{"name": "s", "state": "FULLY_DISCONNECTED"}],
            "memory": [event],
            "threads": threads,
        }
    )  # fmt: skip


def two_waiters(event_type: str | None) -> Any:
    """A and B each wait for E; S signals it once."""
    return with_event(
        event_type,
        [
            {"name": "A", "program": [WAIT]},
            {"name": "B", "program": [WAIT]},
            {"name": "S", "program": [{"op": "KeSetEvent", "var": "E"}]},
        ],
    )


def movers(trace: Any) -> list[str]:
    return [a.id for a in trace.enabled]


def test_one_set_of_a_synchronization_event_releases_exactly_one_of_two_waiters() -> None:
    trace = replay(two_waiters("synchronization"), "A.B.S")
    assert movers(trace) == ["A", "B"], "both may be the one released"
    woken = replay(two_waiters("synchronization"), "A.B.S.A")
    assert movers(woken) == [], "A's satisfied wait reset the event: B stays blocked"
    assert woken.final.events == (False,)
    assert woken.outcome == "deadlock"


def test_one_set_of_a_notification_event_releases_both_waiters() -> None:
    for event_type in (None, "notification"):
        trace = replay(two_waiters(event_type), "A.B.S.A")
        assert movers(trace) == ["B"]
        both = replay(two_waiters(event_type), "A.B.S.A.B")
        assert movers(both) == [] and both.outcome != "deadlock", (
            "(the open socket leaks: not this test's point)"
        )


def test_ke_clear_event_makes_a_later_wait_block() -> None:
    sc = load(
        {
            "id": "t", "title": "t", "summary": "t",
            "sockets": [{"name": "s", "state": "FULLY_DISCONNECTED"}],
            "memory": [{"name": "E", "kind": "event", "initial": 1}],
            "threads": [{"name": "W", "program": [WAIT, {"op": "KeClearEvent", "var": "E"}, WAIT]}],
        }
    )  # fmt: skip
    assert sc.programs["thread:W"].lines[1] == "KeClearEvent(&E);"
    trace = replay(sc, "W.W.W")
    assert "W clears the event E" in trace.snapshots[2].narration
    assert trace.outcome == "deadlock", "the second wait blocks: nobody signals E again"


@pytest.mark.parametrize(
    ("memory", "program", "expected"),
    [
        ({"name": "E", "kind": "word"}, [{"op": "KeClearEvent", "var": "E"}], "'E' is a word, but KeClearEvent"),
        ({"name": "E", "kind": "word", "event_type": "synchronization"}, [{"op": "Read", "var": "E", "into": "x"}],
         "only an event has an event_type"),
    ],
)  # fmt: skip
def test_ke_clear_event_and_event_type_apply_to_events_only(
    memory: dict[str, Any], program: list[dict[str, Any]], expected: str
) -> None:
    data = {
        "id": "t", "title": "t", "summary": "t", "memory": [memory],
        "threads": [{"name": "W", "program": program}],
    }  # fmt: skip
    with pytest.raises(ScenarioError, match=expected):
        parse_scenario(data)


def test_a_synchronization_event_compiles_as_one() -> None:
    sc = two_waiters("synchronization")
    assert compile_scenario(sc.source).memory[0].synchronization
    assert not two_waiters(None).memory[0].synchronization


def pulse(event_type: str | None) -> Any:
    """W waits for E; S signals it and clears it at once (the pattern KePulseEvent packs into one call)."""
    return with_event(
        event_type,
        [
            {"name": "W", "program": [WAIT]},
            {"name": "S", "program": [{"op": "KeSetEvent", "var": "E"}, {"op": "KeClearEvent", "var": "E"}]},
        ],
    )


def test_a_waiter_a_notification_event_released_returns_even_if_the_event_is_cleared_first() -> None:
    """KeSetEvent satisfies every wait on a notification event as it runs: a KeClearEvent before the waiter has
    returned cannot take the release back (the model once left W blocked, a deadlock the kernel does not have)."""
    for event_type in (None, "notification"):
        trace = replay(pulse(event_type), "W.S.S")
        assert trace.final.events == (False,)
        assert movers(trace) == ["W"] and trace.outcome == "running"
        assert replay(pulse(event_type), "W.S.S.W").outcome != "deadlock"


def test_a_wait_that_begins_after_the_clear_still_blocks() -> None:
    """Only the waits there at the KeSetEvent are released: one that starts after the KeClearEvent blocks."""
    trace = replay(pulse(None), "S.S.W")
    assert movers(trace) == [] and trace.outcome == "deadlock"


# -- a synchronization event satisfies one wait per KeSetEvent, at the KeSetEvent ------------------------------------


def two_waiters_and_two_signals(event_type: str, between: list[dict[str, Any]] | None = None) -> Any:
    """A and B each wait for E; S signals it, then (after ``between``) signals it again."""
    signal = {"op": "KeSetEvent", "var": "E"}
    return with_event(
        event_type,
        [
            {"name": "A", "program": [WAIT]},
            {"name": "B", "program": [WAIT]},
            {"name": "S", "program": [signal, *(between or []), signal]},
        ],
    )


def test_two_sets_of_a_synchronization_event_release_both_waiters() -> None:
    """Each KeSetEvent satisfies one wait when it runs; before, the second set found the event still signalled and
    released nobody, a deadlock the kernel does not have."""
    trace = replay(two_waiters_and_two_signals("synchronization"), "A.B.S.S")
    assert movers(trace) == ["A", "B"]
    done = replay(two_waiters_and_two_signals("synchronization"), "A.B.S.S.B.A")
    assert all(a.finished for a in done.final.actors) and done.outcome != "deadlock"
    assert done.final.events == (False,) and done.final.offers == (0,)


def test_a_clear_after_the_set_cannot_take_back_a_synchronization_events_release() -> None:
    scenario = two_waiters_and_two_signals("synchronization", [{"op": "KeClearEvent", "var": "E"}])
    trace = replay(scenario, "A.S.S")  # A waits; S sets (A's wait is satisfied), then clears
    assert movers(trace) == ["A", "B", "S"], "A returns whatever the clear did"
    assert replay(scenario, "A.S.S.A").final.actor("A").finished


def test_a_wait_that_starts_after_the_set_cannot_take_the_release_of_one_already_waiting() -> None:
    trace = replay(two_waiters("synchronization"), "A.S.B")  # A waits, S sets, then B starts waiting
    assert movers(trace) == ["A"], "the release was A's: B waits for the next KeSetEvent"
    assert replay(two_waiters("synchronization"), "A.S.B.A").outcome == "deadlock"


def test_either_waiter_may_take_a_single_release_and_the_other_waits_on() -> None:
    for first, other in (("A", "B"), ("B", "A")):
        trace = replay(two_waiters("synchronization"), f"A.B.S.{first}")
        assert movers(trace) == [], f"{other} waits for a KeSetEvent nobody will make"
        assert trace.final.actor(other).top.waiting == ("event", 0)


def test_a_set_with_every_waiter_already_released_signals_the_event() -> None:
    """One waiter and two sets: the first satisfies A's wait, the second has nobody left to release, so the event
    stays signalled for the next wait, which takes it and resets it."""
    scenario = with_event(
        "synchronization",
        [
            {"name": "A", "program": [WAIT, WAIT]},
            {"name": "S", "program": [{"op": "KeSetEvent", "var": "E"}, {"op": "KeSetEvent", "var": "E"}]},
        ],
    )
    trace = replay(scenario, "A.S.S")
    assert trace.final.events == (True,) and trace.final.offers == (1,)
    done = replay(scenario, "A.S.S.A.A")
    assert all(a.finished for a in done.final.actors) and done.outcome != "deadlock"
    assert done.final.events == (False,) and done.final.offers == (0,)
