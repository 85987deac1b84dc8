"""Public certificate verification: by QR link, by number and surname, by uploading the PDF,
and as JSON. Shows whether a certificate is genuine and what it accredits, and the
holder's name only when they allow it or the visitor types their surname.

Every lookup is rate-limited per address; failed lookups are logged without the code.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from datetime import datetime
from functools import cache
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request, session, url_for
from flask_babel import get_locale, get_timezone
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import bindparam, select

from lms.accounts.models import User
from lms.accreditation.models import Certificate, CertificateFile, certificate_status
from lms.accreditation.services import local_day
from lms.caching import kept
from lms.csrf import keeps_typed_text
from lms.db import QuickRead, utcnow
from lms.extensions import csrf, db, limiter
from lms.i18n import _

log = logging.getLogger(__name__)

bp = Blueprint("verify", __name__)

MAX_NUMBER = 40
MAX_SURNAME = 100


def _limit() -> str:
    return current_app.config["LMS_VERIFY_LIMIT"]


def _fold(text: str) -> str:
    """Case-, accent- and spacing-insensitive form of a name for comparing."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.replace("-", " - ").split())


def surname_matches(holder_name: str, typed: str) -> bool:
    """Whether ``typed`` is the holder's surname: the last words of the name, or the first
    words (family name first), ignoring case and accents. The whole name also matches."""
    typed_f = _fold(typed)
    if not typed_f:
        return False
    words = _fold(holder_name).split(" ")
    candidates = {" ".join(words[i:]) for i in range(len(words))}
    candidates |= {" ".join(words[:i]) for i in range(1, len(words) + 1)}
    if len(words) == 1 and len(words[0]) > 1:
        # Names written without spaces (e.g. Chinese): family name first.
        candidates |= {words[0][:n] for n in range(1, len(words[0]))}
    return typed_f in candidates


def normalise_number(typed: str) -> str:
    """A typed certificate number in its stored form: spaces and dashes forgiven, and the
    letters people confuse with digits (O, I, L) read as the digits the alphabet uses."""
    compact = "".join(ch for ch in typed.upper() if ch.isalnum())[:MAX_NUMBER]
    if not compact.startswith("MIP") or len(compact) != 14:
        return typed.strip().upper()[:MAX_NUMBER]
    body = compact[3:]
    head, code = body[:3], body[3:].translate(str.maketrans("OIL", "011"))
    return f"MIP-{head}-{code[:4]}-{code[4:]}"


def facts(certificate: Any, show_name: bool, now: datetime | None = None) -> dict[str, Any]:
    """What verification may say: status and what it accredits; the name only if allowed.

    ``certificate`` is a :class:`Certificate` or a row of the same columns (:func:`_by_token`).
    """
    now = now or utcnow()
    withdrawn_at = getattr(certificate, "withdrawn_at", None)
    status = certificate_status(
        certificate.revoked_at, certificate.expires_at, now, withdrawn_at
    ).value
    if withdrawn_at is not None:
        # An anonymous record kept after the holder's data was erased: nothing about them.
        show_name = False
    return {
        "status": status,
        "number": certificate.number,
        "accreditation": certificate.accreditation_title,
        "course": {"title": certificate.course_title, "version": certificate.course_version},
        "issued_on": local_day(certificate.issued_at).isoformat(),
        "expires_on": (
            local_day(certificate.expires_at).isoformat() if certificate.expires_at else None
        ),
        "revoked_on": (
            local_day(certificate.revoked_at).isoformat()
            if certificate.revoked_at and withdrawn_at is None
            else None
        ),
        "withdrawn_on": local_day(withdrawn_at).isoformat() if withdrawn_at else None,
        "holder": {"name": certificate.holder_name} if show_name else None,
    }


def _lookup(condition) -> tuple[Certificate | None, bool]:
    """The certificate matching ``condition`` and whether its holder lets their name show.

    One query: the holder's consent comes with the certificate rather than loading
    the whole account afterwards (verification is public and asked for often).
    """
    row = db.session.execute(
        select(Certificate, User.is_name_public)
        .outerjoin(User, User.id == Certificate.user_id)
        .where(condition)
    ).first()
    if row is None:
        return None, False
    return row[0], bool(row[1])


#: The columns verification shows (see :func:`facts` and ``verify/result.html``).
_SHOWN = (
    "id",
    "user_id",
    "number",
    "holder_name",
    "accreditation_title",
    "course_title",
    "course_version",
    "issued_at",
    "expires_at",
    "revoked_at",
    "withdrawn_at",
)


