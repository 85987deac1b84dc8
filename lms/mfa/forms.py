from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from lms.i18n import _l


def _code_field(label, description=None):
    return StringField(
        label,
        validators=[DataRequired(_l("Enter the code.")), Length(max=40)],
        description=description,
        render_kw={
            "autocomplete": "one-time-code",
            "spellcheck": "false",
            "autocapitalize": "none",
        },
    )


class SecondStepForm(FlaskForm):
    code = _code_field(
        _l("Code"),
        _l("The 6-digit code your authenticator app shows now, or one of your recovery codes."),
    )


class ConfirmAppForm(FlaskForm):
    code = _code_field(_l("Code from the app"), _l("The 6 digits the app shows now."))


class ProveItIsYouForm(FlaskForm):
    """Turning the app off or making new recovery codes: the password, or a code."""

    password = PasswordField(_l("Your password"), render_kw={"autocomplete": "current-password"})
    code = StringField(
        _l("Or a code from your app"),
        validators=[Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false"},
    )


class AddKeyForm(FlaskForm):
    """A security key's answer to ``navigator.credentials.create`` (filled in by
    static/js/webauthn.js) and the name the person gives it."""

    name = StringField(_l("Name of the key"), validators=[Length(max=60)])
    credential = HiddenField(validators=[DataRequired(), Length(max=20_000)])


class KeyLoginForm(FlaskForm):
    """A security key's answer to ``navigator.credentials.get``, at the second step."""

    credential = HiddenField(validators=[DataRequired(), Length(max=20_000)])
