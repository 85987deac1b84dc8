"""Dated legal changes: a rule written once, with the day it changed and the text
before and after, and shown on every page that states it.

Each change is a file ``courses/changes/<key>.yaml`` (format in
``docs/course-format.md``). Course Markdown names it on a line of its own,
``[[change:<key>]]``; the page then shows the text that applies on the day it is
read, with "This changed on ..." (or "This changes on ...") and the other text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

UK = ZoneInfo("Europe/London")
KEY = r"^[a-z0-9][a-z0-9-]{0,79}$"


class SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=300)
    url: str = Field(pattern=r"^https://[^\s]+$")


class ChangeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    #: The day the new rule applies from; None while no day has been set (a change
    #: made by an Act but not yet commenced), when ``expected`` says what is known.
    effective_on: date | None = None
    expected: str | None = Field(default=None, min_length=1, max_length=200)
    #: When the status of a change without ``effective_on`` was last checked.
    checked_on: date | None = None
    law: str = Field(min_length=1, max_length=300)
    before: str = Field(min_length=1)
    after: str = Field(min_length=1)
    sources: list[SourceSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _when(self) -> ChangeSpec:
        if self.effective_on is None and (self.expected is None or self.checked_on is None):
            raise ValueError(
                "give effective_on, or (for a change with no date yet) expected and checked_on"
            )
        if self.effective_on is not None and self.expected is not None:
            raise ValueError("give effective_on or expected, not both")
        return self


@dataclass(frozen=True)
class LawChange:
    key: str
    title: str
    effective_on: date | None
    law: str
    before: str
    after: str
    sources: tuple[SourceSpec, ...]
    file: str
    expected: str | None = None
    checked_on: date | None = None

    def in_force(self, on: date) -> bool:
        return self.effective_on is not None and on >= self.effective_on


def today() -> date:
    """The day in the UK, which decides which text of a change applies."""
    return datetime.now(UK).date()


def load_changes(folder: Path, display_root: Path) -> tuple[dict[str, LawChange], list]:
    """Every ``<folder>/*.yaml`` as a change. Returns the changes and the problems
    (:class:`lms.catalogue.content.ContentProblem`), each naming the file and field."""
    from lms.catalogue.content import ContentProblem, _pydantic_problems, _read_yaml

    changes: dict[str, LawChange] = {}
    problems: list[ContentProblem] = []
    if not folder.is_dir():
        return changes, problems
    for path in sorted(folder.glob("*.yaml")):
        try:
            display = str(path.relative_to(display_root))
        except ValueError:
            display = str(path)
        key = path.stem
        if not re.match(KEY, key):
            problems.append(
                ContentProblem(display, "", "the file name must be a key: a-z, 0-9 and -")
            )
            continue
        raw, found = _read_yaml(path, display)
        if found:
            problems.extend(found)
            continue
        try:
            spec = ChangeSpec.model_validate(raw if isinstance(raw, dict) else {})
        except ValidationError as exc:
            problems.extend(_pydantic_problems(display, exc))
            continue
        changes[key] = LawChange(
            key=key,
            title=spec.title,
            effective_on=spec.effective_on,
            law=spec.law,
            before=spec.before,
            after=spec.after,
            sources=tuple(spec.sources),
            file=display,
            expected=spec.expected,
            checked_on=spec.checked_on,
        )
    return changes, problems


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def render_change(change: LawChange, on: date) -> Markup:
    """The box for ``change`` as read on ``on``."""
    from lms.i18n import _
    from lms.markdown import render_markdown

    if change.effective_on is None:
        state, now, other = "pending", change.before, change.after
        headline = _(
            "Not yet in force when last checked (%(checked)s). Expected: %(expected)s.",
            checked=long_date(change.checked_on) if change.checked_on else "",
            expected=change.expected,
        )
        other_label = _("Once it comes into force")
    elif change.in_force(on):
        when = long_date(change.effective_on)
        state, now, other = "in-force", change.after, change.before
        headline = _("This changed on %(date)s.", date=when)
        other_label = _("Before %(date)s", date=when)
    else:
        when = long_date(change.effective_on)
        state, now, other = "coming", change.before, change.after
        headline = _("This changes on %(date)s.", date=when)
        other_label = _("From %(date)s", date=when)
    label = _("Source:") if len(change.sources) == 1 else _("Sources:")
    sources = "; ".join(
        f'<a href="{escape(s.url)}" rel="noopener">{escape(s.title)}</a>' for s in change.sources
    )
    return Markup(  # noqa: S704 - every part is escaped or rendered Markdown
        f'<aside class="law-change law-change--{state}" aria-label="{escape(change.title)}">'
        f'<p class="law-change__title"><strong>{escape(change.title)}</strong></p>'
        f'<p class="law-change__when">{escape(headline)}</p>'
        f'<div class="law-change__now">{render_markdown(now)}</div>'
        f'<details class="law-change__other"><summary>{escape(other_label)}</summary>'
        f"{render_markdown(other)}</details>"
        f'<p class="law-change__sources">{escape(_("Law:"))} {escape(change.law)}<br>'
        f"{escape(label)} {sources}</p>"
        "</aside>\n"
    )


def change_box(key: str) -> str:
    """The box for the change ``key`` as read today, kept per day and locale."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return ""
    catalogue = current_app.extensions.get("lms.courses")
    change = getattr(catalogue, "changes", {}).get(key)
    if change is None:
        return ""
    from flask_babel import get_locale

    from lms.caching import kept

    on = today()
    # The kept value holds the change, so its id cannot be reused while it is kept.
    return kept(
        "law-change",
        (key, id(change), on, str(get_locale())),
        lambda: (change, render_change(change, on)),
    )[1]
