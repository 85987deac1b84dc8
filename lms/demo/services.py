"""Build a realistic demo site on the current database, fast, with the real models.

:func:`populate` adds invented trainees (and the staff and course runs they need)
to whatever ``lms setup`` made, never changing the demo accounts or their data.
Everything is written with bulk INSERTs in batches, one commit per batch, shaped
exactly as the services would have left it:

- enrolments with progress per activity key of the real course content, attempts
  as each activity type stores them (readings, scored quizzes with the options
  picked, case-study answers with reviews), progress rows of anonymous feedback
  forms made at enrolment and answers stored with no person and no time;
- course runs past and future with days, facilitators, places (booked within
  capacity, a waiting list only on a full run, cancelled ones kept) and
  attendance marks on past days;
- link member certificates for everyone who completed that course, rep
  accreditation requests waiting for each region's national officer, decisions,
  declines, revocations, prior grants, and certificates (numbers and tokens made
  as :mod:`lms.accreditation.services` makes them) whose PDFs are rendered later.

The run is repeatable: ``seed`` fixes the names, choices and dates; emails are
always new, so running it again adds another set of people.
"""

from __future__ import annotations

import logging
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import insert, select

from lms.accounts.models import Region, Role, RoleAssignment, User
from lms.accreditation import services as accreditation
from lms.accreditation.models import (
    Accreditation,
    AccreditationStatus,
    Certificate,
)
from lms.activities.quiz import PaperQuestion, paper_data
from lms.catalogue.content import Activity, Course
from lms.db import utcnow
from lms.demo import data
from lms.errors import ServiceError
from lms.extensions import db
from lms.feedback import tallies as feedback_tallies
from lms.feedback.models import CourseChange, FeedbackResponse
from lms.learning.models import ActivityProgress, Attempt, AttemptReview, Enrolment
from lms.review import services as review_services
from lms.runs.models import (
    AttendanceMark,
    AttendanceStatus,
    CourseRun,
    PlaceStatus,
    RunDay,
    RunFacilitator,
    RunPlace,
)

log = logging.getLogger(__name__)

BASIC_SLUG = "link-member"
ADVANCED_SLUG = "rep"
BATCH = 1000  # trainees per transaction
MAX_TRAINEES = 200_000

Progress = Callable[[int], Any]


class DemoError(ServiceError):
    """The demo site cannot be built (e.g. the courses it needs are missing)."""


# --- Plans: what to make, before anything is written ------------------------------------


@dataclass
class RunPlan:
    course_slug: str
    title: str
    venue: str | None
    is_online: bool
    capacity: int
    days: list[date]
    region: str | None
    facilitator_ids: list[int]
    is_open: bool
    id: int = 0
    day_ids: list[int] = field(default_factory=list)
    booked: int = 0

    @property
    def is_past(self) -> bool:
        return self.days[-1] < date.today()

    @property
    def first_day(self) -> date:
        return self.days[0]

    @property
    def last_day(self) -> date:
        return self.days[-1]


@dataclass
class Place:
    run: RunPlan
    status: str  # booked, waiting, cancelled


@dataclass
class Person:
    name: str
    email: str
    region: str
    stage: str
    is_active: bool = True
    basic: Place | None = None  # active place on a link member run
    advanced: Place | None = None  # active place on a rep run
    cancelled: list[Place] = field(default_factory=list)
    force_waiting: bool = False  # has a case study waiting for review, whatever the dice say
    user_id: int = 0
    joined: datetime | None = None


# Stages: what a person has done so far.
#   none            an account, nothing started
#   basic-partial   link member course under way
#   basic-done      link member certificate
#   rep-partial     link member done, rep course under way (place on a run or not)
#   rep-pending     rep course complete, waiting for the national officer
#   rep-accredited  accredited rep with a certificate (some expired, some revoked)
#   rep-declined    rep course complete, the officer declined (with a note)
#   prior           accreditations recorded for training before the platform
FREE_STAGES = {
    "none": 4,
    "basic-partial": 40,
    "basic-done": 40,
    "rep-partial": 10,
    "prior": 4,
}


@dataclass
class Context:
    rng: random.Random
    now: datetime
    today: date
    basic: Course
    advanced: Course
    regions: dict[str, Region]
    officers: dict[int, tuple[int, str]]  # region id -> (officer id, name)
    admin_id: int | None
    demo_facilitator_id: int | None
    facilitator_ids: list[int]
    password_hash: str | None
    emails: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)
    budgets: dict[str, int] = field(default_factory=dict)


def populate(
    trainees: int, *, seed: int = 1, progress: Progress | None = None, pdfs: int = 0
) -> dict[str, int]:
    """Add ``trainees`` invented trainees, with the staff, runs and records they need.

    Works on the current app's database inside an app context; creates the regions
    and demo accounts first if they are missing (as ``lms setup`` would). Commits
    once per batch of trainees. ``progress`` (e.g. a Click progress bar's
    ``update``) is called with the number of trainees finished after each batch.
    ``pdfs`` certificates (the most recent ones) get their PDF rendered, through
    the job queue when there is one. Returns counts of what was made.

    Raises DemoError for a bad number or when the link member and rep courses are
    not in the catalogue.
    """
    from lms.accounts.cli import create_demo_accounts, seed_regions
    from lms.cli import create_demo_runs

    if not 0 <= trainees <= MAX_TRAINEES:
        raise DemoError(f"the number of trainees must be between 0 and {MAX_TRAINEES:,}")
    if pdfs < 0:
        raise DemoError("the number of PDFs cannot be negative")
    catalogue = current_app.extensions["lms.courses"]
    basic, advanced = catalogue.get(BASIC_SLUG), catalogue.get(ADVANCED_SLUG)
    if basic is None or advanced is None:
        raise DemoError(
            f"the demo needs the courses {BASIC_SLUG!r} and {ADVANCED_SLUG!r} in the catalogue"
        )
    seed_regions()
    create_demo_accounts()
    db.session.commit()
    create_demo_runs()
    db.session.commit()
    assign_demo_reviewers()
    db.session.commit()

    rng = random.Random(seed)
    counts: dict[str, int] = {}
    ctx = _context(rng, basic, advanced, trainees, counts)
    db.session.commit()

    runs = _plan_runs(ctx, trainees)
    people = _plan_people(ctx, runs, trainees)
    _insert_runs(ctx, runs, counts)
    db.session.commit()
    _give_emails(ctx, people)
    done = 0
    for start in range(0, len(people), BATCH):
        chunk = people[start : start + BATCH]
        _write_people(ctx, chunk, counts)
        db.session.commit()
        done += len(chunk)
        if progress is not None:
            progress(len(chunk))
    _course_changes(ctx, runs, counts)
    db.session.commit()
    _demo_notices(counts)
    db.session.commit()
    counts["pdfs"] = _render_pdfs(pdfs)
    db.session.commit()
    log.info("Demo site: added %d trainees", done)
    return counts


