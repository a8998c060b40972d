"""The built-in library as a whole: the families its scenarios form are described in scenarios/families, and a
library that is not consistent refuses to load with a sentence naming the file and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.scenarios import SCENARIO_DIR, ScenarioError, load_library

LIBRARY = load_library()


def test_every_family_a_scenario_names_is_described_and_has_two_designs_or_more() -> None:
    named = {c.source.family for c in LIBRARY.scenarios.values() if c.source.family}
    assert named == set(LIBRARY.families) == {"close-protection", "event-reuse", "pending-returned"}
    for family in LIBRARY.families.values():
        members = [c for c in LIBRARY.scenarios.values() if c.source.family == family.id]
        assert len(members) >= 2
        assert all(c.source.variant for c in members), f"every design of {family.id} says what it does"
        # A family teaches by contrast: at least one design breaks and at least one is safe.
        assert {c.source.expect for c in members} == {"safe", "buggy"}, family.id


def copy_library(tmp_path: Path) -> Path:
    target = tmp_path / "scenarios"
    shutil.copytree(SCENARIO_DIR, target)
    return target


def test_a_family_without_a_description_is_refused(tmp_path: Path) -> None:
    directory = copy_library(tmp_path)
    (directory / "families" / "event-reuse.yaml").unlink()
    with pytest.raises(
        ScenarioError, match=r"event-reuse.* is not described: add scenarios/families/event-reuse"
    ):
        load_library(directory)


def test_a_family_of_one_is_refused(tmp_path: Path) -> None:
    directory = copy_library(tmp_path)
    for path in directory.glob("event-reuse-*.yaml"):
        if path.stem != "event-reuse-never-cleared":
            path.unlink()
    with pytest.raises(
        ScenarioError, match=r"families/event-reuse.yaml: a family compares at least two designs"
    ):
        load_library(directory)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id: other\nquestion: Q?\nintro: I.\ncompare: C\n", "the id 'other' must match the file name"),
        ("id: event-reuse\nquestion: Q?\nintro: I.\n", "compare: Field required"),
        ("id: event-reuse\nquestion: Q?\nintro: I.\ncompare: C\ncolour: red\n", "colour: Extra inputs"),
        ("id: event-reuse\nquestion: [\n", "is not valid YAML"),
    ],
)
def test_a_bad_family_description_names_the_file_and_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    directory = copy_library(tmp_path)
    (directory / "families" / "event-reuse.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"families/event-reuse\.yaml") as err:
        load_library(directory)
    assert expected in str(err.value)
