"""The ``quiz`` activity type: single and multiple choice questions with a pass mark.

Each attempt is scored as the percentage of questions answered exactly right.
The best score is kept; the activity is complete once an attempt reaches the
pass mark. Explanations are shown after every attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Option(_Strict):
    key: str = Field(pattern=KEY_PATTERN)
    text: str = Field(min_length=1)
    correct: bool = False


class Question(_Strict):
    key: str = Field(pattern=KEY_PATTERN)
    kind: Literal["single", "multiple"] = "single"
    prompt: str = Field(min_length=1)
    options: list[Option] = Field(min_length=2)
    explanation: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check_options(self) -> Question:
        keys = [o.key for o in self.options]
        if len(set(keys)) != len(keys):
            raise ValueError("option keys must be unique within a question")
        correct = sum(o.correct for o in self.options)
        if self.kind == "single" and correct != 1:
            raise ValueError(
                f"a single-choice question needs exactly one correct option, not {correct}"
            )
        if self.kind == "multiple" and correct < 1:
            raise ValueError("a multiple-choice question needs at least one correct option")
        return self

    @property
    def correct_keys(self) -> frozenset[str]:
        return frozenset(o.key for o in self.options if o.correct)

    @property
    def field_name(self) -> str:
        return f"q-{self.key}"

    @property
    def explanation_html(self) -> Markup:
        return render_markdown(self.explanation)


class QuizConfig(_Strict):
    pass_mark: int = Field(default=80, ge=1, le=100)
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_questions(self) -> QuizConfig:
        keys = [q.key for q in self.questions]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"question key {dupes[0]!r} is used more than once")
        return self


def _plain_questions(config: QuizConfig, render: Callable[[], str]) -> str:
    """A quiz's questions as a plain visit shows them (nothing chosen, no errors, no
    results): the same markup for everyone, rendered once per quiz and locale and kept
    (:func:`lms.caching.kept`). The kept value holds the config itself, so its ``id``
    cannot be reused by a reloaded course's config while the markup is kept."""
    from flask_babel import get_locale

    from lms.caching import kept

    key = (id(config), str(get_locale()))
    return kept("quiz-questions", key, lambda: (config, render()), size=512)[1]


class Quiz(ActivityType):
    name = "quiz"
    label = "Knowledge check"
    source_format = "yaml"

    def parse(self, settings: Mapping[str, Any], source_text: str | None) -> QuizConfig:
        data: dict[str, Any] = dict(settings)
        if source_text is not None:
            loaded = load_yaml(source_text)
            if not isinstance(loaded, dict):
                raise ContentError("must be a mapping with pass_mark and questions")
            data.update(loaded)
        return QuizConfig.model_validate(data)

    def render(self, ctx: ActivityContext) -> Markup:
        config: QuizConfig = ctx.config
        # The latest attempt is shown only straight after sending it: asking for it
        # otherwise would read every attempt (and its reviews) on each view.
        latest = ctx.latest_attempt if ctx.just_submitted else None
        if ctx.rejected is not None:
            chosen = {
                q.key: set(_as_list(ctx.rejected.values.get(q.field_name)))
                for q in config.questions
            }
        elif ctx.just_submitted and latest is not None:
            chosen = {k: set(v) for k, v in latest.data.get("answers", {}).items()}
        else:
            chosen = {}
        show_results = bool(ctx.just_submitted and latest is not None and not ctx.rejected)
        errors = ctx.rejected.errors if ctx.rejected is not None else {}

        def questions() -> str:
            return ctx.render_template(
                "activities/_quiz_questions.html",
                config=config,
                chosen=chosen,
                errors=errors,
                show_results=show_results,
                latest=latest,
            )

        if show_results or chosen or errors:
            questions_html = questions()
        else:
            questions_html = _plain_questions(config, questions)
        return Markup(  # noqa: S704 - rendered by an autoescaping template
            ctx.render_template(
                "activities/quiz.html",
                ctx=ctx,
                config=config,
                latest=latest,
                chosen=chosen,
                pass_mark=config.pass_mark,
                questions_html=Markup(questions_html),  # noqa: S704 - autoescaped template
            )
        )

    def submit(self, ctx: ActivityContext, form: Mapping[str, Any]) -> Submission:
        config: QuizConfig = ctx.config
        answers: dict[str, list[str]] = {}
        errors: dict[str, str] = {}
        values: dict[str, list[str]] = {}
        for q in config.questions:
            raw = _getlist(form, q.field_name)
            valid = {o.key for o in q.options}
            picked = [v for v in raw if v in valid]
            values[q.field_name] = picked
            if not picked:
                errors[q.field_name] = _("Choose an answer to this question.")
            elif q.kind == "single" and len(picked) > 1:
                errors[q.field_name] = _("Choose only one answer to this question.")
            answers[q.key] = sorted(set(picked))
        if errors:
            raise SubmissionRejected(
                _("Answer every question before you check your answers."), errors, values
            )
        correct = {q.key: frozenset(answers[q.key]) == q.correct_keys for q in config.questions}
        score = round(100 * sum(correct.values()) / len(config.questions), 1)
        is_passed = score >= config.pass_mark
        return Submission(
            data={"answers": answers, "correct": correct},
            score=score,
            is_passed=is_passed,
            message=(
                _("You scored %(score)s%%. You passed this knowledge check.", score=_fmt(score))
                if is_passed
                else _(
                    "You scored %(score)s%%. The pass mark is %(mark)d%%: read the explanations "
                    "and try again.",
                    score=_fmt(score),
                    mark=config.pass_mark,
                )
            ),
        )

    def is_complete(self, progress: ProgressView, config: QuizConfig) -> bool:
        return progress.best_score is not None and progress.best_score >= config.pass_mark

    def summary(self, progress: ProgressView, config: QuizConfig) -> str:
        if progress.best_score is None:
            return _("%(n)d questions", n=len(config.questions))
        return _("Best score %(score)s%%", score=_fmt(progress.best_score))


def _fmt(score: float) -> str:
    return f"{score:g}"


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return [str(v) for v in value]
    return [str(value)]


def _getlist(form: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(form, "getlist", None)
    if getlist is not None:
        return [str(v) for v in getlist(name)]
    return _as_list(form.get(name))
