"""Course-level review rules (issue 12): the keys in course.yaml, checked like any other
content, and when a trainee sees a case's model guidance."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lms.catalogue.content import CourseContentError, load_catalogue
from lms.plugins import AttemptView, ReviewView, build_registry
from lms.review.rules import guidance_visible

COURSES = Path(__file__).resolve().parents[2] / "courses"
WHEN = datetime(2026, 12, 4, tzinfo=UTC)


def attempt(number: int, *decisions: str) -> AttemptView:
    reviews = tuple(ReviewView(d, {}, "", "Femi Adeyemi", WHEN) for d in decisions)
    return AttemptView(number, {"answer": "..."}, None, None, WHEN, reviews)


def test_the_link_member_course_waits_for_review_and_rep_keeps_the_defaults():
    catalogue = load_catalogue(COURSES, build_registry())
    link_member, rep = catalogue.get("link-member"), catalogue.get("rep")
    assert link_member.completion.review == "must_pass"
    assert (link_member.review.by, link_member.review.guidance) == ("assigned", "after_review")
    assert rep.completion.review == "none"
    assert (rep.review.by, rep.review.guidance) == ("assigned", "after_review")


class _Course:
    def __init__(self, guidance: str) -> None:
        self.review = type("R", (), {"guidance": guidance})()


@pytest.mark.parametrize(
    ("attempts", "after_review", "after_submission"),
    [
        ([], False, False),
        ([attempt(1)], False, True),  # sent, waiting
        ([attempt(1, "needs_work")], False, True),  # to revise: still the trainee's own work
        ([attempt(1, "needs_work"), attempt(2)], False, True),
        ([attempt(1, "needs_work"), attempt(2, "accepted")], True, True),
        ([attempt(1, "accepted")], True, True),
    ],
)
def test_guidance_shows_when_the_course_says(attempts, after_review, after_submission):
    assert guidance_visible(_Course("after_review"), attempts) is after_review
    assert guidance_visible(_Course("after_submission"), attempts) is after_submission


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ("review:\n  by: everyone\n", "review.by"),
        ("review:\n  guidance: never\n", "review.guidance"),
        ("review:\n  by: pool\n  reviewers: [a]\n", "review.reviewers"),
    ],
)
def test_bad_review_settings_name_the_file_and_the_field(tmp_path, block, field):
    folder = tmp_path / "courses"
    shutil.copytree(COURSES, folder)
    course_file = folder / "link-member" / "course.yaml"
    text = course_file.read_text(encoding="utf-8")
    start, end = text.index("review:\n  by:"), text.index("certificate:")
    course_file.write_text(text[:start] + block + text[end:], encoding="utf-8")
    with pytest.raises(CourseContentError) as caught:
        load_catalogue(folder, build_registry(), COURSES.parent / "certificates")
    assert any(
        p.file.endswith("link-member/course.yaml") and p.field == field
        for p in caught.value.problems
    ), caught.value.problems


def test_a_bad_completion_review_value_is_named(tmp_path):
    folder = tmp_path / "courses"
    shutil.copytree(COURSES, folder)
    course_file = folder / "link-member" / "course.yaml"
    text = course_file.read_text(encoding="utf-8").replace(
        "  review: must_pass ", "  review: always ", 1
    )
    course_file.write_text(text, encoding="utf-8")
    with pytest.raises(CourseContentError) as caught:
        load_catalogue(folder, build_registry(), COURSES.parent / "certificates")
    assert [p.field for p in caught.value.problems] == ["completion.review"]
