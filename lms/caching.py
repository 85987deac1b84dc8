"""Rendered fragments kept per app: the one place pages keep markup they would otherwise
render again on every request.

A fragment is kept under a key that names everything it depends on (course version,
locale, script root, the facts shown...), so a kept fragment is never stale: a change
in any of those is a different key. Each kind of fragment has its own table in
``app.extensions``; a table that reaches its size is emptied (cheap, and a page's
fragments are made again on the next requests).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app

T = TypeVar("T")

#: Fragments kept per kind and app before the table is emptied.
DEFAULT_SIZE = 2048


def kept(kind: str, key: Hashable, make: Callable[[], T], size: int = DEFAULT_SIZE) -> T:
    """The fragment of ``kind`` kept under ``key``, made with ``make()`` the first time."""
    table = current_app.extensions.setdefault(f"lms.kept.{kind}", {})
    value = table.get(key)
    if value is None:
        value = make()
        if len(table) >= size:
            table.clear()
        table[key] = value
    return value


def forget(kind: str) -> None:
    """Drop every fragment of ``kind`` (tests, or after content changes in place)."""
    current_app.extensions.pop(f"lms.kept.{kind}", None)
