"""Typed path parameters shared by the routers, documented once for the OpenAPI document."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

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
