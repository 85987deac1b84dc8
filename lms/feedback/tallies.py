"""Counts of feedback answers kept as responses arrive (see :class:`FeedbackTally`).

Each response adds one to its form's :data:`TOTAL` (and :data:`ANONYMOUS`) row and
one to the row of each rating or option it gave (a text answer counts under ``""``),
both for its run and for the whole course (:data:`ALL_RUNS`), in the transaction
that stores the response. The additions are one ``INSERT ... ON CONFLICT DO UPDATE
SET count = count + n`` per row, atomic on SQLite and PostgreSQL, so concurrent
submissions never lose a count.

Staff see released counts only (``FeedbackTally.released``): after counting a response,
:func:`release_ready` releases its group (the form's responses in one run, or outside
any run) once at least :data:`MIN_RESPONSES` of them are waiting, all at once: the
group's ``released`` becomes its ``count``, the difference is added to the form's
:data:`ALL_RUNS` rows, and the group's responses are marked released (their text
answers are then shown). So any change to what staff can see covers at least
:data:`MIN_RESPONSES` new answers, and comparing pages before and after one person
answers shows nothing.

Concurrency: each form's :data:`ALL_RUNS` :data:`TOTAL` row is written first (before any
other row of the form), and every response adds to it. On PostgreSQL that row's lock,
held until commit, lets only one transaction at a time count, check and release a
form's responses (the others wait for it before touching any other row of the form, so
they cannot deadlock); on SQLite the database's write lock does the same. A release
therefore sees exactly the responses its counts count.

:func:`recount` works the same counts out from the responses themselves (tests and
repairs compare or replace the kept ones with it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from flask import current_app
from sqlalchemy import and_, delete, func, or_, select, update

from lms.db import dialect_insert
from lms.extensions import db
from lms.feedback.models import (
    ALL_RUNS,
    ANONYMOUS,
    MIN_RESPONSES,
    NO_RUN,
    TOTAL,
    FeedbackResponse,
    FeedbackTally,
)

#: (course_slug, activity_key, run_key, question_key, value) -> count
Key = tuple[str, str, int, str, str]
#: (course_slug, activity_key, run_key): the responses released together.
Group = tuple[str, str, int]


def _lock_order(key: Key) -> tuple:
    """Rows are written in this order: for each form, its :data:`ALL_RUNS` :data:`TOTAL`
    row first (the form's lock, see the module's docstring), then the rest in key order."""
    course_slug, activity_key, run_key, question_key, value = key
    first = run_key == ALL_RUNS and question_key == TOTAL and value == ""
    return (course_slug, activity_key, not first, run_key, question_key, value)


def value_text(value: Any) -> str:
    """A rating or option as the tally stores it (ratings may come back as floats)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _kinds(course_slug: str, activity_key: str) -> dict[str, str]:
    """Question key -> kind for a form of the catalogue ({} when it is not there)."""
    course = current_app.extensions["lms.courses"].get(course_slug)
    activity = course.activity(activity_key) if course is not None else None
    activity_type = (
        current_app.extensions["lms.activity_types"].get(activity.type) if activity else None
    )
    if activity_type is None or not activity_type.collects_feedback:
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


def add(counts: Mapping[Key, int], released: Mapping[Key, int] | None = None) -> None:
    """Add ``counts`` (and ``released`` to the released counts) to the kept tallies, in
    the current transaction. Releasing is :func:`release_ready`'s: ``released`` is for
    :func:`rebuild`, which knows which responses were released."""
    released = released or {}
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
        set_={
            "count": table.c.count + stmt.excluded["count"],
            "released": table.c.released + stmt.excluded["released"],
        },
    )
    rows = [
        {
            "course_slug": key[0],
            "activity_key": key[1],
            "run_key": key[2],
            "question_key": key[3],
            "value": key[4],
            "count": n,
            "released": released.get(key, 0),
        }
        for key, n in sorted(counts.items(), key=lambda item: _lock_order(item[0]))
        if n
    ]
    # In one order (see _lock_order): concurrent transactions lock shared rows alike.
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
    release_ready([(course_slug, activity_key, NO_RUN if run_id is None else run_id)])


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
    release_ready({key[:3] for key in counts if key[2] != ALL_RUNS})


