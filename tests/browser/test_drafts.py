"""A case-study answer survives the session ending before it is sent."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from lms.accounts.models import User
from lms.extensions import db
from lms.learning import services as learning
from tests.conftest import PASSWORD
from tests.functional.run_helpers import complete_course

pytestmark = pytest.mark.browser

CASE_URL = "/learn/rep/representing-members-case"
ANSWER = (
    "First I would meet the member somewhere private and ask what they want from me. "
    "Then I would read the suspension letter and the trust's policy with them."
)


def log_in(page: Page, email: str) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_answer_written_when_the_session_ended_is_restored_after_logging_in(
    app, make, page: Page, shot, live_server, axe_check
):
    uid = make("trainee", email="drafter@example.org", name="Dafydd Rowlands")
    complete_course(app, uid)
    with app.app_context():
        learning.create_enrolment(db.session.get(User, uid), learning.catalogue().get("rep"))
        db.session.commit()

    page.goto("/login")
    log_in(page, "drafter@example.org")
    page.goto(CASE_URL)
    answer = page.get_by_label("Write how you would handle this situation")
    answer.fill(ANSWER)
    # The session ends (timed out, or logged out in another tab) before the autosave.
    page.context.clear_cookies()
    page.get_by_role("button", name="Send my answer for review").click()

    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    shot("login-after-session-ended")
    axe_check(page)
    log_in(page, "drafter@example.org")

    expect(page).to_have_url(f"{live_server}{CASE_URL}")
    answer = page.get_by_label("Write how you would handle this situation")
    expect(answer).to_have_value(ANSWER)
    expect(page.get_by_text("We restored text you wrote on this device")).to_be_visible()
    shot("answer-restored")
    axe_check(page)
    # Sending it now reaches the server: too short to send, but kept as the draft.
    page.get_by_role("button", name="Send my answer for review").click()
    expect(page.get_by_text("Your answer is not ready to send yet.")).to_be_visible()
    expect(page.get_by_label("Write how you would handle this situation")).to_have_value(ANSWER)
    with app.app_context():
        from sqlalchemy import select

        from lms.learning.models import ActivityProgress

        row = db.session.scalar(
            select(ActivityProgress).where(
                ActivityProgress.activity_key == "representing-members-case"
            )
        )
        assert row.state["draft"]["answer"] == ANSWER


def test_logging_out_leaves_no_copy_of_unsent_writing_on_the_device(
    app, make, page: Page, live_server
):
    """On a shared office computer, "Log out" removes the device's copies of drafts
    (the server keeps its own)."""
    uid = make("trainee", email="drafter@example.org", name="Dafydd Rowlands")
    complete_course(app, uid)
    with app.app_context():
        learning.create_enrolment(db.session.get(User, uid), learning.catalogue().get("rep"))
        db.session.commit()
    page.goto("/login")
    log_in(page, "drafter@example.org")
    page.goto(CASE_URL)
    page.get_by_label("Write how you would handle this situation").fill(ANSWER)
    page.wait_for_function("() => Object.keys(localStorage).some(k => k.startsWith('lms-draft:'))")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    kept = page.evaluate("() => Object.keys(localStorage)")
    assert not [key for key in kept if key.startswith("lms-draft:")], kept
