"""Fixtures for end-to-end tests: the real app under uvicorn, driven by Debian's headless Chromium.

Chromium is never downloaded by Playwright; install it with `bash scripts/setup.sh --browser`
(which runs `apt-get install chromium`). The same command fetches the test-only JavaScript some tests load into
the browser (axe-core, mermaid; see scripts/fetch_test_assets.py). With E2E_REQUIRED=1 or CI set, a missing
Chromium or test asset fails the tests instead of skipping them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.helpers import Axe
from tests.live import live_server as serve

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parents[1]
CHROMIUM_PATH = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _e2e_required() -> bool:
    return os.environ.get("E2E_REQUIRED") == "1" or bool(os.environ.get("CI"))


def _unavailable(message: str) -> None:
    if _e2e_required():
        pytest.fail(message + " E2E_REQUIRED=1 or CI is set, so e2e tests may not be skipped.", pytrace=False)
    pytest.skip(message)


def _load_test_assets() -> ModuleType:
    """scripts/fetch_test_assets.py, loaded by path: it is a script, and its pins are the one source of truth."""
    path = REPO_ROOT / "scripts" / "fetch_test_assets.py"
    spec = importlib.util.spec_from_file_location("fetch_test_assets", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


TEST_ASSETS = _load_test_assets()


def _test_asset(asset: Any) -> str:
    """The source of a pinned test asset; fails (or skips, outside CI) if it is missing or altered."""
    why = TEST_ASSETS.problem(asset)
    if why:
        _unavailable(
            f"Test-only JavaScript {asset.package}@{asset.version}: {why}. Fetch it with "
            "`bash scripts/setup.sh --browser` (or `python3 scripts/fetch_test_assets.py`)."
        )
    return str(asset.path.read_text(encoding="utf-8"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Expose each phase's report on the item so `page` can screenshot failed tests.
    report: pytest.TestReport = yield
    setattr(item, f"_e2e_rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """Run `app.main:app` under uvicorn in a subprocess from the repo root; yield its base URL."""
    with serve() as server:
        yield server.url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """A headless Debian Chromium driven by Playwright (never a Playwright-downloaded browser)."""
    if not os.path.exists(CHROMIUM_PATH):
        _unavailable(
            f"Chromium not found at {CHROMIUM_PATH}. Install it with `bash scripts/setup.sh --browser` "
            "(runs `apt-get install -y chromium`)."
        )

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def axe() -> Axe:
    """The pinned axe-core, ready to run in any page (see tests/e2e/helpers.py)."""
    return Axe(_test_asset(TEST_ASSETS.AXE))


@pytest.fixture(scope="session")
def mermaid_js() -> str:
    """The source of the pinned mermaid.min.js (its IIFE build, which defines ``window.mermaid``)."""
    return _test_asset(TEST_ASSETS.MERMAID)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """`test-artifacts/` at the repo root (created), for screenshots and other outputs."""
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser: Browser, artifacts_dir: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page in a new browser context (1280x900) per test; screenshot saved on failure."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        yield page
        rep = getattr(request.node, "_e2e_rep_call", None)
        if rep is not None and rep.failed:
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.nodeid)
            fail_dir = artifacts_dir / "failures"
            fail_dir.mkdir(exist_ok=True)
            try:
                page.screenshot(path=str(fail_dir / f"{safe}.png"), full_page=True)
            except Exception as exc:  # a dead page must not hide the real failure
                print(f"could not save failure screenshot: {exc!r}", file=sys.stderr)
    finally:
        context.close()
