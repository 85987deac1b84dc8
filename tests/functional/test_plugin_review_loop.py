"""A reviewed activity type from a separately installed package goes through the whole
review loop with nothing of it under lms/: its own page and reviewer's view (templates
shipped in the package), the facilitator's queue, the reviewer's judgement with the
type's own mark, the outcome on the trainee's page and dashboard, the requirement met
and the certificate issued."""

from __future__ import annotations

import re
import sys

import pytest
from sqlalchemy import select

from lms.accreditation.models import Certificate
from lms.extensions import db
from lms.learning.models import ActivityProgress, AttemptReview, Enrolment
from tests import plugin_packages
from tests.conftest import csrf_from, login
from tests.functional.run_helpers import make_run

URL = "/learn/essay-course/essay"

COURSE_YAML = """\
slug: essay-course
title: Writing for members
version: "1"
summary: A course whose written work is a short essay, a type from a plugin package.
completion:
  activities: all
  attendance: none
  confirmation: none
certificate:
  template: link-member
  accreditation: MiP Essay Writer
modules:
  - key: write
    title: Writing to members
    outcomes: [Write a short, clear message to members.]
    activities:
      - key: why
        type: reading
        title: Why plain words
        settings:
          body: "## Plain words\\n\\nMembers read short, plain messages."
      - key: essay
        type: short_essay
        title: Your message to members
        settings:
          prompt: Write to members about the new rota consultation.
          min_words: 8
"""


@pytest.fixture(scope="module")
def installed_essay_plugin(tmp_path_factory):
    """The lms-essay-activity package, installed for real (tests/plugin_packages.py)."""
    yield from plugin_packages.installed(
        tmp_path_factory, "lms-essay-activity", "lms_essay_activity"
    )


@pytest.fixture()
def essay_app(app, installed_essay_plugin, app_with, tmp_path):
    folder = tmp_path / "courses" / "essay-course"
    folder.mkdir(parents=True)
    (folder / "course.yaml").write_text(COURSE_YAML)
    return app_with(LMS_COURSES_DIR=str(folder.parent))


