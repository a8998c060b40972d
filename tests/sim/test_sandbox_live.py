"""The live sandbox (app/sim/sandbox.py): threads the user adds, every operation under every close-protection design,
sessions that replay, and Find the race's situation, whose verdict is that of the fixed scenario it amounts to."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.scenarios import load_library, parse_scenario, with_copies
from app.sim import Engine, IllegalAction, compile_scenario, replay, sandbox
from app.sim.explore import Bounds, explore
from app.sim.model import State
from app.sim.scenario import Scenario

LIVE = {design: compile_scenario(sandbox.live_scenario(design)) for design in sandbox.DESIGNS}
FIXED = {
    "none": "protect-none",
    "check-zero": "protect-check-zero",
    "flag-then-increment": "protect-flag-then-increment",
    "interlocked-word": "protect-interlocked-word",
    "rundown": "protect-rundown",
}


def drive(engine: Engine, state: State, name: str, limit: int = 80) -> State:
    """Let thread ``name`` run its operation to its end, WSK completing inline when asked and routines running when
    due, the peer and the other threads standing still. Stops early if the thread blocks."""
    for _ in range(limit):
        if not state.actor(name).frames:
            return state
        enabled = engine.enabled(state)
        mine = [a for a in enabled if a.actor == name and not a.id.endswith(("-p", "-nomem"))]
        helpers = [a for a in enabled if a.actor not in {name, "peer"} and not a.actor.startswith("T")]
        # A receive with no data to take cannot complete inline: its call returns STATUS_PENDING.
        pending = [a for a in enabled if a.id == f"{name}-p"]
        pick = (mine or helpers or pending or [None])[0]
        if pick is None:
            return state
        state = engine.step(state, pick.id).state
    raise AssertionError(f"{name} did not finish its operation in {limit} steps")


def test_one_live_sandbox_per_design_opens_by_id_but_is_not_in_the_gallery() -> None:
    library = load_library()
    for design in sandbox.DESIGNS:
        live_id = sandbox.live_id(design)
        assert library.get(live_id) is not None
        assert live_id not in library.scenarios


def test_a_session_starts_with_one_thread_and_adds_the_others_in_any_order() -> None:
    engine = Engine(LIVE["rundown"])
    state = engine.initial()
    assert [a.id for a in state.actors if a.present] == ["T1"]
    ids = [a.id for a in engine.enabled(state)]
    assert "T1-send" in ids and "T1-close" in ids and "T2-add" in ids and "T5-add" in ids
    state = engine.step(state, "T3-add").state
    assert [a.id for a in state.actors if a.present] == ["T1", "T3"]
    assert "T3-add" not in [a.id for a in engine.enabled(state)]
    # Once every thread added has stopped, nobody can be added any more; once the peer is done too, the run ends and
    # what it left behind is checked (here: a socket never closed).
    for name in ("T1", "T3"):
        state = engine.step(state, f"{name}-stop").state
    assert [a.actor for a in engine.enabled(state)] == ["peer"] * 3
    for _ in range(2):
        state = engine.step(state, "peer-data-s").state
    state = engine.step(state, "peer-fin-s").state
    while engine.enabled(state):
        state = engine.step(state, engine.enabled(state)[0].id).state
    assert dict(engine.blocked(state))["T2"].startswith("was never added")
    assert engine.outcome(state) == "violation"


@pytest.mark.parametrize("design", sorted(sandbox.DESIGNS))
@pytest.mark.parametrize("op", [op.id for op in sandbox.OPERATIONS])
def test_every_operation_runs_under_every_design(design: str, op: str) -> None:
    compiled = LIVE[design]
    engine = Engine(compiled)
    state = engine.step(engine.initial(), f"T1-{op}").state
    program = compiled.programs[state.actor("T1").frames[0].program]
    operation = next(o for o in sandbox.OPERATIONS if o.id == op)
    assert program.title == f"T1: {sandbox.operation_label(operation, sandbox.DESIGNS[design])}"
    state = drive(engine, state, "T1")
    if op == "waitevent":  # nobody has set the event: T1 waits until another thread does
        assert state.actor("T1").frames and state.actor("T1").frames[0].waiting is not None
        state = engine.step(state, "T2-add").state
        state = engine.step(state, "T2-setevent").state
        state = drive(engine, drive(engine, state, "T2"), "T1")
    assert not state.actor("T1").frames, f"T1 is still inside {op}"
    if op == "deref":
        assert state.words[compiled.memory_index["Ref"]] == -1
    if op == "close":
        assert state.sockets[0].handle == "CLOSED"
    elif op in ("send", "receive", "disconnect", "release", "ref", "rdacquire", "setevent", "waitevent"):
        assert state.violated == (), f"{op} on an open socket broke {state.violated}"
    # The same operation again, as often as the user likes (up to the bound).
    again = engine.step(state, f"T1-{op}").state
    assert again.actor("T1").ops_used == ((op, 2),)


@pytest.mark.parametrize("design", sorted(sandbox.DESIGNS))
def test_what_each_operation_does_is_said_in_its_label(design: str) -> None:
    labels = {op: label for op, label, _, _ in LIVE[design].threads[0].menu}
    expected_send = {
        "none": "send: WskSend",
        "check-zero": "send: Ref++, WskSend, Ref--",
        "flag-then-increment": "send: check Closing, Ref++, WskSend, Ref--",
        "rundown": "send: acquire, WskSend, release",
    }
    if design in expected_send:
        assert labels["send"] == expected_send[design]
    assert labels["close"].endswith("WskCloseSocket")
    assert all(len(label) <= 60 for label in labels.values())


def test_a_thread_starts_at_most_its_bound_of_operations_then_can_only_stop() -> None:
    engine = Engine(LIVE["none"])
    state = engine.initial()
    for _ in range(sandbox.MAX_OPERATIONS):
        state = engine.step(state, "T1-ref").state
        state = drive(engine, state, "T1")
    assert [a.id for a in engine.enabled(state) if a.actor == "T1"] == ["T1-stop"]
    with pytest.raises(IllegalAction):
        engine.step(state, "T1-ref")
    too_many = ["T1-ref"] * (sandbox.MAX_OPERATIONS + 1)
    assert sandbox.over_bounds(too_many[:-1]) is None
    assert f"more than {sandbox.MAX_OPERATIONS} operations" in (sandbox.over_bounds(too_many) or "")
    assert f"at most {sandbox.MAX_THREADS} threads" in (sandbox.over_bounds(["T6-add"]) or "")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    design=st.sampled_from(sorted(sandbox.DESIGNS)),
    choices=st.lists(st.integers(min_value=0, max_value=10_000), max_size=120),
)
def test_random_sessions_replay_exactly_and_stay_in_bounds(design: str, choices: list[int]) -> None:
    compiled = LIVE[design]
    engine = Engine(compiled)
    state = engine.initial()
    schedule: list[str] = []
    states = [state]
    for choice in choices:
        enabled = engine.enabled(state)
        if not enabled:
            break
        action = enabled[choice % len(enabled)].id
        state = engine.step(state, action).state
        schedule.append(action)
        states.append(state)
    first, second = replay(compiled, schedule), replay(compiled, list(schedule))
    assert [s.state for s in first.snapshots] == states == [s.state for s in second.snapshots]
    assert [s.narration for s in first.snapshots] == [s.narration for s in second.snapshots]
    assert sandbox.over_bounds(schedule) is None
    built = sandbox.situation_of(design, schedule)
    for name, ops in built.operations:
        assert sum(n for _, n in ops) <= sandbox.MAX_OPERATIONS
        assert state.actor(name).ops_used == tuple(sorted(ops))
    if not built.empty:
        situation = sandbox.situation_scenario(built)
        assert (
            sandbox.live_schedule(situation, ()) is not None
        )  # it is recognised as a situation of this sandbox
        compile_scenario(situation)


def _session(design: str, senders: int) -> list[str]:
    """Senders on T1.., and a closer on the next thread: the close-protection family's workload."""
    schedule = ["T1-send"]
    for n in range(2, senders + 1):
        schedule += [f"T{n}-add", f"T{n}-send"]
    return [*schedule, f"T{senders + 1}-add", f"T{senders + 1}-close"]


