"""Feedback results for facilitators, CSV exports, and "you said, we did"."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import exists, select
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from lms.accounts.models import Role
from lms.catalogue.content import Course
from lms.exports import csv_response
from lms.extensions import db
from lms.feedback import services
from lms.i18n import _, _l
from lms.learning import services as learning
from lms.pagination import page_args
from lms.runs import services as runs
from lms.runs.forms import choices
from lms.runs.models import CourseRun, RunFacilitator
from lms.security import roles_required

bp = Blueprint("feedback", __name__, url_prefix="/facilitate")


class ChangeForm(FlaskForm):
    run_id = SelectField(_l("Which run's feedback prompted it (optional)"), coerce=str)
    you_said = TextAreaField(
        _l("You said"),
        validators=[DataRequired(_l("Say what people told you.")), Length(max=2000)],
        description=_l("Summarise the feedback in general terms. Do not name anyone."),
    )
    we_did = TextAreaField(
        _l("We did"),
        validators=[DataRequired(_l("Say what was changed.")), Length(max=2000)],
    )


def _course_or_404(slug: str) -> Course:
    course = learning.catalogue().get(slug)
    if course is None:
        abort(404)
    return course


def _course_runs_for_user(course: Course) -> list[CourseRun]:
    """The runs of ``course`` whose feedback the current user may see."""
    return runs.runs_facilitated_by(current_user, course.slug)


def _may_see_course(course: Course) -> bool:
    if current_user.has_role(Role.ADMIN):
        return True
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    RunFacilitator.user_id == current_user.id,
                    RunFacilitator.run_id == CourseRun.id,
                    CourseRun.course_slug == course.slug,
                )
            )
        )
    )


@bp.get("/runs/<int:run_id>/feedback")
@roles_required(Role.FACILITATOR, Role.ADMIN)
def run_results(run_id: int):
    run = db.session.get(CourseRun, run_id)
    if run is None:
        abort(404)
    if not runs.can_manage(current_user, run):
        abort(403)
    course = _course_or_404(run.course_slug)
    forms = services.results_for(course, services.feedback_forms(course), [run.id])
    return render_template(
        "feedback/results.html", course=course, run=run, forms=forms, minimum=services.MIN_RESPONSES
    )


def _selection(course: Course) -> tuple[services.Selection, list[services.RunOption]]:
    """The runs chosen in the query string (``from``, ``to``, ``run``) and the runs the
    current user may pick. A run that is not a number or not this course's is not found
    (404); one of this course the user may not see on its own is refused (403), as on the
    run pages. Bad dates are the selection's ``errors`` (the page explains them)."""
    selection = services.Selection.from_args(request.args)
    if "run" in selection.errors:
        abort(404)  # not a run's number: the select offers nothing else
    options = services.run_options(course, current_user)
    if selection.run_id is not None and all(o.id != selection.run_id for o in options):
        run = db.session.get(CourseRun, selection.run_id)
        abort(404 if run is None or run.course_slug != course.slug else 403)
    return selection, options


def _to_course_page(course: Course, selection: services.Selection):
    """A comments page or export asked for with bad dates: the course page says what is wrong."""
    return redirect(url_for("feedback.course_results", slug=course.slug, **selection.args))


@bp.get("/courses/<slug>/feedback")
@roles_required(Role.FACILITATOR, Role.ADMIN)
def course_results(slug: str):
    """Results across the course's runs (all of them, or those chosen by first day and
    run), beside the course's "you said, we did" history."""
    course = _course_or_404(slug)
    if not _may_see_course(course):
        abort(403)
    selection, options = _selection(course)
    forms = []
    if selection.is_valid:
        forms = services.results_for(
            course,
            services.feedback_forms(course),
            services.selected_runs(course, current_user, selection),
        )
    return render_template(
        "feedback/course.html",
        course=course,
        selection=selection,
        options=options,
        covered=services.runs_covered(options, selection) if selection.is_filtered else None,
        forms=forms,
        changes=services.changes_page(course, *page_args(param="changes")),
        is_admin=current_user.has_role(Role.ADMIN),
        minimum=services.MIN_RESPONSES,
    )


