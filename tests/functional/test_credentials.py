"""Open Badges 3.0 credentials: the DID document, key storage and rotation, and the
VC-JWT checked with plain `cryptography` from the DID document's JWK."""

from __future__ import annotations

import base64
import json
import logging
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import select

from lms.accreditation.models import Certificate
from lms.credentials import services
from lms.extensions import db
from tests.functional.accreditation_helpers import grant, write_plain_templates


def b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture()
def site(app_with, tmp_path: Path):
    app = app_with(
        LMS_CERTIFICATES_DIR=str(write_plain_templates(tmp_path / "c", "Cert")),
        LMS_ISSUER_KEY_DIR=str(tmp_path / "keys"),
        LMS_BASE_URL="https://mip.example:8443",
    )
    return app


def test_did_document_and_key_files(site, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    response = site.test_client().get("/.well-known/did.json")
    doc = response.get_json()
    assert doc["id"] == "did:web:mip.example%3A8443"
    assert len(doc["verificationMethod"]) == 2
    ed, rs = doc["verificationMethod"]
    assert ed["publicKeyJwk"]["crv"] == "Ed25519"
    assert ed["publicKeyMultibase"].startswith("z6Mk")
    assert rs["publicKeyJwk"]["kty"] == "RSA"
    assert all("d" not in m["publicKeyJwk"] for m in doc["verificationMethod"])
    assert doc["assertionMethod"] == [ed["id"], rs["id"]]
    files = list((tmp_path / "keys").iterdir())
    assert len(files) == 2
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        secret = path.read_text().splitlines()[1]
        assert secret not in caplog.text and secret not in response.get_data(as_text=True)


def test_rotation_keeps_old_keys(site):
    with site.test_request_context():
        before = {m["id"] for m in services.did_document()["verificationMethod"]}
        services.rotate_keys()
        after = {m["id"] for m in services.did_document()["verificationMethod"]}
    assert before < after and len(after) == 4


def test_jwt_verifies_with_plain_cryptography(site, make):
    trainee = make("trainee", email="tia@example.org", name="Tia Marsh")
    grant(site, trainee, course="rep")
    with site.test_request_context():
        certificate = db.session.scalar(select(Certificate))
        credential = services.build_credential(certificate)
        token = services.sign_jwt(credential)
        doc = services.did_document()
        assert services.verify_jwt(token)["jti"] == credential["id"]
    assert "tia@example.org" not in json.dumps(credential)
    subject = credential["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["identifier"][0]["hashed"] is True
    assert subject["achievement"]["criteria"]["narrative"]

    header_b64, payload_b64, sig_b64 = token.split(".")
    header = json.loads(b64(header_b64))
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    method = next(m for m in doc["verificationMethod"] if m["id"] == header["kid"])
    jwk = method["publicKeyJwk"]
    public = rsa.RSAPublicNumbers(
        int.from_bytes(b64(jwk["e"]), "big"), int.from_bytes(b64(jwk["n"]), "big")
    ).public_key()
    public.verify(
        b64(sig_b64),
        f"{header_b64}.{payload_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    claims = json.loads(b64(payload_b64))
    assert claims["iss"] == doc["id"] == claims["issuer"]["id"]
    assert claims["jti"] == credential["id"] and "nbf" in claims and "sub" in claims


def test_holder_downloads_both_forms_others_get_404(site, make):
    from tests.conftest import login

    trainee = make("trainee", email="tia@example.org", name="Tia Marsh")
    make("trainee", email="sam@example.org", name="Sam Other")
    grant(site, trainee, course="rep")
    with site.app_context():
        number = db.session.scalar(select(Certificate.number))
    owner = site.test_client()
    login(owner, "tia@example.org")
    # Both forms are offered on the holder's dashboard and certificates page.
    for page in ("/dashboard", "/certificates"):
        html = owner.get(page).get_data(as_text=True)
        assert f"/certificates/{number}/credential.json" in html, page
        assert f"/certificates/{number}/credential.jwt" in html, page
    as_json = owner.get(f"/certificates/{number}/credential.json")
    assert as_json.status_code == 200
    assert "OpenBadgeCredential" in as_json.get_json()["type"]
    assert (
        owner.get(f"/certificates/{number}/credential.jwt").get_data(as_text=True).count(".") == 2
    )
    other = site.test_client()
    login(other, "sam@example.org")
    assert other.get(f"/certificates/{number}/credential.jwt").status_code == 404
    assert site.test_client().get(f"/certificates/{number}/credential.json").status_code == 302


def test_cli_warns_when_the_issuer_cannot_be_resolved(app_with, make, tmp_path):
    """Without LMS_BASE_URL the command line cannot know the site's did:web: it says so."""
    site = app_with(
        LMS_CERTIFICATES_DIR=str(write_plain_templates(tmp_path / "c", "Cert")),
        LMS_ISSUER_KEY_DIR=str(tmp_path / "keys"),
    )
    grant(site, make("trainee", email="tia@example.org", name="Tia Marsh"), course="rep")
    with site.app_context():
        number = db.session.scalar(select(Certificate.number))
    out = tmp_path / "c.jwt"
    result = site.test_cli_runner().invoke(
        args=["lms", "certificates", "credential", number, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Warning: LMS_BASE_URL is not set" in result.output
    assert out.read_text().count(".") == 2
