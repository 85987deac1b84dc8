"""Browser fixtures: the test app served over real HTTP, driven by the system's Chromium.

The app is the function-scoped ``app`` fixture of tests/conftest.py (clean tables,
one per backend), served by werkzeug on 127.0.0.1 with an OS-chosen port in a
background thread. Chromium is launched once per session; every test gets a fresh
browser context (no shared cookies). Screenshots go to ``test-artifacts/`` (git-ignored).

Accessibility: ``axe_check(page)`` runs axe-core (bundled with axe-playwright-python) on
the page as it is, at the desktop and the phone size in turn, with the WCAG 2.0, 2.1 and
2.2 A and AA rules (``AXE_TAGS``), and fails the test with a readable list of violations.
The same page in the same state is checked once per test. ``viewport`` is a fixture:
parametrize a test with ``viewport`` (``PHONE``) to run it on a phone-sized context.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator
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
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
# WCAG 2.2 level A and AA, as axe tags them, and axe's "best-practice" rules (landmarks,
# one main, heading order, unique landmark names...): the pages meet those too, so they
# are held to them.
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice")
AXE_LOG = ARTIFACTS / "axe"
# Violations already reported, whose fix is in a file this suite's owner may not change:
# (rule id, target selector) -> what to change. They are logged (test-artifacts/browser/
# axe/<test>.txt, and the test's captured output), not failed, until the fix lands; then
# delete the entry, and the check holds the pages to it again.
AXE_PENDING: list[tuple[str, str, str, str]] = [
    # (rule id, target selector, page path pattern, the fix and who makes it)
]


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


def new_context(browser: Browser, base_url: str, viewport: dict | None = None) -> BrowserContext:
    """A fresh browser context (its own cookies) set up like every test's."""
    context = browser.new_context(
        base_url=base_url,
        viewport=viewport or DESKTOP,
        locale="en-GB",
        timezone_id="Europe/London",
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


@pytest.fixture()
def viewport() -> dict:
    """The size of the test's browser; parametrize a test with ``viewport`` to change it."""
    return DESKTOP


@pytest.fixture()
def context(browser: Browser, live_server: str, viewport: dict) -> Iterator[BrowserContext]:
    context = new_context(browser, live_server, viewport)
    yield context
    context.close()


@pytest.fixture()
def new_page(browser: Browser, live_server: str) -> Iterator[Callable[..., Page]]:
    """new_page(viewport=DESKTOP): another person's browser (a context of its own)."""
    made: list[BrowserContext] = []

    def _new_page(viewport: dict | None = None) -> Page:
        context = new_context(browser, live_server, viewport)
        made.append(context)
        return context.new_page()

    yield _new_page
    for context in made:
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


# --- Accessibility: axe-core on every page a journey visits ---------------------------


def _axe_script() -> str:
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


_RUN_AXE = """async (tags) => {
  const results = await axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.map(String).join(" "), summary: n.failureSummary})),
  }));
}"""

# What makes two visits "the same page in the same state": the address and the page's
# markup, without the per-request secrets (CSRF tokens, nonces) that change every time.
_STATE = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll("input[type=hidden]").forEach(e => e.removeAttribute("value"));
  return location.pathname + location.search + "\\n" + body.outerHTML;
}"""


def format_violations(url: str, found: dict[str, list[dict]]) -> str:
    lines = [f"axe found accessibility violations ({', '.join(AXE_TAGS)}) on {url}:"]
    for size, violations in found.items():
        for v in violations:
            lines.append(f"  [{size}] {v['id']} ({v['impact']}): {v['help']}")
            lines.append(f"      {v['helpUrl']}")
            for node in v["nodes"][:10]:
                lines.append(f"      - {node['target']}")
                for detail in (node["summary"] or "").splitlines()[:4]:
                    lines.append(f"          {detail.strip()}")
            if len(v["nodes"]) > 10:
                lines.append(f"      ... and {len(v['nodes']) - 10} more")
    return "\n".join(lines)


def _without_pending(violations: list[dict], path: str, log: list[str]) -> list[dict]:
    """The violations less the nodes listed in AXE_PENDING (each added to ``log``)."""
    kept = []
    for v in violations:
        nodes = []
        for node in v["nodes"]:
            pending = next(
                (
                    fix
                    for rule, target, where, fix in AXE_PENDING
                    if (rule, target) == (v["id"], node["target"]) and re.search(where, path)
                ),
                None,
            )
            if pending:
                log.append(f"PENDING {v['id']} {node['target']} on {path}: {pending}")

            else:
                nodes.append(node)
        if nodes:
            kept.append({**v, "nodes": nodes})
    return kept


class AxeCheck:
    """axe_check(page, sizes=("desktop", "phone")): run axe on the page as it is now.

    The page is checked at each size in turn (the viewport is resized, not reloaded, so
    a page reached by a form submission or showing errors is checked in that very
    state) and left at the size it had. A page already checked in the same state in
    this test is not checked again. Fails the test on any violation.
    """

    def __init__(self, test_name: str) -> None:
        self.test_name = test_name
        self.seen: set[tuple[str, str]] = set()
        self.checked: list[tuple[str, str]] = []
        self.pending: list[str] = []

    def __call__(self, page: Page, sizes: tuple[str, ...] = ("desktop", "phone")) -> None:
        page.wait_for_load_state("load")
        state = page.evaluate(_STATE)
        digest = hashlib.sha256(state.encode()).hexdigest()
        path = state.split("\n", 1)[0]
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(_axe_script())
        was = page.viewport_size
        found: dict[str, list[dict]] = {}
        try:
            for size in sizes:
                if (digest, size) in self.seen:
                    continue
                self.seen.add((digest, size))
                page.set_viewport_size(VIEWPORTS[size])
                # Let the new layout settle (media queries, a frame) before measuring it.
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
                found_now = page.evaluate(_RUN_AXE, list(AXE_TAGS))
                violations = _without_pending(found_now, path, self.pending)
                self.checked.append((path, size))
                if violations:
                    found[size] = violations
        finally:
            if was and page.viewport_size != was:
                page.set_viewport_size(was)
        if found:
            pytest.fail(format_violations(page.url, found), pytrace=False)


@pytest.fixture()
def axe_check(request: pytest.FixtureRequest) -> Iterator[AxeCheck]:
    check = AxeCheck(request.node.nodeid)
    yield check
    # One file per test (test-artifacts/browser/axe/<test>.txt): the pages checked, at
    # which size, and any pending violations.
    log = AXE_LOG / (re.sub(r"[^\w.\[\]-]+", "_", request.node.nodeid) + ".txt")
    if check.checked:
        log.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{size}\t{path}" for path, size in check.checked]
        lines += list(dict.fromkeys(check.pending))
        log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in dict.fromkeys(check.pending):
        print(f"axe: {line}")


def pytest_collection_modifyitems(config, items):
    """Browser journeys run on SQLite only: what they add is the pages in a real browser
    (and axe on each), the same whatever the database; every route's behaviour on
    PostgreSQL is covered by the functional tests, which run on both. Running them twice
    cost about three minutes of CI time."""
    here = Path(__file__).resolve().parent
    keep, dropped = [], []
    for item in items:
        in_browser = Path(str(item.fspath)).resolve().is_relative_to(here)
        (dropped if in_browser and "[postgresql" in item.nodeid else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
