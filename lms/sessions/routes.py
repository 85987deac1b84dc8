"""The account page's "Active sessions": end one of your sessions, or all the others.

Both forms are checked for their CSRF token by the app's CSRFProtect.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user, login_required

from lms.extensions import db
from lms.i18n import _
from lms.sessions import services
from lms.sessions.models import LoginSession

bp = Blueprint("sessions", __name__)


@bp.post("/account/sessions/<int:login_id>/end")
@login_required
def end(login_id: int):
    row = db.session.get(LoginSession, login_id)
    if row is None or row.user_id != current_user.id:
        abort(404)
    if row.id == services.current_login_id():
        services.log_out()
        flash(_("You have logged out."), "info")
        return redirect(url_for("accounts.login"))
    services.end([row.id])
    flash(_("That session has ended: it is logged out."), "success")
    return redirect(url_for("accounts.account") + "#sessions-h")


@bp.post("/account/sessions/end-others")
@login_required
def end_others():
    ended = services.end_all(current_user.id, keep=services.current_login_id())
    if ended:
        flash(_("Your other sessions have ended: only this one is logged in."), "success")
    else:
        flash(_("You are not logged in anywhere else."), "info")
    return redirect(url_for("accounts.account") + "#sessions-h")
