"""The login's second step, and setting up a second factor from the account page.

Every form here is checked for its CSRF token by the app's CSRFProtect.
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user

from lms.accounts import services as accounts
from lms.extensions import db
from lms.i18n import _
from lms.mfa import keys, services
from lms.mfa.forms import (
    AddKeyForm,
    ConfirmAppForm,
    KeyLoginForm,
    ProveItIsYouForm,
    SecondStepForm,
)
from lms.security import is_safe_next
from lms.sessions import services as sessions

log = logging.getLogger(__name__)

bp = Blueprint("mfa", __name__)

#: What a person who must set up a second factor can still reach before they have.
SETUP_ENDPOINTS = frozenset(
    {
        "static",
        "accounts.account",
        "accounts.logout",
        "accounts.login",
        "catalogue.home",
        # A certificate PDF's signed link: only pages this check let through make one,
        # and following it must not cost a lookup of the person.
        "accreditation.file",
    }
)
SETUP_BLUEPRINTS = frozenset({"mfa", "sessions"})

ACCOUNT_SECTION = "two-step-h"


def _account_url() -> str:
    return url_for("accounts.account") + "#" + ACCOUNT_SECTION


def init_app(app) -> None:
    """Settings' defaults, and the account page's section (a context processor)."""
    services.init_app(app)
    app.register_blueprint(bp)
    import lms.mfa.cli  # noqa: F401 - adds its command to ``flask lms users``

    @app.context_processor
    def account_section():
        return {"mfa_account": _account_facts}


def _account_facts() -> dict:
    """What the account page's section shows about the person's second factors."""
    user_id = current_user.id
    return {
        "has_app": services.totp_of(user_id) is not None,
        "codes_left": services.recovery_codes_left(user_id),
        "security_keys": keys.keys_of(user_id),
        "required": services.needs_setup(current_user),
    }


@bp.before_app_request
def require_second_factor():
    """People holding a role of LMS_MFA_REQUIRED_ROLES without a second factor are sent
    to set one up before any other page works (ASVS 4.3.1)."""
    if not current_app.config.get("LMS_MFA_REQUIRED_ROLES"):
        return None
    endpoint = request.endpoint
    if endpoint is None or endpoint in SETUP_ENDPOINTS or request.blueprint in SETUP_BLUEPRINTS:
        return None
    # Without a session cookie nobody is logged in: the session is not even looked at
    # (so pages that never use it send no ``Vary: Cookie``).
    if current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return None
    if not current_user.is_authenticated or not services.needs_setup(current_user):
        return None
    flash(_("Your account needs a second factor. Set one up to go on."), "info")
    return redirect(_account_url())


# The second step of logging in ---------------------------------------------------------


def finish_login(user, next_url: str):
    """Log ``user`` in exactly as the login page does (a new session id, see
    :func:`lms.sessions.services.start`) and go where they were going."""
    services.clear_pending()
    login_user(user)
    sessions.start(user)
    log.info("User %s logged in (second step)", user.id)
    return redirect(next_url if is_safe_next(next_url) else url_for("learning.dashboard"))


@bp.route("/login/second-step", methods=["GET", "POST"])
def second_step():
    if current_user.is_authenticated:
        return redirect(url_for("learning.dashboard"))
    found = services.pending()
    if found is None:
        flash(_("Log in with your email address and password first."), "info")
        return redirect(url_for("accounts.login"))
    user, next_url = found
    if request.method == "POST" and "credential" in request.form:
        return _second_step_with_key(user, next_url)
    form = SecondStepForm()
    status = 200
    if form.validate_on_submit():
        wait = services.wait_for(user.id)
        used = None if wait else services.check_code(user.id, form.code.data)
        if used is not None:
            services.succeeded(user.id)
            if used == "recovery":
                flash(
                    _(
                        "You used a recovery code. %(n)d left: make new ones from your "
                        "account page if you are running out.",
                        n=services.recovery_codes_left(user.id),
                    ),
                    "info",
                )
            return finish_login(user, next_url)
        if wait:
            form.code.errors.append(wait.message)
            status = 429
        else:
            services.failed(user.id)
            # Kept although the answer is an error (which rolls the request back).
            db.session.commit()
            form.code.errors.append(_("That code is not right, or has been used already."))
            status = 401
    elif form.is_submitted():
        status = 422
    return _second_step_page(user, form, status)


def _second_step_page(user, form, status: int, key_error: str | None = None):
    return render_template(
        "mfa/second_step.html",
        form=form,
        has_keys=bool(keys.keys_of(user.id)),
        has_app=services.totp_of(user.id) is not None,
        key_error=key_error,
    ), status


def _second_step_with_key(user, next_url: str):
    form = KeyLoginForm()
    if not form.validate_on_submit():
        return _second_step_page(
            user, SecondStepForm(formdata=None), 422, _("The security key gave no answer.")
        )
    wait = services.wait_for(user.id)
    if wait:
        return _second_step_page(user, SecondStepForm(formdata=None), 429, wait.message)
    try:
        ok = keys.authenticate(user, form.credential.data)
    except services.MfaError as exc:
        return _second_step_page(user, SecondStepForm(formdata=None), 422, exc.message)
    if ok:
        services.succeeded(user.id)
        return finish_login(user, next_url)
    services.failed(user.id)
    db.session.commit()
    return _second_step_page(
        user, SecondStepForm(formdata=None), 401, _("That security key is not one of yours.")
    )


@bp.post("/login/second-step/key-options")
def login_key_options():
    """The options for the browser to ask the pending person's security key (JSON)."""
    found = None if current_user.is_authenticated else services.pending()
    if found is None:
        return {"error": _("Log in with your email address and password first.")}, 400
    try:
        options = keys.authentication_options(found[0])
    except services.MfaError as exc:
        return {"error": exc.message}, 400
    return current_app.response_class(options, mimetype="application/json")


