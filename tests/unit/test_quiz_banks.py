"""Quiz banks, papers and the quiz linter: what the knowledge checks do so that
choosing the longest answer or remembering a paper's order does not pass them."""

from __future__ import annotations

import pytest
from flask import Flask

from lms.activities.quiz import Quiz, QuizConfig, lint_quiz, paper_for, stored_paper


def _question(key: str, kind: str = "single", correct=("a",), lengths=(20, 20, 20, 20), why=True):
    options = []
    for i, n in enumerate(lengths):
        k = "abcdef"[i]
        opt = {"key": k, "text": (k * n)[:n], "correct": k in correct}
        if why and k not in correct:
            opt["why"] = "Because it is not."
        options.append(opt)
    return {
        "key": key,
        "kind": kind,
        "prompt": "What now?",
        "options": options,
        "explanation": "The point.",
    }


def bank(n: int = 10, draw: int | None = 7) -> QuizConfig:
    return QuizConfig.model_validate(
        {"pass_mark": 80, "draw": draw, "questions": [_question(f"q{i}") for i in range(n)]}
    )


@pytest.fixture()
def ctx():
    app = Flask(__name__)
    app.secret_key = "papers"
    with app.app_context():
        yield


def test_a_paper_draws_from_the_bank_and_is_the_same_on_reload(ctx):
    config = bank()
    first = paper_for(config, "7|link-member|check", 0)
    assert len(first) == 7
    assert len({pq.key for pq in first}) == 7
    assert {pq.key for pq in first} <= {q.key for q in config.questions}
    assert [pq.number for pq in first] == list(range(1, 8))
    again = paper_for(config, "7|link-member|check", 0)
    assert [(pq.key, pq.order) for pq in again] == [(pq.key, pq.order) for pq in first]


def test_retries_and_other_people_get_other_papers(ctx):
    config = bank()
    papers = [
        tuple((pq.key, pq.order) for pq in paper_for(config, "7|lm|check", n)) for n in range(12)
    ]
    assert all(papers[n] != papers[n + 1] for n in range(11))
    assert len(set(papers)) == 12
    other = tuple((pq.key, pq.order) for pq in paper_for(config, "8|lm|check", 0))
    assert other != papers[0]
    # Options are shuffled too: over a dozen papers some question shows another order.
    orders = {pq.order for n in range(12) for pq in paper_for(config, "7|lm|check", n)}
    assert len(orders) > 1


def test_even_a_two_question_quiz_never_repeats_the_last_paper(ctx):
    config = QuizConfig.model_validate(
        {"questions": [_question("x", lengths=(5, 5)), _question("y", lengths=(5, 5))]}
    )
    papers = [tuple((pq.key, pq.order) for pq in paper_for(config, "1|c|q", n)) for n in range(20)]
    assert all(papers[n] != papers[n + 1] for n in range(19))


def test_a_quiz_without_shuffling_keeps_its_order(ctx):
    config = QuizConfig.model_validate(
        {
            "shuffle_questions": False,
            "shuffle_options": False,
            "questions": [_question(f"q{i}") for i in range(4)],
        }
    )
    paper = paper_for(config, "1|c|q", 3)
    assert [pq.key for pq in paper] == ["q0", "q1", "q2", "q3"]
    assert paper[0].order == ("a", "b", "c", "d")


def test_the_stored_paper_shows_what_the_person_saw(ctx):
    config = bank()
    paper = paper_for(config, "7|lm|check", 2)
    data = {
        "answers": {pq.key: ["a"] for pq in paper},
        "paper": {
            "questions": [pq.key for pq in paper],
            "options": {pq.key: list(pq.order) for pq in paper},
        },
    }
    again = stored_paper(config, data)
    assert [(pq.key, pq.order) for pq in again] == [(pq.key, pq.order) for pq in paper]
    # Attempts from before papers were stored: their questions in the quiz's order.
    old = stored_paper(config, {"answers": {"q3": ["a"], "q1": ["b"], "gone": ["a"]}})
    assert [pq.key for pq in old] == ["q3", "q1"]
    assert old[0].order == ("a", "b", "c", "d")


def test_draw_larger_than_the_bank_is_refused():
    with pytest.raises(ValueError, match="draw is 11 but the bank has only 10 questions"):
        bank(10, 11)


def test_the_linter_finds_longest_right_answers():
    longest = [_question(f"q{i}", lengths=(60, 20, 22, 25)) for i in range(4)]
    findings = lint_quiz(QuizConfig.model_validate({"questions": longest}))
    errors = [f.message for f in findings if f.level == "error"]
    assert any("longest in 4 of 4 single-choice questions (at most 1)" in m for m in errors)
    assert any("correct option is 169% longer than the wrong ones" in m for m in errors)


def test_the_linter_accepts_balanced_questions():
    balanced = [
        _question("q0", lengths=(40, 42, 39, 41)),
        _question("q1", lengths=(44, 40, 42, 41)),  # longest once in four: chance
        _question("q2", lengths=(38, 40, 41, 37)),
        _question("q3", lengths=(40, 41, 40, 43)),
        _question("m1", "multiple", ("a", "b"), (30, 31, 30, 29, 33)),
        _question("m2", "multiple", ("a", "b", "c", "d"), (30, 31, 30, 29, 33)),
    ]
    findings = lint_quiz(QuizConfig.model_validate({"questions": balanced}))
    assert [f for f in findings if f.level == "error"] == []


def test_the_linter_wants_varied_counts_of_right_options_and_reasons():
    same = [
        _question("m1", "multiple", ("a", "b", "c"), (30, 30, 30, 30, 30)),
        _question("m2", "multiple", ("a", "b", "c"), (30, 30, 30, 30, 30), why=False),
    ]
    findings = lint_quiz(QuizConfig.model_validate({"questions": same}))
    assert any(
        f.level == "error" and "all 2 multiple-choice questions have exactly 3 correct" in f.message
        for f in findings
    )
    assert any(
        f.level == "error" and f.field == "questions[1] (m2).options[3]" and "why" in f.message
        for f in findings
    )
    assert Quiz().lint(QuizConfig.model_validate({"questions": same})) == findings
