from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from lms.accounts.services import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from lms.i18n import _l


class LoginForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[DataRequired(_l("Enter your email address.")), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Enter your password."))],
        render_kw={"autocomplete": "current-password"},
    )


def _new_password_fields():
    return (
        PasswordField(
            _l("New password"),
            validators=[
                DataRequired(_l("Choose a password.")),
                Length(
                    min=PASSWORD_MIN_LENGTH,
                    max=PASSWORD_MAX_LENGTH,
                    message=_l("Use between %(min)d and %(max)d characters."),
                ),
            ],
            description=_l(
                "At least 12 characters. Three or four unrelated words make a strong password "
                "that is easy to remember. Common or easily guessed passwords, and ones with "
                "your name or email address in them, are refused."
            ),
            # static/js/password.js shows a strength meter under a field so marked
            # (an estimate made in the browser; the server's check decides).
            render_kw={"autocomplete": "new-password", "data-password-meter": "on"},
        ),
        PasswordField(
            _l("Type the new password again"),
            validators=[
                DataRequired(_l("Type the password again.")),
                EqualTo("password", message=_l("The two passwords are not the same.")),
            ],
            render_kw={"autocomplete": "new-password"},
        ),
    )


class SetPasswordForm(FlaskForm):
    password, confirm = _new_password_fields()


class ChangePasswordForm(FlaskForm):
    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Enter your current password."))],
        render_kw={"autocomplete": "current-password"},
    )
    password, confirm = _new_password_fields()


class ResetRequestForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[
            DataRequired(_l("Enter your email address.")),
            Email(_l("Enter a valid email address.")),
            Length(max=254),
        ],
        render_kw={"autocomplete": "email"},
    )
