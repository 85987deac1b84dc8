"""The trainee's online journey through the test client, on a real database."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from lms.extensions import db
from lms.learning.models import ActivityProgress, Attempt, Enrolment
from tests.conftest import csrf_from, get_csrf


def enrol(client, slug="link-member"):
    token = get_csrf(client, f"/courses/{slug}")
    return client.post(f"/courses/{slug}/enrol", data={"csrf_token": token})


def quiz_answers(app, slug, key, right=True):
    course = app.extensions["lms.courses"].get(slug)
    config = course.activity(key).config
    data = {}
    for q in config.questions:
        if right:
            data[q.field_name] = sorted(q.correct_keys)
        else:
            wrong = [o.key for o in q.options if not o.correct]
            data[q.field_name] = wrong[:1]
    return data


def answers_for(app, slug, activity) -> dict:
    """Form data that completes ``activity`` (a trainee who does everything right)."""
    if activity.type == "reading":
        return {"action": "complete"}
    if activity.type == "quiz":
        return quiz_answers(app, slug, activity.key)
    if activity.type == "case_study":
        words = activity.config.min_words + 5
        return {"answer": " ".join(["I would listen to the member first"] * (words // 7 + 1))}
    if activity.type == "feedback":
        data = {}
        for q in activity.config.questions:
            if q.kind == "rating":
                data[q.field_name] = "4"
            elif q.kind == "choice":
                data[q.field_name] = q.options[0]
            else:
                data[q.field_name] = "Useful day, thank you."
        return data
    raise AssertionError(activity.type)


def test_rep_course_refused_until_link_member_course_complete(trainee_client):
    response = enrol(trainee_client, "rep")
    assert response.status_code == 303
    page = trainee_client.get(response.location).get_data(as_text=True)
    assert "You can join MiP rep course once you have completed: MiP link member course" in page
    assert "Join this course" not in page
    assert trainee_client.get("/learn/rep").status_code == 302


def test_enrol_complete_reading_and_quiz(app, trainee_client):
    response = enrol(trainee_client)
    assert response.status_code == 302
    assert response.location == "/learn/link-member/promoting-mip-reading"
    page = trainee_client.get(response.location).get_data(as_text=True)
    assert "Mark as done" in page
    assert "0%" in page

    response = trainee_client.post(
        "/learn/link-member/promoting-mip-reading",
        data={"csrf_token": csrf_from(page), "action": "complete"},
    )
    assert response.location == "/learn/link-member/promoting-mip-check"
    page = trainee_client.get(response.location).get_data(as_text=True)

    # A wrong attempt: scored, explanations shown, not complete.
    wrong = quiz_answers(app, "link-member", "promoting-mip-check", right=False)
    response = trainee_client.post(
        "/learn/link-member/promoting-mip-check", data={"csrf_token": csrf_from(page), **wrong}
    )
    assert response.status_code == 302
    page = trainee_client.get(response.location).get_data(as_text=True)
    assert "Attempt 1: 0%" in page
    assert "Not quite." in page
    assert "Try again" in page

    right = quiz_answers(app, "link-member", "promoting-mip-check")
    response = trainee_client.post(
        "/learn/link-member/promoting-mip-check", data={"csrf_token": csrf_from(page), **right}
    )
    page = trainee_client.get(response.location).get_data(as_text=True)
    assert "Attempt 2: 100%" in page
    assert "You passed" in page

    # A later worse attempt does not lower the best score.
    response = trainee_client.post(
        "/learn/link-member/promoting-mip-check", data={"csrf_token": csrf_from(page), **wrong}
    )
    with app.app_context():
        row = db.session.scalar(
            select(ActivityProgress).where(ActivityProgress.activity_key == "promoting-mip-check")
        )
        assert row.best_score == 100
        assert row.is_complete
        assert row.attempt_count == 3
        quiz_attempts = select(func.count()).where(Attempt.activity_key == "promoting-mip-check")
        assert db.session.scalar(quiz_attempts) == 3

    dashboard = trainee_client.get("/dashboard").get_data(as_text=True)
    assert "2 of 19 activities complete" in dashboard
    assert 'value="2"' in dashboard


def test_unanswered_quiz_keeps_answers_and_names_the_question(app, trainee_client):
    enrol(trainee_client)
    page = trainee_client.get("/learn/link-member/promoting-mip-check").get_data(as_text=True)
    right = quiz_answers(app, "link-member", "promoting-mip-check")
    # A question of the paper shown (drawn from the bank).
    first = re.search(r'<fieldset class="question[^"]*" id="(q-[a-z0-9-]+)"', page).group(1)
    partial = {first: right[first]}
    response = trainee_client.post(
        "/learn/link-member/promoting-mip-check", data={"csrf_token": csrf_from(page), **partial}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Answer every question" in html
    assert "Choose an answer to this question." in html
    assert (
        f'id="{first}-{right[first][0]}" name="{first}" value="{right[first][0]}" checked' in html
    )
    with app.app_context():
        assert db.session.scalar(select(func.count(Attempt.id))) == 0


def test_expired_csrf_keeps_answers(app, trainee_client):
    enrol(trainee_client)
    right = quiz_answers(app, "link-member", "promoting-mip-check")
    response = trainee_client.post(
        "/learn/link-member/promoting-mip-check", data={"csrf_token": "stale", **right}
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Your answers are still here" in html
    # The paper shown (drawn from the bank) keeps every answer given to its questions.
    shown = set(re.findall(r'<fieldset class="question[^"]*" id="(q-[a-z0-9-]+)"', html))
    assert (
        len(shown)
        == app.extensions["lms.courses"]
        .get("link-member")
        .activity("promoting-mip-check")
        .config.paper_size
    )
    assert html.count("checked") == sum(len(v) for k, v in right.items() if k in shown)


def test_resume_goes_to_last_visited_activity(trainee_client):
    enrol(trainee_client)
    trainee_client.get("/learn/link-member/recruiting-check")
    response = trainee_client.get("/learn/link-member")
    assert response.location == "/learn/link-member/recruiting-check"
    # The dashboard's button goes to the first activity still to do; where the person
    # was last is a link beside it.
    dashboard = trainee_client.get("/dashboard").get_data(as_text=True)
    assert 'Where you were last: <a href="/learn/link-member/recruiting-check">' in dashboard


def test_previous_and_next_links(trainee_client):
    enrol(trainee_client)
    html = trainee_client.get("/learn/link-member/information-advice-reading").get_data(
        as_text=True
    )
    assert 'href="/learn/link-member/promoting-mip-check" rel="prev"' in html
    assert 'href="/learn/link-member/information-advice-check" rel="next"' in html


def test_completing_every_activity_completes_course_and_opens_rep_course(app, trainee_client, make):
    from tests.functional.review_helpers import name_reviewer, review_latest

    enrol(trainee_client)
    course = app.extensions["lms.courses"].get("link-member")
    for activity in course.activities:
        page = trainee_client.get(f"/learn/link-member/{activity.key}").get_data(as_text=True)
        data = answers_for(app, "link-member", activity)
        response = trainee_client.post(
            f"/learn/link-member/{activity.key}", data={"csrf_token": csrf_from(page), **data}
        )
        assert response.status_code == 302
    with app.app_context():
        # Every activity is done, but the course waits for its case studies to be reviewed
        # as meeting the standard (completion: review: must_pass).
        assert db.session.scalar(select(Enrolment)).completed_at is None
    assert enrol(trainee_client, "rep").status_code == 303
    reviewer = make("facilitator")
    name_reviewer(app, reviewer)
    with app.app_context():
        trainee = db.session.scalar(select(Enrolment.user_id))
    assert review_latest(app, trainee, reviewer) == 2
    with app.app_context():
        enrolment = db.session.scalar(select(Enrolment))
        assert enrolment.completed_at is not None
        assert enrolment.completed_version == course.version
    dashboard = trainee_client.get("/dashboard").get_data(as_text=True)
    assert "Online part complete" in dashboard
    response = enrol(trainee_client, "rep")
    assert response.status_code == 302
    assert response.location.startswith("/learn/rep/")


def test_not_enrolled_cannot_open_or_submit_activities(trainee_client):
    assert trainee_client.get("/learn/link-member/promoting-mip-reading").status_code == 302
    token = get_csrf(trainee_client, "/courses/link-member")
    response = trainee_client.post(
        "/learn/link-member/promoting-mip-reading", data={"csrf_token": token, "action": "complete"}
    )
    assert response.status_code == 302


def test_unknown_course_and_activity_are_404(trainee_client):
    enrol(trainee_client)
    assert trainee_client.get("/courses/nope").status_code == 404
    assert trainee_client.get("/learn/link-member/nope").status_code == 404


def test_enrolling_twice_keeps_one_enrolment(app, trainee_client):
    enrol(trainee_client)
    enrol(trainee_client)
    with app.app_context():
        assert db.session.scalar(select(func.count(Enrolment.id))) == 1


def test_editing_course_text_keeps_everyones_progress(app, trainee_client, tmp_path, app_with):
    import shutil

    import yaml

    from tests.conftest import login

    enrol(trainee_client)
    page = trainee_client.get("/learn/link-member/promoting-mip-reading").get_data(as_text=True)
    trainee_client.post(
        "/learn/link-member/promoting-mip-reading",
        data={"csrf_token": csrf_from(page), "action": "complete"},
    )

    # The training office rewrites the page, rewords a question and reorders modules.
    courses = tmp_path / "courses"
    shutil.copytree(app.config["LMS_COURSES_DIR"], courses)
    page_file = courses / "link-member" / "modules" / "01-promoting-mip.md"
    page_file.write_text("## A new opening\n\nRewritten text.\n\n" + page_file.read_text())
    quiz_file = courses / "link-member" / "modules" / "01-promoting-mip.quiz.yaml"
    quiz = yaml.safe_load(quiz_file.read_text())
    quiz["questions"][0]["prompt"] = "Reworded: " + quiz["questions"][0]["prompt"]
    quiz_file.write_text(yaml.safe_dump(quiz))
    course_file = courses / "link-member" / "course.yaml"
    course = yaml.safe_load(course_file.read_text())
    course["modules"].reverse()
    course["version"] = "2026.2"
    course_file.write_text(yaml.safe_dump(course))

    edited = app_with(LMS_COURSES_DIR=str(courses))
    client = edited.test_client()
    login(client, "sam@example.org")
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "1 of 19 activities complete" in dashboard
    html = client.get("/learn/link-member/promoting-mip-reading").get_data(as_text=True)
    assert "A new opening" in html
    assert "You have marked this page as done." in html


def test_contents_list_shows_the_current_page_and_what_is_complete(trainee_client):
    """The contents list is kept between requests (per page and set of complete
    activities): it must still follow the page and the trainee's progress."""
    enrol(trainee_client)
    reading = "/learn/link-member/promoting-mip-reading"
    check = "/learn/link-member/promoting-mip-check"

    def contents(url):
        html = trainee_client.get(url).get_data(as_text=True)
        return html[
            html.index('<ol class="toc">') : html.index("</ol>", html.index('<ol class="toc">'))
        ]

    before = contents(reading)
    assert f'<a href="{reading}" aria-current="page">' in before
    assert "is-complete" not in before
    assert f'<a href="{check}" aria-current="page">' in contents(check)

    page = trainee_client.get(reading).get_data(as_text=True)
    trainee_client.post(reading, data={"csrf_token": csrf_from(page), "action": "complete"})
    after = contents(reading)
    assert after.count("is-complete") == 1
    assert "(complete)</span>" in after
    assert f'<a href="{reading}" aria-current="page">' in after


