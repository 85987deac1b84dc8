"""Accreditation: checking completion rules, officers' decisions, issuing, revoking, expiry.

The rules come from each course's ``completion`` section. When a trainee meets
them, an accreditation request goes to the national officer of their region, or
the certificate is issued at once where the course needs no confirmation. A course
with ``review: must_pass`` waits for each reviewed activity (case study) to meet the
standard: the check runs again when a review is recorded.
Certificates are unique per person, course and course version (a database
constraint): simultaneous attempts to issue end with one certificate.

Functions flush but never commit.
"""

from __future__ import annotations

import calendar
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from lms import signals
from lms.accounts.models import Role, RoleAssignment, User
from lms.accounts.services import external_url
from lms.accreditation import pdf, storage
from lms.accreditation.models import (
    Accreditation,
    AccreditationStatus,
    Certificate,
    CertificateFile,
    CertificateStatus,
)
from lms.catalogue.content import Course
from lms.db import utcnow
from lms.errors import ServiceError
from lms.extensions import db
from lms.i18n import _
from lms.jobs import services as jobs
from lms.jobs.models import JobBatch
from lms.learning import services as learning
from lms.learning.models import Enrolment
from lms.runs import services as runs
from lms.runs.models import AttendanceStatus, CourseRun, PlaceStatus

log = logging.getLogger(__name__)

UK = ZoneInfo("Europe/London")

# Crockford's base32 without I, L, O, U: easy to read out and type.
_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class AccreditationError(ServiceError):
    """A request that cannot be carried out; ``field`` names the input at fault."""


# --- Rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    key: str
    label: str
    is_met: bool
    detail: str


def trainee_run(user: User, course: Course) -> CourseRun | None:
    """The run of ``course`` on which ``user`` has a booked place (the latest one)."""
    place = runs.active_place_on_course(user, course.slug)
    if place is None or place.status != PlaceStatus.BOOKED:
        return None
    return place.run


def requirements(user: User, course: Course) -> list[Requirement]:
    """Each completion rule of ``course`` and whether ``user`` meets it, for people to read."""
    enrolment = learning.get_enrolment(user, course)
    done_keys: set[str] = set()
    if enrolment is not None:
        done_keys = {k for k, row in learning.progress_map(enrolment).items() if row.is_complete}
    out: list[Requirement] = []
    by_type: dict[str, list[str]] = {}
    for activity in course.activities:
        if activity.key in course.required_keys:
            by_type.setdefault(activity.type, []).append(activity.key)
    registry = learning.registry()
    for type_name, keys in by_type.items():
        # Each type names its own line (lms.plugins.ActivityType.requirement).
        done = sum(1 for k in keys if k in done_keys)
        label, detail = registry[type_name].requirement(done, len(keys))
        out.append(Requirement(type_name, label, done == len(keys), detail))
    rules = course.completion
    if rules.review == "must_pass":
        out.extend(_review_requirements(course, enrolment))
    if rules.attendance == "every_day":
        run = trainee_run(user, course)
        if run is None or not run.days:
            out.append(
                Requirement(
                    "attendance",
                    _("Attendance on every day"),
                    False,
                    _("No place on a run of this course yet"),
                )
            )
        else:
            accepted = {AttendanceStatus.PRESENT.value}
            if rules.excused_absence_counts:
                accepted.add(AttendanceStatus.EXCUSED.value)
            attendance = runs.attendance_for_user(run, user)
            attended = sum(
                1 for mark in attendance.values() if mark is not None and mark.status in accepted
            )
            out.append(
                Requirement(
                    "attendance",
                    _("Attendance on every day"),
                    attended == len(run.days),
                    _(
                        "%(done)d of %(total)d days (%(run)s)",
                        done=attended,
                        total=len(run.days),
                        run=run.title,
                    ),
                )
            )
    return out


