"""Issuer keys (Ed25519 and RSA 2048, kept in the instance folder), the did:web DID
document, and the OpenBadgeCredential of a certificate signed as a VC-JWT (RS256).

Private keys are never logged, shown or returned by a route; only public JWKs leave here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from flask import current_app, has_request_context, request
from joserfc import jwt
from joserfc.jwk import OKPKey, RSAKey

log = logging.getLogger(__name__)

ISSUER_NAME = "Managers in Partnership"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class CredentialError(Exception):
    """A credential that does not verify; the message says why."""


def b58encode(data: bytes) -> str:
    num = int.from_bytes(data, "big")
    out = ""
    while num:
        num, rem = divmod(num, 58)
        out = B58[rem] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def key_dir() -> Path:
    configured = current_app.config.get("LMS_ISSUER_KEY_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "issuer-keys"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _new_keys(directory: Path) -> None:
    """Write a new Ed25519 and RSA key pair named by a timestamp (later names sort later)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    n = 0
    while (directory / f"ed25519-{stamp}{n or ''}.pem").exists():
        n += 1
    suffix = f"{stamp}{n or ''}"
    pem = serialization.PrivateFormat.PKCS8
    enc = serialization.NoEncryption()
    ed = ed25519.Ed25519PrivateKey.generate()
    _write_private(
        directory / f"ed25519-{suffix}.pem",
        ed.private_bytes(serialization.Encoding.PEM, pem, enc),
    )
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(
        directory / f"rsa-{suffix}.pem",
        rs.private_bytes(serialization.Encoding.PEM, pem, enc),
    )
    log.info("Issuer keys %s generated", suffix)


def _key_files(kind: str) -> list[Path]:
    directory = key_dir()
    files = sorted(directory.glob(f"{kind}-*.pem")) if directory.exists() else []
    if not files:
        _new_keys(directory)
        files = sorted(directory.glob(f"{kind}-*.pem"))
    return files


def rotate_keys() -> str:
    """Add a new key pair; the old ones stay in the DID document. Returns the new suffix."""
    _key_files("ed25519")
    _new_keys(key_dir())
    return _key_files("ed25519")[-1].stem.removeprefix("ed25519-")


#: Loaded keys by (file, its change time and size): loading checks an RSA key's
#: consistency, about 60 ms, and the DID document and every signature need the keys.
_loaded: dict[tuple[str, int, int], Any] = {}


def _load(path: Path):
    stat = path.stat()
    cache_key = (str(path), stat.st_mtime_ns, stat.st_size)
    key = _loaded.get(cache_key)
    if key is None:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if len(_loaded) >= 64:  # rotated keys of many test instances: start again
            _loaded.clear()
        _loaded[cache_key] = key
    return key


def ed25519_key_path() -> Path:
    """The newest Ed25519 key file (it signs Data Integrity proofs); made on first use."""
    return _key_files("ed25519")[-1]


def load_private_key(path: Path):
    """The private key in ``path``, for signing only: never log or return it from a route."""
    return _load(path)


def _fragment(path: Path) -> str:
    return path.stem  # e.g. "ed25519-20261203T154000"


def issuer_did() -> str:
    base = current_app.config.get("LMS_BASE_URL")
    if base:
        host = urlsplit(base).netloc
    elif has_request_context():
        host = request.host
    else:
        host = current_app.config.get("SERVER_NAME") or "localhost"
    return "did:web:" + quote(host, safe="")


def site_url() -> str:
    base = current_app.config.get("LMS_BASE_URL")
    if base:
        return base.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return "http://" + (current_app.config.get("SERVER_NAME") or "localhost")


def _public_jwk(path: Path) -> dict[str, Any]:
    key = _load(path)
    if path.stem.startswith("ed25519"):
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return OKPKey.import_key(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).as_dict(private=False) | {"_raw": raw}
    return RSAKey.import_key(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).as_dict(private=False)


def did_document() -> dict[str, Any]:
    did = issuer_did()
    methods = []
    for path in _key_files("ed25519") + _key_files("rsa"):
        jwk_dict = _public_jwk(path)
        raw = jwk_dict.pop("_raw", None)
        jwk_dict.pop("kid", None)
        method: dict[str, Any] = {
            "id": f"{did}#{_fragment(path)}",
            "type": "JsonWebKey2020" if raw is None else "Multikey",
            "controller": did,
            "publicKeyJwk": jwk_dict,
        }
        if raw is not None:
            method["publicKeyMultibase"] = "z" + b58encode(b"\xed\x01" + raw)
        methods.append(method)
    ids = [m["id"] for m in methods]
    return {
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
            "https://w3id.org/security/suites/jws-2020/v1",
        ],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": ids,
        "authentication": ids,
    }


def _iso(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def credential_id(certificate) -> str:
    import uuid

    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "mip-certificate:" + certificate.token))