def assign_demo_reviewers() -> list[str]:
    """The demo facilitator reviews the link member course's work from trainees with no
    run (as the training office would name someone): returns the course slugs newly
    assigned. Does nothing without the demo facilitator or the course."""
    from lms.accounts.services import find_by_email
    from lms.review import reviewers

    facilitator = find_by_email("facilitator@example.org")
    course = current_app.extensions["lms.courses"].get(BASIC_SLUG)
    if facilitator is None or course is None:
        return []
    if any(u.id == facilitator.id for u in reviewers.reviewers_of(course.slug)):
        return []
    reviewers.assign(course, facilitator)
    return [course.slug]


def _demo_notices(counts: dict[str, int], limit: int = 6) -> None:
    """Notices for the demo facilitator and officer about their newest waiting work, as
    the site would have given them (in-app only: the demo sends no email)."""
    from lms.accounts.services import find_by_email
    from lms.accreditation.models import Accreditation, AccreditationStatus
    from lms.notifications import services as notices
    from lms.review.models import ReviewItem
    from lms.runs.models import CourseRun, PlaceStatus, RunFacilitator, RunPlace

    facilitator = find_by_email("facilitator@example.org")
    if facilitator is not None:
        rows = db.session.execute(
            select(ReviewItem.attempt_id, ReviewItem.activity_key, ReviewItem.course_slug)
            .join(RunPlace, RunPlace.user_id == ReviewItem.user_id)
            .join(CourseRun, (CourseRun.id == RunPlace.run_id))
            .join(RunFacilitator, RunFacilitator.run_id == CourseRun.id)
            .where(
                RunFacilitator.user_id == facilitator.id,
                RunPlace.status == PlaceStatus.BOOKED,
                CourseRun.course_slug == ReviewItem.course_slug,
                ReviewItem.is_waiting.is_(True),
            )
            .order_by(ReviewItem.submitted_at.desc())
            .limit(limit)
        ).all()
        catalogue = current_app.extensions["lms.courses"]
        for attempt_id, key, slug in rows:
            course = catalogue.get(slug)
            activity = course.activity(key) if course else None
            title = activity.title if activity else key
            if notices.notify(
                facilitator,
                "case_study_waiting",
                f"An answer waits for your review: {course.title if course else slug}",
                f"A trainee has sent an answer to “{title}” for review.",
                link=f"/facilitate/reviews/{attempt_id}",
                key=f"attempt-{attempt_id}-waiting",
                send_email=False,
            ):
                _add(counts, "notices")
    officer = find_by_email("officer@example.org")
    if officer is not None and officer.region_id is not None:
        pending = db.session.scalars(
            select(Accreditation)
            .where(
                Accreditation.region_id == officer.region_id,
                Accreditation.status == AccreditationStatus.PENDING.value,
            )
            .order_by(Accreditation.id.desc())
            .limit(limit)
        ).all()
        for record in pending:
            if notices.notify(
                officer,
                "request_waiting",
                "Accreditation to confirm",
                "A trainee in your region has completed a course. Review the evidence and "
                "confirm or decline.",
                link=f"/register/requests/{record.id}",
                key=f"accreditation-{record.id}-request",
                send_email=False,
            ):
                _add(counts, "notices")


