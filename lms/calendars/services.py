"""iCalendar files for course days, and the personal feed address.

Each day of a run is one VEVENT whose UID names the run and the day
(``run-<id>-day-<day id>@<host>``), so a calendar app that already holds it updates it
rather than adding a copy: the run's ``sequence`` (bumped by runs.services on every
change that matters to attendees) says which version is newer. A cancelled run's
events keep their UIDs with STATUS:CANCELLED. A day removed from a run is simply no
longer in the feed, which subscribed calendars take as its removal.

Times are UK wall-clock times (Europe/London), sent with TZID and a VTIMEZONE.

Feed tokens are random, shown once, and stored only as their SHA-256, looked up by
that hash. Functions flush but never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lms.accounts.models import Role, User
from lms.accounts.services import external_url
from lms.calendars.models import CalendarFeed
from lms.db import utcnow
from lms.errors import ServiceError
from lms.extensions import db
from lms.i18n import _
from lms.learning import services as learning
from lms.runs.models import CourseRun, PlaceStatus, RunDay, RunPlace

log = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")
PRODID = "-//Managers in Partnership//MiP training//EN"
#: The host in event UIDs when neither SERVER_NAME nor LMS_BASE_URL is set. UIDs must
#: not change once people hold them, so set LMS_CALENDAR_HOST (or the base URL) before
#: the first calendar is handed out and keep it.
DEFAULT_UID_HOST = "training.mip.invalid"
#: How often subscribed calendar apps are asked to fetch the feed again.
REFRESH = timedelta(hours=4)
#: A feed token as made by :func:`create_feed` (``secrets.token_urlsafe(32)``).
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,100}")


class CalendarError(ServiceError):
    """A calendar request that cannot be carried out."""


# --- Who may see a run's calendar --------------------------------------------------------


def may_see_run(user: User, run: CourseRun) -> bool:
    """Whether ``user`` may have ``run``'s calendar file: administrators, its facilitators,
    people booked on it, and anyone logged in while the run is listed for sign-up on its
    course page (open, not cancelled, not finished)."""
    if user.has_role(Role.ADMIN) or user.id in run.facilitator_ids():
        return True
    if has_booked_place(user, run):
        return True
    return is_listed(run)


def may_see_link(user: User, run: CourseRun) -> bool:
    """Whether the online link goes in ``user``'s file: only for people with a place and
    those who run it (the link is not for everyone who can see the listing)."""
    return (
        user.has_role(Role.ADMIN) or user.id in run.facilitator_ids() or has_booked_place(user, run)
    )


def has_booked_place(user: User, run: CourseRun) -> bool:
    return (
        db.session.scalar(
            select(RunPlace.id).where(
                RunPlace.run_id == run.id,
                RunPlace.user_id == user.id,
                RunPlace.status == PlaceStatus.BOOKED,
            )
        )
        is not None
    )


def is_listed(run: CourseRun) -> bool:
    """The rule of runs.services.upcoming_open_runs, for one run."""
    last = run.last_day
    return (
        run.is_open
        and run.cancelled_at is None
        and learning.catalogue().get(run.course_slug) is not None
        and (last is None or last >= datetime.now(LONDON).date())
    )


# --- Building calendars -------------------------------------------------------------------


def uid_host() -> str:
    """The host in event UIDs: LMS_CALENDAR_HOST, SERVER_NAME, LMS_BASE_URL's host, or
    :data:`DEFAULT_UID_HOST` (never the request's Host header, which can vary)."""
    config = current_app.config
    host = config.get("LMS_CALENDAR_HOST") or config.get("SERVER_NAME")
    if not host and config.get("LMS_BASE_URL"):
        host = urlsplit(config["LMS_BASE_URL"]).hostname
    host = (host or DEFAULT_UID_HOST).split(":", 1)[0].lower()
    return host or DEFAULT_UID_HOST


def event_uid(run: CourseRun, day: RunDay) -> str:
    return f"run-{run.id}-day-{day.id}@{uid_host()}"


def _london_timezone() -> Timezone:
    """Europe/London's rules since 1996 (last Sunday of March and of October), compact."""
    tz = Timezone()
    tz.add("TZID", "Europe/London")
    tz.add("X-LIC-LOCATION", "Europe/London")
    summer = TimezoneDaylight()
    summer.add("TZNAME", "BST")
    summer.add("TZOFFSETFROM", timedelta(0))
    summer.add("TZOFFSETTO", timedelta(hours=1))
    summer.add("DTSTART", datetime(1996, 3, 31, 1, 0))
    summer.add("RRULE", {"FREQ": "YEARLY", "BYMONTH": 3, "BYDAY": "-1SU"})
    winter = TimezoneStandard()
    winter.add("TZNAME", "GMT")
    winter.add("TZOFFSETFROM", timedelta(hours=1))
    winter.add("TZOFFSETTO", timedelta(0))
    winter.add("DTSTART", datetime(1996, 10, 27, 2, 0))
    winter.add("RRULE", {"FREQ": "YEARLY", "BYMONTH": 10, "BYDAY": "-1SU"})
    tz.add_component(summer)
    tz.add_component(winter)
    return tz


def _calendar(name: str, method: str) -> Calendar:
    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    cal.add("METHOD", method)
    cal.add("X-WR-CALNAME", name)
    cal.add("X-WR-TIMEZONE", "Europe/London")
    cal.add_component(_london_timezone())
    return cal


def _organizer() -> vCalAddress:
    address = vCalAddress(
        f"mailto:{current_app.config.get('LMS_MAIL_FROM') or 'training@localhost'}"
    )
    address.params["CN"] = _("MiP training office")
    return address


def _where(run: CourseRun, with_link: bool) -> str:
    if not run.is_online:
        return run.venue or ""
    if with_link and run.online_url:
        return run.online_url
    return _("Online")


def _events(
    run: CourseRun, *, with_link: bool, cancelled: bool, sequence: int, stamp: datetime
) -> list[Event]:
    """One VEVENT per day of ``run``."""
    course = learning.catalogue().get(run.course_slug)
    page = external_url("catalogue.course", slug=run.course_slug) if course else None
    total = len(run.days)
    location = _where(run, with_link)
    events = []
    for n, day in enumerate(run.days, start=1):
        summary = (
            _("%(title)s: day %(n)d of %(m)d", title=run.title, n=n, m=total)
            if total > 1
            else run.title
        )
        if cancelled:
            summary = _("Cancelled: %(summary)s", summary=summary)
        lines = [course.title if course else run.course_slug]
        lines.append(
            _(
                "%(start)s to %(end)s, UK time.",
                start=day.starts_at.strftime("%H:%M"),
                end=day.ends_at.strftime("%H:%M"),
            )
        )
        if run.is_online:
            lines.append(
                _("Online: join at %(url)s", url=run.online_url)
                if with_link and run.online_url
                else _("Online: the joining link is sent to people with a place.")
            )
        else:
            lines.append(_("Venue: %(venue)s", venue=run.venue or ""))
        if run.cancelled_at is not None:
            lines.append(_("This run is cancelled: %(reason)s", reason=run.cancel_reason or ""))
        elif cancelled:
            lines.append(_("You no longer have a place on this run."))
        if page:
            lines.append(page)
        event = Event()
        event.add("UID", event_uid(run, day))
        event.add("DTSTAMP", stamp)
        event.add("SEQUENCE", sequence)
        event.add("DTSTART", datetime.combine(day.day_date, day.starts_at, tzinfo=LONDON))
        event.add("DTEND", datetime.combine(day.day_date, day.ends_at, tzinfo=LONDON))
        event.add("SUMMARY", summary)
        event.add("LOCATION", location)
        event.add("DESCRIPTION", "\n".join(lines))
        if page:
            event.add("URL", page)
        event.add("ORGANIZER", _organizer())
        event.add("STATUS", "CANCELLED" if cancelled else "CONFIRMED")
        event.add("TRANSP", "OPAQUE")
        events.append(event)
    return events


def run_calendar(run: CourseRun, *, with_link: bool, withdrawn: bool = False) -> Calendar:
    """The file for one run: its days as events (METHOD:PUBLISH), or, for a cancelled run
    or a place given up (``withdrawn``), the same events cancelled (METHOD:CANCEL, with a
    higher SEQUENCE for a place given up, which the run's own sequence does not count)."""
    cancelled = run.cancelled_at is not None or withdrawn
    cal = _calendar(run.title, "CANCEL" if cancelled else "PUBLISH")
    sequence = run.sequence + (1 if withdrawn and run.cancelled_at is None else 0)
    stamp = datetime.now(UTC)
    for event in _events(
        run, with_link=with_link, cancelled=cancelled, sequence=sequence, stamp=stamp
    ):
        cal.add_component(event)
    return cal


def place_calendar(place: RunPlace) -> Calendar | None:
    """The file for a person's place: the run's days while it is booked, cancelled events
    once given up; None for a place on the waiting list."""
    if place.status == PlaceStatus.WAITING:
        return None
    withdrawn = place.status == PlaceStatus.CANCELLED
    return run_calendar(place.run, with_link=not withdrawn, withdrawn=withdrawn)


def booked_places(user: User) -> list[RunPlace]:
    """``user``'s booked places, with their runs and days: three queries."""
    return list(
        db.session.scalars(
            select(RunPlace)
            .where(RunPlace.user_id == user.id, RunPlace.status == PlaceStatus.BOOKED)
            .options(selectinload(RunPlace.run).selectinload(CourseRun.days))
            .order_by(RunPlace.id)
        )
    )


def feed_calendar(user: User) -> Calendar:
    """Every run ``user`` is booked on, cancelled ones kept with STATUS:CANCELLED."""
    cal = _calendar(_("MiP course days"), "PUBLISH")
    cal.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", REFRESH)
    stamp = datetime.now(UTC)
    for place in booked_places(user):
        run = place.run
        for event in _events(
            run,
            with_link=True,
            cancelled=run.cancelled_at is not None,
            sequence=run.sequence,
            stamp=stamp,
        ):
            cal.add_component(event)
    return cal


def filename(text: str) -> str:
    """A safe .ics file name from a run's title."""
    stem = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")
    return f"{stem or 'course-days'}.ics"


# --- The feed address ---------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def active_feed(user: User) -> CalendarFeed | None:
    return db.session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None)
        )
    )


