"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Page


def snap(page: Page, path: Path) -> None:
    """A full-page screenshot once the step's view transition has finished animating."""
    # Polled through page.evaluate: the page's CSP forbids the eval that wait_for_function would need.
    deadline = time.monotonic() + 5
    while page.evaluate("document.getAnimations().length") and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    page.screenshot(path=str(path), full_page=True)