def release_ready(groups: Iterable[Group]) -> list[Group]:
    """Release each of ``groups`` that has at least :data:`MIN_RESPONSES` responses
    waiting (called after counting them, in the same transaction); the groups released."""
    by_form: dict[tuple[str, str], set[int]] = {}
    for course_slug, activity_key, run_key in groups:
        by_form.setdefault((course_slug, activity_key), set()).add(run_key)
    if not by_form:
        return []
    t = FeedbackTally.__table__
    ready = db.session.execute(
        select(t.c.course_slug, t.c.activity_key, t.c.run_key).where(
            or_(
                *(
                    and_(
                        t.c.course_slug == course_slug,
                        t.c.activity_key == activity_key,
                        t.c.run_key.in_(sorted(run_keys)),
                    )
                    for (course_slug, activity_key), run_keys in sorted(by_form.items())
                )
            ),
            t.c.question_key == TOTAL,
            t.c.value == "",
            t.c.count - t.c.released >= MIN_RESPONSES,
        )
    ).all()
    out = sorted(tuple(row) for row in ready)
    for group in out:
        release(*group)
    return out


def release(course_slug: str, activity_key: str, run_key: int) -> None:
    """Release every counted response of one group: three statements."""
    t = FeedbackTally.__table__
    g = t.alias("g")
    waiting = (
        select(g.c.count - g.c.released)
        .where(
            g.c.course_slug == t.c.course_slug,
            g.c.activity_key == t.c.activity_key,
            g.c.run_key == run_key,
            g.c.question_key == t.c.question_key,
            g.c.value == t.c.value,
        )
        .scalar_subquery()
    )
    # The whole course's released counts first: they take the group's waiting counts.
    db.session.execute(
        update(t)
        .where(
            t.c.course_slug == course_slug,
            t.c.activity_key == activity_key,
            t.c.run_key == ALL_RUNS,
        )
        .values(released=t.c.released + func.coalesce(waiting, 0))
    )
    db.session.execute(
        update(t)
        .where(
            t.c.course_slug == course_slug,
            t.c.activity_key == activity_key,
            t.c.run_key == run_key,
            t.c.released != t.c.count,
        )
        .values(released=t.c.count)
    )
    r = FeedbackResponse.__table__
    db.session.execute(
        update(r)
        .where(
            r.c.course_slug == course_slug,
            r.c.activity_key == activity_key,
            r.c.run_id.is_(None) if run_key == NO_RUN else r.c.run_id == run_key,
            r.c.released.is_(False),
        )
        .values(released=True)
    )


def recount(course_slug: str | None = None, released: bool = False) -> Counter:
    """The tallies worked out afresh from the stored responses (of one course, or all;
    ``released``: of the released responses only, as the released counts should be)."""
    stmt = select(
        FeedbackResponse.course_slug,
        FeedbackResponse.activity_key,
        FeedbackResponse.run_id,
        FeedbackResponse.is_anonymous,
        FeedbackResponse.answers,
    )
    if course_slug is not None:
        stmt = stmt.where(FeedbackResponse.course_slug == course_slug)
    if released:
        stmt = stmt.where(FeedbackResponse.released.is_(True))
    counts: Counter = Counter()
    kinds: dict[tuple[str, str], dict[str, str]] = {}
    for slug, key, run_id, anonymous, answers in db.session.execute(
        stmt.execution_options(yield_per=2000)
    ):
        if (slug, key) not in kinds:
            kinds[(slug, key)] = _kinds(slug, key)
        count_response(counts, kinds[(slug, key)], slug, key, run_id, anonymous, answers or {})
    return counts


def kept(course_slug: str | None = None, released: bool = False) -> Counter:
    """The kept tallies (of one course, or all; ``released``: the released counts), as
    :func:`recount` gives them."""
    stmt = select(FeedbackTally)
    if course_slug is not None:
        stmt = stmt.where(FeedbackTally.course_slug == course_slug)
    found = {
        (t.course_slug, t.activity_key, t.run_key, t.question_key, t.value): (
            t.released if released else t.count
        )
        for t in db.session.scalars(stmt)
    }
    return Counter({key: n for key, n in found.items() if n})


def rebuild(course_slug: str | None = None) -> None:
    """Replace the kept tallies by a recount (after responses were changed by hand).
    Which responses are released stays as it was; groups with enough waiting are released."""
    counts = recount(course_slug)
    released = recount(course_slug, released=True)
    stmt = delete(FeedbackTally)
    if course_slug is not None:
        stmt = stmt.where(FeedbackTally.course_slug == course_slug)
    db.session.execute(stmt)
    add(counts, released)
    release_ready({key[:3] for key in counts if key[2] != ALL_RUNS})