# Setting up an authenticator app -------------------------------------------------------


@bp.post("/account/two-step/app/new")
@login_required
def new_app():
    if services.totp_of(current_user.id) is not None:
        flash(_("An authenticator app is already set up."), "info")
        return redirect(_account_url())
    session[services.NEW_SECRET_KEY] = services.new_secret()
    return redirect(url_for("mfa.app_setup"))


@bp.route("/account/two-step/app", methods=["GET", "POST"])
@login_required
def app_setup():
    secret = session.get(services.NEW_SECRET_KEY)
    if not isinstance(secret, str) or services.totp_of(current_user.id) is not None:
        return redirect(_account_url())
    form = ConfirmAppForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = services.enable_totp(current_user, secret, form.code.data)
        except services.MfaError as exc:
            form.code.errors.append(exc.message)
            status = 422
        else:
            session.pop(services.NEW_SECRET_KEY, None)
            services.tell_factor_changed(current_user, _("an authenticator app was set up."))
            # Shown once, on this answer only: they are stored as hashes.
            return render_template("mfa/recovery_codes.html", codes=codes, just_set_up="app")
    elif form.is_submitted():
        status = 422
    uri = services.provisioning_uri(current_user, secret)
    return render_template(
        "mfa/app_setup.html",
        form=form,
        qr=services.qr_data_uri(uri),
        secret=services.grouped(secret),
    ), status


def _proves_it_is_you(form: ProveItIsYouForm) -> bool:
    """Whether the form carries the person's password or a right code (a wrong one
    counts towards the slowing of guesses, like a wrong code at login)."""
    user_id = current_user.id
    wait = services.wait_for(user_id)
    if wait:
        flash(wait.message, "error")
        return False
    password, code = form.password.data or "", form.code.data or ""
    if password and accounts.authenticate(current_user.email, password) is not None:
        return True
    if code and services.check_code(user_id, code) is not None:
        return True
    services.failed(user_id)
    flash(_("Give your password, or a code from your app, to do that."), "error")
    return False


@bp.post("/account/two-step/app/off")
@login_required
def app_off():
    if services.totp_of(current_user.id) is None:
        return redirect(_account_url())
    form = ProveItIsYouForm()
    if form.validate_on_submit() and _proves_it_is_you(form):
        services.succeeded(current_user.id)
        services.disable_totp(current_user.id)
        services.tell_factor_changed(current_user, _("the authenticator app was turned off."))
        flash(_("The authenticator app is turned off for your account."), "success")
    return redirect(_account_url())


@bp.post("/account/two-step/recovery-codes")
@login_required
def new_codes():
    if not services.has_second_factor(current_user.id):
        return redirect(_account_url())
    form = ProveItIsYouForm()
    if form.validate_on_submit() and _proves_it_is_you(form):
        services.succeeded(current_user.id)
        codes = services.new_recovery_codes(current_user.id)
        services.tell_factor_changed(current_user, _("new recovery codes were made."))
        return render_template("mfa/recovery_codes.html", codes=codes, just_set_up=None)
    return redirect(_account_url())


# Security keys -------------------------------------------------------------------------


@bp.post("/account/two-step/keys/options")
@login_required
def key_options():
    """The options for the browser to create a security key (JSON)."""
    options = keys.registration_options(current_user)
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/account/two-step/keys")
@login_required
def add_key():
    form = AddKeyForm()
    if not form.validate_on_submit():
        flash(_("The security key could not be added. Try again."), "error")
        return redirect(_account_url())
    try:
        codes = keys.register(current_user, form.credential.data, form.name.data or "")
    except services.MfaError as exc:
        flash(exc.message, "error")
        return redirect(_account_url())
    services.tell_factor_changed(current_user, _("a security key was added."))
    if codes:
        return render_template("mfa/recovery_codes.html", codes=codes, just_set_up="key")
    flash(_("The security key is added: you can use it when you log in."), "success")
    return redirect(_account_url())


@bp.post("/account/two-step/keys/<int:key_id>/remove")
@login_required
def remove_key(key_id: int):
    if not any(key.id == key_id for key in keys.keys_of(current_user.id)):
        abort(404)
    form = ProveItIsYouForm()
    if form.validate_on_submit() and _proves_it_is_you(form):
        services.succeeded(current_user.id)
        keys.remove(current_user.id, key_id)
        services.tell_factor_changed(current_user, _("a security key was removed."))
        flash(_("The security key is removed from your account."), "success")
    return redirect(_account_url())
