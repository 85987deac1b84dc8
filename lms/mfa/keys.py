"""Security keys (FIDO2 / WebAuthn) as a second factor (ASVS 2.3.2), with py_webauthn.

The relying party is this site: its id is the host of ``LMS_BASE_URL`` (or of the
request, without one), and answers are accepted only from its origin. Each ceremony's
challenge lives in the person's session for ``CHALLENGE_SECONDS`` and is used once.
A key is stored as its credential id and public key only; its signature counter is
kept, and a key whose counter goes backwards (a cloned key) is refused.

Functions flush but never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from functools import cache
from types import SimpleNamespace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import current_app, request, session
from sqlalchemy import delete, select

if TYPE_CHECKING:
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

from lms.accounts.models import User
from lms.extensions import db
from lms.i18n import _
from lms.mfa import services
from lms.mfa.models import RecoveryCode, SecurityKey

log = logging.getLogger(__name__)


@cache
def _w() -> SimpleNamespace:
    """py_webauthn, imported when a key is first added or used: with its cryptography
    and OpenSSL it costs about 0.3 s, which every web process would otherwise pay at
    start-up (the cold-start budget is 2 s)."""
    import webauthn
    from webauthn.helpers import (
        base64url_to_bytes,
        bytes_to_base64url,
        parse_authentication_credential_json,
    )
    from webauthn.helpers.exceptions import InvalidJSONStructure, WebAuthnException
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    return SimpleNamespace(
        generate_authentication_options=webauthn.generate_authentication_options,
        generate_registration_options=webauthn.generate_registration_options,
        options_to_json=webauthn.options_to_json,
        verify_authentication_response=webauthn.verify_authentication_response,
        verify_registration_response=webauthn.verify_registration_response,
        base64url_to_bytes=base64url_to_bytes,
        bytes_to_base64url=bytes_to_base64url,
        parse_authentication_credential_json=parse_authentication_credential_json,
        InvalidJSONStructure=InvalidJSONStructure,
        WebAuthnException=WebAuthnException,
        AuthenticatorSelectionCriteria=AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor=PublicKeyCredentialDescriptor,
        ResidentKeyRequirement=ResidentKeyRequirement,
        UserVerificationRequirement=UserVerificationRequirement,
    )


CHALLENGE_KEY = "_mfa_challenge"
CHALLENGE_SECONDS = 5 * 60
RP_NAME = "MiP training"
NAME_MAX = 60


class SecurityKeyError(services.MfaError):
    """A security key that cannot be registered or used."""


def rp_id() -> str:
    """The relying party id: LMS_BASE_URL's host, or the request's (without a port)."""
    base = current_app.config.get("LMS_BASE_URL")
    if base:
        return urlsplit(base).hostname or ""
    return urlsplit("//" + request.host).hostname or ""


def origin() -> str:
    """The origin a browser's answer must come from."""
    base = current_app.config.get("LMS_BASE_URL")
    if base:
        parts = urlsplit(base)
        return f"{parts.scheme}://{parts.netloc}"
    return request.host_url.rstrip("/")


def _user_handle(user: User) -> bytes:
    # A keyed hash of the id: the key holds no email address and no database id.
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"mfa-user:{user.id}".encode(), hashlib.sha256).digest()


def keys_of(user_id: int) -> list[SecurityKey]:
    return list(
        db.session.scalars(
            select(SecurityKey).where(SecurityKey.user_id == user_id).order_by(SecurityKey.id)
        )
    )


def _descriptors(user_id: int) -> list[PublicKeyCredentialDescriptor]:
    return [
        _w().PublicKeyCredentialDescriptor(id=_w().base64url_to_bytes(k.credential_id))
        for k in keys_of(user_id)
    ]


def _remember(purpose: str, user_id: int, challenge: bytes) -> None:
    session[CHALLENGE_KEY] = {
        "for": purpose,
        "user": user_id,
        "c": _w().bytes_to_base64url(challenge),
        "at": int(time.time()),
    }


def _take_challenge(purpose: str, user_id: int) -> bytes:
    """This session's challenge for ``purpose`` (used once). Raises SecurityKeyError if none."""
    kept = session.pop(CHALLENGE_KEY, None)
    if (
        not isinstance(kept, dict)
        or kept.get("for") != purpose
        or kept.get("user") != user_id
        or not isinstance(kept.get("at"), int)
        or time.time() - kept["at"] > CHALLENGE_SECONDS
    ):
        raise SecurityKeyError(_("The security key took too long to answer. Try again."))
    return _w().base64url_to_bytes(kept["c"])


