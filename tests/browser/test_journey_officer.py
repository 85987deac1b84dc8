"""A national officer confirms one accreditation and declines another (the decline first
refused without a note), then reads the register and downloads it as CSV. Through the
pages only, with axe-core on every page at the desktop and the phone size.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from lms.accounts.models import User
from lms.accreditation import services as accreditation
from lms.accreditation.models import AccreditationStatus
from lms.extensions import db
from lms.learning import services as learning
from tests.browser.journey_helpers import complete_activities, go, log_in, status
from tests.functional.run_helpers import complete_course

pytestmark = pytest.mark.browser

DECLINE_NOTE = "Your day 2 attendance is missing: please book the next run's second day."


def awaiting_confirmation(app: Flask, user_id: int) -> None:
    """A trainee who finished the rep course and waits for the officer (made directly:
    the attendance and online work are other journeys' steps)."""
    complete_course(app, user_id)
    complete_activities(app, user_id, "rep", except_keys=set())
    with app.app_context():
        user = db.session.get(User, user_id)
        course = learning.catalogue().get("rep")
        learning.check_completion(learning.get_enrolment(user, course), course)
        accreditation._insert_accreditation(user, course, status=AccreditationStatus.PENDING.value)
        db.session.commit()


def test_officer_decides_accreditations_and_reads_the_register(
    app: Flask, make, page: Page, axe_check
) -> None:
    make("officer", email="officer@example.org", name="Tomasz Wronski", region_name="North East")
    for email, name in (
        ("aled@example.org", "Aled Price"),
        ("bethan@example.org", "Bethan Hughes"),
    ):
        awaiting_confirmation(app, make("trainee", email=email, name=name))

    log_in(page, "officer@example.org", "Hello, Tomasz")
    go(page, "Register", "Register of reps and link members")
    pending = page.get_by_role("region", name=re.compile(r"^2 accreditations to confirm"))
    expect(pending).to_be_visible()
    axe_check(page)

    # --- Confirm the first --------------------------------------------------------------
    pending.get_by_role("link", name="Aled Price").click()
    expect(page.get_by_role("heading", level=1, name="Accreditation: Aled Price")).to_be_visible()
    expect(page.get_by_role("region", name="Evidence")).to_be_visible()
    axe_check(page)
    page.get_by_label("Note to the trainee").fill("Well done, and welcome to the reps.")
    page.get_by_role("button", name="Confirm accreditation").click()
    expect(status(page)).to_contain_text("Accreditation confirmed. Certificate")
    expect(
        page.get_by_role("heading", level=1, name="Register of reps and link members")
    ).to_be_visible()
    axe_check(page)

    # --- Decline the second: refused without a note, then with one ----------------------
    page.get_by_role("region", name=re.compile(r"^1 accreditation to confirm")).get_by_role(
        "link", name="Bethan Hughes"
    ).click()
    expect(
        page.get_by_role("heading", level=1, name="Accreditation: Bethan Hughes")
    ).to_be_visible()
    page.get_by_role("button", name="Decline").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Tell the trainee why, and what to do next.")
    axe_check(page)
    # The error links to the field that needs the note.
    alert.get_by_role("link").click()
    expect(page.get_by_label("Note to the trainee")).to_be_focused()
    page.get_by_label("Note to the trainee").fill(DECLINE_NOTE)
    page.get_by_role("button", name="Decline").click()
    expect(status(page)).to_contain_text("Accreditation declined.")

    # --- The register shows both decisions; its CSV holds the same rows -----------------
    table = page.get_by_role("table", name="Register")
    rep_rows = table.get_by_role("row").filter(has_text="MiP rep course")
    aled = rep_rows.filter(has=page.get_by_role("rowheader", name=re.compile("^Aled Price")))
    bethan = rep_rows.filter(has=page.get_by_role("rowheader", name=re.compile("^Bethan Hughes")))
    expect(aled.get_by_role("link", name=re.compile(r"^MIP-"))).to_be_visible()
    expect(bethan).to_contain_text(DECLINE_NOTE)
    axe_check(page)
    page.get_by_label("Name or email").fill("bethan")
    page.get_by_role("button", name="Filter").click()
    expect(table.get_by_role("rowheader", name=re.compile("^Aled"))).to_have_count(0)
    axe_check(page)
    page.get_by_label("Name or email").fill("")
    page.get_by_role("button", name="Filter").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv"), download.suggested_filename
    with open(download.path(), encoding="utf-8-sig") as f:
        rows = list(csv.reader(io.StringIO(f.read())))
    text = "\n".join(",".join(r) for r in rows)
    assert "Aled Price" in text and "Bethan Hughes" in text, text

    # --- The certificate issued, from the register --------------------------------------
    aled.get_by_role("link", name=re.compile(r"^MIP-")).click()
    expect(
        page.get_by_role("heading", level=1, name=re.compile(r"^Certificate MIP-"))
    ).to_be_visible()
    axe_check(page)
