"""A Hypothesis state machine walks the built-in scenarios one enabled action at a time.

Each rule takes one of the actions the engine offers (drawn by its index in ``engine.enabled(state)``); after every
step the engine's own invariants hold (tests/sim/invariants.py: IRP numbering, actors, handles that only move
forward, freed IRPs and sockets that stay freed, run-down counts that change only through their statements, calls
in progress, queues, outcomes), stepping is a pure function, and a cold replay of the schedule so far gives the
identical trace. Buggy scenarios break their rules along the way; none may break these.

A failure names the run as a player link to paste after the server's address, e.g.
``/play/close-during-send?v=2&s=Sender.Closer``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from app.scenarios import load_library
from app.sim import Engine, IllegalAction, Snapshot, replay
from app.sim.model import State
from app.sim.replay import start
from app.web.links import play_link
from tests.sim.invariants import check_moves, check_state, check_step

LIBRARY = load_library()
SCENARIO_IDS = sorted(LIBRARY.scenarios)


class BuiltInScenarioWalk(RuleBasedStateMachine):
    """One run of one built-in scenario, extended by one enabled action per rule."""

    def __init__(self) -> None:
        super().__init__()
        self.scenario_id = ""
        self.schedule: list[str] = []
        self.snapshots: list[Snapshot] = []

    def link(self) -> str:
        return play_link(self.scenario_id, tuple(self.schedule))

    @contextmanager
    def reproducible(self) -> Iterator[None]:
        """Any failure inside names the run as a link."""
        try:
            yield
        except AssertionError as err:
            raise AssertionError(f"{err}\nReproduce: {self.link()}") from err
        except Exception as err:
            raise AssertionError(f"{type(err).__name__}: {err}\nReproduce: {self.link()}") from err

    @initialize(scenario_id=st.sampled_from(SCENARIO_IDS))
    def choose_scenario(self, scenario_id: str) -> None:
        self.scenario_id = scenario_id
        self.engine = Engine(LIBRARY.scenarios[scenario_id])
        self.snapshots = list(start(LIBRARY.scenarios[scenario_id], self.engine).snapshots)

    @property
    def state(self) -> State:
        return self.snapshots[-1].state

    @rule(data=st.data())
    def take_an_enabled_action(self, data: st.DataObject) -> None:
        """Take one of the enabled actions; once none is left, check that the engine refuses any action."""
        enabled = self.engine.enabled(self.state)
        if not enabled:
            self.nothing_more_can_happen()
            return
        action = enabled[data.draw(st.integers(0, len(enabled) - 1), label="index in enabled")]
        self.schedule.append(action.id)  # first, so that a failure's link ends with the step that failed
        with self.reproducible():
            result = self.engine.step(self.state, action.id)
            assert result == self.engine.step(self.state, action.id), "the same step gave two results"
            assert result.action == action and result.enabled_before == enabled
            check_step(self.engine, self.state, result)
        self.snapshots.append(
            Snapshot(
                len(self.snapshots), action, result.state, result.events, result.narration, result.violations
            )
        )

    def nothing_more_can_happen(self) -> None:
        """At the end of a run every action id is illegal, and the engine says so."""
        with self.reproducible():
            try:
                self.engine.step(self.state, "Anyone")
            except IllegalAction as err:
                assert "none: the run has ended" in str(err)
            else:
                raise AssertionError("an action was taken after the run ended")

    @invariant()
    def the_engine_keeps_its_own_invariants(self) -> None:
        if not self.scenario_id:
            return
        with self.reproducible():
            check_state(self.engine, self.state)
            check_moves(self.engine, self.state)

    @invariant()
    def a_cold_replay_gives_the_identical_trace(self) -> None:
        if not self.scenario_id:
            return
        with self.reproducible():
            trace = replay(LIBRARY.scenarios[self.scenario_id], tuple(self.schedule))
            assert trace.final == self.state, "replaying the schedule gives another state"
            assert [(s.state, s.events, s.narration, s.violations) for s in trace.snapshots] == [
                (s.state, s.events, s.narration, s.violations) for s in self.snapshots
            ], "replaying the schedule gives another trace"

    def teardown(self) -> None:
        if self.scenario_id:
            note(f"The run: {self.link()}")


BuiltInScenarioWalk.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_built_in_scenarios_keep_the_engine_invariants_step_by_step = BuiltInScenarioWalk.TestCase
