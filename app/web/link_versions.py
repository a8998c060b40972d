"""What older links meant, and the link of today that means the same.

A link's ``v`` names the version of the link format it was written in. A schedule is a list of action ids, so a
change to a built-in scenario that adds, removes or renames a step changes what its old schedules mean; such a
change bumps ``LINK_VERSION`` and adds a rule here that rewrites a link of the old version into the current one.
Every link the server writes says the current version; it reads every version listed in ``READ``.

Version 1 to 2: the seed scenario (seed-close-socket) gained the documentation's
``if (!Irp) return STATUS_INSUFFICIENT_RESOURCES;`` as a step of its own, right after ``IoAllocateIrp``. A version 1
seed link gets that step (an ``App`` action: the check finds the IRP allocated and carries on) inserted after the
run's allocation, and its step number moves one later when it points past the allocation. The run is otherwise
the same, step for step. Every other scenario, custom ones included, means the same in both versions.

A rule is a pure function from a link's (schedule, step) to the current version's; ``upgrade`` chains them from the
link's version to the current one and says, in a sentence for the stage, what changed.

A lesson's link (``/learn/<lesson>?at=N``) names a step of the lesson's own run, which is a run of a built-in
scenario, so the same rules move its step (``lesson_step``). Lesson links carried no ``v`` before version 2: one
without it is of version 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException

from app.sim import parse_schedule
from app.web.links import LINK_VERSION

READ = ("1", "2")  # every version of the link format this server reads (it writes only LINK_VERSION)
SEED = "seed-close-socket"

Rule = Callable[[tuple[str, ...], int | None], tuple[tuple[str, ...], int | None]]


@dataclass(frozen=True)
class Change:
    """How links of one version to one built-in scenario become links of the next version."""

    rule: Rule
    # The scenario's fingerprint when the last links of the old version were written: such a link's ``h`` says
    # the scenario changed since, and the change is exactly this one (so the stage need not say the run may differ).
    fingerprint: str
    says: str  # what the stage says about an upgraded link, in plain words


def _seed_gains_allocation_check(
    schedule: tuple[str, ...], at: int | None
) -> tuple[tuple[str, ...], int | None]:
    """Insert the ``if (!Irp)`` step after the seed's IoAllocateIrp (App's second action) when the run goes on
    beyond it; a step after the allocation is one later."""
    apps = [index for index, action in enumerate(schedule) if action == "App"]
    if len(apps) < 2 or apps[1] == len(schedule) - 1:
        return schedule, at  # the run stops before the check: it means the same
    checked = apps[1] + 1  # the step that allocated the IRP; the check is the next one
    upgraded = (*schedule[:checked], "App", *schedule[checked:])
    return upgraded, at + 1 if at is not None and at > checked else at


CHANGES: dict[int, dict[str, Change]] = {
    1: {
        SEED: Change(
            _seed_gains_allocation_check,
            "f7ff444ea358cc92",
            "This link was made before this scenario ran the documentation's 'if (!Irp)' check as a step of its "
            "own. It is shown with that step added after IoAllocateIrp, so every later step is one further on; "
            "the run is otherwise the same.",
        ),
    },
}


def version(v: str | None) -> int:
    """The link version ``v`` names (none: the current one), or a 400 that says which versions this server reads."""
    if v is None:
        return LINK_VERSION
    if v not in READ:
        raise HTTPException(
            400,
            f"This link uses version {v[:8]} of the link format; this server reads versions "
            f"{', '.join(READ)} and writes version {LINK_VERSION}. Copy the link again from its stage.",
        )
    return int(v)


@dataclass(frozen=True)
class Upgraded:
    """A link of an older version, rewritten to mean the same in the current one."""

    s: str
    at: str | None
    says: str
    shifts: tuple[Rule, ...]  # the rules applied, to move another step number of the same link (``step``)
    schedule: tuple[str, ...]  # the link's own schedule, before the rules

    def step(self, at: str | None) -> str | None:
        """Another step number of the same old link (a button's ``to``), moved as the link's ``at`` was."""
        return _moved(self.schedule, at, self.shifts)


def _moved(schedule: tuple[str, ...], at: str | None, rules: tuple[Rule, ...]) -> str | None:
    if at is None or not (0 < len(at) <= 4 and all(c in "0123456789" for c in at)):
        return at  # absent (the last step) or malformed: parse_step says what is wrong
    step: int | None = int(at)
    for rule in rules:
        schedule, step = rule(schedule, step)
    return str(step)


def upgrade(v: str | None, scenario_id: str | None, s: str | None, at: str | None) -> Upgraded | None:
    """The current version's link for a link of version ``v`` to built-in ``scenario_id`` (None for a custom
    scenario, which the engine runs as it always did), or None when the link means the same today. A schedule
    that does not parse is left alone, for the player to refuse with its own message."""
    old = version(v)
    if scenario_id is None or old == LINK_VERSION:
        return None
    changes = _changes(old, scenario_id)
    rules = tuple(change.rule for change in changes)
    if not rules:
        return None
    try:
        schedule = original = parse_schedule(s or "")
    except ValueError:
        return None
    for rule in rules:
        schedule, _ = rule(schedule, None)
    if schedule == original:
        return None  # the run stops before anything changed: the same link, the same run
    says = " ".join(change.says for change in changes)
    return Upgraded(".".join(schedule), _moved(original, at, rules), says, rules, original)


def accounted_for(v: str | None, scenario_id: str, h: str) -> bool:
    """Whether a link's content hash ``h`` names the version of the scenario its link version's rules start from:
    then the scenario changed since exactly as the rules say, and the run shown is the run that was shared."""
    if v not in READ or not h:
        return False
    change = CHANGES.get(int(v), {}).get(scenario_id)
    return change is not None and change.fingerprint.startswith(h)


def notice(made_with: dict[str, str] | None, upgraded: Upgraded | None) -> dict[str, str] | None:
    """The stage's "made with" notice: what an upgrade changed, then (for a link made with an even earlier version
    of the scenario) that the scenario has changed."""
    if upgraded is None:
        return made_with
    if made_with is None:
        return {"says": upgraded.says, "stored": ""}
    return {"says": f"{upgraded.says} {made_with['says']}", "stored": made_with["stored"]}


def old_link(scenario_id: str, fingerprint: str, schedule: tuple[str, ...], at: int) -> str | None:
    """The link, in its own version, of a run stored from a version of the built-in scenario that a rule here
    starts from (a short link made before the change), or None. The player upgrades it and says so."""
    for old, changes in sorted(CHANGES.items(), reverse=True):
        change = changes.get(scenario_id)
        if change is not None and fingerprint.startswith(change.fingerprint):
            query = f"v={old}&s={'.'.join(schedule)}" + ("" if at == len(schedule) else f"&at={at}")
            return f"/play/{scenario_id}?{query}"
    return None


def lesson_step(v: str | None, scenario_id: str, run: tuple[str, ...], at: str | None) -> str | None:
    """The step of today's lesson that a lesson link's ``at`` named, for a lesson whose run (today's) is ``run``, a
    run of ``scenario_id``. The rules are given today's run to read: each reads only where the run reaches the
    step it inserts (the seed's: its second ``App`` step), which today's run reaches where the old one did."""
    rules = tuple(change.rule for change in _changes(version(v) if v is not None else 1, scenario_id))
    return _moved(run, at, rules) if rules else at


def _changes(old: int, scenario_id: str) -> list[Change]:
    """The changes to ``scenario_id`` between link version ``old`` and the current one, oldest first."""
    return [change for n in range(old, LINK_VERSION) if (change := CHANGES.get(n, {}).get(scenario_id))]
