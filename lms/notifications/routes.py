"""A person's notices (``/notifications``) and which of them also come by email."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm.attributes import set_committed_value

from lms.db import defer_write
from lms.extensions import db
from lms.i18n import _
from lms.notifications import services
from lms.notifications.forms import MarkAllReadForm, PreferencesForm

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@login_required
def index():
    """The list, newest first. Opening it marks the notices shown as read; they still
    say "New" on this view, so the person sees which ones they had not seen."""
    page = services.page_of(current_user, request.args.get("page", 1))
    unread = [n.id for n in page.items if n.read_at is None]
    if unread:
        user_id = current_user.id

        def _mark() -> None:
            from lms.accounts.models import User

            services.mark_read(db.session.get(User, user_id), unread)

        defer_write(_mark)
        # The header already counts them as read (the write may come after the page).
        set_committed_value(
            current_user._get_current_object(),
            "unread_notifications",
            max(0, (current_user.unread_notifications or 0) - len(unread)),
        )
    return render_template(
        "notifications/index.html",
        page=page,
        new_ids=set(unread),
        mark_form=MarkAllReadForm(),
        kinds=services.KINDS,
    )


@bp.post("/notifications/read")
@login_required
def mark_all():
    form = MarkAllReadForm()
    if form.validate_on_submit():
        services.mark_all_read(current_user)
        flash(_("All your notices are marked as read."), "success")
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def settings():
    form = PreferencesForm()
    kinds = services.kinds_for(current_user)
    if request.method == "POST" and form.validate_on_submit():
        chosen = {k.key for k in kinds if request.form.get(f"email_{k.key}")}
        services.set_preferences(current_user, chosen)
        flash(_("Your choices are saved."), "success")
        return redirect(url_for("notifications.settings"))
    return render_template(
        "notifications/settings.html",
        form=form,
        kinds=kinds,
        choices=services.preferences(current_user),
    )
