"""A real browser for page tests: Debian's Chromium driven by Playwright, offline. What a person
sees is saved as a screenshot under test-artefacts/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.clients.conftest import missing

ARTEFACTS = Path(os.environ.get("TEST_ARTEFACTS", Path(__file__).parents[1] / "test-artefacts"))


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        missing("Debian's chromium is not installed (.ci/run installs it)")
    assert found is not None
    return found


def open_page(browser: object, url: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    page.on("console", lambda m: failures.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.failures = failures  # type: ignore[attr-defined]
    return page


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / name), full_page=True)
