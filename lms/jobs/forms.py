"""Forms of the jobs page: start a re-issue; retry a failed job (CSRF only)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import DataRequired

from lms.i18n import _l


class ReissueForm(FlaskForm):
    course = SelectField(
        _l("Course"),
        validators=[DataRequired(_l("Choose a course."))],
        description=_l(
            "Every certificate of the course is rendered again with its current template. "
            "Numbers and verification links stay the same; earlier files are kept."
        ),
    )


class RetryForm(FlaskForm):
    """Just the CSRF token: the job is in the address."""
