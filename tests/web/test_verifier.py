"""The fix verifier: the designs' code side by side with their differences marked, a headline that names the rule
each scenario teaches, and families of one's own from the editor. Plus the scenario page's links into the stage."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from app.scenarios import load_library
from app.sim.rules import RULES
from app.web.compare import side_by_side
from app.web.editor import BLANK
from tests.web.helpers import eventually

LIBRARY = load_library()


def verdicts(client: TestClient, url: str) -> str:
    return eventually(
        lambda: client.get(url).text, lambda text: "Still being computed" not in text, timeout=120
    )


def test_the_headline_names_the_rule_the_scenario_teaches(client: TestClient) -> None:
    text = verdicts(client, "/families/close-protection/verdicts")
    row = text.split(">check zero, then close</a>")[1].split("</tr>")[0]
    assert "WskCloseSocket was called while another call was in progress" in row.split("<br>")[1]
    assert "UB-2 / P1" in row


def test_the_code_is_side_by_side_with_the_differing_lines_marked() -> None:
    family = [c for c in LIBRARY.scenarios.values() if c.source.family == "close-protection"]
    rows = {row["title"]: row for row in side_by_side(family)}
    assert rows["SendComplete"]["same"]
    sender = rows["Sender"]["columns"]
    none = next(i for i, c in enumerate(family) if c.source.id == "protect-none")
    check = next(i for i, c in enumerate(family) if c.source.id == "protect-check-zero")
    assert not any(line["differs"] for line in sender[none]["lines"])
    marked = [line["text"] for line in sender[check]["lines"] if line["differs"]]
    assert marked == ["InterlockedIncrement(&Ref);", "InterlockedDecrement(&Ref);"]


def test_the_family_page_shows_the_code(client: TestClient) -> None:
    page = client.get("/families/close-protection").text
    assert "The code, side by side" in page
    assert (
        '<span class="visually-hidden">Differs: </span><code>InterlockedIncrement(&amp;Ref);</code>' in page
    )


def test_a_family_of_ones_own_from_the_editor(client: TestClient) -> None:
    other = BLANK.replace("id: my-close", "id: my-late-close").replace(
        "      - {op: IoAllocateIrp, irp: irpC}\n",
        "      - {op: Assign, into: spare, value: '1'}\n      - {op: IoAllocateIrp, irp: irpC}\n",
    )
    location = client.post(
        "/edit/compare", data={"yaml": BLANK + "---\n" + other}, follow_redirects=False
    ).headers["location"]
    page = client.get(location)
    assert page.status_code == 200 and "Your designs, side by side" in page.text
    assert "<code>spare = 1;</code>" in page.text or 'class="differs"' in page.text
    text = verdicts(client, location.replace("/families/custom", "/families/custom/verdicts"))
    assert len(re.findall(r"&#9888; <strong>", text)) == 2


def test_a_family_link_of_ones_own_is_checked(client: TestClient) -> None:
    assert client.get("/families/custom").status_code == 422
    assert client.get("/families/custom", params={"def": ["abc", "def"]}).status_code == 422
    assert "There is no scenario family" in client.get("/families/nope").text


def test_the_scenario_page_links_into_each_step_of_its_narrated_run(client: TestClient) -> None:
    page = client.get("/scenarios/close-during-send").text
    demo = ".".join(LIBRARY.scenarios["close-during-send"].source.demo or ())
    for step in (0, 1, len(demo.split("."))):
        suffix = "" if step == len(demo.split(".")) else f"&amp;at={step}"
        assert f'href="/play/close-during-send?v=2&amp;s={demo}{suffix}">Step {step} on the stage' in page


def test_the_gallery_links_each_family_by_what_it_compares(client: TestClient) -> None:
    page = client.get("/").text
    for family in LIBRARY.families.values():
        assert f'<a class="ctl" href="/families/{family.id}">{family.compare}</a>' in page


@pytest.mark.parametrize("family", sorted(LIBRARY.families))
def test_each_family_page_asks_its_own_question_and_judges_every_design(
    client: TestClient, family: str
) -> None:
    about = LIBRARY.families[family]
    page = client.get(f"/families/{family}").text
    assert f"<h1>{escape(about.question)}</h1>" in page and escape(about.intro) in page
    text = verdicts(client, f"/families/{family}/verdicts")
    for compiled in LIBRARY.scenarios.values():
        if compiled.source.family != family:
            continue
        row = text.split(f">{escape(compiled.source.variant or '')}</a>")[1].split("</tr>")[0]
        # Each design's verdict is the one its scenario promises.
        if compiled.source.expect == "safe":
            assert "&#10003; safe in" in row, compiled.source.id
        else:
            assert RULES[compiled.source.bugs[0]].title in row, compiled.source.id


def test_a_scenario_of_ones_own_that_names_a_family_links_to_no_family(client: TestClient) -> None:
    inline = client.get("/api/scenarios/event-reuse-never-cleared").json()
    inline["family"] = "event-reuse"
    finished = client.post("/api/run", json={"scenario": inline, "continue_with": {}}).json()
    html = client.get(finished["link"]).text
    assert "The run has ended" in html and "/families/" not in html
    built_in = client.get(
        "/play/event-reuse-never-cleared?v=2&s="
        + ".".join(LIBRARY.scenarios["event-reuse-never-cleared"].source.demo or [])
    ).text
    assert 'href="/families/event-reuse"' in built_in


def test_designs_that_differ_only_in_their_memory_show_it_side_by_side() -> None:
    family = [c for c in LIBRARY.scenarios.values() if c.source.family == "event-reuse"]
    rows = side_by_side(family)
    assert rows[0]["title"] == "Shared memory, set up before the threads start"
    sync = next(i for i, c in enumerate(family) if c.source.id == "event-reuse-synchronization")
    marked = {
        i: [line["text"] for line in column["lines"] if line["differs"]]
        for i, column in enumerate(rows[0]["columns"])
    }
    assert marked[sync] == ["KeInitializeEvent(&Done, SynchronizationEvent, FALSE);"]
    assert all(not lines for i, lines in marked.items() if i != sync)
    # A global run-down block and a counter in the socket context, each set up as C does it.
    pair = side_by_side([LIBRARY.scenarios["protect-rundown"], LIBRARY.scenarios["check-zero-then-close"]])
    assert [[line["text"] for line in column["lines"]] for column in pair[0]["columns"]] == [
        ["ExInitializeRundownProtection(&Rundown);"],
        ["ctx->Ref = 0;"],
    ]
