from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice, SelectField, SelectMultipleField, StringField
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
