"""A trainee's whole journey, through the pages only, with axe-core on every page.

Sam joins the link member course, reads, fails and then passes a knowledge check,
gives feedback on the course and gets the certificate (the PDF downloads); then joins
the rep course, books a place on a run, sends a case-study answer and sees it reviewed
by a facilitator, who works in a browser of their own. Every page visited, including
those after a submission and those with errors, is checked by ``axe_check`` at the
desktop and the phone size.

The activities between the first module and the feedback form are marked done in the
test process (``complete_activities``): they are the same kinds of page as those
visited, and doing all of them by hand would only make the test slow. The link member
course's two case studies, which must meet the standard before the certificate, are
sent and reviewed by its course reviewer there too (the rep part covers those pages).
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.journey_helpers import (
    answer_quiz,
    complete_activities,
    go,
    log_in,
    status,
)
from tests.conftest import PASSWORD, login
from tests.functional.review_helpers import name_reviewer, review_latest, send_case_studies
from tests.functional.run_helpers import make_run

pytestmark = pytest.mark.browser

BASIC = "link-member"
READING = "promoting-mip-reading"
QUIZ = "promoting-mip-check"
FEEDBACK = "feedback-end"
CASE = "representing-members-case"
RUN_TITLE = "Rep course, Leeds"
ANSWER = (
    "First I would listen and let Marcus say what has happened and what he wants. I would "
    "ask him not to send the angry email to the chief executive tonight, and not to resign "
    "while he is exhausted. With his agreement I would write to HR asking for the "
    "allegations in writing, the name of the investigating officer, a timetable and a named "
    "contact, pointing to the Acas Code: suspension should be as brief as possible and kept "
    "under review. I would encourage him to see his GP and to use occupational health and "
    "the employee assistance programme, and agree how often we will speak. Before any "
    "interview we would go through the allegations together and build a timeline in his "
    "own words. I would involve the national officer early, because a dismissal could "
    "follow, and keep notes of every contact with the trust. Finally I would ask the trust "
    "to review the suspension itself, since it has run for months without a date."
)
COMMENTS = "Clear and calm, with the escalation to the national officer in the right place."


def test_trainee_journey(app: Flask, make, page: Page, new_page, axe_check) -> None:
    uid = make("trainee", email="sam@example.org", name="Sam Okafor")
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    make_run(app, facilitators=[fac], title=RUN_TITLE)
    courses = app.extensions["lms.courses"]
    quiz = courses.get(BASIC).activity(QUIZ).config

    # --- Home, a mistyped password, then the dashboard --------------------------------
    page.goto("/")
    axe_check(page)
    page.get_by_role("main").get_by_role("link", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    axe_check(page)
    page.get_by_label("Email address").fill("sam@example.org")
    page.get_by_label("Password").fill("not my password at all")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    axe_check(page)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Hello, Sam")).to_be_visible()
    axe_check(page)

    # --- Join the link member course and read ----------------------------------------
    go(page, "Catalogue", "Course catalogue")
    axe_check(page)
    # The rep course is not open yet: it says why, and links to the course it needs.
    page.get_by_role("link", name="MiP rep course").click()
    expect(page.get_by_role("heading", name="Not open to you yet")).to_be_visible()
    axe_check(page)
    page.get_by_role("main").get_by_role(
        "link", name="MiP link member course", exact=True
    ).first.click()
    expect(page.get_by_role("heading", level=1, name="MiP link member course")).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Join this course").click()
    expect(page).to_have_url(re.compile(rf"/learn/{BASIC}/{READING}$"))
    expect(status(page)).to_contain_text("You have joined MiP link member course.")
    axe_check(page)
    page.get_by_role("button", name="Mark as done and continue").click()
    expect(page).to_have_url(re.compile(rf"/learn/{BASIC}/{QUIZ}$"))
    axe_check(page)

    # --- The knowledge check: unanswered, wrong, then right --------------------------
    # The page shows a paper drawn from the bank; the answers come from the course files,
    # matched by the question and option text the page shows.
    page.get_by_role("button", name="Check my answers").click()
    expect(page.get_by_text("Answer every question before you check your answers.")).to_be_visible()
    axe_check(page)
    answer_quiz(page, quiz, right=False)
    page.get_by_role("button", name="Check my answers").click()
    expect(page.get_by_role("heading", name="Attempt 1: 0%")).to_be_visible()
    axe_check(page)
    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_role("button", name="Check my answers")).to_be_visible()
    # Another paper on the page already checked unanswered: not checked again.
    shown = answer_quiz(page, quiz, right=True)
    page.get_by_role("button", name="Check my answers").click()
    expect(page.get_by_role("heading", name="Attempt 2: 100%")).to_be_visible()
    expect(page.get_by_text("You got this right.", exact=True)).to_have_count(shown)
    axe_check(page)

    # --- Feedback on the course: the last step, which brings the certificate ----------
    complete_activities(app, uid, BASIC, except_keys={READING, QUIZ, FEEDBACK})
    # The case studies meet the standard (completion: review: must_pass), reviewed by the
    # course's reviewer: the course has no run.
    sent = app.test_client()
    assert login(sent, "sam@example.org").status_code == 302
    send_case_studies(sent, app, BASIC)
    name_reviewer(app, fac, BASIC)
    assert review_latest(app, uid, fac, BASIC) == 2
    page.goto(f"/learn/{BASIC}/{FEEDBACK}")
    expect(
        page.get_by_role("heading", level=1, name="Feedback on the whole course")
    ).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Send my feedback").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    axe_check(page)
    form = courses.get(BASIC).activity(FEEDBACK).config
    for question in form.questions:
        if question.required and question.kind != "text":
            group = page.get_by_role("group", name=re.compile("^" + re.escape(question.prompt)))
            group.get_by_role("radio").first.check()
    page.get_by_label(re.compile("^What should we keep")).fill("The short knowledge checks.")
    page.get_by_role("button", name="Send my feedback").click()
    expect(page.get_by_text("You have sent this form.")).to_be_visible()
    axe_check(page)

    # --- The certificate, and its PDF ------------------------------------------------
    go(page, "Certificates", "My certificates")
    card = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name="MiP Link Member")
    )
    expect(card.get_by_text("Valid", exact=True)).to_be_visible()
    axe_check(page)
    with page.expect_download() as download_info:
        card.get_by_role("link", name=re.compile("^Download the PDF")).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf"), download.suggested_filename
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    go(page, re.compile(r"^Notifications\b"), "Notifications")
    expect(page.get_by_role("main")).to_contain_text("MiP Link Member")
    axe_check(page)

    # --- The rep course is open now: a place on a run ---------------------------------
    go(page, "Catalogue", "Course catalogue")
    page.get_by_role("link", name="MiP rep course").click()
    expect(page.get_by_role("heading", level=1, name="MiP rep course")).to_be_visible()
    days = page.get_by_role("region", name="Course days")
    run_card = days.get_by_role("listitem").filter(has=page.get_by_role("heading", name=RUN_TITLE))
    axe_check(page)
    run_card.get_by_role("button", name=re.compile(r"^Sign up\b")).click()
    expect(status(page)).to_have_text(f"You have a place on {RUN_TITLE}.")
    expect(page.get_by_role("button", name="Give up my place")).to_be_visible()
    axe_check(page)

    # --- A case-study answer: too short first, then sent -----------------------------
    page.goto(f"/learn/rep/{CASE}")
    answer = page.get_by_label("Write how you would handle this situation")
    expect(answer).to_be_visible()
    axe_check(page)
    answer.fill("I would listen to him.")
    page.get_by_role("button", name="Send my answer for review").click()
    expect(page.get_by_text("Your answer is not ready to send yet.")).to_be_visible()
    axe_check(page)
    page.get_by_label("Write how you would handle this situation").fill(ANSWER)
    page.get_by_role("button", name="Send my answer for review").click()
    expect(page.get_by_text("Waiting for a facilitator to review it")).to_be_visible()
    axe_check(page)

    # --- The facilitator reviews it in a browser of their own -------------------------
    facilitator = new_page()
    log_in(facilitator, "fac@example.org", "Hello, Femi")
    go(facilitator, "Facilitate", "Facilitation")
    axe_check(facilitator)
    facilitator.get_by_role("navigation", name="Facilitation").get_by_role(
        "link", name="Review queue"
    ).click()
    expect(facilitator.get_by_role("heading", name="Answers to review")).to_be_visible()
    axe_check(facilitator)
    row = facilitator.get_by_role("row").filter(
        has=facilitator.get_by_role("rowheader", name="Sam Okafor", exact=True)
    )
    row.get_by_role("link", name="Sam Okafor").click()
    expect(facilitator.get_by_text("ask him not to send the angry email")).to_be_visible()
    axe_check(facilitator)
    for criterion in courses.get("rep").activity(CASE).config.criteria:
        facilitator.get_by_role("group", name=criterion.text, exact=True).get_by_role(
            "radio", name="Met", exact=True
        ).check()
    facilitator.get_by_label("Comments for the trainee").fill(COMMENTS)
    facilitator.get_by_role("group", name="Decision", exact=True).get_by_role(
        "radio", name="Meets the standard", exact=True
    ).check()
    facilitator.get_by_role("button", name="Save review").click()
    expect(status(facilitator)).to_have_text(
        "Review saved. Sam Okafor can see it on their dashboard."
    )

    # --- Sam sees the review ---------------------------------------------------------
    page.reload()
    history = page.get_by_role("region", name="Your versions and reviews")
    expect(history).to_contain_text("Meets the standard")
    expect(history).to_contain_text(COMMENTS)
    axe_check(page)
    go(page, "My courses", "Hello, Sam")
    outcome = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=re.compile("^Case study: Suspended"))
    )
    expect(outcome.get_by_text("Meets the standard", exact=True)).to_be_visible()
    axe_check(page)
