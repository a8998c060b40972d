#!/usr/bin/env python3
"""Fetch the JavaScript that only the browser tests use, pinned and verified, from the npm registry.

    python3 scripts/fetch_test_assets.py          # fetch what is missing, verify what is there
    python3 scripts/fetch_test_assets.py --check  # only verify; exit 1 if anything is missing or altered

The tests load two npm packages into headless Chromium:

- axe-core checks the pages for WCAG 2.1 AA violations (tests/e2e/test_accessibility.py);
- mermaid renders the ``format=mermaid`` export, to prove Mermaid itself accepts it (tests/e2e/test_diagram.py).

Neither is served by the app, shipped in ``static/`` or committed: each is downloaded as the package's registry
tarball, checked against the ``integrity`` (sha512) the registry published for that version, and only then opened;
the one file the tests need is extracted into ``.cache/test-assets/`` (git-ignored) and checked against its own
pinned sha256. Nothing else from the tarball is written, so its paths are never trusted. The pins are listed in
scripts/TEST_ASSETS.md, with how to upgrade them.

Idempotent: a file already extracted with its pinned sha256 is not downloaded again. Standard library only, so it
runs before any virtualenv exists and on a machine without node or npm. ``NPM_CONFIG_REGISTRY`` (npm's own
setting) points it at a mirror; the pins make a mirror as safe as the registry itself. HTTP(S)_PROXY are honoured.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "test-assets"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
MAX_TARBALL_BYTES = 64 * 1024 * 1024  # mermaid 12.3.0 is 26 MB; refuse anything absurd
TIMEOUT_S = 60


@dataclass(frozen=True)
class Asset:
    package: str  # npm package name (unscoped)
    version: str
    integrity: str  # the registry's dist.integrity for the tarball: "sha512-" + base64
    member: str  # the file to extract from the tarball
    sha256: str  # hex sha256 of that file
    size: int  # its length in bytes

    @property
    def tarball(self) -> str:
        return f"{self.package}-{self.version}.tgz"

    @property
    def path(self) -> Path:
        """Where the extracted file lives; the version is in the path, so an upgrade never reuses an old file."""
        return CACHE / f"{self.package}-{self.version}" / Path(self.member).name


AXE = Asset(
    package="axe-core",
    version="4.14.1",
    integrity="sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
    member="package/axe.min.js",
    sha256="29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c",
    size=653780,
)
MERMAID = Asset(
    package="mermaid",
    version="12.3.0",
    integrity="sha512-4113TdXeLAsMruJ79OpFL5O8+LTFXhQqZ260rF3tgUmiNAtRm4Uume04I+65PRN6yZ69J4f8rVYWW8zRk65UYw==",
    member="package/dist/mermaid.min.js",
    sha256="336df803d87a38b70a01e736e666c8f7601d2ce42f5e47c8fafe5d721074b9a3",
    size=5537838,
)
ASSETS = (AXE, MERMAID)


class FetchError(Exception):
    """Something a person must act on: the registry is unreachable, or a download does not match its pin."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_present(asset: Asset) -> bool:
    """True if the extracted file exists with its pinned sha256."""
    return asset.path.is_file() and sha256_of(asset.path) == asset.sha256


def problem(asset: Asset) -> str | None:
    """Why the tests cannot use ``asset`` (for their failure message), or None if they can."""
    if not asset.path.is_file():
        return f"{asset.path} is missing"
    if sha256_of(asset.path) != asset.sha256:
        return f"{asset.path} does not have its pinned sha256 {asset.sha256}"
    return None


def registry() -> str:
    return (os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_REGISTRY).rstrip("/")


def download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "wsk-close-visualizer/fetch_test_assets"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            data: bytes = response.read(MAX_TARBALL_BYTES + 1)
    except urllib.error.HTTPError as err:
        raise FetchError(f"{url}: the registry answered HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise FetchError(
            f"{url}: the npm registry is unreachable ({reason}). The browser tests need it once, to fetch their "
            "pinned test-only JavaScript; check the network or proxy (HTTPS_PROXY), or point NPM_CONFIG_REGISTRY "
            "at a mirror."
        ) from None
    if len(data) > MAX_TARBALL_BYTES:
        raise FetchError(f"{url}: larger than {MAX_TARBALL_BYTES} bytes; refusing it")
    return data


def verify_integrity(asset: Asset, data: bytes) -> None:
    """Check a tarball against its npm ``integrity`` (Subresource Integrity syntax: sha512, base64)."""
    algorithm, _, expected = asset.integrity.partition("-")
    if algorithm != "sha512":
        raise FetchError(f"{asset.tarball}: pinned integrity must be sha512, not {algorithm!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise FetchError(
            f"{asset.tarball}: integrity mismatch: expected sha512-{expected}, got sha512-{actual}. "
            "The download is corrupt or is not the pinned package; nothing was extracted."
        )


def extract(asset: Asset, data: bytes) -> bytes:
    """The one pinned member of a verified tarball, checked against its own sha256."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        try:
            member = tar.getmember(asset.member)
        except KeyError:
            raise FetchError(f"{asset.tarball}: has no {asset.member}") from None
        handle = tar.extractfile(member) if member.isfile() else None
        if handle is None:
            raise FetchError(f"{asset.tarball}: {asset.member} is not a regular file")
        content = handle.read()
    actual = hashlib.sha256(content).hexdigest()
    if actual != asset.sha256 or len(content) != asset.size:
        raise FetchError(
            f"{asset.tarball}: {asset.member} has sha256 {actual} ({len(content)} bytes), but the pin says "
            f"{asset.sha256} ({asset.size} bytes); fix the pin in {Path(__file__).name}"
        )
    return content


def write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fetch(asset: Asset) -> bool:
    """Make ``asset.path`` hold the pinned file. True if it had to be downloaded."""
    if is_present(asset):
        return False
    url = f"{registry()}/{asset.package}/-/{asset.tarball}"
    data = download(url)
    verify_integrity(asset, data)
    write_atomically(asset.path, extract(asset, data))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only verify the cached files; download nothing")
    args = parser.parse_args(argv)
    status = 0
    for asset in ASSETS:
        name = f"{asset.package}@{asset.version}"
        if args.check:
            why = problem(asset)
            print(f"fetch_test_assets: {name}: {why or 'ok'}", file=sys.stderr if why else sys.stdout)
            status |= bool(why)
            continue
        try:
            fetched = fetch(asset)
        except FetchError as err:
            print(f"fetch_test_assets: {name}: {err}", file=sys.stderr)
            status = 1
            continue
        rel = asset.path.relative_to(ROOT)
        print(f"fetch_test_assets: {name}: {'fetched and verified' if fetched else 'already present'}: {rel}")
    return status


if __name__ == "__main__":
    sys.exit(main())
