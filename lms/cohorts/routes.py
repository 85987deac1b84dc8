"""How a facilitator's cohort is doing: per run, trainees by activities with completion,
attendance and review state, and the same as CSV."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from lms.accounts.models import Role
from lms.cohorts import services
from lms.exports import csv_response, csv_text
from lms.extensions import db
from lms.pagination import page_args
from lms.runs import services as runs
from lms.runs.models import ATTENDANCE_LABELS, CourseRun
from lms.security import roles_required

bp = Blueprint("cohorts", __name__, url_prefix="/facilitate")


def _managed_run_or_403(run_id: int) -> CourseRun:
    """The run, for its facilitators and administrators: 404 when there is no such run, 403
    for anyone else (as the facilitator's run page answers)."""
    run = db.session.get(CourseRun, run_id)
    if run is None:
        abort(404)
    if not runs.can_manage(current_user, run):
        abort(403)
    return run


@bp.get("/runs/<int:run_id>/progress")
@roles_required(Role.FACILITATOR, Role.ADMIN)
def grid(run_id: int):
    run = _managed_run_or_403(run_id)
    filters = services.GridFilters.from_args(request.args)
    page, per_page = page_args()
    return render_template(
        "cohorts/grid.html",
        grid=services.grid(run, current_user, filters, page, per_page),
        run=run,
        states=services.STATE_ORDER,
        attendance_labels=ATTENDANCE_LABELS,
    )


@bp.get("/runs/<int:run_id>/progress.csv")
@roles_required(Role.FACILITATOR, Role.ADMIN)
def grid_csv(run_id: int):
    run = _managed_run_or_403(run_id)
    filters = services.GridFilters.from_args(request.args)
    grid = services.grid(run, current_user, filters, everyone=True)
    suffix = f"-{filters.show}" if filters.show else ""
    return csv_response(csv_text(services.csv_rows(grid)), f"progress-run-{run.id}{suffix}.csv")
