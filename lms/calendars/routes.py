"""Course days in people's calendars: iCalendar files per run and per place, and a
personal feed URL (a secret, revocable token) that calendar apps subscribe to."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from icalendar import Calendar

# services imports lms.calendars.models, which puts the feed table in the metadata.
from lms.calendars import services
from lms.calendars.forms import FeedForm
from lms.extensions import db
from lms.i18n import _
from lms.runs.models import CourseRun, RunPlace
from lms.sessions.store import without_session

bp = Blueprint("calendars", __name__)


def _ics(cal: Calendar, name: str) -> Response:
    response = Response(cal.to_ical(), mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/runs/<int:run_id>/calendar.ics")
@login_required
def run_file(run_id: int):
    """A run's days: for administrators, its facilitators, the people booked on it, and
    anyone while it is listed for sign-up (without the online link). 404 for others."""
    run = db.session.get(CourseRun, run_id)
    if run is None or not services.may_see_run(current_user, run):
        abort(404)
    cal = services.run_calendar(run, with_link=services.may_see_link(current_user, run))
    return _ics(cal, services.filename(run.title))


@bp.get("/my/places/<int:place_id>/calendar.ics")
@login_required
def place_file(place_id: int):
    """One's own place: its run's days (cancelled events once the place is given up)."""
    place = db.session.get(RunPlace, place_id)
    if place is None or place.user_id != current_user.id:
        abort(404)
    cal = services.place_calendar(place)
    if cal is None:  # on the waiting list: no days to put in a calendar yet
        abort(404)
    return _ics(cal, services.filename(place.run.title))


@bp.get("/calendar/<token>.ics")
@without_session
def feed(token: str):
    """The feed a calendar app subscribes to: no login, the token is the key. Unknown,
    revoked and malformed tokens are a plain 404. The path is redacted from logs."""
    user = services.user_for_token(token)
    if user is None:
        abort(404)
    return _ics(services.feed_calendar(user), "mip-course-days.ics")


@bp.route("/account/calendar", methods=["GET", "POST"])
@login_required
def settings():
    """See whether one has a feed address, make one (shown once) or revoke it."""
    form = FeedForm()
    token = None
    if form.is_submitted():
        if not form.validate():
            flash(_("Your session timed out. Press the button again."), "warning")
            return redirect(url_for("calendars.settings"))
        if form.action.data == "revoke":
            if services.revoke_feed(current_user):
                flash(
                    _("Your calendar feed address is revoked: calendars using it stop updating."),
                    "success",
                )
            return redirect(url_for("calendars.settings"))
        try:
            token = services.create_feed(current_user)
        except services.CalendarError as exc:
            flash(exc.message, "error")
            return redirect(url_for("calendars.settings"))
        # Shown on this answer only (like recovery codes): only its hash is kept.
    return render_template(
        "calendars/settings.html",
        feed=services.active_feed(current_user),
        urls=services.feed_urls(token) if token else None,
        places=services.booked_places(current_user),
        form=form,
    )
