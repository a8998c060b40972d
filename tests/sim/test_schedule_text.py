"""A schedule in a link ('a.b.c') is read in one pass when it is well formed; it must read exactly as the id-by-id
definition does: the same ids, and a refusal for every text that definition refuses."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.sim import parse_schedule
from app.sim.replay import MAX_SCHEDULE
from app.sim.scenario import MAX_ACTION_ID

ONE_ID = re.compile(f"[A-Za-z0-9_-]{{1,{MAX_ACTION_ID}}}")


def by_each_id(text: str) -> tuple[str, ...]:
    """The definition: ids of 1 to MAX_ACTION_ID ASCII letters, digits, '_' or '-', joined by '.'."""
    parts = tuple(text.split(".")) if text else ()
    if len(parts) > MAX_SCHEDULE or not all(ONE_ID.fullmatch(p) for p in parts):
        raise ValueError(text)
    return parts


# Near misses included: non-ASCII digits and letters, empty ids (".." or a trailing '.'), newlines, spaces.
ALPHABET = "aZ09_-.²٣é \n"
ids = st.text(alphabet=ALPHABET, min_size=0, max_size=MAX_ACTION_ID + 3)


@given(st.lists(ids, max_size=12).map(".".join))
def test_a_schedule_reads_as_the_id_by_id_definition_says(text: str) -> None:
    try:
        expected = by_each_id(text)
    except ValueError:
        with pytest.raises(ValueError):
            parse_schedule(text)
    else:
        assert parse_schedule(text) == expected


@pytest.mark.parametrize(
    "text",
    ["Sender.", ".Sender", "Sender..Closer", "x" * (MAX_ACTION_ID + 1), "Sender\n", "Send²r", "a b"],
)
def test_malformed_schedules_are_refused_naming_the_id_at_fault(text: str) -> None:
    with pytest.raises(ValueError, match="is not an action id"):
        parse_schedule(text)


def test_a_well_formed_schedule_keeps_its_ids_in_order() -> None:
    assert parse_schedule("Sender.wsk-c1.cr1") == ("Sender", "wsk-c1", "cr1")
    assert parse_schedule("") == ()
