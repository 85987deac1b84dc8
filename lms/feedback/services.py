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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, case, exists, func, literal, or_, select, union_all

from lms import signals
from lms.accounts.models import Role, User
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
from lms.runs.models import CourseRun, RunDay, RunFacilitator


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


def is_feedback_form(activity: Activity) -> bool:
    """Whether an activity's answers are course feedback: its type says so
    (``collects_feedback``, see lms.plugins)."""
    activity_type = current_app.extensions["lms.activity_types"].get(activity.type)
    return activity_type is not None and activity_type.collects_feedback


def is_anonymous(course: Course, activity: Activity) -> bool:
    """Whether a form is anonymous now. Once it has anonymous responses it stays anonymous,
    even if the course file is later changed to say otherwise."""
    config: FeedbackConfig = activity.config
    return config.anonymous or has_anonymous_responses(course.slug, activity.key)


def _store(sender: Any, enrolment: Enrolment, activity: Activity, submission, attempt, **_: Any):
    if not is_feedback_form(activity):
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
    if not is_feedback_form(activity):
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
    #: How many more answers the group (run) closest to a release needs before one.
    needed: int = MIN_RESPONSES

    @property
    def too_few(self) -> bool:
        return self.total < MIN_RESPONSES


COMMENTS_SHOWN = 10
COMMENTS_PAGE_SIZE = 50
# Question keys in content are identifiers, so these cannot clash.
_TOTAL = TOTAL
_ANONYMOUS = ANONYMOUS


#: Which runs' responses: None (the whole course, responses outside any run included),
#: some run ids, or a SELECT of run ids (see :func:`selected_runs`).
RunIds = Iterable[int] | Select | None


def _run_ids(run_ids: RunIds) -> list[int] | Select | None:
    if run_ids is None or isinstance(run_ids, Select):
        return run_ids
    return list(run_ids)


def _group(course: Course, activity: Activity, run_ids: RunIds) -> list:
    """WHERE conditions for one form's released responses (in some runs, or all runs)."""
    conditions = [
        FeedbackResponse.course_slug == course.slug,
        FeedbackResponse.activity_key == activity.key,
        FeedbackResponse.released.is_(True),
    ]
    if run_ids is not None:
        conditions.append(FeedbackResponse.run_id.in_(_run_ids(run_ids)))
    return conditions


def _answer(question_key: str):
    """One answer of a response, as text (ratings come back as numbers on SQLite)."""
    return FeedbackResponse.answers[question_key].as_string()


@dataclass
class _Counts:
    #: (form key, question key) -> {answer: released count}
    counts: dict[tuple[str, str], dict[str, int]]
    #: form key -> responses waiting for release, over the runs asked for
    waiting: dict[str, int]
    #: form key -> the most responses waiting in any one group (run) asked for
    closest: dict[str, int]

    def needed(self, form_key: str) -> int:
        return max(MIN_RESPONSES - self.closest.get(form_key, 0), 1)


def _tally_counts(course: Course, activities: list[Activity], run_ids: RunIds) -> _Counts:
    """The released counts of several forms from the kept tallies, summed over the runs
    asked for (None: the whole course's rows), in one aggregate query whatever the
    number of runs: ``SUM`` per form, question and answer, grouped apart for the whole
    course's rows. Each run's released counts are whole groups (lms.feedback.tallies),
    so their sum is too.

    Also how many responses wait for release, and the most waiting in any one group
    (how close the next release is). The :data:`ANONYMOUS` count is the whole course's,
    released or not (any anonymous response, in any run, keeps the form anonymous: see
    is_anonymous).
    """
    keys = [a.key for a in activities]
    t = FeedbackTally
    whole = t.run_key == ALL_RUNS
    one_group = and_(t.run_key != ALL_RUNS, t.question_key == TOTAL)
    if run_ids is None:
        # The whole course's rows, and each group's total (for how close a release is).
        rows = or_(whole, one_group)
    else:
        rows = or_(t.run_key.in_(_run_ids(run_ids)), and_(whole, t.question_key == ANONYMOUS))
    is_whole = case((whole, 1), else_=0).label("is_whole")
    waiting_here = t.count - t.released
    stmt = (
        select(
            is_whole,
            t.activity_key,
            t.question_key,
            t.value,
            func.sum(t.count),
            func.sum(t.released),
            func.sum(case((waiting_here > 0, waiting_here), else_=0)),
            func.max(waiting_here),
        )
        .where(t.course_slug == course.slug, t.activity_key.in_(keys), rows)
        .group_by(is_whole, t.activity_key, t.question_key, t.value)
    )
    out = _Counts({}, {}, {})
    for row in db.session.execute(stmt):
        in_whole, form_key, question_key, value, number, released, waiting, most = row
        in_whole = bool(in_whole)
        if question_key == ANONYMOUS:
            if in_whole:
                out.counts.setdefault((form_key, question_key), {})[value] = int(number or 0)
            continue
        if question_key == TOTAL and not in_whole:
            out.closest[form_key] = max(out.closest.get(form_key, 0), int(most or 0))
        if in_whole != (run_ids is None):
            continue
        if question_key == TOTAL:
            out.waiting[form_key] = out.waiting.get(form_key, 0) + int(waiting or 0)
        found = out.counts.setdefault((form_key, question_key), {})
        found[value] = found.get(value, 0) + int(released or 0)
    return out


