"""Who moves next when nobody chose: the schedulers that run a trace on.

A scheduler picks one of the enabled actions, given which actor moved last. Both are deterministic: round robin
by construction, and the random one because it draws from its own ``random.Random(seed)``. This is the only
module of the engine that may use ``random``, and never the global generator (tests/sim/test_purity.py checks
both), so a seed and a trace always lead to the same run.
"""

from __future__ import annotations

import random
from typing import Literal, Protocol

from app.sim.step import Action

SchedulerName = Literal["round_robin", "random"]


class Scheduler(Protocol):
    """Chooses the next action among the enabled ones (never empty)."""

    def choose(self, enabled: tuple[Action, ...], last_actor: str | None) -> Action:
        """One of ``enabled``; ``last_actor`` is the actor of the previous action, or None at the start."""
        ...


class RoundRobin:
    """Each actor in turn, in the order the engine lists them, starting after the actor that moved last; an actor
    with several enabled actions takes its first one."""

    def choose(self, enabled: tuple[Action, ...], last_actor: str | None) -> Action:
        """The first action of the actor after ``last_actor`` (or of the first actor, if it cannot move)."""
        actors: list[str] = []
        for a in enabled:
            if a.actor not in actors:
                actors.append(a.actor)
        turn = actors[(actors.index(last_actor) + 1) % len(actors)] if last_actor in actors else actors[0]
        return next(a for a in enabled if a.actor == turn)


class SeededRandom:
    """Uniformly among the enabled actions, from a generator of its own seeded with ``seed``."""

    def __init__(self, seed: int):
        self._generator = random.Random(seed)

    def choose(self, enabled: tuple[Action, ...], last_actor: str | None) -> Action:
        """A uniform choice; ``last_actor`` plays no part."""
        return self._generator.choice(enabled)


def scheduler(name: SchedulerName, seed: int = 0) -> Scheduler:
    """The scheduler a name stands for in the API: ``round_robin`` or ``random`` (which uses ``seed``)."""
    return SeededRandom(seed) if name == "random" else RoundRobin()
