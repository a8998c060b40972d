"""Rendered steps are cached by URL: ETags and 304s for browsers and CDNs, a bounded server cache, gzip."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app
from app.web.caching import StepCache, StepKey

URL = "/play/seed-close-socket?v=2&s=App.App&at=1"
HX = {"HX-Request": "true"}


def test_a_step_carries_an_etag_and_a_long_cache_lifetime(client: TestClient) -> None:
    response = client.get(URL)
    assert response.headers["etag"].startswith('"')
    assert "max-age=86400" in response.headers["cache-control"]


def test_a_browser_that_has_the_step_gets_a_304_without_a_body(client: TestClient) -> None:
    etag = client.get(URL).headers["etag"]
    again = client.get(URL, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and "content-security-policy" in again.headers


def test_the_page_and_the_fragment_of_a_step_are_different_renderings(client: TestClient) -> None:
    page, fragment = client.get(URL), client.get(URL, headers=HX)
    assert page.headers["etag"] != fragment.headers["etag"]
    assert client.get(URL, headers={**HX, "If-None-Match": page.headers["etag"]}).status_code == 200


def ready(client: TestClient) -> TestClient:
    """The app with its meters computed for the scenario of URL: a step shows a placeholder until then, and a
    rendering with it is another rendering (another cache key)."""
    app: Any = client.app
    app.state.meters.wait(app.state.library.get(URL.split("/")[2].split("?")[0]), timeout=60)
    return client


def test_a_cached_step_is_the_same_bytes_as_a_fresh_render() -> None:
    warm = ready(TestClient(create_app()))
    first = warm.get(URL, headers=HX)
    assert warm.app.state.steps.size > 0  # type: ignore[attr-defined]
    assert warm.get(URL, headers=HX).content == first.content
    assert ready(TestClient(create_app())).get(URL, headers=HX).content == first.content


def test_a_bad_link_is_not_cached(client: TestClient) -> None:
    bad = "/play/seed-close-socket?v=2&s=Nobody"
    assert client.get(bad).status_code == 422
    assert "etag" not in client.get(bad).headers


def test_the_cache_is_bounded_in_bytes_and_drops_the_least_recently_used() -> None:
    cache = StepCache(max_bytes=100, max_entry=60)
    keys = [StepKey("/play", "/play/x", f"at={n}", False) for n in range(4)]
    for key in keys[:3]:
        cache.put(key, b"x" * 40)
    assert cache.size <= 100 and cache.get(keys[0]) is None and cache.get(keys[2]) is not None
    cache.put(keys[3], b"x" * 61)  # larger than one entry may be
    assert cache.get(keys[3]) is None


def test_answers_are_compressed_for_clients_that_accept_gzip(client: TestClient) -> None:
    response = client.get(URL, headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
