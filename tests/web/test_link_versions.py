"""Links are a promise: links written before link version 2 keep their meaning.

tests/web/links/seed-v1.json holds v=1 seed links recorded with the server as it was before the seed gained the
documentation's 'if (!Irp)' check as a step of its own (tests/web/links/seed-close-socket-v1.yaml is that seed). On
today's server each opens to the same run, step for step, with the one check step inserted after the allocation,
and says so; every other scenario's v=1 links mean what they always meant.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from app.main import create_app
from app.scenarios import load_library, parse_scenario
from app.sim import CompiledScenario, Trace, replay
from app.web import link_versions
from app.web.links import LINK_VERSION, encode_definition
from app.web.versions import content_hash
from tests.databases import database_url, postgres_server  # noqa: F401  (fixtures)
from tests.web.helpers import button, press, worded_then

LINKS = Path(__file__).parent / "links"
RECORDED: list[dict[str, Any]] = json.loads((LINKS / "seed-v1.json").read_text())
LIBRARY = load_library()
SEED = LIBRARY.scenarios["seed-close-socket"]
SEED_V1 = parse_scenario(yaml.safe_load((LINKS / "seed-close-socket-v1.yaml").read_text()))
ALLOCATED = 2  # the step at which the seed's IoAllocateIrp has run: the check is the step after it
CHECK = {"label": "App: test !Irp", "narration": "App finds '!Irp' false and carries on."}
UPGRADE_SAYS = "was made before this scenario ran the documentation&#39;s &#39;if (!Irp)&#39; check"
CHANGED_SAYS = "This scenario has changed since this link was made"


def _one(pattern: str, text: str) -> str | None:
    found = re.search(pattern, text, re.S)
    return html.unescape(found.group(1)).strip() if found else None


def _shown(text: str) -> dict[str, Any]:
    """What a stage shows at its step, read the way the fixture was recorded."""
    return {
        "took": _one(r'<p class="took">(.*?)</p>', text),
        "narration": _one(r'<p id="narration"[^>]*>(.*?)</p>', text),
        "current_lines": [
            html.unescape(line)
            for line in re.findall(r'<li class="current[^"]*" aria-current="step"><code>(.*?)</code>', text)
        ],
        "share": _one(r'id="share-link"[^>]*value="([^"]*)"', text),
        "made_with": _one(r'<p class="made-with"[^>]*>(.*?)</p>', text),
    }


def _mapped(step: int) -> int:
    """Where step ``step`` of a v=1 seed run is in its v=2 run."""
    return step + 1 if step > ALLOCATED else step


def _goes_past_the_allocation(schedule: list[str]) -> bool:
    return len(schedule) > ALLOCATED


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def test_the_recorded_links_were_made_with_the_seed_kept_beside_them() -> None:
    assert SEED_V1.fingerprint.startswith(link_versions.CHANGES[1]["seed-close-socket"].fingerprint)
    assert all(f"&h={content_hash(SEED_V1)}" in r["page"]["share"] for r in RECORDED)
    for recorded in RECORDED:
        trace = replay(SEED_V1, recorded["schedule"])
        assert [worded_then(s.narration) for s in trace.snapshots] == recorded["narration"]


@pytest.mark.parametrize("recorded", RECORDED, ids=[r["link"][:90] for r in RECORDED])
def test_a_recorded_v1_seed_link_opens_to_the_same_run_with_the_check_step(
    client: TestClient, recorded: dict[str, Any]
) -> None:
    page = client.get(recorded["link"])
    assert page.status_code == 200, page.text[:500]
    shown, then = _shown(page.text), recorded["page"]
    upgraded = _goes_past_the_allocation(recorded["schedule"])
    # The same step of the same run: the action just taken and its narration.
    assert (shown["took"], worded_then(shown["narration"])) == (then["took"], then["narration"])
    if recorded["at"] == ALLOCATED:
        assert shown["current_lines"] == ["if (!Irp) return STATUS_INSUFFICIENT_RESOURCES;"]
    else:
        assert shown["current_lines"] == then["current_lines"]
    # Its share link is today's: v=2, the schedule with the check, the step moved, today's content hash.
    query = parse_qs(urlsplit(shown["share"]).query, keep_blank_values=True)
    schedule = list(recorded["schedule"])
    if upgraded:
        schedule.insert(ALLOCATED, "App")
    assert query["v"] == [str(LINK_VERSION)] and query["h"] == [content_hash(SEED)]
    assert query["s"] == [".".join(schedule)]
    assert query.get("at", [str(len(schedule))]) == [str(_mapped(recorded["at"]))]
    # The stage says what was added when something was; never that the run may differ.
    assert (UPGRADE_SAYS in page.text) == (upgraded and "/embed/" not in recorded["link"])
    assert CHANGED_SAYS not in page.text
    # The whole run, step for step: the recorded labels and narration with the check inserted.
    trace = replay(SEED, schedule)
    labels, narration = list(recorded["labels"]), list(recorded["narration"])
    if upgraded:
        labels.insert(ALLOCATED, CHECK["label"])
        narration.insert(ALLOCATED + 1, CHECK["narration"])
    assert [s.action.label for s in trace.snapshots[1:] if s.action] == labels
    assert [worded_then(s.narration) for s in trace.snapshots] == narration
    assert trace.outcome == recorded["outcome"]
    assert [[_mapped(i), kind] for i, kind in recorded["violations"]] == [
        [i, v.kind] for i, v in trace.violations
    ]


def test_a_v1_seed_link_that_stops_at_the_allocation_is_the_same_link(client: TestClient) -> None:
    for schedule in ("", "App", "App.App"):
        assert link_versions.upgrade("1", "seed-close-socket", schedule, None) is None
        page = client.get(f"/play/seed-close-socket?v=1&s={schedule}&h={content_hash(SEED_V1)}").text
        assert UPGRADE_SAYS not in page and CHANGED_SAYS not in page


def test_a_v1_seed_link_with_an_even_older_hash_says_both(client: TestClient) -> None:
    page = client.get("/play/seed-close-socket?v=1&s=App.App.App&h=00000000").text
    assert UPGRADE_SAYS in page and CHANGED_SAYS in page


def test_embed_and_export_read_a_v1_seed_link_too(client: TestClient) -> None:
    lesson = "App.App.App.App.App-p.wsk-free-Socket.App.wsk-c1.cr1.cr1.cr1.cr1.cr1"
    embed = client.get(f"/embed/seed-close-socket?v=1&s={lesson}&at=3")
    assert embed.status_code == 200
    assert _shown(embed.text)["took"] == "App: run IoSetCompletionRoutine"
    exported = client.get(f"/export/seed-close-socket?v=1&s={lesson}&at=3&format=json").json()
    assert exported["schedule"] == ["App", "App", "App", *lesson.split(".")[2:]]
    assert exported["link"].startswith(
        f"/play/seed-close-socket?v={LINK_VERSION}&s=App.App.App.App.App.App-p."
    )


def test_a_button_of_a_page_rendered_before_the_change_moves_its_step_too(client: TestClient) -> None:
    """A page opened before the upgrade still sends v=1 and an old step number from its form."""
    lesson = "App.App.App.App.App-p.wsk-free-Socket.App.wsk-c1.cr1.cr1.cr1.cr1.cr1"
    pressed = client.get(f"/play/seed-close-socket?v=1&s={lesson}&at=3&to=4", follow_redirects=False)
    assert pressed.status_code == 303
    assert pressed.headers["location"] == (
        f"/play/seed-close-socket?v={LINK_VERSION}&s=App.App.App.App.App.App-p.wsk-free-Socket.App.wsk-c1.cr1.cr1"
        ".cr1.cr1.cr1&at=5"
    )
    # And the new page's own buttons say v=2, so a press is not moved again.
    page = client.get(pressed.headers["location"]).text
    assert press(client, page, button("ctl-forward")).endswith("&at=6")


def _walks(scenario: CompiledScenario) -> st.SearchStrategy[tuple[Trace, int]]:
    """A random run of ``scenario`` (each step one of the actions enabled there) and a step of it."""

    @st.composite
    def walk(draw: st.DrawFn) -> tuple[Trace, int]:
        schedule: list[str] = []
        for _ in range(draw(st.integers(0, 20))):
            enabled = replay(scenario, schedule).enabled
            if not enabled:
                break
            schedule.append(draw(st.sampled_from([a.id for a in enabled])))
        trace = replay(scenario, schedule)
        return trace, draw(st.integers(0, len(schedule)))

    return walk()


@settings(max_examples=60)
@given(_walks(SEED_V1))
def test_an_upgraded_v1_seed_link_reaches_the_same_socket_and_irps_at_every_step(
    drawn: tuple[Trace, int],
) -> None:
    old, at = drawn
    upgraded = link_versions.upgrade("1", "seed-close-socket", ".".join(old.schedule), str(at))
    if upgraded is None:
        new_schedule, new_at = old.schedule, at
        assert len(old.schedule) <= ALLOCATED
    else:
        new_schedule, new_at = tuple(upgraded.s.split(".")), int(upgraded.at or 0)
        assert len(new_schedule) == len(old.schedule) + 1 and new_at == _mapped(at)
    new = replay(SEED, new_schedule)
    assert new.outcome == old.outcome
    for step, snapshot in enumerate(old.snapshots):
        mapped = new.snapshots[_mapped(step)].state
        assert mapped.sockets == snapshot.state.sockets, step
        assert mapped.irps == snapshot.state.irps, step
    if upgraded is not None:  # the inserted step only tests the IRP: it changes neither
        before, check = new.snapshots[ALLOCATED].state, new.snapshots[ALLOCATED + 1].state
        assert (before.sockets, before.irps) == (check.sockets, check.irps)


OTHERS = sorted(i for i in LIBRARY.scenarios if i != "seed-close-socket" and not i.startswith("live-"))


@pytest.mark.parametrize("scenario_id", OTHERS)
def test_a_v1_link_of_any_other_scenario_replays_unchanged(client: TestClient, scenario_id: str) -> None:
    compiled = LIBRARY.scenarios[scenario_id]
    schedule = ".".join(compiled.source.demo or replay(compiled, "").enabled[0].id.split())
    at = min(2, len(schedule.split(".")))
    assert link_versions.upgrade("1", scenario_id, schedule, str(at)) is None
    old = client.get(f"/play/{scenario_id}?v=1&s={schedule}&at={at}&h={content_hash(compiled)}")
    new = client.get(f"/play/{scenario_id}?v=2&s={schedule}&at={at}")
    assert old.status_code == new.status_code == 200
    assert _shown(old.text) == _shown(new.text)
    assert UPGRADE_SAYS not in old.text


def test_a_v1_custom_link_replays_unchanged_even_with_the_old_seed_inside(client: TestClient) -> None:
    definition = encode_definition(SEED_V1.source.model_dump(mode="json"))
    schedule = "App.App.App.App.App-i"
    old = client.get(f"/export/custom?v=1&def={definition}&s={schedule}&format=json").json()
    new = client.get(f"/export/custom?v=2&def={definition}&s={schedule}&format=json").json()
    assert old == new and old["schedule"] == schedule.split(".")


def test_a_short_link_stored_before_the_change_opens_the_upgraded_run(database_url: str) -> None:  # noqa: F811
    client = TestClient(create_app(database_url=database_url))
    recorded = next(r for r in RECORDED if r["at"] == 8)
    store = client.app.state.store  # type: ignore[attr-defined]
    short_id = store.save(SEED_V1, "seed-close-socket", tuple(recorded["schedule"]), recorded["at"])
    target = client.get(f"/s/{short_id}", follow_redirects=False).headers["location"]
    assert target == recorded["link"]  # the link as it was written then: the stage reads it as today's
    page = client.get(target).text
    assert worded_then(_shown(page)["narration"]) == recorded["page"]["narration"] and UPGRADE_SAYS in page
    # Shortening an old link stores today's run of today's seed.
    made = client.post(
        "/api/short-links", json={"url": f"{recorded['link']}&h={content_hash(SEED_V1)}"}
    ).json()
    opened = client.get(made["url"], follow_redirects=False).headers["location"]
    assert opened.startswith(f"/play/seed-close-socket?v={LINK_VERSION}&s=App.App.App.App.App.App-p.")
    assert opened.endswith("&at=9")


def test_a_class_stored_with_a_v1_seed_link_replays_at_the_same_step(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    recorded = next(r for r in RECORDED if r["at"] == 5)
    room = client.post("/api/rooms", json={"url": recorded["link"]})
    assert room.status_code == 201, room.text
    state = client.get(f"/api/rooms/{room.json()['code']}").json()
    assert state["url"].startswith(f"/play/seed-close-socket?v={LINK_VERSION}&") and state["url"].endswith(
        "at=6"
    )
    assert state["label"].endswith("step 6 of 14")


def test_unknown_versions_are_refused_with_the_versions_read(client: TestClient) -> None:
    for v in ("3", "x", "0", "12345678"):
        response = client.get(f"/play/close-during-send?v={v}&s=")
        assert response.status_code == 400
        assert "reads versions 1, 2 and writes version 2" in response.text


def test_no_challenge_plays_a_scenario_whose_links_changed_meaning(client: TestClient) -> None:
    """A progress file keeps a win's schedule without a link version: that is sound while no challenge's scenario
    has an upgrade rule (else the file would need a version per win)."""
    changed = {scenario for changes in link_versions.CHANGES.values() for scenario in changes}
    challenges = client.app.state.challenges.challenges.values()  # type: ignore[attr-defined]
    assert not {c.source.scenario for c in challenges} & changed


def test_progress_js_writes_the_current_link_version() -> None:
    script = (Path(__file__).parents[2] / "static" / "js" / "progress.js").read_text()
    assert f"var LINK_VERSION = {LINK_VERSION};" in script
    assert "won?v=1" not in script


def test_a_v1_completion_link_still_wins(client: TestClient) -> None:
    challenges = client.app.state.challenges.challenges.values()  # type: ignore[attr-defined]
    challenge = next(c for c in challenges if c.kind == "break")
    witness = ".".join(challenge.witness)
    for v in ("1", "2"):
        page = client.get(f"/challenges/{challenge.source.id}/won?v={v}&s={witness}")
        assert page.status_code == 200, page.text[:300]


# -- lesson links: /learn/<lesson>?at=N carried no v before version 2 ------------------------------------------------

LESSON_ON_SEED = (
    "irp-and-completion-routine"  # lesson 1 runs on the seed: its steps after the allocation moved
)


def lesson_step_shown(client: TestClient, url: str) -> tuple[str, str]:
    """The step a lesson page shows, and its author's why."""
    page = client.get(url).text
    at = re.search(r'id="player"[^>]*data-at="(\d+)"', page, re.S)
    why = re.search(r'class="why-it-matters"><strong>Why it matters.</strong>(.*?)</p>', page, re.S)
    assert at is not None, url
    return at[1], why[1].strip() if why else ""


