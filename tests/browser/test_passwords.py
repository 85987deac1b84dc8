"""Choosing a password in a real browser: the strength meter follows what is typed, and
"Show password" shows it (ASVS 2.1.8, 2.1.12)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from lms.accounts import services as accounts
from lms.extensions import db
from tests.conftest import get_user, make_user

pytestmark = pytest.mark.browser

WEAK = "password1234"
STRONG = "walrus ferry tangerine oboe"


def test_meter_follows_the_typing_and_show_password_reveals_it(
    app, page: Page, shot, live_server, axe_check
):
    user_id = make_user(app, email="ffion.bevan@example.org", name="Ffion Bevan", password=None)
    with app.app_context():
        url = accounts.issue_password_link(get_user(app, user_id), "setup", send=False)
        db.session.commit()
    page.goto("/password/set/" + url.rsplit("/", 1)[-1])

    field = page.get_by_label("New password", exact=True)
    meter = page.locator("meter.password-strength__meter")
    advice = page.locator(".password-strength__text")
    expect(meter).to_have_count(1)  # only under the new password, not the confirmation
    expect(field).to_have_attribute("type", "password")

    field.press_sequentially(WEAK)
    expect(advice).to_contain_text("Very weak")
    expect(advice).to_contain_text("one of the passwords people use most often")
    assert meter.evaluate("m => m.value") == 0
    shot("weak")

    field.fill("")
    field.press_sequentially(STRONG)
    expect(advice).to_contain_text("Very strong")
    axe_check(page)
    assert meter.evaluate("m => m.value") == 4

    # Every password field has its own toggle; it shows, then hides, the text.
    toggles = page.get_by_role("button", name="Show password")
    expect(toggles).to_have_count(2)
    toggles.first.click()
    expect(field).to_have_attribute("type", "text")
    expect(field).to_have_value(STRONG)
    expect(page.get_by_role("button", name="Hide password")).to_have_attribute(
        "aria-pressed", "true"
    )
    shot("shown")
    page.get_by_role("button", name="Hide password").click()
    expect(field).to_have_attribute("type", "password")

    # The server is the authority: the weak one typed anyway is refused with its reason.
    field.fill(WEAK)
    page.get_by_label("Type the new password again").fill(WEAK)
    page.get_by_role("button", name="Save password").click()
    expect(page.locator("#password-error")).to_contain_text("three or four unrelated words")
    field = page.get_by_label("New password", exact=True)
    expect(field).to_have_value("")  # nothing typed is sent back
    axe_check(page)

    field.fill(STRONG)
    page.get_by_label("Type the new password again").fill(STRONG)
    toggles = page.get_by_role("button", name="Show password")
    toggles.first.click()  # shown when sent: the form still sends it as a password field
    page.get_by_role("button", name="Save password").click()
    expect(page).to_have_url(f"{live_server}/dashboard")
    expect(page.get_by_text("Your password is set. Welcome, Ffion.")).to_be_visible()
