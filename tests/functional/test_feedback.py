"""Feedback forms: answered once, anonymous for real, small groups hidden, safe CSV."""

from __future__ import annotations

import csv
import io
import logging
import shutil

import yaml
from sqlalchemy import inspect, select, text

from lms.accounts.models import User
from lms.extensions import db
from lms.feedback.models import FeedbackResponse
from lms.learning.models import ActivityProgress, Attempt
from tests.conftest import csrf_from, get_csrf, login
from tests.functional.run_helpers import complete_course, make_run

FORM = "feedback-day-1"
URL = f"/learn/rep/{FORM}"


def client_for(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def cohort(app, make, size, run_title="Rep course, London"):
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    run_id = make_run(app, facilitators=[fac], capacity=20, title=run_title)
    clients = []
    for i in range(size):
        uid = make("trainee", email=f"t{i}@example.org", name=f"Trainee Person{i}")
        complete_course(app, uid)
        client = client_for(app, f"t{i}@example.org")
        client.post(
            f"/runs/{run_id}/sign-up", data={"csrf_token": get_csrf(client, "/courses/rep")}
        )
        clients.append(client)
    return run_id, clients


def answers(overall="4", improve="More time for case studies"):
    return {
        "f-overall": overall,
        "f-case-studies": "5",
        "f-confidence": "3",
        "f-pace": "About right",
        "f-best": "Role play",
        "f-improve": improve,
    }


def send(client, data):
    page = client.get(URL).get_data(as_text=True)
    return client.post(URL, data={"csrf_token": csrf_from(page), **data})


def test_required_answers_are_checked_and_nothing_typed_is_lost(app, make):
    _, (client,) = cohort(app, make, 1)
    page = client.get(URL).get_data(as_text=True)
    assert "This form is anonymous." in page
    assert "1 = Not useful, 5 = Very useful" in page
    response = client.post(
        URL,
        data={"csrf_token": csrf_from(page), "f-overall": "", "f-improve": "Start later, please"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Answer this question." in html
    assert ">Start later, please</textarea>" in html
    with app.app_context():
        assert db.session.scalar(select(FeedbackResponse)) is None


def test_each_trainee_answers_once(app, make):
    _, (client,) = cohort(app, make, 1)
    assert send(client, answers()).status_code == 302
    page = client.get(URL).get_data(as_text=True)
    assert "You have sent this form." in page
    again = client.post(URL, data={"csrf_token": csrf_from(page), **answers()})
    assert again.status_code == 422
    assert "You have already sent this form." in again.get_data(as_text=True)
    with app.app_context():
        assert len(db.session.scalars(select(FeedbackResponse)).all()) == 1


def test_no_path_from_an_anonymous_response_to_its_author(app, make, caplog):
    caplog.set_level(logging.DEBUG)
    run_id, clients = cohort(app, make, 6)
    for i, client in enumerate(clients):
        assert (
            send(client, answers(overall=str(1 + i % 5), improve=f"Comment {i}")).status_code == 302
        )
    with app.app_context():
        responses = db.session.scalars(select(FeedbackResponse)).all()
        assert len(responses) == 6
        people = {(u.id, u.email, u.name) for u in db.session.scalars(select(User))}
        for r in responses:
            # Nothing on the response names or dates anyone.
            assert r.user_id is None and r.submitted_at is None and r.is_anonymous
            assert len(r.id) == 32 and int(r.id, 16) >= 0
            assert r.run_id == run_id
        columns = {
            c["name"] for c in inspect(db.session.connection()).get_columns("feedback_response")
        }
        assert columns == {
            "id",
            "course_slug",
            "activity_key",
            "content_version",
            "run_id",
            "is_anonymous",
            "user_id",
            "submitted_at",
            "answers",
            # Whether staff can see it yet (released a group at a time): no person, no time.
            "released",
        }
        # No attempt rows, and progress rows carry no submission time.
        assert db.session.scalars(select(Attempt).where(Attempt.activity_key == FORM)).all() == []
        rows = db.session.scalars(
            select(ActivityProgress).where(ActivityProgress.activity_key == FORM)
        ).all()
        assert len(rows) == 6
        # Made at enrolment, in course order: ids follow enrolment, not answering.
        enrolled = sorted(rows, key=lambda r: r.enrolment.enrolled_at)
        assert [r.id for r in enrolled] == sorted(r.id for r in rows)
        for row in rows:
            assert row.completed_at is None
            assert row.updated_at == row.enrolment.enrolled_at
            assert set(row.state) == {"submitted"}
        # No other table holds a response id or an answer text.
        ids = {r.id for r in responses}
        for table in db.metadata.sorted_tables:
            if table.name == "feedback_response":
                continue
            for row in db.session.execute(select(table)).all():
                for value in row:
                    assert str(value) not in ids
                    assert "Comment " not in str(value)
        # On SQLite the table has no rowid to betray insertion order.
        if db.engine.dialect.name == "sqlite":
            sql = db.session.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'feedback_response'")
            ).scalar()
            assert "WITHOUT ROWID" in sql
    # Exports and logs name no one.
    fac = client_for(app, "fac@example.org")
    exported = fac.get(f"/facilitate/runs/{run_id}/feedback.csv").get_data(as_text=True)
    page = fac.get(f"/facilitate/runs/{run_id}/feedback").get_data(as_text=True)
    for _user_id, email, name in people:
        assert email not in exported and name not in exported
        if name.startswith("Trainee"):
            assert name not in page
    for record in caplog.records:
        message = record.getMessage()
        assert "Comment " not in message
        assert not any(email in message for _i, email, _n in people)


def test_results_hidden_below_five_and_charted_from_five(app, make):
    run_id, clients = cohort(app, make, 5)
    for client in clients[:4]:
        send(client, answers())
    fac = client_for(app, "fac@example.org")
    page = fac.get(f"/facilitate/runs/{run_id}/feedback").get_data(as_text=True)
    assert "Too few responses to show" in page
    assert "4 responses" not in page  # not even the exact count
    assert "More time for case studies" not in page
    assert "<svg" not in page
    exported = fac.get(f"/facilitate/runs/{run_id}/feedback.csv").get_data(as_text=True)
    assert "More time for case studies" not in exported
    assert "Fewer than 5 responses: not shown" in exported

    send(clients[4], answers(overall="2", improve="Shorter lunch"))
    page = fac.get(f"/facilitate/runs/{run_id}/feedback").get_data(as_text=True)
    assert "5 responses" in page
    assert '<svg class="chart"' in page and 'role="img"' in page
    assert "<caption>Answers to: How useful was day 1 for your work as a rep?</caption>" in page
    assert "Average 3.6 out of 5 from 5 answers" in page
    assert "Shorter lunch" in page and "More time for case studies" in page
    # Across all runs of the course as well.
    page = fac.get("/facilitate/courses/rep/feedback").get_data(as_text=True)
    assert "all runs of MiP rep course" in page and "5 responses" in page


def test_csv_export_cannot_run_formulas(app, make):
    run_id, clients = cohort(app, make, 5)
    hostile = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1"]
    for client, comment in zip(clients, hostile, strict=True):
        assert send(client, answers(improve=comment)).status_code == 302
    fac = client_for(app, "fac@example.org")
    response = fac.get(f"/facilitate/runs/{run_id}/feedback.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["form", "run", "response", "question", "answer"]
    cells = [cell for row in rows[1:] for cell in row]
    for comment in hostile:
        stored = comment.strip()  # answers are stored trimmed
        assert stored not in cells
        assert "'" + stored in cells
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t"))


def test_you_said_we_did_reaches_later_trainees(app, make):
    run_id, clients = cohort(app, make, 1)
    fac = client_for(app, "fac@example.org")
    page = fac.get("/facilitate/courses/rep/changes").get_data(as_text=True)
    refused = fac.post(
        "/facilitate/courses/rep/changes",
        data={"csrf_token": csrf_from(page), "you_said": "Too little time", "we_did": ""},
    )
    assert refused.status_code == 422
    assert "Too little time</textarea>" in refused.get_data(as_text=True)
    ok = fac.post(
        "/facilitate/courses/rep/changes",
        data={
            "csrf_token": csrf_from(page),
            "you_said": "Day 1 felt rushed.",
            "we_did": "We moved chairing practice to day 2.",
            "run_id": str(run_id),
        },
    )
    assert ok.status_code == 302
    later = make("trainee", email="later@example.org")
    complete_course(app, later)
    html = client_for(app, "later@example.org").get("/courses/rep").get_data(as_text=True)
    assert "You said, we did" in html
    assert "Day 1 felt rushed." in html and "We moved chairing practice to day 2." in html


def test_anonymity_cannot_be_switched_off_once_there_are_responses(app, make, tmp_path, app_with):
    _, clients = cohort(app, make, 2)
    send(clients[0], answers())
    courses = tmp_path / "courses"
    shutil.copytree(app.config["LMS_COURSES_DIR"], courses)
    form_file = courses / "rep" / "modules" / "feedback-day-1.yaml"
    data = yaml.safe_load(form_file.read_text())
    data["anonymous"] = False
    form_file.write_text(yaml.safe_dump(data))
    edited = app_with(LMS_COURSES_DIR=str(courses))
    client = edited.test_client()
    login(client, "t1@example.org")
    page = client.get(URL).get_data(as_text=True)
    assert "This form is anonymous." in page
    client.post(URL, data={"csrf_token": csrf_from(page), **answers()})
    with edited.app_context():
        responses = db.session.scalars(select(FeedbackResponse)).all()
        assert len(responses) == 2
        assert all(r.is_anonymous and r.user_id is None for r in responses)


def test_feedback_results_are_limited_to_the_facilitators_runs(app, make):
    run_id, clients = cohort(app, make, 1)
    make("facilitator", email="other@example.org")
    other = client_for(app, "other@example.org")
    assert other.get(f"/facilitate/runs/{run_id}/feedback").status_code == 403
    assert other.get(f"/facilitate/runs/{run_id}/feedback.csv").status_code == 403
    assert other.get("/facilitate/courses/rep/feedback").status_code == 403
    assert other.get("/facilitate/courses/rep/feedback.csv").status_code == 403
    assert other.get("/facilitate/courses/rep/changes").status_code == 403
    assert clients[0].get(f"/facilitate/runs/{run_id}/feedback").status_code == 403
