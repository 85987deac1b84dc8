"""Feedback: storing responses, results with a minimum group size, CSV, "you said, we did".

Anonymous responses are stored with a random id, the course, form and run, and
the answers: no person, no time. Results and exports never show anything for a
group of fewer than :data:`MIN_RESPONSES` responses. A group is one run's responses
(or those given outside any run): where several groups are shown together (the whole
course), a group under the minimum is left out, so that subtracting one run's results
from the course's can never single out the one or two people of a small run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import exists, func, literal, or_, select, union_all

from lms import signals
from lms.accounts.models import User
from lms.activities.feedback import FeedbackConfig
from lms.catalogue.content import Activity, Course
from lms.db import utcnow
from lms.errors import ServiceError
from lms.exports import csv_text
from lms.extensions import db
from lms.feedback import tallies
from lms.feedback.models import (
    ALL_RUNS,
    ANONYMOUS,
    NO_RUN,
    TOTAL,
    CourseChange,
    FeedbackResponse,
    FeedbackTally,
)
from lms.i18n import _
from lms.learning.models import Enrolment
from lms.pagination import Page, paginate
from lms.runs import services as runs
from lms.runs.models import CourseRun

MIN_RESPONSES = 5


class FeedbackError(ServiceError):
    """A request that cannot be carried out; ``field`` names the input at fault."""


def has_anonymous_responses(course_slug: str, activity_key: str) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    FeedbackResponse.course_slug == course_slug,
                    FeedbackResponse.activity_key == activity_key,
                    FeedbackResponse.is_anonymous.is_(True),
                )
            )
        )
    )


def is_anonymous(course: Course, activity: Activity) -> bool:
    """Whether a form is anonymous now. Once it has anonymous responses it stays anonymous,
    even if the course file is later changed to say otherwise."""
    config: FeedbackConfig = activity.config
    return config.anonymous or has_anonymous_responses(course.slug, activity.key)


def _store(sender: Any, enrolment: Enrolment, activity: Activity, submission, attempt, **_: Any):
    if activity.type != "feedback":
        return
    course = current_app.extensions["lms.courses"].get(enrolment.course_slug)
    place = runs.active_place_on_course(enrolment.user, enrolment.course_slug)
    anonymous = submission.is_anonymous
    db.session.add(
        FeedbackResponse(
            course_slug=enrolment.course_slug,
            activity_key=activity.key,
            content_version=course.version if course else "",
            run_id=place.run_id if place is not None else None,
            is_anonymous=anonymous,
            user_id=None if anonymous else enrolment.user_id,
            submitted_at=None if anonymous else utcnow(),
            answers=dict(submission.data.get("answers", {})),
        )
    )
    # In the same transaction: the counts can never disagree with the responses.
    tallies.add_response(
        enrolment.course_slug,
        activity.key,
        place.run_id if place is not None else None,
        anonymous,
        submission.data.get("answers", {}),
        {q.key: q.kind for q in activity.config.questions},
    )
    db.session.flush()


def connect_signals() -> None:
    signals.submission_recorded.connect(_store)


def activity_context(course: Course, activity: Activity, user: User) -> dict[str, Any]:
    """Tell the feedback type whether a form is anonymous now (see :func:`is_anonymous`)."""
    if activity.type != "feedback":
        return {}
    return {"feedback_anonymous": is_anonymous(course, activity)}


# --- Results --------------------------------------------------------------------------


@dataclass
class QuestionResult:
    key: str
    kind: str
    prompt: str
    labels: list[str]
    counts: list[int]
    answered: int
    mean: float | None = None
    #: Text answers: the first :data:`COMMENTS_SHOWN` in alphabetical order.
    comments: list[str] = field(default_factory=list)
    low: str | None = None
    high: str | None = None

    @property
    def max_count(self) -> int:
        return max(self.counts) if self.counts else 0

    @property
    def more_comments(self) -> int:
        """How many text answers are not shown here (see :func:`comments_page`)."""
        return self.answered - len(self.comments) if self.kind == "text" else 0


@dataclass
class FormResults:
    activity: Activity
    total: int
    is_anonymous: bool
    questions: list[QuestionResult]

    @property
    def too_few(self) -> bool:
        return self.total < MIN_RESPONSES


COMMENTS_SHOWN = 10
COMMENTS_PAGE_SIZE = 50
# Question keys in content are identifiers, so these cannot clash.
_TOTAL = TOTAL
_ANONYMOUS = ANONYMOUS


def _group(
    course: Course,
    activity: Activity,
    run_ids: Iterable[int] | None,
    small: Iterable[int] = (),
) -> list:
    """WHERE conditions for one form's responses (in some runs, or all runs), leaving out
    the ``small`` groups (run ids, :data:`NO_RUN` for responses outside any run)."""
    conditions = [
        FeedbackResponse.course_slug == course.slug,
        FeedbackResponse.activity_key == activity.key,
    ]
    if run_ids is not None:
        conditions.append(FeedbackResponse.run_id.in_(list(run_ids)))
    small = set(small)
    ids = sorted(small - {NO_RUN})
    if NO_RUN in small:
        conditions.append(FeedbackResponse.run_id.is_not(None))
        if ids:
            conditions.append(FeedbackResponse.run_id.not_in(ids))
    elif ids:
        # NOT IN alone would also drop the responses without a run (NULL).
        conditions.append(
            or_(FeedbackResponse.run_id.is_(None), FeedbackResponse.run_id.not_in(ids))
        )
    return conditions


def _small_groups_query(course: Course, activities: list[Activity], run_ids: list[int] | None):
    """(form key, run key) of each group with fewer than :data:`MIN_RESPONSES` responses,
    among the runs asked for (None: the whole course)."""
    stmt = select(FeedbackTally.activity_key, FeedbackTally.run_key).where(
        FeedbackTally.course_slug == course.slug,
        FeedbackTally.activity_key.in_([a.key for a in activities]),
        FeedbackTally.question_key == TOTAL,
        FeedbackTally.value == "",
        FeedbackTally.run_key != ALL_RUNS,
        FeedbackTally.count < MIN_RESPONSES,
    )
    if run_ids is not None:
        stmt = stmt.where(FeedbackTally.run_key.in_(run_ids))
    return stmt


def _small_groups(
    course: Course, activities: list[Activity], run_ids: list[int] | None
) -> dict[str, set[int]]:
    """Form key -> the groups (run ids; :data:`NO_RUN`) with fewer than :data:`MIN_RESPONSES`
    responses, where several groups are shown together (the whole course, or more than one
    run), in one query. A single run under the minimum shows nothing at all already.

    Left out of a course's results, a small run's answers cannot be found by comparing
    the course's results with those of its other runs.
    """
    if run_ids is not None and len(run_ids) <= 1:
        return {}
    out: dict[str, set[int]] = {}
    for form_key, run_key in db.session.execute(_small_groups_query(course, activities, run_ids)):
        out.setdefault(form_key, set()).add(run_key)
    return out


def _answer(question_key: str):
    """One answer of a response, as text (ratings come back as numbers on SQLite)."""
    return FeedbackResponse.answers[question_key].as_string()


_TALLY_COLUMNS = (
    FeedbackTally.run_key,
    FeedbackTally.activity_key,
    FeedbackTally.question_key,
    FeedbackTally.value,
    FeedbackTally.count,
)


def _tally_counts(
    course: Course, activities: list[Activity], run_ids: list[int] | None
) -> tuple[dict[tuple[str, str], dict[str, int]], dict[str, set[int]]]:
    """(form key, question key) -> {answer: count} from the kept tallies, and the small
    groups left out of them (as :func:`_small_groups`), in one query.

    The counts are those of the runs asked for (None: the whole course), less those of
    groups under the minimum when several groups are counted together; the
    :data:`ANONYMOUS` count is always the whole course's (any anonymous response, in
    any run, keeps the form anonymous: see is_anonymous).
    """
    keys = [a.key for a in activities]
    wanted = [ALL_RUNS] if run_ids is None else [*run_ids, ALL_RUNS]
    stmt = select(*_TALLY_COLUMNS, literal(False).label("is_small")).where(
        FeedbackTally.course_slug == course.slug,
        FeedbackTally.run_key.in_(wanted),
        FeedbackTally.activity_key.in_(keys),
    )
    several = run_ids is None or len(run_ids) > 1
    if several:
        # With the same statement, every row of each small group (to take off again).
        small_q = _small_groups_query(course, activities, run_ids).subquery()
        stmt = union_all(
            stmt,
            select(*_TALLY_COLUMNS, literal(True).label("is_small"))
            .join(
                small_q,
                (FeedbackTally.activity_key == small_q.c.activity_key)
                & (FeedbackTally.run_key == small_q.c.run_key),
            )
            .where(
                FeedbackTally.course_slug == course.slug, FeedbackTally.question_key != ANONYMOUS
            ),
        )
    rows = db.session.execute(stmt).all()
    small: dict[str, set[int]] = {}
    for run_key, form_key, _question, _value, _number, is_small in rows:
        if is_small:
            small.setdefault(form_key, set()).add(run_key)
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for run_key, form_key, question_key, value, number, is_small in rows:
        whole_course = run_key == ALL_RUNS
        if is_small:
            if run_ids is not None:
                continue  # already left out below
            number = -number  # the whole course's counts, less the small group's
        elif question_key == ANONYMOUS:
            if not whole_course:
                continue
        elif (whole_course and run_ids is not None) or run_key in small.get(form_key, ()):
            continue
        found = counts.setdefault((form_key, question_key), {})
        found[value] = found.get(value, 0) + number
    return counts, small


def results_for(
    course: Course,
    activities: Iterable[Activity],
    run_ids: Iterable[int] | None = None,
    comments: int = COMMENTS_SHOWN,
) -> list[FormResults]:
    """Aggregated answers for several forms, for some runs or (None) all runs of the course.

    The counts come from the tallies kept as responses arrive (lms.feedback.tallies):
    one query gives every form's total, whether it has anonymous responses, and per
    question the number of answers for each rating or option, whatever the number of
    responses. A second gives the first ``comments`` text answers of each text question
    (only for forms with at least :data:`MIN_RESPONSES` responses; smaller groups show
    nothing). Averages are worked out from the counts.
    """
    activities = list(activities)
    run_ids = list(run_ids) if run_ids is not None else None
    if not activities:
        return []
    counts, small = _tally_counts(course, activities, run_ids)
    totals = {a.key: counts.get((a.key, _TOTAL), {}).get("", 0) for a in activities}
    shown = [a for a in activities if totals[a.key] >= MIN_RESPONSES]
    texts = _first_comments(course, shown, run_ids, comments, small) if comments else {}
    out = []
    for activity in activities:
        config = activity.config
        total = totals[activity.key]
        anonymous = config.anonymous or counts.get((activity.key, _ANONYMOUS), {}).get("", 0) > 0
        questions = []
        if total >= MIN_RESPONSES:
            for q in config.questions:
                found = counts.get((activity.key, q.key), {})
                if q.kind == "rating":
                    labels = ["1", "2", "3", "4", "5"]
                    numbers = [found.get(label, 0) for label in labels]
                    answered = sum(found.values())
                    score = sum(int(v) * n for v, n in found.items() if v.lstrip("-").isdigit())
                    mean = round(score / answered, 1) if answered else None
                    questions.append(
                        QuestionResult(
                            q.key,
                            q.kind,
                            q.prompt,
                            labels,
                            numbers,
                            answered,
                            mean,
                            low=q.low,
                            high=q.high,
                        )
                    )
                elif q.kind == "choice":
                    questions.append(
                        QuestionResult(
                            q.key,
                            q.kind,
                            q.prompt,
                            list(q.options),
                            [found.get(o, 0) for o in q.options],
                            sum(found.get(o, 0) for o in q.options),
                        )
                    )
                else:
                    questions.append(
                        QuestionResult(
                            q.key,
                            q.kind,
                            q.prompt,
                            [],
                            [],
                            sum(found.values()),
                            comments=texts.get((activity.key, q.key), []),
                        )
                    )
        out.append(FormResults(activity, total, anonymous, questions))
    return out


def _first_comments(
    course: Course,
    activities: list[Activity],
    run_ids: list[int] | None,
    limit: int,
    small: dict[str, set[int]] | None = None,
) -> dict[tuple[str, str], list[str]]:
    """(form key, question key) -> ``limit`` text answers: one query.

    In the order of the responses' random ids, which says nothing about who wrote what
    when, and which the form's (or the run's) index already has: each question reads
    its group's responses through the index until it has ``limit`` answers, rather
    than sorting every answer of the course. (The full list, alphabetically, is on
    the comments page.)
    """
    parts = []
    for activity in activities:
        for q in activity.config.questions:
            if q.kind != "text":
                continue
            value = _answer(q.key)
            parts.append(
                select(
                    literal(activity.key).label("form"),
                    literal(q.key).label("question"),
                    value.label("text"),
                )
                .where(
                    *_group(course, activity, run_ids, (small or {}).get(activity.key, ())),
                    value.is_not(None),
                )
                .order_by(FeedbackResponse.id)
                .limit(limit)
                .subquery()
            )
    if not parts:
        return {}
    out: dict[tuple[str, str], list[str]] = {}
    statement = union_all(*(select(part) for part in parts))
    for form_key, question_key, text in db.session.execute(statement):
        out.setdefault((form_key, question_key), []).append(text)
    return out


def _responses(
    course: Course, activity: Activity, run_ids: Iterable[int] | None, small: Iterable[int] = ()
):
    """Every response of one form (for the CSV export), in one query."""
    stmt = select(FeedbackResponse).where(*_group(course, activity, run_ids, small))
    # Random ids: this order says nothing about who answered when.
    return list(db.session.scalars(stmt.order_by(FeedbackResponse.id)))


def results(
    course: Course, activity: Activity, run_ids: Iterable[int] | None = None
) -> FormResults:
    """Aggregated answers for one form (see :func:`results_for`)."""
    return results_for(course, [activity], run_ids)[0]


def comments_page(
    course: Course,
    activity: Activity,
    question_key: str,
    run_ids: Iterable[int] | None = None,
    page: Any = 1,
    per_page: Any = None,
) -> Page[str] | None:
    """One page of a text question's answers, alphabetically, or None when the group has
    fewer than :data:`MIN_RESPONSES` responses (nothing is shown for small groups).

    Raises FeedbackError when the form has no such text question.
    """
    question = next(
        (q for q in activity.config.questions if q.key == question_key and q.kind == "text"),
        None,
    )
    if question is None:
        raise FeedbackError(_("This form has no such question."), "question")
    run_ids = list(run_ids) if run_ids is not None else None
    counts, small = _tally_counts(course, [activity], run_ids)
    where = _group(course, activity, run_ids, small.get(activity.key, ()))
    if counts.get((activity.key, _TOTAL), {}).get("", 0) < MIN_RESPONSES:
        return None
    value = _answer(question_key)
    stmt = (
        select(value)
        .where(*where, value.is_not(None))
        .order_by(func.lower(value), value, FeedbackResponse.id)
    )
    return paginate(
        stmt,
        page,
        per_page,
        default_per_page=COMMENTS_PAGE_SIZE,
        scalars=True,
        tiebreak=(),
        total=sum(counts.get((activity.key, question_key), {}).values()),
    )


def feedback_forms(course: Course) -> list[Activity]:
    return [a for a in course.activities if a.type == "feedback"]


# --- CSV ------------------------------------------------------------------------------


def export_csv(course: Course, run_ids: Iterable[int] | None = None) -> str:
    """Every form's responses (groups under the minimum size left out) as CSV text."""
    run_titles = {r.id: r.title for r in runs.runs_for_course(course)}
    run_ids = list(run_ids) if run_ids is not None else None
    small = _small_groups(course, feedback_forms(course), run_ids)

    def rows():
        yield ["form", "run", "response", "question", "answer"]
        for activity in feedback_forms(course):
            config: FeedbackConfig = activity.config
            responses = _responses(course, activity, run_ids, small.get(activity.key, ()))
            if len(responses) < MIN_RESPONSES:
                note = _("Fewer than %(n)d responses: not shown", n=MIN_RESPONSES)
                yield [activity.title, "", "", "", note]
                continue
            for number, response in enumerate(responses, start=1):
                for q in config.questions:
                    yield [
                        activity.title,
                        run_titles.get(response.run_id, ""),
                        number,
                        q.prompt,
                        response.answers.get(q.key, ""),
                    ]

    return csv_text(rows())


# --- You said, we did -------------------------------------------------------------------


def record_change(
    course: Course, you_said: str, we_did: str, by: User, run: CourseRun | None = None
) -> CourseChange:
    you_said, we_did = you_said.strip(), we_did.strip()
    if not you_said:
        raise FeedbackError(_("Say what people told you."), "you_said")
    if not we_did:
        raise FeedbackError(_("Say what was changed."), "we_did")
    if len(you_said) > 2000 or len(we_did) > 2000:
        raise FeedbackError(_("Keep each part under 2,000 characters."), "we_did")
    change = CourseChange(
        course_slug=course.slug,
        run_id=run.id if run else None,
        you_said=you_said,
        we_did=we_did,
        recorded_by_id=by.id,
    )
    db.session.add(change)
    db.session.flush()
    return change


def changes_for(course: Course) -> list[CourseChange]:
    return list(
        db.session.scalars(
            select(CourseChange)
            .where(CourseChange.course_slug == course.slug)
            .order_by(CourseChange.created_at.desc(), CourseChange.id.desc())
        )
    )