def _review_requirements(course: Course, enrolment: Enrolment | None) -> list[Requirement]:
    """Reviewed work meeting the standard (``completion: {review: must_pass}``), one
    requirement per reviewed type the course requires (one query)."""
    from lms.review import services as review

    standing = review.review_standing(enrolment, course)
    if not standing.total:
        return []
    registry = learning.registry()
    by_type: dict[str, list[str]] = {}
    for activity in review.required_reviewed(course):
        by_type.setdefault(activity.type, []).append(activity.key)
    out = []
    for type_name, keys in by_type.items():
        activity_type = registry[type_name]
        noun = (
            getattr(activity_type, "plural_label", None)
            or activity_type.requirement_label
            or activity_type.label
        )
        done = sum(1 for k in keys if k in standing.passed)
        out.append(
            Requirement(
                f"review:{type_name}",
                _("Reviewed by a facilitator"),
                done == len(keys),
                _(
                    "%(done)d of %(total)d %(what)s reviewed and meeting the standard",
                    done=done,
                    total=len(keys),
                    what=_(noun).lower(),
                ),
            )
        )
    return out


def meets_rules(user: User, course: Course) -> bool:
    return all(r.is_met for r in requirements(user, course))


# --- Requests, decisions and issuing ----------------------------------------------------


def accreditation_for(user: User, course: Course) -> Accreditation | None:
    return db.session.scalar(
        select(Accreditation).where(
            Accreditation.user_id == user.id,
            Accreditation.course_slug == course.slug,
            Accreditation.course_version == course.version,
        )
    )


def _insert_accreditation(user: User, course: Course, **fields: Any) -> Accreditation:
    """Insert the accreditation row, or return the one a simultaneous request made."""
    existing = accreditation_for(user, course)
    if existing is not None:
        return existing
    record = Accreditation(
        user_id=user.id,
        course_slug=course.slug,
        course_version=course.version,
        region_id=user.region_id,
        **fields,
    )
    try:
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError:
        existing = accreditation_for(user, course)
        if existing is None:
            raise
        return existing
    return record


def check(user: User, course: Course) -> Accreditation | None:
    """Open a request or issue the certificate when ``user`` first meets the rules."""
    if course.certificate is None or not meets_rules(user, course):
        return None
    existing = accreditation_for(user, course)
    if existing is not None:
        return existing
    if course.completion.confirmation == "officer":
        record = _insert_accreditation(user, course, status=AccreditationStatus.PENDING.value)
        log.info("Accreditation %s waiting for confirmation", record.id)
        _notify_officers(record, course)
        return record
    record = _insert_accreditation(
        user, course, status=AccreditationStatus.ACCREDITED.value, decided_at=utcnow()
    )
    issue(record, course)
    return record


def _notify_officers(record: Accreditation, course: Course) -> None:
    """The region's officers are told (lms.notifications listens)."""
    signals.accreditation_requested.send(
        current_app._get_current_object(), record=record, course=course
    )


def officers_for_region(region_id: int | None) -> list[User]:
    if region_id is None:
        return []
    return list(
        db.session.scalars(
            select(User)
            .join(RoleAssignment)
            .where(RoleAssignment.role == Role.OFFICER, RoleAssignment.region_id == region_id)
        ).unique()
    )


def can_decide(actor: User, record: Accreditation) -> bool:
    """Administrators, or a national officer for the record's region other than its trainee.

    An officer who is also a trainee cannot confirm her own accreditation (as a
    facilitator cannot review her own work): the training office decides it.
    """
    if actor.has_role(Role.ADMIN):
        return True
    if actor.id == record.user_id:
        return False
    return record.region_id is not None and any(
        r.region_id == record.region_id for r in actor.roles if r.role == Role.OFFICER
    )


def confirm(record: Accreditation, officer: User, note: str = "") -> Certificate:
    """An officer confirms: the certificate is issued. Raises AccreditationError."""
    if not can_decide(officer, record):
        raise AccreditationError(_("Only the national officer for this region can decide."))
    if record.status == AccreditationStatus.ACCREDITED:
        raise AccreditationError(_("This accreditation has already been confirmed."))
    course = learning.catalogue().get(record.course_slug)
    if course is None:
        raise AccreditationError(_("This course is no longer offered."))
    record.status = AccreditationStatus.ACCREDITED.value
    record.decided_at = utcnow()
    record.decided_by_id = officer.id
    record.decision_note = note.strip() or None
    db.session.flush()
    signals.accreditation_decided.send(
        current_app._get_current_object(), record=record, decision="confirmed"
    )
    return issue(record, course)


