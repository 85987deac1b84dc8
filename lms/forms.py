"""Shared form helpers."""

from __future__ import annotations

from wtforms import Field


def first_errors(fields: dict[str, Field]) -> list[tuple[str, str, str]]:
    """(field id, label, first error) for each invalid field, for an error summary."""
    out = []
    for field in fields.values():
        if field.errors:
            out.append((field.id, str(field.label.text), str(field.errors[0])))
    return out
