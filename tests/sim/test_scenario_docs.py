"""docs/scenario-format.md is a contract: every YAML example in it validates and runs, and a buggy example's demo
shows the bugs it lists. What the document says is optional for a scenario of one's own is optional; the built-in
library still requires ``expect``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app import cli
from app.scenarios import Family, ScenarioError, load_file, load_library, parse_scenario
from app.sim import replay, run_on
from app.sim.explore import explore
from tests.sim.helpers import CLOSE_COMPLETE, close_program

ROOT = Path(__file__).resolve().parents[2]
FORMAT = ROOT / "docs" / "scenario-format.md"
YAML_BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def yaml_examples() -> list[tuple[int, str]]:
    """Each fenced ```yaml block of the document, with the line it starts on (for the test id)."""
    text = FORMAT.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in YAML_BLOCK.finditer(text)]


# The document also shows a family's description (scenarios/families/<id>.yaml): told apart by its 'question'.
EXAMPLES = [(line, block) for line, block in yaml_examples() if "question" not in yaml.safe_load(block)]
FAMILY_EXAMPLES = [(line, block) for line, block in yaml_examples() if "question" in yaml.safe_load(block)]


def test_the_format_document_has_yaml_examples() -> None:
    """Guards the extraction itself: a renamed fence would otherwise make the next test check nothing."""
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize(("line", "block"), EXAMPLES, ids=[f"line-{line}" for line, _ in EXAMPLES])
def test_every_yaml_example_in_the_format_document_validates_and_runs(line: int, block: str) -> None:
    """Each example parses exactly as a posted scenario would, and replays: its demo (which must show every bug it
    lists), else a round-robin run, which must end."""
    compiled = parse_scenario(yaml.safe_load(block))
    source = compiled.source
    if source.demo:
        trace = replay(compiled, source.demo)
        found = {v.kind for _, v in trace.violations}
        assert set(source.bugs) <= found, f"the example at line {line}: its demo shows only {sorted(found)}"
    else:
        trace = run_on(replay(compiled, ()), "round_robin", 500)
        assert trace.outcome != "running", f"the example at line {line} does not end in 500 steps"
        if source.expect == "safe":
            assert trace.outcome == "ok", trace.violations


@pytest.mark.parametrize(("line", "block"), EXAMPLES, ids=[f"line-{line}" for line, _ in EXAMPLES])
def test_every_example_without_a_bug_to_show_is_safe_in_every_interleaving(line: int, block: str) -> None:
    """The document's examples are code to copy: one that shows no bug (no demo) must break no rule in any
    interleaving, not only in the round-robin run above."""
    compiled = parse_scenario(yaml.safe_load(block))
    if compiled.source.demo:
        pytest.skip("this example shows a bug on purpose")
    report = explore(compiled)
    assert report.complete, f"the example at line {line} is too large to search"
    assert set(report.outcomes) == {"ok"}, (
        f"the example at line {line}: {dict(report.outcomes)} {report.witnesses}"
    )


def test_the_family_example_is_a_valid_description_of_a_built_in_family() -> None:
    assert len(FAMILY_EXAMPLES) == 1
    family = Family.model_validate_json(json.dumps(yaml.safe_load(FAMILY_EXAMPLES[0][1])))
    assert load_library().families[family.id].question == family.question


def test_the_smallest_example_needs_no_expect_demo_or_bugs() -> None:
    """The document shows a scenario of one's own without the library's fields; it closes cleanly."""
    data = next(yaml.safe_load(b) for _, b in EXAMPLES if "expect" not in yaml.safe_load(b))
    assert not {"expect", "demo", "bugs"} & set(data)
    trace = run_on(replay(parse_scenario(data), ()), "round_robin", 100)
    assert trace.outcome == "ok"


# -- expect, demo and bugs: optional for one's own scenario, checked when given, required in the library ----------

OWN: dict[str, Any] = {
    "id": "mine",
    "title": "t",
    "summary": "s",
    "threads": [{"name": "W", "program": close_program()}],
    "routines": {"CloseComplete": {"kind": "completion", "program": CLOSE_COMPLETE}},
}


def test_a_scenario_of_ones_own_needs_no_expect() -> None:
    compiled = parse_scenario(OWN)
    assert compiled.source.expect is None
    assert run_on(replay(compiled, ()), "round_robin", 10).outcome == "ok"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"expect": "buggy"}, "needs a 'demo' schedule and the 'bugs'"),
        ({"expect": "safe", "bugs": ["deadlock"]}, "a safe scenario cannot list 'bugs'"),
        ({"bugs": ["no_such_bug"]}, "unknown violation kind"),
        ({"expect": "maybe"}, "expect"),
    ],
)
def test_expect_demo_and_bugs_are_still_checked_when_given(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ScenarioError, match=expected):
        parse_scenario({**OWN, **changes})


def test_the_library_refuses_a_built_in_file_without_expect(tmp_path: Path) -> None:
    """The requirement lives in the library loader, with a message that says what to add."""
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(OWN), encoding="utf-8")
    with pytest.raises(
        ScenarioError, match=r"mine.yaml: a built-in scenario must say what it shows: add 'expect"
    ):
        load_library(tmp_path)
    assert load_file(tmp_path / "mine.yaml", built_in=False).source.expect is None


def test_every_built_in_scenario_says_what_it_shows() -> None:
    assert all(c.source.expect in ("safe", "buggy") for c in load_library().scenarios.values())


def test_the_command_line_runs_an_authors_file_without_expect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(OWN), encoding="utf-8")
    assert cli.main([str(tmp_path / "mine.yaml"), "--continue", "round_robin"]) == 0
    assert "outcome:  ok" in capsys.readouterr().out
