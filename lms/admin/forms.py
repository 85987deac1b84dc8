from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from lms.accounts.models import ROLE_LABELS
from lms.i18n import _l


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_choices() -> list[SelectChoice]:
    # SelectChoice, not (value, label) tuples: WTForms 3.3 deprecates tuples.
    return [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]


class AccountForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[DataRequired(_l("Enter an email address.")), Length(max=254)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    name = StringField(
        _l("Full name"),
        validators=[DataRequired(_l("Enter the person's name.")), Length(max=200)],
        render_kw={"autocomplete": "off"},
    )
    roles = CheckboxesField(
        _l("Roles"),
        choices=_role_choices(),
        description=_l("A person can hold several roles."),
    )
    region = SelectField(
        _l("Region"),
        coerce=str,
        description=_l("Where the person works. A national officer looks after this region."),
    )


class RolesForm(FlaskForm):
    roles = CheckboxesField(_l("Roles"), choices=_role_choices())
    region = SelectField(_l("Region"), coerce=str)


class RegionForm(FlaskForm):
    name = StringField(
        _l("Region name"),
        validators=[DataRequired(_l("Enter the region's name.")), Length(max=120)],
    )


class ImportForm(FlaskForm):
    """A CSV of accounts, uploaded or pasted (the upload wins when both are given)."""

    file = FileField(
        _l("CSV file"),
        description=_l("UTF-8 text, the first line naming the columns: email,name,roles,region."),
    )
    text = TextAreaField(
        _l("Or paste the rows"),
        description=_l(
            "Roles: one or more of trainee, facilitator, officer, admin, separated by ';'. "
            "Region: as named on the Regions page (required for national officers)."
        ),
        render_kw={"rows": 8, "spellcheck": "false", "autocomplete": "off"},
    )
    skip_bad = BooleanField(_l("Import the good rows even when some rows are refused"))
