"""Open Badges 3.0 JSON form and revocation: the eddsa-rdfc-2022 proof (checked here by
re-deriving it with plain pyld + cryptography from the DID document), the bundled-context
loader, and the Bitstring Status List (random positions, revocation by the web page and
the CLI, publishing through the job queue, the public list route)."""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from pyld import jsonld
from sqlalchemy import select

from lms.accreditation.models import Certificate
from lms.credentials import contexts, dataintegrity, services, status
from lms.credentials.models import CredentialStatusEntry, CredentialStatusList
from lms.extensions import db
from tests.conftest import login
from tests.functional.accreditation_helpers import grant, write_plain_templates

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58decode(text: str) -> bytes:
    num = 0
    for char in text:
        num = num * 58 + B58.index(char)
    return b"\0" * (len(text) - len(text.lstrip("1"))) + num.to_bytes(
        (num.bit_length() + 7) // 8, "big"
    )


def nquads(doc: dict) -> bytes:
    return jsonld.normalize(
        doc,
        {
            "algorithm": "URDNA2015",
            "format": "application/n-quads",
            "documentLoader": contexts.document_loader,
        },
    ).encode()


def check_proof_by_hand(doc: dict, did_document: dict) -> None:
    """eddsa-rdfc-2022 verification written from the spec, not from our module."""
    proof = dict(doc["proof"])
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["proofPurpose"] == "assertionMethod"
    method = next(
        m for m in did_document["verificationMethod"] if m["id"] == proof["verificationMethod"]
    )
    raw = b58decode(method["publicKeyMultibase"][1:])
    assert raw[:2] == b"\xed\x01"
    value = proof.pop("proofValue")
    assert value[0] == "z"
    unsecured = {k: v for k, v in doc.items() if k != "proof"}
    config = {"@context": unsecured["@context"], **proof}
    data = hashlib.sha256(nquads(config)).digest() + hashlib.sha256(nquads(unsecured)).digest()
    ed25519.Ed25519PublicKey.from_public_bytes(raw[2:]).verify(b58decode(value[1:]), data)


@pytest.fixture()
def site(app_with, tmp_path: Path):
    return app_with(
        LMS_CERTIFICATES_DIR=str(write_plain_templates(tmp_path / "c", "Cert")),
        LMS_ISSUER_KEY_DIR=str(tmp_path / "keys"),
        LMS_BASE_URL="https://mip.example",
    )


def test_loader_refuses_anything_not_bundled(site):
    with pytest.raises(contexts.DocumentLoadError, match="only the bundled"):
        contexts.document_loader("https://example.org/ctx.jsonld")
    with pytest.raises(jsonld.JsonLdError):
        nquads({"@context": "https://example.org/ctx.jsonld", "name": "x"})
    for url in contexts.CONTEXTS:
        assert "@context" in contexts.document_loader(url)["document"]
    with site.test_request_context():
        did = services.issuer_did()
        assert contexts.document_loader(did)["document"]["id"] == did
        key_id = services.did_document()["verificationMethod"][0]["id"]
        assert contexts.document_loader(key_id)["document"]["id"] == key_id
        with pytest.raises(contexts.DocumentLoadError):
            contexts.document_loader("did:web:elsewhere.example")


def test_json_form_has_a_proof_that_verifies(site, make):
    trainee = make("trainee", email="tia@example.org", name="Tia Marsh")
    grant(site, trainee, course="rep")
    with site.test_request_context():
        certificate = db.session.scalar(select(Certificate))
        signed = services.signed_json(certificate)
        did_document = services.did_document()
        assert (
            dataintegrity.verify(signed)["verificationMethod"] == did_document["assertionMethod"][0]
        )
        check_proof_by_hand(signed, did_document)

        tampered = copy.deepcopy(signed)
        tampered["credentialSubject"]["achievement"]["name"] = "Something else"
        with pytest.raises(services.CredentialError, match="does not verify"):
            dataintegrity.verify(tampered)
        moved = copy.deepcopy(signed)
        moved["proof"]["created"] = "2020-01-01T00:00:00Z"
        with pytest.raises(services.CredentialError, match="does not verify"):
            dataintegrity.verify(moved)
        foreign = copy.deepcopy(signed)
        foreign["proof"]["verificationMethod"] = "did:web:elsewhere.example#key-1"
        with pytest.raises(services.CredentialError, match="Not signed by this site"):
            dataintegrity.verify(foreign)
        url = signed["credentialStatus"]["statusListCredential"]
        assert status.list_id_from_url(url) == 1
        assert status.list_id_from_url("https://elsewhere.example/credentials/status/1") is None
    entry = signed["credentialStatus"]
    assert entry["type"] == "BitstringStatusListEntry"
    assert entry["statusPurpose"] == "revocation"
    assert entry["statusListCredential"] == "https://mip.example/credentials/status/1"
    assert entry["id"] == f"{entry['statusListCredential']}#{entry['statusListIndex']}"
    assert "tia@example.org" not in json.dumps(signed)