def build_credential(certificate) -> dict[str, Any]:
    """The OpenBadgeCredential, from the same plain dict the PDF is rendered from."""
    from lms.accreditation.services import render_data

    data = render_data(certificate)
    did = issuer_did()
    site = site_url()
    salt = hashlib.sha256(("salt:" + certificate.token).encode()).hexdigest()[:32]
    email = (certificate.user.email or "").strip().lower()
    identity_hash = "sha256$" + hashlib.sha256((email + salt).encode()).hexdigest()
    course = current_app.extensions["lms.courses"].get(certificate.course_slug)
    description = course.summary if course is not None else None
    credential: dict[str, Any] = {
        "@context": [VC_V2, OB_V3],
        "id": credential_id(certificate),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": did, "type": ["Profile"], "name": ISSUER_NAME, "url": site},
        "validFrom": _iso(certificate.issued_at),
        "name": data["accreditation"],
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": identity_hash,
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": salt,
                }
            ],
            "achievement": {
                "id": f"{site}/courses/{certificate.course_slug}#v{data['course_version']}",
                "type": ["Achievement"],
                "name": data["accreditation"],
                "description": str(description or data["course_title"]),
                "criteria": {
                    "narrative": (
                        f"Completed the course {data['course_title']} (version "
                        f"{data['course_version']}) and was confirmed by the union."
                    )
                },
                "version": data["course_version"],
                "achievementType": "Certificate",
                "otherIdentifier": [
                    {
                        "type": "IdentifierEntry",
                        "identifier": data["number"],
                        "identifierType": "identifier",
                    }
                ],
            },
        },
    }
    if certificate.expires_at is not None:
        credential["validUntil"] = _iso(certificate.expires_at)
    from lms.credentials.status import entry_for

    credential["credentialStatus"] = entry_for(certificate)
    return credential


def signed_json(certificate) -> dict[str, Any]:
    """The JSON form: the credential with its Data Integrity proof (eddsa-rdfc-2022)."""
    from lms.credentials import dataintegrity

    return dataintegrity.sign(build_credential(certificate))


def _rsa_key() -> tuple[str, RSAKey]:
    path = _key_files("rsa")[-1]
    key = RSAKey.import_key(path.read_bytes())
    return f"{issuer_did()}#{_fragment(path)}", key


def sign_jwt(credential: dict[str, Any], subject: str | None = None) -> str:
    """VC-JWT per OB 3.0 section 8.2: the credential is the JWT payload (VCDM 2.0 style)
    plus the registered claims iss, jti, sub, nbf and exp."""
    kid, key = _rsa_key()
    claims = dict(credential)
    claims["iss"] = credential["issuer"]["id"]
    claims["jti"] = credential["id"]
    claims["sub"] = subject or credential["credentialSubject"].get("id") or credential["id"]
    claims["nbf"] = int(_parse(credential["validFrom"]).timestamp())
    if "validUntil" in credential:
        claims["exp"] = int(_parse(credential["validUntil"]).timestamp())
    return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": kid}, claims, key)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def verify_jwt(token: str, now: datetime | None = None) -> dict[str, Any]:
    """Check signature (key from our DID document), issuer and expiry. Returns the claims."""
    from joserfc.jws import extract_compact

    try:
        header = extract_compact(token.strip().encode()).protected
    except Exception as exc:  # noqa: BLE001
        raise CredentialError("Not a compact JWS.") from exc
    did = issuer_did()
    kid = header.get("kid", "")
    if not kid.startswith(did + "#"):
        raise CredentialError("Not issued by this site.")
    if header.get("alg") != "RS256":
        raise CredentialError("Unexpected algorithm.")
    method = next((m for m in did_document()["verificationMethod"] if m["id"] == kid), None)
    if method is None:
        raise CredentialError("Unknown key.")
    key = RSAKey.import_key(method["publicKeyJwk"])
    try:
        decoded = jwt.decode(token.strip(), key, algorithms=["RS256"])
    except Exception as exc:  # noqa: BLE001
        raise CredentialError("The signature does not verify.") from exc
    claims = decoded.claims
    if claims.get("iss") != did or claims.get("issuer", {}).get("id") != did:
        raise CredentialError("Not issued by this site.")
    moment = (now or datetime.now(UTC)).timestamp()
    if "exp" in claims and claims["exp"] < moment:
        raise CredentialError("The credential has expired.")
    if "nbf" in claims and claims["nbf"] > moment + 60:
        raise CredentialError("The credential is not valid yet.")
    return claims


def dumps(credential: dict[str, Any]) -> str:
    return json.dumps(credential, indent=2, ensure_ascii=False)


def revoke_certificate_status(certificate_id: int) -> None:
    """Set the certificate's bit in the revocation status list and have the list published
    again (privacy erasure calls this for withdrawn certificates). Flushes, never commits."""
    from lms.credentials.status import revoke_certificate_id

    revoke_certificate_id(certificate_id)
