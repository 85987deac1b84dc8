"""Anonymous feedback stays unlinkable: no page, export, ordering or time lets staff tie an
answer to the person who gave it.

- Order: comments are listed alphabetically (the comments page) or in the responses' random
  id order (the first comments, the CSV), never in the order people answered or the order
  of the roster.
- Time: no response carries a time, and the feedback form's progress row holds neither a
  completion time nor a last-updated time later than the enrolment.
- Small groups: nothing is shown for a run with fewer than the minimum of responses, and
  such a run's responses are left out of the course-wide results as well, so that the
  course's results minus a run's results never single one person out.
- Differencing: answers are released a group of at least the minimum at a time, so
  looking before and after one person answers shows no change
  (tests/functional/test_feedback_release.py).

ASVS 4.0.3 V8.3 (sensitive private data): see docs/security.md.
"""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from lms.db import utcnow
from lms.extensions import db
from lms.feedback.models import FeedbackResponse
from lms.feedback.services import MIN_RESPONSES
from lms.learning.models import ActivityProgress, Enrolment
from tests.conftest import csrf_from, get_csrf, login
from tests.functional.run_helpers import complete_course, make_run

FORM = "feedback-day-1"
URL = f"/learn/rep/{FORM}"
COMMENTS = f"/facilitate/courses/rep/feedback/{FORM}/improve"
# A time of day, or a date and time in ISO form, anywhere in a page or an export.
TIME_RE = re.compile(r"\b\d{1,2}:\d{2}\b|\d{4}-\d{2}-\d{2}[T ]\d{2}")


