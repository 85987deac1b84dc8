"""The DID document and the holder's credential downloads."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify
from flask_login import current_user, login_required

from lms.credentials import services

bp = Blueprint("credentials", __name__)


@bp.get("/.well-known/did.json")
def did_json():
    response = jsonify(services.did_document())
    response.headers["Content-Type"] = "application/did+json"
    return response


def _own_certificate(number: str):
    from sqlalchemy import select

    from lms.accreditation.models import Certificate
    from lms.extensions import db

    certificate = db.session.scalar(select(Certificate).where(Certificate.number == number))
    if certificate is None or certificate.user_id != current_user.id:
        abort(404)
    return certificate


@bp.get("/certificates/<number>/credential.json")
@login_required
def download_json(number: str):
    credential = services.build_credential(_own_certificate(number))
    return Response(
        services.dumps(credential),
        mimetype="application/vc+ld+json",
        headers={"Content-Disposition": f'attachment; filename="{number}.json"'},
    )


@bp.get("/certificates/<number>/credential.jwt")
@login_required
def download_jwt(number: str):
    token = services.sign_jwt(services.build_credential(_own_certificate(number)))
    return Response(
        token,
        mimetype="application/vc+jwt",
        headers={"Content-Disposition": f'attachment; filename="{number}.jwt"'},
    )
