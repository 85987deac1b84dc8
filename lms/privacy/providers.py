"""A provider per domain: the tables about a person it covers, their export and erasure.

Providers read and delete other domains' rows with plain table queries (no other domain's
services), so this module is the one place that knows where personal data lives.
A table listed in ``own`` holds the person's rows (exported, deleted on erasure); in
``actor`` the person is named as the one who did something (exported, set to NULL).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select, update

from lms.extensions import db

HIDDEN = "[held, not shown: a secret or a hash]"
SECRET_COLUMNS = {
    "password_hash",
    "token_hash",
    "secret_encrypted",
    "code_hash",
    "salt",
    "public_key",
    "credential_id",
    "key",
    "token",
}


@dataclass(frozen=True)
class Provider:
    name: str
    description: str
    own: dict[str, str] = field(default_factory=dict)  # table -> column naming the person
    actor: dict[str, str] = field(default_factory=dict)
    via_enrolment: tuple[str, ...] = ()  # tables reached through the person's enrolments

    def covers(self) -> set[str]:
        return set(self.own) | set(self.actor) | set(self.via_enrolment)


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "accounts",
        "Your account: email, name, region, roles, sign-in dates and password tokens "
        "(hashes only).",
        own={"role_assignment": "user_id", "password_token": "user_id"},
    ),
    Provider(
        "learning",
        "Courses you enrolled in, your progress and every attempt you submitted.",
        own={"enrolment": "user_id"},
        via_enrolment=("activity_progress", "attempt"),
    ),
    Provider(
        "runs",
        "Course runs you booked, facilitated or were marked present at.",
        own={"run_place": "user_id", "run_facilitator": "user_id", "attendance_mark": "user_id"},
        actor={
            "run_place": "added_by_id",
            "attendance_mark": "marked_by_id",
            "course_change": "recorded_by_id",
        },
    ),
    Provider(
        "review",
        "Your work waiting for review, reviews you wrote of others' work and the courses "
        "you review.",
        own={"review_item": "user_id", "course_reviewer": "user_id"},
        actor={"attempt_review": "reviewer_id", "course_reviewer": "assigned_by_id"},
    ),
    Provider(
        "feedback",
        "Feedback you gave with your name. Anonymous feedback is not linked to you and "
        "is not included.",
        own={"feedback_response": "user_id"},
    ),
    Provider(
        "accreditation",
        "Your accreditation requests and decisions, and your certificates. On erasure a "
        "certificate stays only as an anonymous record (number, course, dates) that "
        "verification shows as withdrawn.",
        own={"accreditation": "user_id", "certificate": "user_id"},
        actor={"accreditation": "decided_by_id", "certificate": "revoked_by_id"},
    ),
    Provider(
        "notifications",
        "Notices sent to you and your email preferences.",
        own={"notification": "user_id", "notification_preference": "user_id"},
    ),
    Provider(
        "sessions",
        "Where you are signed in: address, browser and times.",
        own={"login_session": "user_id"},
    ),
    Provider(
        "mfa",
        "Your second factors (secrets are not exported).",
        own={
            "mfa_totp": "user_id",
            "mfa_recovery_code": "user_id",
            "mfa_security_key": "user_id",
        },
    ),
    Provider(
        "calendars",
        "Calendar feed links you created (hashes only).",
        own={"calendar_feed": "user_id"},
    ),
    Provider(
        "jobs",
        "Batches of background work you started.",
        actor={"job_batch": "started_by_id"},
    ),
    Provider(
        "privacy",
        "Copies of your data you or the training office asked for (the files are deleted "
        "after a few days).",
        own={"privacy_export": "user_id"},
        actor={"privacy_export": "requested_by_id"},
    ),
    Provider(
        "audit",
        "The issuance log names people only by a keyed hash; nothing is exported or erased. "
        "An erasure adds entries that do not name the person.",
    ),
)


def _table(name: str):
    return db.metadata.tables[name]


def _present(names) -> list:
    """The tables among ``names`` this app has (a domain's table may come later than its
    provider line), as (name, table)."""
    return [(n, db.metadata.tables[n]) for n in names if n in db.metadata.tables]


def _keys(table, where) -> list:
    """Primary keys of the matching rows: the id, or a dict for a composite key."""
    pk = list(table.primary_key.columns)
    rows = db.session.execute(select(*pk).where(where)).all()
    if len(pk) == 1:
        return [r[0] for r in rows]
    return [{c.name: _json(v) for c, v in zip(pk, r, strict=True)} for r in rows]


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _rows(table, where) -> list[dict]:
    out = []
    for row in db.session.execute(select(table).where(where)).mappings():
        out.append({k: (HIDDEN if k in SECRET_COLUMNS else _json(v)) for k, v in row.items()})
    return out


def _enrolment_ids(user_id: int) -> list[int]:
    t = _table("enrolment")
    return list(db.session.scalars(select(t.c.id).where(t.c.user_id == user_id)))


def export(provider: Provider, user) -> dict:
    data: dict[str, Any] = {"about": provider.description}
    for name, t in _present(provider.own):
        column = provider.own[name]
        where = t.c[column] == user.id
        if name == "feedback_response":
            where = where & t.c.is_anonymous.is_(False)
        data[name] = _rows(t, where)
    for name, t in _present(provider.actor):
        column = provider.actor[name]
        data[f"{name} ({column})"] = _keys(t, t.c[column] == user.id)
    if provider.via_enrolment:
        ids = _enrolment_ids(user.id)
        for name in provider.via_enrolment:
            t = _table(name)
            data[name] = _rows(t, t.c.enrolment_id.in_(ids))
    if provider.name == "accounts":
        data["user"] = _rows(_table("user"), _table("user").c.id == user.id)
    return data


def erase(provider: Provider, user) -> None:
    for name, t in _present(provider.actor):
        column = provider.actor[name]
        db.session.execute(update(t).where(t.c[column] == user.id).values({column: None}))
    if provider.via_enrolment:
        ids = _enrolment_ids(user.id)
        for name in provider.via_enrolment:
            t = _table(name)
            if name == "attempt":
                review = _table("attempt_review")
                item = _table("review_item")
                attempts = select(t.c.id).where(t.c.enrolment_id.in_(ids))
                db.session.execute(delete(review).where(review.c.attempt_id.in_(attempts)))
                db.session.execute(delete(item).where(item.c.attempt_id.in_(attempts)))
            db.session.execute(delete(t).where(t.c.enrolment_id.in_(ids)))
    for name, t in _present(provider.own):
        column = provider.own[name]
        if name == "certificate":
            continue  # kept as an anonymous, withdrawn record (services.erase_user)
        if name == "accreditation":
            continue
        db.session.execute(delete(t).where(t.c[column] == user.id))
