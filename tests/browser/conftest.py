"""Browser fixtures: the test app served over real HTTP, driven by the system's Chromium.

The app is the function-scoped ``app`` fixture of tests/conftest.py (clean tables,
one per backend), served by werkzeug on 127.0.0.1 with an OS-chosen port in a
background thread. Chromium is launched once per session; every test gets a fresh
browser context (no shared cookies). Screenshots go to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from lms.config import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "browser"
# Generous enough for a loaded CI machine, short enough to fail fast on a real hang.
TIMEOUT_MS = 10_000


@pytest.fixture()
def live_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free local port for the length of one test; yield its base URL."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval makes shutdown() return quickly at the end of each test.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture()
def context(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    context = browser.new_context(
        base_url=live_server,
        viewport={"width": 1280, "height": 900},
        locale="en-GB",
        timezone_id="Europe/London",
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture()
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture()
def shot(page: Page, request: pytest.FixtureRequest, backend: str):
    """shot(name): save a full-page screenshot to test-artifacts/browser/<test>/<backend>/."""
    folder = ARTIFACTS / re.sub(r"\[.*\]$", "", request.node.name) / backend
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    counter = iter(range(1, 1000))

    def _shot(name: str) -> Path:
        path = folder / f"{next(counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot
