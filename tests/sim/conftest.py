"""Every scenario a sim test writes inline is also searched both ways, reduced and full, and the two must agree.

The explorer's reduced search must give exactly the full search's verdicts (tests/sim/helpers.py says what that
means). The built-in scenarios and their variants with more threads are compared in test_reduction.py; the small
worlds the other tests build for themselves are compared here, after the test that built them: every scenario
compiled during the session is noted, and each one not compared yet is, once, when a test ends. Those too large
for the full search (more than ``FULL_LIMIT`` states) are left to the tests that build them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import app.scenarios
import app.sim
from app.sim import CompiledScenario
from tests.sim.helpers import COMPARED, assert_searches_agree, built_ins

FULL_LIMIT = 5_000

_compile = app.sim.compile_scenario
_built: list[CompiledScenario] = []


def _noting(scenario: app.sim.Scenario) -> CompiledScenario:
    compiled = _compile(scenario)
    _built.append(compiled)
    return compiled


COMPARED.update(c.fingerprint for c in built_ins().scenarios.values())  # test_reduction.py compares them
# Patched when this directory's tests are collected, so that scenarios built at import time are noted too.
app.sim.compile_scenario = _noting  # type: ignore[assignment]
app.scenarios.compile_scenario = _noting  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def reduced_and_full_searches_agree() -> Iterator[None]:
    """After each test, compare both searches on the inline scenarios built so far and not compared yet."""
    yield
    while _built:
        compiled = _built.pop()
        if compiled.fingerprint not in COMPARED:
            assert_searches_agree(compiled, FULL_LIMIT)
