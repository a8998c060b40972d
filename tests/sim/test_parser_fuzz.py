"""Fuzzing the scenario parser: whatever arrives (in a link, a POST, a file), parsing it either succeeds or raises
ScenarioError with a message, never anything else, and never takes long.

The time bound is CPU time of one parse (``time.process_time``), which another busy process does not inflate, with
the garbage collector paused, so that collecting the garbage Hypothesis made does not count; it guards against
super-linear behaviour such as the regex backtracking this project once had (the worst seen is about 3 ms).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.scenarios import ScenarioError, parse_scenario
from app.sim.scenario import STATEMENT_OPS, Condition, Operand

PARSE_CPU_LIMIT_S = 0.05

# Text that looks like what authors write, with the characters that used to make the old regexes backtrack.
expression_text = st.text(alphabet=st.sampled_from(list(" \t=!<>&+-0123456789xXabcRef_²٣\n")), max_size=160)
names = st.text(max_size=40) | st.sampled_from(
    ["Ref", "W", "s", "irp", "Sender\n", "top", "", "STATUS_SUCCESS", "x" * 40]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | names
    | expression_text
)

statement = st.fixed_dictionaries(
    {"op": st.sampled_from([*STATEMENT_OPS, "Teleport"])},
    optional={
        "irp": names,
        "var": names,
        "into": names,
        "label": names,
        "target": names,
        "cond": expression_text,
        "value": scalars,
        "status": scalars,
        "socket": names,
        "routine": names,
    },
)
program = st.lists(statement, max_size=6)
thread = st.fixed_dictionaries(
    {"name": names},
    optional={
        "program": program,
        "menu": st.lists(
            st.fixed_dictionaries({"id": names, "label": names, "program": program}), max_size=3
        ),
        "irql": st.sampled_from(["PASSIVE_LEVEL", "DISPATCH_LEVEL", "HIGH"]),
    },
)
scenario = st.fixed_dictionaries(
    {"id": names, "title": names, "summary": names, "expect": st.sampled_from(["safe", "buggy", "maybe"])},
    optional={
        "threads": st.lists(thread, max_size=3),
        "memory": st.lists(
            st.fixed_dictionaries({"name": names}, optional={"kind": names, "initial": scalars}), max_size=3
        ),
        "sockets": st.lists(
            st.fixed_dictionaries({}, optional={"name": names, "context": names}), max_size=2
        ),
        "routines": st.dictionaries(
            names,
            st.fixed_dictionaries({"kind": st.sampled_from(["completion", "callback"]), "program": program}),
        ),
        "demo": st.lists(names, max_size=5) | names,
        "bugs": st.lists(names, max_size=3),
        "tags": st.lists(names, max_size=3),
    },
)
# Anything JSON can carry, for the structure around the scenario.
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=20,
)


@contextmanager
def cpu_time_below(limit_s: float) -> Iterator[None]:
    gc.disable()
    started = time.process_time()
    try:
        yield
    finally:
        spent = time.process_time() - started
        gc.enable()
    assert spent < limit_s


def refused_or_accepted(parse: Callable[[Any], Any], data: Any, refusal: type[Exception]) -> None:
    with cpu_time_below(PARSE_CPU_LIMIT_S):
        try:
            parse(data)
        except refusal as err:
            assert str(err)  # every refusal says something


def parse_in_time(data: Any) -> None:
    refused_or_accepted(parse_scenario, data, ScenarioError)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(scenario)
def test_random_scenarios_are_accepted_or_refused_with_a_message_quickly(data: dict[str, Any]) -> None:
    parse_in_time(data)


@settings(max_examples=200)
@given(json_values)
def test_any_json_value_is_refused_with_a_message_quickly(data: Any) -> None:
    parse_in_time(data)


@settings(max_examples=500)
@given(expression_text)
def test_conditions_and_operands_are_read_in_linear_time(text: str) -> None:
    """The tokenizer either reads a condition or raises ValueError, and never takes long, whatever the text."""
    for parse in (Condition.parse, Operand.parse):
        refused_or_accepted(parse, text, ValueError)
