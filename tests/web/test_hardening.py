"""Regression tests for the hardening issue: no link or request can freeze the server, balloon its memory or get a
500, and every answer carries the security headers."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.main import create_app
from app.web.api import MAX_ANSWER_BYTES
from app.web.errors import MAX_BODY_BYTES
from app.web.links import encode_definition, play_link
from tests.bombs import IRP_LOOP, slow_condition

SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")


def assert_secured(response: Any) -> None:
    for header in SECURITY_HEADERS:
        assert header in response.headers, header


# -- 1. conditions are parsed in linear time, from every door ------------------------------------------------


def test_a_pathological_condition_is_refused_at_once_from_a_link_the_api_and_the_explorer(
    client: TestClient,
) -> None:
    """110 spaces and '=' once held the interpreter for seconds (200 for 49 s); every way in refuses it at once."""
    definition = encode_definition(slow_condition())
    started = time.perf_counter()
    answers = [
        client.get(f"/play/custom?v=2&def={definition}"),
        client.post("/api/run", json={"scenario": slow_condition()}),
        client.post("/api/explore", json={"scenario": slow_condition()}),
    ]
    assert time.perf_counter() - started < 5  # generous for a shared machine; it was minutes at 300 spaces
    for response in answers:
        assert response.status_code == 422
        assert "unexpected character" in response.text


# -- 2. answers grow linearly with the run and are bounded -----------------------------------------------------


def run_loop(client: TestClient, count: int, **extra: Any) -> Any:
    return client.post("/api/run", json={"scenario": IRP_LOOP, "schedule": ["Loop"] * count, **extra})


def test_a_run_answer_grows_linearly_with_the_run(client: TestClient) -> None:
    """States travel as changes, so four times the steps is about four times the bytes (it was 16 times)."""
    short, long = run_loop(client, 500), run_loop(client, 2000)
    assert short.status_code == long.status_code == 200
    assert len(long.content) < 4.5 * len(short.content)
    assert len(long.content) < MAX_ANSWER_BYTES


def test_changes_rebuild_every_state(client: TestClient) -> None:
    """Applying each step's changes to the first state gives exactly the whole state of every step."""
    changes = run_loop(client, 60).json()["steps"]
    whole = run_loop(client, 60, states="every_step").json()["steps"]
    state = changes[0]["state"]
    assert state == whole[0]["state"]
    for step, expected in zip(changes[1:], whole[1:], strict=True):
        assert step["state"] is None
        delta = dict(step["changes"])
        irps = {irp["id"]: irp for irp in state["irps"]}
        irps.update({irp["id"]: irp for irp in delta.pop("irps", [])})
        state = {**state, **delta, "irps": [irps[i] for i in sorted(irps)]}
        assert state == expected["state"]


def test_whole_states_beyond_the_answer_limit_are_refused_with_how_to_ask_for_less(
    client: TestClient,
) -> None:
    response = run_loop(client, 2000, states="every_step")
    assert response.status_code == 422
    assert (
        "states 'changes'" in response.json()["detail"]
        and "steps: {first, last}" in response.json()["detail"]
    )


def test_a_window_lists_only_the_steps_asked_for(client: TestClient) -> None:
    body = run_loop(client, 300, steps={"first": 100, "last": 110}).json()
    assert [s["index"] for s in body["steps"]] == list(range(100, 111))
    assert body["steps"][0]["state"]["irps"] and body["steps"][1]["state"] is None
    past = run_loop(client, 30, steps={"first": 31})
    assert past.status_code == 422 and "ends at step 30" in past.json()["detail"]


def test_the_export_link_of_a_long_run_is_linear_in_size(client: TestClient) -> None:
    link = run_loop(client, 2000, states="none").json()["link"]
    response = client.get(link.replace("/play/", "/export/"))
    assert response.status_code == 200
    assert len(response.content) < 4_000_000  # it was 222 MB
    assert response.json()["states"] == "changes"


def test_the_irp_board_draws_only_the_latest_freed_irps(client: TestClient) -> None:
    link = run_loop(client, 600, states="none").json()["link"]
    page = client.get(link).text
    assert "and 197 earlier" in page  # 200 freed IRPs, 3 drawn


def test_the_irp_board_draws_an_older_irp_the_step_freed(client: TestClient) -> None:
    """IRP 1 was allocated first and is freed last, after IRPs 2 to 6: the step that frees it shows its card
    moving to Freed, though the board draws only the three most recently allocated of the others."""
    scenario = {
        **IRP_LOOP,
        "threads": [
            {
                "name": "Early",
                "program": [{"op": "IoAllocateIrp", "irp": "first"}, {"op": "IoFreeIrp", "irp": "first"}],
            },
            *IRP_LOOP["threads"],
        ],
    }
    schedule = ["Early", *["Loop"] * 15, "Early"]
    link = play_link("custom", tuple(schedule), definition=encode_definition(scenario))
    page = client.get(link).text
    assert 'class="irp-card vt-irp-1 changed"' in page
    assert [f"vt-irp-{n}" in page for n in range(2, 7)] == [False, False, True, True, True]
    assert "and 2 earlier" in page
    before = client.get(link + f"&at={len(schedule) - 1}").text  # IRP 1 still allocated: drawn where it is
    assert 'vt-irp-1"' in before and "and 2 earlier" in before


