"""A trainee's first session, in a real browser against a real HTTP server and database.

Locators are by role and label on purpose: if a field loses its label or a button
its name, these tests fail, so they double as a check on the accessible names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

COURSE = "link-member"
READING = "promoting-mip-reading"
QUIZ = "promoting-mip-check"


def quiz_config(app: Flask):
    return app.extensions["lms.courses"].get(COURSE).activity(QUIZ).config


def question_group(page: Page, number: int) -> Locator:
    """The fieldset of question ``number``, found by its legend."""
    return page.get_by_role("group", name=re.compile(rf"^Question {number}\b"))


def option(group: Locator, question, key: str) -> Locator:
    """One answer of a question, found by its label text (which may gain a "correct" tag)."""
    text = next(o.text for o in question.options if o.key == key)
    role = "radio" if question.kind == "single" else "checkbox"
    return group.get_by_role(role, name=re.compile("^" + re.escape(text)))


@dataclass(frozen=True)
class Shown:
    """A question as the page shows it: the quiz's question, options in the page's order."""

    question: object
    options: tuple

    def __getattr__(self, name):
        return getattr(self.question, name)


def paper_on(page: Page, quiz) -> list[Shown]:
    """The paper the page shows: its questions in order, each with its options in order."""
    shown = page.eval_on_selector_all(
        "fieldset.question",
        "els => els.map(e => [e.id, [...e.querySelectorAll('input')].map(i => i.value)])",
    )
    out = []
    for field_name, values in shown:
        question = next(q for q in quiz.questions if q.field_name == field_name)
        by_key = {o.key: o for o in question.options}
        out.append(Shown(question, tuple(by_key[v] for v in values)))
    return out


def focused(page: Page, script: str, arg=None):
    return page.evaluate(f"(arg) => {{ const el = document.activeElement; return {script}; }}", arg)


def tab_until(page: Page, script: str, arg=None, limit: int = 60) -> None:
    """Press Tab until ``script`` (about ``el``, the focused element) is true."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page, script, arg):
            return
    raise AssertionError(f"{limit} presses of Tab never reached: {script}")


def answer_with_keyboard(page: Page, question, number: int, wanted: set[str]) -> None:
    """Answer one question with Tab, the arrow keys and Space only."""
    tab_until(page, "el && el.name === arg", question.field_name)
    group = question_group(page, number)
    keys = [o.key for o in question.options]
    if question.kind == "single":
        (target,) = wanted
        # Arrow keys move the selection within a radio group and wrap at the end.
        for _ in range(len(keys)):
            if focused(page, "el.value") == target:
                break
            page.keyboard.press("ArrowDown")
        assert focused(page, "el.value") == target
        if not focused(page, "el.checked"):
            page.keyboard.press("Space")
        expect(option(group, question, target)).to_be_checked()
    else:
        # Every checkbox is its own Tab stop; Space toggles it.
        for index, key in enumerate(keys):
            if index:
                page.keyboard.press("Tab")
            assert focused(page, "el.value") == key
            if focused(page, "el.checked") != (key in wanted):
                page.keyboard.press("Space")
            if key in wanted:
                expect(option(group, question, key)).to_be_checked()
            else:
                expect(option(group, question, key)).not_to_be_checked()