def results_for(
    course: Course,
    activities: Iterable[Activity],
    run_ids: RunIds = None,
    comments: int = COMMENTS_SHOWN,
) -> list[FormResults]:
    """Aggregated answers for several forms, for some runs (ids, or a SELECT of them: see
    :func:`selected_runs`) or (None) the whole course.

    The counts come from the tallies kept as responses arrive (lms.feedback.tallies):
    one query gives every form's total, whether it has anonymous responses, and per
    question the number of answers for each rating or option, whatever the number of
    responses. A second gives the first ``comments`` text answers of each text question
    (only for forms with at least :data:`MIN_RESPONSES` responses; smaller groups show
    nothing). Averages are worked out from the counts. Only released responses count
    (see the module's docstring); ``waiting`` says how many are not released yet.
    """
    activities = list(activities)
    run_ids = _run_ids(run_ids)
    if not activities:
        return []
    kept = _tally_counts(course, activities, run_ids)
    counts, waiting = kept.counts, kept.waiting
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
        out.append(
            FormResults(
                activity,
                total,
                anonymous,
                questions,
                waiting.get(activity.key, 0),
                kept.needed(activity.key),
            )
        )
    return out


def _first_comments(
    course: Course,
    activities: list[Activity],
    run_ids: RunIds,
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


def _responses(course: Course, activity: Activity, run_ids: RunIds):
    """Every released response of one form (for the CSV export), in one query."""
    stmt = select(FeedbackResponse).where(*_group(course, activity, run_ids))
    # Random ids: this order says nothing about who answered when.
    return list(db.session.scalars(stmt.order_by(FeedbackResponse.id)))


def results(course: Course, activity: Activity, run_ids: RunIds = None) -> FormResults:
    """Aggregated answers for one form (see :func:`results_for`)."""
    return results_for(course, [activity], run_ids)[0]


def comments_page(
    course: Course,
    activity: Activity,
    question_key: str,
    run_ids: RunIds = None,
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
    run_ids = _run_ids(run_ids)
    kept = _tally_counts(course, [activity], run_ids)
    counts, waiting = kept.counts, kept.waiting
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
    return [a for a in course.activities if is_feedback_form(a)]


# --- Which runs a course's results cover ----------------------------------------------

#: The ways a day may be typed into a filter (a browser's date box sends the first).
DAY_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")


def parse_day(text: str) -> date:
    """A day typed as 2027-03-31 or 31/03/2027. Raises FeedbackError when it is not one."""
    for fmt in DAY_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise FeedbackError(_("Enter a real date, for example 2027-03-31 or 31/03/2027."), "from")


@dataclass
class Selection:
    """Which runs a course's feedback page (and its comments and CSV) covers: by default
    the whole course; or the runs whose first day is from ``date_from`` to ``date_to``
    (either may be left open), and/or one run. ``typed`` keeps what was typed (query
    argument name -> text), ``errors`` the message for each argument that is wrong."""

    typed: dict[str, str] = field(default_factory=dict)
    date_from: date | None = None
    date_to: date | None = None
    run_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)

    #: The query arguments, in the order the form has them.
    NAMES = ("from", "to", "run")

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Selection:
        """A selection from a query string. A run that is not a number is an error too
        (the page's select only offers numbers); whether the run may be picked is the
        caller's check (see :func:`run_options`)."""
        typed = {name: (args.get(name) or "").strip()[:40] for name in cls.NAMES}
        out = cls(typed={k: v for k, v in typed.items() if v})
        for name, attribute in (("from", "date_from"), ("to", "date_to")):
            if typed[name]:
                try:
                    setattr(out, attribute, parse_day(typed[name]))
                except FeedbackError as exc:
                    out.errors[name] = exc.message
        if out.date_from and out.date_to and out.date_from > out.date_to:
            out.errors["to"] = _("The end date must be the same as or after the start date.")
        if typed["run"]:
            if typed["run"].isdigit():
                out.run_id = int(typed["run"])
            else:
                out.errors["run"] = _("Choose a run from the list.")
        return out

    @property
    def is_filtered(self) -> bool:
        return bool(self.typed)

    @property
    def is_valid(self) -> bool:
        return not self.errors

    @property
    def args(self) -> dict[str, str]:
        """The query arguments that give this selection again (for links)."""
        return dict(self.typed)


def _first_day():
    """Each run's first day, as a correlated scalar subquery."""
    return (
        select(func.min(RunDay.day_date))
        .where(RunDay.run_id == CourseRun.id)
        .correlate(CourseRun)
        .scalar_subquery()
    )


def _runs_of(course: Course, user: User) -> Select:
    """The runs of ``course`` whose own results ``user`` may see: every run for
    administrators, the runs they facilitate for facilitators (lms.runs.can_manage)."""
    stmt = select(CourseRun.id).where(CourseRun.course_slug == course.slug)
    if not user.has_role(Role.ADMIN):
        mine = select(RunFacilitator.run_id).where(RunFacilitator.user_id == user.id)
        stmt = stmt.where(CourseRun.id.in_(mine))
    return stmt


@dataclass(frozen=True)
class RunOption:
    id: int
    title: str
    first_day: date | None
    last_day: date | None


def run_options(course: Course, user: User) -> list[RunOption]:
    """The runs ``user`` may pick on the course's feedback page, newest first (by first
    day; runs without days last): one query."""
    first = _first_day()
    last = (
        select(func.max(RunDay.day_date))
        .where(RunDay.run_id == CourseRun.id)
        .correlate(CourseRun)
        .scalar_subquery()
    )
    stmt = (
        _runs_of(course, user)
        .add_columns(CourseRun.title, first.label("first_day"), last.label("last_day"))
        .order_by(case((first.is_(None), 1), else_=0), first.desc(), CourseRun.id.desc())
    )
    return [RunOption(*row) for row in db.session.execute(stmt)]


def selected_runs(course: Course, user: User, selection: Selection) -> Select | None:
    """The ids of the runs a (valid) selection covers, as a SELECT to use inside other
    queries (so that results take one query whatever the number of runs); None for the
    whole course. A facilitator's selection covers only runs they may see on their own
    (their runs), so that no date range can single out someone else's run; the whole
    course (no selection) is every run's released groups together, as before."""
    if not selection.is_filtered:
        return None
    stmt = _runs_of(course, user)
    if selection.run_id is not None:
        stmt = stmt.where(CourseRun.id == selection.run_id)
    first = _first_day()
    if selection.date_from is not None:
        stmt = stmt.where(first >= selection.date_from)
    if selection.date_to is not None:
        stmt = stmt.where(first <= selection.date_to)
    return stmt


def runs_covered(options: Iterable[RunOption], selection: Selection) -> list[RunOption]:
    """Of ``options`` (see :func:`run_options`), those a selection covers: the same rule
    as :func:`selected_runs`, for saying which runs the page adds up."""
    out = []
    for option in options:
        if selection.run_id is not None and option.id != selection.run_id:
            continue
        if selection.date_from is not None or selection.date_to is not None:
            if option.first_day is None:
                continue
            if selection.date_from is not None and option.first_day < selection.date_from:
                continue
            if selection.date_to is not None and option.first_day > selection.date_to:
                continue
        out.append(option)
    return out


# --- CSV ------------------------------------------------------------------------------


def export_csv(course: Course, run_ids: RunIds = None) -> str:
    """Every form's released responses (of some runs, or the whole course) as CSV text
    (nothing for fewer than the minimum)."""
    run_titles = dict(
        db.session.execute(
            select(CourseRun.id, CourseRun.title).where(CourseRun.course_slug == course.slug)
        ).all()
    )
    run_ids = _run_ids(run_ids)

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


CHANGES_PAGE_SIZE = 10


def changes_page(course: Course, page: Any = 1, per_page: Any = None) -> Page:
    """One page of the course's "you said, we did" records, newest first, as rows of
    ``change`` (the CourseChange), ``run_title`` and ``recorded_by`` (a name), either
    None when not known: two queries (the count and the page)."""
    stmt = (
        select(
            CourseChange,
            CourseRun.title.label("run_title"),
            User.name.label("recorded_by"),
        )
        .outerjoin(CourseRun, CourseRun.id == CourseChange.run_id)
        .outerjoin(User, User.id == CourseChange.recorded_by_id)
        .where(CourseChange.course_slug == course.slug)
        .order_by(CourseChange.created_at.desc(), CourseChange.id.desc())
    )
    return paginate(
        stmt,
        page,
        per_page,
        default_per_page=CHANGES_PAGE_SIZE,
        scalars=False,
        tiebreak=(),
        param="changes",
    )


def changes_for(course: Course) -> list[CourseChange]:
    return list(
        db.session.scalars(
            select(CourseChange)
            .where(CourseChange.course_slug == course.slug)
            .order_by(CourseChange.created_at.desc(), CourseChange.id.desc())
        )
    )