def test_positions_random_unique_and_kept_on_reissue(site, make):
    for n in range(6):
        grant(site, make("trainee", email=f"t{n}@example.org", name=f"T {n}"), course="rep")
    with site.test_request_context():
        entries = list(db.session.scalars(select(CredentialStatusEntry)))
        assert len(entries) == 6 and len({e.position for e in entries}) == 6
        # Not handed out in order: six draws from 131,072 are not 0..5.
        assert sorted(e.position for e in entries) != list(range(6))
        assert all(0 <= e.position < status.STATUS_LIST_LENGTH for e in entries)
        certificate = db.session.scalar(select(Certificate).order_by(Certificate.id))
        before = services.build_credential(certificate)["credentialStatus"]
        from lms.accreditation import services as accreditation

        accreditation.reissue(certificate)
        db.session.commit()
        assert services.build_credential(certificate)["credentialStatus"] == before
        lst = db.session.get(CredentialStatusList, 1)
        assert lst.length >= 131_072


def decode(encoded: str) -> bytes:
    """The spec's decoding written out again: multibase 'u', base64url, GZIP."""
    assert encoded[0] == "u"
    body = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def listed_bit(client, entry: dict) -> bool:
    response = client.get(entry["statusListCredential"].removeprefix("https://mip.example"))
    assert response.status_code == 200
    listed = json.loads(response.get_data(as_text=True))
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    subject = listed["credentialSubject"]
    assert subject["type"] == "BitstringStatusList" and subject["statusPurpose"] == "revocation"
    bits = decode(subject["encodedList"])
    assert len(bits) * 8 >= 131_072
    index = int(entry["statusListIndex"])
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def test_revoke_by_cli_sets_the_bit_and_publishes(site, make, tmp_path):
    _cid, number, _token = grant(site, make("trainee", email="tia@example.org", name="Tia M"))
    out = tmp_path / "c.json"
    runner = site.test_cli_runner()
    result = runner.invoke(
        args=["lms", "certificates", "credential", number, "-o", str(out), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    signed = json.loads(out.read_text())
    entry = signed["credentialStatus"]
    client = site.test_client()
    assert listed_bit(client, entry) is False
    with site.test_request_context():
        check_proof_by_hand(signed, services.did_document())

    result = runner.invoke(
        args=["lms", "certificates", "revoke", number, "--reason", "Issued in error"]
    )
    assert result.exit_code == 0, result.output
    assert "Revoked certificate" in result.output
    with site.app_context():
        certificate = db.session.scalar(select(Certificate))
        assert certificate.revoked_at is not None
        assert certificate.revocation_reason == "Issued in error"
        assert status.is_revoked(int(entry["statusListIndex"]), 1)
        lst = db.session.get(CredentialStatusList, 1)
        # The job (immediate in tests) published the list again after the commit.
        assert lst.published_version == lst.version
    assert listed_bit(client, entry) is True
    again = runner.invoke(args=["lms", "certificates", "revoke", number, "--reason", "Twice"])
    assert again.exit_code != 0 and "already been revoked" in again.output
    missing = runner.invoke(args=["lms", "certificates", "revoke", "MIP-NOPE", "--reason", "x"])
    assert missing.exit_code != 0 and "No certificate" in missing.output


def test_web_revoke_flips_the_bit(site, make):
    from lms.accounts.models import User
    from lms.accreditation import services as accreditation

    trainee = make("trainee", email="tia@example.org", name="Tia M")
    admin = make("admin", email="ada@example.org", name="Ada Admin")
    grant(site, trainee)
    with site.test_request_context():
        certificate = db.session.scalar(select(Certificate))
        entry = services.build_credential(certificate)["credentialStatus"]
        db.session.commit()
    client = site.test_client()
    assert listed_bit(client, entry) is False
    with site.test_request_context():
        certificate = db.session.scalar(select(Certificate))
        accreditation.revoke(certificate, db.session.get(User, admin), "Fraud")
        db.session.commit()
    assert listed_bit(client, entry) is True


def test_status_list_route_public_cached_and_signed(site, make):
    grant(site, make("trainee", email="tia@example.org", name="Tia M"))
    client = site.test_client()
    response = client.get("/credentials/status/1")
    assert response.status_code == 200
    assert response.mimetype == "application/vc+ld+json"
    assert "max-age=" in response.headers["Cache-Control"]
    assert "public" in response.headers["Cache-Control"]
    etag = response.headers["ETag"]
    assert client.get("/credentials/status/1", headers={"If-None-Match": etag}).status_code == 304
    # Signed when asked (no LMS_BASE_URL here), yet the same bytes a second later: the
    # ETag holds until a bit changes.
    time.sleep(1.1)
    again = client.get("/credentials/status/1", headers={"If-None-Match": etag})
    assert again.status_code == 304, "the list's bytes changed with the clock"
    with site.test_request_context():
        listed = json.loads(response.get_data(as_text=True))
        assert dataintegrity.verify(listed)["cryptosuite"] == "eddsa-rdfc-2022"
        check_proof_by_hand(listed, services.did_document())
    assert client.get("/credentials/status/99").status_code == 404
    served = client.get("/credentials/contexts/credentials-v2.jsonld")
    assert served.status_code == 200
    assert served.get_json() == contexts.bundled_context("https://www.w3.org/ns/credentials/v2")
    assert client.get("/credentials/contexts/nope.json").status_code == 404
    for path in ("/credentials/status/1", "/.well-known/did.json"):
        assert client.get(path).headers["Access-Control-Allow-Origin"] == "*"


def test_encoding_left_most_bit_first():
    bits = bytearray(16)
    status.set_bit(bits, 0)
    status.set_bit(bits, 9)
    assert bits[0] == 0x80 and bits[1] == 0x40
    round_trip = status.decode_encoded_list(status.encode_bits(bits))
    assert round_trip == bytes(bits)
    assert status.bit_at(round_trip, 0) and status.bit_at(round_trip, 9)
    assert not status.bit_at(round_trip, 1)
    assert "=" not in status.encode_bits(bits)


def test_holder_page_links_both_forms(site, make):
    grant(site, make("trainee", email="tia@example.org", name="Tia M"))
    with site.app_context():
        number = db.session.scalar(select(Certificate.number))
    client = site.test_client()
    login(client, "tia@example.org")
    page = client.get("/certificates").get_data(as_text=True)
    assert f"/certificates/{number}/credential.jwt" in page
    assert f"/certificates/{number}/credential.json" in page
    downloaded = client.get(f"/certificates/{number}/credential.json").get_json()
    assert downloaded["proof"]["cryptosuite"] == "eddsa-rdfc-2022"


def test_migration_gives_existing_certificates_positions(tmp_path):
    """Certificates issued before migration 0021 get random positions (revoked ones set)."""
    from flask_migrate import downgrade, upgrade

    from lms import create_app
    from lms.accounts.models import User
    from lms.accreditation import services as accreditation
    from tests.conftest import base_config, make_user

    url = f"sqlite:///{tmp_path / 'before.db'}"
    app = create_app(
        {
            **base_config(url, tmp_path / "instance"),
            "LMS_CERTIFICATES_DIR": str(write_plain_templates(tmp_path / "c", "Cert")),
            "LMS_ISSUER_KEY_DIR": str(tmp_path / "keys"),
        }
    )
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory)
        from lms.accounts.cli import seed_regions

        seed_regions()
        db.session.commit()
    ids = [make_user(app, f"p{n}@example.org", f"P {n}") for n in range(3)]
    admin_id = make_user(app, "a@example.org", "A Admin", ("admin",))
    for user_id in ids:
        grant(app, user_id)
    with app.app_context():
        first = db.session.scalar(select(Certificate).order_by(Certificate.id))
        accreditation.revoke(first, db.session.get(User, admin_id), "x")
        first_id = first.id
        db.session.commit()
        db.session.remove()
        downgrade(directory=directory, revision="0020_audit_log")
        upgrade(directory=directory)
        entries = list(db.session.scalars(select(CredentialStatusEntry)))
        assert len(entries) == 3 and len({e.position for e in entries}) == 3
        assert {e.certificate_id for e in entries if e.revoked} == {first_id}
        assert status.is_revoked(next(e.position for e in entries if e.revoked), 1)
        db.session.remove()
        db.engine.dispose()


def test_erasure_withdraws_the_credential_in_the_status_list(site, make, tmp_path):
    _cid, number, _token = grant(site, make("trainee", email="tia@example.org", name="Tia M"))
    with site.test_request_context():
        certificate = db.session.scalar(select(Certificate))
        entry = services.build_credential(certificate)["credentialStatus"]
        db.session.commit()
    client = site.test_client()
    assert listed_bit(client, entry) is False
    result = site.test_cli_runner().invoke(
        args=["lms", "privacy", "erase", "--email", "tia@example.org", "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert listed_bit(client, entry) is True
    out = tmp_path / "w.jwt"
    withdrawn = site.test_cli_runner().invoke(
        args=["lms", "certificates", "credential", number, "-o", str(out)]
    )
    assert withdrawn.exit_code != 0 and "withdrawn" in withdrawn.output
    assert not out.exists()


def test_simultaneous_issuers_never_share_a_position(site, make, monkeypatch):
    """Two issuers drawing the same position at the same moment: the unique constraint
    stops the second, which draws again (on SQLite and PostgreSQL alike)."""
    import itertools
    import threading

    for n in range(2):
        grant(site, make("trainee", email=f"s{n}@example.org", name=f"S {n}"))
    with site.app_context():
        ids = list(db.session.scalars(select(Certificate.id).order_by(Certificate.id)))
        # Forget the positions given at issue, to draw them again side by side.
        for entry in db.session.scalars(select(CredentialStatusEntry)):
            db.session.delete(entry)
        db.session.commit()

    draws = itertools.chain([7, 7], itertools.count(100))
    lock = threading.Lock()

    def randbelow(_n: int) -> int:
        with lock:
            return next(draws)

    monkeypatch.setattr(status.secrets, "randbelow", randbelow)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def issue(certificate_id: int) -> None:
        try:
            # Wait before touching the database: on SQLite the first statement takes
            # the write lock, so the second issuer then queues behind the first.
            barrier.wait(timeout=10)
            with site.app_context():
                certificate = db.session.get(Certificate, certificate_id)
                status.ensure_entry(certificate)
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=issue, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    with site.app_context():
        positions = sorted(db.session.scalars(select(CredentialStatusEntry.position)))
    assert positions[0] == 7 and len(set(positions)) == 2 and positions[1] >= 100


def test_without_base_url_the_list_is_signed_for_the_host_asked(app_with, make, tmp_path):
    site = app_with(
        LMS_CERTIFICATES_DIR=str(write_plain_templates(tmp_path / "c", "Cert")),
        LMS_ISSUER_KEY_DIR=str(tmp_path / "keys"),
    )
    grant(site, make("trainee", email="tia@example.org", name="Tia M"))
    response = site.test_client().get("/credentials/status/1", base_url="https://training.example")
    listed = json.loads(response.get_data(as_text=True))
    assert listed["id"] == "https://training.example/credentials/status/1"
    assert listed["proof"]["verificationMethod"].startswith("did:web:training.example#")


def test_jwt_carries_the_same_status_entry(site, make):
    grant(site, make("trainee", email="tia@example.org", name="Tia M"))
    with site.test_request_context():
        certificate = db.session.scalar(select(Certificate))
        token = services.sign_jwt(services.build_credential(certificate))
        signed = services.signed_json(certificate)
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["credentialStatus"] == signed["credentialStatus"]
    assert "proof" not in claims
