from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, NumberRange, Optional

from lms.admin.forms import CheckboxesField
from lms.i18n import _l


class RunForm(FlaskForm):
    course_slug = SelectField(_l("Course"), validators=[DataRequired(_l("Choose a course."))])
    title = StringField(
        _l("Name of the run"),
        validators=[DataRequired(_l("Give the run a name people will recognise."))],
        description=_l("For example “Rep course, London, May 2027”."),
    )
    days = FieldList(
        DateField(_l("Date"), validators=[Optional()], format="%Y-%m-%d"),
        min_entries=4,
        max_entries=10,
        label=_l("Dates"),
    )
    is_online = BooleanField(_l("Online (no venue)"))
    venue = StringField(
        _l("Venue"), description=_l("Building and town, as trainees should see it.")
    )
    capacity = IntegerField(
        _l("Places"),
        validators=[
            DataRequired(_l("Give the number of places.")),
            NumberRange(min=1, max=500, message=_l("Give a number from 1 to 500.")),
        ],
    )
    is_open = BooleanField(_l("Open for sign-up"), default=True)
    facilitator_ids = CheckboxesField(_l("Facilitators"), coerce=int)


class AddPersonForm(FlaskForm):
    email = EmailField(
        _l("Email address of the person to add"),
        validators=[DataRequired(_l("Enter the person's email address."))],
    )
    force_book = BooleanField(_l("Give them a place even if the run is full"))


class MoveForm(FlaskForm):
    target = SelectField(_l("Move to"), coerce=str)


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]
