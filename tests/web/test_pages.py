"""The gallery, the scenario pages and error pages, with their security headers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.scenarios import load_library

LIBRARY = load_library()


def test_gallery_lists_every_scenario_grouped_by_level(client: TestClient) -> None:
    html = client.get("/").text
    for compiled in LIBRARY.scenarios.values():
        assert f'href="/play/{compiled.source.id}?v=2&amp;s="' in html
        assert f'href="/scenarios/{compiled.source.id}"' in html
    assert "Level 1: Closing basics" in html


def test_pages_carry_security_headers_and_no_inline_script(client: TestClient) -> None:
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]
    assert "<script>" not in response.text


def test_scenario_page_shows_the_code_and_a_narrated_run(client: TestClient) -> None:
    html = client.get("/scenarios/seed-close-socket").text
    assert "Socket-&gt;Dispatch-&gt;WskCloseSocket(Socket, Irp)" in html
    assert "if (!Irp) return STATUS_INSUFFICIENT_RESOURCES;" in html
    # The seed's narrated run is its demo: the allocation fails, the page's check returns, the socket stays open.
    assert "Outcome: <strong>violation</strong>" in html
    assert "Something was still open when the run ended" in html
    safe = client.get("/scenarios/close-with-pending-receive").text
    assert "WskCloseSocket" in safe and "Outcome: <strong>ok</strong>" in safe


def test_buggy_scenario_page_shows_the_broken_rule(client: TestClient) -> None:
    buggy = next(c for c in LIBRARY.scenarios.values() if c.source.expect == "buggy")
    html = client.get(f"/scenarios/{buggy.source.id}").text
    assert "The interleaving that breaks it" in html
    assert "learn.microsoft.com" in html


def test_unknown_page_gets_an_html_error_page_not_json(client: TestClient) -> None:
    response = client.get("/scenarios/nope", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "There is no scenario &#39;nope&#39;" in response.text and "<html" in response.text


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
