"""The JSON API: every endpoint, and bad input answered with a clear 4xx."""

from __future__ import annotations

import copy

from fastapi.testclient import TestClient

from app.scenarios import load_library, parse_scenario
from app.sim import replay, run_on

LIBRARY = load_library()


def test_list_scenarios_gives_id_title_summary_level_expect(client: TestClient) -> None:
    body = client.get("/api/scenarios").json()
    assert [s["id"] for s in body] == list(LIBRARY.scenarios)
    assert {"id", "title", "summary", "level", "expect"} <= set(body[0])


def test_get_scenario_includes_its_demo(client: TestClient) -> None:
    buggy = next(c for c in LIBRARY.scenarios.values() if c.source.expect == "buggy")
    body = client.get(f"/api/scenarios/{buggy.source.id}").json()
    assert body["demo"] == buggy.source.demo
    assert body["threads"]


def test_unknown_scenario_is_a_404_that_lists_the_known_ones(client: TestClient) -> None:
    response = client.get("/api/scenarios/no-such-thing")
    assert response.status_code == 404
    assert "seed-close-socket" in response.json()["detail"]


def test_run_returns_steps_enabled_blocked_violations_outcome_and_link(client: TestClient) -> None:
    response = client.post("/api/run", json={"scenario": "seed-close-socket", "schedule": "App.App"})
    body = response.json()
    assert response.status_code == 200
    assert body["schedule"] == ["App", "App"]
    assert [s["index"] for s in body["steps"]] == [0, 1, 2]
    assert body["steps"][2]["events"][0]["kind"] == "irp_allocated"
    assert body["steps"][0]["state"]["irps"] == []  # the first listed step carries the whole state
    assert (
        body["steps"][2]["state"] is None and body["steps"][2]["changes"]["irps"][0]["state"] == "ALLOCATED"
    )
    assert body["enabled"][0]["id"] == "App"
    assert {"actor": "wsk", "reason": body["blocked"][-2]["reason"]} in body["blocked"]
    assert body["outcome"] == "running"
    assert body["link"] == "/play/seed-close-socket?v=2&s=App.App"


def test_run_accepts_a_list_schedule_and_continue_with(client: TestClient) -> None:
    body = client.post(
        "/api/run",
        json={
            "scenario": "seed-close-socket",
            "schedule": ["App"],
            "continue_with": {"scheduler": "round_robin"},
        },
    ).json()
    assert body["outcome"] == "ok"
    completed = [e for s in body["steps"] for e in s["events"] if e["kind"] == "irp_completed"]
    assert (
        completed
        and completed[0]["function"] == "WskCloseSocket"
        and completed[0]["status"] == "STATUS_SUCCESS"
    )
    kinds = {e["kind"] for s in body["steps"] for e in s["events"]}
    assert {"abortive_disconnect", "socket_freed"} <= kinds


def test_buggy_demo_reports_violations_with_rule_and_step(client: TestClient) -> None:
    # A demo whose rule breaks at a step (the seed's leak is found only when its run ends: no step event).
    buggy = LIBRARY.scenarios["close-during-send"]
    body = client.post("/api/run", json={"scenario": buggy.source.id, "schedule": buggy.source.demo}).json()
    assert body["outcome"] == replay(buggy, buggy.source.demo or []).outcome != "ok"
    assert {v["kind"] for v in body["violations"]} >= set(buggy.source.bugs)
    assert all(v["rule"] and v["message"] and v["step"] >= 0 for v in body["violations"])
    assert any(e["kind"] == "violation" for s in body["steps"] for e in s["events"])


def test_an_inline_scenario_runs_exactly_like_the_built_in_one(client: TestClient) -> None:
    inline = client.get("/api/scenarios/seed-close-socket").json()
    schedule = "App.App.App.App.App.App-i"
    built_in = client.post("/api/run", json={"scenario": "seed-close-socket", "schedule": schedule}).json()
    posted = client.post("/api/run", json={"scenario": inline, "schedule": schedule}).json()
    assert [s["narration"] for s in posted["steps"]] == [s["narration"] for s in built_in["steps"]]
    assert posted["outcome"] == built_in["outcome"]
    assert posted["link"].startswith("/play/custom?v=2&def=")


