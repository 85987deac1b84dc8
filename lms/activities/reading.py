"""The ``reading`` activity type: a Markdown page the trainee marks as done."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from lms.activities import BUILTIN_TEMPLATES
from lms.i18n import _
from lms.markdown import render_markdown, word_count
from lms.plugins import (
    ActivityContext,
    ActivityType,
    ContentError,
    ProgressView,
    Submission,
    SubmissionRejected,
)


@dataclass(frozen=True)
class ReadingConfig:
    html: Markup
    words: int

    @property
    def minutes(self) -> int:
        return max(1, round(self.words / 200))


class Reading(ActivityType):
    name = "reading"
    label = "Reading"
    source_format = "markdown"
    template_folder = BUILTIN_TEMPLATES / "reading"
    advances = True
    requirement_label = "Module pages read"
    requirement_detail = "{done} of {total} pages"
    plural_label = "pages"

    def parse(self, settings: Mapping[str, Any], source_text: str | None) -> ReadingConfig:
        unknown = set(settings) - {"body"}
        if unknown:
            raise ContentError(f"unknown setting {sorted(unknown)[0]!r}", sorted(unknown)[0])
        text = source_text if source_text is not None else settings.get("body")
        if not isinstance(text, str) or not text.strip():
            raise ContentError("the page is empty", "" if source_text is not None else "body")
        return ReadingConfig(html=render_markdown(text), words=word_count(text))

    def render(self, ctx: ActivityContext) -> Markup:
        return Markup(ctx.render_template(self.template("page.html"), ctx=ctx))  # noqa: S704

    def submit(self, ctx: ActivityContext, form: Mapping[str, Any]) -> Submission:
        if form.get("action") != "complete":
            raise SubmissionRejected(_("Use the “Mark as done” button to finish this page."))
        return Submission(data={"action": "complete"}, state={"done": True})

    def is_complete(self, progress: ProgressView, config: Any) -> bool:
        return bool(progress.state.get("done"))

    def summary(self, progress: ProgressView, config: Any) -> str:
        return (
            _("Read")
            if progress.state.get("done")
            else _("%(minutes)d min read", minutes=config.minutes)
        )
