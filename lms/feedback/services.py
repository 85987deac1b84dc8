"""Feedback: storing responses, results released in groups, CSV, "you said, we did".

Anonymous responses are stored with a random id, the course, form and run, and
the answers: no person, no time. Staff see responses a group at a time: a run's
responses (or those given outside any run) are released together once at least
:data:`MIN_RESPONSES` have arrived since the last release (lms.feedback.tallies), and
results, comments and exports show released responses only. So nothing is shown for
fewer than :data:`MIN_RESPONSES` responses, every change staff can see covers at least
that many new answers (looking before and after one person answers shows nothing new),
and the whole course's results are the sum of groups of at least that size: subtracting
one run's results from the course's can never single out the few people of a small run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import exists, func, literal, select, union_all

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
    MIN_RESPONSES,
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
    #: Responses not released yet (fewer than :data:`MIN_RESPONSES`, or a group whose
    #: release is due with the next response): a count only.
    waiting: int = 0

    @property
    def too_few(self) -> bool:
        return self.total < MIN_RESPONSES


COMMENTS_SHOWN = 10
COMMENTS_PAGE_SIZE = 50
# Question keys in content are identifiers, so these cannot clash.
_TOTAL = TOTAL
_ANONYMOUS = ANONYMOUS


def _group(course: Course, activity: Activity, run_ids: Iterable[int] | None) -> list:
    """WHERE conditions for one form's released responses (in some runs, or all runs)."""
    conditions = [
        FeedbackResponse.course_slug == course.slug,
        FeedbackResponse.activity_key == activity.key,
        FeedbackResponse.released.is_(True),
    ]
    if run_ids is not None:
        conditions.append(FeedbackResponse.run_id.in_(list(run_ids)))
    return conditions


def _answer(question_key: str):
    """One answer of a response, as text (ratings come back as numbers on SQLite)."""
    return FeedbackResponse.answers[question_key].as_string()


def _tally_counts(
    course: Course, activities: list[Activity], run_ids: list[int] | None
) -> tuple[dict[tuple[str, str], dict[str, int]], dict[str, int]]:
    """(form key, question key) -> {answer: released count} from the kept tallies, and
    form key -> the number of responses waiting for release, in one query.

    The counts are those of the runs asked for (None: the whole course), released ones
    only. The :data:`ANONYMOUS` count is the whole course's, released or not (any
    anonymous response, in any run, keeps the form anonymous: see is_anonymous).
    """
    keys = [a.key for a in activities]
    wanted = [ALL_RUNS] if run_ids is None else [*run_ids, ALL_RUNS]
    stmt = select(
        FeedbackTally.run_key,
        FeedbackTally.activity_key,
        FeedbackTally.question_key,
        FeedbackTally.value,
        FeedbackTally.count,
        FeedbackTally.released,
    ).where(
        FeedbackTally.course_slug == course.slug,
        FeedbackTally.run_key.in_(wanted),
        FeedbackTally.activity_key.in_(keys),
    )
    counts: dict[tuple[str, str], dict[str, int]] = {}
    waiting: dict[str, int] = {}
    for run_key, form_key, question_key, value, number, released in db.session.execute(stmt):
        whole_course = run_key == ALL_RUNS
        if question_key == ANONYMOUS:
            if whole_course:
                counts.setdefault((form_key, question_key), {})[value] = number
            continue
        if whole_course != (run_ids is None):
            continue
        if question_key == TOTAL:
            waiting[form_key] = waiting.get(form_key, 0) + max(number - released, 0)
        found = counts.setdefault((form_key, question_key), {})
        found[value] = found.get(value, 0) + released
    return counts, waiting


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
    nothing). Averages are worked out from the counts. Only released responses count
    (see the module's docstring); ``waiting`` says how many are not released yet.
    """
    activities = list(activities)
    run_ids = list(run_ids) if run_ids is not None else None
    if not activities:
        return []
    counts, waiting = _tally_counts(course, activities, run_ids)
    totals = {a.key: counts.get((a.key, _TOTAL), {}).get("", 0) for a in activities}
    shown = [a for a in activities if totals[a.key] >= MIN_RESPONSES]
    texts = _first_comments(course, shown, run_ids, comments) if comments else {}
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
        out.append(FormResults(activity, total, anonymous, questions, waiting.get(activity.key, 0)))
    return out


def _first_comments(
    course: Course,
    activities: list[Activity],
    run_ids: list[int] | None,
    limit: int,
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
                    *_group(course, activity, run_ids),
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


def _responses(course: Course, activity: Activity, run_ids: Iterable[int] | None):
    """Every released response of one form (for the CSV export), in one query."""
    stmt = select(FeedbackResponse).where(*_group(course, activity, run_ids))
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
) -> tuple[Page[str] | None, int]:
    """One page of a text question's released answers, alphabetically, or None when
    fewer than :data:`MIN_RESPONSES` responses are released (nothing is shown for small
    groups); and how many responses are waiting for release.

    Raises FeedbackError when the form has no such text question.
    """
    question = next(
        (q for q in activity.config.questions if q.key == question_key and q.kind == "text"),
        None,
    )
    if question is None:
        raise FeedbackError(_("This form has no such question."), "question")
    run_ids = list(run_ids) if run_ids is not None else None
    counts, waiting = _tally_counts(course, [activity], run_ids)
    where = _group(course, activity, run_ids)
    if counts.get((activity.key, _TOTAL), {}).get("", 0) < MIN_RESPONSES:
        return None, waiting.get(activity.key, 0)
    value = _answer(question_key)
    stmt = (
        select(value)
        .where(*where, value.is_not(None))
        .order_by(func.lower(value), value, FeedbackResponse.id)
    )
    answers = paginate(
        stmt,
        page,
        per_page,
        default_per_page=COMMENTS_PAGE_SIZE,
        scalars=True,
        tiebreak=(),
        total=sum(counts.get((activity.key, question_key), {}).values()),
    )
    return answers, waiting.get(activity.key, 0)


def feedback_forms(course: Course) -> list[Activity]:
    return [a for a in course.activities if a.type == "feedback"]


# --- CSV ------------------------------------------------------------------------------


def export_csv(course: Course, run_ids: Iterable[int] | None = None) -> str:
    """Every form's released responses as CSV text (nothing for fewer than the minimum)."""
    run_titles = {r.id: r.title for r in runs.runs_for_course(course)}
    run_ids = list(run_ids) if run_ids is not None else None

    def rows():
        yield ["form", "run", "response", "question", "answer"]
        for activity in feedback_forms(course):
            config: FeedbackConfig = activity.config
            responses = _responses(course, activity, run_ids)
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
