"""Case studies: drafts that are never lost, model guidance, and facilitator review."""

from __future__ import annotations

import re

from sqlalchemy import select

from lms.extensions import db
from lms.learning.models import ActivityProgress, Attempt, AttemptReview
from tests.conftest import csrf_from, get_csrf, login
from tests.functional.run_helpers import complete_course, make_run

CASE = "representing-members-case"
URL = f"/learn/rep/{CASE}"


def client_for(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def answer(words: int) -> str:
    base = (
        "I would meet the member privately, listen to what they want, check the suspension "
        "letter and policy, and ask HR in writing for a date and a review of the suspension. "
    )
    text = base
    while len(text.split()) < words:
        text += base
    return text


def setup_run(app, make, trainee_email="t@example.org", facilitator_email="fac@example.org"):
    fac = make("facilitator", email=facilitator_email, name="Femi Adeyemi")
    trainee = make("trainee", email=trainee_email, name="Tegan Morris")
    complete_course(app, trainee)
    run_id = make_run(app, facilitators=[fac])
    client = client_for(app, trainee_email)
    token = get_csrf(client, "/courses/rep")
    client.post(f"/runs/{run_id}/sign-up", data={"csrf_token": token})
    return client, run_id, trainee, fac


def case_config(app):
    return app.extensions["lms.courses"].get("rep").activity(CASE).config


def test_case_page_shows_scenario_questions_and_privacy_reminder(app, make):
    client, *_ = setup_run(app, make)
    html = client.get(URL).get_data(as_text=True)
    config = case_config(app)
    assert "The situation" in html
    assert config.questions[0] in html
    assert "Do not write anything that could identify a patient or a colleague" in html
    assert 'data-autosave="/learn/rep/representing-members-case/draft"' in html
    assert "Model guidance" not in html  # only after submitting
    assert '<script src="/static/js/drafts.js" defer></script>' in html


def test_draft_autosave_endpoint_keeps_text(app, make):
    client, *_ = setup_run(app, make)
    page = client.get(URL).get_data(as_text=True)
    token = csrf_from(page)
    saved = client.post(
        f"{URL}/draft", data={"answer": "First thoughts: listen."}, headers={"X-CSRFToken": token}
    )
    assert saved.status_code == 200 and saved.get_json()["saved"] is True
    html = client.get(URL).get_data(as_text=True)
    assert ">First thoughts: listen.</textarea>" in html
    # Without the token the draft endpoint refuses.
    assert client.post(f"{URL}/draft", data={"answer": "x"}).status_code == 400


def test_short_answer_is_refused_but_saved_as_a_draft(app, make):
    client, *_ = setup_run(app, make)
    page = client.get(URL).get_data(as_text=True)
    response = client.post(URL, data={"csrf_token": csrf_from(page), "answer": "Too short."})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Write at least" in html and "Your draft is saved." in html
    assert ">Too short.</textarea>" in html
    with app.app_context():
        row = db.session.scalar(
            select(ActivityProgress).where(ActivityProgress.activity_key == CASE)
        )
        assert row.state["draft"] == {"answer": "Too short."}
        assert db.session.scalar(select(Attempt).where(Attempt.activity_key == CASE)) is None


def test_expired_csrf_token_never_loses_the_answer(app, make):
    client, *_ = setup_run(app, make)
    text = answer(200)
    response = client.post(URL, data={"csrf_token": "expired-token", "answer": text})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Your session timed out before you sent this. Your answers are still here" in html
    assert text.strip()[:80] in html
    with app.app_context():
        row = db.session.scalar(
            select(ActivityProgress).where(ActivityProgress.activity_key == CASE)
        )
        assert row.state["draft"]["answer"] == text
    # And it is there when the page is opened again.
    assert text.strip()[:80] in client.get(URL).get_data(as_text=True)


def test_submit_then_review_needs_work_resubmit_accept_then_guidance(app, make):
    client, run_id, trainee, fac = setup_run(app, make)
    page = client.get(URL).get_data(as_text=True)
    first = answer(160)
    assert (
        client.post(URL, data={"csrf_token": csrf_from(page), "answer": first}).status_code == 302
    )
    html = client.get(URL).get_data(as_text=True)
    # The rep course shows the model guidance after review (the default), not on sending.
    assert "Model guidance" not in html
    assert "The model guidance appears here once a facilitator has reviewed it" in html
    assert "Waiting for a facilitator to review it" in html
    assert "<textarea" not in html  # cannot send again while waiting

    facilitator = client_for(app, "fac@example.org")
    queue = facilitator.get("/facilitate/reviews").get_data(as_text=True)
    assert "Tegan Morris" in queue
    attempt_id = int(re.search(r"/facilitate/reviews/(\d+)", queue).group(1))
    review_url = f"/facilitate/reviews/{attempt_id}"
    page = facilitator.get(review_url).get_data(as_text=True)
    assert first[:60] in page
    keys = [c.key for c in case_config(app).criteria]

    # "Needs more work" without comments is refused, keeping the marks.
    data = {
        "csrf_token": csrf_from(page),
        "decision": "needs_work",
        **{f"criterion-{k}": "met" for k in keys},
    }
    data[f"criterion-{keys[0]}"] = "not_yet"
    refused = facilitator.post(review_url, data=data)
    assert refused.status_code == 422
    assert "Tell the trainee what to work on." in refused.get_data(as_text=True)
    assert (
        f'id="criterion-{keys[0]}-not_yet" name="criterion-{keys[0]}" value="not_yet" checked'
        in (refused.get_data(as_text=True))
    )
    data["comments"] = "Good start. Say how you would press for a review of the suspension."
    assert facilitator.post(review_url, data=data).status_code == 302

    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Needs more work" in dashboard
    assert "press for a review of the suspension" in dashboard
    html = client.get(URL).get_data(as_text=True)
    assert "Revise your answer" in html
    assert first[:60] in html  # the previous version is offered for revision
    assert "Model guidance" not in html  # the revision is the trainee's own work

    page = html
    second = answer(170) + " I would also ask for the suspension to be reviewed every four weeks."
    assert (
        client.post(URL, data={"csrf_token": csrf_from(page), "answer": second}).status_code == 302
    )

    queue = facilitator.get("/facilitate/reviews").get_data(as_text=True)
    second_id = int(re.search(r"/facilitate/reviews/(\d+)", queue).group(1))
    assert second_id != attempt_id
    # The old version can no longer be decided on.
    stale = facilitator.post(review_url, data={**data, "decision": "accepted"})
    assert stale.status_code == 422
    page = facilitator.get(f"/facilitate/reviews/{second_id}").get_data(as_text=True)
    assert "Version 1" in page and "Version 2" in page
    accept = {
        "csrf_token": csrf_from(page),
        "decision": "accepted",
        **{f"criterion-{k}": "met" for k in keys},
        "comments": "Well reasoned.",
    }
    assert facilitator.post(f"/facilitate/reviews/{second_id}", data=accept).status_code == 302
    assert "Nothing is waiting for review" in facilitator.get("/facilitate/reviews").get_data(
        as_text=True
    )

    html = client.get(URL).get_data(as_text=True)
    assert html.index("Version 1") < html.index("Needs more work") < html.index("Version 2")
    assert "Meets the standard" in html and "Well reasoned." in html
    assert "Model guidance" in html  # it meets the standard: the guidance shows
    with app.app_context():
        attempts = db.session.scalars(
            select(Attempt).where(Attempt.activity_key == CASE).order_by(Attempt.number)
        ).all()
        assert [a.data["answer"] for a in attempts] == [first, second]
        reviews = db.session.scalars(select(AttemptReview).order_by(AttemptReview.id)).all()
        assert [r.decision for r in reviews] == ["needs_work", "accepted"]
        row = db.session.scalar(
            select(ActivityProgress).where(ActivityProgress.activity_key == CASE)
        )
        assert row.is_complete and row.state["status"] == "accepted"


def test_facilitator_of_another_run_cannot_see_or_review(app, make):
    client, run_id, trainee, fac = setup_run(app, make)
    make("facilitator", email="elsewhere@example.org")
    make_run(app, facilitators=[], title="Another run")
    page = client.get(URL).get_data(as_text=True)
    client.post(URL, data={"csrf_token": csrf_from(page), "answer": answer(160)})
    with app.app_context():
        attempt_id = db.session.scalar(select(Attempt.id).where(Attempt.activity_key == CASE))
    other = client_for(app, "elsewhere@example.org")
    assert "Tegan Morris" not in other.get("/facilitate/reviews").get_data(as_text=True)
    assert other.get(f"/facilitate/reviews/{attempt_id}").status_code == 403
    token = get_csrf(other, "/facilitate/reviews")
    refused = other.post(
        f"/facilitate/reviews/{attempt_id}", data={"csrf_token": token, "decision": "accepted"}
    )
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(AttemptReview)) is None


def test_trainee_cannot_see_another_trainees_answer(app, make):
    client, run_id, trainee, fac = setup_run(app, make)
    page = client.get(URL).get_data(as_text=True)
    secret = answer(160) + " UNIQUE-MARKER-42"
    client.post(URL, data={"csrf_token": csrf_from(page), "answer": secret})
    with app.app_context():
        attempt_id = db.session.scalar(select(Attempt.id).where(Attempt.activity_key == CASE))
    nosy_id = make("trainee", email="nosy@example.org")
    complete_course(app, nosy_id)
    nosy = client_for(app, "nosy@example.org")
    assert nosy.get(f"/facilitate/reviews/{attempt_id}").status_code == 403
    token = get_csrf(nosy, "/courses/rep")
    nosy.post("/courses/rep/enrol", data={"csrf_token": token})
    assert "UNIQUE-MARKER-42" not in nosy.get(URL).get_data(as_text=True)
    for n in range(1, 4):
        assert "UNIQUE-MARKER-42" not in nosy.get(f"/facilitate/reviews/{n}").get_data(as_text=True)
