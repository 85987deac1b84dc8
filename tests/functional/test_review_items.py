"""The review queue's kept rows: right after sending, reviewing and sending again, equal to
rows made afresh from the attempts and reviews, and filled by the migration."""

from __future__ import annotations

import re
from datetime import timedelta

from flask_migrate import upgrade
from sqlalchemy import select

from lms.db import utcnow
from lms.extensions import db
from lms.learning import services as learning
from lms.learning.models import Attempt, AttemptReview
from lms.review import services as review
from lms.review.models import ReviewItem
from tests.conftest import csrf_from
from tests.functional.test_case_studies import CASE, URL, answer, case_config, client_for, setup_run


def kept_rows() -> list[tuple]:
    return [
        (r.attempt_id, r.enrolment_id, r.user_id, r.course_slug, r.activity_key, r.is_waiting)
        for r in db.session.scalars(select(ReviewItem).order_by(ReviewItem.attempt_id))
    ]


def assert_kept_equal_remade(app) -> list[tuple]:
    with app.app_context():
        kept = kept_rows()
        review.refresh_items()
        remade = kept_rows()
        db.session.rollback()
        assert kept == remade
        return kept


def send(client, text):
    page = client.get(URL).get_data(as_text=True)
    assert client.post(URL, data={"csrf_token": csrf_from(page), "answer": text}).status_code == 302


def decide(app, facilitator, attempt_id, decision):
    page = facilitator.get(f"/facilitate/reviews/{attempt_id}").get_data(as_text=True)
    keys = [c.key for c in case_config(app).criteria]
    data = {
        "csrf_token": csrf_from(page),
        "decision": decision,
        **{f"criterion-{k}": "met" for k in keys},
        "comments": "Say more about the next step.",
    }
    response = facilitator.post(f"/facilitate/reviews/{attempt_id}", data=data)
    assert response.status_code == 302


def queue_ids(facilitator, query=""):
    page = facilitator.get(f"/facilitate/reviews{query}").get_data(as_text=True)
    return [int(n) for n in re.findall(r'href="/facilitate/reviews/(\d+)"', page)]


def test_rows_follow_sending_reviewing_and_sending_again(app, make):
    client, _run_id, _trainee, _fac = setup_run(app, make)
    other, *_ = setup_run(
        app, make, trainee_email="u@example.org", facilitator_email="fac2@example.org"
    )
    facilitator = client_for(app, "fac@example.org")
    assert assert_kept_equal_remade(app) == []

    send(client, answer(160))
    send(other, answer(170))  # on another facilitator's run: not in this queue
    rows = assert_kept_equal_remade(app)
    assert [r[5] for r in rows] == [True, True]
    first = queue_ids(facilitator)
    assert len(set(first)) == 1

    decide(app, facilitator, first[0], "needs_work")
    rows = assert_kept_equal_remade(app)
    assert [r[5] for r in rows] == [False, True]
    assert queue_ids(facilitator) == []
    assert set(queue_ids(facilitator, "?show=all")) == set(first)

    send(client, answer(180))
    rows = assert_kept_equal_remade(app)
    assert [r[5] for r in rows] == [False, True, True]
    second = queue_ids(facilitator)
    assert len(set(second)) == 1 and second[0] != first[0]
    # Every version is listed, the waiting one first.
    everything = list(dict.fromkeys(queue_ids(facilitator, "?show=all")))
    assert everything == [second[0], first[0]]

    decide(app, facilitator, second[0], "accepted")
    rows = assert_kept_equal_remade(app)
    assert [r[5] for r in rows] == [False, True, False]
    assert queue_ids(facilitator) == []


def test_migration_fills_the_rows_from_stored_work(tmp_path):
    from flask_migrate import downgrade

    from lms import create_app
    from lms.accounts import services as accounts
    from tests.conftest import base_config

    app = create_app(base_config(f"sqlite:///{tmp_path / 'items.db'}", tmp_path / "instance"))
    with app.app_context():
        directory = app.extensions["migrate"].directory
        # The work is made with today's models, then the schema is taken back to before
        # the queue rows existed (0008), so that upgrading again has to fill them.
        upgrade(directory=directory)
        from lms.accounts.cli import seed_regions

        seed_regions()
        reviewer = accounts.create_user(
            "fac@example.org", "Femi Adeyemi", ("facilitator",), None, send_link=False
        ).user
        course = learning.catalogue().get("rep")
        expected = {}
        now = utcnow()
        for i in range(4):
            person = accounts.create_user(
                f"t{i}@example.org", f"Trainee {i}", ("trainee",), None, send_link=False
            ).user
            enrolment = learning.create_enrolment(person, course)
            db.session.flush()
            # Trainee i sent i + 1 versions; every version but the last was reviewed, and
            # the last one too for trainee 3.
            for number in range(1, i + 2):
                attempt = Attempt(
                    enrolment_id=enrolment.id,
                    activity_key=CASE,
                    activity_type="case_study",
                    number=number,
                    content_version=course.version,
                    data={"answer": "words"},
                    submitted_at=now - timedelta(days=10 - number),
                )
                db.session.add(attempt)
                db.session.flush()
                reviewed = number <= i if i < 3 else True
                if reviewed:
                    db.session.add(
                        AttemptReview(
                            attempt_id=attempt.id, reviewer_id=reviewer.id, decision="needs_work"
                        )
                    )
                expected[attempt.id] = number == i + 1 and not reviewed
        db.session.commit()
        db.session.remove()
        downgrade(directory=directory, revision="0008_feedback_tallies")

        upgrade(directory=directory)
        found = {r.attempt_id: r.is_waiting for r in db.session.scalars(select(ReviewItem))}
        assert found == expected
        assert sum(found.values()) == 3
        db.session.remove()
        downgrade(directory=directory, revision="0008_feedback_tallies")
        upgrade(directory=directory)
        db.session.remove()
        db.engine.dispose()


def test_queue_pages_are_counted_and_clamped(app, make):
    from lms.accounts.models import User
    from tests.conftest import get_csrf
    from tests.functional.run_helpers import complete_course, make_run

    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    run_id = make_run(app, facilitators=[fac])
    for i in range(4):
        uid = make("trainee", email=f"t{i}@example.org", name=f"Trainee {i}")
        complete_course(app, uid)
        client = client_for(app, f"t{i}@example.org")
        client.post(
            f"/runs/{run_id}/sign-up", data={"csrf_token": get_csrf(client, "/courses/rep")}
        )
        send(client, answer(160))
    with app.test_request_context("/facilitate/reviews"):
        reviewer = db.session.get(User, fac)
        first = review.queue(reviewer, page=1, per_page=3)
        assert (first.total, first.page, first.pages, len(first.items)) == (4, 1, 2, 3)
        second = review.queue(reviewer, page=2, per_page=3)
        assert (second.page, len(second.items)) == (2, 1)
        # Oldest first across pages, no one twice.
        sent = [i.attempt.submitted_at for i in first.items + second.items]
        assert sent == sorted(sent)
        assert len({i.attempt.id for i in first.items + second.items}) == 4
        past = review.queue(reviewer, page=9, per_page=3)
        assert (past.total, past.page, [i.attempt.id for i in past.items]) == (
            4,
            2,
            [i.attempt.id for i in second.items],
        )
        assert [i.run.id for i in first.items] == [run_id] * 3
        nothing = review.queue(reviewer, review.QueueFilters(q="nobody"), page=3)
        assert (nothing.total, nothing.page, nothing.items) == (0, 1, [])