@cache
def _by_token_read() -> QuickRead:
    """The lookup by token, built once and run on a DBAPI cursor (:class:`QuickRead`):
    verification only shows these columns, and is asked for often."""
    table, people = Certificate.__table__, User.__table__
    return QuickRead(
        select(*(table.c[name] for name in _SHOWN), people.c.is_name_public)
        .select_from(table.outerjoin(people, people.c.id == table.c.user_id))
        .where(table.c.token == bindparam("token"))
    )


def _by_token(token: str) -> tuple[Any, bool]:
    """Like :func:`_lookup` with ``Certificate.token == token``, the certificate as a row
    of the columns in ``_SHOWN`` (read-only; :func:`facts` and the page take either)."""
    if not token or len(token) > 100:
        return None, False
    row = _by_token_read().first(token=token)
    if row is None:
        return None, False
    return row, bool(row.is_name_public)


def _name_is_public(certificate: Certificate) -> bool:
    return bool(
        db.session.scalar(select(User.is_name_public).where(User.id == certificate.user_id))
    )


def _failed(kind: str) -> None:
    log.info("Certificate lookup found nothing (%s)", kind)


def _show_name(
    certificate: Certificate, surname: str, public: bool | None = None
) -> tuple[bool, bool | None]:
    """(show the name?, did a typed surname match? None when none was typed)."""
    if certificate.withdrawn_at is not None:
        return False, None  # withdrawn: no holder to show or match
    matched = surname_matches(certificate.holder_name, surname) if surname else None
    if public is None:
        public = _name_is_public(certificate)
    return public or bool(matched), matched


def _result(
    certificate: Certificate | None,
    surname: str = "",
    how: str = "",
    public: bool | None = None,
    **extra: Any,
):
    if certificate is None:
        return render_template("verify/result.html", found=False, how=how, **extra), 404
    show, matched = _show_name(certificate, surname, public)
    return render_template(
        "verify/result.html",
        found=True,
        how=how,
        certificate=certificate,
        facts=facts(certificate, show),
        surname=surname,
        matched=matched,
        **extra,
    )


@bp.get("/verify")
@limiter.limit(_limit)
def index():
    return render_template("verify/index.html", form=FlaskForm(), number="", surname="")


@bp.post("/verify")
@keeps_typed_text
@limiter.limit(_limit)
def by_number():
    number = normalise_number(request.form.get("number") or "")
    surname = (request.form.get("surname") or "").strip()[:MAX_SURNAME]
    form = FlaskForm()
    errors = {}
    if not number:
        errors["number"] = _("Enter the certificate number, as printed on the certificate.")
    if not surname:
        errors["surname"] = _("Enter the holder's surname.")
    if errors or not form.validate_on_submit():
        if not errors:
            errors["number"] = _("Your session timed out. Press “Check” again.")
        return render_template(
            "verify/index.html", form=form, number=number, surname=surname, errors=errors
        ), 422
    certificate, public = _lookup(Certificate.number == number)
    withdrawn = certificate is not None and certificate.withdrawn_at is not None
    # A withdrawn certificate names nobody: its number alone says that it was withdrawn.
    if certificate is None or not (withdrawn or surname_matches(certificate.holder_name, surname)):
        # Same answer for a wrong number and a wrong surname: the number alone proves nothing.
        _failed("number and surname")
        return _result(None, how="number", number=number, surname=surname)
    return _result(certificate, surname, how="number", public=public)


@bp.post("/verify/file")
@keeps_typed_text
@limiter.limit(_limit)
def by_file():
    upload = request.files.get("certificate")
    surname = (request.form.get("surname") or "").strip()[:MAX_SURNAME]
    form = FlaskForm()
    data = upload.read() if upload else b""
    if not form.validate_on_submit() or not data or not data.startswith(b"%PDF"):
        error = (
            _("Choose the certificate's PDF file.")
            if not data
            else _("That file is not a PDF.")
            if not data.startswith(b"%PDF")
            else _("Your session timed out. Choose the file again.")
        )
        return render_template(
            "verify/index.html",
            form=form,
            number="",
            surname=surname,
            errors={"certificate": error},
        ), 422
    digest = hashlib.sha256(data).hexdigest()
    stored = db.session.scalar(select(CertificateFile).where(CertificateFile.sha256 == digest))
    if stored is None:
        _failed("file")
        return _result(None, how="file")
    return _result(stored.certificate, surname, how="file", stored=stored)


