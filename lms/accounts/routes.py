"""Log in, log out, set, reset and change passwords."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user

from lms.accounts import services, throttle
from lms.accounts.forms import ChangePasswordForm, LoginForm, ResetRequestForm, SetPasswordForm
from lms.extensions import db, limiter
from lms.i18n import _
from lms.mfa import services as mfa
from lms.security import is_safe_next
from lms.sessions import services as sessions

log = logging.getLogger(__name__)

bp = Blueprint("accounts", __name__)


def _failed(response) -> bool:
    # Only failed attempts count towards the login limits.
    return response.status_code == 401


def _address_limit() -> str:
    return current_app.config["LMS_LOGIN_LIMIT_PER_ADDRESS"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"], deduct_when=_failed)
def login():
    next_url = request.values.get("next")
    if not is_safe_next(next_url):
        next_url = None
    if current_user.is_authenticated:
        return redirect(next_url or url_for("learning.dashboard"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        # A growing delay for this email from this address only (lms.accounts.throttle):
        # a stranger's failures elsewhere never stop the owner.
        wait = throttle.wait_for(form.email.data)
        user = None if wait else services.authenticate(form.email.data, form.password.data)
        if user is not None:
            throttle.succeeded(form.email.data)
            if mfa.has_second_factor(user.id):
                # Nobody is logged in until the second step (lms.mfa) is passed too.
                mfa.begin_pending(user, next_url)
                return redirect(url_for("mfa.second_step"))
            login_user(user)
            sessions.start(user)
            log.info("User %s logged in", user.id)
            return redirect(next_url or url_for("learning.dashboard"))
        if wait:
            form.password.errors.append(wait.message)
            status = 429
        else:
            log.info("Failed login")
            throttle.failed(form.email.data)
            # Kept although the answer is an error (which rolls the request back).
            db.session.commit()
            form.password.errors.append(_("The email address or password is not right."))
            status = 401
    elif form.is_submitted():
        status = 422
    return render_template("accounts/login.html", form=form, next_url=next_url), status


@bp.post("/logout")
@login_required
def logout():
    sessions.log_out()
    flash(_("You have logged out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password/set/<token>", methods=["GET", "POST"])
def set_password(token: str):
    record = services.token_user(token)
    if record is None:
        return render_template("accounts/link_expired.html"), 410
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = services.use_token(record, form.password.data)
        except services.AccountError as exc:
            if services.token_user(token) is None:
                # Spent meanwhile (the same link used twice at once): it no longer works.
                return render_template("accounts/link_expired.html"), 410
            form.password.errors.append(exc.message)
        else:
            # A new password ends every session of its owner; this one starts afresh.
            if current_user.is_authenticated:
                sessions.log_out()
            sessions.end_all(user.id)
            if record.purpose == "reset":
                services.tell_password_changed(user)
            if mfa.has_second_factor(user.id):
                # A reset link is not a second factor: the code is still asked for.
                mfa.begin_pending(user, None)
                flash(_("Your password is set. Now confirm it is you."), "success")
                return redirect(url_for("mfa.second_step"))
            login_user(user)
            sessions.start(user)
            flash(_("Your password is set. Welcome, %(name)s.", name=user.first_name), "success")
            return redirect(url_for("learning.dashboard"))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "accounts/set_password.html", form=form, user=record.user, purpose=record.purpose
    ), status


@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_reset(form.email.data)
        # Same answer whether or not there is an account: it must not reveal members.
        flash(
            _(
                "If an account uses that address, we have sent it a link to reset the password. "
                "The link works once."
            ),
            "info",
        )
        return redirect(url_for("accounts.login"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/reset_request.html", form=form), status


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if services.authenticate(current_user.email, form.current.data) is None:
            form.current.errors.append(_("That is not your current password."))
        else:
            try:
                services.set_password(current_user, form.password.data)
            except services.AccountError as exc:
                form.password.errors.append(exc.message)
            else:
                # A new password ends every other session; this one goes on, with a new
                # id (and Flask-Login's id carries a fingerprint of the password).
                user = current_user._get_current_object()
                sessions.end_all(user.id, keep=sessions.current_login_id())
                login_user(user)
                sessions.start(user)
                services.tell_password_changed(user)
                flash(
                    _("Your password has been changed. You are logged out everywhere else."),
                    "success",
                )
                return redirect(url_for("accounts.account"))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "accounts/account.html",
        form=form,
        sessions=sessions.of(current_user.id),
        this_session=sessions.current_login_id(),
        describe_agent=sessions.describe_agent,
    ), status
