"""The ``quiz`` activity type: single and multiple choice questions with a pass mark.

Each attempt is scored as the percentage of questions answered exactly right.
The best score is kept; the activity is complete once an attempt reaches the
pass mark. Explanations, and why each wrong option is wrong, are shown after every
attempt.

A quiz's questions are a bank: ``draw`` questions are drawn from it for each attempt
(all of them when ``draw`` is not set), shown in a random order with their options in
a random order (``shuffle_questions``, ``shuffle_options``). Which questions, and in
which order, is the attempt's *paper*: it comes from a keyed hash of the person, the
activity and the attempt number, so reloading the page shows the same paper, the next
attempt gets another one (never the same questions in the same order), and nobody can
choose a paper by posting. The paper is stored with the attempt, so the results show
what the person saw.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
    LintFinding,
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
    #: Why this option is right or wrong, shown beside it after an attempt.
    why: str | None = None

    @property
    def why_html(self) -> Markup | None:
        return render_markdown(self.why) if self.why else None


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
    #: Questions per attempt, drawn from ``questions`` (the bank); None: all of them.
    draw: int | None = Field(default=None, ge=1)
    shuffle_questions: bool = True
    shuffle_options: bool = True
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_questions(self) -> QuizConfig:
        keys = [q.key for q in self.questions]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"question key {dupes[0]!r} is used more than once")
        if self.draw is not None and self.draw > len(self.questions):
            raise ValueError(
                f"draw is {self.draw} but the bank has only {len(self.questions)} questions"
            )
        return self

    @property
    def paper_size(self) -> int:
        return self.draw or len(self.questions)

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)


@dataclass(frozen=True)
class PaperQuestion:
    """A question as one paper shows it: its place and its options' order."""

    question: Question
    options: tuple[Option, ...]
    number: int

    def __getattr__(self, name: str) -> Any:
        # key, kind, prompt, field_name, explanation_html... come from the question.
        return getattr(self.question, name)

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(o.key for o in self.options)


