"""The training office: creates an account, imports accounts from CSV, creates a course
run and revokes a certificate, each form first sent with a mistake to see its errors.
Through the pages only, with axe-core on every page at the desktop and the phone size.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.journey_helpers import go, log_in, status
from tests.functional.accreditation_helpers import grant

pytestmark = pytest.mark.browser

IMPORT = """email,name,roles,region
ana.silva@example.org,Ana Silva,trainee,North East
dai.evans@example.org,Dai Evans,trainee;facilitator,Wales
"""


def test_administrator_accounts_runs_and_revocation(
    app: Flask, make, page: Page, axe_check
) -> None:
    make("admin", email="admin@example.org", name="Nia Roberts")
    make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    holder = make("trainee", email="gwen@example.org", name="Gwen Morgan")
    _id, number, _token = grant(app, holder, "link-member")

    log_in(page, "admin@example.org", "Hello, Nia", axe_check=axe_check)
    axe_check(page)

    # --- A new account ------------------------------------------------------------------
    go(page, "Administration", "Accounts")
    axe_check(page)
    admin_nav = page.get_by_role("navigation", name="Administration")
    admin_nav.get_by_role("link", name="New account").click()
    expect(page.get_by_role("heading", level=1, name="New account")).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Create account").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("Enter the person's name.")
    axe_check(page)
    page.get_by_label("Full name").fill("Rhys Jenkins")
    page.get_by_label("Email address").fill("rhys.jenkins@example.org")
    page.get_by_role("group", name="Roles").get_by_label("Trainee").check()
    page.get_by_label("Region", exact=True).select_option(label="Wales")
    page.get_by_role("button", name="Create account").click()
    expect(status(page)).to_contain_text("Account created for Rhys Jenkins.")
    expect(page.get_by_role("heading", level=1, name="Rhys Jenkins")).to_be_visible()
    axe_check(page)
    admin_nav.get_by_role("link", name="Accounts", exact=True).click()
    expect(page.get_by_role("link", name="Rhys Jenkins")).to_be_visible()

    # --- Accounts imported from pasted CSV: a bad row refuses all, then fixed -----------
    admin_nav.get_by_role("link", name="Import accounts").click()
    expect(page.get_by_role("heading", level=1, name="Import accounts")).to_be_visible()
    axe_check(page)
    rows = page.get_by_label("Or paste the rows")
    rows.fill(IMPORT.replace("Wales", "Atlantis"))
    page.get_by_role("button", name="Check and import").click()
    expect(page.get_by_role("heading", name="Nothing was imported")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="1 row was refused")).to_be_visible()
    axe_check(page)
    rows.fill(IMPORT)
    page.get_by_role("button", name="Check and import").click()
    expect(status(page)).to_contain_text("Imported 2 accounts")
    expect(page.get_by_role("link", name="Dai Evans")).to_be_visible()
    axe_check(page)

    # --- A new course run ---------------------------------------------------------------
    admin_nav.get_by_role("link", name="Course runs").click()
    expect(page.get_by_role("heading", level=1, name="Course runs")).to_be_visible()
    axe_check(page)
    page.get_by_role("main").get_by_role("link", name="New run").click()
    expect(page.get_by_role("heading", level=1, name="New run")).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Create run").click()
    expect(page.get_by_role("alert").first).to_contain_text("There is a problem")
    axe_check(page)
    start = date.today() + timedelta(days=45)
    page.get_by_label("Course", exact=True).select_option(label="MiP rep course")
    page.get_by_label("Name of the run").fill("Rep course, Cardiff, spring")
    page.get_by_label(re.compile(r"^Day 1(: date)?$")).fill(start.isoformat())
    page.get_by_label(re.compile(r"^Day 2(: date)?$")).fill((start + timedelta(days=1)).isoformat())
    page.get_by_role("textbox", name="Venue", exact=True).fill("Temple of Peace, Cardiff")
    page.get_by_label("Places", exact=True).fill("12")
    page.get_by_role("group", name="Facilitators").get_by_label("Femi Adeyemi").check()
    page.get_by_role("button", name="Create run").click()
    expect(status(page)).to_contain_text("Run created.")
    expect(page.get_by_role("heading", level=1, name="Rep course, Cardiff, spring")).to_be_visible()
    axe_check(page)
    admin_nav.get_by_role("link", name="Course runs").click()
    expect(page.get_by_role("link", name="Rep course, Cardiff, spring")).to_be_visible()

    # --- Regions and background jobs ----------------------------------------------------
    admin_nav.get_by_role("link", name="Regions").click()
    expect(page.get_by_role("heading", level=1, name="Regions")).to_be_visible()
    page.get_by_role("button", name="Add region").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter the region's name.")
    axe_check(page)
    page.get_by_label("Region name").fill("Channel Islands")
    page.get_by_role("button", name="Add region").click()
    expect(status(page)).to_contain_text("Region Channel Islands added.")
    expect(page.get_by_role("cell", name="Channel Islands")).to_be_visible()
    axe_check(page)
    admin_nav.get_by_role("link", name="Background jobs").click()
    expect(page.get_by_role("heading", level=1, name="Background jobs")).to_be_visible()
    axe_check(page)

    # --- Revoke a certificate: the reason is required -----------------------------------
    go(page, "Register", "Register of reps and link members")
    axe_check(page)
    page.get_by_role("link", name="Certificates issued").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    axe_check(page)
    page.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", level=1, name=f"Certificate {number}")).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("alert")).to_have_text("Give the reason for revoking it.")
    expect(page.get_by_text("Valid", exact=True)).to_be_visible()
    axe_check(page)
    page.get_by_label("Reason").fill("Issued to the wrong person by mistake.")
    page.get_by_role("button", name="Revoke").click()
    expect(status(page)).to_contain_text(f"Certificate {number} revoked.")
    expect(
        page.get_by_text(re.compile(r"^Revoked on .*: Issued to the wrong person"))
    ).to_be_visible()
    expect(page.get_by_role("button", name="Revoke")).to_have_count(0)
    axe_check(page)
