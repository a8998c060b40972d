"""A player link is written by hand rather than by urlencode, to skip quoting a long schedule that needs none
(app/web/links.py): it must be the very link urlencode wrote, for every schedule, step and definition."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from app.web.links import LINK_VERSION, play_link

# Ids as they are, and texts no id can be (a link's parts come from parsed schedules, but a link is a promise).
ids = st.one_of(st.from_regex(r"[A-Za-z0-9_-]{1,19}", fullmatch=True), st.text(max_size=12))


def as_urlencode_wrote_it(
    scenario_id: str, schedule: tuple[str, ...], at: int | None, definition: str | None
) -> str:
    params: dict[str, str] = {"v": str(LINK_VERSION)}
    if definition is not None:
        params["def"] = definition
    params["s"] = ".".join(schedule)
    if at is not None and at != len(schedule):
        params["at"] = str(at)
    path = "custom" if definition is not None else scenario_id
    return f"/play/{path}?{urlencode(params, safe='.-_~')}"


@given(
    st.lists(ids, max_size=8).map(tuple),
    st.one_of(st.none(), st.integers(0, 9)),
    st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_-]{0,40}", fullmatch=True), st.text(max_size=20)),
)
def test_a_link_is_the_one_urlencode_wrote(
    schedule: tuple[str, ...], at: int | None, definition: str | None
) -> None:
    assert play_link("close-during-send", schedule, at, definition) == as_urlencode_wrote_it(
        "close-during-send", schedule, at, definition
    )


@given(st.lists(st.text(max_size=12), max_size=6).map(tuple))
def test_a_link_reads_back_as_its_schedule(schedule: tuple[str, ...]) -> None:
    query = parse_qs(urlsplit(play_link("x", schedule)).query, keep_blank_values=True)
    assert query["s"] == [".".join(schedule)]