def _paper_seed(person: str, number: int, salt: int) -> int:
    from flask import current_app

    secret = current_app.secret_key or ""
    message = f"quiz-paper|{person}|{number}|{salt}".encode()
    digest = hmac.new(str(secret).encode(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big")


def _draw(config: QuizConfig, seed: int) -> list[tuple[Question, tuple[Option, ...]]]:
    rng = random.Random(seed)  # noqa: S311 - an order of questions, not a secret
    questions = list(config.questions)
    if config.draw is not None and config.draw < len(questions):
        picked = set(id(q) for q in rng.sample(questions, config.draw))
        questions = [q for q in questions if id(q) in picked]
    if config.shuffle_questions:
        rng.shuffle(questions)
    out = []
    for q in questions:
        options = list(q.options)
        if config.shuffle_options:
            rng.shuffle(options)
        out.append((q, tuple(options)))
    return out


def _signature(drawn: Sequence[tuple[Question, tuple[Option, ...]]]) -> tuple:
    return tuple((q.key, tuple(o.key for o in options)) for q, options in drawn)


def paper_for(config: QuizConfig, person: str, number: int) -> list[PaperQuestion]:
    """The paper of attempt ``number`` (0 for the first) of ``person`` at a quiz.

    ``person`` names the person and the activity. Attempt ``number`` never repeats the
    paper before it, question for question and option for option, where the bank and
    settings leave any other paper possible.
    """
    from flask import current_app

    from lms.caching import kept

    # The same quiz, person, attempt and secret always give the same paper: drawn once
    # and kept (with the config, so that its ``id`` is not reused while kept).
    made = kept(
        "quiz-papers",
        (id(config), person, number, current_app.secret_key),
        lambda: (config, _drawn_paper(config, person, number)),
        size=4096,
    )
    return list(made[1])


def _drawn_paper(config: QuizConfig, person: str, number: int) -> tuple[PaperQuestion, ...]:
    varies = config.shuffle_questions or config.shuffle_options or bool(config.draw)
    previous: tuple | None = None
    drawn: list = []
    # Each paper depends on the one before it, so they are drawn in turn (a few
    # microseconds each).
    for n in range(0 if varies else number, number + 1):
        salt = 0
        drawn = _draw(config, _paper_seed(person, n, salt))
        while previous is not None and _signature(drawn) == previous and salt < 8:
            salt += 1
            drawn = _draw(config, _paper_seed(person, n, salt))
        previous = _signature(drawn)
    return tuple(PaperQuestion(q, options, i) for i, (q, options) in enumerate(drawn, start=1))


def stored_paper(config: QuizConfig, data: Mapping[str, Any]) -> list[PaperQuestion]:
    """The paper an attempt was answered on, from its stored data.

    Attempts made before papers were stored, and questions since removed from the bank,
    fall back to the quiz's own order (and drop what no longer exists).
    """
    stored = data.get("paper") or {}
    keys = stored.get("questions") or list(data.get("answers", {}))
    orders = stored.get("options") or {}
    out: list[PaperQuestion] = []
    for key in keys:
        q = config.question(key)
        if q is None:
            continue
        by_key = {o.key: o for o in q.options}
        order = [by_key[k] for k in orders.get(key, []) if k in by_key]
        order += [o for o in q.options if o not in order]
        out.append(PaperQuestion(q, tuple(order), len(out) + 1))
    return out


def paper_data(paper: Sequence[PaperQuestion]) -> dict[str, Any]:
    return {
        "questions": [pq.key for pq in paper],
        "options": {pq.key: list(pq.order) for pq in paper},
    }


def _plain_question(config: QuizConfig, pq: PaperQuestion, render: Callable[[], str]) -> str:
    """A question as a plain visit shows it (nothing chosen, no errors, no results): the
    same markup for everyone given its place and options' order, rendered once per quiz,
    question, order and locale and kept (:func:`lms.caching.kept`). The kept value holds
    the config itself, so its ``id`` cannot be reused by a reloaded course's config while
    the markup is kept."""
    from lms.caching import kept
    from lms.i18n import locale_text

    key = (id(config), pq.key, pq.order, pq.number, locale_text())
    return kept("quiz-questions", key, lambda: (config, render()), size=4096)[1]


def _person(ctx: ActivityContext) -> str:
    from flask_login import current_user

    return f"{current_user.get_id()}|{ctx.course.slug}|{ctx.activity.key}"


def _paper_number(ctx: ActivityContext, form: Mapping[str, Any] | None) -> int:
    """The attempt number whose paper a form was answered on: the one shown now, or an
    earlier one still open in another tab; never a paper not yet shown."""
    count = ctx.progress.attempt_count
    raw = form.get("paper") if form is not None else None
    if isinstance(raw, list | tuple):
        raw = raw[0] if raw else None
    try:
        number = int(str(raw))
    except (TypeError, ValueError):
        return count
    return number if 0 <= number <= count else count


class Quiz(ActivityType):
    name = "quiz"
    label = "Knowledge check"
    source_format = "yaml"
    template_folder = BUILTIN_TEMPLATES / "quiz"
    requirement_label = "Knowledge checks passed"
    requirement_detail = "{done} of {total} passed"
    plural_label = "knowledge checks"

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
        show_results = bool(ctx.just_submitted and latest is not None and not ctx.rejected)
        errors = ctx.rejected.errors if ctx.rejected is not None else {}
        if show_results and latest is not None:
            paper = stored_paper(config, latest.data)
            number = ctx.progress.attempt_count
            chosen = {k: set(v) for k, v in latest.data.get("answers", {}).items()}
        else:
            values = ctx.rejected.values if ctx.rejected is not None else None
            number = _paper_number(ctx, values)
            paper = paper_for(config, _person(ctx), number)
            chosen = (
                {pq.key: set(_as_list(values.get(pq.field_name))) for pq in paper}
                if values is not None
                else {}
            )
        correct = latest.data.get("correct", {}) if show_results and latest else {}

        parts = []
        for pq in paper:
            picked = chosen.get(pq.key, set())
            err = errors.get(pq.field_name)

            def one(pq=pq, picked=picked, err=err) -> str:
                return ctx.render_template(
                    self.template("_question.html"),
                    pq=pq,
                    picked=picked,
                    err=err,
                    show_results=show_results,
                    right=correct.get(pq.key),
                )

            if show_results or picked or err:
                parts.append(one())
            else:
                parts.append(_plain_question(config, pq, one))
        return Markup(  # noqa: S704 - rendered by an autoescaping template
            ctx.render_template(
                self.template("page.html"),
                ctx=ctx,
                config=config,
                paper=paper,
                paper_number=number,
                latest=latest,
                show_results=show_results,
                pass_mark=config.pass_mark,
                questions_html=Markup("".join(parts)),  # noqa: S704 - autoescaped template
            )
        )

    def submit(self, ctx: ActivityContext, form: Mapping[str, Any]) -> Submission:
        config: QuizConfig = ctx.config
        number = _paper_number(ctx, form)
        paper = paper_for(config, _person(ctx), number)
        answers: dict[str, list[str]] = {}
        errors: dict[str, str] = {}
        values: dict[str, Any] = {"paper": str(number)}
        for pq in paper:
            raw = _getlist(form, pq.field_name)
            valid = {o.key for o in pq.options}
            picked = [v for v in raw if v in valid]
            values[pq.field_name] = picked
            if not picked:
                errors[pq.field_name] = _("Choose an answer to this question.")
            elif pq.kind == "single" and len(picked) > 1:
                errors[pq.field_name] = _("Choose only one answer to this question.")
            answers[pq.key] = sorted(set(picked))
        if errors:
            raise SubmissionRejected(
                _("Answer every question before you check your answers."), errors, values
            )
        correct = {pq.key: frozenset(answers[pq.key]) == pq.correct_keys for pq in paper}
        score = round(100 * sum(correct.values()) / len(paper), 1)
        is_passed = score >= config.pass_mark
        return Submission(
            data={"answers": answers, "correct": correct, "paper": paper_data(paper)},
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

    def lint(self, config: QuizConfig) -> list[LintFinding]:
        return lint_quiz(config)

    def summary(self, progress: ProgressView, config: QuizConfig) -> str:
        if progress.best_score is None:
            return _("%(n)d questions", n=config.paper_size)
        return _("Best score %(score)s%%", score=_fmt(progress.best_score))


#: How much longer than the average wrong option a right one may be.
LENGTH_RATIO_LIMIT = 1.2
#: In how many single-choice questions (a share of them) the right option may be the
#: longest: one in four is what chance gives with four options.
LONGEST_SHARE_LIMIT = 0.25


def lint_quiz(config: QuizConfig) -> list[LintFinding]:
    """What makes a quiz passable without understanding: right answers that are the
    longest or much longer than the wrong ones, the same number of right options in
    every multiple-choice question, wrong options nobody explains."""
    findings: list[LintFinding] = []
    singles = [q for q in config.questions if q.kind == "single"]
    longest: list[str] = []
    for i, q in enumerate(config.questions):
        where = f"questions[{i}] ({q.key})"
        right = [len(o.text) for o in q.options if o.correct]
        wrong = [len(o.text) for o in q.options if not o.correct]
        for j, o in enumerate(q.options):
            if not o.correct and not o.why:
                findings.append(
                    LintFinding(
                        "error",
                        f"{where}.options[{j}]",
                        "a wrong option without `why`: say why it is wrong",
                    )
                )
        if not wrong:
            findings.append(LintFinding("warning", where, "every option is correct"))
            continue
        ratio = (sum(right) / len(right)) / (sum(wrong) / len(wrong))
        if ratio > LENGTH_RATIO_LIMIT:
            what = "the correct option is" if q.kind == "single" else "the correct options are"
            findings.append(
                LintFinding(
                    "error",
                    where,
                    f"{what} {round(100 * (ratio - 1))}% longer than the wrong ones "
                    f"on average (at most {round(100 * (LENGTH_RATIO_LIMIT - 1))}%)",
                )
            )
        if q.kind == "single" and right[0] > max(wrong):
            longest.append(q.key)
            findings.append(LintFinding("warning", where, "the correct option is the longest"))
    allowed = max(1, int(len(singles) * LONGEST_SHARE_LIMIT))
    if singles and len(longest) > allowed:
        findings.append(
            LintFinding(
                "error",
                "questions",
                f"the correct option is the longest in {len(longest)} of {len(singles)} "
                f"single-choice questions (at most {allowed}): {', '.join(longest)}",
            )
        )
    multiples = [q for q in config.questions if q.kind == "multiple"]
    counts = {len(q.correct_keys) for q in multiples}
    if len(multiples) >= 2 and len(counts) == 1:
        findings.append(
            LintFinding(
                "error",
                "questions",
                f"all {len(multiples)} multiple-choice questions have exactly "
                f"{counts.pop()} correct options: vary how many are correct",
            )
        )
    return findings


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
