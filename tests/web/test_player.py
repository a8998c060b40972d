"""The player page over HTTP: full page versus htmx fragment, links that extend the schedule, and bad links."""

from __future__ import annotations

import re
import threading
from concurrent.futures import Future
from html import unescape

import pytest
from fastapi.testclient import TestClient

from app.scenarios import load_library
from tests.web.helpers import action, button, controls, press

LIBRARY = load_library()


class Instant:
    """A pool that runs a meter's search at once, in the caller's thread, so a test sees it finished."""

    def submit(self, fn: object, *args: object) -> Future[object]:
        done: Future[object] = Future()
        done.set_result(fn(*args))  # type: ignore[operator]
        return done


DEMO = LIBRARY.scenarios["close-during-send"].source.demo or []


def test_normal_request_gets_the_full_page_and_htmx_gets_only_the_player(client: TestClient) -> None:
    full = client.get("/play/seed-close-socket?v=2&s=App")
    assert full.status_code == 200 and full.text.lstrip().startswith("<!doctype html>")
    assert 'id="player"' in full.text and 'class="stage-bar"' in full.text
    fragment = client.get("/play/seed-close-socket?v=2&s=App", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="player"') and "<html" not in fragment.text
    assert full.headers["vary"] == fragment.headers["vary"]
    assert "HX-Request" in full.headers["vary"] and "HX-History-Restore-Request" in full.headers["vary"]
    restore = client.get(
        "/play/seed-close-socket?v=2&s=App",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert restore.text.lstrip().startswith("<!doctype html>")


def test_an_action_extends_the_schedule_by_one_action(client: TestClient) -> None:
    html = client.get("/play/seed-close-socket?v=2&s=App.App").text
    assert [
        b["value"] for b in controls(html).buttons if b.get("name") == "then" and b["value"][0] != "@"
    ] == ["App"]
    assert press(client, html, action("App")) == "/play/seed-close-socket?v=2&s=App.App.App"
    assert "App: test !Irp" in html


def test_the_seed_offers_a_failed_allocation_at_its_allocation_step(client: TestClient) -> None:
    """The documentation's 'if (!Irp)' is live: at IoAllocateIrp the stage offers its failure as an action."""
    html = client.get("/play/seed-close-socket?v=2&s=App").text
    assert [
        b["value"] for b in controls(html).buttons if b.get("name") == "then" and b["value"][0] != "@"
    ] == ["App", "App-nomem"]
    assert "IoAllocateIrp fails and returns NULL" in html
    failed = press(client, html, action("App-nomem"))
    assert failed == "/play/seed-close-socket?v=2&s=App.App-nomem"
    ended = client.get(failed.replace("App-nomem", "App-nomem.App")).text
    assert "returning STATUS_INSUFFICIENT_RESOURCES" in ended
    assert (
        "Something was still open when the run ended" in ended and "socket Socket was never closed" in ended
    )


def test_going_back_then_taking_another_action_starts_a_new_branch(client: TestClient) -> None:
    schedule = ".".join(DEMO)
    html = client.get(f"/play/close-during-send?v=2&s={schedule}&at=3").text
    assert press(client, html, action(DEMO[3])) == f"/play/close-during-send?v=2&s={schedule}&at=4", (
        "the action the schedule takes next keeps the rest of the schedule"
    )
    others = [b["value"] for b in controls(html).buttons if b.get("name") == "then" and b["value"] != DEMO[3]]
    others = [o for o in others if not o.startswith("@")]
    assert others
    for other in others:
        assert press(client, html, action(other)) == "/play/close-during-send?v=2&s=" + ".".join(
            [*DEMO[:3], other]
        )
    assert f"new branch: drops {len(DEMO) - 3} later steps" in html


def test_the_step_controls_lead_to_neighbouring_steps(client: TestClient) -> None:
    schedule = ".".join(DEMO)
    html = client.get(f"/play/close-during-send?v=2&s={schedule}&at=2").text
    here = f"/play/close-during-send?v=2&s={schedule}"
    assert press(client, html, button("ctl-first")) == here + "&at=0"
    assert press(client, html, button("ctl-back")) == here + "&at=1"
    assert press(client, html, button("ctl-forward")) == here + "&at=3"
    assert press(client, html, button("ctl-last")) == here


def test_forward_at_the_end_of_a_run_takes_the_round_robin_choice(client: TestClient) -> None:
    html = client.get("/play/seed-close-socket?v=2&s=App").text
    assert press(client, html, button("ctl-forward")) == "/play/seed-close-socket?v=2&s=App.App"
    assert press(client, html, button("next-random")) == "/play/seed-close-socket?v=2&s=App.App"


def test_the_schedule_appears_at_most_three_times_in_a_step(client: TestClient) -> None:
    schedule = ".".join(DEMO)
    html = client.get(f"/play/close-during-send?v=2&s={schedule}&at=7", headers={"HX-Request": "true"}).text
    assert 1 <= html.count(schedule) <= 3, (
        "the form, the share link and the export form hold it; nothing else"
    )


def test_an_htmx_press_answers_the_step_under_its_canonical_link(client: TestClient) -> None:
    schedule = ".".join(DEMO)
    pressed = client.get(
        f"/play/close-during-send?v=2&s={schedule}&at=2&to=5", headers={"HX-Request": "true"}
    )
    assert pressed.status_code == 200
    assert pressed.headers["hx-push-url"] == f"/play/close-during-send?v=2&s={schedule}&at=5"
    direct = client.get(f"/play/close-during-send?v=2&s={schedule}&at=5", headers={"HX-Request": "true"})
    assert pressed.text == direct.text and pressed.headers["etag"] == direct.headers["etag"]


def test_a_press_that_cannot_happen_is_refused_with_what_can(client: TestClient) -> None:
    response = client.get("/play/seed-close-socket?v=2&s=App&then=Nobody")
    assert response.status_code == 422
    assert "&#39;Nobody&#39; cannot happen at step 1" in response.text and "App" in response.text
    done = client.get("/play/seed-close-socket?v=2&s=App.App.App.App.wsk-c1.cr1.cr1.cr1&then=@round-robin")
    assert done.status_code in (303, 422)


def test_the_violation_banner_names_the_rule_and_links_the_documentation(client: TestClient) -> None:
    html = client.get(f"/play/close-during-send?v=2&s={'.'.join(DEMO)}").text
    assert 'class="banner"' in html and re.search(r"Rule <a class=\"term\"[^>]*>UB-2 / P1</a> broken", html)
    assert "https://learn.microsoft.com/windows-hardware/drivers/network/closing-a-socket" in html
    before = client.get(f"/play/close-during-send?v=2&s={'.'.join(DEMO)}&at=1").text
    assert 'class="banner"' not in before, "no banner before the rule is broken"


def test_title_and_open_graph_name_the_scenario_and_step(client: TestClient) -> None:
    html = client.get("/play/seed-close-socket?v=2&s=App.App&at=1").text
    assert "<title>Closing a socket, as the documentation shows it: step 1 of 2" in html
    assert (
        '<meta property="og:description" content="Closing a socket, as the documentation shows it, step 1 of 2'
        in html
    )


def test_bad_links_get_a_clear_error_page(client: TestClient) -> None:
    cases = {
        "/play/no-such?v=2&s=": (404, "There is no scenario"),
        "/play/seed-close-socket?v=3&s=": (400, "version 3"),
        "/play/seed-close-socket?v=x&s=": (400, "reads versions 1, 2 and writes version 2"),
        "/play/seed-close-socket?v=2&s=App.Nobody": (
            422,
            "Action &#39;Nobody&#39; is not possible at step 2",
        ),
        "/play/seed-close-socket?v=2&s=App..App": (422, "is not an action id"),
        "/play/seed-close-socket?v=2&s=App&at=5": (422, "use a number from 0 to 1"),
        "/play/seed-close-socket?v=2&s=App&at=-1": (422, "is not a step"),
        "/play/custom?v=2&s=": (400, "needs its scenario in the &#39;def&#39; parameter"),
        "/play/custom?v=2&def=not-base64!!&s=": (422, "damaged"),
    }
    for url, (status, text) in cases.items():
        response = client.get(url)
        assert response.status_code == status, url
        assert text in response.text, url
        assert "<html" in response.text


def test_a_custom_scenario_travels_in_its_link(client: TestClient) -> None:
    inline = client.get("/api/scenarios/seed-close-socket").json()
    inline["title"] = "My own close"
    link = client.post("/api/run", json={"scenario": inline, "schedule": "App"}).json()["link"]
    html = client.get(link).text
    assert "My own close" in html and 'Step <strong class="at">1</strong>&thinsp;/&thinsp;1' in html


def test_a_custom_scenario_without_expect_shows_no_safe_or_buggy_badge(client: TestClient) -> None:
    inline = client.get("/api/scenarios/close-with-pending-receive").json()
    assert 'class="badge safe"' in client.get("/play/close-with-pending-receive?v=2&s=Worker").text
    del inline["expect"]
    link = client.post("/api/run", json={"scenario": inline, "schedule": "Worker"}).json()["link"]
    html = client.get(link).text
    assert 'Step <strong class="at">1</strong>&thinsp;/&thinsp;1' in html
    assert 'class="badge' not in html


def test_embed_may_be_framed_and_the_player_may_not(client: TestClient) -> None:
    embed = client.get("/embed/seed-close-socket?v=2&s=App")
    assert (
        "frame-ancestors *" in embed.headers["content-security-policy"]
        and "x-frame-options" not in embed.headers
    )
    assert "<footer" not in embed.text and 'id="player"' in embed.text
    play = client.get("/play/seed-close-socket?v=2&s=App")
    assert play.headers["x-frame-options"] == "DENY"


def test_export_gives_the_trace_as_json(client: TestClient) -> None:
    response = client.get("/export/seed-close-socket?v=2&s=App.App")
    assert response.headers["content-disposition"].startswith("attachment;")
    body = response.json()
    assert body["schedule"] == ["App", "App"] and len(body["steps"]) == 3


def test_sandbox_menus_are_offered_as_actions(client: TestClient) -> None:
    html = client.get("/play/sandbox?v=2&s=").text
    sandbox = LIBRARY.scenarios["sandbox"].source
    for thread in sandbox.threads:
        for op in thread.menu or []:
            assert f"{thread.name}: {op.label}" in unescape(html)


def test_domain_words_and_rule_ids_explain_themselves_and_link_the_glossary(client: TestClient) -> None:
    html = client.get(f"/play/close-during-send?v=2&s={'.'.join(DEMO)}").text
    for anchor in ("term-passive-level", "term-wsk-subsystem", "term-peer", "term-irp"):
        assert f'href="/glossary#{anchor}"' in html, anchor
    assert 'data-tip="WskCloseSocket was called while another call was in progress.' in html
    glossary = client.get("/glossary").text
    assert 'id="term-status-more-processing-required"' in glossary and 'id="term-ub-2-p1"' in glossary


def test_idle_actors_say_why_as_information_not_as_a_warning(client: TestClient) -> None:
    html = client.get("/play/seed-close-socket?v=2&s=").text
    wsk = html.split("WSK subsystem", 1)[1].split("</article>", 1)[0]
    assert 'class="note"' in wsk and 'class="why"' not in wsk


def test_the_end_of_a_run_says_how_it_ended_and_what_to_do_next(client: TestClient) -> None:
    broken = client.get(f"/play/close-during-send?v=2&s={'.'.join(DEMO)}").text
    assert "The run has ended: violation" in broken and "first at step 6" in broken
    before = press(client, broken, lambda b: "before the first broken rule" in b["text"])
    assert before == f"/play/close-during-send?v=2&s={'.'.join(DEMO)}&at=5"
    assert "Compare this design with the others of its family" not in broken  # not a member of a family
    ok = client.post(
        "/api/run", json={"scenario": "protect-rundown", "continue_with": {}, "states": "none"}
    ).json()
    page = client.get(ok["link"]).text
    assert "The run has ended: ok" in page and "/families/close-protection" in page
    middle = client.get(f"/play/close-during-send?v=2&s={'.'.join(DEMO)}&at=3").text
    assert "The run has ended" not in middle


def test_a_step_lists_the_enabled_actions_at_most_once_and_steps_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Views stop recomputing: once the run's trace is cached, rendering any of its steps lists the enabled
    actions of that step at most once (the trace recorded the others), and takes no step."""
    from app.sim.engine import Engine

    schedule = ".".join(DEMO)
    client.get(f"/play/close-during-send?v=2&s={schedule}")  # the trace, replayed once and cached
    # The meter's search, which runs in the background and steps every state, is done before counting begins.
    client.app.state.meters.wait(LIBRARY.scenarios["close-during-send"], timeout=60)  # type: ignore[attr-defined]
    counts = {"moves": 0, "steps": 0}
    listed, stepped = Engine._moves, Engine.step

    def ours() -> bool:  # not the meters' background searches (of any app in this process)
        return not threading.current_thread().name.startswith("meter")

    def counting_moves(self: Engine, state: object) -> object:
        counts["moves"] += ours()
        return listed(self, state)  # type: ignore[arg-type]

    def counting_step(self: Engine, state: object, action_id: str) -> object:
        counts["steps"] += ours()
        return stepped(self, state, action_id)  # type: ignore[arg-type]

    monkeypatch.setattr(Engine, "_moves", counting_moves)
    monkeypatch.setattr(Engine, "step", counting_step)
    for at in (0, 3, 6, len(DEMO)):
        counts.update(moves=0, steps=0)
        response = client.get(f"/play/close-during-send?v=2&s={schedule}&at={at}&fresh={at}")
        assert response.status_code == 200
        assert counts["moves"] <= 1 and counts["steps"] == 0, (at, counts)


def test_the_meter_shows_once_its_search_is_done_and_a_cached_placeholder_is_not_kept() -> None:
    """The first visit starts the scenario's search and shows a placeholder that asks /meter/... again; once the
    search is done, the same step renders with the meter, under another ETag (the cache keys on readiness)."""
    from app.main import create_app
    from tests.web.helpers import eventually

    fresh = TestClient(create_app())
    url = f"/play/close-during-send?v=2&s={'.'.join(DEMO)}&at=7"
    first = fresh.get(url, headers={"HX-Request": "true"})
    assert 'class="meter pending"' in first.text and 'hx-get="/meter/close-during-send"' in first.text
    assert 'hx-include="#nav"' in first.text
    meter_url = f"/meter/close-during-send?v=2&s={'.'.join(DEMO)}&at=7"
    ready = eventually(lambda: fresh.get(meter_url).text, lambda text: 'class="meter pending"' not in text)
    assert "now unavoidable" in ready and fresh.get(meter_url).headers["cache-control"] == "no-store"
    again = fresh.get(url, headers={"HX-Request": "true"})
    assert 'class="meter pending"' not in again.text and "Can it still break?" in again.text
    assert again.headers["etag"] != first.headers["etag"]


def test_a_safe_scenarios_meter_says_nothing_can_break(client: TestClient) -> None:
    from tests.web.helpers import eventually

    eventually(
        lambda: client.get("/meter/protect-rundown?v=2&s=").text,
        lambda text: 'class="meter pending"' not in text,
    )
    html = client.get("/play/protect-rundown?v=2&s=").text
    assert "No rule can break in any interleaving of this scenario." in html


def test_a_meter_whose_search_ends_at_once_does_not_hang_the_server() -> None:
    """A search can finish before its completion callback is attached; the callback then runs in the caller's
    thread, and must not wait for a lock the caller holds."""
    from app.web.meter import Meters

    meters = Meters()

    meters._pool = Instant()  # type: ignore[assignment]
    compiled = LIBRARY.scenarios["seed-close-socket"]
    assert meters.ready(compiled) is None  # started, and (here) already finished
    assert meters.ready(compiled) is not None


def test_a_built_in_scenarios_meter_is_never_evicted_by_others() -> None:
    """Meters of built-in scenarios are pinned: a visitor to every scenario of the gallery must not evict them and
    have them searched again; only custom scenarios' meters are kept least recently used first out."""
    from app.web.meter import Meters

    pinned = LIBRARY.scenarios["close-during-send"]
    meters = Meters(kept=1, pinned=frozenset({pinned.fingerprint}))

    meters._pool = Instant()  # type: ignore[assignment]
    others = [
        LIBRARY.scenarios[i] for i in ("seed-close-socket", "close-from-callback", "context-freed-early")
    ]
    for compiled in (pinned, *others):
        meters.ready(compiled)
    assert meters.known(pinned, None)
    assert [meters.known(c, None) for c in others] == [False, False, True]
