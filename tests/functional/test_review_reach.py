"""Review reaches someone for every course (issue 12): course reviewers, a pool, the work
no one can review, and completion that waits for reviewed work to meet the standard.

The walk-through is the issue's: a trainee does the whole link member course online
(it has no runs) and sends both case studies.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sqlalchemy import select

from lms.accounts.models import User
from lms.accreditation.models import Certificate
from lms.extensions import db
from lms.learning.models import Enrolment
from lms.notifications.models import Notification
from lms.review import reviewers
from tests.conftest import csrf_from, get_csrf, login
from tests.functional.review_helpers import name_reviewer, send_case_studies
from tests.functional.run_helpers import make_run
from tests.functional.test_learning import answers_for, enrol

ROOT = Path(__file__).resolve().parents[2]
CASES = ("supporting-members-case", "signposting-case")


def client_for(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def do_everything(app, client, slug="link-member"):
    """The trainee does every activity of the course through its pages."""
    enrol(client, slug)
    course = app.extensions["lms.courses"].get(slug)
    for activity in course.activities:
        url = f"/learn/{slug}/{activity.key}"
        page = client.get(url).get_data(as_text=True)
        data = answers_for(app, slug, activity)
        assert client.post(url, data={"csrf_token": csrf_from(page), **data}).status_code == 302


def judge(app, reviewer_client, attempt_id, decision, comments="Clear and well argued."):
    url = f"/facilitate/reviews/{attempt_id}"
    page = reviewer_client.get(url)
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    keys = set(re.findall(r'name="criterion-([a-z0-9-]+)"', html))
    data = {"csrf_token": csrf_from(html), "decision": decision, "comments": comments}
    for key in keys:
        data[f"criterion-{key}"] = "met" if decision == "accepted" else "not_yet"
    return reviewer_client.post(url, data=data)


def queue_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/facilitate/reviews/(\d+)"', html)]


def certificate_count(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(Certificate)).all())


def test_link_member_online_walk_through(app, make):
    make("admin", email="admin@example.org", name="Aled Price")
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    make("trainee", email="t@example.org", name="Tegan Morris")
    trainee = client_for(app, "t@example.org")
    do_everything(app, trainee)

    # Before anyone is named, the work reaches no one, and the training office sees it.
    facilitator = client_for(app, "fac@example.org")
    assert "Nothing is waiting for review" in facilitator.get("/facilitate/reviews").get_data(
        as_text=True
    )
    admin = client_for(app, "admin@example.org")
    unassigned = admin.get("/admin/courses/unassigned-work").get_data(as_text=True)
    assert unassigned.count("<td>Tegan Morris</td>") == 2
    assert "/admin/courses/link-member/reviewers" in unassigned
    dashboard = admin.get("/dashboard").get_data(as_text=True)
    assert "answers wait with no one to review them" in dashboard
    overview = admin.get("/admin/courses/reviewers").get_data(as_text=True)
    assert "No one named" in overview

    # The training office names the facilitator as the course's reviewer.
    url = "/admin/courses/link-member/reviewers"
    named = admin.post(url, data={"csrf_token": get_csrf(admin, url), "user_id": str(fac)})
    assert named.status_code == 302
    assert "Femi Adeyemi" in admin.get(url).get_data(as_text=True)
    assert "Nothing is waiting without a reviewer." in admin.get(
        "/admin/courses/unassigned-work"
    ).get_data(as_text=True)
    assert "Every waiting answer has someone to review it." in admin.get("/dashboard").get_data(
        as_text=True
    )

    # The reviewer's dashboard counts the course's answers (they facilitate no run).
    panel = facilitator.get("/dashboard").get_data(as_text=True)
    section = panel[panel.index("Courses you review") :]
    assert "MiP link member course" in section
    assert "<dt>Answers to review</dt><dd>2</dd>" in section
    assert "/facilitate/reviews?course=link-member" in section

    # The reviewer's queue has both answers.
    queue = facilitator.get("/facilitate/reviews").get_data(as_text=True)
    assert "Tegan Morris" in queue
    first, second = queue_ids(queue)[:2]
    assert len(set(queue_ids(queue))) == 2

    # No certificate before the reviews, and no model guidance yet.
    assert certificate_count(app) == 0
    assert "0 of 2 case studies reviewed and meeting the standard" in trainee.get(
        "/certificates"
    ).get_data(as_text=True)
    for key in CASES:
        assert "Model guidance" not in trainee.get(f"/learn/link-member/{key}").get_data(
            as_text=True
        )

    # One meets the standard: its guidance shows; the course still waits.
    assert judge(app, facilitator, first, "accepted").status_code == 302
    assert certificate_count(app) == 0
    assert "1 of 2 case studies reviewed and meeting the standard" in trainee.get(
        "/certificates"
    ).get_data(as_text=True)
    shown = [
        "Model guidance" in trainee.get(f"/learn/link-member/{key}").get_data(as_text=True)
        for key in CASES
    ]
    assert sorted(shown) == [False, True]

    # The other is returned for more work: the trainee sends a new version.
    assert (
        judge(app, facilitator, second, "needs_work", "Say who you would signpost to.").status_code
        == 302
    )
    assert certificate_count(app) == 0
    [revise] = [k for k, s in zip(CASES, shown, strict=True) if not s]
    page = trainee.get(f"/learn/link-member/{revise}").get_data(as_text=True)
    assert "Revise your answer" in page and "Model guidance" not in page
    with app.app_context():
        course = app.extensions["lms.courses"].get("link-member")
        data = answers_for(app, "link-member", course.activity(revise))
    sent = trainee.post(
        f"/learn/link-member/{revise}", data={"csrf_token": csrf_from(page), **data}
    )
    assert sent.status_code == 302
    queue = facilitator.get("/facilitate/reviews").get_data(as_text=True)
    [third] = queue_ids(queue)
    assert third not in (first, second)

    # It meets the standard: the course is complete and the certificate issued.
    assert judge(app, facilitator, third, "accepted").status_code == 302
    assert certificate_count(app) == 1
    with app.app_context():
        assert db.session.scalar(select(Enrolment)).completed_at is not None
    mine = trainee.get("/certificates").get_data(as_text=True)
    assert "2 of 2 case studies reviewed and meeting the standard" in mine
    assert "Model guidance" in trainee.get(f"/learn/link-member/{revise}").get_data(as_text=True)


def test_course_reviewer_is_told_without_the_trainee_named_in_the_email(app, make):
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    make("facilitator", email="other@example.org")
    make("trainee", email="t@example.org", name="Tegan Morris")
    name_reviewer(app, fac)
    client = client_for(app, "t@example.org")
    enrol(client)
    send_case_studies(client, app)
    with app.app_context():
        notices = db.session.scalars(
            select(Notification).where(Notification.kind == "case_study_waiting")
        ).all()
        assert {n.user_id for n in notices} == {fac}  # not the facilitator who is not named
        assert all(n.link.startswith("/facilitate/reviews/") for n in notices)
        assert len(notices) == 2
    mails = [(s, b) for to, s, b in app.extensions.get("lms.outbox", []) if to == "fac@example.org"]
    assert len(mails) == 2
    assert all("Tegan" not in s + b and "Morris" not in s + b for s, b in mails)
    assert all("MiP link member course" in s for s, _b in mails)


def test_a_run_with_a_facilitator_keeps_its_trainees_work(app, make):
    run_fac = make("facilitator", email="runfac@example.org")
    course_fac = make("facilitator", email="coursefac@example.org")
    make("trainee", email="onrun@example.org", name="Rhys On-Run")
    make("trainee", email="norun@example.org", name="Nia No-Run")
    make("trainee", email="bare@example.org", name="Bryn Bare-Run")
    name_reviewer(app, course_fac)
    run_id = make_run(app, course="link-member", facilitators=[run_fac], days=1)
    bare_run = make_run(app, course="link-member", facilitators=[], days=1, title="No one")
    for email, run in (("onrun@example.org", run_id), ("bare@example.org", bare_run)):
        client = client_for(app, email)
        client.post(
            f"/runs/{run}/sign-up", data={"csrf_token": get_csrf(client, "/courses/link-member")}
        )
    for email in ("onrun@example.org", "norun@example.org", "bare@example.org"):
        client = client_for(app, email)
        enrol(client)
        send_case_studies(client, app)
    run_queue = (
        client_for(app, "runfac@example.org").get("/facilitate/reviews").get_data(as_text=True)
    )
    course_queue = client_for(app, "coursefac@example.org").get("/facilitate/reviews")
    course_queue = course_queue.get_data(as_text=True)
    assert "Rhys On-Run" in run_queue and "Nia No-Run" not in run_queue
    assert "Rhys On-Run" not in course_queue
    # A run with no facilitator brings the work to no one: the course reviewer has it.
    assert "Nia No-Run" in course_queue and "Bryn Bare-Run" in course_queue
    # The course reviewer cannot open the run trainee's work.
    run_ids = queue_ids(run_queue)
    assert (
        client_for(app, "coursefac@example.org")
        .get(f"/facilitate/reviews/{run_ids[0]}")
        .status_code
        == 403
    )
    with app.app_context():
        assert reviewers.unassigned_count() == 0


def test_admin_names_and_removes_reviewers_and_bad_input_is_explained(app, make):
    make("admin", email="admin@example.org")
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    trainee = make("trainee", email="t@example.org", name="Tegan Morris")
    admin = client_for(app, "admin@example.org")
    url = "/admin/courses/link-member/reviewers"
    page = admin.get(url).get_data(as_text=True)
    assert "No one is named yet" in page and f'value="{fac}"' in page
    assert f'value="{trainee}"' not in page  # only facilitators are offered
    token = csrf_from(page)
    # Nobody chosen, or someone who is not a facilitator: a clear message.
    empty = admin.post(url, data={"csrf_token": token, "user_id": ""})
    assert empty.status_code == 422 and "Choose a facilitator to add." in empty.get_data(
        as_text=True
    )
    wrong = admin.post(url, data={"csrf_token": token, "user_id": str(trainee)})
    assert wrong.status_code == 422
    assert "Only an active facilitator can review" in wrong.get_data(as_text=True)
    assert admin.post(url, data={"csrf_token": "stale", "user_id": str(fac)}).status_code == 400
    assert admin.post(url, data={"csrf_token": token, "user_id": str(fac)}).status_code == 302
    again = admin.post(url, data={"csrf_token": token, "user_id": str(fac)})
    assert again.status_code == 422 and "already reviews this course" in again.get_data(
        as_text=True
    )
    removed = admin.post(f"{url}/{fac}/remove", data={"csrf_token": token})
    assert removed.status_code == 302
    assert admin.post(f"{url}/{fac}/remove", data={"csrf_token": token}).status_code == 404
    assert admin.get("/admin/courses/no-such-course/reviewers").status_code == 404
    # Others may not.
    facilitator = client_for(app, "fac@example.org")
    assert facilitator.get(url).status_code == 403
    assert facilitator.get("/admin/courses/unassigned-work").status_code == 403


def _courses_with(tmp_path, review_block: str) -> str:
    """A copy of the courses folder whose link member course has ``review_block``."""
    folder = tmp_path / "courses"
    shutil.copytree(ROOT / "courses", folder)
    course_file = folder / "link-member" / "course.yaml"
    text = course_file.read_text(encoding="utf-8")
    start = text.index("review:\n  by:")
    end = text.index("certificate:")
    course_file.write_text(text[:start] + review_block + text[end:], encoding="utf-8")
    return str(folder)


def test_pool_course_and_guidance_after_submission(app, app_with, make, tmp_path):
    pooled = app_with(
        LMS_COURSES_DIR=_courses_with(
            tmp_path, "review:\n  by: pool\n  guidance: after_submission\n"
        )
    )
    with pooled.app_context():
        course = pooled.extensions["lms.courses"].get("link-member")
        assert course.review.by == "pool" and course.review.guidance == "after_submission"
    make("trainee", email="t@example.org", name="Tegan Morris")
    make("admin", email="admin@example.org")
    client = client_for(pooled, "t@example.org")
    enrol(client)
    send_case_studies(client, pooled)
    # Guidance as soon as the answer is sent.
    page = client.get(f"/learn/link-member/{CASES[0]}").get_data(as_text=True)
    assert "Model guidance" in page
    # With no facilitator at all, the pool is empty: the work is unassigned.
    with pooled.app_context():
        assert reviewers.unassigned_count() == 2
    # Any facilitator reviews it, without being named.
    make("facilitator", email="anyone@example.org", name="Ann Yone")
    with pooled.app_context():
        assert reviewers.unassigned_count() == 0
    facilitator = client_for(pooled, "anyone@example.org")
    queue = facilitator.get("/facilitate/reviews").get_data(as_text=True)
    assert "Tegan Morris" in queue and len(set(queue_ids(queue))) == 2
    assert "Every facilitator (pool)" in client_for(pooled, "admin@example.org").get(
        "/admin/courses/reviewers"
    ).get_data(as_text=True)


def test_course_reviewer_queue_query_count_does_not_grow(app, make):
    from tests.functional.test_query_counts import QueryCounter

    fac = make("facilitator", email="fac@example.org")
    name_reviewer(app, fac)

    def add_trainees(n: int) -> None:
        for _ in range(n):
            uid = make("trainee")
            with app.app_context():
                email = db.session.get(User, uid).email
            client = client_for(app, email)
            enrol(client)
            send_case_studies(client, app)

    def count() -> tuple[int, int]:
        client = client_for(app, "fac@example.org")
        client.get("/facilitate/reviews")  # warm
        with app.app_context():
            counter = QueryCounter(db.engine)
        counter.active = True
        try:
            response = client.get("/facilitate/reviews")
        finally:
            counter.active = False
            counter.close()
        return len(counter.statements), len(set(queue_ids(response.get_data(as_text=True))))

    add_trainees(2)
    small, shown_small = count()
    add_trainees(12)  # 28 answers: more than a page of the queue
    large, shown_large = count()
    assert shown_small == 4 and shown_large == 25
    assert large <= small, (small, large)
    # And the reviewer of an online course reviews it all, with a run nowhere.
    with app.app_context():
        assert reviewers.unassigned_count() == 0
