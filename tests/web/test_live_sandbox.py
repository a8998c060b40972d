"""The live sandbox over HTTP: its pages, its bounds (each a 4xx that names the limit), Find the race over the situation
built so far, and the promise that links to the old sandbox replay exactly as before."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from app.sim import sandbox
from app.sim.replay import MAX_SCHEDULE
from tests.web.helpers import worded_then

LINKS = Path(__file__).parent / "links"
SESSION = "T1-send.T2-add.T2-send.T3-add.T3-close"


def test_the_gallery_offers_the_live_sandbox(client: TestClient) -> None:
    page = client.get("/").text
    assert 'href="/play/live-none?v=2&amp;s="' in page
    assert "Sandbox: build your own situation" in page


@pytest.mark.parametrize("design", sorted(sandbox.DESIGNS))
def test_each_design_has_a_stage_that_says_it_is_in_force(client: TestClient, design: str) -> None:
    response = client.get(f"/play/live-{design}?v=2&s=")
    assert response.status_code == 200
    page = response.text
    name = sandbox.DESIGNS[design].name
    assert f"Close protection: <strong>{name}</strong>" in page
    assert 'value="T2-add"' in page and "+ Add thread T2" in page
    # What each operation does under it, and the other designs to choose.
    send = next(op for op in sandbox.OPERATIONS if op.id == "send")
    assert html.escape(send.steps(sandbox.DESIGNS[design])) in page
    for other in sandbox.DESIGNS:
        if other != design:
            assert f'href="/play/live-{other}?v=2&amp;s="' in page
    # Threads not added yet have no lane; the meter says why it does not measure a sandbox.
    assert 'id="lane-1-name">T2<' not in page
    assert "A sandbox never ends" in page


def test_a_session_is_a_link_that_replays(client: TestClient) -> None:
    page = client.get(f"/play/live-rundown?v=2&s={SESSION}").text
    assert "T3: close: wait for run-down release, WskCloseSocket" in page
    assert page == client.get(f"/play/live-rundown?v=2&s={SESSION}").text
    # Taking an operation again on a thread that is idle is an action like any other.
    pressed = client.get("/play/live-rundown?v=2&s=&then=T1-ref", follow_redirects=False)
    assert pressed.status_code == 303
    assert pressed.headers["location"] == "/play/live-rundown?v=2&s=T1-ref"


@pytest.mark.parametrize(
    ("schedule", "names"),
    [
        ("T6-add", "at most 5 threads"),
        (
            ".".join(["T1-ref"] * (sandbox.MAX_OPERATIONS + 1)),
            f"more than {sandbox.MAX_OPERATIONS} operations",
        ),
        (".".join(["T1-ref"] * (MAX_SCHEDULE + 1)), f"the limit is {MAX_SCHEDULE}"),
    ],
)
def test_every_bound_a_link_can_ask_for_is_a_4xx_that_names_it(
    client: TestClient, schedule: str, names: str
) -> None:
    response = client.get(f"/play/live-none?v=2&s={schedule}")
    assert response.status_code == 422
    assert names in response.text


def test_a_thread_at_its_bound_can_only_stop(client: TestClient) -> None:
    schedule = ".".join(["T1-ref", "T1"] * sandbox.MAX_OPERATIONS)
    page = client.get(f"/play/live-none?v=2&s={schedule}").text
    assert 'value="T1-stop"' in page and 'value="T1-ref"' not in page
    refused = client.get(f"/play/live-none?v=2&s={schedule}&then=T1-ref")
    assert refused.status_code == 422


def test_find_the_race_searches_the_situation_built_so_far(client: TestClient) -> None:
    panel = client.post("/search/live-check-zero", data={"v": "2", "s": SESSION, "at": "5"}).text
    while "hx-get=" in panel:  # still running: follow the panel's own polling address
        url = html.unescape(re.search(r'hx-get="([^"]+)"', panel).group(1))  # type: ignore[union-attr]
        panel = client.get(url).text
    assert "T1: send; T2: send; T3: close" in panel
    assert "Searched within 80,000 states and 30 s" in panel
    assert "Found" in panel and "UB-2 / P1" in panel
    links = [html.unescape(h) for h in re.findall(r'href="(/play/[^"]+)"', panel)]
    assert links and all(link.startswith("/play/live-check-zero?v=2&s=T2-add.T3-add.") for link in links)
    for link in links:
        assert client.get(link).status_code == 200


def test_find_the_race_under_run_down_finds_the_same_situation_safe(client: TestClient) -> None:
    panel = client.post("/search/live-rundown", data={"v": "2", "s": SESSION}).text
    while "hx-get=" in panel:
        url = html.unescape(re.search(r'hx-get="([^"]+)"', panel).group(1))  # type: ignore[union-attr]
        panel = client.get(url).text
    assert "Safe in every interleaving" in panel


def test_find_the_race_before_anything_was_built_says_what_to_do(client: TestClient) -> None:
    response = client.post("/search/live-none", data={"v": "2", "s": "T2-add"})
    assert response.status_code == 422
    assert "nothing to search yet" in response.text
    # The step shown bounds the situation: at step 0 nothing was built.
    assert client.post("/search/live-none", data={"s": "T1-send", "at": "0"}).status_code == 422
    assert client.post("/search/live-none", data={"s": "T7-add"}).status_code == 422
    assert client.post("/search/live-none", content=b"s=" + b"x" * 50_000).status_code == 413
    assert client.post("/search/live-none", content=b"&".join([b"a=1"] * 40)).status_code == 422


def test_links_to_the_old_sandbox_replay_exactly_as_before(client: TestClient) -> None:
    """Recorded with the engine as it was before the live sandbox (tests/web/links/sandbox-v1.json)."""
    from app.scenarios import load_library
    from app.sim import replay

    compiled = load_library().scenarios["sandbox"]
    for recorded in json.loads((LINKS / "sandbox-v1.json").read_text()):
        trace = replay(compiled, recorded["schedule"])
        assert [s.action.label for s in trace.snapshots[1:] if s.action] == recorded["labels"]
        assert [worded_then(s.narration) for s in trace.snapshots] == recorded["narration"]
        assert trace.outcome == recorded["outcome"]
        assert [[i, v.kind] for i, v in trace.violations] == recorded["violations"]
        assert [a.id for a in trace.enabled_at(len(recorded["schedule"]))] == recorded["enabled"]
        page = client.get(recorded["link"])
        assert page.status_code == 200
        assert str(escape(trace.snapshots[-1].narration)) in page.text
