"""A third-party reviewed activity type, packaged on its own: a short essay.

The trainee writes an essay answering a prompt; a reviewer grades it (1 to 5) and
passes it or asks for a resubmission, with comments; a resubmitted essay is
reviewed again. It uses only the public contract in ``lms.plugins`` and ships its
own templates in ``templates/`` beside this file (the platform finds them as
``activity/short_essay/page.html`` and ``activity/short_essay/review.html``).
Installing the package is all it takes for course files to use ``type: short_essay``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from lms.plugins import (
    ACCEPTED,
    NEEDS_WORK,
    ActivityContext,
    ActivityType,
    ProgressView,
    ReviewRejected,
    Submission,
    SubmissionRejected,
)

GRADES = ("1", "2", "3", "4", "5")
SENT = "sent"


class EssayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
    prompt: str = Field(min_length=1)
    min_words: int = Field(default=30, ge=1, le=5000)


def _text(form: Mapping[str, Any], name: str) -> str:
    raw = form.get(name, "")
    if isinstance(raw, list):
        raw = raw[0] if raw else ""
    return str(raw).replace("\r\n", "\n")


class ShortEssay(ActivityType):
    name = "short_essay"
    label = "Short essay"
    is_reviewed = True
    requirement_label = "Short essays accepted"
    requirement_detail = "{done} of {total} accepted"
    plural_label = "short essays"
    review_outcomes = {ACCEPTED: "Pass", NEEDS_WORK: "Resubmit"}

    def parse(self, settings: Mapping[str, Any], source_text: str | None) -> EssayConfig:
        return EssayConfig.model_validate(dict(settings))

    @staticmethod
    def status(progress: ProgressView) -> str | None:
        return progress.state.get("status")

    def render(self, ctx: ActivityContext) -> Markup:
        status = self.status(ctx.progress)
        if ctx.rejected is not None:
            text = _text(ctx.rejected.values, "essay")
        elif ctx.latest_attempt is not None and status == NEEDS_WORK:
            text = ctx.latest_attempt.data.get("essay", "")
        else:
            text = ""
        return Markup(  # noqa: S704 - rendered by an autoescaping template
            ctx.render_template(
                self.template("page.html"),
                ctx=ctx,
                config=ctx.config,
                status=status,
                text=text,
                can_write=status in (None, NEEDS_WORK) or ctx.rejected is not None,
                outcome=self.outcome_label,
            )
        )

    def submit(self, ctx: ActivityContext, form: Mapping[str, Any]) -> Submission:
        essay = _text(form, "essay")
        if self.status(ctx.progress) in (SENT, ACCEPTED):
            raise SubmissionRejected("This essay has already been sent.", values={"essay": essay})
        words = len(essay.split())
        if words < ctx.config.min_words:
            raise SubmissionRejected(
                "Your essay is too short to send.",
                {"essay": f"Write at least {ctx.config.min_words} words (you have {words})."},
                {"essay": essay},
            )
        return Submission(
            data={"essay": essay, "words": words},
            state={"status": SENT},
            message="Your essay has been sent to a reviewer.",
        )

    def is_complete(self, progress: ProgressView, config: EssayConfig) -> bool:
        return self.status(progress) == ACCEPTED

    def summary(self, progress: ProgressView, config: EssayConfig) -> str:
        return {
            SENT: "Waiting for a reviewer",
            NEEDS_WORK: "To resubmit",
            ACCEPTED: "Passed",
        }.get(self.status(progress), "")

    # --- Review -------------------------------------------------------------------------

    def review_state(self, decision: str) -> dict[str, Any]:
        return {"status": ACCEPTED if decision == ACCEPTED else NEEDS_WORK}

    def review_values(self, config: EssayConfig, form: Mapping[str, Any]) -> dict[str, Any]:
        values = super().review_values(config, form)
        values["criteria"] = {"grade": _text(form, "grade")}
        return values

    def review_marks(self, config: EssayConfig, values: Mapping[str, Any]) -> dict[str, str]:
        grade = (values.get("criteria") or {}).get("grade")
        if grade not in GRADES:
            raise ReviewRejected("Give the essay a grade from 1 to 5.", "grade")
        return {"grade": grade}

    def review_context(self, ctx) -> dict[str, Any]:
        return {"grades": GRADES}