def client_for(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def essay(extra: str = "") -> str:
    return "Dear members, the trust is consulting on a new rota and we want your views. " + extra


def test_a_plugin_type_is_reviewed_end_to_end(essay_app, make):
    app = essay_app
    activity_type = app.extensions["lms.activity_types"]["short_essay"]
    assert type(activity_type).__module__ == "lms_essay_activity"
    # Its templates are the package's own, not the platform's.
    assert str(activity_type.templates_path()).startswith(str(sys.path[0]))

    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    make("trainee", email="t@example.org", name="Tegan Morris")
    run_id = make_run(app, course="essay-course", facilitators=[fac], title="Essay run, Leeds")
    trainee = client_for(app, "t@example.org")
    page = trainee.get("/courses/essay-course").get_data(as_text=True)
    trainee.post(f"/runs/{run_id}/sign-up", data={"csrf_token": csrf_from(page)})

    # The trainee's page is the type's own template.
    page = trainee.get(URL).get_data(as_text=True)
    assert '<p class="essay-prompt">Write to members about the new rota consultation.</p>' in page
    short = trainee.post(URL, data={"csrf_token": csrf_from(page), "essay": "Too short."})
    assert short.status_code == 422
    assert "Write at least 8 words (you have 2)." in short.get_data(as_text=True)
    assert ">Too short.</textarea>" in short.get_data(as_text=True)
    sent = trainee.post(URL, data={"csrf_token": csrf_from(page), "essay": essay()})
    assert sent.status_code == 302 and "result=1" in sent.headers["Location"]  # does not advance
    assert "Waiting for a reviewer" in trainee.get(URL).get_data(as_text=True)

    # It waits in the facilitator's queue.
    facilitator = client_for(app, "fac@example.org")
    queue = facilitator.get("/facilitate/reviews").get_data(as_text=True)
    assert "Tegan Morris" in queue and "Your message to members" in queue
    attempt_id = int(re.search(r"/facilitate/reviews/(\d+)", queue).group(1))
    review_url = f"/facilitate/reviews/{attempt_id}"

    # The reviewer's page is the type's own view, with its own mark and outcome names.
    page = facilitator.get(review_url).get_data(as_text=True)
    assert '<p class="essay-prompt card">' in page
    assert '<div class="answer-text essay-text">' + essay().strip() in page
    assert "Grade: how well does the essay answer the prompt?" in page
    assert '<label for="decision-accepted">Pass</label>' in page
    assert '<label for="decision-needs_work">Resubmit</label>' in page

    # The type judges: no grade is refused, keeping what was entered.
    data = {"csrf_token": csrf_from(page), "decision": "needs_work", "comments": "Add a date."}
    refused = facilitator.post(review_url, data=data)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert '<a href="#grade">Give the essay a grade from 1 to 5.</a>' in html
    assert ">Add a date.</textarea>" in html
    assert 'value="needs_work" checked' in html
    # Resubmit without comments: the platform's rule, in the type's words.
    refused = facilitator.post(review_url, data={**data, "grade": "2", "comments": ""})
    assert "Tell the trainee what to work on." in refused.get_data(as_text=True)
    assert facilitator.post(review_url, data={**data, "grade": "2"}).status_code == 302

    # The trainee sees the outcome on the type's page and on their dashboard, and resubmits.
    page = trainee.get(URL).get_data(as_text=True)
    assert "Resubmit: grade 2 of 5 · Femi Adeyemi" in page and "Add a date." in page
    assert "Add a date." in trainee.get("/dashboard").get_data(as_text=True)
    assert f">{essay()}</textarea>" in page  # the last version, to revise
    second = essay("Send them to me by 30 June.")
    assert (
        trainee.post(URL, data={"csrf_token": csrf_from(page), "essay": second}).status_code == 302
    )
    with app.app_context():
        assert db.session.scalar(select(Certificate)) is None

    queue = facilitator.get("/facilitate/reviews").get_data(as_text=True)
    second_id = int(re.search(r"/facilitate/reviews/(\d+)", queue).group(1))
    assert second_id != attempt_id
    page = facilitator.get(f"/facilitate/reviews/{second_id}").get_data(as_text=True)
    assert "Version 1" in page and "Version 2" in page and "Resubmit" in page
    accept = {"csrf_token": csrf_from(page), "decision": "accepted", "grade": "5", "comments": ""}
    assert facilitator.post(f"/facilitate/reviews/{second_id}", data=accept).status_code == 302
    assert "Nothing is waiting for review" in facilitator.get("/facilitate/reviews").get_data(
        as_text=True
    )

    page = trainee.get(URL).get_data(as_text=True)
    assert "Pass: grade 5 of 5" in page
    assert "<textarea" not in page

    # The reading page advances (its type says so); then the course is complete.
    reading = trainee.get("/learn/essay-course/why").get_data(as_text=True)
    done = trainee.post(
        "/learn/essay-course/why", data={"csrf_token": csrf_from(reading), "action": "complete"}
    )
    assert done.status_code == 302
    certificates = trainee.get("/certificates").get_data(as_text=True)
    assert "Short essays accepted: 1 of 1 accepted" in certificates
    with app.app_context():
        reviews = db.session.scalars(select(AttemptReview).order_by(AttemptReview.id)).all()
        assert [(r.decision, r.criteria) for r in reviews] == [
            ("needs_work", {"grade": "2"}),
            ("accepted", {"grade": "5"}),
        ]
        row = db.session.scalar(
            select(ActivityProgress).where(ActivityProgress.activity_key == "essay")
        )
        assert row.is_complete and row.state["status"] == "accepted"
        assert db.session.scalar(select(Enrolment)).completed_at is not None
        certificate = db.session.scalar(select(Certificate))
        assert certificate is not None and certificate.accreditation_title == "MiP Essay Writer"
