"""Markdown to HTML for course pages. Raw HTML in the source is never rendered."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markupsafe import Markup


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # CommonMark with raw HTML switched off (it is shown as text) plus tables.
    # markdown-it's link validation already refuses javascript:, vbscript: and data: URLs.
    return MarkdownIt("commonmark", {"html": False, "typographer": True}).enable(
        ["table", "strikethrough", "replacements", "smartquotes"]
    )


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> Markup:
    """Render trusted-format, untrusted-content Markdown to safe HTML.

    Course text (quiz explanations, case-study scenarios, feedback intros) is asked
    for on every page view; the same text always gives the same HTML, so each text
    is rendered once per process and kept (bounded: course content, not user input).
    """
    return Markup(_parser().render(text))  # noqa: S704 - markdown-it escapes all text, html=False


def word_count(text: str) -> int:
    return len(text.split())
