"""Checking a digital credential: the form on the public verification page
(POST /verify/credential) and the JSON API (POST /api/credentials/verify).

Both are public and rate-limited like the other verification routes; neither changes
anything. The checks themselves are :func:`lms.credentials.verify.verify_credential`.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template, request
from flask_wtf import FlaskForm

from lms.accreditation.verify import MAX_SURNAME, _limit, surname_matches
from lms.credentials.verify import MAX_BYTES, check_labels, refused, verify_credential
from lms.csrf import keeps_typed_text
from lms.extensions import csrf, limiter
from lms.i18n import _

bp = Blueprint("credential_verify", __name__)

#: Every overall status the check can give, from the best to the worst.
STATUSES = (
    "valid",
    "revoked",
    "withdrawn",
    "expired",
    "not_yet_valid",
    "invalid",
    "unknown_issuer",
    "malformed",
)


def _headings() -> dict[str, str]:
    return {
        "valid": _("Genuine and valid"),
        "revoked": _("Genuine but revoked"),
        "withdrawn": _("Genuine but withdrawn"),
        "expired": _("Genuine but expired"),
        "not_yet_valid": _("Genuine but not valid yet"),
        "invalid": _("Not genuine"),
        "unknown_issuer": _("Not issued by this site"),
        "malformed": _("Not a credential"),
    }


def init_app(app: Flask) -> None:
    """Register the blueprint (once) and show its form on the verification page
    (``credential_check`` in verify/index.html). The views mark their own CSRF handling."""
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    app.jinja_env.globals["credential_check"] = True
    # The served OpenAPI document (lms.accreditation.verify.openapi) adds this API.
    extensions = app.extensions.setdefault("lms.openapi", [])
    if extend_openapi not in extensions:
        extensions.append(extend_openapi)


def _read_upload() -> bytes | None:
    upload = request.files.get("credential_file")
    if upload is None or not upload.filename:
        return None
    return upload.stream.read(MAX_BYTES + 1)


@bp.post("/verify/credential")
@keeps_typed_text
@limiter.limit(_limit)
def check():
    """The page's form: a pasted credential (``credential``) or its file (``credential_file``),
    and optionally the holder's surname to see their name."""
    pasted = request.form.get("credential") or ""
    surname = (request.form.get("surname") or "").strip()[:MAX_SURNAME]
    form = FlaskForm()
    uploaded = _read_upload()
    data: str | bytes = uploaded if uploaded else pasted
    error = None
    if not form.validate_on_submit():
        error = _("Your session timed out. Press “Check the credential” again.")
    elif not data.strip():
        error = _("Paste the credential, or choose its .jwt or .json file.")
    result = None
    if error is None:
        result = verify_credential(data)
        if result.status == "malformed":
            error = result.checks["format"].reason
    if error is not None:
        return render_template(
            "verify/index.html",
            form=form,
            number="",
            surname="",
            credential_text=pasted,
            credential_surname=surname,
            errors={"credential": error},
        ), 422
    show_name = result.name_public
    matched = None
    withdrawn = getattr(result.certificate, "withdrawn_at", None) is not None
    if result.certificate is not None and surname and not withdrawn:
        matched = surname_matches(result.certificate.holder_name, surname)
        show_name = show_name or matched
    return render_template(
        "verify/credential_result.html",
        result=result,
        facts=_facts(result, show_name),
        labels=check_labels(),
        heading=_headings()[result.status],
        matched=matched,
        surname=surname,
    )


def _facts(result, show_name: bool) -> dict[str, Any] | None:
    from lms.accreditation.verify import facts

    return facts(result.certificate, show_name) if result.certificate is not None else None


@bp.post("/api/credentials/verify")
@csrf.exempt  # a JSON API: no session, changes nothing
@limiter.limit(_limit)
def api_verify():
    """JSON ``{"credential": "<JWT or JSON text>"}`` (or the credential object itself as
    ``credential``), or the raw JWT / JSON credential as the body.

    200 whenever a credential was sent, whatever the verdict (``status``, ``malformed``
    included); 422 when the request holds no credential at all; 413 when too large."""
    if request.content_length is not None and request.content_length > MAX_BYTES + 1024:
        return _api(verify_credential(bytes(MAX_BYTES + 1)), 413)  # "too large"
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        data: Any = request.form.get("credential")
    else:
        data = request.get_data(cache=False)[: MAX_BYTES + 1025]
        if request.mimetype in ("application/json", "application/ld+json"):
            data = _from_json(data)
    if isinstance(data, bytes | str) and len(data) > MAX_BYTES:
        return _api(verify_credential(data), 413)
    if not isinstance(data, bytes | str) or not data.strip():
        return _api(refused(_('Send the credential: {"credential": "…"}.')), 422)
    return _api(verify_credential(data), 200)


