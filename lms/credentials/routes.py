"""The DID document and the holder's credential downloads."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, abort, jsonify, request
from flask_login import current_user, login_required

from lms.credentials import contexts, services, status

bp = Blueprint("credentials", __name__)


@bp.get("/.well-known/did.json")
def did_json():
    response = jsonify(services.did_document())
    response.headers["Content-Type"] = "application/did+json"
    # Browser-based verifiers (e.g. the DCC's VerifierPlus) fetch it from their own origin.
    response.headers["Access-Control-Allow-Origin"] = "*"
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
    credential = services.signed_json(_own_certificate(number))
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


# How long verifiers and caches may keep a status list before asking again.
STATUS_LIST_MAX_AGE = 300


@bp.get("/credentials/status/<int:list_id>")
def status_list(list_id: int):
    """The signed BitstringStatusListCredential, as the publish job stored it (no login)."""
    found = status.published_list(list_id)
    if found is None:
        abort(404)
    text, row = found
    etag = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    response = Response(text, mimetype="application/vc+ld+json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={STATUS_LIST_MAX_AGE}"
    if row.published_at is not None:
        response.last_modified = row.published_at
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


@bp.get("/credentials/contexts/<name>")
def context_file(name: str):
    """The JSON-LD contexts this site signs with, exactly as bundled (no login)."""
    url = contexts.context_file_names().get(name)
    if url is None:
        abort(404)
    response = jsonify(contexts.bundled_context(url))
    response.mimetype = "application/ld+json"
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