# -- 3. request bodies are bounded before they are read ---------------------------------------------------------


def test_an_oversized_body_is_refused_with_413_before_parsing(client: TestClient) -> None:
    response = client.post(
        "/api/run", content=b"{" + b" " * MAX_BODY_BYTES + b"}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "larger than 512 KB" in response.json()["detail"]
    assert_secured(response)


def test_an_oversized_chunked_body_is_refused_too(client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b" " * 20_000

    response = client.post("/api/run", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_a_small_chunked_body_still_reaches_the_app(client: TestClient) -> None:
    body = json.dumps({"scenario": "seed-close-socket", "schedule": "App"}).encode()
    response = client.post(
        "/api/run", content=iter([body[:10], body[10:]]), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


def test_a_huge_demo_list_is_refused(client: TestClient) -> None:
    scenario = {**IRP_LOOP, "expect": "buggy", "bugs": ["deadlock"], "demo": ["Loop"] * 2001}
    response = client.post("/api/run", json={"scenario": scenario})
    assert response.status_code == 422 and "demo" in response.json()["detail"]


def test_running_on_stops_where_a_link_could_still_replay_the_run(client: TestClient) -> None:
    body = client.post(
        "/api/run",
        json={
            "scenario": IRP_LOOP,
            "schedule": ["Loop"] * 1990,
            "continue_with": {"max_steps": 2000},
            "states": "none",
        },
    ).json()
    assert len(body["schedule"]) == 2000 and body["outcome"] == "running"
    assert client.get(body["link"]).status_code == 200


def test_a_schedule_list_is_bounded(client: TestClient) -> None:
    response = client.post("/api/run", json={"scenario": "seed-close-socket", "schedule": ["App"] * 2001})
    assert response.status_code == 422 and "schedule" in response.json()["detail"]


# -- 4. 'at' is parsed strictly, and nothing unexpected is a bare 500 -----------------------------------------


@pytest.mark.parametrize("at", ["%C2%B2", "9" * 5000, "-1", "1.0", "%D9%A3", "0x1"])
def test_a_malformed_step_is_a_clear_422_with_security_headers(client: TestClient, at: str) -> None:
    response = client.get(f"/play/seed-close-socket?v=2&s=App&at={at}")
    assert response.status_code == 422
    assert "at" in response.text
    assert_secured(response)


def test_an_unexpected_error_is_a_generic_500_page_with_security_headers_and_a_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app: FastAPI = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    client = TestClient(app, raise_server_exceptions=False)
    page = client.get("/boom")
    assert page.status_code == 500 and "Something went wrong" in page.text and "a bug" not in page.text
    assert_secured(page)
    api = client.get("/boom", headers={"accept": "application/json"})
    assert api.status_code == 500 and "error" in api.json()["detail"]
    assert any("Unexpected error" in r.message for r in caplog.records)


# -- 5. names are matched whole ----------------------------------------------------------------------------------


def test_an_id_ending_in_a_newline_is_a_clean_404_not_a_dropped_download(client: TestClient) -> None:
    response = client.get("/export/seed-close-socket%0A?v=2")
    assert response.status_code == 404
    assert_secured(response)


def test_a_built_in_scenarios_link_with_a_def_is_refused_rather_than_ignored(client: TestClient) -> None:
    response = client.get("/play/seed-close-socket?v=2&def=abc")
    assert response.status_code == 400 and "carries no" in response.text


def test_a_thread_name_ending_in_a_newline_is_refused(client: TestClient) -> None:
    scenario = {**IRP_LOOP, "threads": [{**IRP_LOOP["threads"][0], "name": "Loop\n"}]}
    response = client.post("/api/run", json={"scenario": scenario})
    assert response.status_code == 422 and "thread name" in response.json()["detail"]


# -- 9. the OpenAPI document tells the truth ----------------------------------------------------------------------


def test_the_openapi_document_describes_errors_as_they_are(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    run = spec["paths"]["/api/run"]["post"]
    assert {"400", "404", "413", "422"} <= set(run["responses"])
    error = run["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
    assert spec["components"]["schemas"][error.split("/")[-1]]["properties"]["detail"]["type"] == "string"
    play = spec["paths"]["/play/{scenario_id}"]["get"]
    assert set(play["responses"]["422"]["content"]) == {"text/html"}
    body = spec["components"]["schemas"]["RunRequest"]["properties"]["scenario"]
    assert {"$ref": "#/components/schemas/Scenario"} in body["anyOf"]
    assert "Scenario" in spec["components"]["schemas"]
    version = next(p for p in play["parameters"] if p["name"] == "v")
    assert version["schema"]["pattern"] == "^(1|2)$"


def test_a_405_names_every_method_the_path_supports(client: TestClient) -> None:
    response = client.put("/api/scenarios/seed-close-socket")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    both = client.delete("/play/seed-close-socket")
    assert both.status_code == 405 and "use GET" in both.text
