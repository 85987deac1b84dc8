"""Privacy pages: administrators find a person, start a subject access export, download
it and erase the person (``/admin/privacy``); a person asks for and downloads their own
copy (``/account/my-data``).

Exports are made by the job ``privacy.export`` (:mod:`lms.privacy.services`); a person
sees and downloads only their own (anyone else's is a 404, the same as a missing one).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import StringField

from lms.accounts.models import Role, User
from lms.db import utcnow
from lms.extensions import db
from lms.i18n import _, _l
from lms.jobs import services as jobs
from lms.pagination import page_args, paginate, search_arg
from lms.privacy import services
from lms.privacy.models import PrivacyExport
from lms.security import roles_required

bp = Blueprint("privacy", __name__)

STATUS_LABELS = {
    "queued": _l("Being prepared"),
    "ready": _l("Ready"),
    "failed": _l("Failed"),
    "expired": _l("Expired (file deleted)"),
}


class EraseForm(FlaskForm):
    confirm_email = StringField(_l("Type the person’s email address to confirm"))


@bp.app_context_processor
def _privacy_pages() -> dict:
    """Templates of other domains link to these pages only when the blueprint is there."""
    return {"privacy_pages": True}


def _find_person(email: str) -> User | None:
    from lms.accounts.services import find_by_email

    return find_by_email(email) if email else None


def _rows(records) -> list[dict]:
    now = utcnow()
    statuses = services.job_statuses(records)
    return [
        {
            "record": r,
            "status": (status := services.shown_status(r, statuses.get(r.job_id), now)),
            "label": STATUS_LABELS.get(status, status),
            "downloadable": r.is_downloadable(now),
        }
        for r in records
    ]


def _send(record: PrivacyExport):
    path = services.export_path(record)
    if path is None or not path.is_file() or path.parent != services.export_dir():
        abort(404)
    response = send_file(
        path,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"mip-training-data-{record.requested_at:%Y-%m-%d}.zip",
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _queue_warning() -> None:
    queue = jobs.queue()
    if not queue.immediate and not queue.workers():
        flash(
            _(
                "No job worker is running: the copy is made when one starts "
                "(flask --app wsgi lms jobs worker)."
            ),
            "warning",
        )


# --- Administrators -----------------------------------------------------------------------


@bp.get("/admin/privacy")
@roles_required(Role.ADMIN)
def admin():
    email = search_arg(request.args, "email", 254)
    person = _find_person(email)
    page, per_page = page_args(request.args)
    stmt = services.recent_exports_stmt()
    if person is not None:
        stmt = stmt.where(PrivacyExport.user_id == person.id)
    exports = paginate(stmt, page, per_page, default_per_page=25)
    return render_template(
        "privacy/admin.html",
        email=email,
        person=person,
        exports=exports,
        rows=_rows(exports.items),
        form=FlaskForm(),
        days=services.export_days(),
    )


@bp.post("/admin/privacy/people/<int:user_id>/export")
@roles_required(Role.ADMIN)
def admin_export(user_id: int):
    person = db.session.get(User, user_id)
    if person is None:
        abort(404)
    back = url_for("privacy.admin", email=person.email)
    if not FlaskForm().validate_on_submit():
        flash(_("The form had expired. Press the button again."), "warning")
        return redirect(back, 303)
    try:
        services.start_export(person, current_user)
    except services.PrivacyError as exc:
        flash(str(exc), "info")
        return redirect(back, 303)
    flash(
        _(
            "A copy of %(name)s’s data is being prepared. It is listed below when ready; "
            "they are told and can download it from their account too.",
            name=person.name,
        ),
        "success",
    )
    _queue_warning()
    return redirect(back, 303)


@bp.get("/admin/privacy/exports/<int:export_id>/download")
@roles_required(Role.ADMIN)
def admin_download(export_id: int):
    record = db.session.get(PrivacyExport, export_id)
    if record is None or not record.is_downloadable(utcnow()):
        abort(404)
    return _send(record)


def _erase_page(person: User, form: EraseForm, status: int = 200):
    from lms.accreditation.models import Certificate

    certificates = db.session.scalar(
        select(func.count()).select_from(Certificate).where(Certificate.user_id == person.id)
    )
    return render_template(
        "privacy/erase.html",
        person=person,
        form=form,
        certificates=certificates,
        is_self=person.id == current_user.id,
    ), status


@bp.get("/admin/privacy/people/<int:user_id>/erase")
@roles_required(Role.ADMIN)
def erase_confirm(user_id: int):
    person = db.session.get(User, user_id)
    if person is None:
        abort(404)
    return _erase_page(person, EraseForm(formdata=None))


@bp.post("/admin/privacy/people/<int:user_id>/erase")
@roles_required(Role.ADMIN)
def erase(user_id: int):
    person = db.session.get(User, user_id)
    if person is None:
        abort(404)
    form = EraseForm()
    typed = (form.confirm_email.data or "").strip()
    if not form.validate_on_submit():
        form.confirm_email.errors = [_("The form had expired. Type the email address again.")]
        return _erase_page(person, form, 422)
    if person.id == current_user.id:
        form.confirm_email.errors = [
            _("You cannot erase your own account here: ask another administrator.")
        ]
        return _erase_page(person, form, 422)
    if typed.lower() != person.email.lower():
        form.confirm_email.errors = [
            _("That is not this person’s email address. Type it exactly to confirm.")
        ]
        return _erase_page(person, form, 422)
    name = person.name
    services.erase_user(person, by=current_user)
    db.session.commit()
    services.after_erasure_commit()
    flash(
        _(
            "%(name)s’s account and personal data were erased. Their certificates stay only "
            "as anonymous records that verification shows as withdrawn.",
            name=name,
        ),
        "success",
    )
    return redirect(url_for("privacy.admin"), 303)


# --- The person ---------------------------------------------------------------------------


@bp.get("/account/my-data")
@login_required
def my_data():
    return render_template(
        "privacy/my_data.html",
        rows=_rows(services.exports_of(current_user)),
        form=FlaskForm(),
        days=services.export_days(),
    )


@bp.post("/account/my-data/export")
@login_required
def request_export():
    if not FlaskForm().validate_on_submit():
        flash(_("The form had expired. Press the button again."), "warning")
        return redirect(url_for("privacy.my_data"), 303)
    try:
        services.start_export(current_user, current_user)
    except services.PrivacyError as exc:
        flash(str(exc), "info")
    else:
        flash(
            _("Your copy is being prepared. We will tell you when it is ready to download."),
            "success",
        )
    return redirect(url_for("privacy.my_data"), 303)


@bp.get("/account/my-data/exports/<int:export_id>/download")
@login_required
def download(export_id: int):
    record = db.session.get(PrivacyExport, export_id)
    if record is None or record.user_id != current_user.id:
        abort(404)  # someone else's: the same answer as a missing one
    if not record.is_downloadable(utcnow()):
        flash(_("That copy has expired and its file was deleted. Ask for a new one."), "info")
        return redirect(url_for("privacy.my_data"), 303)
    return _send(record)
