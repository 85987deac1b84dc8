"""Counts of feedback answers kept as responses arrive (see :class:`FeedbackTally`).

Each response adds one to its form's :data:`TOTAL` (and :data:`ANONYMOUS`) row and
one to the row of each rating or option it gave (a text answer counts under ``""``),
both for its run and for the whole course (:data:`ALL_RUNS`), in the transaction
that stores the response. The additions are one ``INSERT ... ON CONFLICT DO UPDATE
SET count = count + n`` per row, atomic on SQLite and PostgreSQL, so concurrent
submissions never lose a count; rows are written in key order, so two transactions
touching the same rows cannot deadlock on PostgreSQL.

:func:`recount` works the same counts out from the responses themselves (tests and
repairs compare or replace the kept ones with it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app
from sqlalchemy import delete, select

from lms.db import dialect_insert
from lms.extensions import db
from lms.feedback.models import (
    ALL_RUNS,
    ANONYMOUS,
    NO_RUN,
    TOTAL,
    FeedbackResponse,
    FeedbackTally,
)

#: (course_slug, activity_key, run_key, question_key, value) -> count
Key = tuple[str, str, int, str, str]


def value_text(value: Any) -> str:
    """A rating or option as the tally stores it (ratings may come back as floats)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _kinds(course_slug: str, activity_key: str) -> dict[str, str]:
    """Question key -> kind for a form of the catalogue ({} when it is not there)."""
    course = current_app.extensions["lms.courses"].get(course_slug)
    activity = course.activity(activity_key) if course is not None else None
    if activity is None or activity.type != "feedback":
        return {}
    return {q.key: q.kind for q in activity.config.questions}


def count_response(
    counts: Counter,
    kinds: Mapping[str, str],
    course_slug: str,
    activity_key: str,
    run_id: int | None,
    is_anonymous: bool,
    answers: Mapping[str, Any],
) -> None:
    """Add one response to ``counts``. ``kinds`` (question key -> kind) says which answers
    are free text: those count under ``""`` and their words are never kept. An answer to
    a question ``kinds`` does not know counts under its value only if it is a number."""
    runs = (ALL_RUNS, NO_RUN if run_id is None else run_id)
    for run_key in runs:
        counts[(course_slug, activity_key, run_key, TOTAL, "")] += 1
        if is_anonymous:
            counts[(course_slug, activity_key, run_key, ANONYMOUS, "")] += 1
        for question_key, value in answers.items():
            if value is None:
                continue
            kind = kinds.get(question_key)
            if kind in ("rating", "choice") or (
                kind is None and isinstance(value, int | float) and not isinstance(value, bool)
            ):
                text = value_text(value)
            else:
                text = ""
            counts[(course_slug, activity_key, run_key, question_key, text)] += 1


def add(counts: Mapping[Key, int]) -> None:
    """Add ``counts`` to the kept tallies, in the current transaction."""
    if not counts:
        return
    table = FeedbackTally.__table__
    stmt = dialect_insert(table, db.session.get_bind().dialect.name)
    stmt = stmt.on_conflict_do_update(
        index_elements=[
            table.c.course_slug,
            table.c.activity_key,
            table.c.run_key,
            table.c.question_key,
            table.c.value,
        ],
        set_={"count": table.c.count + stmt.excluded["count"]},
    )
    rows = [
        {
            "course_slug": key[0],
            "activity_key": key[1],
            "run_key": key[2],
            "question_key": key[3],
            "value": key[4],
            "count": n,
        }
        for key, n in sorted(counts.items())
        if n
    ]
    # In key order: concurrent transactions lock shared rows in the same order.
    for start in range(0, len(rows), 500):
        db.session.execute(stmt, rows[start : start + 500])


def add_response(
    course_slug: str,
    activity_key: str,
    run_id: int | None,
    is_anonymous: bool,
    answers: Mapping[str, Any],
    kinds: Mapping[str, str] | None = None,
) -> None:
    """Count one stored response (called in the transaction that stores it)."""
    counts: Counter = Counter()
    if kinds is None:
        kinds = _kinds(course_slug, activity_key)
    count_response(counts, kinds, course_slug, activity_key, run_id, is_anonymous, answers)
    add(counts)


def add_responses(responses: Iterable[Mapping[str, Any]]) -> None:
    """Count many stored responses (rows as dicts with FeedbackResponse's columns)."""
    counts: Counter = Counter()
    kinds: dict[tuple[str, str], dict[str, str]] = {}
    for r in responses:
        form = (r["course_slug"], r["activity_key"])
        if form not in kinds:
            kinds[form] = _kinds(*form)
        count_response(
            counts, kinds[form], *form, r.get("run_id"), bool(r["is_anonymous"]), r["answers"]
        )
    add(counts)


def recount(course_slug: str | None = None) -> Counter:
    """The tallies worked out afresh from the stored responses (of one course, or all)."""
    stmt = select(
        FeedbackResponse.course_slug,
        FeedbackResponse.activity_key,
        FeedbackResponse.run_id,
        FeedbackResponse.is_anonymous,
        FeedbackResponse.answers,
    )
    if course_slug is not None:
        stmt = stmt.where(FeedbackResponse.course_slug == course_slug)
    counts: Counter = Counter()
    kinds: dict[tuple[str, str], dict[str, str]] = {}
    for slug, key, run_id, anonymous, answers in db.session.execute(
        stmt.execution_options(yield_per=2000)
    ):
        if (slug, key) not in kinds:
            kinds[(slug, key)] = _kinds(slug, key)
        count_response(counts, kinds[(slug, key)], slug, key, run_id, anonymous, answers or {})
    return counts


def kept(course_slug: str | None = None) -> Counter:
    """The kept tallies (of one course, or all), as :func:`recount` gives them."""
    stmt = select(FeedbackTally)
    if course_slug is not None:
        stmt = stmt.where(FeedbackTally.course_slug == course_slug)
    return Counter(
        {
            (t.course_slug, t.activity_key, t.run_key, t.question_key, t.value): t.count
            for t in db.session.scalars(stmt)
            if t.count
        }
    )


def rebuild(course_slug: str | None = None) -> None:
    """Replace the kept tallies by a recount (after responses were changed by hand)."""
    counts = recount(course_slug)
    stmt = delete(FeedbackTally)
    if course_slug is not None:
        stmt = stmt.where(FeedbackTally.course_slug == course_slug)
    db.session.execute(stmt)
    add(counts)
