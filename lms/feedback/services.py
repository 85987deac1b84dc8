"""Feedback: storing responses, results with a minimum group size, CSV, "you said, we did".

Anonymous responses are stored with a random id, the course, form and run, and
the answers: no person, no time. Results and exports never show anything for a
group of fewer than :data:`MIN_RESPONSES` responses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import exists, select

from lms import signals
from lms.accounts.models import User
from lms.activities.feedback import FeedbackConfig
from lms.catalogue.content import Activity, Course
from lms.db import utcnow
from lms.errors import ServiceError
from lms.exports import csv_text
from lms.extensions import db
from lms.feedback.models import CourseChange, FeedbackResponse
from lms.i18n import _
from lms.learning.models import Enrolment
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
    comments: list[str] = field(default_factory=list)
    low: str | None = None
    high: str | None = None

    @property
    def max_count(self) -> int:
        return max(self.counts) if self.counts else 0


@dataclass
class FormResults:
    activity: Activity
    total: int
    is_anonymous: bool
    questions: list[QuestionResult]

    @property
    def too_few(self) -> bool:
        return self.total < MIN_RESPONSES


def _responses(course: Course, activity: Activity, run_ids: Iterable[int] | None):
    stmt = select(FeedbackResponse).where(
        FeedbackResponse.course_slug == course.slug,
        FeedbackResponse.activity_key == activity.key,
    )
    if run_ids is not None:
        stmt = stmt.where(FeedbackResponse.run_id.in_(list(run_ids)))
    # Random ids: this order says nothing about who answered when.
    return list(db.session.scalars(stmt.order_by(FeedbackResponse.id)))


def results(
    course: Course, activity: Activity, run_ids: Iterable[int] | None = None
) -> FormResults:
    """Aggregated answers for a form, for some runs or (None) all runs of the course."""
    config: FeedbackConfig = activity.config
    responses = _responses(course, activity, run_ids)
    total = len(responses)
    out = []
    if total >= MIN_RESPONSES:
        for q in config.questions:
            values = [r.answers.get(q.key) for r in responses if r.answers.get(q.key) is not None]
            if q.kind == "rating":
                counter = Counter(int(v) for v in values)
                labels = ["1", "2", "3", "4", "5"]
                counts = [counter.get(i, 0) for i in range(1, 6)]
                mean = round(sum(int(v) for v in values) / len(values), 1) if values else None
                out.append(
                    QuestionResult(
                        q.key,
                        q.kind,
                        q.prompt,
                        labels,
                        counts,
                        len(values),
                        mean,
                        low=q.low,
                        high=q.high,
                    )
                )
            elif q.kind == "choice":
                counter = Counter(values)
                out.append(
                    QuestionResult(
                        q.key,
                        q.kind,
                        q.prompt,
                        list(q.options),
                        [counter.get(o, 0) for o in q.options],
                        len(values),
                    )
                )
            else:
                out.append(
                    QuestionResult(
                        q.key,
                        q.kind,
                        q.prompt,
                        [],
                        [],
                        len(values),
                        comments=sorted(values, key=str.lower),
                    )
                )
    return FormResults(activity, total, is_anonymous(course, activity), out)


def feedback_forms(course: Course) -> list[Activity]:
    return [a for a in course.activities if a.type == "feedback"]


# --- CSV ------------------------------------------------------------------------------


def export_csv(course: Course, run_ids: Iterable[int] | None = None) -> str:
    """Every form's responses (groups under the minimum size left out) as CSV text."""
    run_titles = {r.id: r.title for r in runs.runs_for_course(course)}

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
