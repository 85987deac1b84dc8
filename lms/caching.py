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
from flask.globals import _cv_app, _cv_request

T = TypeVar("T")

#: Fragments kept per kind and app before the table is emptied.
DEFAULT_SIZE = 2048


def kept(kind: str, key: Hashable, make: Callable[[], T], size: int = DEFAULT_SIZE) -> T:
    """The fragment of ``kind`` kept under ``key``, made with ``make()`` the first time."""
    # The app itself rather than through ``current_app``'s proxy (pages ask many times).
    app_context = _cv_app.get(None)
    app = app_context.app if app_context is not None else current_app._get_current_object()
    table = app.extensions.setdefault(f"lms.kept.{kind}", {})
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


#: Characters ``url_for`` leaves as they are in a path or query value.
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_MARKER = "__lmsurl{}__"


def quick_url(endpoint: str, **values: str) -> str:
    """``url_for(endpoint, **values)``, the same text, for pages that link many rows.

    ``url_for`` matches the endpoint's rule and quotes each value on every call (a
    dashboard makes a dozen links, a list page dozens). Here the address is built once
    per endpoint, argument names and script root with markers in place of the values,
    and kept as its literal pieces; a call joins the pieces and the values. A value
    with anything but plain characters (which ``url_for`` would quote), or that is not
    text, goes through ``url_for`` itself, so the result is always what it would give.
    """
    from flask import url_for

    for value in values.values():
        if value.__class__ is not str or not value or not _PLAIN.issuperset(value):
            return url_for(endpoint, **values)
    names = tuple(values)
    # The request and app themselves rather than through their proxies.
    request_context = _cv_request.get(None)
    if request_context is None:  # no request: url_for says what it needs
        return url_for(endpoint, **values)
    key = (endpoint, names, request_context.request.script_root)
    table = request_context.app.extensions.setdefault("lms.kept.url-patterns", {})
    pattern = table.get(key)
    if pattern is None:
        pattern = table[key] = _url_pattern(url_for, endpoint, names)
    if not pattern:  # an address whose values do not appear as they are
        return url_for(endpoint, **values)
    pieces, order = pattern
    if not order:
        return pieces[0]
    parts = [pieces[0]]
    for index, name in enumerate(order, start=1):
        parts.append(values[name])
        parts.append(pieces[index])
    return "".join(parts)


def _url_pattern(url_for, endpoint: str, names: tuple[str, ...]):
    """The literal pieces of ``endpoint``'s address and the names between them, or
    ``False`` when a value would not appear in it once and as it is."""
    import re

    built = url_for(endpoint, **{name: _MARKER.format(i) for i, name in enumerate(names)})
    split = re.split(r"__lmsurl(\d+)__", built)
    pieces = split[0::2]
    order = [names[int(i)] for i in split[1::2]]
    if sorted(order) != sorted(names):
        return False
    return pieces, order
