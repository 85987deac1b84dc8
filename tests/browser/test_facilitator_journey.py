"""A facilitator's run and a trainee's case study, in two real browsers against one live server.

The facilitator marks attendance for both days of a run and corrects a mark; a trainee
writes a case-study answer (autosaved as a draft), sends it, is asked for more work,
revises it and has it accepted. Each person has their own browser context, so the two
sessions never share cookies. Locators are by role and label, as in the trainee journey.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from flask import Flask
from playwright.sync_api import Browser, Locator, Page, expect

from lms.accounts.models import User
from lms.extensions import db
from lms.runs import services as runs
from tests.browser.conftest import ARTIFACTS, TIMEOUT_MS
from tests.conftest import PASSWORD
from tests.functional.run_helpers import complete_course, get_run, make_run

pytestmark = pytest.mark.browser

CASE = "representing-members-case"
CASE_URL = f"/learn/rep/{CASE}"
RUN_TITLE = "rep run, London"
LONDON = ZoneInfo("Europe/London")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"

FIRST_ANSWER = (
    "First I would listen. Marcus has had four months of silence, so I would let him talk, "
    "acknowledge how hard that has been and ask what he wants to happen. I would ask him not "
    "to send the email to the chief executive tonight: written in anger it could be read as "
    "trying to influence the investigation, and it gives away his side before he has seen "
    "the allegations. I would also ask him not to resign while he is exhausted.\n\n"
    "Next, with his agreement, I would write to HR asking for the allegations in writing, "
    "the name of the investigating officer, a timetable and a named contact for updates. "
    "I would point to the Acas Code, which says issues should be dealt with promptly and "
    "suspension kept as brief as possible, and to the trust's own policy.\n\n"
    "For his wellbeing I would encourage him to see his GP, and to accept a fit note if he "
    "needs one, and ask the trust to confirm he can use occupational health and the employee "
    "assistance programme. I would agree how often we will speak.\n\n"
    "Before any interview we would go through the allegations together, build a timeline in "
    "his own words and list the documents he needs. I would explain that he answers the "
    "questions and I make sure the process is fair."
)
REVISION = (
    "\n\nI would also ask the trust to review the suspension every four weeks and to consider "
    "alternatives such as work away from procurement. Because dismissal is possible and "
    "counter-fraud may be involved, I would contact the MiP national officer now, not later, "
    "and hand over a short summary, the letter and our correspondence."
)
NEEDS_WORK_COMMENTS = (
    "A good, calm start. Say when you would involve the national officer, and press for a "
    "review of the suspension itself."
)
ACCEPT_COMMENTS = "Well reasoned: the escalation is now clear."


@pytest.fixture()
def other_page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A second person's browser: a context of its own, set up like the ``context`` fixture."""
    context = browser.new_context(
        base_url=live_server,
        viewport=DESKTOP,
        locale="en-GB",
        timezone_id="Europe/London",
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture()
def snap(request: pytest.FixtureRequest, backend: str) -> Callable[[Page, str], Path]:
    """snap(page, name): a full-page screenshot of either browser, numbered in one sequence."""
    folder = ARTIFACTS / re.sub(r"\[.*\]$", "", request.node.name) / backend
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    counter = iter(range(1, 1000))

    def _snap(page: Page, name: str) -> Path:
        path = folder / f"{next(counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _snap


def log_in(page: Page, email: str, heading: str) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()


def person(page: Page, name: str) -> Locator:
    """One trainee's attendance fieldset, found by its legend."""
    return page.get_by_role("group", name=name, exact=True)


def mark(page: Page, name: str, status: str) -> None:
    radio = person(page, name).get_by_role("radio", name=status, exact=True)
    radio.check()
    expect(radio).to_be_checked()


def trainee_row(page: Page, name: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name, exact=True))


def expect_marks(page: Page, name: str, day1: str, day2: str) -> None:
    # Cells after the row header: place, online modules, day 1, day 2.
    cells = trainee_row(page, name).get_by_role("cell")
    expect(cells.nth(2)).to_have_text(day1)
    expect(cells.nth(3)).to_have_text(day2)


def minutes_between(start: datetime, end: datetime) -> list[str]:
    """Each minute from ``start`` to ``end`` as the app shows times ("3 May 2026, 14:05")."""
    shown, moment = [], start.replace(second=0, microsecond=0)
    while moment <= end:
        shown.append(format_datetime(moment, "d MMMM y, HH:mm", tzinfo=LONDON, locale="en_GB"))
        moment += timedelta(minutes=1)
    return shown


