"""The ``case_study`` activity type: a scenario, guiding questions and a written answer.

Drafts are kept as the trainee types. The trainee sees the case's model guidance
when the course says (``review: {guidance: ...}``: by default once the answer meets
the standard; see lms.review.rules). Facilitators review each version against the case's
criteria and decide "meets the standard" or "needs more work"; a trainee asked
for more work revises and sends a new version. Every version and review is kept.
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
    ReviewRejected,
    Submission,
    SubmissionRejected,
    load_yaml,
)
from lms.review.rules import guidance_visible

MAX_ANSWER_CHARS = 20_000
#: How a reviewer marks each of a case's criteria.
CRITERION_MARKS = ("met", "not_yet")

ACCEPTED = "accepted"
NEEDS_WORK = "needs_work"
SUBMITTED = "submitted"
DECISIONS = (ACCEPTED, NEEDS_WORK)


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
    key: str = Field(pattern=KEY_PATTERN)
    text: str = Field(min_length=1)


class CaseStudyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
    title_note: str = ""
    scenario: str = Field(min_length=1)
    questions: list[str] = Field(min_length=1)
    criteria: list[Criterion] = Field(min_length=1)
    guidance: str = Field(min_length=1)
    min_words: int = Field(default=100, ge=1, le=3000)
    completion: Literal["accepted", "submitted"] = "accepted"

    @model_validator(mode="after")
    def _unique_criteria(self) -> CaseStudyConfig:
        keys = [c.key for c in self.criteria]
        if len(set(keys)) != len(keys):
            raise ValueError("criterion keys must be unique within a case")
        return self

    @property
    def scenario_html(self) -> Markup:
        return render_markdown(self.scenario)

    @property
    def guidance_html(self) -> Markup:
        return render_markdown(self.guidance)


def word_count(text: str) -> int:
    return len(text.split())


class CaseStudy(ActivityType):
    name = "case_study"
    label = "Case study"
    source_format = "yaml"
    supports_drafts = True
    is_reviewed = True
    template_folder = BUILTIN_TEMPLATES / "case_study"
    requirement_label = "Case studies"
    requirement_detail = "{done} of {total} complete"
    plural_label = "case studies"

    def parse(self, settings: Mapping[str, Any], source_text: str | None) -> CaseStudyConfig:
        data: dict[str, Any] = dict(settings)
        if source_text is not None:
            loaded = load_yaml(source_text)
            if not isinstance(loaded, dict):
                raise ContentError("must be a mapping with scenario, questions, criteria, guidance")
            data.update(loaded)
        return CaseStudyConfig.model_validate(data)

    @staticmethod
    def status(progress: ProgressView) -> str | None:
        return progress.state.get("status")

    def render(self, ctx: ActivityContext) -> Markup:
        config: CaseStudyConfig = ctx.config
        status = self.status(ctx.progress)
        latest = ctx.latest_attempt
        draft = ctx.progress.state.get("draft") or {}
        if ctx.rejected is not None:
            text = ctx.rejected.values.get("answer", "")
            if isinstance(text, list):
                text = text[0] if text else ""
        elif draft.get("answer") is not None and status in (None, NEEDS_WORK):
            text = draft["answer"]
        elif latest is not None:
            text = latest.data.get("answer", "")
        else:
            text = ""
        can_write = status in (None, NEEDS_WORK) or ctx.rejected is not None
        return Markup(  # noqa: S704 - rendered by an autoescaping template
            ctx.render_template(
                self.template("page.html"),
                ctx=ctx,
                config=config,
                status=status,
                text=text,
                can_write=can_write,
                draft_saved_at=ctx.progress.state.get("draft_saved_at"),
                max_chars=MAX_ANSWER_CHARS,
                words=word_count(text),
                show_guidance=guidance_visible(ctx.course, ctx.attempts),
            )
        )

    def _answer(self, form: Mapping[str, Any]) -> str:
        raw = form.get("answer", "")
        if isinstance(raw, list):
            raw = raw[0] if raw else ""
        return str(raw).replace("\r\n", "\n")

    def draft(self, form: Mapping[str, Any], config: CaseStudyConfig) -> dict[str, Any]:
        return {"answer": self._answer(form)[:MAX_ANSWER_CHARS]}

    def submit(self, ctx: ActivityContext, form: Mapping[str, Any]) -> Submission:
        config: CaseStudyConfig = ctx.config
        status = self.status(ctx.progress)
        answer = self._answer(form)
        if status in (SUBMITTED, ACCEPTED):
            raise SubmissionRejected(
                _(
                    "This answer has already been sent. You can revise it if a facilitator asks "
                    "for more work."
                ),
                values={"answer": answer},
            )
        if len(answer) > MAX_ANSWER_CHARS:
            raise SubmissionRejected(
                _("Your answer is too long to send."),
                {
                    "answer": _(
                        "Keep your answer under %(n)d characters (it has %(have)d).",
                        n=MAX_ANSWER_CHARS,
                        have=len(answer),
                    )
                },
                {"answer": answer},
            )
        words = word_count(answer)
        if words < config.min_words:
            raise SubmissionRejected(
                _("Your answer is not ready to send yet."),
                {
                    "answer": _(
                        "Write at least %(n)d words (you have %(have)d). Your draft is saved.",
                        n=config.min_words,
                        have=words,
                    )
                },
                {"answer": answer},
            )
        return Submission(
            data={"answer": answer, "words": words},
            state={"status": SUBMITTED, "draft": None},
            message=_("Your answer has been sent for review. Read the model guidance below.")
            if ctx.course.review.guidance == "after_submission"
            else _(
                "Your answer has been sent for review. The model guidance appears here "
                "once a facilitator has reviewed it and it meets the standard."
            ),
        )

    def is_complete(self, progress: ProgressView, config: CaseStudyConfig) -> bool:
        status = self.status(progress)
        if config.completion == "submitted":
            return status in (SUBMITTED, NEEDS_WORK, ACCEPTED)
        return status == ACCEPTED

    def review_state(self, decision: str) -> dict[str, Any]:
        return {"status": ACCEPTED if decision == ACCEPTED else NEEDS_WORK}

    def review_values(self, config: CaseStudyConfig, form: Mapping[str, Any]) -> dict[str, Any]:
        values = super().review_values(config, form)
        values["criteria"] = {
            c.key: str(form.get(f"criterion-{c.key}", "")) for c in config.criteria
        }
        return values

    def review_marks(self, config: CaseStudyConfig, values: Mapping[str, Any]) -> dict[str, str]:
        """Every criterion marked "met" or "not yet"."""
        criteria = values.get("criteria") or {}
        keys = [c.key for c in config.criteria]
        if any(criteria.get(k) not in CRITERION_MARKS for k in keys):
            raise ReviewRejected(_("Mark every criterion as met or not yet met."), "criteria")
        return {k: criteria[k] for k in keys}

    def summary(self, progress: ProgressView, config: CaseStudyConfig) -> str:
        return {
            None: _("Not started") if not progress.state.get("draft") else _("Draft saved"),
            SUBMITTED: _("Waiting for review"),
            NEEDS_WORK: _("Needs more work"),
            ACCEPTED: _("Meets the standard"),
        }.get(self.status(progress), "")
