"""The catalogue of courses, a course's page, and enrolment."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from lms.feedback import services as feedback
from lms.i18n import _, install_jinja_gettext
from lms.learning import services
from lms.runs import services as runs

bp = Blueprint("catalogue", __name__)
# Faster gettext for every template (see lms.i18n). Done when this blueprint is
# registered, which create_app does after Babel is set up; it belongs in create_app's
# template set-up (lms/__init__.py) and moves there once that file is free to edit.
bp.record_once(lambda state: install_jinja_gettext(state.app))


@bp.get("/")
def home():
    if current_user.is_authenticated:
        return redirect(url_for("learning.dashboard"))
    return render_template("catalogue/home.html")


@bp.get("/courses")
@login_required
def index():
    items = []
    for course in services.catalogue():
        enrolment = services.get_enrolment(current_user, course)
        items.append(
            {
                "course": course,
                "enrolment": enrolment,
                "progress": services.course_progress(enrolment, course) if enrolment else None,
                "missing": []
                if enrolment
                else services.missing_prerequisites(current_user, course),
            }
        )
    return render_template("catalogue/index.html", items=items, form=FlaskForm())


@bp.get("/courses/<slug>")
@login_required
def course(slug: str):
    course = services.catalogue().get(slug)
    if course is None:
        abort(404)
    enrolment = services.get_enrolment(current_user, course)
    progress = services.progress_map(enrolment) if enrolment else {}
    my_place = runs.active_place_on_course(current_user, course.slug)
    return render_template(
        "catalogue/course.html",
        course=course,
        enrolment=enrolment,
        progress=progress,
        course_progress=services.course_progress(enrolment, course) if enrolment else None,
        missing=[] if enrolment else services.missing_prerequisites(current_user, course),
        registry=services.registry(),
        form=FlaskForm(),
        catalogue=services.catalogue(),
        runs=runs.upcoming_open_runs(course),
        my_place=my_place,
        changes=feedback.changes_for(course),
    )


@bp.post("/courses/<slug>/enrol")
@login_required
def enrol(slug: str):
    course = services.catalogue().get(slug)
    if course is None:
        abort(404)
    form = FlaskForm()
    if not form.validate_on_submit():
        flash(_("Your session timed out. Press “Join this course” again."), "warning")
        return redirect(url_for("catalogue.course", slug=slug))
    try:
        enrolment = services.enrol(current_user, course)
    except services.EnrolmentRefused as refused:
        flash(refused.message, "error")
        return redirect(url_for("catalogue.course", slug=slug)), 303
    flash(_("You have joined %(course)s.", course=course.title), "success")
    activity = services.resume_activity(enrolment, course)
    return redirect(url_for("learning.activity", slug=slug, key=activity.key))
