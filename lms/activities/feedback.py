"""The ``feedback`` activity type: a feedback form with ratings, single choices and free text.

A form can be anonymous: then the answers are stored with nothing that leads back
to the person (see lms.feedback), while their progress records only that they
answered, so each trainee still answers once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lms.activities import BUILTIN_TEMPLATES
from lms.catalogue.content import KEY_PATTERN
from lms.i18n import _
from lms.markdown import render_markdown
from lms.plugins import (
    ActivityContext,
    ActivityType,
    ContentError,
    ProgressView,
    Submission,
    SubmissionRejected,
    load_yaml,
)

MAX_TEXT = 4000
RATINGS = ("1", "2", "3", "4", "5")


class FeedbackQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
    key: str = Field(pattern=KEY_PATTERN)
    kind: Literal["rating", "choice", "text"]
    prompt: str = Field(min_length=1)
    required: bool = False
    low: str | None = None
    high: str | None = None
    options: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_kind(self) -> FeedbackQuestion:
        if self.kind == "rating" and not (self.low and self.high):
            raise ValueError("a rating question needs labels for both ends (low and high)")
        if self.kind != "rating" and (self.low or self.high):
            raise ValueError("only rating questions have low and high labels")
        if self.kind == "choice":
            if len(self.options) < 2:
                raise ValueError("a choice question needs at least two options")
            if len(set(self.options)) != len(self.options):
                raise ValueError("options must be different from each other")
        elif self.options:
            raise ValueError("only choice questions have options")
        return self

    @property
    def field_name(self) -> str:
        return f"f-{self.key}"


class FeedbackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
    anonymous: bool = True
    day: int | None = Field(default=None, ge=1, le=10)
    intro: str = ""
    questions: list[FeedbackQuestion] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> FeedbackConfig:
        keys = [q.key for q in self.questions]
        if len(set(keys)) != len(keys):
            raise ValueError("question keys must be unique within a form")
        return self

    @property
    def intro_html(self) -> Markup:
        return render_markdown(self.intro) if self.intro else Markup("")

    def question(self, key: str) -> FeedbackQuestion | None:
        return next((q for q in self.questions if q.key == key), None)


class FeedbackForm(ActivityType):
    name = "feedback"
    label = "Feedback form"
    source_format = "yaml"
    precreate_progress = True
    collects_feedback = True
    after_course_days = True
    template_folder = BUILTIN_TEMPLATES / "feedback"
    requirement_label = "Feedback forms sent"
    requirement_detail = "{done} of {total} sent"
    plural_label = "feedback forms"

    def parse(self, settings: Mapping[str, Any], source_text: str | None) -> FeedbackConfig:
        data: dict[str, Any] = dict(settings)
        if source_text is not None:
            loaded = load_yaml(source_text)
            if not isinstance(loaded, dict):
                raise ContentError("must be a mapping with questions")
            data.update(loaded)
        return FeedbackConfig.model_validate(data)

    def render(self, ctx: ActivityContext) -> Markup:
        values = ctx.rejected.values if ctx.rejected is not None else {}
        return Markup(  # noqa: S704 - rendered by an autoescaping template
            ctx.render_template(
                self.template("page.html"),
                ctx=ctx,
                config=ctx.config,
                values=values,
                is_anonymous=ctx.extra.get("feedback_anonymous", ctx.config.anonymous),
                submitted=bool(ctx.progress.state.get("submitted")),
                ratings=RATINGS,
            )
        )

    def submit(self, ctx: ActivityContext, form: Mapping[str, Any]) -> Submission:
        config: FeedbackConfig = ctx.config
        if ctx.progress.state.get("submitted"):
            raise SubmissionRejected(_("You have already sent this form. Thank you."))
        answers: dict[str, Any] = {}
        errors: dict[str, str] = {}
        values: dict[str, str] = {}
        for q in config.questions:
            raw = form.get(q.field_name, "")
            raw = (raw[0] if raw else "") if isinstance(raw, list) else str(raw)
            values[q.field_name] = raw
            value = raw.strip()
            if not value:
                if q.required:
                    errors[q.field_name] = _("Answer this question.")
                continue
            if q.kind == "rating":
                if value not in RATINGS:
                    errors[q.field_name] = _("Choose a number from 1 to 5.")
                    continue
                answers[q.key] = int(value)
            elif q.kind == "choice":
                if value not in q.options:
                    errors[q.field_name] = _("Choose one of the options.")
                    continue
                answers[q.key] = value
            else:
                if len(value) > MAX_TEXT:
                    errors[q.field_name] = _("Keep this under %(n)d characters.", n=MAX_TEXT)
                    continue
                answers[q.key] = value.replace("\r\n", "\n")
        if errors:
            raise SubmissionRejected(
                _("Some answers need your attention. Everything you wrote is still here."),
                errors,
                values,
            )
        is_anonymous = bool(ctx.extra.get("feedback_anonymous", config.anonymous))
        return Submission(
            data={"answers": answers},
            state={"submitted": True},
            is_anonymous=is_anonymous,
            message=_("Thank you for your feedback. It will be used to improve the course."),
        )

    def is_complete(self, progress: ProgressView, config: FeedbackConfig) -> bool:
        return bool(progress.state.get("submitted"))

    def summary(self, progress: ProgressView, config: FeedbackConfig) -> str:
        if progress.state.get("submitted"):
            return _("Sent")
        return _("Anonymous") if config.anonymous else ""
