"""/admin/jobs: the queue at a glance, failed jobs with a Retry button, re-issue batches.

Administrators only. Lists are paged; counts and progress are SQL aggregates.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from lms.accounts.models import Role
from lms.accreditation import services as accreditation
from lms.extensions import db
from lms.i18n import _, _l, ngettext
from lms.jobs import services
from lms.jobs.forms import ReissueForm, RetryForm
from lms.jobs.models import Job, JobBatch
from lms.pagination import page_args, paginate
from lms.security import is_safe_next, roles_required

bp = Blueprint("jobs", __name__, url_prefix="/admin/jobs")

PAGE_SIZE = 25
RECENT_BATCHES = 5


def _reissue_form() -> ReissueForm:
    form = ReissueForm()
    courses = [c for c in current_app_courses() if c.certificate is not None]
    form.course.choices = [SelectChoice("", _("Choose a course"))] + [
        SelectChoice(c.slug, c.title) for c in courses
    ]
    return form


def current_app_courses():
    from lms.learning import services as learning

    return list(learning.catalogue())


def _overview(form: ReissueForm, status: int = 200):
    page, per_page = page_args()
    failed = paginate(services.failed_jobs_stmt(), page, per_page, default_per_page=PAGE_SIZE)
    batches = list(db.session.scalars(services.batches_stmt().limit(RECENT_BATCHES)))
    queue = services.queue()
    return render_template(
        "jobs/index.html",
        failed=failed,
        batches=batches,
        progress=services.batch_progress(b.id for b in batches),
        counts=services.status_counts(),
        workers=queue.workers(),
        immediate=queue.immediate,
        form=form,
        retry_form=RetryForm(),
    ), status


@bp.get("")
@roles_required(Role.ADMIN)
def index():
    return _overview(_reissue_form())


@bp.post("/<int:job_id>/retry")
@roles_required(Role.ADMIN)
def retry(job_id: int):
    job = db.session.get(Job, job_id)
    if job is None:
        abort(404)
    if RetryForm().validate_on_submit():
        try:
            services.retry(job)
        except services.JobError:
            flash(_("Job %(id)d is not failed any more; nothing to retry.", id=job.id), "info")
        else:
            flash(_("Job %(id)d will be tried again now.", id=job.id), "success")
    else:
        flash(_("The form had expired. Press Retry again."), "warning")
    back = request.form.get("back")
    return redirect(back if is_safe_next(back) else url_for("jobs.index"), 303)


@bp.post("/reissue")
@roles_required(Role.ADMIN)
def reissue():
    form = _reissue_form()
    if form.validate_on_submit():
        course = next((c for c in current_app_courses() if c.slug == form.course.data), None)
        try:
            if course is None:
                raise accreditation.AccreditationError(_("Choose a course."), "course")
            batch = accreditation.start_reissue(course, started_by=current_user)
        except accreditation.AccreditationError as exc:
            form.course.errors.append(exc.message)
        else:
            queue = services.queue()
            flash(
                ngettext(
                    "Re-issuing %(num)d certificate of %(course)s.",
                    "Re-issuing %(num)d certificates of %(course)s.",
                    batch.total,
                    course=course.title,
                ),
                "success",
            )
            if not queue.immediate and not queue.workers():
                flash(
                    _(
                        "No job worker is running: the re-issue waits until one starts "
                        "(flask --app wsgi lms jobs worker)."
                    ),
                    "warning",
                )
            return redirect(url_for("jobs.batch", batch_id=batch.id))
    return _overview(form, 422)


@bp.get("/batches")
@roles_required(Role.ADMIN)
def batches():
    page, per_page = page_args()
    listed = paginate(services.batches_stmt(), page, per_page, default_per_page=PAGE_SIZE)
    return render_template(
        "jobs/batches.html",
        batches=listed,
        progress=services.batch_progress(b.id for b in listed),
    )


def _batch_or_404(batch_id: int) -> JobBatch:
    batch = db.session.get(JobBatch, batch_id)
    if batch is None:
        abort(404)
    return batch


@bp.get("/batches/<int:batch_id>")
@roles_required(Role.ADMIN)
def batch(batch_id: int):
    found = _batch_or_404(batch_id)
    page, per_page = page_args()
    failed = paginate(
        services.failed_jobs_stmt().where(Job.batch_id == found.id),
        page,
        per_page,
        default_per_page=PAGE_SIZE,
    )
    return render_template(
        "jobs/batch.html",
        batch=found,
        progress=services.batch_progress([found.id])[found.id],
        failed=failed,
        retry_form=RetryForm(),
    )


@bp.get("/batches/<int:batch_id>/progress")
@roles_required(Role.ADMIN)
def batch_progress(batch_id: int):
    """JSON for the batch page to follow progress without reloading."""
    found = _batch_or_404(batch_id)
    progress = services.batch_progress([found.id])[found.id]
    return jsonify(
        total=progress.total,
        done=progress.done,
        failed=progress.failed,
        percent=progress.percent,
        finished=progress.is_finished,
        text=progress_text(progress),
    )


def progress_text(progress: services.BatchProgress) -> str:
    text = _(
        "%(done)s of %(total)s done",
        done=f"{progress.done:,}",
        total=f"{progress.total:,}",
    )
    if progress.failed:
        text += ", " + _("%(failed)s failed", failed=f"{progress.failed:,}")
    if progress.is_finished:
        text += " · " + _("finished")
    return text


TASK_LABELS = {
    "mail.send": _l("Send an email"),
    "accreditation.render_certificate": _l("Render a new certificate"),
    "accreditation.reissue_certificates": _l("Re-issue certificates"),
    "accreditation.send_reminders": _l("Expiry reminders"),
}


@bp.app_template_global("job_progress_text")
def _progress_text_global(progress: services.BatchProgress) -> str:
    return progress_text(progress)


@bp.app_template_global("job_task_label")
def task_label(name: str) -> str:
    label = TASK_LABELS.get(name)
    return str(label) if label is not None else name