@pytest.mark.parametrize(("old", "today"), [(0, 0), (2, 2), (3, 4), (4, 5), (8, 9), (13, 14)])
def test_an_old_lesson_link_opens_the_step_it_named(client: TestClient, old: int, today: int) -> None:
    """Lesson 1 gained the check as its step 3: a link made before (no v) names the step its lesson had then,
    which is today's step one further on after the allocation; the author's why moved with it."""
    shown = lesson_step_shown(client, f"/learn/{LESSON_ON_SEED}?at={old}")
    assert shown == lesson_step_shown(client, f"/learn/{LESSON_ON_SEED}?v={LINK_VERSION}&at={today}")
    assert shown[0] == str(today) and shown[1], "every one of these steps has its author's why"


def test_a_lesson_on_an_unchanged_scenario_means_the_same_step_in_every_version(client: TestClient) -> None:
    for old in ("", "v=1&"):
        assert lesson_step_shown(client, f"/learn/why-close-races?{old}at=5") == lesson_step_shown(
            client, f"/learn/why-close-races?v={LINK_VERSION}&at=5"
        )


def test_lesson_links_the_server_writes_carry_the_link_version(client: TestClient) -> None:
    moved = client.get(f"/learn/{LESSON_ON_SEED}?at=3&to=3", follow_redirects=False)  # an old page's button
    assert moved.headers["location"] == f"/learn/{LESSON_ON_SEED}?v={LINK_VERSION}&at=4"
    pushed = client.get(f"/learn/{LESSON_ON_SEED}?v={LINK_VERSION}&to=6", headers={"HX-Request": "true"})
    assert pushed.headers["HX-Push-Url"] == f"/learn/{LESSON_ON_SEED}?v={LINK_VERSION}&at=6"
    assert client.get(f"/learn/{LESSON_ON_SEED}?v=9&at=3").status_code == 400


def test_a_class_opened_on_an_old_lesson_link_follows_the_step_it_named(client: TestClient) -> None:
    opened = client.post("/api/rooms", json={"url": f"/learn/{LESSON_ON_SEED}?at=3"})
    assert opened.status_code == 201, opened.text
    state = client.get(f"/api/rooms/{opened.json()['code']}").json()
    assert state["url"] == f"/learn/{LESSON_ON_SEED}?v={LINK_VERSION}&at=4"
