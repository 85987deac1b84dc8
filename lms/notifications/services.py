"""Notices: written to a person's in-app list, and sent by email unless they chose not to.

:func:`notify` is the one way a notice is given. It stores the notice, adds one to the
person's kept unread count, and (if they want this kind by email and their account is
active) queues an email with a plain-text and an HTML part through the one mailer
(:func:`lms.mail.send_mail`, a job sent after the commit). A ``key`` makes a notice
once-only: the same key for the same person is never given twice (reminders, a day's
change, a review), even from two workers at once.

What causes a notice is another domain's signal (:func:`connect_signals`), or the daily
job (:func:`send_daily`): course-day reminders, the online part due before day 1 and
certificates that have expired. This domain reads the others' rows to find whom to
tell; it never writes them.

Emails never name a trainee to a facilitator or officer (an inbox is less private than
the platform); the in-app notice links to the page that does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app, render_template
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError

from lms import signals
from lms.accounts.models import Role, User
from lms.db import utcnow
from lms.extensions import db
from lms.i18n import _
from lms.i18n import _l as lazy_gettext
from lms.jobs import services as jobs
from lms.mail import send_mail
from lms.notifications.models import Notification, NotificationPreference
from lms.pagination import Page, paginate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """One kind of notice: how the settings page names it, and why someone gets it."""

    key: str
    label: Any
    why: Any
    #: Only people with this role get (and choose about) it; None: everyone.
    role: str | None = None


KINDS: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind(
            "review_returned",
            lazy_gettext("An answer of yours has been reviewed"),
            lazy_gettext("you sent an answer for review (a case study, for example)"),
        ),
        Kind(
            "place_confirmed",
            lazy_gettext("Your place on a course run is confirmed"),
            lazy_gettext("you signed up for a course run, or the training office added you"),
        ),
        Kind(
            "place_promoted",
            lazy_gettext("You moved up from a waiting list to a place"),
            lazy_gettext("you were on the waiting list for a course run"),
        ),
        Kind(
            "run_changed",
            lazy_gettext("A course run you are on has changed"),
            lazy_gettext("you have a place, or are waiting for one, on this course run"),
        ),
        Kind(
            "run_cancelled",
            lazy_gettext("A course run you are on has been cancelled"),
            lazy_gettext("you have a place, or are waiting for one, on this course run"),
        ),
        Kind(
            "course_day_reminder",
            lazy_gettext("A reminder the day before each course day"),
            lazy_gettext("you have a place on this course run"),
        ),
        Kind(
            "online_part_due",
            lazy_gettext("The online part to finish before day 1"),
            lazy_gettext("you have a place on a course run and its online part is not finished"),
        ),
        Kind(
            "accreditation_confirmed",
            lazy_gettext("Your accreditation is confirmed"),
            lazy_gettext("you completed a course that your national officer confirms"),
        ),
        Kind(
            "accreditation_declined",
            lazy_gettext("Your accreditation is not confirmed yet"),
            lazy_gettext("you completed a course that your national officer confirms"),
        ),
        Kind(
            "certificate_issued",
            lazy_gettext("A certificate has been issued to you"),
            lazy_gettext("you earned a certificate"),
        ),
        Kind(
            "certificate_expiring",
            lazy_gettext("A certificate of yours expires soon"),
            lazy_gettext("you hold this certificate"),
        ),
        Kind(
            "certificate_expired",
            lazy_gettext("A certificate of yours has expired"),
            lazy_gettext("you held this certificate"),
        ),
        Kind(
            "data_export_ready",
            lazy_gettext("A copy of your data is ready to download"),
            lazy_gettext("you, or the training office for you, asked for a copy of your data"),
        ),
        Kind(
            "request_waiting",
            lazy_gettext("An accreditation waits for you to confirm it"),
            lazy_gettext("you are the national officer for the trainee's region"),
            Role.OFFICER,
        ),
        Kind(
            "region_certificate_expiring",
            lazy_gettext("A certificate in your region expires soon"),
            lazy_gettext("you are the national officer for the holder's region"),
            Role.OFFICER,
        ),
        Kind(
            "case_study_waiting",
            lazy_gettext("An answer waits for your review"),
            lazy_gettext(
                "you facilitate a course run the trainee has a place on, or review the course's "
                "work for trainees without one"
            ),
            Role.FACILITATOR,
        ),
    )
}

#: Days before a run's first day when people who have not finished the online part
#: are told what is left (once each).
ONLINE_DUE_DAYS = (14, 3)
#: Certificates that lapsed within this many days are still told about (a day missed
#: while no worker ran is caught up; the key keeps it once-only).
EXPIRED_LOOKBACK_DAYS = 14


class NotificationError(Exception):
    pass


# --- Giving a notice ------------------------------------------------------------------------


def kinds_for(user: User) -> list[Kind]:
    """The kinds a person can get, in the settings page's order."""
    roles = user.role_names
    return [k for k in KINDS.values() if k.role is None or k.role in roles or Role.ADMIN in roles]


