"""The national officers' register: the reps and link members of a region and their status.

An officer sees the people whose home region is one they cover; administrators
see every region. Statuses: in training, awaiting confirmation, accredited,
revoked, expired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from lms.accounts.models import Region, Role, User
from lms.accreditation.models import (
    Accreditation,
    AccreditationStatus,
    Certificate,
    CertificateStatus,
)
from lms.db import escape_like, utcnow
from lms.extensions import db
from lms.i18n import _l
from lms.learning import services as learning
from lms.learning.models import Enrolment

STATUS_LABELS = {
    "training": _l("In training"),
    "awaiting": _l("Awaiting confirmation"),
    "accredited": _l("Accredited"),
    "revoked": _l("Revoked"),
    "expired": _l("Expired"),
}


def visible_regions(user: User) -> list[Region]:
    if user.has_role(Role.ADMIN):
        return list(db.session.scalars(select(Region).order_by(Region.name)))
    return sorted(user.officer_regions(), key=lambda r: r.name)


def can_see(user: User, certificate: Certificate) -> bool:
    if user.has_role(Role.ADMIN):
        return True
    region_id = certificate.accreditation.region_id if certificate.accreditation else None
    return region_id in {r.id for r in user.officer_regions()}


@dataclass
class Filters:
    q: str = ""
    status: str = ""
    course: str = ""
    region: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        status = args.get("status", "")
        return cls(
            q=(args.get("q") or "").strip()[:100],
            status=status if status in STATUS_LABELS else "",
            course=args.get("course", ""),
            region=args.get("region", ""),
        )


@dataclass
class Row:
    person: User
    course_slug: str
    course_title: str
    status: str
    since: datetime | None
    region: Region | None
    accreditation: Accreditation | None
    certificate: Certificate | None
    note: str = ""

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status])

    def csv(self) -> list[str]:
        c = self.certificate
        return [
            self.person.name,
            self.person.email,
            self.region.name if self.region else "",
            self.course_title,
            self.status_label,
            self.since.date().isoformat() if self.since else "",
            c.number if c else "",
            c.issued_at.date().isoformat() if c else "",
            c.expires_at.date().isoformat() if c and c.expires_at else "",
        ]


def rows(viewer: User, filters: Filters, now: datetime | None = None) -> list[Row]:
    """Register rows the viewer may see, filtered. Raises nothing; unknown filters match all."""
    now = now or utcnow()
    regions = visible_regions(viewer)
    region_ids = {r.id for r in regions}
    if filters.region.isdigit() and int(filters.region) in region_ids:
        region_ids = {int(filters.region)}
    if not region_ids:
        return []
    catalogue = learning.catalogue()
    certified = {c.slug for c in catalogue if c.certificate is not None}
    people_stmt = select(User).where(User.region_id.in_(region_ids))
    if filters.q:
        like = f"%{escape_like(filters.q.lower())}%"
        people_stmt = people_stmt.where(
            or_(
                func.lower(User.name).like(like, escape="\\"),
                func.lower(User.email).like(like, escape="\\"),
            )
        )
    people = {u.id: u for u in db.session.scalars(people_stmt)}
    if not people:
        return []
    ids = list(people)
    enrolments = db.session.scalars(
        select(Enrolment).where(Enrolment.user_id.in_(ids), Enrolment.course_slug.in_(certified))
    ).all()
    records = db.session.scalars(select(Accreditation).where(Accreditation.user_id.in_(ids))).all()
    latest: dict[tuple[int, str], Accreditation] = {}
    for record in sorted(records, key=lambda r: r.id):
        latest[(record.user_id, record.course_slug)] = record
    by_key = {(e.user_id, e.course_slug): e for e in enrolments}
    keys = set(by_key) | set(latest)
    out = []
    for user_id, slug in keys:
        course = catalogue.get(slug)
        record = latest.get((user_id, slug))
        enrolment = by_key.get((user_id, slug))
        certificate = record.certificate if record is not None else None
        note = ""
        if certificate is not None:
            current = certificate.status_at(now)
            # A valid certificate is listed as "accredited"; revoked and expired keep their names.
            state = "accredited" if current == CertificateStatus.VALID else current.value
            since = {"revoked": certificate.revoked_at, "expired": certificate.expires_at}.get(
                state, certificate.issued_at
            )
        elif record is not None and record.status == AccreditationStatus.PENDING:
            state, since = "awaiting", record.requested_at
        else:
            state = "training"
            since = enrolment.enrolled_at if enrolment else None
            if record is not None and record.status == AccreditationStatus.DECLINED:
                note = record.decision_note or ""
        out.append(
            Row(
                person=people[user_id],
                course_slug=slug,
                course_title=course.title if course else slug,
                status=state,
                since=since,
                region=people[user_id].region,
                accreditation=record,
                certificate=certificate,
                note=note,
            )
        )
    if filters.status:
        out = [r for r in out if r.status == filters.status]
    if filters.course:
        out = [r for r in out if r.course_slug == filters.course]
    # Requests waiting for a decision first, then everyone by name.
    out.sort(
        key=lambda r: (
            0 if r.status == "awaiting" else 1,
            r.person.name.lower(),
            r.course_title,
        )
    )
    return out