def client_for(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def answers(improve: str, overall: str = "4") -> dict:
    return {
        "f-overall": overall,
        "f-case-studies": "5",
        "f-confidence": "3",
        "f-pace": "About right",
        "f-best": "",
        "f-improve": improve,
    }


def send(client, data):
    page = client.get(URL).get_data(as_text=True)
    response = client.post(URL, data={"csrf_token": csrf_from(page), **data})
    assert response.status_code == 302
    return response


def people_on(app, make, run_id: int, names: list[str], prefix: str):
    """Trainees booked on a run (in the order given), each with a logged-in client."""
    out = []
    for n, name in enumerate(names):
        email = f"{prefix}{n}@example.org"
        uid = make("trainee", email=email, name=name)
        complete_course(app, uid)
        client = client_for(app, email)
        booked = client.post(
            f"/runs/{run_id}/sign-up", data={"csrf_token": get_csrf(client, "/courses/rep")}
        )
        assert booked.status_code == 302
        out.append((uid, client))
    return out


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def main_of(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def listed_comments(html: str) -> list[str]:
    block = main_of(html).split('<ul class="comments">', 1)
    return re.findall(r"<li>(.*?)</li>", block[1].split("</ul>", 1)[0]) if len(block) > 1 else []


def test_no_order_on_any_page_or_export_follows_who_answered_when(app, make):
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    run_id = make_run(app, facilitators=[fac], capacity=20)
    # Roster order (names A..J) is also the order in which they answer; the comments
    # are written so that their alphabetical order is the reverse. Ten: two whole groups.
    names = [f"Trainee {letter}" for letter in "ABCDEFGHIJ"]
    people = people_on(app, make, run_id, names, "t")
    typed = [f"{letter} needs more time" for letter in "ZYXWVUTSRQ"]
    for (_uid, client), text in zip(people, typed, strict=True):
        send(client, answers(text))
    staff = client_for(app, "fac@example.org")
    roster = main_of(staff.get(f"/facilitate/runs/{run_id}").get_data(as_text=True))
    assert [roster.index(name) for name in names] == sorted(roster.index(n) for n in names)

    with app.app_context():
        by_id = [
            r.answers["improve"]
            for r in db.session.scalars(select(FeedbackResponse).order_by(FeedbackResponse.id))
        ]
    # The ids are random (uuid4), so the id order is a shuffle of the answering order.
    assert sorted(by_id) == sorted(typed)
    assert by_id != typed  # (1 chance in 3,628,800 of a false alarm)

    for url in (f"{COMMENTS}?run={run_id}", COMMENTS):
        # All comments: alphabetical, whatever the order they came in.
        assert listed_comments(staff.get(url).get_data(as_text=True)) == sorted(typed)
    for url in (f"/facilitate/runs/{run_id}/feedback", "/facilitate/courses/rep/feedback"):
        # The first comments on the results page: in random id order.
        shown = listed_comments(staff.get(url).get_data(as_text=True))
        assert shown == by_id[: len(shown)] and shown
    for url in (f"/facilitate/runs/{run_id}/feedback.csv", "/facilitate/courses/rep/feedback.csv"):
        rows = csv_rows(staff.get(url))
        rows = [r for r in rows[1:] if r[2].isdigit()]  # other forms: "not shown" rows
        improve = [r[4] for r in rows if r[3] == "What one change would make this day better?"]
        assert improve == by_id
        numbers = sorted({int(r[2]) for r in rows})
        assert numbers == list(range(1, len(typed) + 1))  # numbered in that order, no id


def test_no_time_is_kept_or_shown_for_an_anonymous_answer(app, make):
    fac = make("facilitator", email="fac@example.org")
    make("admin", email="office@example.org")
    run_id = make_run(app, facilitators=[fac], capacity=20)
    people = people_on(app, make, run_id, [f"Person {n}" for n in range(6)], "p")
    before = utcnow()
    for n, (_uid, client) in enumerate(people):
        send(client, answers(f"Comment number {n}"))
    with app.app_context():
        for response in db.session.scalars(select(FeedbackResponse)):
            assert response.submitted_at is None and response.user_id is None
        for uid, _client in people:
            enrolment = db.session.scalar(
                select(Enrolment).where(Enrolment.user_id == uid, Enrolment.course_slug == "rep")
            )
            row = db.session.scalar(
                select(ActivityProgress).where(
                    ActivityProgress.enrolment_id == enrolment.id,
                    ActivityProgress.activity_key == FORM,
                )
            )
            assert row.state == {"submitted": True}
            # Nothing on the row dates the answer: no completion time, and the row's
            # last-updated time is the enrolment's, from before anyone answered.
            assert row.completed_at is None
            assert row.updated_at == enrolment.enrolled_at
            assert enrolment.enrolled_at <= before
    for email in ("fac@example.org", "office@example.org"):
        staff = client_for(app, email)
        for url in (
            f"/facilitate/runs/{run_id}/feedback",
            "/facilitate/courses/rep/feedback",
            f"{COMMENTS}?run={run_id}",
            COMMENTS,
        ):
            html = staff.get(url).get_data(as_text=True)
            assert "Comment number" in html
            assert not TIME_RE.search(main_of(html)), url
        for url in (
            f"/facilitate/runs/{run_id}/feedback.csv",
            "/facilitate/courses/rep/feedback.csv",
        ):
            rows = csv_rows(staff.get(url))
            assert rows[0] == ["form", "run", "response", "question", "answer"]
            assert not any(TIME_RE.search(cell) for row in rows for cell in row), url


def test_a_run_below_the_minimum_shows_nothing_even_to_an_administrator(app, make):
    fac = make("facilitator", email="fac@example.org")
    make("admin", email="office@example.org")
    run_id = make_run(app, facilitators=[fac], capacity=20)
    ((_uid, client),) = people_on(app, make, run_id, ["Only Person"], "solo")
    send(client, answers("Only I went on this run", overall="1"))
    for email in ("fac@example.org", "office@example.org"):
        staff = client_for(app, email)
        for url in (f"/facilitate/runs/{run_id}/feedback", "/facilitate/courses/rep/feedback"):
            html = staff.get(url).get_data(as_text=True)
            assert "Too few responses to show" in html
            assert "Only I went" not in html and "1 response" not in html
        for url in (f"{COMMENTS}?run={run_id}", COMMENTS):
            html = staff.get(url).get_data(as_text=True)
            assert "Too few responses to show" in html and "Only I went" not in html
        for url in (
            f"/facilitate/runs/{run_id}/feedback.csv",
            "/facilitate/courses/rep/feedback.csv",
        ):
            exported = staff.get(url).get_data(as_text=True)
            assert "Only I went" not in exported
            assert f"Fewer than {MIN_RESPONSES} responses: not shown" in exported


def test_a_small_run_cannot_be_picked_out_of_the_course_wide_results(app, make):
    """Run A has five responses, run B one. Staff who can see both the course's results and
    run A's must not be able to subtract one from the other and read run B's one answer,
    nor find it in the course export under run B's name."""
    fac = make("facilitator", email="fac@example.org")
    make("admin", email="office@example.org")
    run_a = make_run(app, facilitators=[fac], capacity=20, title="Rep course, Leeds")
    run_b = make_run(app, facilitators=[fac], capacity=20, title="Rep course, Truro")
    for n, (_uid, client) in enumerate(
        people_on(app, make, run_a, [f"A {n}" for n in range(5)], "a")
    ):
        send(client, answers(f"Leeds comment {n}", overall="4"))
    ((_uid, solo),) = people_on(app, make, run_b, ["Bryony Solo"], "b")
    send(solo, answers("Truro was too cold", overall="1"))

    for email in ("fac@example.org", "office@example.org"):
        staff = client_for(app, email)
        run_page = staff.get(f"/facilitate/runs/{run_a}/feedback").get_data(as_text=True)
        course_page = staff.get("/facilitate/courses/rep/feedback").get_data(as_text=True)
        assert "5 responses" in run_page
        # The course's results are run A's: run B's lone answer adds nothing to them.
        assert "5 responses" in course_page and "6 responses" not in course_page
        assert "Average 4.0 out of 5 from 5 answers" in course_page
        assert "Truro was too cold" not in course_page
        comments = staff.get(COMMENTS).get_data(as_text=True)
        assert "Truro was too cold" not in comments
        assert listed_comments(comments) == [f"Leeds comment {n}" for n in range(5)]
        exported = staff.get("/facilitate/courses/rep/feedback.csv").get_data(as_text=True)
        assert "Truro was too cold" not in exported and "Rep course, Truro" not in exported
        assert "Leeds comment 0" in exported

    # Once run B has five responses of its own, they count everywhere.
    for n, (_uid, client) in enumerate(
        people_on(app, make, run_b, [f"B {n}" for n in range(4)], "bb")
    ):
        send(client, answers(f"Truro comment {n}", overall="2"))
    staff = client_for(app, "office@example.org")
    course_page = staff.get("/facilitate/courses/rep/feedback").get_data(as_text=True)
    assert "10 responses" in course_page
    assert "Truro was too cold" in staff.get(COMMENTS).get_data(as_text=True)
    exported = staff.get("/facilitate/courses/rep/feedback.csv").get_data(as_text=True)
    assert "Truro was too cold" in exported and "Rep course, Truro" in exported


def test_answers_given_outside_any_run_are_a_group_of_their_own(app, make):
    """People who answer without a place on a run form one group, held to the same minimum."""
    fac = make("facilitator", email="fac@example.org")
    run_id = make_run(app, facilitators=[fac], capacity=20)
    for n, (_uid, client) in enumerate(
        people_on(app, make, run_id, [f"R {n}" for n in range(5)], "r")
    ):
        send(client, answers(f"On the run {n}"))
    uid = make("trainee", email="loner@example.org", name="Lone Answerer")
    complete_course(app, uid)
    loner = client_for(app, "loner@example.org")
    loner.post("/courses/rep/enrol", data={"csrf_token": get_csrf(loner, "/courses/rep")})
    send(loner, answers("Answered without a run"))
    with app.app_context():
        runs = sorted(r.run_id or 0 for r in db.session.scalars(select(FeedbackResponse)))
        assert runs == [0] + [run_id] * 5  # one outside any run, five on the run
    staff = client_for(app, "fac@example.org")
    course_page = staff.get("/facilitate/courses/rep/feedback").get_data(as_text=True)
    assert "5 responses" in course_page
    assert "Answered without a run" not in staff.get(COMMENTS).get_data(as_text=True)
    exported = staff.get("/facilitate/courses/rep/feedback.csv").get_data(as_text=True)
    assert "Answered without a run" not in exported