def review(page: Page, app: Flask, not_yet: set[str], comments: str, decision: str) -> None:
    """Mark every criterion, write comments, choose the decision and save."""
    for criterion in app.extensions["lms.courses"].get("rep").activity(CASE).config.criteria:
        value = "Not yet" if criterion.key in not_yet else "Met"
        radio = page.get_by_role("group", name=criterion.text, exact=True).get_by_role(
            "radio", name=value, exact=True
        )
        radio.check()
        expect(radio).to_be_checked()
    page.get_by_label("Comments for the trainee").fill(comments)
    decision_group = page.get_by_role("group", name="Decision", exact=True)
    decision_group.get_by_role("radio", name=decision, exact=True).check()


def test_facilitator_runs_a_course_and_reviews_a_case_study(
    app: Flask, make, page: Page, other_page: Page, snap, axe_check
) -> None:
    """Pages also met in test_journey_trainee.py and test_journey_facilitator.py are
    checked by axe there; here only the states those journeys do not reach."""
    facilitator, trainee = page, other_page
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    names = ["Aisha Khan", "Ben Carter", "Chloe Davies"]
    ids = [make("trainee", email=f"t{i}@example.org", name=n) for i, n in enumerate(names)]
    for uid in ids:
        complete_course(app, uid)
    run_id = make_run(app, facilitators=[fac])
    # Two sign up through the services; the first signs up in the browser, below.
    with app.app_context():
        for uid in ids[1:]:
            runs.sign_up(db.session.get(User, uid), get_run(run_id))
        db.session.commit()

    # --- A trainee signs up on the course page ------------------------------------------
    log_in(trainee, "t0@example.org", "Hello, Aisha")
    trainee.goto("/courses/rep")
    expect(trainee.get_by_role("heading", level=1, name="MiP rep course")).to_be_visible()
    days = trainee.get_by_role("region", name="Course days")
    card = days.get_by_role("listitem").filter(has=trainee.get_by_role("heading", name=RUN_TITLE))
    expect(card.get_by_text("6 places left")).to_be_visible()
    snap(trainee, "trainee-course-runs")
    card.get_by_role("button", name=re.compile(r"^Sign up\b")).click()
    expect(trainee.get_by_role("status")).to_have_text(f"You have a place on {RUN_TITLE}.")
    expect(trainee.get_by_role("button", name="Give up my place")).to_be_visible()
    snap(trainee, "trainee-signed-up")

    # --- The facilitator finds the run ---------------------------------------------------
    log_in(facilitator, "fac@example.org", "Hello, Femi")
    nav = facilitator.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Facilitate").click()
    expect(facilitator.get_by_role("heading", level=1, name="Facilitation")).to_be_visible()
    expect(nav.get_by_role("link", name="Facilitate")).to_have_attribute("aria-current", "page")
    snap(facilitator, "facilitator-runs")
    facilitator.get_by_role("link", name=RUN_TITLE, exact=True).click()
    expect(facilitator.get_by_role("heading", level=1, name=RUN_TITLE)).to_be_visible()
    expect(facilitator.get_by_text("3 of 8 places taken")).to_be_visible()
    for name in names:
        expect_marks(facilitator, name, "Not marked", "Not marked")
    snap(facilitator, "run-before-attendance")

    # --- Day 1: one present, one absent, one excused with a note -------------------------
    facilitator.get_by_role("link", name=re.compile(r"^Attendance: day 1\b")).click()
    expect(facilitator.get_by_role("heading", level=1, name="Attendance, day 1")).to_be_visible()
    mark(facilitator, names[0], "Present")
    mark(facilitator, names[1], "Absent")
    mark(facilitator, names[2], "Excused")
    person(facilitator, names[2]).get_by_label(f"Note (optional) for {names[2]}").fill(
        "Caring responsibilities"
    )
    snap(facilitator, "attendance-day-1-marked")
    facilitator.get_by_role("button", name="Save attendance").click()
    expect(facilitator.get_by_role("status")).to_have_text(
        "Attendance saved for day 1 (3 changed)."
    )
    expect(person(facilitator, names[1]).get_by_role("radio", name="Absent")).to_be_checked()
    expect(person(facilitator, names[2]).get_by_label(re.compile("^Note"))).to_have_value(
        "Caring responsibilities"
    )

    # --- Day 2 on a phone: everybody present, through the days' own navigation -----------
    facilitator.set_viewport_size(PHONE)
    facilitator.get_by_role("navigation", name="Days").get_by_role("link", name="Day 2").click()
    expect(facilitator.get_by_role("heading", level=1, name="Attendance, day 2")).to_be_visible()
    for name in names:
        mark(facilitator, name, "Present")
    # Each status is a big target, and nothing scrolls sideways.
    box = person(facilitator, names[0]).get_by_role("radio", name="Absent").bounding_box()
    assert box and box["width"] >= 44 and box["height"] >= 44, box
    assert facilitator.evaluate(SIDEWAYS) <= 0
    snap(facilitator, "attendance-day-2-phone")
    facilitator.get_by_role("button", name="Save attendance").click()
    expect(facilitator.get_by_role("status")).to_have_text(
        "Attendance saved for day 2 (3 changed)."
    )
    facilitator.set_viewport_size(DESKTOP)
    snap(facilitator, "attendance-day-2-saved")

    # The run's table shows every mark.
    breadcrumbs = facilitator.get_by_role("navigation", name="Breadcrumb")
    breadcrumbs.get_by_role("link", name=RUN_TITLE).click()
    expect(facilitator.get_by_role("heading", level=1, name=RUN_TITLE)).to_be_visible()
    expect_marks(facilitator, names[0], "Present", "Present")
    expect_marks(facilitator, names[1], "Absent", "Present")
    expect_marks(facilitator, names[2], "Excused", "Present")
    snap(facilitator, "run-with-attendance")

    # --- A correction on day 1, kept beside the original mark ----------------------------
    facilitator.get_by_role("link", name=re.compile(r"^Attendance: day 1\b")).click()
    expect(facilitator.get_by_role("heading", level=1, name="Attendance, day 1")).to_be_visible()
    mark(facilitator, names[1], "Present")
    before = datetime.now(LONDON)
    facilitator.get_by_role("button", name="Save attendance").click()
    expect(facilitator.get_by_role("status")).to_have_text(
        "Attendance saved for day 1 (1 changed)."
    )
    after = datetime.now(LONDON)
    record = facilitator.get_by_role("region", name="Record of marks and corrections")
    rows = record.get_by_role("row").filter(has=facilitator.get_by_role("cell"))
    expect(rows).to_have_count(4)
    # Oldest first: the original absence stays, the correction comes last with who and when.
    expect(rows.filter(has_text="Absent")).to_have_count(1)
    original = rows.filter(has_text="Absent").get_by_role("cell")
    expect(original).to_have_text(
        [re.compile(r"\d{2}:\d{2}$"), names[1], "Absent", "", "Femi Adeyemi"]
    )
    correction = rows.last.get_by_role("cell")
    expect(correction).to_have_text(
        [
            re.compile("|".join(map(re.escape, minutes_between(before, after)))),
            names[1],
            "Present",
            "",
            "Femi Adeyemi",
        ]
    )
    expect(person(facilitator, names[1]).get_by_role("radio", name="Present")).to_be_checked()
    snap(facilitator, "attendance-corrected")
    axe_check(facilitator)
    breadcrumbs.get_by_role("link", name=RUN_TITLE).click()
    expect_marks(facilitator, names[1], "Present", "Present")

    # --- The trainee writes a case-study answer; the draft is saved as they type ---------
    trainee.goto(CASE_URL)
    expect(trainee.get_by_role("heading", level=1)).to_have_text(
        "Case study: Suspended while the investigation drags on"
    )
    expect(trainee.get_by_role("heading", name="The situation")).to_be_visible()
    expect(trainee.get_by_role("note")).to_contain_text("Keep it anonymous.")
    expect(trainee.get_by_role("heading", name="Model guidance")).to_have_count(0)
    answer = trainee.get_by_label("Write how you would handle this situation")
    answer.fill(FIRST_ANSWER)
    # drafts.js posts the draft after 1.5 s without typing; the status is the field's description.
    expect(answer).to_have_accessible_description(re.compile(r"Draft saved\.$"), timeout=15_000)
    snap(trainee, "case-study-draft-saved")
    axe_check(trainee)
    trainee.reload()
    expect(answer).to_have_value(FIRST_ANSWER)
    # "Draft saved." on a fresh page comes from the server, so the server has the text.
    expect(answer).to_have_accessible_description(re.compile(r"Draft saved\.$"), timeout=15_000)
    trainee.get_by_role("button", name="Send my answer for review").click()
    # The model guidance shows once the answer meets the standard (the course's default).
    expect(
        trainee.get_by_text("The model guidance appears here once a facilitator has reviewed it")
    ).to_be_visible()
    expect(trainee.get_by_role("heading", name="Model guidance")).to_have_count(0)
    expect(trainee.get_by_text("Waiting for a facilitator to review it")).to_be_visible()
    expect(answer).to_have_count(0)
    snap(trainee, "case-study-sent")

    # --- The facilitator asks for more work ----------------------------------------------
    nav.get_by_role("link", name="Facilitate").click()
    facilitator.get_by_role("navigation", name="Facilitation").get_by_role(
        "link", name="Review queue"
    ).click()
    expect(facilitator.get_by_role("heading", name="Answers to review")).to_be_visible()
    waiting = trainee_row(facilitator, names[0])
    expect(waiting).to_contain_text("Waiting for review")
    snap(facilitator, "review-queue")
    waiting.get_by_role("link", name=names[0]).click()
    expect(facilitator.get_by_role("heading", level=1)).to_have_text(
        "Case study: Suspended while the investigation drags on"
    )
    expect(facilitator.get_by_text("I would ask him not to send the email")).to_be_visible()
    review(facilitator, app, {"escalate", "progress"}, NEEDS_WORK_COMMENTS, "Needs more work")
    snap(facilitator, "review-needs-work")
    facilitator.get_by_role("button", name="Save review").click()
    expect(facilitator.get_by_role("status")).to_have_text(
        "Review saved. Aisha Khan can see it on their dashboard."
    )
    expect(facilitator.get_by_text("Nothing is waiting for review.")).to_be_visible()

    # --- The trainee sees it on the dashboard, revises and resends -----------------------
    trainee.get_by_role("navigation", name="Main").get_by_role("link", name="My courses").click()
    expect(trainee.get_by_role("heading", level=1, name="Hello, Aisha")).to_be_visible()
    outcome = trainee.get_by_role("listitem").filter(
        has=trainee.get_by_role("heading", name="Case study: Suspended while the investigation")
    )
    expect(outcome.get_by_text("Needs more work", exact=True)).to_be_visible()
    expect(outcome).to_contain_text(NEEDS_WORK_COMMENTS)
    snap(trainee, "dashboard-needs-work")
    axe_check(trainee)
    outcome.get_by_role("link", name="Revise and resend your answer").click()
    expect(trainee.get_by_role("heading", name="Revise your answer")).to_be_visible()
    axe_check(trainee)
    expect(answer).to_have_value(FIRST_ANSWER)
    answer.fill(FIRST_ANSWER + REVISION)
    expect(answer).to_have_accessible_description(re.compile(r"Draft saved\.$"), timeout=15_000)
    trainee.get_by_role("button", name="Send my revised answer").click()
    expect(trainee.get_by_text("Waiting for a facilitator to review it")).to_be_visible()

    # --- The facilitator accepts the new version -----------------------------------------
    facilitator.reload()
    second = trainee_row(facilitator, names[0])
    expect(second.get_by_role("cell").nth(2)).to_have_text("2")
    second.get_by_role("link", name=names[0]).click()
    versions = facilitator.get_by_role("heading", name=re.compile(r"^Version \d, sent"))
    expect(versions).to_have_count(2)
    expect(facilitator.get_by_role("heading", name="Your review of version 2")).to_be_visible()
    review(facilitator, app, set(), ACCEPT_COMMENTS, "Meets the standard")
    snap(facilitator, "review-accept")
    axe_check(facilitator)
    facilitator.get_by_role("button", name="Save review").click()
    expect(facilitator.get_by_text("Nothing is waiting for review.")).to_be_visible()

    # --- The trainee's page shows both versions and both reviews, in order ---------------
    trainee.reload()
    history = trainee.get_by_role("region", name="Your versions and reviews")
    items = history.get_by_role("listitem").filter(
        has=trainee.get_by_role("heading", name=re.compile(r"^Version \d, sent"))
    )
    expect(items).to_have_count(2)
    expect(items.first.get_by_role("heading")).to_have_text(re.compile(r"^Version 1, sent"))
    expect(items.first).to_contain_text("Needs more work")
    expect(items.first).to_contain_text(NEEDS_WORK_COMMENTS)
    expect(items.last.get_by_role("heading")).to_have_text(re.compile(r"^Version 2, sent"))
    expect(items.last).to_contain_text("Meets the standard")
    expect(items.last).to_contain_text(ACCEPT_COMMENTS)
    expect(items.first).not_to_contain_text("Meets the standard")
    expect(trainee.get_by_role("heading", name="Model guidance")).to_be_visible()
    expect(trainee.get_by_label("Write how you would handle this situation")).to_have_count(0)
    snap(trainee, "case-study-accepted")
    axe_check(trainee)
