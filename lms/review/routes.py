"""Facilitators' review queue and the review page for one piece of written work."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from lms.accounts.models import Role
from lms.csrf import keeps_typed_text
from lms.extensions import db
from lms.i18n import _
from lms.learning import services as learning
from lms.learning.models import Attempt, Enrolment
from lms.pagination import page_args
from lms.plugins import REVIEW_DECISIONS, AttemptView, ReviewContext, ReviewView
from lms.review import services
from lms.security import roles_required

bp = Blueprint("review", __name__, url_prefix="/facilitate/reviews")


@bp.get("")
@roles_required(Role.FACILITATOR, Role.ADMIN)
def queue():
    filters = services.QueueFilters.from_args(request.args)
    page, per_page = page_args()
    items = services.queue(current_user, filters, page, per_page)
    reviewed = services.reviewed_activities()
    runs, more_runs = services.queue_runs(current_user, filters.course, filters.run_q, filters.run)
    return render_template(
        "review/queue.html",
        items=items,
        filters=filters,
        show_all=filters.include_done,
        course_options=[(c.slug, c.title) for c in learning.catalogue() if c.slug in reviewed],
        run_options=[(r.id, r.title) for r in runs],
        more_runs=more_runs,
        run_choices=services.RUN_CHOICES,
    )


@bp.route("/<int:attempt_id>", methods=["GET", "POST"])
@keeps_typed_text
@roles_required(Role.FACILITATOR, Role.ADMIN)
def review(attempt_id: int):
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None:
        abort(404)
    enrolment = db.session.get(Enrolment, attempt.enrolment_id)
    if not services.can_review(current_user, enrolment):
        abort(403)
    course = learning.catalogue().get(enrolment.course_slug)
    activity = course.activity(attempt.activity_key) if course else None
    activity_type = learning.registry().get(activity.type) if activity else None
    if activity_type is None or not activity_type.is_reviewed:
        abort(404)
    form = FlaskForm()
    error = None
    error_field = ""
    values = activity_type.review_values(activity.config, request.form)
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            error = _(
                "Your session timed out. Your marks and comments are still here: save them again."
            )
            status = 400
        else:
            try:
                services.record_review(
                    attempt,
                    current_user,
                    values.get("decision", ""),
                    values.get("criteria", {}),
                    values.get("comments", ""),
                )
            except services.ReviewError as exc:
                error, error_field = exc.message, exc.field
                status = 422
            else:
                flash(
                    _(
                        "Review saved. %(name)s can see it on their dashboard.",
                        name=enrolment.user.name,
                    ),
                    "success",
                )
                return redirect(url_for("review.queue"))
    history = _history_views(services.history(enrolment, activity.key))
    current = next(a for a in history if a.number == attempt.number)
    ctx = ReviewContext(
        course=course,
        module=course.module_of(activity),
        activity=activity,
        trainee_name=enrolment.user.name,
        attempt=current,
        history=history,
        is_latest=attempt.number == history[-1].number,
        values=values,
        error=error,
        error_field=error_field,
    )
    # The type's own reviewer view (activity/<type>/review.html), or the plain one.
    return render_template(
        [activity_type.template(activity_type.review_template), "review/review.html"],
        ctx=ctx,
        config=activity.config,
        values=values,
        activity_type=activity_type,
        decisions=REVIEW_DECISIONS,
        form=form,
        **activity_type.review_context(ctx),
    ), status


def _history_views(history: list[tuple[Attempt, list]]) -> list[AttemptView]:
    """Versions and their reviews as activity types see them (lms.plugins)."""
    return [
        AttemptView(
            number=a.number,
            data=dict(a.data or {}),
            score=a.score,
            is_passed=a.is_passed,
            submitted_at=a.submitted_at,
            reviews=tuple(
                ReviewView(
                    decision=r.decision,
                    criteria=dict(r.criteria or {}),
                    comments=r.comments,
                    reviewer_name=r.reviewer.name if r.reviewer else "",
                    created_at=r.created_at,
                )
                for r in reviews
            ),
        )
        for a, reviews in history
    ]
