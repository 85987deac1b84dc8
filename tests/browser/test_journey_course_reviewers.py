"""The training office names a reviewer for an online course whose answers reached no one
(issue 12): the dashboard counts the unassigned work, the list links to the course's
reviewers, the reviewer then has both answers in their queue. Through the pages only,
with axe-core on each page.
"""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.journey_helpers import go, log_in
from tests.conftest import login

pytestmark = pytest.mark.browser


def test_training_office_names_a_reviewer_for_unassigned_work(
    app: Flask, make, page: Page, new_page, axe_check, shot
) -> None:
    from tests.functional.review_helpers import send_case_studies
    from tests.functional.test_learning import enrol

    make("admin", email="admin@example.org", name="Nia Roberts")
    make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    make("trainee", email="t@example.org", name="Tegan Morris")
    trainee = app.test_client()
    assert login(trainee, "t@example.org").status_code == 302
    enrol(trainee)
    send_case_studies(trainee, app)

    log_in(page, "admin@example.org", "Hello, Nia", axe_check=axe_check)
    panel = page.get_by_role("article").filter(
        has=page.get_by_role("heading", name="Work with no reviewer")
    )
    expect(panel).to_contain_text("2 answers wait with no one to review them")
    axe_check(page)
    shot("dashboard")
    panel.get_by_role("link", name="See the unassigned work").click()
    expect(
        page.get_by_role("heading", level=1, name="Work with no one to review it")
    ).to_be_visible()
    expect(page.get_by_role("cell", name="Tegan Morris", exact=True)).to_have_count(2)
    axe_check(page)
    shot("unassigned")
    page.get_by_role("link", name="Name reviewers for MiP link member course").first.click()
    expect(
        page.get_by_role("heading", level=1, name="Reviewers of MiP link member course")
    ).to_be_visible()
    page.get_by_role("button", name="Add reviewer").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose a facilitator to add.")
    axe_check(page)
    page.get_by_label("Facilitator").select_option(label="Femi Adeyemi")
    page.get_by_role("button", name="Add reviewer").click()
    expect(
        page.get_by_text("Femi Adeyemi now reviews work on MiP link member course.")
    ).to_be_visible()
    axe_check(page)
    shot("course-reviewers")
    go(page, "Administration", "Accounts")
    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Course reviewers"
    ).click()
    expect(page.get_by_role("heading", level=1, name="Course reviewers")).to_be_visible()
    expect(page.get_by_text("All waiting work has someone to review it.")).to_be_visible()
    axe_check(page)
    shot("overview")

    reviewer = new_page()
    log_in(reviewer, "fac@example.org", "Hello, Femi")
    reviewer.goto("/facilitate/reviews")
    expect(reviewer.get_by_role("link", name="Tegan Morris", exact=True)).to_have_count(2)
