"""The national officers' register: the reps and link members of a region and their status.

An officer sees the people whose home region is one they cover; administrators
see every region. Statuses: in training, awaiting confirmation, accredited,
revoked, expired.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, select, union, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from lms.accounts.models import Region, Role, User, name_key
from lms.accreditation.models import (
    Accreditation,
    AccreditationStatus,
    Certificate,
)
from lms.db import escape_like, utcnow
from lms.extensions import db
from lms.i18n import _l
from lms.learning import services as learning
from lms.learning.models import Enrolment
from lms.pagination import MAX_PER_PAGE, Page, choice_arg, clamp_int, paginate, search_arg

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


REGISTER_PAGE_SIZE = 50


def _region_ids(viewer: User, filters: Filters) -> tuple[dict[int, Region], set[int]]:
    regions = {r.id: r for r in visible_regions(viewer)}
    region_ids = set(regions)
    if filters.region.isdigit() and int(filters.region) in region_ids:
        region_ids = {int(filters.region)}
    return regions, region_ids


def _people(stmt: Select, user_id, filters: Filters, region_ids: set[int]) -> Select:
    """``stmt`` joined to the person of ``user_id``, limited to the regions and the search."""
    stmt = stmt.join(User, User.id == user_id).where(User.region_id.in_(region_ids))
    return _search(stmt, filters)


def _search(stmt: Select, filters: Filters) -> Select:
    if filters.q:
        stmt = stmt.where(
            or_(
                User.name_key.like(f"%{escape_like(name_key(filters.q))}%", escape="\\"),
                func.lower(User.email).like(f"%{escape_like(filters.q.lower())}%", escape="\\"),
            )
        )
    return stmt


def _key_selects(
    filters: Filters, region_ids: set[int], certified: list[str]
) -> tuple[Select, Select]:
    """The register's keys (person, course) as two SELECTs: enrolments on a course with a
    certificate, and accreditation records."""
    enrolled = _people(
        select(Enrolment.user_id, Enrolment.course_slug).where(
            Enrolment.course_slug.in_(certified)
        ),
        Enrolment.user_id,
        filters,
        region_ids,
    )
    recorded = _people(
        select(Accreditation.user_id, Accreditation.course_slug),
        Accreditation.user_id,
        filters,
        region_ids,
    )
    if filters.course:
        enrolled = enrolled.where(Enrolment.course_slug == filters.course)
        recorded = recorded.where(Accreditation.course_slug == filters.course)
    return enrolled, recorded


def _statement(
    filters: Filters, now: datetime, region_ids: set[int], until: str | None = None
) -> tuple[Select, ColumnElement, ColumnElement]:
    """The register as one SELECT: a row per person and course (enrolled on a course with a
    certificate, or with an accreditation record), its latest record and certificate, and
    its status computed in SQL so that filtering, sorting and paging happen there.

    With ``until`` (a name key), only the people whose key sorts up to it, and everyone
    with a pending record: the first rows of the full register when ``until`` is far
    enough (see ``page``).

    Returns the statement, its course slug column and its status column."""
    catalogue = learning.catalogue()
    certified = [c.slug for c in catalogue if c.certificate is not None]

    enrolled, recorded = _key_selects(filters, region_ids, certified)
    pending_keys = recorded.where(Accreditation.status == AccreditationStatus.PENDING.value)
    if filters.status == "awaiting":
        # Only a pending record can be a request awaiting a decision: look at those alone
        # rather than at everyone in the region (the status test below still applies).
        keys = pending_keys.subquery("register_keys")
    elif until is not None:
        # The people up to ``until`` in name order, and every pending record (those rows
        # can come first whatever the name): see ``page``.
        keys = union(
            enrolled.where(User.name_key <= until),
            recorded.where(User.name_key <= until),
            pending_keys,
        ).subquery("register_keys")
    else:
        keys = union(enrolled, recorded).subquery("register_keys")
    # The latest record of the person and course: no newer one (by id) exists. Asked
    # per row through the (user, course) index rather than grouping every record.
    newer = aliased(Accreditation, name="newer_record")
    latest_on = and_(
        Accreditation.user_id == keys.c.user_id,
        Accreditation.course_slug == keys.c.course_slug,
        ~select(newer.id)
        .where(
            newer.user_id == Accreditation.user_id,
            newer.course_slug == Accreditation.course_slug,
            newer.id > Accreditation.id,
        )
        .exists(),
    )
    certificate_state = case(
        (Certificate.revoked_at.is_not(None), "revoked"),
        (and_(Certificate.expires_at.is_not(None), Certificate.expires_at <= now), "expired"),
        else_="accredited",
    )
    status = case(
        (Certificate.id.is_not(None), certificate_state),
        (Accreditation.status == AccreditationStatus.PENDING.value, "awaiting"),
        else_="training",
    ).label("status")
    titles = {c.slug: c.title for c in catalogue}
    title = (
        case(titles, value=keys.c.course_slug, else_=keys.c.course_slug)
        if titles
        else keys.c.course_slug
    )
    stmt = (
        select(User, keys.c.course_slug, Accreditation, Certificate, Enrolment.enrolled_at, status)
        .select_from(keys)
        .join(User, User.id == keys.c.user_id)
        .outerjoin(Accreditation, latest_on)
        .outerjoin(Certificate, Certificate.accreditation_id == Accreditation.id)
        .outerjoin(
            Enrolment,
            (Enrolment.user_id == keys.c.user_id) & (Enrolment.course_slug == keys.c.course_slug),
        )
    )
    if filters.status:
        stmt = stmt.where(status == filters.status)
    # Requests waiting for a decision first, then everyone by name.
    stmt = stmt.order_by(
        case((status == "awaiting", 0), else_=1),
        User.name_key,
        title,
        User.id,
        keys.c.course_slug,
    )
    return stmt, keys.c.course_slug, status


def _row(
    person: User,
    slug: str,
    record: Accreditation | None,
    certificate: Certificate | None,
    enrolled_at: datetime | None,
    state: str,
    regions: Mapping[int, Region],
) -> Row:
    course = learning.catalogue().get(slug)
    note = ""
    if state in {"revoked", "expired", "accredited"} and certificate is not None:
        since = {"revoked": certificate.revoked_at, "expired": certificate.expires_at}.get(
            state, certificate.issued_at
        )
    elif state == "awaiting" and record is not None:
        since = record.requested_at
    else:
        since = enrolled_at
        if record is not None and record.status == AccreditationStatus.DECLINED:
            note = record.decision_note or ""
    return Row(
        person=person,
        course_slug=slug,
        course_title=course.title if course else slug,
        status=state,
        since=since,
        region=regions.get(person.region_id),
        accreditation=record,
        certificate=certificate,
        note=note,
    )


def page(
    viewer: User,
    filters: Filters,
    page: Any = 1,
    per_page: Any = None,
    now: datetime | None = None,
) -> Page[Row]:
    """One page of the register rows the viewer may see, filtered, in two queries.

    Unknown filter values match everything (status, region) or nothing (course);
    bad page numbers are clamped. Raises nothing for bad input.
    """
    now = now or utcnow()
    regions, region_ids = _region_ids(viewer, filters)
    if not region_ids:
        return paginate(select(User).where(false()), 1, per_page, total=0)
    more = False
    if filters.status:
        stmt, _slug, _status = _statement(filters, now, region_ids)
        total = None
    else:
        stmt, total, more = _first_rows(filters, now, region_ids, page, per_page)
        counted = total
        if more:
            # One page past the counted rows exists: the pager offers it as the next.
            size = clamp_int(per_page, REGISTER_PAGE_SIZE, 1, MAX_PER_PAGE)
            total = -(-total // size) * size + 1
    result = paginate(
        stmt,
        page,
        per_page,
        default_per_page=REGISTER_PAGE_SIZE,
        scalars=False,
        tiebreak=(),
        total=total,
    )
    result.items = [_row(*values, regions=regions) for values in result.items]
    #: Whether the register has more rows than it counted (``counted`` of them at least):
    #: the page then says "more than" rather than a number (see _first_rows).
    result.more = more
    result.counted = counted if more else result.total
    return result


#: The register's row count stops here (and some pages past the one asked for): beyond
#: it the page says "more than" this many rather than counting the whole region.
REGISTER_COUNT_LIMIT = 1000
#: Pages past the one asked for that the count still covers exactly (for the pager).
COUNT_PAGES_AHEAD = 10


def _first_rows(
    filters: Filters, now: datetime, region_ids: set[int], page: Any, per_page: Any
) -> tuple[Select, int, bool]:
    """The register statement for ``page`` without a status filter, its row count, and
    whether there are more rows than that count.

    Requests awaiting a decision come first, then every row in name order. Rather than
    compute the status of every row in the region to sort them, the statement is limited
    to the people whose name key sorts up to the one of the N-th person with a row (N =
    the rows up to this page's end plus the pending records: each person has a row at
    least, and at most that many rows can be awaiting and move to the front) and to the
    people with a pending record. The rows up to this page's end are then the same as
    the full register's. The N-th key is read along the (region, name key) index.

    The count is exact up to :data:`REGISTER_COUNT_LIMIT` rows, or up to
    :data:`COUNT_PAGES_AHEAD` pages past this one if that is more; past that it stops
    (the flag is then true and the count is the limit). Each (person, course) row is
    counted once without a UNION's de-duplication, which read the whole region: an
    enrolment on a course with a certificate, or else the person's first record for
    the course. Counting stops at the limit, so a large region costs what a small one
    does.
    """
    catalogue = learning.catalogue()
    certified = [c.slug for c in catalogue if c.certificate is not None]
    enrolled, recorded = _key_selects(filters, region_ids, certified)
    size = clamp_int(per_page, REGISTER_PAGE_SIZE, 1, MAX_PER_PAGE)
    asked = clamp_int(page, 1, 1, 1_000_000)
    limit = max(REGISTER_COUNT_LIMIT, (asked + COUNT_PAGES_AHEAD) * size)
    earlier = aliased(Accreditation, name="earlier_record")
    first_records = recorded.where(
        ~select(Enrolment.id)
        .where(
            Enrolment.user_id == Accreditation.user_id,
            Enrolment.course_slug == Accreditation.course_slug,
            Enrolment.course_slug.in_(certified),
        )
        .exists(),
        ~select(earlier.id)
        .where(
            earlier.user_id == Accreditation.user_id,
            earlier.course_slug == Accreditation.course_slug,
            earlier.id < Accreditation.id,
        )
        .exists(),
    )
    each_row = union_all(
        enrolled.with_only_columns(Enrolment.user_id),
        first_records.with_only_columns(Accreditation.user_id),
    ).subquery("register_rows")
    up_to_limit = select(each_row.c.user_id).limit(limit + 1).subquery("counted_rows")
    waiting = (
        recorded.where(Accreditation.status == AccreditationStatus.PENDING.value)
        .with_only_columns(func.count())
        .scalar_subquery()
    )
    total, waiting_count = db.session.execute(
        select(select(func.count()).select_from(up_to_limit).scalar_subquery(), waiting)
    ).one()
    total = total or 0
    more = total > limit
    if more:
        total = limit
    number = clamp_int(page, 1, 1, max(1, -(-total // size) + (1 if more else 0)))
    needed = number * size + (waiting_count or 0)
    with_row = or_(
        select(Enrolment.id)
        .where(Enrolment.user_id == User.id, Enrolment.course_slug.in_(certified))
        .where(*([Enrolment.course_slug == filters.course] if filters.course else []))
        .exists(),
        select(Accreditation.id)
        .where(Accreditation.user_id == User.id)
        .where(*([Accreditation.course_slug == filters.course] if filters.course else []))
        .exists(),
    )
    until = db.session.scalar(
        _search(select(User.name_key).where(User.region_id.in_(region_ids), with_row), filters)
        .order_by(User.name_key)
        .offset(needed - 1)
        .limit(1)
    )
    stmt, _slug, _status = _statement(filters, now, region_ids, until)
    return stmt, total, more


def rows(viewer: User, filters: Filters, now: datetime | None = None) -> list[Row]:
    """Every register row the viewer may see, filtered (one query). Raises nothing."""
    now = now or utcnow()
    regions, region_ids = _region_ids(viewer, filters)
    if not region_ids:
        return []
    stmt, _slug, _status = _statement(filters, now, region_ids)
    return [_row(*values, regions=regions) for values in db.session.execute(stmt)]


CSV_HEADER = [
    "name",
    "email",
    "region",
    "course",
    "status",
    "since",
    "certificate",
    "issued",
    "expires",
]


def csv_rows(viewer: User, filters: Filters, now: datetime | None = None) -> Iterator[list[str]]:
    """The header and every row of the register as CSV cells, read in one query.

    Plain columns rather than objects, fetched in batches, so a region of thousands
    stays quick and memory stays flat.
    """
    now = now or utcnow()
    yield CSV_HEADER
    regions, region_ids = _region_ids(viewer, filters)
    if not region_ids:
        return
    titles = {c.slug: c.title for c in learning.catalogue()}
    stmt, slug_column, status = _statement(filters, now, region_ids)
    stmt = stmt.with_only_columns(
        User.name,
        User.email,
        User.region_id,
        slug_column,
        Enrolment.enrolled_at,
        Accreditation.requested_at,
        Certificate.number,
        Certificate.issued_at,
        Certificate.expires_at,
        Certificate.revoked_at,
        status,
    )
    result = db.session.execute(stmt.execution_options(yield_per=1000))
    for row in result:
        (
            name,
            email,
            region_id,
            slug,
            enrolled_at,
            requested_at,
            number,
            issued_at,
            expires_at,
            revoked_at,
            state,
        ) = row
        since = {
            "revoked": revoked_at,
            "expired": expires_at,
            "accredited": issued_at,
            "awaiting": requested_at,
        }.get(state, enrolled_at)
        region = regions.get(region_id)
        yield [
            name,
            email,
            region.name if region else "",
            titles.get(slug, slug),
            str(STATUS_LABELS[state]),
            since.date().isoformat() if since else "",
            number or "",
            issued_at.date().isoformat() if number and issued_at else "",
            expires_at.date().isoformat() if number and expires_at else "",
        ]


def pending(viewer: User, filters: Filters, limit: int = 10) -> Page[Row]:
    """Requests waiting for the viewer's decision (first ``limit``, and how many in all)."""
    only = Filters(status="awaiting", region=filters.region)
    return page(viewer, only, 1, limit)


