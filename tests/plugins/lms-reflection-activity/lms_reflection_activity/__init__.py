"""A third-party activity type, packaged on its own: a short written reflection.

It only uses the public contract in ``lms.plugins``; installing this package is
all it takes for course files to use ``type: reflection``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from lms.plugins import ActivityContext, ActivityType, ProgressView, Submission, SubmissionRejected

TEMPLATE = """
<p class="reflection-prompt">{{ config.prompt }}</p>
{% if ctx.progress.is_complete %}<p class="badge badge--done">Reflection saved</p>{% endif %}
{% if ctx.rejected %}<p class="error-message" role="alert">{{ ctx.rejected.message }}</p>{% endif %}
<form method="post" action="{{ ctx.form_action }}">
  <input type="hidden" name="csrf_token" value="{{ ctx.csrf_token }}">
  <div class="field">
    <label for="reflection-text">Your reflection</label>
    <textarea id="reflection-text" name="text" rows="6">{{ text }}</textarea>
  </div>
  <button type="submit" class="button">Save my reflection</button>
</form>
"""


class ReflectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1)
    min_words: int = Field(default=20, ge=1, le=2000)


class Reflection(ActivityType):
    name = "reflection"
    label = "Reflection"
    source_format = None

    def parse(self, settings: Mapping[str, Any], source_text: str | None) -> ReflectionConfig:
        return ReflectionConfig.model_validate(dict(settings))

    def render(self, ctx: ActivityContext) -> Markup:
        text = ""
        if ctx.rejected is not None:
            text = ctx.rejected.values.get("text", "")
        elif ctx.latest_attempt is not None:
            text = ctx.latest_attempt.data.get("text", "")
        return Markup(ctx.render_template_string(TEMPLATE, ctx=ctx, config=ctx.config, text=text))

    def submit(self, ctx: ActivityContext, form: Mapping[str, Any]) -> Submission:
        raw = form.get("text", "")
        text = raw if isinstance(raw, str) else ""
        if isinstance(raw, list):
            text = raw[0] if raw else ""
        words = len(text.split())
        if words < ctx.config.min_words:
            raise SubmissionRejected(
                f"Write at least {ctx.config.min_words} words (you have {words}).",
                {"text": "too short"},
                {"text": text},
            )
        return Submission(data={"text": text}, state={"words": words}, message="Reflection saved.")

    def is_complete(self, progress: ProgressView, config: ReflectionConfig) -> bool:
        return progress.state.get("words", 0) >= config.min_words
