"""Accreditation: checking completion rules, officers' decisions, issuing, revoking, expiry.

The rules come from each course's ``completion`` section. When a trainee meets
them, an accreditation request goes to the national officer of their region, or
the certificate is issued at once where the course needs no confirmation.
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
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lms import signals
from lms.accounts.models import Role, RoleAssignment, User
from lms.accounts.services import external_url
from lms.accreditation import pdf
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
from lms.learning import services as learning
from lms.learning.models import Enrolment
from lms.mail import send_mail
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


_TYPE_LABELS = {
    "reading": ("Module pages read", "{done} of {total} pages"),
    "quiz": ("Knowledge checks passed", "{done} of {total} passed"),
    "case_study": ("Case studies", "{done} of {total} complete"),
    "feedback": ("Feedback forms sent", "{done} of {total} sent"),
}


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
    for type_name, keys in by_type.items():
        label, detail = _TYPE_LABELS.get(
            type_name, (type_name.replace("_", " ").title(), "{done} of {total} complete")
        )
        done = sum(1 for k in keys if k in done_keys)
        out.append(
            Requirement(
                type_name, _(label), done == len(keys), detail.format(done=done, total=len(keys))
            )
        )
    rules = course.completion
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
    officers = officers_for_region(record.region_id)
    for officer in officers:
        send_mail(
            officer.email,
            _("Accreditation to confirm: %(course)s", course=course.title),
            _(
                "A trainee in your region has completed %(course)s. Review the evidence and "
                "confirm or decline here:\n\n%(url)s\n",
                course=course.title,
                url=external_url("accreditation.request_", accreditation_id=record.id),
            ),
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
    """Administrators, or a national officer for the record's region."""
    if actor.has_role(Role.ADMIN):
        return True
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
    course = learning.catalogue().get(record.course_slug)
    send_mail(
        record.user.email,
        _("Your accreditation"),
        _(
            "Your national officer has looked at your accreditation for %(course)s and "
            "left you a note. Log in to read it.",
            course=course.title if course else record.course_slug,
        ),
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
    """Issue (once) the certificate for an accreditation, render it and store the PDF."""
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
    _render_and_store(certificate)
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
    rendered = pdf.render(
        current_app.config["LMS_CERTIFICATES_DIR"], certificate.template, render_data(certificate)
    )
    for old in certificate.files:
        old.is_current = False
    stored = CertificateFile(
        certificate=certificate,
        pdf=rendered.data,
        sha256=rendered.sha256,
        size=len(rendered.data),
        template=rendered.template,
        is_current=True,
    )
    db.session.add(stored)
    db.session.flush()
    return stored


def reissue(certificate: Certificate, template: str | None = None) -> CertificateFile:
    """Render again after a template change: a new file, the same number, history kept."""
    if template:
        certificate.template = template
    return _render_and_store(certificate)


def status(certificate: Certificate, now: datetime | None = None) -> CertificateStatus:
    return certificate.status_at(now or utcnow())


def can_revoke(actor: User, certificate: Certificate) -> bool:
    if actor.has_role(Role.ADMIN):
        return True
    region_id = certificate.accreditation.region_id if certificate.accreditation else None
    return region_id is not None and any(
        r.region_id == region_id for r in actor.roles if r.role == Role.OFFICER
    )


def revoke(certificate: Certificate, actor: User, reason: str) -> None:
    """Revoke with a reason. Verification then says revoked and when. Raises AccreditationError."""
    if not can_revoke(actor, certificate):
        raise AccreditationError(
            _("Only an administrator or the region's national officer can revoke this certificate.")
        )
    if certificate.revoked_at is not None:
        raise AccreditationError(_("This certificate has already been revoked."))
    if not reason.strip():
        raise AccreditationError(_("Give the reason for revoking it."), "reason")
    certificate.revoked_at = utcnow()
    certificate.revoked_by_id = actor.id
    certificate.revocation_reason = reason.strip()
    db.session.flush()
    log.info("Certificate %s revoked", certificate.id)


def certificates_of(user: User) -> list[Certificate]:
    return list(
        db.session.scalars(
            select(Certificate).where(Certificate.user_id == user.id).order_by(Certificate.id)
        )
    )


def accreditations_of(user: User) -> list[Accreditation]:
    return list(
        db.session.scalars(
            select(Accreditation).where(Accreditation.user_id == user.id).order_by(Accreditation.id)
        )
    )


def expiring(within_days: int | None = None, now: datetime | None = None) -> list[Certificate]:
    """Valid certificates that lapse within their course's reminder window (or ``within_days``)."""
    now = now or utcnow()
    out = []
    for certificate in db.session.scalars(
        select(Certificate).where(
            Certificate.expires_at.is_not(None), Certificate.revoked_at.is_(None)
        )
    ):
        course = learning.catalogue().get(certificate.course_slug)
        days = (
            within_days
            if within_days is not None
            else (course.certificate.reminder_days if course and course.certificate else 60)
        )
        if now < certificate.expires_at <= now + timedelta(days=days):
            out.append(certificate)
    return out


def send_reminders(now: datetime | None = None) -> list[Certificate]:
    """Prompt holders and their officers to re-accredit before certificates lapse (once each)."""
    now = now or utcnow()
    sent = []
    for certificate in expiring(now=now):
        if certificate.reminded_at is not None:
            continue
        when = format_day(certificate.expires_at)
        send_mail(
            certificate.user.email,
            _("Your MiP certificate expires on %(when)s", when=when),
            _(
                "Your certificate %(number)s (%(title)s) expires on %(when)s. "
                "Talk to your national officer about re-accreditation.",
                number=certificate.number,
                title=certificate.accreditation_title,
                when=when,
            ),
        )
        region_id = certificate.accreditation.region_id if certificate.accreditation else None
        for officer in officers_for_region(region_id):
            send_mail(
                officer.email,
                _("A certificate in your region expires on %(when)s", when=when),
                _(
                    "Certificate %(number)s (%(title)s) expires on %(when)s. See your register.",
                    number=certificate.number,
                    title=certificate.accreditation_title,
                    when=when,
                ),
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


def connect_signals() -> None:
    signals.course_requirements_met.connect(_on_requirements)
    signals.attendance_recorded.connect(_on_attendance)