def registration_options(user: User) -> str:
    """The options for ``navigator.credentials.create``, as JSON; remembers the challenge."""
    options = _w().generate_registration_options(
        rp_id=rp_id(),
        rp_name=RP_NAME,
        user_id=_user_handle(user),
        user_name=user.email,
        user_display_name=user.name,
        exclude_credentials=_descriptors(user.id),
        authenticator_selection=_w().AuthenticatorSelectionCriteria(
            resident_key=_w().ResidentKeyRequirement.DISCOURAGED,
            user_verification=_w().UserVerificationRequirement.DISCOURAGED,
        ),
    )
    _remember("register", user.id, options.challenge)
    return _w().options_to_json(options)


def register(user: User, credential: str, name: str) -> list[str]:
    """Keep the key the browser created (``credential``: its JSON) under ``name``.

    Returns new recovery codes if this is the person's first second factor (to show
    once), else an empty list. Raises SecurityKeyError if the answer does not verify.
    """
    name = " ".join((name or "").split())[:NAME_MAX] or _("Security key")
    challenge = _take_challenge("register", user.id)
    try:
        verified = _w().verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origin(),
        )
    except (_w().WebAuthnException, _w().InvalidJSONStructure, ValueError, TypeError) as exc:
        log.info("User %s: security key not registered (%s)", user.id, type(exc).__name__)
        raise SecurityKeyError(_("The security key could not be added. Try again.")) from exc
    credential_id = _w().bytes_to_base64url(verified.credential_id)
    if db.session.scalar(select(SecurityKey.id).where(SecurityKey.credential_id == credential_id)):
        raise SecurityKeyError(_("That security key is already added."))
    first = not services.has_second_factor(user.id)
    db.session.add(
        SecurityKey(
            user_id=user.id,
            credential_id=credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            name=name,
            created_at=int(time.time()),
        )
    )
    db.session.flush()
    log.info("User %s added a security key", user.id)
    if first or not services.recovery_codes_left(user.id):
        return services.new_recovery_codes(user.id)
    return []


def authentication_options(user: User) -> str:
    """The options for ``navigator.credentials.get``, as JSON; remembers the challenge.
    Raises SecurityKeyError if the person has no key."""
    allowed = _descriptors(user.id)
    if not allowed:
        raise SecurityKeyError(_("Your account has no security key."))
    options = _w().generate_authentication_options(
        rp_id=rp_id(),
        allow_credentials=allowed,
        user_verification=_w().UserVerificationRequirement.DISCOURAGED,
    )
    _remember("login", user.id, options.challenge)
    return _w().options_to_json(options)


def authenticate(user: User, credential: str) -> bool:
    """Whether ``credential`` (the browser's JSON answer) is a valid signature of the
    challenge by one of the person's keys. Raises SecurityKeyError with no challenge pending."""
    challenge = _take_challenge("login", user.id)
    try:
        parsed = _w().parse_authentication_credential_json(credential)
    except (_w().InvalidJSONStructure, ValueError, TypeError, json.JSONDecodeError):
        return False
    key = db.session.scalar(
        select(SecurityKey).where(
            SecurityKey.user_id == user.id, SecurityKey.credential_id == parsed.id
        )
    )
    if key is None:
        return False
    try:
        verified = _w().verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origin(),
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
        )
    except (_w().WebAuthnException, _w().InvalidJSONStructure, ValueError, TypeError) as exc:
        log.info("User %s: security key refused (%s)", user.id, type(exc).__name__)
        return False
    key.sign_count = verified.new_sign_count
    key.last_used_at = int(time.time())
    db.session.flush()
    return True


def remove(user_id: int, key_id: int) -> bool:
    """Remove one of the person's keys; False if it is not theirs. Recovery codes go
    too when no second factor remains."""
    key = db.session.get(SecurityKey, key_id)
    if key is None or key.user_id != user_id:
        return False
    db.session.delete(key)
    db.session.flush()
    if not services.has_second_factor(user_id):
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    log.info("User %s removed a security key", user_id)
    return True
