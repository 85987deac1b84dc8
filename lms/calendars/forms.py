from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import AnyOf


class FeedForm(FlaskForm):
    """Make or revoke one's calendar feed address (which, by the button pressed)."""

    action = HiddenField(validators=[AnyOf(["create", "revoke"])])
