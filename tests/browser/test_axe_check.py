"""The accessibility check itself: it finds violations, says what and where, and checks
a page in a given state once per test."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.browser

BROKEN = """<!doctype html><html lang="en"><head><title>Broken</title></head><body><main>
<h1>Broken</h1><img src="/static/img/favicon.svg"><button></button>
<input type="text" name="q"></main></body></html>"""
FINE = """<!doctype html><html lang="en"><head><title>Fine</title></head><body><main>
<h1>Fine</h1><img src="/static/img/favicon.svg" alt="MiP"><button>Go</button></main></body></html>"""


def test_violations_fail_the_test_with_rule_impact_target_and_help(page: Page, axe_check):
    page.goto("/")
    page.set_content(BROKEN)
    with pytest.raises(pytest.fail.Exception) as failed:
        axe_check(page)
    message = str(failed.value)
    for expected in (
        "[desktop] image-alt (critical)",
        "[phone] image-alt (critical)",
        "button-name (critical)",
        "label (critical)",
        "- img",
        "https://dequeuniversity.com/rules/axe/",
    ):
        assert expected in message, message
    assert page.viewport_size == {"width": 1280, "height": 900}  # put back as it was


def test_a_page_is_checked_once_per_state(page: Page, axe_check):
    page.goto("/")
    page.set_content(FINE)
    axe_check(page)
    axe_check(page)
    assert [size for _path, size in axe_check.checked] == ["desktop", "phone"]
    page.set_content(FINE.replace("Go", "Go on"))
    axe_check(page, sizes=("phone",))
    assert len(axe_check.checked) == 3
