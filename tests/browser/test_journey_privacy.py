"""Privacy through the pages: a member asks for a copy of their data and downloads it;
the training office prepares one, then erases the member (first with a wrong email
typed), and the member's certificate is checked as withdrawn. axe-core on every page."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.journey_helpers import log_in, status
from tests.functional.accreditation_helpers import grant

pytestmark = pytest.mark.browser


def test_copy_of_ones_data_and_erasure(
    app: Flask, make, page: Page, new_page, axe_check, shot, tmp_path
) -> None:
    make("admin", email="office@example.org", name="Nia Roberts")
    holder = make("trainee", email="gwen@example.org", name="Gwen Morgan")
    _id, number, token = grant(app, holder, "link-member")

    # --- The member's own copy ----------------------------------------------------------
    member = new_page()
    log_in(member, "gwen@example.org")
    member.goto("/account")
    member.get_by_role("link", name="Get a copy of your data").click()
    expect(member.get_by_role("heading", level=1, name="Your data")).to_be_visible()
    expect(member.get_by_text("Anonymous feedback is, by design, not included")).to_be_visible()
    axe_check(member)
    member.get_by_role("button", name="Ask for a copy").click()
    expect(status(member)).to_contain_text("Your copy is being prepared")
    expect(member.get_by_text("Ready", exact=True)).to_be_visible()
    axe_check(member)
    member.screenshot(path=str(tmp_path / "member-my-data.png"), full_page=True)
    with member.expect_download() as download:
        member.get_by_role("link", name="Download ZIP").click()
    assert download.value.suggested_filename.startswith("mip-training-data-")

    # --- The training office: a copy, then erasure --------------------------------------
    log_in(page, "office@example.org")
    page.goto("/admin/users")
    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Privacy"
    ).click()
    expect(page.get_by_role("heading", level=1, name="Privacy: access and erasure")).to_be_visible()
    axe_check(page)
    page.get_by_label("Email address").fill("gwen@example.org")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", level=2, name="Gwen Morgan", exact=True)).to_be_visible()
    page.get_by_role("button", name="Prepare a copy of their data").click()
    expect(status(page)).to_contain_text("being prepared")
    axe_check(page)
    shot("admin-privacy")
    page.get_by_role("link", name="Erase this person…").click()
    expect(page.get_by_role("heading", level=1, name="Erase Gwen Morgan")).to_be_visible()
    expect(page.get_by_text("verification shows as withdrawn")).to_be_visible()
    axe_check(page)
    shot("erase-confirm")
    field = page.get_by_label("Type the person’s email address to confirm")
    field.fill("gwen@example.com")
    page.get_by_role("button", name="Erase Gwen Morgan").click()
    expect(page.get_by_role("alert")).to_contain_text("not this person’s email")
    expect(field).to_have_value("gwen@example.com")
    axe_check(page)
    shot("erase-wrong-email")
    field.fill("gwen@example.org")
    page.get_by_role("button", name="Erase Gwen Morgan").click()
    expect(status(page)).to_contain_text("were erased")
    axe_check(page)

    # --- Anyone checking the certificate ------------------------------------------------
    visitor = new_page()
    visitor.goto(f"/verify/{token}")
    expect(
        visitor.get_by_role("heading", level=2, name=re.compile("^Withdrawn on"))
    ).to_be_visible()
    expect(visitor.get_by_text("withdrawn at the holder’s request")).to_be_visible()
    assert "Gwen" not in visitor.content() and "Morgan" not in visitor.content()
    axe_check(visitor)
    visitor.screenshot(path=str(tmp_path / "verify-withdrawn.png"), full_page=True)
