"""The API reference at /docs: vendored Swagger UI, no inline script or style, the site's strict CSP, pinned files."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
SWAGGER_DIR = ROOT / "static" / "swagger"
VENDORED_MD = ROOT / "static" / "js" / "VENDORED.md"
OURS = {"init.js"}  # files in static/swagger/ that are not from swagger-ui-dist


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each <script> and <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: dict[str, list[str]] = {"script": [], "style": []}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.inline:
            self._open = tag
            self.inline[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open:
            self.inline[self._open][-1] += data


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_docs_is_html_that_loads_only_vendored_files(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = parse(response.text)

    scripts = [attrs.get("src") for tag, attrs in page.tags if tag == "script"]
    assert scripts == ["/static/swagger/swagger-ui-bundle.js", "/static/swagger/init.js"]
    assert all(not body.strip() for body in page.inline["script"]), "inline script"
    assert page.inline["style"] == [], "inline <style>"
    for tag, attrs in page.tags:
        assert "style" not in attrs, f"style attribute on <{tag}>"
        assert not [a for a in attrs if a.startswith("on")], f"event handler attribute on <{tag}>"

    links = [attrs["href"] for tag, attrs in page.tags if tag == "link"]
    assert "/static/swagger/swagger-ui.css" in links
    for url in [*scripts, *links]:
        assert url and url.startswith("/static/"), url
        served = client.get(url)
        assert served.status_code == 200, url
    for url, kind in (
        ("/static/swagger/swagger-ui-bundle.js", "text/javascript"),
        ("/static/swagger/swagger-ui.css", "text/css"),
    ):
        assert client.get(url).headers["content-type"].startswith(kind), url  # nosniff needs the right type
    assert "cdn" not in response.text.lower() and "http" not in response.text


def test_docs_points_swagger_ui_at_the_openapi_document(client: TestClient) -> None:
    page = parse(client.get("/docs").text)
    (root,) = [attrs for tag, attrs in page.tags if attrs.get("id") == "swagger-ui"]
    assert root["data-spec-url"] == "/openapi.json"
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/api/run" in paths
    assert "/docs" not in paths
    init = (SWAGGER_DIR / "init.js").read_text()
    assert "data-spec-url" in init and "validatorUrl: null" in init


def test_docs_is_served_under_the_strict_csp(client: TestClient) -> None:
    header = client.get("/docs").headers["content-security-policy"]
    csp = csp_directives(header)
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert "unsafe-inline" not in header and "unsafe-eval" not in header
    assert "http" not in header and "cdn" not in header.lower()
    assert header == client.get("/").headers["content-security-policy"], "/docs gets no exception"


def test_fastapis_cdn_pages_are_off(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404


def recorded_files() -> dict[str, tuple[int, str]]:
    """The per-file table of the Swagger UI section of VENDORED.md: name -> (bytes, sha256)."""
    row = re.compile(r"^\| `static/swagger/([^`]+)` \| (\d+) \| `([0-9a-f]{64})` \|$", re.MULTILINE)
    return {name: (int(size), sha) for name, size, sha in row.findall(VENDORED_MD.read_text())}


def test_vendored_swagger_files_match_vendored_md() -> None:
    recorded = recorded_files()
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"} <= recorded.keys()
    on_disk = {p.name for p in SWAGGER_DIR.iterdir() if p.is_file()}
    assert on_disk - OURS == recorded.keys(), "every vendored file is recorded, and only those"
    for name, (size, sha) in recorded.items():
        data = (SWAGGER_DIR / name).read_bytes()
        assert len(data) == size, name
        assert hashlib.sha256(data).hexdigest() == sha, name


def test_vendored_md_version_is_the_bundles_version() -> None:
    text = VENDORED_MD.read_text()
    section = text[text.index("## Swagger UI") :]
    version = re.search(r"^\| version \| (\S+) \|$", section, re.MULTILINE)
    assert version is not None
    bundle = (SWAGGER_DIR / "swagger-ui-bundle.js").read_text()
    assert f'PACKAGE_VERSION:"{version[1]}"' in bundle
    assert f"swagger-ui-dist@{version[1]}" in section
