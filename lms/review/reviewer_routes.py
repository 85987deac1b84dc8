"""Administration > Course reviewers: who reviews each course's work when no run applies,
and the waiting work nobody can review (lms.review.reviewers)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from lms.accounts.models import Role, User
from lms.extensions import db
from lms.i18n import _
from lms.learning import services as learning
from lms.pagination import page_args
from lms.review import reviewers
from lms.review.services import reviewed_activities
from lms.security import roles_required

bp = Blueprint("course_reviewers", __name__, url_prefix="/admin/courses")


def _course(slug: str):
    course = learning.catalogue().get(slug)
    if course is None or slug not in reviewed_activities():
        abort(404)
    return course


@bp.get("/reviewers")
@roles_required(Role.ADMIN)
def index():
    return render_template(
        "admin/course_reviewers.html",
        coverage=reviewers.coverage(),
        unassigned=reviewers.unassigned_count(),
    )


@bp.route("/<slug>/reviewers", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def course(slug: str):
    course = _course(slug)
    form = FlaskForm()
    error = None
    chosen = request.form.get("user_id", "")
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            error, status = _("Your session timed out. Choose the facilitator again."), 400
        else:
            person = db.session.get(User, int(chosen)) if chosen.isdigit() else None
            if person is None:
                error, status = _("Choose a facilitator to add."), 422
            else:
                try:
                    reviewers.assign(course, person, current_user)
                except reviewers.ReviewerError as exc:
                    error, status = exc.message, 422
                else:
                    flash(
                        _(
                            "%(name)s now reviews work on %(course)s.",
                            name=person.name,
                            course=course.title,
                        ),
                        "success",
                    )
                    return redirect(url_for("course_reviewers.course", slug=slug))
    named = reviewers.reviewers_of(slug)
    named_ids = {u.id for u in named}
    return render_template(
        "admin/course_reviewers_course.html",
        course=course,
        named=named,
        candidates=[u for u in reviewers.facilitators() if u.id not in named_ids],
        chosen=chosen,
        error=error,
        form=form,
        is_pool=course.review.by == reviewers.POOL,
    ), status


@bp.post("/<slug>/reviewers/<int:user_id>/remove")
@roles_required(Role.ADMIN)
def remove(slug: str, user_id: int):
    course = _course(slug)
    person = db.session.get(User, user_id)
    if person is None or not reviewers.unassign(course, user_id):
        abort(404)
    flash(
        _(
            "%(name)s no longer reviews work on %(course)s.",
            name=person.name,
            course=course.title,
        ),
        "success",
    )
    return redirect(url_for("course_reviewers.course", slug=slug))


@bp.get("/unassigned-work")
@roles_required(Role.ADMIN)
def unassigned():
    page, per_page = page_args()
    return render_template(
        "admin/unassigned_work.html", items=reviewers.unassigned_page(page, per_page)
    )