def decline(record: Accreditation, officer: User, note: str) -> None:
    """An officer declines, with a note the trainee sees. Raises AccreditationError."""
    if not can_decide(officer, record):
        raise AccreditationError(_("Only the national officer for this region can decide."))
    if record.status == AccreditationStatus.ACCREDITED:
        raise AccreditationError(_("This accreditation has already been confirmed."))
    if not note.strip():
        raise AccreditationError(_("Tell the trainee why, and what to do next."), "note")
    record.status = AccreditationStatus.DECLINED.value
    record.decided_at = utcnow()
    record.decided_by_id = officer.id
    record.decision_note = note.strip()
    db.session.flush()
    signals.accreditation_decided.send(
        current_app._get_current_object(), record=record, decision="declined"
    )


def grant_prior(user: User, course: Course, reason: str, by: User | None = None) -> Certificate:
    """Record an accreditation earned before this platform existed, and issue the certificate.

    Raises AccreditationError without a reason or for a course without certificates.
    """
    if course.certificate is None:
        raise AccreditationError(_("This course does not lead to a certificate."), "course")
    if not reason.strip():
        raise AccreditationError(_("Give the reason for recording this accreditation."), "reason")
    record = _insert_accreditation(
        user,
        course,
        status=AccreditationStatus.ACCREDITED.value,
        decided_at=utcnow(),
        decided_by_id=by.id if by else None,
        is_prior=True,
        prior_reason=reason.strip(),
    )
    return issue(record, course)


# --- Certificates -----------------------------------------------------------------------


def new_number(course: Course, when: datetime) -> str:
    letter = (course.slug[:1] or "X").upper()
    code = "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(8))
    return f"MIP-{letter}{when:%y}-{code[:4]}-{code[4:]}"


def _add_months(when: datetime, months: int) -> datetime:
    month = when.month - 1 + months
    year = when.year + month // 12
    month = month % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def certificate_for(user: User, course: Course) -> Certificate | None:
    return db.session.scalar(
        select(Certificate).where(
            Certificate.user_id == user.id,
            Certificate.course_slug == course.slug,
            Certificate.course_version == course.version,
        )
    )