def test_a_quiz_seen_again_after_answers_and_errors_shows_them_only_when_due(app, trainee_client):
    """The plain questions are kept once rendered; answers, errors and results never leak
    into them, and a page with answers or errors is never served from them."""
    import re

    enrol(trainee_client)
    url = "/learn/link-member/promoting-mip-check"
    plain = trainee_client.get(url).get_data(as_text=True)
    token = re.compile(r'name="csrf_token" value="[^"]*"')

    def form_of(html: str) -> str:
        return token.sub("", re.search(r'<form method="post".*?</form>', html, re.S).group(0))

    questions = form_of(plain)
    assert " checked" not in questions and "field--error" not in questions
    right = quiz_answers(app, "link-member", "promoting-mip-check")
    # A question of the paper shown (drawn from the bank).
    first = re.search(r'<fieldset class="question[^"]*" id="(q-[a-z0-9-]+)"', plain).group(1)
    rejected = trainee_client.post(
        url, data={"csrf_token": csrf_from(plain), first: right[first]}
    ).get_data(as_text=True)
    assert "field--error" in rejected and " checked" in rejected
    # The same paper seen again is the kept plain one, untouched by the errors.
    assert form_of(trainee_client.get(url).get_data(as_text=True)) == questions
    sent = trainee_client.post(url, data={"csrf_token": csrf_from(plain), **right})
    result = trainee_client.get(sent.location).get_data(as_text=True)
    assert "choice--correct" in result and " checked" in result
    again = trainee_client.get(url).get_data(as_text=True)
    again_questions = form_of(again)
    # The next attempt's paper, plain: no answers, errors or results leak into it.
    assert " checked" not in again_questions and "field--error" not in again_questions
    assert "choice--correct" not in again_questions and "Your answer:" not in again_questions
    assert form_of(trainee_client.get(url).get_data(as_text=True)) == again_questions


def test_the_dashboards_next_step_is_the_first_activity_still_to_do(app, trainee_client):
    enrol(trainee_client)
    # Having looked ahead at a later page, the next step is still the first one not done.
    trainee_client.get("/learn/link-member/recruiting-check")
    html = trainee_client.get("/dashboard").get_data(as_text=True)
    assert "Next: Promoting MiP and its campaigns" in html
    assert 'href="/learn/link-member/promoting-mip-reading"' in html
    page = trainee_client.get("/learn/link-member/promoting-mip-reading").get_data(as_text=True)
    trainee_client.post(
        "/learn/link-member/promoting-mip-reading",
        data={"csrf_token": csrf_from(page), "action": "complete"},
    )
    html = trainee_client.get("/dashboard").get_data(as_text=True)
    assert "Next: Knowledge check: promoting MiP" in html
