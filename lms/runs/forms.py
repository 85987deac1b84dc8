from __future__ import annotations

from datetime import datetime

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
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from lms.admin.forms import CheckboxesField
from lms.i18n import _l
from lms.runs.models import DEFAULT_END, DEFAULT_START


class ClockField(TimeField):
    """A time of day on the 24-hour clock, typed as 09:30, 9:30, 9.30 or 0930.

    Rendered as a text box (``type="text"``): browsers show ``type="time"`` in the
    computer's locale (AM/PM on many), and the training office works in 24-hour UK time.
    """

    _FORMATS = ("%H:%M", "%H.%M", "%H%M")

    def process_formdata(self, valuelist):
        if not valuelist or not (valuelist[0] or "").strip():
            self.data = None
            return
        text = valuelist[0].strip()
        for fmt in self._FORMATS:
            try:
                self.data = datetime.strptime(text, fmt).time()
            except ValueError:
                continue
            return
        self.data = None
        raise ValueError(str(_l("Give times on the 24-hour clock, like 09:30 or 14:00.")))


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
    # One start and end time per day row (UK time); an empty box means the default.
    starts = FieldList(
        ClockField(_l("Starts"), validators=[Optional()], default=DEFAULT_START, format="%H:%M"),
        min_entries=4,
        max_entries=10,
        label=_l("Start times"),
    )
    ends = FieldList(
        ClockField(_l("Ends"), validators=[Optional()], default=DEFAULT_END, format="%H:%M"),
        min_entries=4,
        max_entries=10,
        label=_l("End times"),
    )
    is_online = BooleanField(_l("Online (no venue)"))
    venue = StringField(
        _l("Venue"), description=_l("Building and town, as trainees should see it.")
    )
    # A text box (URL boxes are not styled as the others): runs.services checks it is https.
    online_url = StringField(
        _l("Online link"),
        validators=[Optional()],
        render_kw={"inputmode": "url", "spellcheck": "false", "autocomplete": "off"},
        description=_l(
            "For an online run: the https address trainees use to join. You can add it later."
        ),
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


class CancelRunForm(FlaskForm):
    reason = TextAreaField(
        _l("Why is the run cancelled?"),
        validators=[
            DataRequired(_l("Say why the run is cancelled: the people booked on it will read it.")),
            Length(max=1000, message=_l("Keep the reason under 1000 characters.")),
        ],
        description=_l("The people with a place or on the waiting list are told this."),
    )


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