def _add(counts: dict[str, int], key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n


# --- Staff ----------------------------------------------------------------------------


def _context(rng: random.Random, basic: Course, advanced: Course, trainees: int, counts) -> Context:
    from lms.accounts.cli import demo_password
    from lms.accounts.services import find_by_email, hash_password

    regions = {r.name: r for r in db.session.scalars(select(Region))}
    missing = set(data.REGION_WEIGHTS) - set(regions)
    if missing:
        raise DemoError(
            "the demo needs the default regions; missing: " + ", ".join(sorted(missing))
        )
    # One hash of the demo password, shared by every generated account: people made by
    # the demo can log in with it (for trying pages and load tests), at the cost of one
    # hash rather than one per person.
    password_hash = hash_password(demo_password())
    now = utcnow()
    emails = {e.lower() for e in db.session.scalars(select(User.email))}
    officers: dict[int, tuple[int, str]] = {}
    for assignment in db.session.scalars(
        select(RoleAssignment)
        .where(RoleAssignment.role == Role.OFFICER)
        .order_by(RoleAssignment.id)
    ):
        if assignment.region_id is not None and assignment.region_id not in officers:
            officers[assignment.region_id] = (assignment.user_id, assignment.user.name)
    # Every region gets a national officer, as MiP has: the demo officer covers North East.
    for _region_name, region in sorted(regions.items()):
        if region.id in officers:
            continue
        email = f"officer.{region.slug}@example.org"
        user = find_by_email(email)
        if user is None:
            user = _staff(email, _name(rng), region, [Role.OFFICER], password_hash, now)
            emails.add(email)
            _add(counts, "officers")
        officers[region.id] = (user.id, user.name)
    admin = find_by_email("admin@example.org")
    demo_facilitator = find_by_email("facilitator@example.org")
    facilitators = []
    for _i in range(max(3, trainees // 1500) if trainees else 0):
        # The training office's team of facilitators grows with the site.
        region = regions[_weighted(rng, data.REGION_WEIGHTS)]
        name = _name(rng)
        email = _new_email(rng, name, emails, "example.org")
        user = _staff(email, name, region, [Role.FACILITATOR], password_hash, now)
        facilitators.append(user.id)
        _add(counts, "facilitators")
    return Context(
        rng=rng,
        now=now,
        today=date.today(),
        basic=basic,
        advanced=advanced,
        regions=regions,
        officers=officers,
        admin_id=admin.id if admin else None,
        demo_facilitator_id=demo_facilitator.id if demo_facilitator else None,
        facilitator_ids=facilitators,
        password_hash=password_hash,
        emails=emails,
    )


def _staff(email, name, region, roles, password_hash, now) -> User:
    user = User(
        email=email,
        name=name,
        region=region,
        password_hash=password_hash,
        password_changed_at=now,
        created_at=now,
    )
    for role in roles:
        user.roles.append(
            RoleAssignment(role=role.value, region=region if role == Role.OFFICER else None)
        )
    db.session.add(user)
    db.session.flush()
    return user


def _name(rng: random.Random) -> str:
    while True:
        name = f"{rng.choice(data.FIRST_NAMES)} {rng.choice(data.SURNAMES)}"
        if name not in data.AVOID_NAMES:
            return name


def _slug(name: str) -> str:
    return "".join(c for c in name.lower().replace(" ", ".") if c.isalnum() or c in ".-")


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# --- Runs -----------------------------------------------------------------------------


def _plan_runs(ctx: Context, trainees: int) -> dict[str, list[RunPlan]]:
    """Runs of both courses, past and future, enough for the share of trainees on runs."""
    rng, today = ctx.rng, ctx.today
    plans: dict[str, list[RunPlan]] = {
        "rep-past": [],
        "rep-future": [],
        "lm-past": [],
        "lm-future": [],
    }
    if trainees == 0:
        return plans

    def team(region: str | None, demo_share: float) -> list[int]:
        # Two facilitators per run; the demo facilitator runs a large share of them, so
        # their pages (runs, attendance, review queue) fill up like a busy facilitator's.
        chosen = []
        if ctx.demo_facilitator_id and rng.random() < demo_share:
            chosen.append(ctx.demo_facilitator_id)
        others = [f for f in ctx.facilitator_ids if f not in chosen]
        while len(chosen) < 2 and others:
            pick = rng.choice(others)
            others.remove(pick)
            chosen.append(pick)
        return chosen

    def rep_run(first: date, demo_share: float) -> RunPlan:
        region = _weighted(rng, data.REGION_WEIGHTS)
        town = rng.choice(data.REGION_TOWNS[region])
        while first.weekday() not in (1, 2):  # Tuesday and Wednesday, or Wednesday and Thursday
            first += timedelta(days=1)
        days = [first, first + timedelta(days=1)]
        if rng.random() < 0.15:  # some runs meet a week apart
            days[1] = first + timedelta(days=7)
        return RunPlan(
            course_slug=ctx.advanced.slug,
            title=f"Rep course, {town}, {first:%B %Y}",
            venue=f"{rng.choice(data.VENUES)}, {town}",
            is_online=False,
            capacity=rng.randint(10, 16),
            days=days,
            region=region,
            facilitator_ids=team(region, demo_share),
            is_open=True,
        )

    def lm_run(first: date, demo_share: float) -> RunPlan:
        while first.weekday() > 4:
            first += timedelta(days=1)
        online = rng.random() < 0.8
        region = None if online else _weighted(rng, data.REGION_WEIGHTS)
        town = rng.choice(data.REGION_TOWNS[region]) if region else None
        return RunPlan(
            course_slug=ctx.basic.slug,
            title=(
                f"Link member course, online, {first.day} {first:%B %Y}"
                if online
                else f"Link member course, {town}, {first.day} {first:%B %Y}"
            ),
            venue=None if online else f"{rng.choice(data.VENUES)}, {town}",
            is_online=online,
            capacity=rng.randint(24, 40),
            days=[first],
            region=region,
            facilitator_ids=team(region, demo_share),
            is_open=True,
        )

    budgets = {
        "rep-past": round(trainees * 0.30),
        "rep-future": max(3, round(trainees * 0.06)),
        "lm-past": round(trainees * 0.10),
        "lm-future": round(trainees * 0.04),
    }
    # Past rep runs over four years, more of them recently (the scheme is growing); the
    # first one ended last week so the demo officer and facilitator have work waiting.
    n_rep_past = max(1, round(budgets["rep-past"] / 12))
    for i in range(n_rep_past):
        if i == 0:
            first = today - timedelta(days=rng.randint(9, 14))
        else:
            first = today - timedelta(days=int(1460 * rng.random() ** 1.4) + 10)
        run = rep_run(first, 0.9 if i == 0 else 0.35)
        if (
            i == 0
            and ctx.demo_facilitator_id
            and ctx.demo_facilitator_id not in run.facilitator_ids
        ):
            run.facilitator_ids[:1] = [ctx.demo_facilitator_id]
        if run.last_day >= today:
            run.days = [d - timedelta(days=7) for d in run.days]
        plans["rep-past"].append(run)
    n_rep_future = max(1, round(budgets["rep-future"] / 11))
    for i in range(n_rep_future):
        first = today + timedelta(days=rng.randint(5, 200) if i else rng.randint(10, 30))
        run = rep_run(first, 0.9 if i == 0 else 0.35)
        if (
            i == 0
            and ctx.demo_facilitator_id
            and ctx.demo_facilitator_id not in run.facilitator_ids
        ):
            run.facilitator_ids[:1] = [ctx.demo_facilitator_id]
        run.is_open = rng.random() < 0.9 or i == 0
        plans["rep-future"].append(run)
    for _i in range(max(1, round(budgets["lm-past"] / 30))):
        first = today - timedelta(days=int(1460 * rng.random() ** 1.4) + 3)
        plans["lm-past"].append(lm_run(first, 0.25))
    for _i in range(max(1, round(budgets["lm-future"] / 28))):
        first = today + timedelta(days=rng.randint(3, 180))
        plans["lm-future"].append(lm_run(first, 0.25))
    for runs in plans.values():
        runs.sort(key=lambda r: r.first_day)
    ctx.budgets = budgets
    return plans


def _insert_runs(ctx: Context, plans: dict[str, list[RunPlan]], counts) -> None:
    # A run in the past that nobody came to is not worth showing.
    for key in ("rep-past", "lm-past"):
        plans[key] = [r for r in plans[key] if r.booked]
    runs = [r for group in plans.values() for r in group]
    if not runs:
        return
    rows = [
        {
            "course_slug": r.course_slug,
            "title": r.title,
            "venue": r.venue,
            "is_online": r.is_online,
            "capacity": r.capacity,
            "is_open": r.is_open,
            "lock_version": 0,
            "created_at": _at(r.first_day - timedelta(days=ctx.rng.randint(40, 120)), 10),
        }
        for r in runs
    ]
    ids = _insert_returning(CourseRun, rows)
    for run, run_id in zip(runs, ids, strict=True):
        run.id = run_id
    day_rows = [{"run_id": r.id, "day_date": d} for r in runs for d in r.days]
    day_ids = iter(_insert_returning(RunDay, day_rows))
    for run in runs:
        run.day_ids = [next(day_ids) for _d in run.days]
    _insert(
        RunFacilitator,
        [{"run_id": r.id, "user_id": u} for r in runs for u in r.facilitator_ids],
    )
    _add(counts, "runs", len(runs))
    _add(counts, "run_days", len(day_rows))


# --- People ---------------------------------------------------------------------------


def _plan_people(ctx: Context, plans: dict[str, list[RunPlan]], trainees: int) -> list[Person]:
    """Who the trainees are and where they are: places fill runs first, then the rest."""
    rng = ctx.rng
    budgets = ctx.budgets
    people: list[Person] = []
    if trainees == 0:
        return people

    def person(stage: str, region: str | None = None) -> Person:
        if region is None or rng.random() < 0.2:
            region = _weighted(rng, data.REGION_WEIGHTS)
        return Person(name=_name(rng), email="", region=region, stage=stage)

    left = trainees

    def take(n: int) -> int:
        nonlocal left
        n = max(0, min(n, left))
        left -= n
        return n

    # Rep runs that have happened: who came, and how far they have got since.
    budget = take(budgets["rep-past"])
    for index, run in enumerate(plans["rep-past"]):
        if budget <= 0:
            break
        recent = (ctx.today - run.last_day).days < 120
        booked = min(budget, run.capacity - rng.choice([0, 0, 1, 2, 3]))
        for slot in range(booked):
            if recent:
                stage = rng.choices(
                    ["rep-partial", "rep-pending", "rep-accredited", "rep-declined"],
                    weights=[40, 40, 15, 5],
                )[0]
            else:
                stage = rng.choices(
                    ["rep-partial", "rep-accredited", "rep-declined"], weights=[10, 86, 4]
                )[0]
            region = run.region
            if index == 0 and slot < 2:
                # The latest run always has someone from the demo officer's region waiting
                # for confirmation and someone with work waiting for review.
                stage, region = ("rep-pending", "rep-partial")[slot], "North East"
            p = person(stage, region)
            if index == 0 and slot < 2:
                p.region = "North East"
                p.force_waiting = slot == 1
            p.advanced = Place(run, PlaceStatus.BOOKED)
            people.append(p)
        run.booked = booked
        budget -= booked
        if budget > 0 and rng.random() < 0.3:
            # Someone who had a place but withdrew, and has not rebooked yet.
            p = person("rep-partial", run.region)
            p.cancelled.append(Place(run, PlaceStatus.CANCELLED))
            people.append(p)
            budget -= 1
    left += max(0, budget)

    # Rep runs to come: places, and a waiting list where a run is full.
    budget = take(budgets["rep-future"])
    for index, run in enumerate(plans["rep-future"]):
        if budget <= 0:
            break
        full = index == 0 or rng.random() < 0.4
        booked = run.capacity if full else rng.randint(run.capacity // 3, run.capacity - 1)
        if full and budget < booked + 2:
            # A small site: a smaller room, so the first run is still full with a waiting list.
            run.capacity = booked = max(1, budget - 2)
        booked = min(booked, budget)
        waiting = min(rng.randint(1, 5), budget - booked) if booked == run.capacity else 0
        for _slot in range(booked):
            p = person("rep-partial", run.region)
            p.advanced = Place(run, PlaceStatus.BOOKED)
            people.append(p)
        for _slot in range(waiting):
            p = person("rep-partial", run.region)
            p.advanced = Place(run, PlaceStatus.WAITING)
            people.append(p)
        run.booked = booked
        budget -= booked + waiting
    left += max(0, budget)

    # Link member runs (the course is online; a run is an optional live session).
    for key, past in (("lm-past", True), ("lm-future", False)):
        budget = take(budgets[key])
        for run in plans[key]:
            if budget <= 0:
                break
            booked = min(budget, rng.randint(run.capacity // 2, run.capacity))
            for _slot in range(booked):
                if past:
                    stage = rng.choices(
                        ["basic-done", "basic-partial", "rep-partial"], [70, 20, 10]
                    )[0]
                else:
                    stage = "basic-partial"
                p = person(stage, run.region)
                p.basic = Place(run, PlaceStatus.BOOKED)
                people.append(p)
            run.booked = booked
            budget -= booked
        left += max(0, budget)

    # Everyone else studies online at their own pace.
    for _i in range(left):
        people.append(person(_weighted(rng, FREE_STAGES)))
    for p in people:
        p.is_active = rng.random() > 0.01
        if p.basic is None and p.stage == "basic-partial" and rng.random() < 0.04:
            run = rng.choice(plans["lm-future"]) if plans["lm-future"] else None
            if run is not None:
                p.cancelled.append(Place(run, PlaceStatus.CANCELLED))
    rng.shuffle(people)
    return people


def _give_emails(ctx: Context, people: list[Person]) -> None:
    for p in people:
        p.email = _new_email(ctx.rng, p.name, ctx.emails, ctx.rng.choice(data.DOMAINS))


def _new_email(rng: random.Random, name: str, taken: set[str], domain: str) -> str:
    """first.last<number>@domain, not yet in ``taken`` (which it is added to)."""
    local = _slug(name)
    n = rng.randint(1, 999)
    while True:
        email = f"{local}{n}@{domain}"
        if email not in taken:
            taken.add(email)
            return email
        n += rng.randint(1, 5000)


# --- Writing a batch --------------------------------------------------------------------


@dataclass
class Rows:
    """Rows for one batch, by table, with references resolved after parents are written."""

    enrolments: list[dict] = field(default_factory=list)
    progress: list[dict] = field(default_factory=list)
    attempts: list[dict] = field(default_factory=list)
    reviews: list[dict] = field(default_factory=list)  # "_attempt": index into attempts
    places: list[dict] = field(default_factory=list)
    marks: list[dict] = field(default_factory=list)
    responses: list[dict] = field(default_factory=list)
    accreditations: list[dict] = field(default_factory=list)
    certificates: list[dict] = field(default_factory=list)  # "_accreditation": index


def _write_people(ctx: Context, people: list[Person], counts: dict[str, int]) -> None:
    rng = ctx.rng
    user_rows = []
    for p in people:
        joined = _joined(ctx, p)
        region = ctx.regions[p.region]
        user_rows.append(
            {
                "email": p.email,
                "name": p.name,
                "password_hash": ctx.password_hash if rng.random() > 0.03 else None,
                "is_active_account": p.is_active,
                "region_id": region.id,
                "last_login_at": None,
                "password_changed_at": joined,
                "is_name_public": rng.random() < 0.25,
                "created_at": joined,
            }
        )
        p.joined = joined
    user_ids = _insert_returning(User, user_rows)
    _insert(
        RoleAssignment,
        [{"user_id": u, "role": Role.TRAINEE.value, "region_id": None} for u in user_ids],
    )
    _add(counts, "trainees", len(user_ids))

    rows = Rows()
    last_seen: dict[int, datetime] = {}
    for p, user_id in zip(people, user_ids, strict=True):
        p.user_id = user_id
        _plan_person(ctx, p, rows)
    # Enrolments first (their ids are needed by progress, attempts and nothing else).
    enrolment_ids = _insert_returning(Enrolment, [_clean(r) for r in rows.enrolments])
    for row, enrolment_id in zip(rows.enrolments, enrolment_ids, strict=True):
        row["_id"] = enrolment_id
    for row in rows.progress:
        row["enrolment_id"] = row.pop("_enrolment")["_id"]
    for row in rows.attempts:
        row["enrolment_id"] = row["_enrolment"]["_id"]
    _insert(ActivityProgress, rows.progress)
    attempt_ids = _insert_returning(Attempt, [_clean(r) for r in rows.attempts])
    for review in rows.reviews:
        review["attempt_id"] = attempt_ids[review.pop("_attempt")]
    _insert(AttemptReview, rows.reviews)
    # The review queue's rows for this batch's work (waiting or not).
    review_services.refresh_items(list(enrolment_ids))
    _insert(RunPlace, rows.places)
    _insert(AttendanceMark, rows.marks)
    # Anonymous answers in no particular order: nothing about their position says who.
    secrets.SystemRandom().shuffle(rows.responses)
    _insert(FeedbackResponse, rows.responses)
    feedback_tallies.add_responses(rows.responses)
    accreditation_ids = _insert_returning(Accreditation, rows.accreditations)
    for cert in rows.certificates:
        cert["accreditation_id"] = accreditation_ids[cert.pop("_accreditation")]
    _insert(Certificate, rows.certificates)
    # When people last logged in: their latest activity.
    for row in rows.enrolments:
        when = row.get("last_visited_at")
        if when is not None:
            uid = row["user_id"]
            last_seen[uid] = max(last_seen.get(uid, when), when)
    if last_seen:
        from sqlalchemy import bindparam, update

        db.session.execute(
            update(User.__table__)
            .where(User.__table__.c.id == bindparam("uid"))
            .values(last_login_at=bindparam("seen")),
            [{"uid": uid, "seen": when} for uid, when in last_seen.items()],
        )
    for key, items in (
        ("enrolments", rows.enrolments),
        ("progress_rows", rows.progress),
        ("attempts", rows.attempts),
        ("reviews", rows.reviews),
        ("places", rows.places),
        ("attendance_marks", rows.marks),
        ("feedback_responses", rows.responses),
        ("accreditations", rows.accreditations),
        ("certificates", rows.certificates),
    ):
        _add(counts, key, len(items))
    for place in rows.places:
        _add(counts, f"places_{place['status']}")
    for record in rows.accreditations:
        _add(counts, f"accreditations_{record['status']}")


def _clean(row: dict) -> dict:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _joined(ctx: Context, p: Person) -> datetime:
    """When the account was made: before their first run, or within the last four years."""
    runs = [pl.run for pl in (p.basic, p.advanced, *p.cancelled) if pl is not None]
    earliest = min((r.first_day for r in runs), default=None)
    if p.stage in ("rep-accredited", "rep-declined", "prior") and earliest is None:
        earliest = ctx.today - timedelta(days=200)
    if earliest is not None:
        back = ctx.rng.randint(120, 500) if p.stage.startswith("rep") else ctx.rng.randint(20, 120)
        day = earliest - timedelta(days=back)
    else:
        day = ctx.today - timedelta(days=int(1400 * ctx.rng.random() ** 1.6) + 1)
    return _at(day, ctx.rng.randint(8, 19), ctx.rng.randint(0, 59))


def _at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _plan_person(ctx: Context, p: Person, rows: Rows) -> None:
    """Everything one person has done, as rows (appended to ``rows``)."""
    rng, now = ctx.rng, ctx.now
    user_id = p.user_id
    joined = p.joined

    for place in [p.basic, p.advanced, *p.cancelled]:
        if place is not None:
            _place_rows(ctx, place, user_id, joined, rows)

    if p.stage == "none":
        return
    if p.stage == "prior":
        when = _clamp(joined + timedelta(days=rng.randint(0, 30)), now)
        for course in (ctx.basic, ctx.advanced):
            _accredit(ctx, rows, user_id, p, course, when, prior=True)
        return

    # The link member course, online (its run, if any, is a live session).
    basic_done = p.stage != "basic-partial"
    start = joined + timedelta(minutes=rng.randint(5, 600))
    if p.basic is not None:
        end = _at(p.basic.run.last_day, 17) + timedelta(days=rng.randint(0, 30))
    elif p.advanced is not None:
        end = _at(p.advanced.run.first_day - timedelta(days=rng.randint(20, 60)), 18)
    else:
        end = start + timedelta(days=rng.randint(7, 120))
    end = _clamp(max(end, start + timedelta(hours=2)), now)
    reviewers = list(p.basic.run.facilitator_ids) if p.basic is not None else []
    if not reviewers and ctx.admin_id:
        reviewers = [ctx.admin_id]
    completed = _journey(
        ctx,
        rows,
        ctx.basic,
        user_id,
        p.basic,
        start,
        end,
        complete=basic_done,
        reviewers=reviewers,
    )
    if basic_done:
        _accredit(ctx, rows, user_id, p, ctx.basic, completed)
    if not p.stage.startswith("rep"):
        return

    # The rep course: online modules, the course days, feedback, then the officer.
    place = p.advanced
    run = place.run if place is not None else None
    r_start = completed + timedelta(days=rng.randint(1, 20))
    if run is not None and run.is_past:
        r_end = _at(run.last_day, 18) + timedelta(days=rng.randint(1, 20))
    elif run is not None:
        r_end = now
    else:
        r_end = r_start + timedelta(days=rng.randint(10, 200))
    r_start = _clamp(r_start, now - timedelta(hours=3))
    r_end = _clamp(max(r_end, r_start + timedelta(hours=2)), now)
    complete = p.stage in ("rep-pending", "rep-accredited", "rep-declined")
    attended = place is not None and place.status == PlaceStatus.BOOKED and run.is_past
    reviewers = (
        list(run.facilitator_ids) if run is not None and place.status == PlaceStatus.BOOKED else []
    )
    done_at = _journey(
        ctx,
        rows,
        ctx.advanced,
        user_id,
        place,
        r_start,
        r_end,
        complete=complete,
        reviewers=reviewers,
        recent_waiting=run is not None and (now.date() - run.last_day).days < 60,
        force_waiting=p.force_waiting,
    )
    if attended:
        _attendance(ctx, rows, run, user_id, all_present=complete)
    if complete:
        requested = max(done_at, _at(run.last_day, 17))
        _accredit(ctx, rows, user_id, p, ctx.advanced, requested, stage=p.stage)


def _clamp(when: datetime, limit: datetime) -> datetime:
    return min(when, limit)


def _place_rows(ctx: Context, place: Place, user_id: int, joined: datetime, rows: Rows) -> None:
    rng = ctx.rng
    run = place.run
    created = _at(
        run.first_day - timedelta(days=rng.randint(7, 60)), rng.randint(8, 21), rng.randint(0, 59)
    )
    created = max(created, joined + timedelta(hours=1))
    created = _clamp(created, ctx.now - timedelta(hours=1))
    row = {
        "run_id": run.id,
        "user_id": user_id,
        "status": place.status,
        "booked_at": created if place.status != PlaceStatus.WAITING else None,
        "waiting_since": created if place.status == PlaceStatus.WAITING else None,
        "cancelled_at": None,
        "added_by_id": ctx.admin_id if rng.random() < 0.05 else None,
        "created_at": created,
    }
    if place.status == PlaceStatus.CANCELLED:
        row["cancelled_at"] = _clamp(created + timedelta(days=rng.randint(1, 20)), ctx.now)
    rows.places.append(row)


def _attendance(ctx: Context, rows: Rows, run: RunPlan, user_id: int, all_present: bool) -> None:
    rng = ctx.rng
    marker = run.facilitator_ids[0] if run.facilitator_ids else ctx.admin_id
    for day, day_id in zip(run.days, run.day_ids, strict=True):
        status = AttendanceStatus.PRESENT.value
        if not all_present and rng.random() < 0.25:
            status = rng.choice([AttendanceStatus.ABSENT.value, AttendanceStatus.EXCUSED.value])
        marked = _at(day, rng.randint(9, 16), rng.randint(0, 59))
        if status == AttendanceStatus.PRESENT.value and rng.random() < 0.03:
            # A correction: first marked absent by mistake, then present. The latest counts.
            rows.marks.append(_mark(day_id, user_id, "absent", None, marker, marked))
            marked += timedelta(minutes=rng.randint(5, 90))
        note = rng.choice(data.ATTENDANCE_NOTES.get(status, [""])) or None
        rows.marks.append(_mark(day_id, user_id, status, note, marker, marked))


def _mark(day_id, user_id, status, note, marker, when) -> dict:
    return {
        "run_day_id": day_id,
        "user_id": user_id,
        "status": status,
        "note": note,
        "marked_by_id": marker,
        "marked_at": when,
    }


# --- Learning: what each activity type stores ----------------------------------------


#: What the generator makes up for an activity, told by what its type says of itself (the
#: contract in lms.plugins), never by the type's name: feedback answers, a reviewed
#: answer with its versions and reviews, a page read, a paper of questions answered.
#: An activity of any other type gets no made-up work.
_FEEDBACK, _REVIEWED, _PAGE, _QUESTIONS = "feedback", "reviewed", "page", "questions"


def _demo_kind(activity) -> str | None:
    activity_type = current_app.extensions["lms.activity_types"].get(activity.type)
    if activity_type is None:
        return None
    if activity_type.collects_feedback:
        return _FEEDBACK
    if activity_type.is_reviewed:
        return _REVIEWED if hasattr(activity.config, "criteria") else None
    if activity_type.advances:
        return _PAGE
    if hasattr(activity.config, "questions"):
        return _QUESTIONS
    return None


def _journey(
    ctx: Context,
    rows: Rows,
    course: Course,
    user_id: int,
    place: Place | None,
    start: datetime,
    end: datetime,
    *,
    complete: bool,
    reviewers: list[int],
    recent_waiting: bool = False,
    force_waiting: bool = False,
) -> datetime:
    """Enrol and work through ``course`` between ``start`` and ``end``: all of it when
    ``complete``, otherwise part of it. Returns when it was (or would be) complete."""
    rng, now = ctx.rng, ctx.now
    enrolment: dict[str, Any] = {
        "user_id": user_id,
        "course_slug": course.slug,
        "enrolled_at": start,
        "enrolled_version": course.version,
        "last_activity_key": None,
        "last_visited_at": None,
        "completed_at": None,
        "completed_version": None,
    }
    rows.enrolments.append(enrolment)
    activities = course.activities
    kinds = {a.key: _demo_kind(a) for a in activities}
    feedback_rows: dict[str, dict] = {}
    for activity in activities:
        if kinds[activity.key] == _FEEDBACK:
            # Made at enrolment, in course order (as learning.create_enrolment does).
            row = _progress(enrolment, activity.key, start)
            feedback_rows[activity.key] = row
            rows.progress.append(row)
    online = [a for a in activities if kinds[a.key] != _FEEDBACK]
    # Work under way leaves at least the last activity untouched, so it is not complete.
    touched = len(online) if complete else rng.randint(0, len(online) - 1)
    cases = [i for i, a in enumerate(online) if kinds[a.key] == _REVIEWED]
    forced = cases[0] if force_waiting and cases and not complete else None
    if forced is not None:
        touched = max(touched, forced + 1)
    times = sorted(start + (end - start) * rng.random() for _ in range(max(touched, 1)))
    ability = rng.uniform(0.55, 0.97)
    finished: list[datetime] = []
    last_key, last_time = None, None
    for i, activity in enumerate(online[:touched]):
        when = max(times[i], start + timedelta(minutes=i + 1))
        last = i == touched - 1
        kind = kinds[activity.key]
        if kind == _PAGE:
            finished.append(_reading(rows, enrolment, course, activity, when))
        elif kind == _QUESTIONS:
            passed = complete or not last or rng.random() < 0.5
            t = _quiz(ctx, rows, enrolment, course, activity, when, ability, passed)
            if t is not None:
                finished.append(t)
        elif kind == _REVIEWED:
            t = _case(
                ctx,
                rows,
                enrolment,
                course,
                activity,
                when,
                complete,
                reviewers,
                recent_waiting,
                "waiting" if i == forced else None,
            )
            if t is not None:
                finished.append(t)
        last_key, last_time = activity.key, when
    # Feedback forms: course-day forms once the day has passed, the end form at the end.
    run = place.run if place is not None and place.status != PlaceStatus.CANCELLED else None
    for activity in activities:
        if kinds[activity.key] != _FEEDBACK:
            continue
        day = getattr(activity.config, "day", None)
        if day is not None:
            if run is None or place.status != PlaceStatus.BOOKED or len(run.days) < day:
                continue
            if run.days[day - 1] >= ctx.today:
                continue
            if not complete and rng.random() < 0.2:
                continue
            when = _at(run.days[day - 1], 17, rng.randint(0, 59))
        else:
            if not (complete or (touched == len(online) and rng.random() < 0.5)):
                continue
            when = _clamp(max(finished, default=end) + timedelta(hours=rng.randint(1, 72)), now)
        _feedback(ctx, rows, feedback_rows[activity.key], course, activity, run)
        finished.append(when)
    if last_key is not None:
        enrolment["last_activity_key"] = last_key
        enrolment["last_visited_at"] = last_time
    done_at = _clamp(max(finished, default=end), now)
    if complete:
        enrolment["completed_at"] = done_at
        enrolment["completed_version"] = course.version
    return done_at


def _progress(enrolment: dict, key: str, when: datetime, **values: Any) -> dict:
    row = {
        "_enrolment": enrolment,
        "activity_key": key,
        "is_complete": False,
        "completed_at": None,
        "best_score": None,
        "attempt_count": 0,
        "state": {},
        "updated_at": when,
    }
    row.update(values)
    return row


def _attempt(enrolment, course, activity, number, when, data, score=None, passed=None) -> dict:
    return {
        "_enrolment": enrolment,
        "activity_key": activity.key,
        "activity_type": activity.type,
        "number": number,
        "content_version": course.version,
        "data": data,
        "score": score,
        "is_passed": passed,
        "submitted_at": when,
    }


def _reading(rows: Rows, enrolment, course, activity: Activity, when: datetime) -> datetime:
    rows.attempts.append(_attempt(enrolment, course, activity, 1, when, {"action": "complete"}))
    rows.progress.append(
        _progress(
            enrolment,
            activity.key,
            when,
            is_complete=True,
            completed_at=when,
            attempt_count=1,
            state={"done": True},
        )
    )
    return when


def _quiz(ctx, rows, enrolment, course, activity, when, ability, must_pass) -> datetime | None:
    """Attempts until the pass mark when ``must_pass``, otherwise attempts that fall short.
    Scored the way lms.activities.quiz scores them. Returns when it was passed."""
    rng = ctx.rng
    config = activity.config
    best, passed_at, number = None, None, 0
    for number in range(1, 5):
        # A paper drawn from the bank, as lms.activities.quiz draws one.
        questions = rng.sample(list(config.questions), config.paper_size)
        chosen = {q.key: rng.random() < min(0.99, ability + 0.15 * (number - 1)) for q in questions}
        right = sum(chosen.values())
        need = -(-config.pass_mark * len(questions) // 100)  # fewest right answers to pass
        if must_pass and number == 4 and right < need:
            for q in questions:  # the fourth try gets there
                if right >= need:
                    break
                if not chosen[q.key]:
                    chosen[q.key] = True
                    right += 1
        if not must_pass and right >= need:
            for q in questions:  # a try that falls short
                if right < need:
                    break
                if chosen[q.key]:
                    chosen[q.key] = False
                    right -= 1
        answers = {q.key: _answer(rng, q, chosen[q.key]) for q in questions}
        correct = {q.key: frozenset(answers[q.key]) == q.correct_keys for q in questions}
        score = round(100 * sum(correct.values()) / len(questions), 1)
        is_passed = score >= config.pass_mark
        rows.attempts.append(
            _attempt(
                enrolment,
                course,
                activity,
                number,
                when,
                {
                    "answers": answers,
                    "correct": correct,
                    "paper": paper_data(
                        [PaperQuestion(q, tuple(q.options), i) for i, q in enumerate(questions, 1)]
                    ),
                },
                score,
                is_passed,
            )
        )
        best = score if best is None else max(best, score)
        if is_passed:
            passed_at = when
            break
        if not must_pass and (number >= 2 or rng.random() < 0.5):
            break
        when += timedelta(minutes=rng.randint(3, 40))
    rows.progress.append(
        _progress(
            enrolment,
            activity.key,
            when,
            is_complete=passed_at is not None,
            completed_at=passed_at,
            best_score=best,
            attempt_count=number,
        )
    )
    return passed_at


def _answer(rng: random.Random, question, right: bool) -> list[str]:
    correct = sorted(question.correct_keys)
    if right:
        return correct
    keys = [o.key for o in question.options]
    wrong = [k for k in keys if k not in question.correct_keys]
    if question.kind == "single":
        return [rng.choice(wrong)]
    # Multiple choice: some right options missed, or a wrong one ticked as well.
    picked = set(correct)
    if wrong and (rng.random() < 0.5 or len(correct) == 1):
        picked.add(rng.choice(wrong))
    else:
        picked.discard(rng.choice(correct))
        if not picked:
            picked.add(rng.choice(wrong or keys))
    return sorted(picked)


def _essay(rng: random.Random, min_words: int) -> str:
    parts = [rng.choice(data.ANSWER_OPENINGS)]
    pool = list(data.ANSWER_SENTENCES)
    rng.shuffle(pool)
    words = len(parts[0].split())
    target = min_words + rng.randint(10, 140)
    paragraph: list[str] = []
    paragraphs = [parts]
    for sentence in pool:
        if words >= target:
            break
        paragraph.append(sentence)
        words += len(sentence.split())
        if len(paragraph) == 3:
            paragraphs.append(paragraph)
            paragraph = []
    if paragraph:
        paragraphs.append(paragraph)
    paragraphs.append([rng.choice(data.ANSWER_CLOSINGS)])
    text = "\n\n".join(" ".join(p) for p in paragraphs)
    while len(text.split()) < min_words:  # a long minimum: say more
        text += "\n\n" + " ".join(rng.sample(data.ANSWER_SENTENCES, 3))
    return text


def _case(
    ctx, rows, enrolment, course, activity, when, complete, reviewers, recent, outcome=None
) -> datetime | None:
    """Versions of a case-study answer and their reviews. Returns when it became complete.

    Work that is complete was accepted by a reviewer (or, where sending is enough,
    sent and perhaps reviewed). Work under way is waiting for review (a first or a
    revised version), asked for more work, or a saved draft. Reviewers are the
    facilitators of the trainee's run; without any, nothing is reviewed.
    """
    rng, now = ctx.rng, ctx.now
    config = activity.config
    needs_acceptance = config.completion == "accepted"
    # A course whose completion waits for the work to meet the standard (review: must_pass).
    must_pass = needs_acceptance or course.completion.review == "must_pass"
    if outcome is None:
        if complete:
            outcome = "accepted" if must_pass or rng.random() < 0.6 else "sent"
        else:
            outcome = rng.choices(
                ["waiting", "resent", "needs_work", "draft", "accepted"],
                weights=[45, 10, 15, 15, 15],
            )[0]
    if not reviewers and outcome in ("accepted", "resent", "needs_work"):
        outcome = "waiting" if needs_acceptance else "sent"
    if outcome == "draft":
        text = _essay(rng, config.min_words)
        cut = " ".join(text.split()[: rng.randint(20, max(21, config.min_words - 10))])
        rows.progress.append(
            _progress(
                enrolment,
                activity.key,
                when,
                state={"draft": {"answer": cut}, "draft_saved_at": when.isoformat()},
            )
        )
        return None
    if outcome in ("waiting", "resent") and recent:
        # Sent lately, so the review queue's oldest-first order looks like real work.
        when = _clamp(max(when, now - timedelta(days=rng.randint(2, 25))), now)
    criteria = [c.key for c in config.criteria]
    text = _essay(rng, config.min_words)
    rows.attempts.append(
        _attempt(enrolment, course, activity, 1, when, {"answer": text, "words": len(text.split())})
    )
    number, status, latest = 1, "submitted", when
    completed_at = None if needs_acceptance else when  # for some cases sending is enough
    if outcome == "sent" and reviewers and rng.random() < 0.6:
        outcome = "accepted"  # sent, and a facilitator has looked at it since
    if outcome in ("accepted", "needs_work", "resent"):
        reviewed = _clamp(when + timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 8)), now)
        first_ok = outcome == "accepted" and rng.random() < 0.7
        decision = "accepted" if first_ok else "needs_work"
        _review(ctx, rows, reviewers, criteria, decision, reviewed)
        status, latest = decision, reviewed
        if first_ok:
            completed_at = completed_at or reviewed
        elif outcome in ("accepted", "resent"):
            # A second version, sent after the comments: accepted, or waiting for review.
            number = 2
            sent = _clamp(reviewed + timedelta(days=rng.randint(1, 7)), now)
            revised = text + "\n\n" + rng.choice(data.ANSWER_SENTENCES)
            rows.attempts.append(
                _attempt(
                    enrolment,
                    course,
                    activity,
                    2,
                    sent,
                    {"answer": revised, "words": len(revised.split())},
                )
            )
            status, latest = "submitted", sent
            if outcome == "accepted":
                accepted = _clamp(sent + timedelta(days=rng.randint(1, 6)), now)
                _review(ctx, rows, reviewers, criteria, "accepted", accepted)
                status, latest = "accepted", accepted
                completed_at = completed_at or accepted
    rows.progress.append(
        _progress(
            enrolment,
            activity.key,
            latest,
            is_complete=completed_at is not None,
            completed_at=completed_at,
            attempt_count=number,
            state={"status": status, "draft": None},
        )
    )
    return completed_at


def _review(ctx, rows: Rows, reviewers, criteria, decision, when) -> None:
    rng = ctx.rng
    marks = {k: "met" for k in criteria}
    if decision == "needs_work":
        for k in rng.sample(criteria, rng.randint(1, max(1, len(criteria) // 2))):
            marks[k] = "not_yet"
        comments = rng.choice(data.REVIEW_NEEDS_WORK)
    else:
        comments = rng.choice(data.REVIEW_ACCEPTED)
    rows.reviews.append(
        {
            "_attempt": len(rows.attempts) - 1,
            "reviewer_id": rng.choice(reviewers),
            "decision": decision,
            "criteria": marks,
            "comments": comments,
            "created_at": when,
        }
    )


def _feedback(ctx, rows: Rows, progress_row: dict, course, activity, run: RunPlan | None) -> None:
    """Answer an anonymous form: progress says only that it was sent (no time), and the
    answers are stored with no person and no time, as lms.feedback stores them."""
    rng = ctx.rng
    config = activity.config
    progress_row.update(
        is_complete=True, completed_at=None, attempt_count=1, state={"submitted": True}
    )
    mood = rng.choices([5, 4, 3, 2], weights=[45, 38, 13, 4])[0]
    answers: dict[str, Any] = {}
    for q in config.questions:
        if q.kind == "rating":
            answers[q.key] = max(1, min(5, mood + rng.choice([-1, 0, 0, 0, 1])))
        elif q.kind == "choice":
            if not q.required and rng.random() < 0.15:
                continue
            options = list(q.options)
            # The middle or first option is the common answer ("About right", "Yes").
            common = options[1] if len(options) == 3 and "right" in options[1] else options[0]
            answers[q.key] = common if rng.random() < 0.7 else rng.choice(options)
        else:
            if rng.random() < 0.6:
                continue
            pool = {
                "best": data.FEEDBACK_BEST,
                "improve": data.FEEDBACK_IMPROVE,
                "keep": data.FEEDBACK_KEEP,
                "change": data.FEEDBACK_CHANGE,
            }.get(q.key, data.FEEDBACK_IMPROVE)
            answers[q.key] = rng.choice(pool)
    anonymous = bool(getattr(config, "anonymous", True))
    rows.responses.append(
        {
            "id": uuid.uuid4().hex,
            "course_slug": course.slug,
            "activity_key": activity.key,
            "content_version": course.version,
            "run_id": run.id if run is not None else None,
            "is_anonymous": anonymous,
            "user_id": None if anonymous else progress_row["_enrolment"]["user_id"],
            "submitted_at": None,
            "answers": answers,
        }
    )


# --- Accreditation ----------------------------------------------------------------------


def _accredit(
    ctx: Context,
    rows: Rows,
    user_id: int,
    p: Person,
    course: Course,
    when: datetime,
    *,
    prior: bool = False,
    stage: str = "",
) -> None:
    """The accreditation record (and certificate) the services would have made."""
    rng, now = ctx.rng, ctx.now
    region = ctx.regions[p.region]
    officer_id, officer_name = ctx.officers.get(region.id, (None, None))
    record = {
        "user_id": user_id,
        "course_slug": course.slug,
        "course_version": course.version,
        "status": AccreditationStatus.ACCREDITED.value,
        "region_id": region.id,
        "requested_at": when,
        "decided_at": when,
        "decided_by_id": None,
        "decision_note": None,
        "is_prior": prior,
        "prior_reason": rng.choice(data.PRIOR_REASONS) if prior else None,
    }
    issued = when
    by_officer = course.completion.confirmation == "officer" and not prior
    if prior:
        record["decided_by_id"] = ctx.admin_id
    elif by_officer:
        if stage == "rep-pending":
            record.update(status=AccreditationStatus.PENDING.value, decided_at=None)
        else:
            decided = _clamp(
                when + timedelta(days=rng.randint(1, 21), hours=rng.randint(0, 6)), now
            )
            record.update(decided_at=decided, decided_by_id=officer_id)
            issued = decided
            if stage == "rep-declined":
                record.update(
                    status=AccreditationStatus.DECLINED.value,
                    decision_note=rng.choice(data.DECLINE_NOTES),
                )
            else:
                record["decision_note"] = rng.choice(data.CONFIRM_NOTES) or None
    rows.accreditations.append(record)
    if record["status"] != AccreditationStatus.ACCREDITED.value or course.certificate is None:
        return
    spec = course.certificate
    number = accreditation.new_number(course, issued)
    while number in ctx.numbers:  # as unlikely as in the service; the column is unique
        number = accreditation.new_number(course, issued)
    ctx.numbers.add(number)
    certificate = {
        "_accreditation": len(rows.accreditations) - 1,
        "user_id": user_id,
        "course_slug": course.slug,
        "course_version": course.version,
        "number": number,
        "token": secrets.token_urlsafe(32),
        "holder_name": p.name,
        "accreditation_title": spec.accreditation,
        "course_title": course.title,
        "region_name": region.name,
        "officer_name": officer_name if by_officer and officer_id else None,
        "template": spec.template,
        "issued_at": issued,
        "expires_at": (
            accreditation._add_months(issued, spec.validity_months)
            if spec.validity_months
            else None
        ),
        "reminded_at": None,
        "revoked_at": None,
        "revoked_by_id": None,
        "revocation_reason": None,
    }
    if by_officer and rng.random() < 0.02:
        revoked = _clamp(issued + timedelta(days=rng.randint(30, 600)), now)
        certificate.update(
            revoked_at=revoked,
            revoked_by_id=officer_id,
            revocation_reason=rng.choice(data.REVOKE_REASONS),
        )
    rows.certificates.append(certificate)


# --- The rest ---------------------------------------------------------------------------


def _course_changes(ctx: Context, plans: dict[str, list[RunPlan]], counts) -> None:
    """A few "you said, we did" records per course, from facilitators of past runs."""
    rng = ctx.rng
    rows = []
    for key, course in (("rep-past", ctx.advanced), ("lm-past", ctx.basic)):
        past = [r for r in plans.get(key, []) if r.booked]
        for you_said, we_did in rng.sample(data.COURSE_CHANGES, 2):
            if not past:
                break
            run = rng.choice(past)
            rows.append(
                {
                    "course_slug": course.slug,
                    "run_id": run.id,
                    "you_said": you_said,
                    "we_did": we_did,
                    "recorded_by_id": run.facilitator_ids[0] if run.facilitator_ids else None,
                    "created_at": _clamp(
                        _at(run.last_day + timedelta(days=rng.randint(7, 40)), 11), ctx.now
                    ),
                }
            )
    _insert(CourseChange, rows)
    _add(counts, "course_changes", len(rows))


def _render_pdfs(limit: int) -> int:
    """Render the PDFs of the ``limit`` most recent certificates that have no file yet.

    The rest keep no file until someone re-issues them; lists and verification do
    not need one.
    """
    if limit <= 0:
        return 0
    from lms.accreditation.models import CertificateFile

    has_file = select(CertificateFile.certificate_id).where(CertificateFile.is_current)
    ids = list(
        db.session.scalars(
            select(Certificate.id)
            .where(Certificate.id.not_in(has_file), Certificate.revoked_at.is_(None))
            .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
            .limit(limit)
        )
    )
    try:
        from lms.jobs import services as jobs
    except ImportError:  # pragma: no cover - before the jobs package exists
        jobs = None
    for certificate_id in ids:
        if jobs is not None and hasattr(jobs, "enqueue"):
            # Rendered by a worker after the commit, as an issued certificate would be.
            jobs.enqueue("accreditation.render_certificate", certificate_id=certificate_id)
        else:
            # Without a job queue: render here (slow; only for these few).
            accreditation._render_and_store(db.session.get(Certificate, certificate_id))
    return len(ids)


# --- Bulk writing -----------------------------------------------------------------------


def _insert(model, rows: list[dict]) -> None:
    """One executemany INSERT (the driver batches it)."""
    if rows:
        db.session.execute(insert(model.__table__), rows)


def _insert_returning(model, rows: list[dict]) -> list[int]:
    """A bulk INSERT that returns the new ids in the order of ``rows``."""
    if not rows:
        return []
    table = model.__table__
    result = db.session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    )
    return [row[0] for row in result]
