"""scripts/fetch_test_assets.py, offline: it extracts only a tarball that matches its pin, and only the pinned file."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.live import free_port

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "fetch_test_assets.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_test_assets_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fta = load()
CONTENT = b"window.axe = {};\n"


def tarball(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def pinned(data: bytes, content: bytes = CONTENT) -> object:
    return fta.Asset(
        package="fake",
        version="1.0.0",
        integrity="sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode(),
        member="package/axe.min.js",
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
    )


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(fta, "CACHE", tmp_path)
    return tmp_path


def serve(monkeypatch: pytest.MonkeyPatch, data: bytes) -> list[str]:
    asked: list[str] = []

    def download(url: str) -> bytes:
        asked.append(url)
        return data

    monkeypatch.setattr(fta, "download", download)
    return asked


def test_a_verified_tarball_gives_only_its_pinned_file_once(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tarball({"package/axe.min.js": CONTENT, "package/../../evil.js": b"no", "package/other.js": b"no"})
    asset = pinned(data)
    asked = serve(monkeypatch, data)
    assert fta.fetch(asset) is True
    assert asked == ["https://registry.npmjs.org/fake/-/fake-1.0.0.tgz"]
    assert [p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()] == [
        "fake-1.0.0/axe.min.js"
    ]
    assert asset.path.read_bytes() == CONTENT and fta.problem(asset) is None
    assert fta.fetch(asset) is False and len(asked) == 1  # idempotent: no second download


def test_a_tarball_that_does_not_match_its_integrity_is_never_opened(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asset = pinned(tarball({"package/axe.min.js": CONTENT}))
    serve(monkeypatch, tarball({"package/axe.min.js": b"window.axe = 'tampered';\n"}))
    with pytest.raises(fta.FetchError, match="integrity mismatch"):
        fta.fetch(asset)
    assert not list(cache.rglob("*.js"))


def test_a_file_that_does_not_match_its_sha256_is_not_written(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tarball({"package/axe.min.js": CONTENT})
    asset = pinned(data, content=b"something else")
    serve(monkeypatch, data)
    with pytest.raises(fta.FetchError, match="fix the pin"):
        fta.fetch(asset)
    assert not list(cache.rglob("*.js"))


def test_an_altered_file_is_reported_and_fetched_again(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tarball({"package/axe.min.js": CONTENT})
    asset = pinned(data)
    asked = serve(monkeypatch, data)
    fta.fetch(asset)
    asset.path.write_bytes(b"edited")
    assert "does not have its pinned sha256" in fta.problem(asset)
    assert fta.fetch(asset) is True and len(asked) == 2 and asset.path.read_bytes() == CONTENT


def test_an_unreachable_registry_says_so_and_what_to_do(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", f"http://127.0.0.1:{free_port()}/")
    asset = pinned(b"")
    with pytest.raises(fta.FetchError, match=r"npm registry is unreachable.*NPM_CONFIG_REGISTRY"):
        fta.fetch(asset)


def test_check_only_verifies(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = serve(monkeypatch, b"")
    assert fta.main(["--check"]) == 1  # nothing in this empty cache
    assert asked == []


def test_the_pins_are_well_formed() -> None:
    for asset in fta.ASSETS:
        algorithm, _, digest = asset.integrity.partition("-")
        assert algorithm == "sha512" and len(base64.b64decode(digest, validate=True)) == 64
        assert len(bytes.fromhex(asset.sha256)) == 32 and asset.size > 0
        assert asset.member.startswith("package/") and asset.path.is_relative_to(fta.CACHE)