@pytest.mark.parametrize(
    ("design", "senders"),
    [*((d, 1) for d in sorted(FIXED)), ("check-zero", 2), ("rundown", 2)],
)
def test_find_the_race_on_a_built_situation_agrees_with_the_fixed_scenario(design: str, senders: int) -> None:
    fixed = load_library().scenarios[FIXED[design]]
    promise = fixed.source.expect
    if senders > 1:
        fixed = with_copies(fixed, "Sender", senders)
    situation = sandbox.situation_scenario(sandbox.situation_of(design, _session(design, senders)))
    bounds = Bounds(80_000, 400, None)
    expected, found = explore(fixed, bounds), explore(compile_scenario(situation), bounds)
    assert expected.complete and found.complete
    assert sorted(found.witnesses) == sorted(expected.witnesses)
    assert bool(found.witnesses) == (promise == "buggy")


def test_every_witness_of_a_situation_breaks_its_rule_in_the_live_sandbox() -> None:
    situation = sandbox.situation_scenario(sandbox.situation_of("check-zero", _session("check-zero", 2)))
    report = explore(compile_scenario(situation), Bounds(80_000, 400, None))
    assert "close_with_call_in_progress" in report.witnesses
    for kind, witness in report.witnesses.items():
        translated = sandbox.live_schedule(situation, witness)
        assert translated is not None
        live_id, schedule = translated
        assert live_id == "live-check-zero"
        trace = replay(LIVE["check-zero"], list(schedule))
        broken = {v.kind for _, v in trace.violations}
        assert kind in broken, (kind, schedule)


def test_a_custom_scenario_that_borrows_a_situation_id_is_not_taken_for_one() -> None:
    situation = sandbox.situation_scenario(sandbox.situation_of("rundown", _session("rundown", 1)))
    data = situation.model_dump(mode="json")
    data["threads"][0]["menu"][0]["label"] = "send: something else entirely"
    assert sandbox.live_schedule(Scenario.model_validate(data), ()) is None


def test_the_new_thread_fields_leave_other_scenarios_as_they_were() -> None:
    """Fingerprints name a scenario's version in search ids: the sandbox's new fields must not move them."""
    import json
    from pathlib import Path

    recorded = json.loads(
        (Path(__file__).parents[1] / "web" / "links" / "fingerprints-before-live-sandbox.json").read_text()
    )
    library = load_library()
    # The seed changed on purpose since (it gained the documentation's 'if (!Irp)' check): its version then is kept
    # with the v=1 links made with it, and must still have the fingerprint recorded here.
    links = Path(__file__).parents[1] / "web" / "links"
    seed_then = parse_scenario(yaml.safe_load((links / "seed-close-socket-v1.yaml").read_text()))
    fingerprints = {k: library.scenarios[k].fingerprint for k in recorded} | {
        "seed-close-socket": seed_then.fingerprint
    }
    assert fingerprints == recorded
    dumped = library.scenarios["sandbox"].source.model_dump(mode="json")
    assert not any({"joins", "max_operations", "stops"} & set(t) for t in dumped["threads"])
