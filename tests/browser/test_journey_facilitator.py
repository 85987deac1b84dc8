"""A facilitator's day on a phone (390 px wide): attendance for a run, a case-study review,
the run's feedback results and their CSV, and a "you said, we did" record. Through the
pages only, with axe-core on every page at the phone and the desktop size.

The five trainees' places, feedback and case-study answer are sent beforehand through
the app's own forms with the test client (the trainee journey sends them in a browser).
"""

from __future__ import annotations

import csv
import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE
from tests.browser.journey_helpers import go, log_in, no_sideways_scrolling, status
from tests.browser.test_journey_trainee import ANSWER, CASE
from tests.conftest import csrf_from
from tests.functional.test_feedback import answers, cohort, send

pytestmark = pytest.mark.browser

RUN_TITLE = "Rep course, London"
CASE_URL = f"/learn/rep/{CASE}"
NAMES = [f"Trainee Person{i}" for i in range(5)]


@pytest.mark.parametrize("viewport", [PHONE], ids=["phone"])
def test_facilitator_day_on_a_phone(app: Flask, make, page: Page, axe_check) -> None:
    run_id, clients = cohort(app, make, 5, run_title=RUN_TITLE)
    for i, client in enumerate(clients):
        assert send(client, answers(improve=f"More role play, please ({i})")).status_code == 302
    html = clients[0].get(CASE_URL).get_data(as_text=True)
    sent = clients[0].post(CASE_URL, data={"csrf_token": csrf_from(html), "answer": ANSWER})
    assert sent.status_code == 302

    log_in(page, "fac@example.org", "Hello, Femi")
    go(page, "Facilitate", "Facilitation")
    axe_check(page)
    page.get_by_role("link", name=RUN_TITLE, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=RUN_TITLE)).to_be_visible()
    no_sideways_scrolling(page)
    axe_check(page)

    # --- Attendance, day 1 --------------------------------------------------------------
    page.get_by_role("link", name=re.compile(r"^Attendance: day 1\b")).click()
    expect(page.get_by_role("heading", level=1, name="Attendance, day 1")).to_be_visible()
    axe_check(page)
    for name in NAMES:
        status_of = "Absent" if name == NAMES[4] else "Present"
        radio = page.get_by_role("group", name=name, exact=True).get_by_role(
            "radio", name=status_of, exact=True
        )
        radio.check()
        expect(radio).to_be_checked()
    box = (
        page.get_by_role("group", name=NAMES[0], exact=True)
        .get_by_role("radio", name="Present", exact=True)
        .bounding_box()
    )
    assert box and box["width"] >= 44 and box["height"] >= 44, box
    no_sideways_scrolling(page)
    page.get_by_role("button", name="Save attendance").click()
    expect(status(page)).to_have_text("Attendance saved for day 1 (5 changed).")
    axe_check(page)

    # --- How the cohort is doing (the grid has no link from the run page yet) ----------
    page.goto(f"/facilitate/runs/{run_id}/progress")
    expect(page.get_by_role("heading", level=1, name="How the cohort is doing")).to_be_visible()
    no_sideways_scrolling(page)
    axe_check(page)
    page.go_back()

    # --- A case-study review: refused without a decision, then saved --------------------
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name=RUN_TITLE).click()
    page.get_by_role("link", name="Review queue").click()
    expect(page.get_by_role("heading", name="Answers to review")).to_be_visible()
    no_sideways_scrolling(page)
    axe_check(page)
    page.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name=NAMES[0], exact=True)
    ).get_by_role("link", name=NAMES[0]).click()
    expect(page.get_by_text("ask him not to send the angry email")).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    axe_check(page)
    for criterion in app.extensions["lms.courses"].get("rep").activity(CASE).config.criteria:
        page.get_by_role("group", name=criterion.text, exact=True).get_by_role(
            "radio", name="Met", exact=True
        ).check()
    page.get_by_label("Comments for the trainee").fill("Thorough and well ordered.")
    page.get_by_role("group", name="Decision", exact=True).get_by_role(
        "radio", name="Meets the standard", exact=True
    ).check()
    page.get_by_role("button", name="Save review").click()
    expect(status(page)).to_have_text(f"Review saved. {NAMES[0]} can see it on their dashboard.")
    axe_check(page)

    # --- The run's feedback, and its CSV ------------------------------------------------
    go(page, "Facilitate", "Facilitation")
    page.get_by_role("link", name=RUN_TITLE, exact=True).click()
    page.get_by_role("link", name="Feedback results").click()
    expect(page.get_by_role("heading", level=1, name=f"Feedback: {RUN_TITLE}")).to_be_visible()
    expect(page.get_by_text("More role play, please (3)")).to_be_visible()
    no_sideways_scrolling(page)
    axe_check(page)
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("^Download CSV")).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv"), download.suggested_filename
    with open(download.path(), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["form", "run", "response", "question", "answer"], rows[0]
    assert any("More role play, please (0)" in row for row in rows)

    # --- "You said, we did": refused empty, then recorded -------------------------------
    page.get_by_role("link", name="You said, we did").first.click()
    expect(
        page.get_by_role("heading", level=1, name=re.compile("^You said, we did"))
    ).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Record change").click()
    expect(page.get_by_role("alert")).to_contain_text("Say what people told you.")
    axe_check(page)
    page.get_by_label("You said", exact=True).fill("Several of you asked for more role play.")
    page.get_by_label("We did", exact=True).fill("Day 2 now has a second role-play session.")
    page.get_by_role("button", name="Record change").click()
    expect(status(page)).to_be_visible()
    changes = page.get_by_role("region", name="Changes so far")
    expect(changes).to_contain_text("Day 2 now has a second role-play session.")
    axe_check(page)

    # --- Feedback across all runs of the course -----------------------------------------
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Feedback").click()
    expect(
        page.get_by_role("heading", level=1, name=re.compile("^Feedback: all runs"))
    ).to_be_visible()
    no_sideways_scrolling(page)
    axe_check(page)
