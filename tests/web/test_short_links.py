"""Short links (/s/<id>) and the store behind them, against real SQLite and a real PostgreSQL.

Each test runs once per database (the ``database_url`` fixture of tests/databases.py): the store is migrated when the
app starts, exactly as in production.
"""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.db import ID_CHARS, Store
from app.main import create_app
from app.scenarios import SCENARIO_DIR, load_library
from app.web.links import decode_definition
from app.web.short_links import MAX_URL_CHARS
from tests.databases import database_url, postgres_server  # noqa: F401  (fixtures)

LINK = "/play/close-during-send?v=2&s=Sender.Closer.Sender&at=2"
CHANGED = "protect-none"  # no lesson uses it, so a changed copy leaves the course loadable


def app_client(url: str, library_dir: Path | None = None) -> TestClient:
    library = load_library(library_dir) if library_dir else None
    return TestClient(create_app(library=library, database_url=url))


def test_migrations_run_at_start_up(database_url: str) -> None:  # noqa: F811
    app_client(database_url)
    engine = sa.create_engine(Store(database_url).url)
    with engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
        version = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
        built_ins = connection.scalar(sa.text("SELECT count(*) FROM scenario_versions"))
    engine.dispose()
    assert {"short_links", "scenario_versions", "alembic_version"} <= tables
    assert version == "0001"
    assert built_ins == len(load_library().scenarios)
    app_client(database_url)  # starting again finds the schema up to date


def test_the_same_content_gets_the_same_id(database_url: str) -> None:  # noqa: F811
    client = app_client(database_url)
    first = client.post("/api/short-links", json={"url": LINK})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["url"] == f"/s/{body['id']}" and len(body["id"]) == ID_CHARS
    again = client.post("/api/short-links", json={"url": f"http://testserver{LINK}&utm_source=x"})
    assert again.json() == body
    other = client.post("/api/short-links", json={"url": LINK.replace("at=2", "at=1")})
    assert other.json()["id"] != body["id"]


def test_a_short_link_opens_the_stage_at_its_step(database_url: str) -> None:  # noqa: F811
    client = app_client(database_url)
    short = client.post("/api/short-links", json={"url": LINK}).json()["url"]
    response = client.get(short, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == LINK
    assert client.get(short).status_code == 200


def test_a_custom_scenario_is_stored_by_content(database_url: str) -> None:  # noqa: F811
    client = app_client(database_url)
    run = client.post("/api/run", json={"scenario": client.get("/api/scenarios/protect-none").json()})
    link = run.json()["link"]
    short = client.post("/api/short-links", json={"url": link}).json()["url"]
    target = client.get(short, follow_redirects=False).headers["location"]
    assert target.startswith("/play/custom?v=2&def=")
    assert client.get(target).status_code == 200


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://elsewhere.example/play/close-during-send?v=2&s=", "Only this site's stage links"),
        ("/scenarios/close-during-send", "Only stage links can be shortened"),
        ("/play/close-during-send?v=2&s=Closer.Nobody", "does not replay"),
        ("/play/no-such-scenario?v=2&s=", "does not replay"),
        ("/play/close-during-send?v=2&s=Sender&at=7", "does not replay"),
        ("/play/custom?v=2&def=AAAA&s=", "does not replay"),
        ("/play/close-during-send?v=9&s=", "does not replay"),
        ("javascript:alert(1)", "Only this site's stage links"),
    ],
)
def test_links_that_are_not_stage_links_of_this_site_or_do_not_replay_are_refused(
    url: str, says: str
) -> None:
    with TestClient(create_app()) as client:
        response = client.post("/api/short-links", json={"url": url})
    assert response.status_code == 422
    assert says in response.json()["detail"]


def test_an_oversized_link_is_refused_naming_the_limit(client: TestClient) -> None:
    response = client.post("/api/short-links", json={"url": "/play/x?s=" + "a" * MAX_URL_CHARS})
    assert response.status_code == 422
    assert f"{MAX_URL_CHARS}" in response.json()["detail"]


@pytest.mark.parametrize("short_id", ["abcdefghij", "nope", "A" * 32, "%E2%98%83"])
def test_an_unknown_id_is_a_helpful_404_page(client: TestClient, short_id: str) -> None:
    response = client.get(f"/s/{short_id}")
    assert response.status_code == 404
    assert "There is no short link" in response.text
    assert "Share button" in response.text
    assert 'href="/"' in response.text and 'href="/edit"' in response.text


