"""A security key, added from the account page and used to log in, in Chromium with
its virtual authenticator (the DevTools protocol's WebAuthn domain): the page's
script (static/js/webauthn.js) talks to the browser, py_webauthn checks the answers."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from lms.extensions import db
from lms.mfa.models import SecurityKey
from tests.browser.conftest import DESKTOP, TIMEOUT_MS
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

EMAIL = "keyholder@example.org"


def log_in(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_security_key_is_added_and_used_to_log_in(
    app, make, browser: Browser, live_server: str, request, axe_check
):
    user_id = make("trainee", email=EMAIL, name="Kezia Holder")
    # WebAuthn needs a domain for the relying party (not an IP address): localhost is one.
    base = live_server.replace("127.0.0.1", "localhost")
    context = browser.new_context(base_url=base, viewport=DESKTOP)
    request.addfinalizer(context.close)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": False,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]

    log_in(page)
    expect(page).to_have_url(f"{base}/dashboard")
    page.goto("/account")
    page.get_by_label("Name of the key").fill("Blue key")
    page.get_by_role("button", name="Add a security key").click()
    expect(page.get_by_role("heading", level=1, name="Your recovery codes")).to_be_visible()
    expect(page.get_by_text("Your security key is added")).to_be_visible()
    expect(page.locator(".mfa-codes li")).to_have_count(10)
    axe_check(page)
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(credentials["credentials"]) == 1
    with app.app_context():
        stored = db.session.scalars(select(SecurityKey)).one()
        assert stored.user_id == user_id and stored.name == "Blue key"

    page.goto("/account")
    expect(page.get_by_text("Blue key", exact=True)).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Log out").first.click()
    log_in(page)
    expect(page).to_have_url(f"{base}/login/second-step")
    expect(page.get_by_role("heading", level=1, name="Confirm it is you")).to_be_visible()
    axe_check(page)
    # Nothing opens before the key is used.
    page.goto("/dashboard")
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    page.goto("/login/second-step")
    page.get_by_role("button", name="Use my security key").click()
    expect(page).to_have_url(f"{base}/dashboard")
    with app.app_context():
        stored = db.session.scalars(select(SecurityKey)).one()
        assert stored.last_used_at is not None