def expiring(viewer: User, now: datetime | None = None, limit: int = 10) -> Page[Certificate]:
    """Valid certificates the viewer may see that lapse within their course's reminder
    window, soonest first: the first ``limit`` and how many in all (two queries)."""
    now = now or utcnow()
    windows = []
    known = []
    longest = 60
    for course in learning.catalogue():
        if course.certificate is not None:
            known.append(course.slug)
            days = course.certificate.reminder_days
            longest = max(longest, days)
            windows.append(
                and_(
                    Certificate.course_slug == course.slug,
                    Certificate.expires_at <= now + timedelta(days=days),
                )
            )
    windows.append(
        and_(
            Certificate.course_slug.not_in(known),
            Certificate.expires_at <= now + timedelta(days=60),
        )
    )
    stmt = (
        select(Certificate)
        .where(
            Certificate.revoked_at.is_(None),
            Certificate.expires_at.is_not(None),
            Certificate.expires_at > now,
            # The longest window as a plain range: the expiry index reads only that range.
            Certificate.expires_at <= now + timedelta(days=longest),
            or_(*windows),
        )
        .order_by(Certificate.expires_at)
    )
    if not viewer.has_role(Role.ADMIN):
        region_ids = [r.id for r in viewer.officer_regions()]
        # Through coalesce, so that SQLite starts from the few certificates in the expiry
        # range rather than from every record of the region (both are indexed; without
        # statistics it would pick the region's). The same rows either way.
        stmt = stmt.join(Accreditation, Accreditation.id == Certificate.accreditation_id).where(
            func.coalesce(Accreditation.region_id, -1).in_(region_ids)
        )
    return paginate(stmt, 1, limit, max_per_page=limit)


