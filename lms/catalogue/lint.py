"""Checks of valid course content that teaches or assesses badly, or has gone out of
date: what ``flask lms courses check`` reports after loading the courses.

Each activity type judges its own content (:meth:`lms.plugins.ActivityType.lint`);
this module adds what belongs to a module or a course: review dates, legal changes
that took effect after a module was last reviewed, and prose that still calls a past
date "planned" or "scheduled".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from lms.catalogue.changes import long_date
from lms.catalogue.content import Catalogue, ContentProblem, Course, Module, _display
from lms.plugins import ActivityTypeRegistry

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
#: A future-tense phrase followed closely by a month and year: "planned from January 2027".
FUTURE_DATE = re.compile(
    r"\b(planned|scheduled|expected|due|proposed|intended|will (?:come|start|apply|take)"
    r"|no earlier than|is to|are to)\b[^.\n]{0,80}?\b(" + "|".join(MONTHS) + r")\s+(20\d\d)",
    re.IGNORECASE,
)


#: How long a change announced without a date may go unchecked.
PENDING_DAYS = 60


@dataclass(frozen=True)
class Finding:
    level: str  # "error" or "warning"
    file: str
    field: str
    message: str

    # Written as a loading problem is ("file: field: message").
    __str__ = ContentProblem.__str__


def _day_after_month(year: int, month: int) -> date:
    """The first day of the month after ``month`` of ``year``."""
    return date(year + (month == 12), month % 12 + 1, 1)


def lint_catalogue(
    catalogue: Catalogue, registry: ActivityTypeRegistry, today: date
) -> list[Finding]:
    findings: list[Finding] = []
    used: set[str] = set()
    for course in catalogue:
        for module in course.modules:
            used.update(module.changes)
            findings.extend(_module(course, module, catalogue, registry, today))
    for key, change in sorted(catalogue.changes.items()):
        if change.checked_on is not None and (today - change.checked_on).days > PENDING_DAYS:
            findings.append(
                Finding(
                    "warning",
                    change.file,
                    "checked_on",
                    f"no date yet (expected {change.expected}), last checked "
                    f"{long_date(change.checked_on)}: look for commencement regulations, then "
                    "set effective_on or a new checked_on",
                )
            )
        if key not in used:
            findings.append(Finding("warning", change.file, "", "no course page names this change"))
    return findings


def _module(
    course: Course,
    module: Module,
    catalogue: Catalogue,
    registry: ActivityTypeRegistry,
    today: date,
) -> list[Finding]:
    course_file = _display(course.path / "course.yaml", course.path.parent)
    where = f"modules[{module.number - 1}] ({module.key})"
    out: list[Finding] = []
    if module.reviewed_on is None or module.review_by is None:
        out.append(Finding("error", course_file, where, "needs reviewed_on and review_by dates"))
    elif module.review_by < today:
        out.append(
            Finding(
                "warning",
                course_file,
                f"{where}.review_by",
                f"review was due by {long_date(module.review_by)}: check the module's facts, "
                "then set reviewed_on and a new review_by",
            )
        )
    for key in module.changes:
        change = catalogue.changes[key]
        if change.effective_on is None:
            continue
        if change.effective_on <= today and (
            module.reviewed_on is None or module.reviewed_on < change.effective_on
        ):
            out.append(
                Finding(
                    "warning",
                    course_file,
                    f"{where}.reviewed_on",
                    f"{change.title} changed on {long_date(change.effective_on)}, after the "
                    "module was last reviewed: review the module against the new rule",
                )
            )
    for activity in module.activities:
        source = course.path / activity.source if activity.source else None
        file = _display(source, course.path.parent) if source else course_file
        activity_type = registry.get(activity.type)
        if activity_type is not None:
            for f in activity_type.lint(activity.config):
                out.append(Finding(f.level, file, f.field, f.message))
        if source is not None and source.is_file():
            out.extend(_past_dates(source.read_text(encoding="utf-8"), file, today))
    return out


def _past_dates(text: str, file: str, today: date) -> list[Finding]:
    out = []
    for m in FUTURE_DATE.finditer(text):
        month = MONTHS.index(m[2].capitalize()) + 1
        if _day_after_month(int(m[3]), month) <= today:
            line = text.count("\n", 0, m.start()) + 1
            out.append(
                Finding(
                    "warning",
                    file,
                    f"line {line}",
                    f'dated fact past its date: "{m[0]}" (write what happened, or use a '
                    "[[change:...]] line)",
                )
            )
    return out
