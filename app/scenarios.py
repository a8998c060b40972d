"""The built-in scenario library: YAML files in ``scenarios/``, validated and compiled at start-up.

A file that fails validation stops the start-up with an error naming the file, the field and the fix, rather than
being skipped: a gallery that silently loses a scenario is worse than one that refuses to start.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.sim import CompiledScenario, Scenario, compile_scenario, sandbox

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"
FAMILY_DIR_NAME = "families"  # scenarios/families/<family>.yaml: what the fix verifier asks of a family


class ScenarioError(ValueError):
    """A scenario that cannot be used, with a message fit to show its author."""


def describe_errors(errors: Sequence[Any], skip: tuple[str, ...] = (), top: str = "(top level)") -> str:
    """Pydantic errors (of a scenario, or of a request), one per problem: where it is, as a dotted path without the
    ``skip`` parts, and what to do about it."""
    lines = []
    for problem in errors:
        where = ".".join(str(p) for p in problem["loc"] if p not in skip) or top
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


def parse_scenario(data: Any) -> CompiledScenario:
    """Validate and compile one scenario given as parsed JSON or YAML."""
    if not isinstance(data, dict):
        raise ScenarioError("A scenario must be an object with at least id, title, summary and threads.")
    try:
        # Through JSON so that YAML and API input are validated by exactly the same strict JSON-mode rules.
        scenario = Scenario.model_validate_json(json.dumps(data))
    except ValidationError as err:
        raise ScenarioError(f"The scenario is not valid: {describe_errors(err.errors())}") from None
    return compile_scenario(scenario)


def load_file(path: Path, *, built_in: bool = True) -> CompiledScenario:
    """Read, validate and compile one scenario file. A built-in one must also say what it promises (``expect``):
    the gallery shows it and the tests hold it to it. ``built_in=False`` reads an author's own file (the command
    line), for which ``expect`` is optional as it is in the API."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ScenarioError(f"{path.name} is not valid YAML: {err}") from None
    try:
        compiled = parse_scenario(data)
    except ScenarioError as err:
        raise ScenarioError(f"{path.name}: {err}") from None
    if compiled.source.id != path.stem:
        raise ScenarioError(
            f"{path.name}: the id '{compiled.source.id}' must match the file name '{path.stem}'."
        )
    if built_in and compiled.source.expect is None:
        raise ScenarioError(
            f"{path.name}: a built-in scenario must say what it shows: add 'expect: safe' (safe in every "
            "interleaving) or 'expect: buggy' (with a 'demo' schedule and the 'bugs' it shows)."
        )
    return compiled


def with_copies(compiled: CompiledScenario, thread: str, copies: int) -> CompiledScenario:
    """The scenario with ``copies`` copies of one of its threads in that thread's place, named ``<thread>1``,
    ``<thread>2``...: a design tried with more threads (three senders instead of one), as the explorer's benchmark
    and tests search it. Its id says how many threads it has; it promises nothing (``expect``, ``demo`` and
    ``bugs`` are the original's to keep, since ids and IRP numbers change with the threads)."""
    data = compiled.source.model_dump(mode="json", exclude={"expect", "demo", "bugs", "family", "variant"})
    original = next((t for t in data["threads"] if t["name"] == thread), None)
    if original is None:
        raise ScenarioError(f"Scenario '{compiled.source.id}' has no thread '{thread}' to copy.")
    threads: list[dict[str, Any]] = []
    for t in data["threads"]:
        threads += [{**t, "name": f"{thread}{n}"} for n in range(1, copies + 1)] if t is original else [t]
    data["threads"] = threads
    data["id"] = f"{compiled.source.id}-{len(threads)}-threads"
    data["title"] = f"{compiled.source.title} ({len(threads)} threads)"[:100]
    return parse_scenario(data)


class Family(BaseModel):
    """A family of built-in scenarios: designs that run the same work and differ in one choice (their ``family`` and
    ``variant`` fields). This is what the fix verifier, the gallery and the end of a run say about the family."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=60)
    question: str = Field(
        min_length=1,
        max_length=120,
        description="The fix verifier's heading: what searching the designs answers.",
    )
    intro: str = Field(
        min_length=1,
        max_length=600,
        description="What the designs have in common, and the one choice they differ in.",
    )
    compare: str = Field(
        min_length=1,
        max_length=80,
        description="The words of a link to the fix verifier, e.g. 'Compare the ...'.",
    )


Model = TypeVar("Model", bound=BaseModel)


def read_model(path: Path, model: type[Model], error: type[ValueError], shown: str) -> Model:
    """Read one YAML data file of the project (a family, a lesson, a challenge) and validate it, through JSON, by
    the same strict rules as API input; a problem raises ``error`` naming the file as ``shown`` and the fix."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return model.model_validate_json(json.dumps(data))
    except yaml.YAMLError as err:
        raise error(f"{shown} is not valid YAML: {err}") from None
    except ValidationError as err:
        raise error(f"{shown}: {describe_errors(err.errors())}") from None


def load_family(path: Path) -> Family:
    """Read and validate one family file; its ``id`` must match the file name."""
    family = read_model(path, Family, ScenarioError, f"families/{path.name}")
    if family.id != path.stem:
        raise ScenarioError(
            f"families/{path.name}: the id '{family.id}' must match the file name '{path.stem}'."
        )
    return family


def _check_families(families: dict[str, Family], scenarios: Sequence[CompiledScenario]) -> None:
    """Every family a scenario names is described, and every described family has at least two designs to
    compare."""
    members: dict[str, list[str]] = {}
    for compiled in scenarios:
        if compiled.source.family:
            members.setdefault(compiled.source.family, []).append(compiled.source.id)
    for name, ids in sorted(members.items()):
        if name not in families:
            raise ScenarioError(
                f"{ids[0]}.yaml: the family '{name}' is not described: add scenarios/{FAMILY_DIR_NAME}/{name}.yaml "
                "with its question, intro and compare text."
            )
    for name in sorted(families):
        if len(members.get(name, [])) < 2:
            raise ScenarioError(
                f"{FAMILY_DIR_NAME}/{name}.yaml: a family compares at least two designs, and "
                f"{len(members.get(name, []))} scenario(s) say 'family: {name}'."
            )


@dataclass(frozen=True)
class Library:
    """The built-in scenarios by id, in gallery order (level, then title), and the live sandboxes (one per close
    protection design, app/sim/sandbox.py): those open by id like any scenario, but promise no verdict of their
    own, so they are not among ``scenarios``, which the gallery lists and the tests hold to their promises."""

    scenarios: dict[str, CompiledScenario]
    live: dict[str, CompiledScenario] = field(default_factory=dict)
    families: dict[str, Family] = field(default_factory=dict)  # by id, sorted

    def get(self, scenario_id: str) -> CompiledScenario | None:
        return self.scenarios.get(scenario_id) or self.live.get(scenario_id)


def load_library(directory: Path = SCENARIO_DIR) -> Library:
    """Every ``*.yaml`` in ``directory``, each held to the built-in rules of ``load_file``; the families they form,
    described in ``directory/families``; and the live sandboxes."""
    compiled = [load_file(path) for path in sorted(directory.glob("*.yaml"))]
    compiled.sort(key=lambda c: (c.source.level, c.source.order, c.source.id))
    families = [load_family(path) for path in sorted((directory / FAMILY_DIR_NAME).glob("*.yaml"))]
    by_id = {f.id: f for f in families}
    _check_families(by_id, compiled)
    live = [compile_scenario(scenario) for scenario in sandbox.live_scenarios()]
    return Library({c.source.id: c for c in compiled}, {c.source.id: c for c in live}, by_id)
