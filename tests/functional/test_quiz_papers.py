"""A knowledge check through the test client: each attempt is a paper drawn from the
bank in its own order, judged on what was shown, stored, and shown back as it was."""

from __future__ import annotations

import re

from sqlalchemy import select

from lms.extensions import db
from lms.learning.models import Attempt
from tests.conftest import csrf_from
from tests.functional.test_learning import enrol

QUIZ = "/learn/link-member/promoting-mip-check"


def paper_on(html: str) -> list[tuple[str, tuple[str, ...]]]:
    """The questions of the page's form in order, each with its options in order."""
    out: dict[str, list[str]] = {}
    for name, value in re.findall(r'name="(q-[a-z0-9-]+)" value="([a-z0-9-]+)"', html):
        out.setdefault(name, []).append(value)
    return [(name, tuple(values)) for name, values in out.items()]


def config(app):
    return app.extensions["lms.courses"].get("link-member").activity("promoting-mip-check").config


def answers(app, paper, right=True) -> dict:
    questions = {q.field_name: q for q in config(app).questions}
    data = {}
    for name, _order in paper:
        q = questions[name]
        wrong = [o.key for o in q.options if not o.correct]
        data[name] = sorted(q.correct_keys) if right else wrong[:1]
    return data


def test_each_attempt_gets_its_own_paper_and_sees_it_again_in_the_results(app, trainee_client):
    enrol(trainee_client)
    page = trainee_client.get(QUIZ).get_data(as_text=True)
    paper = paper_on(page)
    assert len(paper) == config(app).paper_size
    assert f"Answer all {len(paper)} questions." in page
    assert 'name="paper" value="0"' in page
    # A reload shows the same paper: nobody can shop for an easy one.
    assert paper_on(trainee_client.get(QUIZ).get_data(as_text=True)) == paper

    response = trainee_client.post(
        QUIZ, data={"csrf_token": csrf_from(page), "paper": "0", **answers(app, paper, False)}
    )
    results = trainee_client.get(response.location).get_data(as_text=True)
    assert "Attempt 1: 0%" in results
    shown = re.findall(r'<fieldset class="question[^"]*" id="(q-[a-z0-9-]+)"', results)
    assert shown == [n for n, _ in paper]
    assert results.count(" disabled>") >= len(paper)  # answers are shown, not re-sent
    # Why each wrong answer is wrong is shown beside the answer given.
    q = {q.field_name: q for q in config(app).questions}[paper[0][0]]
    chosen = next(o for o in q.options if not o.correct)
    if chosen.why:
        assert "Your answer:" in results
    with app.app_context():
        attempt = db.session.scalar(select(Attempt).where(Attempt.number == 1))
        assert attempt.data["paper"]["questions"] == [n[2:] for n, _ in paper]
        assert attempt.data["paper"]["options"] == {n[2:]: list(o) for n, o in paper}

    # The retry is another paper.
    retry = trainee_client.get(QUIZ).get_data(as_text=True)
    second = paper_on(retry)
    assert second != paper
    assert 'name="paper" value="1"' in retry
    response = trainee_client.post(
        QUIZ, data={"csrf_token": csrf_from(retry), "paper": "1", **answers(app, second)}
    )
    assert "Attempt 2: 100%" in trainee_client.get(response.location).get_data(as_text=True)


def test_a_paper_not_yet_shown_cannot_be_chosen(app, trainee_client):
    enrol(trainee_client)
    page = trainee_client.get(QUIZ).get_data(as_text=True)
    paper = paper_on(page)
    # Posting "paper=5" is judged on the paper shown now (0): the answers fit it.
    response = trainee_client.post(
        QUIZ, data={"csrf_token": csrf_from(page), "paper": "5", **answers(app, paper)}
    )
    assert response.status_code == 302
    with app.app_context():
        attempt = db.session.scalar(select(Attempt))
        assert attempt.data["paper"]["questions"] == [n[2:] for n, _ in paper]
        assert attempt.score == 100


def test_missing_answers_keep_the_paper_and_what_was_chosen(app, trainee_client):
    enrol(trainee_client)
    page = trainee_client.get(QUIZ).get_data(as_text=True)
    paper = paper_on(page)
    first, _order = paper[0]
    partial = {first: answers(app, paper)[first]}
    response = trainee_client.post(
        QUIZ, data={"csrf_token": csrf_from(page), "paper": "0", **partial}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert paper_on(html) == paper
    assert f'value="{partial[first][0]}" checked' in html
    assert "Question 2: Choose an answer to this question." in html
