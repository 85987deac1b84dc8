"""Steps the browser journeys share: logging in, the main navigation at any width,
answering a quiz from the text the page shows, and course state set up in the test
process where a journey does not itself cover a step.

Locators are by role, label and text, never by CSS structure, so that they survive
changes to the markup and fail when a control loses its accessible name.
"""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Locator, Page, expect

from lms.accounts.models import User
from lms.db import utcnow
from lms.extensions import db
from lms.learning import services as learning
from tests.conftest import PASSWORD

SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def log_in(page: Page, email: str, heading: str | None = None, axe_check=None) -> None:
    """Log in through the form; ``heading`` is the level-1 heading expected afterwards."""
    page.goto("/login")
    if axe_check:
        axe_check(page)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if heading:
        expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()


def nav_link(page: Page, name: str | re.Pattern) -> Locator:
    """A link of the main navigation, opening the phone's "Menu" first if it is closed."""
    nav = page.get_by_role("navigation", name="Main")
    link = nav.get_by_role("link", name=name, exact=True)
    menu = page.get_by_role("banner").get_by_text("Menu", exact=True)
    # Which of the two shows depends on the stylesheet: wait until it has been applied
    # (a loaded machine once asked before it was, saw neither, and clicked a hidden menu).
    page.wait_for_load_state("load")
    expect(link.or_(menu).filter(visible=True).first).to_be_visible()
    if not link.is_visible():
        menu.click()
        expect(link).to_be_visible()
    return link


def go(page: Page, name: str | re.Pattern, heading: str | re.Pattern) -> None:
    """Follow a main navigation link and wait for the page's level-1 heading."""
    nav_link(page, name).click()
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()


def no_sideways_scrolling(page: Page) -> None:
    # Measured once the page has settled (fonts loaded, layout after any viewport change
    # made by axe_check on the page before): a loaded machine can measure mid-layout.
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")
    overflow = page.evaluate(SIDEWAYS)
    for _try in range(10):
        if overflow <= 0:
            break
        page.wait_for_timeout(200)
        overflow = page.evaluate(SIDEWAYS)
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


def status(page: Page) -> Locator:
    """The page's flash message (role=status), the first if there are several."""
    return page.get_by_role("status").first


# --- Quizzes: the page shows question and option text; the course files know the answers


def _plain(text: str) -> str:
    return " ".join(text.split())


def shown_questions(page: Page, quiz) -> list[tuple[Locator, object]]:
    """The questions on the page in order, each as (its fieldset, the question in the bank),
    matched by the prompt text of the fieldset's legend."""
    by_prompt = {_plain(q.prompt): q for q in quiz.questions}
    groups = page.get_by_role("group", name=re.compile(r"^Question \d+\b"))
    expect(groups.first).to_be_visible()
    out = []
    for group in groups.all():
        legend = _plain(group.locator("legend").first.text_content() or "")
        prompt = re.sub(r"^Question \d+\s*", "", legend)
        assert prompt in by_prompt, f"no question in the bank reads {prompt!r}"
        out.append((group, by_prompt[prompt]))
    return out


def choose(group: Locator, question, keys: set[str]) -> None:
    """Tick exactly the options ``keys`` of one question, found by their label text."""
    role = "radio" if question.kind == "single" else "checkbox"
    for option in question.options:
        control = group.get_by_role(role, name=_plain(option.text), exact=True)
        if option.key in keys:
            control.check()
        elif role == "checkbox":
            control.uncheck()


def answer_quiz(page: Page, quiz, right: bool) -> int:
    """Answer the paper on the page, all right or all wrong; return its number of questions."""
    shown = shown_questions(page, quiz)
    for group, question in shown:
        if right:
            keys = set(question.correct_keys)
        else:
            keys = {next(o.key for o in question.options if not o.correct)}
        choose(group, question, keys)
    return len(shown)


# --- Course state made in the test process ------------------------------------------


def complete_activities(app: Flask, user_id: int, slug: str, except_keys: set[str]) -> None:
    """Mark every activity of the person's enrolment complete except ``except_keys``
    (the steps the journey itself takes), as if they had done them earlier."""
    with app.app_context():
        user = db.session.get(User, user_id)
        course = learning.catalogue().get(slug)
        enrolment = learning.get_enrolment(user, course) or learning.create_enrolment(user, course)
        for activity in course.activities:
            if activity.key in except_keys:
                continue
            row = learning.lock_progress(enrolment, activity)
            if not row.is_complete:
                row.is_complete = True
                row.completed_at = utcnow()
                row.state = {**(row.state or {}), "submitted": True}
        db.session.commit()
