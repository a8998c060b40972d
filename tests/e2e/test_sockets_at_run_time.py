"""Issue 8's new situations, as a newcomer meets them on the stage: a socket that a listening socket accepts appears
at run time (NOT_ACCEPTED, then OPEN and CONNECTED), a pending connect is shown as CONNECTING with the peer idle for
want of a connection, and a failed IoAllocateIrp is its own action button."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from app.scenarios import load_library
from app.sim import replay, run_on
from app.web.links import play_link

LIBRARY = load_library()


def test_an_accepted_socket_appears_on_the_stage_once_the_accept_callback_takes_it(
    page: Page, live_server: str
) -> None:
    compiled = LIBRARY.scenarios["close-listening-then-accepted"]
    run = run_on(replay(compiled, ()), "round_robin", 60).schedule
    accepted_at = next(i for i, a in enumerate(run, 1) if a == "cb1" and run[:i].count("cb1") == 2)
    page.goto(live_server + play_link(compiled.source.id, run, at=0))
    card = page.get_by_role("article", name="Socket c")
    expect(card.get_by_role("heading")).to_contain_text("NOT_ACCEPTED")
    expect(card).to_contain_text("NO_CONNECTION")
    page.goto(live_server + play_link(compiled.source.id, run, at=accepted_at))
    expect(card.get_by_role("heading")).to_contain_text("OPEN")
    expect(card).to_contain_text("CONNECTED")
    expect(page.get_by_role("status").first).to_contain_text("socket c is the application's now")


def test_a_pending_connect_shows_connecting_and_a_peer_that_waits_for_the_connection(
    page: Page, live_server: str
) -> None:
    page.goto(live_server + "/play/close-during-connect?v=2&s=Worker.Worker.Worker.Worker-p")
    expect(page.get_by_role("article", name="Socket s")).to_contain_text("CONNECTING")
    peer = page.get_by_role("article", name="Remote peer")
    expect(peer).to_contain_text("socket s is still connecting: there is no connection yet")
    expect(peer).not_to_contain_text("closed or reset")


def test_a_failed_allocation_is_an_action_a_learner_can_choose(page: Page, live_server: str) -> None:
    page.goto(live_server + "/play/close-allocation-fails?v=2&s=App")
    page.get_by_role("button", name=re.compile("IoAllocateIrp fails and returns NULL")).click()
    expect(page).to_have_url(re.compile(r"s=App\.App-nomem"))
    expect(page.get_by_role("status").first).to_contain_text("IoAllocateIrp returns NULL to App")