CERTIFICATE_STATUSES = {
    "valid": _l("Valid"),
    "revoked": _l("Revoked"),
    "expired": _l("Expired"),
    "withdrawn": _l("Withdrawn"),
}


@dataclass
class CertificateFilters:
    q: str = ""
    status: str = ""
    course: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CertificateFilters:
        status = args.get("status", "")
        return cls(
            q=search_arg(args),
            status=status if status in CERTIFICATE_STATUSES else "",
            course=choice_arg(args, "course"),
        )


def certificates_page(
    viewer: User,
    filters: CertificateFilters,
    page: Any = 1,
    per_page: Any = None,
    now: datetime | None = None,
) -> Page[Certificate]:
    """One page of the certificates the viewer may see (their regions'; all for
    administrators), newest first, searchable by number or holder: two queries.

    The page is read along ``ix_certificate_issued_at`` (issued_at DESC, id) when that is
    the cheaper way: walking the index from the newest certificate reads about
    (rows up to the page's end) x (all certificates / the viewer's) entries, sorting
    reads the viewer's all. For an officer both counts come in the one COUNT query; the
    region test is then written so that SQLite does not start from the region's records
    (``coalesce``, as in :func:`expiring`; the same rows). Otherwise (later pages, a
    small region) the region's records are read through their index and sorted.
    """
    now = now or utcnow()
    stmt = select(Certificate).order_by(Certificate.issued_at.desc())
    if filters.q:
        like = f"%{escape_like(filters.q.lower())}%"
        stmt = stmt.where(
            or_(
                func.lower(Certificate.number).like(like, escape="\\"),
                func.lower(Certificate.holder_name).like(like, escape="\\"),
            )
        )
    if filters.course:
        stmt = stmt.where(Certificate.course_slug == filters.course)
    expired = and_(Certificate.expires_at.is_not(None), Certificate.expires_at <= now)
    if filters.status == "revoked":
        stmt = stmt.where(Certificate.revoked_at.is_not(None), Certificate.withdrawn_at.is_(None))
    elif filters.status == "withdrawn":
        stmt = stmt.where(Certificate.withdrawn_at.is_not(None))
    elif filters.status == "expired":
        stmt = stmt.where(Certificate.revoked_at.is_(None), expired)
    elif filters.status == "valid":
        stmt = stmt.where(Certificate.revoked_at.is_(None), ~expired)
    if viewer.has_role(Role.ADMIN):
        # No region test: the order is the index's, whatever the page.
        return paginate(stmt, page, per_page, default_per_page=REGISTER_PAGE_SIZE)
    region_ids = [r.id for r in viewer.officer_regions()]
    joined = stmt.join(Accreditation, Accreditation.id == Certificate.accreditation_id)
    in_regions = joined.where(Accreditation.region_id.in_(region_ids))
    counted = in_regions.with_only_columns(func.count(), maintain_column_froms=False)
    counted = counted.order_by(None).select_from(Certificate).scalar_subquery()
    everyone = select(func.count()).select_from(Certificate).scalar_subquery()
    total, all_certificates = db.session.execute(select(counted, everyone)).one()
    total = total or 0
    size = clamp_int(per_page, REGISTER_PAGE_SIZE, 1, MAX_PER_PAGE)
    number = clamp_int(page, 1, 1, max(1, -(-total // size)))
    if number * size * (all_certificates or 0) <= total * total:
        page_stmt = joined.where(func.coalesce(Accreditation.region_id, -1).in_(region_ids))
    else:
        page_stmt = in_regions
    return paginate(page_stmt, number, size, default_per_page=REGISTER_PAGE_SIZE, total=total)