@bp.route("/verify/<token>", methods=["GET", "POST"])
@csrf.exempt  # no token at all: see the docstring
@limiter.limit(_limit)
def by_token(token: str):
    """The page a certificate's QR code opens. The surname form on it needs no CSRF
    token: checking a name changes nothing and its answer is only shown to whoever
    sent it (another site can make the browser send it but cannot read the answer);
    so the page needs no session and a plain view can be kept (:func:`_plain_result`).
    """
    certificate, public = _by_token(token)
    if certificate is None:
        _failed("link")
        if request.method == "GET" and _plain_view():
            return _plain_result(("missing",), lambda: _result(None, how="link")[0]), 404
        return _result(None, how="link")
    surname = ""
    if request.method == "POST":
        surname = (request.form.get("surname") or "").strip()[:MAX_SURNAME]
    elif _plain_view():
        status = certificate_status(
            certificate.revoked_at, certificate.expires_at, utcnow(), certificate.withdrawn_at
        )
        state = (tuple(certificate), public, status)
        return _plain_result(state, lambda: _result(certificate, how="link", public=public))
    return _result(certificate, surname, how="link", public=public)


def _plain_view() -> bool:
    """Whether this request sees the page as everyone does: nobody logged in (no menu)
    and no message waiting to be shown (which a kept page would not show)."""
    return not current_user.is_authenticated and "_flashes" not in session


def _plain_result(state: tuple, render) -> str:
    """The page for ``state`` (every fact it shows, and the status now) as a visitor who
    is not logged in sees it, rendered once per state, locale, time zone and script root
    and kept: the QR link is the page asked for most, by anyone holding the code."""
    key = (state, str(get_locale()), str(get_timezone()), request.script_root)
    return kept("verify-page", key, render)


@bp.get("/api/v1/certificates/<token>")
@limiter.limit(_limit)
def api_certificate(token: str):
    certificate, public = _by_token(token)
    if certificate is None:
        _failed("api")
        return jsonify({"status": "not_found"}), 404
    response = jsonify(facts(certificate, public))
    response.headers["Cache-Control"] = "no-store"
    # ASVS 14.4.2: a browser sent here saves the answer rather than render it.
    response.headers["Content-Disposition"] = 'attachment; filename="certificate.json"'
    return response


@bp.get("/api/v1/openapi.json")
def openapi():
    document = openapi_document()
    # Other domains' public API operations (e.g. lms.credentials.verify_routes).
    for extend in current_app.extensions.get("lms.openapi", ()):
        extend(document)
    return jsonify(document)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the public verification API."""
    date = {"type": ["string", "null"], "format": "date"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MiP training: certificate verification",
            "version": "1.0.0",
            "description": (
                "Check that a Managers in Partnership training certificate is genuine. "
                "The token is the last part of the address in the certificate's QR code. "
                "The holder's name is included only when the holder has allowed it. "
                "Requests are rate-limited per address (HTTP 429 when exceeded)."
            ),
        },
        "servers": [{"url": url_for("catalogue.home", _external=True).rstrip("/")}],
        "paths": {
            "/api/v1/certificates/{token}": {
                "get": {
                    "operationId": "getCertificate",
                    "summary": "Facts about one certificate",
                    "parameters": [
                        {
                            "name": "token",
                            "in": "path",
                            "required": True,
                            "description": "The verification token from the certificate's QR code.",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 100},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": (
                                "The certificate exists (valid, revoked, expired or withdrawn)."
                            ),
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Certificate"}
                                }
                            },
                        },
                        "404": {
                            "description": "No certificate has this token.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/NotFound"}
                                }
                            },
                        },
                        "429": {"description": "Too many requests from this address."},
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Certificate": {
                    "type": "object",
                    "required": [
                        "status",
                        "number",
                        "accreditation",
                        "course",
                        "issued_on",
                        "expires_on",
                        "revoked_on",
                        "withdrawn_on",
                        "holder",
                    ],
                    "properties": {
                        "status": {
                            "type": "string",
                            "enum": ["valid", "revoked", "expired", "withdrawn"],
                            "description": (
                                "withdrawn: kept only as an anonymous record after the "
                                "holder asked for their data to be erased"
                            ),
                        },
                        "number": {"type": "string", "description": "Certificate number"},
                        "accreditation": {"type": "string"},
                        "course": {
                            "type": "object",
                            "required": ["title", "version"],
                            "properties": {
                                "title": {"type": "string"},
                                "version": {"type": "string"},
                            },
                        },
                        "issued_on": {"type": "string", "format": "date"},
                        "expires_on": date,
                        "revoked_on": date,
                        "withdrawn_on": date,
                        "holder": {
                            "type": ["object", "null"],
                            "description": "Only when the holder allows their name to be shown.",
                            "properties": {"name": {"type": "string"}},
                        },
                    },
                },
                "NotFound": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"type": "string", "const": "not_found"}},
                },
            }
        },
    }