def test_trainee_journey(app: Flask, make, page: Page, shot) -> None:
    """The first session by keyboard and mouse. Every page here is also met, in the same
    states, by test_journey_trainee.py, which checks each with axe; not again here."""
    make("trainee", email="sam@example.org", name="Sam Okafor")
    quiz = quiz_config(app)

    # Log in through the form, from the home page.
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Training for MiP link members and reps"
    )
    shot("home")
    page.get_by_role("main").get_by_role("link", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    page.get_by_label("Email address").fill("sam@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    shot("login")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Hello, Sam")).to_be_visible()
    expect(page.get_by_text("You have not joined a course yet.")).to_be_visible()
    shot("dashboard-before")

    # The catalogue, through the main navigation (which must be visible on a wide screen).
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Catalogue").click()
    expect(page.get_by_role("heading", level=1, name="Course catalogue")).to_be_visible()
    expect(nav.get_by_role("link", name="Catalogue")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("Complete MiP link member course first.")).to_be_visible()
    shot("catalogue")

    # The rep course is refused, with the reason and a way to the course it needs.
    page.get_by_role("link", name="MiP rep course").click()
    expect(page.get_by_role("heading", level=1, name="MiP rep course")).to_be_visible()
    expect(page.get_by_role("heading", name="Not open to you yet")).to_be_visible()
    expect(page.get_by_text("You can join this course once you have completed:")).to_be_visible()
    expect(page.get_by_role("button", name="Join this course")).to_have_count(0)
    shot("rep-course-refused")
    needed = page.get_by_role("listitem").filter(
        has=page.get_by_role("link", name="MiP link member course", exact=True)
    )
    needed.get_by_role("link").click()

    # Join the link member course; it opens at the first reading.
    expect(page.get_by_role("heading", level=1, name="MiP link member course")).to_be_visible()
    shot("link-member-course")
    page.get_by_role("button", name="Join this course").click()
    expect(page).to_have_url(re.compile(rf"/learn/{COURSE}/{READING}$"))
    expect(page.get_by_role("status")).to_contain_text("You have joined MiP link member course.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Promoting MiP and its campaigns")
    # The number of required activities comes from the course content, which grows;
    # read it once here and hold every later page to it.
    start = page.get_by_role(
        "progressbar", name=re.compile(r"^Course progress: 0 of \d+ activities complete$")
    )
    expect(start).to_be_visible()
    total = int(start.get_attribute("max"))
    assert total > 2
    shot("reading")

    # Finish the reading; the next page is the module's knowledge check.
    page.get_by_role("button", name="Mark as done and continue").click()
    expect(page).to_have_url(re.compile(rf"/learn/{COURSE}/{QUIZ}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Knowledge check: promoting MiP")
    expect(
        page.get_by_role("progressbar", name=f"Course progress: 1 of {total} activities complete")
    ).to_be_visible()
    shot("quiz")

    # A wrong attempt, with the mouse: scored, explained, and open to another try. The
    # page shows a paper drawn from the quiz's bank, in its own order.
    paper = paper_on(page, quiz)
    assert len(paper) == quiz.paper_size
    for number, question in enumerate(paper, start=1):
        wrong = next(o.key for o in question.options if not o.correct)
        option(question_group(page, number), question, wrong).check()
    page.get_by_role("button", name="Check my answers").click()
    expect(page.get_by_role("heading", name="Attempt 1: 0%")).to_be_visible()
    expect(page.get_by_text("Not passed yet. Read the explanations below")).to_be_visible()
    expect(page.get_by_text("Not quite.", exact=True)).to_have_count(len(paper))
    # The results show the paper as it was answered, with why each answer was wrong.
    assert [q.field_name for q in paper_on(page, quiz)] == [q.field_name for q in paper]
    expect(page.get_by_text("Your answer:")).to_have_count(
        sum(1 for q in paper if next(o for o in q.options if not o.correct).why)
    )
    shot("quiz-failed")
    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_role("button", name="Check my answers")).to_be_visible()
    paper = paper_on(page, quiz)

    # The right answers, with the keyboard only: skip link, Tab, arrows, Space and Enter.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    for number, question in enumerate(paper, start=1):
        answer_with_keyboard(page, question, number, set(question.correct_keys))
    tab_until(page, "el && el.type === 'submit' && el.closest('form.quiz') !== null")
    expect(page.get_by_role("button", name="Check my answers")).to_be_focused()
    shot("quiz-keyboard-answers")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Attempt 2: 100%")).to_be_visible()
    expect(page.get_by_text("You passed. Read the explanations below")).to_be_visible()
    expect(page.get_by_text("You got this right.", exact=True)).to_have_count(len(paper))
    expect(
        page.get_by_role("progressbar", name=f"Course progress: 2 of {total} activities complete")
    ).to_be_visible()
    shot("quiz-passed")

    # The dashboard shows the progress.
    nav.get_by_role("link", name="My courses").click()
    expect(page.get_by_role("heading", level=1, name="Hello, Sam")).to_be_visible()
    card = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name="MiP link member course")
    )
    expect(card.get_by_text(f"2 of {total} activities complete")).to_be_visible()
    bar = card.get_by_role("progressbar", name=f"Progress: 2 of {total} activities complete")
    expect(bar).to_have_attribute("value", "2")
    expect(bar).to_have_attribute("max", str(total))
    expect(card.get_by_role("link", name="Continue MiP link member course")).to_be_visible()
    shot("dashboard-after")


def test_skip_link_is_the_first_tab_stop(page: Page, shot) -> None:
    page.goto("/login")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    shot("skip-link-focused")
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    # The next Tab stop is inside main: the first field of the form.
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email address")).to_be_focused()


def test_phone_menu_and_no_sideways_scrolling(
    app: Flask, make, page: Page, shot, axe_check
) -> None:
    make("trainee", email="sam@example.org", name="Sam Okafor")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/login")
    page.get_by_label("Email address").fill("sam@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Hello, Sam")).to_be_visible()

    # On a narrow screen the navigation sits behind a "Menu" button that works by keyboard.
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Catalogue")).to_be_hidden()
    tab_until(page, "el && el.tagName === 'SUMMARY'")
    page.keyboard.press("Enter")
    expect(nav.get_by_role("link", name="Catalogue")).to_be_visible()
    shot("phone-menu-open")
    axe_check(page, sizes=("phone",))  # the open menu; the closed one is the journeys' state
    nav.get_by_role("link", name="Catalogue").click()
    expect(page.get_by_role("heading", level=1, name="Course catalogue")).to_be_visible()

    for path in ("/dashboard", "/courses", "/courses/link-member", "/account"):
        page.goto(path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 390px wide"
        if path == "/account":  # the other pages are checked in test_journey_trainee.py
            axe_check(page)
    shot("phone-account")
