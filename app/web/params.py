"""Typed path parameters shared by the routers, documented once for the OpenAPI document; and query models read
without FastAPI's per-field work, for the player's hot routes."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.sim.scenario import SCENARIO_ID

# Examples let an API client (and the API fuzz) reach a real scenario instead of only 404s.
ScenarioId = Annotated[
    str,
    Path(
        max_length=64,
        description="A built-in scenario's id (GET /api/scenarios lists them); in player links also 'custom', "
        "whose scenario travels in the 'def' parameter.",
        examples=["seed-close-socket", "close-during-send", "sandbox"],
        json_schema_extra={"pattern": SCENARIO_ID.pattern},
    ),
]


# -- Query models read by pydantic directly -------------------------------------------------------------------

_Model = TypeVar("_Model", bound=BaseModel)


def _documented(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The OpenAPI parameters FastAPI writes for ``model`` as a query model, asked of FastAPI itself, so that a
    route reading its query directly documents it exactly as ``Annotated[model, Query()]`` would."""
    probe = FastAPI()

    def probe_route(q: Any) -> None:
        """Only its documentation is used."""

    # Set here, not written in the signature: annotations are strings in this module, and ``model`` is a local.
    probe_route.__annotations__ = {"q": Annotated[model, Query()], "return": None}
    probe.get("/probe")(probe_route)
    parameters: list[dict[str, Any]] = probe.openapi()["paths"]["/probe"]["get"]["parameters"]
    return parameters


def query_model(model: type[_Model]) -> tuple[Any, dict[str, Any]]:
    """A dependency that reads a request's query into ``model`` with pydantic alone, and the ``openapi_extra``
    that documents it; for the player's hot routes.

    FastAPI reads a query model field by field, working out each field's aliases and shape again on every request:
    0.07 ms, as much as a cached player step costs in all. pydantic validates the same dict in 0.01 ms. A value
    given twice counts once, the last, as FastAPI counts it; errors are FastAPI's own (RequestValidationError, with
    each location under "query"), so they read exactly as before.
    """

    async def read(request: Request) -> _Model:  # async: FastAPI would run a plain function in a thread
        try:
            return model.model_validate(dict(request.query_params))
        except ValidationError as err:
            errors = [{**e, "loc": ("query", *e["loc"])} for e in err.errors(include_url=False)]
            raise RequestValidationError(errors) from None

    return Depends(read), {"parameters": _documented(model)}
