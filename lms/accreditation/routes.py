"""Trainees' certificates, national officers' requests and register, revocation."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Response,
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
from sqlalchemy import and_, bindparam, select

from lms.accounts.models import Role
from lms.accreditation import register as register_data
from lms.accreditation import services, storage
from lms.accreditation.models import (
    Accreditation,
    Certificate,
    CertificateFile,
)
from lms.csrf import keeps_typed_text
from lms.exports import csv_response, csv_text
from lms.extensions import db
from lms.i18n import _
from lms.learning import services as learning
from lms.logs import audit
from lms.pagination import page_args
from lms.review.services import history
from lms.runs import services as runs
from lms.security import roles_required
from lms.sessions.store import without_session

log = logging.getLogger(__name__)

bp = Blueprint("accreditation", __name__)


# --- Trainees -----------------------------------------------------------------------------


@bp.get("/certificates")
@login_required
def mine():
    cat = learning.catalogue()
    courses = []
    for enrolment in learning.enrolments_for(current_user):
        course = cat.get(enrolment.course_slug)
        if course is None or course.certificate is None:
            continue
        courses.append(
            {
                "course": course,
                "requirements": services.requirements(current_user, course),
                "accreditation": services.accreditation_for(current_user, course),
            }
        )
    return render_template(
        "accreditation/mine.html",
        courses=courses,
        certificates=services.certificates_of(current_user),
        accreditations=services.accreditations_of(current_user),
        now=services.utcnow(),
        form=FlaskForm(),
    )


@bp.post("/certificates/privacy")
@login_required
def privacy():
    if FlaskForm().validate_on_submit():
        current_user.is_name_public = request.form.get("is_name_public") == "yes"
        flash(
            _("Your name will be shown when someone checks your certificate.")
            if current_user.is_name_public
            else _("Your name will only be shown to people who type your surname."),
            "success",
        )
    return redirect(url_for("accreditation.mine"))


# A certificate by number with its current file (None before its rendering job ran),
# built once: the download is the most repeated request after page views.
_BY_NUMBER_WITH_FILE = (
    select(Certificate, CertificateFile)
    .outerjoin(
        CertificateFile,
        and_(CertificateFile.certificate_id == Certificate.id, CertificateFile.is_current),
    )
    .where(Certificate.number == bindparam("number"))
    .order_by(CertificateFile.id.desc())
    .limit(1)
)
_NOT_LOOKED_UP = object()


def _pdf_response(
    certificate: Certificate, download: bool = True, stored: Any = _NOT_LOOKED_UP
) -> Response:
    """Serve the current stored PDF (after the caller's access check).

    The file is checked against its recorded SHA-256 before it is sent, so a file
    changed on disk is never served; the hash is the ETag, so a conditional request
    for the same rendering answers 304. While the rendering job has not yet run the
    person gets a page saying the certificate is being prepared. ``stored`` is the
    current file when the caller has read it already (None: there is none yet).
    """
    if stored is _NOT_LOOKED_UP:
        stored = db.session.scalar(
            select(CertificateFile)
            .where(CertificateFile.certificate_id == certificate.id, CertificateFile.is_current)
            .order_by(CertificateFile.id.desc())
            .limit(1)
        )
    if stored is None:
        response = Response(
            render_template("accreditation/preparing.html", certificate=certificate), 202
        )
        response.headers["Retry-After"] = "10"
        response.headers["Cache-Control"] = "private, no-store"
        return response
    return _file_response(certificate.number, stored, download)


def _file_response(number: str, stored: Any, download: bool) -> Response:
    """Send the stored file ``stored`` (with sha256, size, created_at) of certificate
    ``number``, checked against its hash, with the hash as its ETag."""
    try:
        path = storage.verify_file(stored.sha256, stored.size)
    except storage.StoredFileError:
        log.error(
            "The stored file of certificate %s (SHA-256 %s) cannot be served: missing or "
            "changed on disk",
            number,
            stored.sha256,
        )
        return Response(
            render_template(
                "errors/error.html",
                status=500,
                title=_("This certificate cannot be downloaded just now"),
                message=_(
                    "Its stored file could not be checked. The training office has been "
                    "told; please try again later."
                ),
            ),
            500,
        )
    response = send_file(
        path,
        mimetype="application/pdf",
        as_attachment=download,
        download_name=f"{number}.pdf",
        conditional=True,
        etag=stored.sha256,
        last_modified=stored.created_at,
        max_age=0,
    )
    # Personal data: never kept by a shared computer's browser or a proxy.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-SHA256"] = stored.sha256
    return response


@bp.app_template_global()
def certificate_file_url(certificate: Certificate) -> str:
    """The PDF link a page shows beside a certificate it has already let the viewer
    see: a short-lived signed link (:func:`storage.file_link`), audited when the viewer
    is not the holder."""
    stored = getattr(certificate, "linked_file", _NOT_LOOKED_UP)
    if stored is _NOT_LOOKED_UP:
        stored = certificate.current_file
    if stored is None:  # not rendered yet: the checked address says it is being prepared
        return url_for("accreditation.download", number=certificate.number)
    viewer = current_user.id if certificate.user_id != current_user.id else None
    return storage.file_link(certificate.number, stored, audited_viewer=viewer)


@bp.get("/certificates/files/<token>/<number>.pdf")
@without_session
def file(token: str, number: str):
    """A PDF through the signed link a page gave after its access check
    (:func:`storage.file_link`): the link names the file, so nothing is looked up (no
    session, person, permission or file row); the file is still checked against its
    hash. An expired link, or one from another browser session, goes to
    :func:`download`, which checks access again."""
    link = storage.read_file_link(token, number)
    if link is None:
        return redirect(url_for("accreditation.download", number=number), 303)
    stored, download_it, viewer = link
    if viewer is not None:
        audit("certificate PDF", viewer=viewer, number=number)
    return _file_response(number, stored, download_it)


@bp.get("/certificates/<number>.pdf")
@login_required
def download(number: str):
    row = db.session.execute(_BY_NUMBER_WITH_FILE, {"number": number}).first()
    if row is None:
        abort(404)
    certificate, stored = row
    if certificate.user_id != current_user.id:
        if not services.can_revoke(current_user, certificate):
            abort(404)  # the same answer whether or not the number exists
        audit("certificate PDF", number=certificate.number)  # someone else's (ASVS 8.3.5)
    return _pdf_response(certificate, stored=stored)


# --- National officers --------------------------------------------------------------------


def _record_or_404(accreditation_id: int) -> Accreditation:
    record = db.session.get(Accreditation, accreditation_id)
    if record is None:
        abort(404)
    return record


@bp.route("/register/requests/<int:accreditation_id>", methods=["GET", "POST"])
@keeps_typed_text
@roles_required(Role.OFFICER, Role.ADMIN)
def request_(accreditation_id: int):
    record = _record_or_404(accreditation_id)
    if not services.can_decide(current_user, record):
        abort(403)
    course = learning.catalogue().get(record.course_slug)
    if course is None:
        abort(404)
    error = None
    note = request.form.get("note", "")
    status = 200
    if request.method == "POST":
        decision = request.form.get("decision")
        if not FlaskForm().validate_on_submit():
            error, status = _("Your session timed out. Your note is still here: try again."), 400
        else:
            try:
                if decision == "confirm":
                    certificate = services.confirm(record, current_user, note)
                    flash(
                        _(
                            "Accreditation confirmed. Certificate %(number)s issued.",
                            number=certificate.number,
                        ),
                        "success",
                    )
                    return redirect(url_for("accreditation.register"))
                if decision == "decline":
                    services.decline(record, current_user, note)
                    flash(_("Accreditation declined. The trainee can read your note."), "info")
                    return redirect(url_for("accreditation.register"))
                error, status = _("Choose confirm or decline."), 422
            except services.AccreditationError as exc:
                error, status = exc.message, 422
    user = record.user
    enrolment = learning.get_enrolment(user, course)
    cases = []
    if enrolment is not None:
        registry = learning.registry()
        for activity in course.activities:
            if registry[activity.type].is_reviewed:
                versions = history(enrolment, activity.key)
                cases.append({"activity": activity, "versions": versions})
    run = services.trainee_run(user, course)
    return render_template(
        "accreditation/request.html",
        record=record,
        course=course,
        person=user,
        requirements=services.requirements(user, course),
        progress=learning.course_progress(enrolment, course) if enrolment else None,
        cases=cases,
        run=run,
        attendance=runs.attendance_for_user(run, user) if run else {},
        error=error,
        note=note,
        form=FlaskForm(),
    ), status


@bp.get("/register")
@roles_required(Role.OFFICER, Role.ADMIN)
def register():
    filters = register_data.Filters.from_args(request.args)
    page, per_page = page_args()
    return render_template(
        "accreditation/register.html",
        rows=register_data.page(current_user, filters, page, per_page),
        filters=filters,
        regions=register_data.visible_regions(current_user),
        statuses=register_data.STATUS_LABELS,
        catalogue=learning.catalogue(),
        pending=register_data.pending(current_user, filters),
        expiring=register_data.expiring(current_user),
    )


@bp.get("/register.csv")
@roles_required(Role.OFFICER, Role.ADMIN)
def register_csv():
    filters = register_data.Filters.from_args(request.args)
    return csv_response(csv_text(register_data.csv_rows(current_user, filters)), "register.csv")


@bp.get("/register/certificates")
@roles_required(Role.OFFICER, Role.ADMIN)
def certificates():
    filters = register_data.CertificateFilters.from_args(request.args)
    page, per_page = page_args()
    return render_template(
        "accreditation/certificates.html",
        certificates=register_data.certificates_page(current_user, filters, page, per_page),
        filters=filters,
        statuses=register_data.CERTIFICATE_STATUSES,
        course_options=[(c.slug, c.title) for c in learning.catalogue() if c.certificate],
        now=services.utcnow(),
    )


@bp.post("/register/certificates/<int:certificate_id>/revoke")
@roles_required(Role.OFFICER, Role.ADMIN)
def revoke(certificate_id: int):
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None:
        abort(404)
    if not services.can_revoke(current_user, certificate):
        abort(403)
    if not FlaskForm().validate_on_submit():
        flash(_("Your session timed out. Try again."), "warning")
        return redirect(url_for("accreditation.certificate", certificate_id=certificate.id))
    try:
        services.revoke(certificate, current_user, request.form.get("reason", ""))
    except services.AccreditationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("accreditation.certificate", certificate_id=certificate.id)), 303
    flash(_("Certificate %(number)s revoked.", number=certificate.number), "success")
    return redirect(url_for("accreditation.certificate", certificate_id=certificate.id))


@bp.get("/register/certificates/<int:certificate_id>")
@roles_required(Role.OFFICER, Role.ADMIN)
def certificate(certificate_id: int):
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None:
        abort(404)
    if not services.can_revoke(current_user, certificate):
        abort(403)
    return render_template(
        "accreditation/certificate.html",
        certificate=certificate,
        status=services.status(certificate),
        verify_url=services.verify_url(certificate),
        form=FlaskForm(),
    )