def wants_email(user: User, kind: str) -> bool:
    choice = db.session.scalar(
        select(NotificationPreference.wants_email).where(
            NotificationPreference.user_id == user.id, NotificationPreference.kind == kind
        )
    )
    return True if choice is None else bool(choice)


def notify(
    user: User,
    kind: str,
    subject: str,
    body: str,
    link: str | None = None,
    key: str | None = None,
    *,
    send_email: bool = True,
) -> Notification | None:
    """Give ``user`` a notice of ``kind``; returns it, or None when ``key`` was given before.

    ``body`` is plain text (paragraphs split by blank lines); ``link`` a path inside
    the platform. Flushes, never commits; the email (if wanted, and unless
    ``send_email`` is False, as for the demo site's notices) is a job sent after the
    commit. Raises NotificationError for an unknown kind or a link that is not a path.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise NotificationError(f"unknown kind of notice {kind!r}")
    if link is not None and (not link.startswith("/") or link.startswith("//")):
        raise NotificationError("a notice links to a path inside the platform")
    if key is not None:
        key = key[:160]
        exists = db.session.scalar(
            select(Notification.id).where(
                Notification.user_id == user.id, Notification.dedupe_key == key
            )
        )
        if exists is not None:
            return None
    notice = Notification(
        user_id=user.id,
        kind=kind,
        subject=str(subject)[:300],
        body=str(body),
        link=link,
        dedupe_key=key,
    )
    try:
        with db.session.begin_nested():
            db.session.add(notice)
    except IntegrityError:
        return None  # another worker gave the same notice first
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(unread_notifications=User.unread_notifications + 1)
        .execution_options(synchronize_session=False)
    )
    _forget_count(user)
    if send_email and user.is_active_account and user.email and wants_email(user, kind):
        _email(user, spec, notice)
        notice.is_emailed = True
    db.session.flush()
    return notice


def _forget_count(user: User) -> None:
    """The kept count changed in SQL: read it again next time it is asked for."""
    if user in db.session:
        db.session.expire(user, ["unread_notifications"])


def _email(user: User, spec: Kind, notice: Notification) -> None:
    from lms.accounts.services import external_url

    home = external_url("catalogue.home").rstrip("/")
    facts = {
        "first_name": user.first_name,
        "subject": notice.subject,
        "paragraphs": [p.strip() for p in notice.body.split("\n\n") if p.strip()],
        "link": f"{home}{notice.link}" if notice.link else None,
        "why": spec.why,
        "settings_url": external_url("notifications.settings"),
        "list_url": external_url("notifications.index"),
    }
    send_mail(
        user.email,
        notice.subject,
        render_template("notifications/email.txt", **facts),
        html=render_template("notifications/email.html", **facts),
    )


# --- Reading and marking --------------------------------------------------------------------


def page_of(user: User, page: Any = 1, per_page: Any = 20) -> Page[Notification]:
    """A person's notices, newest first, one page (two queries)."""
    stmt = (
        select(Notification).where(Notification.user_id == user.id).order_by(Notification.id.desc())
    )
    return paginate(stmt, page, per_page, default_per_page=20)