def test_a_posted_scenario_without_expect_demo_or_bugs_runs(client: TestClient) -> None:
    """expect, demo and bugs describe the built-in library; a scenario of one's own may leave them out."""
    inline = client.get("/api/scenarios/close-during-send").json()
    for field in ("expect", "demo", "bugs"):
        inline.pop(field)
    response = client.post("/api/run", json={"scenario": inline, "continue_with": {"max_steps": 100}})
    assert response.status_code == 200, response.text
    expected = run_on(replay(parse_scenario(inline), ()), "round_robin", 100)
    assert response.json()["outcome"] == expected.outcome != "running"
    assert response.json()["schedule"] == list(expected.schedule)
    refused = client.post("/api/run", json={"scenario": {**inline, "expect": "buggy"}})
    assert refused.status_code == 422 and "needs a 'demo' schedule" in refused.json()["detail"]


def test_an_illegal_action_is_a_422_listing_the_legal_ones(client: TestClient) -> None:
    response = client.post("/api/run", json={"scenario": "seed-close-socket", "schedule": "App.Closer"})
    assert response.status_code == 422
    assert "Action 'Closer' is not possible at step 2" in response.json()["detail"]
    assert "App (App: run IoAllocateIrp)" in response.json()["detail"]


def test_malformed_schedule_and_scenario_and_body_get_clear_422s(client: TestClient) -> None:
    bad_schedule = client.post("/api/run", json={"scenario": "seed-close-socket", "schedule": "App..App"})
    assert bad_schedule.status_code == 422 and "is not an action id" in bad_schedule.json()["detail"]
    inline = client.get("/api/scenarios/seed-close-socket").json()
    broken = copy.deepcopy(inline)
    broken["threads"][0]["program"][0] = {"op": "WskSend", "irp": "nothing"}
    response = client.post("/api/run", json={"scenario": broken})
    assert response.status_code == 422
    assert (
        "threads.0.program" not in response.json()["detail"] or "never allocated" in response.json()["detail"]
    )
    assert "IRP 'nothing' is never allocated" in response.json()["detail"]
    extra = client.post("/api/run", json={"scenario": "seed-close-socket", "speed": 3})
    assert extra.status_code == 422 and "speed: Extra inputs are not permitted" in extra.json()["detail"]
    wrong_type = client.post(
        "/api/run", json={"scenario": "seed-close-socket", "continue_with": {"max_steps": "9"}}
    )
    assert wrong_type.status_code == 422 and "max_steps" in wrong_type.json()["detail"]
    too_long = client.post("/api/run", json={"scenario": "seed-close-socket", "schedule": ["App"] * 2001})
    assert too_long.status_code == 422 and "limit is 2000" in too_long.json()["detail"]


def test_openapi_documents_the_typed_models(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/scenarios", "/api/scenarios/{scenario_id}", "/api/run"} <= set(spec["paths"])
    assert {"RunRequest", "RunResponse", "ViolationOut", "Event"} <= set(spec["components"]["schemas"])
    schema = client.get("/api/scenario-schema").json()
    assert "threads" in schema["properties"]


def test_run_with_reachability_says_at_each_step_what_can_still_break(client: TestClient) -> None:
    demo = client.get("/api/scenarios/close-during-send").json()["demo"]
    body = client.post(
        "/api/run",
        json={"scenario": "close-during-send", "schedule": demo, "states": "none", "reachability": True},
    ).json()
    assert body["reachability"] == {"exact": True, "states": body["reachability"]["states"]}
    first, last = body["steps"][0]["reachable"], body["steps"][-1]["reachable"]
    assert first["close_with_call_in_progress"] == "possible"
    assert last["close_with_call_in_progress"] == "happened"
    assert set(first) <= set(last), "a kind the scenario can break is listed at every step"
    assert all(
        set(s["reachable"].values()) <= {"happened", "unavoidable", "possible", "impossible"}
        for s in body["steps"]
    )
    plain = client.post(
        "/api/run", json={"scenario": "close-during-send", "schedule": demo, "states": "none"}
    ).json()
    assert plain["reachability"] is None and plain["steps"][0]["reachable"] is None


def test_reachability_of_a_safe_inline_scenario_lists_nothing_that_can_break(client: TestClient) -> None:
    inline = client.get("/api/scenarios/protect-rundown").json()
    inline["title"] = "My own run-down protection"
    del inline["expect"]
    body = client.post(
        "/api/run", json={"scenario": inline, "states": "none", "reachability": True, "continue_with": {}}
    ).json()
    assert body["reachability"]["exact"] is True
    assert all(step["reachable"] == {} for step in body["steps"])