def create_feed(user: User) -> str:
    """Make ``user``'s feed address and return its token (shown once, never stored).
    Raises CalendarError when they already have one: revoke it first."""
    if active_feed(user) is not None:
        raise CalendarError(
            _("You already have a calendar feed address. Revoke it to make a new one.")
        )
    token = secrets.token_urlsafe(32)
    db.session.add(CalendarFeed(user_id=user.id, token_hash=_hash(token)))
    db.session.flush()
    log.info("Calendar feed made for user %s", user.id)
    return token


def revoke_feed(user: User) -> bool:
    """Stop ``user``'s feed address working, for good. Whether there was one."""
    feed = active_feed(user)
    if feed is None:
        return False
    feed.revoked_at = utcnow()
    db.session.flush()
    log.info("Calendar feed %s revoked for user %s", feed.id, user.id)
    return True


def user_for_token(token: str) -> User | None:
    """The active person whose live feed ``token`` opens, or None (unknown, revoked or
    malformed token, deactivated account). The lookup is by the token's SHA-256, so
    the database compares hashes the caller cannot choose, not the token itself."""
    if not _TOKEN_RE.fullmatch(token or ""):
        return None
    wanted = _hash(token)
    row = db.session.execute(
        select(CalendarFeed.token_hash, User)
        .join(User, User.id == CalendarFeed.user_id)
        .where(CalendarFeed.token_hash == wanted, CalendarFeed.revoked_at.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row[0], wanted):
        return None
    user = row[1]
    return user if user.is_active_account else None


def feed_urls(token: str) -> dict[str, str]:
    """The feed's https address and its webcal:// twin (which opens a calendar app)."""
    https = external_url("calendars.feed", token=token)
    return {"https": https, "webcal": "webcal://" + https.split("://", 1)[1]}