@bp.get("/courses/<slug>/feedback/<form_key>/<question_key>")
@roles_required(Role.FACILITATOR, Role.ADMIN)
def comments(slug: str, form_key: str, question_key: str):
    """Every answer to one text question, paged: for the runs chosen as on the course
    page (``?run=<id>``, ``?from=...&to=...``) or the whole course."""
    course = _course_or_404(slug)
    activity = course.activity(form_key)
    if activity is None or not services.is_feedback_form(activity):
        abort(404)
    if not _may_see_course(course):
        abort(403)
    selection, options = _selection(course)
    if not selection.is_valid:
        return _to_course_page(course, selection)
    page, per_page = page_args()
    try:
        answers, waiting = services.comments_page(
            course,
            activity,
            question_key,
            services.selected_runs(course, current_user, selection),
            page,
            per_page,
        )
    except services.FeedbackError:
        abort(404)
    question = next(q for q in activity.config.questions if q.key == question_key)
    run = next((o for o in options if o.id == selection.run_id), None)
    return render_template(
        "feedback/comments.html",
        course=course,
        run=run,
        selection=selection,
        activity=activity,
        question=question,
        answers=answers,
        waiting=waiting,
        minimum=services.MIN_RESPONSES,
    )


@bp.get("/runs/<int:run_id>/feedback.csv")
@roles_required(Role.FACILITATOR, Role.ADMIN)
def run_csv(run_id: int):
    run = db.session.get(CourseRun, run_id)
    if run is None:
        abort(404)
    if not runs.can_manage(current_user, run):
        abort(403)
    course = _course_or_404(run.course_slug)
    return csv_response(services.export_csv(course, [run.id]), f"feedback-run-{run.id}.csv")


@bp.get("/courses/<slug>/feedback.csv")
@roles_required(Role.FACILITATOR, Role.ADMIN)
def course_csv(slug: str):
    """The released responses of the runs chosen as on the course page, or the whole course."""
    course = _course_or_404(slug)
    if not _may_see_course(course):
        abort(403)
    selection, _options = _selection(course)
    if not selection.is_valid:
        return _to_course_page(course, selection)
    # The days as the export covers them, whichever way they were typed.
    parts = [f"feedback-{course.slug}"]
    if selection.date_from is not None:
        parts.append(f"from-{selection.date_from.isoformat()}")
    if selection.date_to is not None:
        parts.append(f"to-{selection.date_to.isoformat()}")
    if selection.run_id is not None:
        parts.append(f"run-{selection.run_id}")
    name = "-".join(parts)
    return csv_response(
        services.export_csv(course, services.selected_runs(course, current_user, selection)),
        f"{name}.csv",
    )


@bp.route("/courses/<slug>/changes", methods=["GET", "POST"])
@roles_required(Role.FACILITATOR, Role.ADMIN)
def changes(slug: str):
    course = _course_or_404(slug)
    if not _may_see_course(course):
        abort(403)
    form = ChangeForm()
    course_runs = _course_runs_for_user(course)
    form.run_id.choices = choices(
        [("", _("Not tied to one run"))] + [(str(r.id), r.title) for r in course_runs]
    )
    if form.validate_on_submit():
        run = next((r for r in course_runs if str(r.id) == form.run_id.data), None)
        try:
            services.record_change(course, form.you_said.data, form.we_did.data, current_user, run)
        except services.FeedbackError as exc:
            getattr(form, exc.field).errors.append(exc.message)
        else:
            flash(_("Change recorded. Trainees will see it on the course page."), "success")
            return redirect(url_for("feedback.changes", slug=course.slug))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "feedback/changes.html",
        course=course,
        form=form,
        changes=services.changes_page(course, *page_args(param="changes")),
    ), status