def mark_read(user: User, notice_ids: list[int]) -> int:
    """Mark these notices of ``user`` read; returns how many were unread. Flushes."""
    if not notice_ids:
        return 0
    result = db.session.execute(
        update(Notification)
        .where(
            Notification.user_id == user.id,
            Notification.id.in_(notice_ids),
            Notification.read_at.is_(None),
        )
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    changed = result.rowcount or 0
    if changed:
        left = User.unread_notifications - changed
        db.session.execute(
            update(User)
            .where(User.id == user.id)
            .values(unread_notifications=case((left < 0, 0), else_=left))
            .execution_options(synchronize_session=False)
        )
        _forget_count(user)
    return changed


def mark_all_read(user: User) -> int:
    """Mark every notice of ``user`` read; returns how many were unread. Flushes."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(unread_notifications=0)
        .execution_options(synchronize_session=False)
    )
    _forget_count(user)
    return result.rowcount or 0


def recount(user: User) -> int:
    """Set the kept count from the notices themselves (a repair; the CLI and tests)."""
    count = db.session.scalar(
        select(func.count(Notification.id)).where(
            Notification.user_id == user.id, Notification.read_at.is_(None)
        )
    )
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(unread_notifications=count)
        .execution_options(synchronize_session=False)
    )
    _forget_count(user)
    return count


def preferences(user: User) -> dict[str, bool]:
    """kind -> whether the person gets it by email, for the kinds they can get."""
    chosen = dict(
        db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.wants_email).where(
                NotificationPreference.user_id == user.id
            )
        ).all()
    )
    return {k.key: bool(chosen.get(k.key, True)) for k in kinds_for(user)}


def set_preferences(user: User, emailed: set[str]) -> None:
    """Email for the kinds in ``emailed``, the in-app list only for the person's others."""
    have = {
        p.kind: p
        for p in db.session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    for kind in kinds_for(user):
        wanted = kind.key in emailed
        row = have.get(kind.key)
        if row is None:
            db.session.add(
                NotificationPreference(user_id=user.id, kind=kind.key, wants_email=wanted)
            )
        else:
            row.wants_email = wanted
    db.session.flush()


# --- What causes a notice: other domains' signals ------------------------------------------


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def _run_facts(run) -> str:
    days = ", ".join(_day(d.day_date) for d in run.days) or _("dates to be set")
    where = run.where or _("place to be confirmed")
    return _("%(days)s · %(where)s", days=days, where=where)


def _path(endpoint: str, **values: Any) -> str:
    """A path for a notice's link, inside or outside a request (no host needed)."""
    from flask import has_request_context, url_for

    if has_request_context():
        return url_for(endpoint, **values)
    with current_app.test_request_context("/"):
        return url_for(endpoint, **values)


def _on_review(_sender: Any, review, enrolment, activity, **_kw: Any) -> None:
    from lms.learning import services as learning

    course = learning.catalogue().get(enrolment.course_slug)
    outcome = (
        _("it meets the standard")
        if review.decision == "accepted"
        else _("it needs more work before it meets the standard")
    )
    notify(
        enrolment.user,
        "review_returned",
        _("Your answer has been reviewed: %(activity)s", activity=activity.title),
        _(
            "A facilitator has reviewed your answer to “%(activity)s” (%(course)s): %(outcome)s.",
            activity=activity.title,
            course=course.title if course else enrolment.course_slug,
            outcome=outcome,
        )
        + "\n\n"
        + _("Open it to read their comments."),
        link=_path("learning.activity", slug=enrolment.course_slug, key=activity.key),
        key=f"review-{review.id}",
    )


def _on_place_booked(_sender: Any, place, promoted: bool = False, **_kw: Any) -> None:
    run = place.run
    if promoted:
        kind, subject, first = (
            "place_promoted",
            _("A place has come up for you: %(run)s", run=run.title),
            _("A place came up on %(run)s and it is yours now.", run=run.title),
        )
    else:
        kind, subject, first = (
            "place_confirmed",
            _("Your place is confirmed: %(run)s", run=run.title),
            _("You have a place on %(run)s.", run=run.title),
        )
    stamp = place.booked_at.strftime("%Y%m%d%H%M%S") if place.booked_at else "now"
    notify(
        place.user,
        kind,
        subject,
        first
        + "\n\n"
        + _run_facts(run)
        + "\n\n"
        + _("If you cannot come, give up the place from your dashboard so someone else can."),
        link=_path("learning.dashboard"),
        key=f"place-{place.id}-booked-{stamp}",
    )


def _people_on(run) -> list:
    from lms.runs.models import PlaceStatus

    return [p.user for p in run.places if p.status in (PlaceStatus.BOOKED, PlaceStatus.WAITING)]


def _on_run_changed(_sender: Any, run, changes: list[str] | None = None, **_kw: Any) -> None:
    changes = [c for c in (changes or []) if c]
    if not changes:
        return
    sequence = getattr(run, "sequence", None)
    stamp = sequence if sequence is not None else utcnow().strftime("%Y%m%d%H%M%S")
    text = (
        _("%(run)s has changed:", run=run.title)
        + "\n\n"
        + "\n".join(f"- {c}" for c in changes)
        + "\n\n"
        + _("Now: %(facts)s", facts=_run_facts(run))
    )
    for person in _people_on(run):
        notify(
            person,
            "run_changed",
            _("A course run you are on has changed: %(run)s", run=run.title),
            text,
            link=_path("learning.dashboard"),
            key=f"run-{run.id}-changed-{stamp}",
        )


def _on_run_cancelled(_sender: Any, run, reason: str = "", **_kw: Any) -> None:
    text = _("%(run)s has been cancelled.", run=run.title)
    if reason:
        text += "\n\n" + _("The training office says: %(reason)s", reason=reason)
    text += "\n\n" + _("Your online progress is kept. Choose another run from the course page.")
    for person in _people_on(run):
        notify(
            person,
            "run_cancelled",
            _("A course run has been cancelled: %(run)s", run=run.title),
            text,
            link=_path("catalogue.course", slug=run.course_slug),
            key=f"run-{run.id}-cancelled",
        )


def _on_accreditation_requested(_sender: Any, record, course, **_kw: Any) -> None:
    from lms.accreditation.services import officers_for_region

    for officer in officers_for_region(record.region_id):
        if officer.id == record.user_id:
            continue  # she cannot decide her own; the training office does
        notify(
            officer,
            "request_waiting",
            _("Accreditation to confirm: %(course)s", course=course.title),
            _(
                "A trainee in your region has completed %(course)s. Review the evidence and "
                "confirm or decline.",
                course=course.title,
            ),
            link=_path("accreditation.request_", accreditation_id=record.id),
            key=f"accreditation-{record.id}-request",
        )


def _on_accreditation_decided(_sender: Any, record, decision: str, **_kw: Any) -> None:
    from lms.learning import services as learning

    course = learning.catalogue().get(record.course_slug)
    title = course.title if course else record.course_slug
    stamp = record.decided_at.strftime("%Y%m%d%H%M%S") if record.decided_at else "now"
    if decision == "confirmed":
        notify(
            record.user,
            "accreditation_confirmed",
            _("Your accreditation is confirmed"),
            _(
                "Your national officer has confirmed your accreditation for %(course)s. "
                "Your certificate is being prepared.",
                course=title,
            ),
            link=_path("accreditation.mine"),
            key=f"accreditation-{record.id}-confirmed-{stamp}",
        )
    else:
        notify(
            record.user,
            "accreditation_declined",
            _("Your accreditation"),
            _(
                "Your national officer has looked at your accreditation for %(course)s and "
                "left you a note. Log in to read it.",
                course=title,
            ),
            link=_path("learning.dashboard"),
            key=f"accreditation-{record.id}-declined-{stamp}",
        )


def _on_certificate_issued(_sender: Any, certificate, **_kw: Any) -> None:
    notify(
        certificate.user,
        "certificate_issued",
        _("Your certificate is ready: %(title)s", title=certificate.accreditation_title),
        _(
            "Certificate %(number)s (%(title)s) has been issued to you. You can download it "
            "and choose what a check of it shows.",
            number=certificate.number,
            title=certificate.accreditation_title,
        ),
        link=_path("accreditation.mine"),
        key=f"certificate-{certificate.id}-issued",
    )


def _on_certificate_expiring(_sender: Any, certificate, officers=(), **_kw: Any) -> None:
    from lms.accreditation.services import format_day

    when = format_day(certificate.expires_at)
    notify(
        certificate.user,
        "certificate_expiring",
        _("Your MiP certificate expires on %(when)s", when=when),
        _(
            "Your certificate %(number)s (%(title)s) expires on %(when)s. "
            "Talk to your national officer about re-accreditation.",
            number=certificate.number,
            title=certificate.accreditation_title,
            when=when,
        ),
        link=_path("accreditation.mine"),
        key=f"certificate-{certificate.id}-expiring",
    )
    for officer in officers:
        notify(
            officer,
            "region_certificate_expiring",
            _("A certificate in your region expires on %(when)s", when=when),
            _(
                "Certificate %(number)s (%(title)s) expires on %(when)s. See your register.",
                number=certificate.number,
                title=certificate.accreditation_title,
                when=when,
            ),
            link=_path("accreditation.certificate", certificate_id=certificate.id),
            key=f"certificate-{certificate.id}-expiring",
        )


def _on_submission(_sender: Any, enrolment, activity, attempt=None, **_kw: Any) -> None:
    from lms.review import services as review

    if attempt is None or activity.type not in review.reviewed_types():
        return
    told: set[int] = set()
    for run in review.trainee_runs(enrolment.user, enrolment.course_slug):
        for link in run.facilitators:
            if link.user_id in told or link.user_id == enrolment.user_id:
                continue
            told.add(link.user_id)
            notify(
                link.user,
                "case_study_waiting",
                _("An answer waits for your review: %(run)s", run=run.title),
                _(
                    "A trainee on %(run)s has sent an answer to “%(activity)s” for review.",
                    run=run.title,
                    activity=activity.title,
                ),
                link=_path("review.review", attempt_id=attempt.id),
                key=f"attempt-{attempt.id}-waiting",
            )
    if told:
        return
    # No run brings the work to a facilitator: the course's reviewers are told.
    from lms.learning import services as learning
    from lms.review import reviewers

    course = learning.catalogue().get(enrolment.course_slug)
    title = course.title if course else enrolment.course_slug
    for person in reviewers.course_reviewers_for(enrolment):
        notify(
            person,
            "case_study_waiting",
            _("An answer waits for your review: %(course)s", course=title),
            _(
                "A trainee on %(course)s, which you review, has sent an answer to "
                "“%(activity)s” for review.",
                course=title,
                activity=activity.title,
            ),
            link=_path("review.review", attempt_id=attempt.id),
            key=f"attempt-{attempt.id}-waiting",
        )


def connect_signals() -> None:
    signals.review_recorded.connect(_on_review)
    signals.place_booked.connect(_on_place_booked)
    signals.run_changed.connect(_on_run_changed)
    signals.run_cancelled.connect(_on_run_cancelled)
    signals.accreditation_requested.connect(_on_accreditation_requested)
    signals.accreditation_decided.connect(_on_accreditation_decided)
    signals.certificate_issued.connect(_on_certificate_issued)
    signals.certificate_expiring.connect(_on_certificate_expiring)
    signals.submission_recorded.connect(_on_submission)


# --- The daily job: reminders that no one's action causes -----------------------------------


def send_daily(today: date | None = None, now: datetime | None = None) -> dict[str, int]:
    """Course-day reminders (the day before), the online part due before day 1, and
    certificates that have expired. Each notice is once-only; returns how many of each."""
    from lms.accreditation.services import local_day

    now = now or utcnow()
    today = today or local_day(now)
    return {
        "course_day_reminder": _day_reminders(today),
        "online_part_due": _online_due(today),
        "certificate_expired": _expired(now),
    }


def _booked_places(run_ids: list[int]):
    from sqlalchemy.orm import selectinload

    from lms.runs.models import PlaceStatus, RunPlace

    if not run_ids:
        return []
    return list(
        db.session.scalars(
            select(RunPlace)
            .where(RunPlace.run_id.in_(run_ids), RunPlace.status == PlaceStatus.BOOKED)
            .options(selectinload(RunPlace.user))
            .order_by(RunPlace.id)
        )
    )


def _tell_places(places, notice) -> int:
    """Give each booked person the notice ``notice(place)`` describes (``notify``'s
    arguments but the person; None for no notice): how many were given (a notice given
    before, by its key, is not given again)."""
    sent = 0
    for place in places:
        args = notice(place)
        if args is not None and notify(place.user, **args):
            sent += 1
    return sent


def _is_cancelled(run) -> bool:
    return getattr(run, "cancelled_at", None) is not None


def _day_reminders(today: date) -> int:
    from sqlalchemy.orm import selectinload

    from lms.runs.models import CourseRun, RunDay

    tomorrow = today + timedelta(days=1)
    days = [
        d
        for d in db.session.scalars(
            select(RunDay)
            .where(RunDay.day_date == tomorrow)
            .options(selectinload(RunDay.run).selectinload(CourseRun.days))
        )
        if not _is_cancelled(d.run)
    ]
    by_run = {d.run_id: d for d in days}

    def reminder(place) -> dict[str, Any]:
        day = by_run[place.run_id]
        run = day.run
        starts = getattr(day, "starts_at", None)
        when = _("tomorrow, %(day)s", day=_day(day.day_date))
        if starts is not None:
            when += _(", from %(time)s", time=starts.strftime("%H:%M"))
        return {
            "kind": "course_day_reminder",
            "subject": _("Tomorrow: %(run)s, day %(n)d", run=run.title, n=day.number),
            "body": _(
                "Day %(n)d of %(run)s is %(when)s, at %(where)s.",
                n=day.number,
                run=run.title,
                when=when,
                where=run.where or _("a place to be confirmed"),
            ),
            "link": _path("learning.dashboard"),
            "key": f"day-{day.id}-reminder-{day.day_date.isoformat()}",
        }

    return _tell_places(_booked_places(list(by_run)), reminder)


def _online_due(today: date) -> int:
    from sqlalchemy.orm import selectinload

    from lms.learning import services as learning
    from lms.learning.models import Enrolment
    from lms.runs.models import CourseRun, RunDay

    horizon = today + timedelta(days=max(ONLINE_DUE_DAYS))
    first = (
        select(RunDay.run_id, func.min(RunDay.day_date).label("first"))
        .group_by(RunDay.run_id)
        .subquery()
    )
    runs = list(
        db.session.scalars(
            select(CourseRun)
            .join(first, first.c.run_id == CourseRun.id)
            .where(first.c.first > today, first.c.first <= horizon)
            .options(selectinload(CourseRun.days))
        )
    )
    runs = [r for r in runs if not _is_cancelled(r)]
    if not runs:
        return 0
    places = _booked_places([r.id for r in runs])
    if not places:
        return 0
    unfinished = {
        (e.user_id, e.course_slug)
        for e in db.session.scalars(
            select(Enrolment).where(
                Enrolment.user_id.in_({p.user_id for p in places}),
                Enrolment.completed_at.is_(None),
            )
        )
    }
    catalogue = learning.catalogue()
    by_id = {r.id: r for r in runs}

    def due(place) -> dict[str, Any] | None:
        run = by_id[place.run_id]
        if (place.user_id, run.course_slug) not in unfinished:
            return None
        left = (run.first_day - today).days
        stage = next((d for d in sorted(ONLINE_DUE_DAYS) if left <= d), None)
        course = catalogue.get(run.course_slug)
        if stage is None or course is None:
            return None
        return {
            "kind": "online_part_due",
            "subject": _("Finish the online part before %(day)s", day=_day(run.first_day)),
            "body": _(
                "Day 1 of %(run)s is on %(day)s. The online part of %(course)s is not "
                "finished yet: the course days build on it.",
                run=run.title,
                day=_day(run.first_day),
                course=course.title,
            ),
            "link": _path("learning.resume", slug=course.slug),
            "key": f"run-{run.id}-online-due-{stage}-{run.first_day.isoformat()}",
        }

    return _tell_places(places, due)


def _expired(now: datetime) -> int:
    from sqlalchemy.orm import selectinload

    from lms.accreditation.models import Certificate

    sent = 0
    for certificate in db.session.scalars(
        select(Certificate)
        .where(
            Certificate.expires_at.is_not(None),
            Certificate.expires_at <= now,
            Certificate.expires_at > now - timedelta(days=EXPIRED_LOOKBACK_DAYS),
            Certificate.revoked_at.is_(None),
        )
        .options(selectinload(Certificate.user))
        .order_by(Certificate.id)
    ):
        if notify(
            certificate.user,
            "certificate_expired",
            _("Your certificate has expired: %(title)s", title=certificate.accreditation_title),
            _(
                "Certificate %(number)s (%(title)s) is no longer valid. A check of it now "
                "says it has expired. Talk to your national officer about re-accreditation.",
                number=certificate.number,
                title=certificate.accreditation_title,
            ),
            link=_path("accreditation.mine"),
            key=f"certificate-{certificate.id}-expired",
        ):
            sent += 1
    return sent


@jobs.task("notifications.send_daily", retries=2)
def send_daily_job() -> None:
    """Job (daily): course-day reminders, online part due, certificates expired."""
    counts = send_daily()
    log.info("Daily notices: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))


jobs.daily("notifications.send_daily", hour=7)
