"""Markdown to HTML for course pages. Raw HTML in the source is never rendered.

Course text may hold dated legal changes: a line ``[[change:KEY]]`` on its own stands
for the change ``courses/changes/KEY.yaml`` (see :mod:`lms.catalogue.changes`). Which
text of a change applies depends on the day a page is shown, not the day the course
was loaded, so the rendered HTML keeps a marker there and fills it in each time it is
written into a page (:class:`DatedMarkup`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt
from markupsafe import Markup

#: A change line in course Markdown.
CHANGE_LINE = re.compile(r"^[ \t]*\[\[change:([a-z0-9][a-z0-9-]{0,79})\]\][ \t]*$", re.MULTILINE)
#: What stands for a change in rendered HTML until the page is written. Rendered
#: Markdown cannot contain it: raw HTML in the source is escaped.
CHANGE_MARK = re.compile(r'<lms-change key="([a-z0-9-]+)"></lms-change>')


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # CommonMark with raw HTML switched off (it is shown as text) plus tables.
    # markdown-it's link validation already refuses javascript:, vbscript: and data: URLs.
    md = MarkdownIt("commonmark", {"html": False, "typographer": True}).enable(
        ["table", "strikethrough", "replacements", "smartquotes"]
    )
    md.add_render_rule("table_open", _table_open)
    return md


def _table_open(self, tokens, idx, options, env) -> str:
    # A wide table scrolls sideways on a phone: keyboard users must be able to reach it.
    tokens[idx].attrSet("tabindex", "0")
    return self.renderToken(tokens, idx, options, env)


class DatedMarkup(Markup):
    """Rendered Markdown with change markers, filled in with the text that applies
    today whenever a template writes it (Jinja asks for ``__html__``).

    The filled-in HTML is kept per day, locale and version of the changes it shows
    (:func:`lms.caching.kept`): a reading page writes the same text on every view, and
    finding the markers and building their boxes cost about 0.1 ms a page."""

    __slots__ = ()

    def __html__(self) -> Markup:
        from flask import current_app, has_app_context

        from lms.catalogue.changes import change_box

        if not has_app_context():
            return Markup(CHANGE_MARK.sub(lambda m: change_box(m[1]), str(self)))  # noqa: S704
        from flask_babel import get_locale

        from lms.caching import kept
        from lms.catalogue.changes import today

        changes = getattr(current_app.extensions.get("lms.courses"), "changes", {})
        shown = tuple(changes.get(key) for key in _change_marks(self))
        # The kept value holds the changes, so their ids cannot be reused while it is kept.
        key = (self, today(), str(get_locale()), tuple(id(change) for change in shown))
        return kept(
            "dated-markup",
            key,
            lambda: (
                shown,
                Markup(CHANGE_MARK.sub(lambda m: change_box(m[1]), str(self))),  # noqa: S704
            ),
            size=256,
        )[1]


@lru_cache(maxsize=4096)
def _change_marks(html: str) -> tuple[str, ...]:
    """The keys of the change markers in rendered ``html``, in order."""
    return tuple(CHANGE_MARK.findall(html))


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> Markup:
    """Render trusted-format, untrusted-content Markdown to safe HTML.

    Course text (quiz explanations, case-study scenarios, feedback intros) is asked
    for on every page view; the same text always gives the same HTML, so each text
    is rendered once per process and kept (bounded: course content, not user input).
    Text with change lines gives a :class:`DatedMarkup`.
    """
    parts = CHANGE_LINE.split(text)
    if len(parts) == 1:
        return Markup(_parser().render(text))  # noqa: S704 - markdown-it escapes all text
    html = [_parser().render(parts[0])]
    for key, rest in zip(parts[1::2], parts[2::2], strict=True):
        html.append(f'<lms-change key="{key}"></lms-change>\n')
        html.append(_parser().render(rest))
    return DatedMarkup("".join(html))  # noqa: S704 - escaped segments and our own markers


def change_keys(text: str) -> list[str]:
    """The keys of the change lines in ``text``, in order."""
    return CHANGE_LINE.findall(text)


def word_count(text: str) -> int:
    return len(CHANGE_LINE.sub("", text).split())