def issue(record: Accreditation, course: Course) -> Certificate:
    """Issue (once) the certificate for an accreditation; its PDF is rendered by a job.

    The "accreditation.render_certificate" job runs after the commit, so for a
    moment the certificate has no current file (downloads say it is being prepared).
    """
    if record.certificate is not None:
        return record.certificate
    user = record.user
    existing = certificate_for(user, course)
    if existing is not None:
        return existing
    now = utcnow()
    spec = course.certificate
    region = record.region.name if record.region else (user.region.name if user.region else None)
    certificate = Certificate(
        accreditation_id=record.id,
        user_id=user.id,
        course_slug=course.slug,
        course_version=course.version,
        number=new_number(course, now),
        token=secrets.token_urlsafe(32),
        holder_name=user.name,
        accreditation_title=spec.accreditation,
        course_title=course.title,
        region_name=region,
        officer_name=record.decided_by.name
        if (
            record.decided_by
            and not record.is_prior
            and course.completion.confirmation == "officer"
        )
        else None,
        template=spec.template,
        issued_at=now,
        expires_at=_add_months(now, spec.validity_months) if spec.validity_months else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(certificate)
    except IntegrityError:
        # A simultaneous request issued it first (same person, course and version),
        # or the random number collided: use theirs, or try a new number once.
        existing = certificate_for(user, course)
        if existing is not None:
            return existing
        certificate.number = new_number(course, now)
        with db.session.begin_nested():
            db.session.add(certificate)
    jobs.enqueue("accreditation.render_certificate", certificate_id=certificate.id)
    log.info("Certificate %s issued", certificate.id)
    signals.certificate_issued.send(current_app._get_current_object(), certificate=certificate)
    return certificate


def verify_url(certificate: Certificate) -> str:
    return external_url("verify.by_token", token=certificate.token)


def render_data(certificate: Certificate) -> dict[str, str]:
    """The plain dict a template gets: strings only, never ORM objects."""
    record = certificate.accreditation
    return {
        "holder_name": certificate.holder_name,
        "accreditation": certificate.accreditation_title,
        "course_title": certificate.course_title,
        "course_version": certificate.course_version,
        "issued_on": format_day(certificate.issued_at),
        "region": certificate.region_name or "",
        "officer": certificate.officer_name or "",
        "expires_on": format_day(certificate.expires_at) if certificate.expires_at else "",
        "number": certificate.number,
        "verify_url": verify_url(certificate),
        "basis": (
            _("Recorded for training completed before this platform")
            if record is not None and record.is_prior
            else ""
        ),
    }


def local_day(when: datetime):
    """The calendar day in the UK for a UTC time (certificates, pages and API agree)."""
    return when.astimezone(UK).date()


def format_day(when: datetime) -> str:
    day = local_day(when)
    return f"{day.day} {day:%B %Y}"


def _render_and_store(certificate: Certificate) -> CertificateFile:
    """Render the certificate, write the PDF to storage and record it as the current file.

    The file is written before the row is flushed: a row never points at a file that
    does not exist. A rolled-back transaction can leave an unreferenced file behind,
    which is harmless (files are named by their hash and never change).
    """
    rendered = pdf.render(
        current_app.config["LMS_CERTIFICATES_DIR"], certificate.template, render_data(certificate)
    )
    digest, _path = storage.write(rendered.data)
    for old in certificate.files:
        old.is_current = False
    stored = CertificateFile(
        certificate=certificate,
        sha256=digest,
        size=len(rendered.data),
        template=rendered.template,
        is_current=True,
    )
    db.session.add(stored)
    db.session.flush()
    return stored


def reissue(certificate: Certificate, template: str | None = None) -> CertificateFile:
    """Render again now after a template change: a new file, the same number, history kept.

    The bulk re-issue (:func:`start_reissue`) calls this from its jobs.
    """
    if template:
        certificate.template = template
    stored = _render_and_store(certificate)
    signals.certificate_reissued.send(
        current_app._get_current_object(), certificate=certificate, file=stored
    )
    return stored


REISSUE_CHUNK = 20


def start_reissue(
    course: Course, started_by: User | None = None, chunk: int = REISSUE_CHUNK
) -> JobBatch:
    """Re-render every certificate of ``course`` in background jobs of ``chunk`` certificates.

    Returns the batch (flushed, not committed); its jobs reach the workers after the
    commit and run in parallel, each certificate keeping its number and earlier files.
    Raises AccreditationError for a course without certificates.
    """
    if course.certificate is None:
        raise AccreditationError(_("This course does not lead to a certificate."), "course")
    template = course.certificate.template
    since = utcnow().isoformat()
    ids = list(
        db.session.scalars(
            select(Certificate.id)
            # Withdrawn certificates (the holder's data erased) are never rendered again.
            .where(Certificate.course_slug == course.slug, Certificate.withdrawn_at.is_(None))
            .order_by(Certificate.id)
        )
    )
    parts = [
        (
            {"certificate_ids": ids[i : i + chunk], "template": template, "since": since},
            len(ids[i : i + chunk]),
        )
        for i in range(0, len(ids), max(1, chunk))
    ]
    return jobs.start_batch(
        "certificates.reissue",
        _(
            "Re-issue %(course)s certificates with template %(template)s",
            course=course.title,
            template=template,
        ),
        "accreditation.reissue_certificates",
        parts,
        started_by_id=started_by.id if started_by else None,
    )


def _load_for_render(certificate_ids: list[int]) -> dict[int, Certificate]:
    """Certificates with everything rendering reads, so that it needs no query."""
    return {
        c.id: c
        for c in db.session.scalars(
            select(Certificate)
            .where(Certificate.id.in_(certificate_ids))
            .options(selectinload(Certificate.files), selectinload(Certificate.accreditation))
        )
    }


@jobs.task("accreditation.render_certificate", retries=3, priority=5)
def render_certificate_job(certificate_id: int) -> None:
    """Job: render a newly issued certificate, unless a file exists already (a repeat)."""
    certificate = _load_for_render([certificate_id]).get(certificate_id)
    if certificate is None or certificate.current_file is not None:
        return
    # End the read before rendering: SQLite then holds its write lock only for the store.
    jobs.checkpoint()
    _render_and_store(certificate)


@jobs.task("accreditation.reissue_certificates", retries=3)
def reissue_certificates_job(certificate_ids: list[int], template: str, since: str) -> None:
    """Job: re-render part of a bulk re-issue, committing after each certificate.

    A retry skips certificates re-rendered since the batch started (``since``), so a
    repeated job does not render them twice.
    """
    since_at = datetime.fromisoformat(since)
    certificates = _load_for_render(certificate_ids)
    jobs.checkpoint()
    for done, certificate_id in enumerate(certificate_ids, 1):
        certificate = certificates.get(certificate_id)
        if certificate is not None:
            current = certificate.current_file
            if current is None or current.created_at < since_at:
                reissue(certificate, template)
        jobs.progress(done)
        jobs.checkpoint()


@jobs.task("accreditation.send_reminders", retries=2)
def send_reminders_job() -> None:
    """Job (daily): expiry reminders; holders already reminded are skipped."""
    sent = send_reminders()
    log.info("Expiry reminders sent for %d certificate(s)", len(sent))


jobs.daily("accreditation.send_reminders", hour=7)


def status(certificate: Certificate, now: datetime | None = None) -> CertificateStatus:
    return certificate.status_at(now or utcnow())


def can_revoke(actor: User, certificate: Certificate) -> bool:
    if actor.has_role(Role.ADMIN):
        return True
    region_id = certificate.accreditation.region_id if certificate.accreditation else None
    return region_id is not None and any(
        r.region_id == region_id for r in actor.roles if r.role == Role.OFFICER
    )


def revoke(certificate: Certificate, actor: User | None, reason: str) -> None:
    """Revoke with a reason. Verification then says revoked and when. ``actor`` None is
    the site's operator on the command line (`lms certificates revoke`), who may revoke
    any certificate. Raises AccreditationError."""
    if actor is not None and not can_revoke(actor, certificate):
        raise AccreditationError(
            _("Only an administrator or the region's national officer can revoke this certificate.")
        )
    if certificate.revoked_at is not None:
        raise AccreditationError(_("This certificate has already been revoked."))
    if not reason.strip():
        raise AccreditationError(_("Give the reason for revoking it."), "reason")
    certificate.revoked_at = utcnow()
    certificate.revoked_by_id = actor.id if actor is not None else None
    certificate.revocation_reason = reason.strip()
    db.session.flush()
    log.info("Certificate %s revoked", certificate.id)
    signals.certificate_revoked.send(
        current_app._get_current_object(), certificate=certificate, actor=actor
    )


#: Built once: the dashboard and the certificates page ask on every view.
_CERTIFICATES_OF = (
    select(Certificate).where(Certificate.user_id == bindparam("user_id")).order_by(Certificate.id)
)
_CURRENT_FILES = (
    select(
        CertificateFile.certificate_id,
        CertificateFile.sha256,
        CertificateFile.size,
        CertificateFile.created_at,
    )
    .where(
        CertificateFile.certificate_id.in_(bindparam("ids", expanding=True)),
        CertificateFile.is_current,
    )
    .order_by(CertificateFile.id)
)
_ACCREDITATIONS_OF = (
    select(Accreditation)
    .where(Accreditation.user_id == bindparam("user_id"))
    .order_by(Accreditation.id)
)


def certificates_of(user: User) -> list[Certificate]:
    """The person's certificates, each with its current file's facts for the PDF link
    (``linked_file``: hash, size, time; None before it is rendered), read in one query
    of three columns rather than as file objects."""
    certificates = list(db.session.scalars(_CERTIFICATES_OF, {"user_id": user.id}))
    if certificates:
        rows = db.session.execute(_CURRENT_FILES, {"ids": [c.id for c in certificates]}).all()
        current = {row.certificate_id: row for row in rows}  # the newest if ever two
        for certificate in certificates:
            certificate.linked_file = current.get(certificate.id)
    return certificates


def accreditations_of(user: User) -> list[Accreditation]:
    return list(db.session.scalars(_ACCREDITATIONS_OF, {"user_id": user.id}))


_DEFAULT_REMINDER_DAYS = 60


def _expiring_where(within_days: int | None, now: datetime):
    """SQL condition: valid, and lapsing within its course's reminder window (or ``within_days``).

    Courses are grouped by window, so the condition has one term per distinct window.
    """
    if within_days is not None:
        window = Certificate.expires_at <= now + timedelta(days=within_days)
    else:
        slugs_by_days: dict[int, list[str]] = {}
        for course in learning.catalogue():
            days = course.certificate.reminder_days if course.certificate else None
            slugs_by_days.setdefault(days or _DEFAULT_REMINDER_DAYS, []).append(course.slug)
        known = [slug for slugs in slugs_by_days.values() for slug in slugs]
        terms = [
            and_(
                Certificate.course_slug.in_(slugs),
                Certificate.expires_at <= now + timedelta(days=days),
            )
            for days, slugs in slugs_by_days.items()
        ]
        # Certificates of courses no longer offered keep the default window.
        terms.append(
            and_(
                Certificate.course_slug.not_in(known),
                Certificate.expires_at <= now + timedelta(days=_DEFAULT_REMINDER_DAYS),
            )
        )
        window = or_(*terms)
    return and_(
        Certificate.expires_at.is_not(None),
        Certificate.revoked_at.is_(None),
        Certificate.expires_at > now,
        window,
    )


def expiring(within_days: int | None = None, now: datetime | None = None) -> list[Certificate]:
    """Valid certificates that lapse within their course's reminder window (or ``within_days``),
    soonest first: one query, holders and accreditations loaded with it."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(Certificate)
            .where(_expiring_where(within_days, now))
            .options(selectinload(Certificate.user), selectinload(Certificate.accreditation))
            .order_by(Certificate.expires_at, Certificate.id)
        )
    )


def send_reminders(now: datetime | None = None) -> list[Certificate]:
    """Prompt holders and their officers to re-accredit before certificates lapse (once each).

    The emails are jobs sent after the commit; runs daily as the
    "accreditation.send_reminders" job, and by hand with ``lms accreditation remind``.
    """
    now = now or utcnow()
    sent = []
    officers: dict[int | None, list[User]] = {}
    for certificate in db.session.scalars(
        select(Certificate)
        .where(_expiring_where(None, now), Certificate.reminded_at.is_(None))
        .options(selectinload(Certificate.user), selectinload(Certificate.accreditation))
        .order_by(Certificate.expires_at, Certificate.id)
    ):
        region_id = certificate.accreditation.region_id if certificate.accreditation else None
        if region_id not in officers:
            officers[region_id] = officers_for_region(region_id)
        # The holder and the region's officers are told (lms.notifications listens).
        signals.certificate_expiring.send(
            current_app._get_current_object(),
            certificate=certificate,
            officers=[o for o in officers[region_id] if o.id != certificate.user_id],
        )
        certificate.reminded_at = now
        sent.append(certificate)
    db.session.flush()
    return sent


# --- Signals ------------------------------------------------------------------------------


def _on_requirements(sender: Any, enrolment: Enrolment, course: Course, **_: Any) -> None:
    check(enrolment.user, course)


def _on_attendance(sender: Any, run: CourseRun, user_ids: list[int], **_: Any) -> None:
    course = learning.catalogue().get(run.course_slug)
    if course is None or course.certificate is None:
        return
    for user_id in user_ids:
        user = db.session.get(User, user_id)
        if user is not None and learning.get_enrolment(user, course) is not None:
            check(user, course)


def _on_review(sender: Any, review: Any, enrolment: Enrolment, activity: Any, **_: Any) -> None:
    """A review may meet the last rule (``review: must_pass``): check the trainee again."""
    course = learning.catalogue().get(enrolment.course_slug)
    if course is not None and course.certificate is not None and enrolment.completed_at:
        check(enrolment.user, course)


def connect_signals() -> None:
    signals.course_requirements_met.connect(_on_requirements)
    signals.attendance_recorded.connect(_on_attendance)
    signals.review_recorded.connect(_on_review)