def changed_library(tmp_path: Path) -> Path:
    """A copy of the library in which one scenario has changed: Closer now waits one step before closing."""
    directory = tmp_path / "scenarios"
    shutil.copytree(SCENARIO_DIR, directory)
    path = directory / f"{CHANGED}.yaml"
    text = path.read_text(encoding="utf-8")
    changed = text.replace(
        "      - {op: IoAllocateIrp, irp: irpC}\n",
        "      - {op: Assign, into: spare, value: '1'}\n      - {op: IoAllocateIrp, irp: irpC}\n",
        1,
    ).replace("demo: ", "demo_was: ", 1)
    changed = "\n".join(
        line for line in changed.splitlines() if not line.startswith(("demo_was:", "bugs:", "expect:"))
    )
    path.write_text(changed + "\nexpect: safe\n", encoding="utf-8")
    assert load_library(directory).get(CHANGED) is not None
    return directory


def test_a_short_link_survives_a_changed_built_in(database_url: str, tmp_path: Path) -> None:  # noqa: F811
    before = app_client(database_url)
    original = load_library().get(CHANGED)
    assert original is not None and original.source.demo
    demo = ".".join(original.source.demo)
    link = f"/play/{CHANGED}?v=2&s={demo}&at=6"
    short = before.post("/api/short-links", json={"url": link}).json()["url"]
    shown_before = before.get(short)
    # A later release: the same database, the scenario changed (the old demo no longer replays in it).
    after = app_client(database_url, changed_library(tmp_path))
    assert after.get(link).status_code == 422
    target = after.get(short, follow_redirects=False).headers["location"]
    query = parse_qs(urlsplit(target).query)
    assert target.startswith("/play/custom?")
    assert decode_definition(query["def"][0]) == original.source.model_dump(mode="json")
    assert query["s"] == [demo] and query["at"] == ["6"]
    shown_after = after.get(target)
    assert shown_after.status_code == 200
    narration = shown_before.text.split('class="narration"')[1][:400]
    assert narration in shown_after.text  # the same step of the same run


def test_a_long_link_says_when_its_built_in_changed(database_url: str, tmp_path: Path) -> None:  # noqa: F811
    before = app_client(database_url)
    page = before.get(f"/play/{CHANGED}?v=2&s=Sender&at=1")
    share = (
        page.text.split('id="share-link" name="url" type="text" readonly value="')[1]
        .split('"')[0]
        .replace("&amp;", "&")
    )
    assert "&h=" in share
    assert "has changed since" not in before.get(share).text
    after = app_client(database_url, changed_library(tmp_path))
    shown = after.get(share)
    assert shown.status_code == 200
    assert "This scenario has changed since this link was made" in shown.text
    stored = shown.text.split('class="made-with"')[1].split('href="')[1].split('"')[0].replace("&amp;", "&")
    assert stored.startswith("/play/custom?v=2&def=")
    assert after.get(stored).status_code == 200


def test_a_long_link_whose_run_no_longer_replays_offers_the_version_it_was_made_with(
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    original = load_library().get(CHANGED)
    assert original is not None and original.source.demo
    before = app_client(database_url)
    page = before.get(f"/play/{CHANGED}?v=2&s={'.'.join(original.source.demo)}")
    share = (
        page.text.split('id="share-link" name="url" type="text" readonly value="')[1]
        .split('"')[0]
        .replace("&amp;", "&")
    )
    after = app_client(database_url, changed_library(tmp_path))
    refused = after.get(share)
    assert refused.status_code == 422
    assert "Open the version of the scenario this link was made with" in refused.text


def test_the_share_popover_makes_a_short_link(client: TestClient) -> None:
    response = client.post("/share/short", data={"url": LINK})
    assert response.status_code == 200
    assert 'id="short-url"' in response.text and "/s/" in response.text


def _migrate(url: str, ready: Any, go: Any) -> None:
    store = Store(url)
    with store.engine.connect():  # connected, so that every worker reaches the schema at the same moment
        pass
    ready.release()
    go.wait(30)
    store.migrate()


def test_workers_starting_at_once_all_find_the_schema_migrated(database_url: str) -> None:  # noqa: F811
    """Every worker of a multi-worker server migrates the same empty database as it starts: none of them fails."""
    context = multiprocessing.get_context("spawn")
    ready, go = context.Semaphore(0), context.Event()
    workers = [context.Process(target=_migrate, args=(database_url, ready, go)) for _ in range(6)]
    for worker in workers:
        worker.start()
    for _ in workers:
        assert ready.acquire(timeout=60), "a worker did not start"
    go.set()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0] * len(workers)
    engine = sa.create_engine(Store(database_url).url)
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0001"
        assert connection.scalar(sa.text("SELECT count(*) FROM alembic_version")) == 1
    engine.dispose()
