"""Shared form helpers."""

from __future__ import annotations

from wtforms import Field


def first_errors(fields: dict[str, Field]) -> list[tuple[str, str, str]]:
    """(field id, label, first error) for each invalid field, for an error summary.

    The label is left out ("") when the message already names it ("The email address
    or password is not right." needs no "Password:" before it)."""
    out = []
    for field in fields.values():
        if field.errors:
            label, message = str(field.label.text), str(field.errors[0])
            out.append((field.id, "" if label.lower() in message.lower() else label, message))
    return out