def _from_json(body: bytes) -> str | bytes | None:
    """The credential in a JSON request body, or None when there is none."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(parsed, str):  # the JWT as a JSON string
        return parsed
    if not isinstance(parsed, dict):
        return None
    if "credential" not in parsed:
        return body if "@context" in parsed else None  # the credential itself
    inner = parsed["credential"]
    if isinstance(inner, dict):
        return json.dumps(inner, ensure_ascii=False)
    return inner if isinstance(inner, str) else None


def _api(result, code: int):
    response = jsonify(result.as_json())
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    return response


#: A credential as text: something other than spaces.
TEXT = {"type": "string", "pattern": "\\S"}


def openapi_paths() -> dict[str, Any]:
    """The API's entry for the OpenAPI document (lms.accreditation.verify.openapi_document)."""
    check = {
        "type": "object",
        "required": ["passed", "reason"],
        "properties": {
            "passed": {
                "type": ["boolean", "null"],
                "description": "null when the check was not made (the reason says why).",
            },
            "reason": {"type": "string"},
        },
    }
    return {
        "paths": {
            "/api/credentials/verify": {
                "post": {
                    "operationId": "verifyCredential",
                    "summary": "Check a digital credential (VC-JWT or JSON with its proof)",
                    "description": (
                        "Checks an Open Badges 3.0 credential issued by this site: that it is "
                        "well formed, issued by this site's did:web, correctly signed (VC-JWT "
                        "RS256/EdDSA, or an eddsa-rdfc-2022 Data Integrity proof), not revoked "
                        "(status list and certificate record), not expired and already in "
                        f"force. At most {MAX_BYTES // 1024} KB."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["credential"],
                                    "properties": {
                                        "credential": {
                                            "description": "The compact JWT, the JSON "
                                            "credential as text, or the JSON credential.",
                                            "oneOf": [TEXT, {"type": "object"}],
                                        }
                                    },
                                }
                            },
                            "application/vc+jwt": {"schema": TEXT},
                            "text/plain": {"schema": TEXT},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "A credential was sent; ``status`` gives the verdict "
                            "(``malformed`` when the text is not a credential at all).",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/CredentialCheck"}
                                }
                            },
                        },
                        "413": {
                            "description": "Larger than the limit (status ``malformed``).",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/CredentialCheck"}
                                }
                            },
                        },
                        "422": {
                            "description": "The request holds no credential "
                            "(status ``malformed``).",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/CredentialCheck"}
                                }
                            },
                        },
                        "429": {"description": "Too many requests from this address."},
                    },
                }
            }
        },
        "schemas": {
            "CredentialCheck": {
                "type": "object",
                "required": ["status", "checks", "certificate"],
                "properties": {
                    "status": {
                        "type": "string",
                        "enum": list(STATUSES),
                    },
                    "format": {"type": ["string", "null"], "enum": ["jwt", "json", None]},
                    "checks": {
                        "type": "object",
                        "properties": {
                            name: check
                            for name in (
                                "format",
                                "issuer",
                                "signature",
                                "status",
                                "record",
                                "expiry",
                                "start",
                            )
                        },
                    },
                    "certificate": {
                        "description": "The certificate's public facts, once the signature "
                        "verifies and the record is found; otherwise null.",
                        "oneOf": [{"$ref": "#/components/schemas/Certificate"}, {"type": "null"}],
                    },
                },
            }
        },
    }


def extend_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Add this API to the verification API's OpenAPI document (in place; returned)."""
    extra = openapi_paths()
    document.setdefault("paths", {}).update(extra["paths"])
    document.setdefault("components", {}).setdefault("schemas", {}).update(extra["schemas"])
    return document
