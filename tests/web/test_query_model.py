"""The player's routes read their query with pydantic alone (app/web/params.py): they must answer and document
exactly as a FastAPI query model does."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app.web.params import query_model
from app.web.player import PlayerQuery

ours = FastAPI()
fastapis = FastAPI()
READ, DOCS = query_model(PlayerQuery)


@ours.get("/q", openapi_extra=DOCS)
async def read_ours(q: PlayerQuery = READ) -> dict[str, str | None]:
    return q.model_dump()


@fastapis.get("/q")
async def read_fastapis(q: Annotated[PlayerQuery, Query()]) -> dict[str, str | None]:
    return q.model_dump()


names = st.sampled_from(["v", "s", "at", "def", "definition", "to", "then", "utm_source"])
values = st.one_of(
    st.text(max_size=10), st.sampled_from(["1", "Sender.Closer", "9" * 9, "@random", "x" * 50])
)


@settings(max_examples=200)
@given(st.lists(st.tuples(names, values), max_size=6))
def test_a_query_is_read_and_refused_as_fastapi_reads_and_refuses_it(pairs: list[tuple[str, str]]) -> None:
    a = TestClient(ours).get("/q", params=pairs)
    b = TestClient(fastapis).get("/q", params=pairs)
    assert (a.status_code, a.json()) == (b.status_code, b.json())


def test_the_query_is_documented_as_fastapi_documents_it() -> None:
    assert (
        ours.openapi()["paths"]["/q"]["get"]["parameters"]
        == (fastapis.openapi()["paths"]["/q"]["get"]["parameters"])
    )
