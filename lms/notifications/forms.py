"""Forms of the notifications pages: email choices per kind; marking all read (CSRF only)."""

from __future__ import annotations

from flask_wtf import FlaskForm


class PreferencesForm(FlaskForm):
    """The CSRF token; the boxes are one per kind the person can get (``email_<kind>``),
    read by the route, since which kinds there are depends on the person's roles."""


class MarkAllReadForm(FlaskForm):
    """Just the CSRF token."""
