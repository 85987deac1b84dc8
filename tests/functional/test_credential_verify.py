"""Checking a pasted or uploaded credential (lms.credentials.verify): credentials made by the
issuing code pass; a changed payload, another key's signature, another issuer, ``alg: none``,
an expired, revoked or withdrawn certificate, oversize and garbage input each get their own
clear answer; the page keeps what was pasted; the API answers JSON."""

from __future__ import annotations

import base64
import io
import json
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import OKPKey, RSAKey

from lms.accounts.models import User
from lms.accreditation import services as accreditation
from lms.accreditation.models import Certificate
from lms.credentials import services
from lms.credentials.routes import bp as credentials_bp
from lms.credentials.verify import MAX_BYTES, verify_credential
from lms.credentials.verify_routes import extend_openapi
from lms.credentials.verify_routes import init_app as init_credential_verify
from lms.extensions import db
from tests.conftest import get_csrf, login
from tests.functional.accreditation_helpers import grant, write_plain_templates

BASE = "https://mip.example"
DID = "did:web:mip.example"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture()
def site(app_with, tmp_path: Path):
    app = app_with(
        LMS_CERTIFICATES_DIR=str(write_plain_templates(tmp_path / "c", "Cert")),
        LMS_ISSUER_KEY_DIR=str(tmp_path / "keys"),
        LMS_BASE_URL=BASE,
    )
    if "credentials" not in app.blueprints:  # until the lead registers it
        app.register_blueprint(credentials_bp)
    init_credential_verify(app)  # idempotent: nothing to do once the app registers it
    return app


@pytest.fixture()
def holder(site, make):
    """A certificate of Tia Marsh (name not public), as (app, certificate id, number)."""
    trainee = make("trainee", email="tia@example.org", name="Tia Marsh")
    cert_id, number, _token = grant(site, trainee, course="rep")
    return cert_id, number


def certificate(cert_id: int) -> Certificate:
    return db.session.get(Certificate, cert_id)


def issued_jwt(site, cert_id: int) -> str:
    with site.test_request_context():
        return services.sign_jwt(services.build_credential(certificate(cert_id)))


def check(site, data):
    with site.test_request_context():
        return verify_credential(data)


def reasons(result) -> dict[str, tuple[bool | None, str]]:
    return {name: (c.passed, c.reason) for name, c in result.checks.items()}


# -- the VC-JWT -----------------------------------------------------------------------


def test_jwt_from_the_issuing_code_is_valid(site, holder):
    cert_id, number = holder
    result = check(site, issued_jwt(site, cert_id))
    assert result.status == "valid", reasons(result)
    assert result.form == "jwt"
    for name in ("format", "issuer", "signature", "record", "expiry", "start"):
        assert result.checks[name].passed is True, (name, result.checks[name])
    with site.test_request_context():
        answer = result.as_json()
    assert answer["certificate"]["number"] == number
    assert answer["certificate"]["holder"] is None  # the name is not public
    assert "tia@example.org" not in json.dumps(answer)


def test_changed_payload_fails_the_signature(site, holder):
    token = issued_jwt(site, holder[0])
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    claims["name"] = "Chief Negotiator (forged)"
    forged = ".".join([header, b64(json.dumps(claims).encode()), signature])
    result = check(site, forged)
    assert result.status == "invalid"
    assert result.checks["issuer"].passed is True
    assert result.checks["signature"].passed is False
    assert "does not match" in result.checks["signature"].reason
    assert result.certificate is None  # nothing of the record shown for a forgery


def test_another_keys_signature_under_our_kid_fails(site, holder):
    token = issued_jwt(site, holder[0])
    header = json.loads(unb64(token.split(".")[0]))
    claims = json.loads(unb64(token.split(".")[1]))
    stranger = RSAKey.generate_key(2048)
    forged = jwt.encode(header, claims, stranger)
    result = check(site, forged)
    assert result.status == "invalid"
    assert "does not match" in result.checks["signature"].reason


def test_foreign_issuer_is_not_issued_by_this_site(site, holder):
    token = issued_jwt(site, holder[0])
    claims = json.loads(unb64(token.split(".")[1]))
    other = "did:web:elsewhere.example"
    claims["iss"] = other
    claims["issuer"] = {**claims["issuer"], "id": other}
    key = RSAKey.generate_key(2048)
    foreign = jwt.encode({"alg": "RS256", "kid": f"{other}#key-1"}, claims, key)
    result = check(site, foreign)
    assert result.status == "unknown_issuer"
    assert result.checks["issuer"].passed is False
    assert "Not issued by this site" in result.checks["issuer"].reason
    assert other in result.checks["issuer"].reason
    assert result.checks["signature"].passed is None


def test_older_vc_claim_form_from_another_issuer(site):
    other = "did:web:elsewhere.example"
    claims = {"iss": other, "vc": {"type": ["VerifiableCredential"], "issuer": other}}
    token = jwt.encode({"alg": "RS256", "kid": f"{other}#1"}, claims, RSAKey.generate_key(2048))
    result = check(site, token)
    assert result.status == "unknown_issuer"
    assert other in result.checks["issuer"].reason


def test_our_kid_but_another_issuer_claim_is_refused(site, holder):
    token = issued_jwt(site, holder[0])
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    claims["iss"] = "did:web:elsewhere.example"
    result = check(site, ".".join([header, b64(json.dumps(claims).encode()), signature]))
    assert result.status == "unknown_issuer"


def test_alg_none_is_refused(site, holder):
    token = issued_jwt(site, holder[0])
    header = json.loads(unb64(token.split(".")[0]))
    header["alg"] = "none"
    unsigned = f"{b64(json.dumps(header).encode())}.{token.split('.')[1]}."
    result = check(site, unsigned)
    assert result.status == "invalid"
    assert "not signed" in result.checks["signature"].reason
    assert "none" in result.checks["signature"].reason


def test_hmac_with_the_public_key_is_refused(site, holder):
    """The classic confusion: HS256 'signed' with the RSA public key as the secret."""
    import hashlib
    import hmac

    token = issued_jwt(site, holder[0])
    header = json.loads(unb64(token.split(".")[0]))
    header["alg"] = "HS256"
    with site.test_request_context():
        method = next(
            m for m in services.did_document()["verificationMethod"] if m["id"] == header["kid"]
        )
    secret = json.dumps(method["publicKeyJwk"]).encode()
    signing_input = f"{b64(json.dumps(header).encode())}.{token.split('.')[1]}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    result = check(site, f"{signing_input}.{b64(mac)}")
    assert result.status == "invalid"
    assert "only RS256 and EdDSA" in result.checks["signature"].reason


def test_eddsa_jwt_with_our_ed25519_key_is_valid(site, holder):
    with site.test_request_context():
        credential = services.build_credential(certificate(holder[0]))
        doc = services.did_document()
    ed_method = next(m for m in doc["verificationMethod"] if m["publicKeyJwk"]["kty"] == "OKP")
    pem = next(Path(site.config["LMS_ISSUER_KEY_DIR"]).glob("ed25519-*.pem")).read_bytes()
    claims = dict(credential, iss=DID, jti=credential["id"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # "EdDSA is deprecated via RFC 9864"
        token = jwt.encode(
            {"alg": "EdDSA", "kid": ed_method["id"]},
            claims,
            OKPKey.import_key(pem),
            algorithms=["EdDSA"],
        )
    result = check(site, token)
    assert result.status == "valid", reasons(result)
    assert "EdDSA" in result.checks["signature"].reason


def test_rs256_under_the_ed25519_kid_is_refused(site, holder):
    token = issued_jwt(site, holder[0])
    header, payload, signature = token.split(".")
    head = json.loads(unb64(header))
    with site.test_request_context():
        doc = services.did_document()
    head["kid"] = next(m["id"] for m in doc["verificationMethod"] if "ed25519" in m["id"])
    result = check(site, ".".join([b64(json.dumps(head).encode()), payload, signature]))
    assert result.status == "invalid"
    assert "does not match the key" in result.checks["signature"].reason


def test_credentials_signed_before_a_key_rotation_still_verify(site, holder):
    token = issued_jwt(site, holder[0])
    with site.test_request_context():
        services.rotate_keys()
    assert check(site, token).status == "valid"
    newer = issued_jwt(site, holder[0])
    assert (
        json.loads(unb64(newer.split(".")[0]))["kid"]
        != json.loads(unb64(token.split(".")[0]))["kid"]
    )
    assert check(site, newer).status == "valid"


def test_unknown_key_of_ours_is_refused(site, holder):
    token = issued_jwt(site, holder[0])
    header, payload, signature = token.split(".")
    head = json.loads(unb64(header))
    head["kid"] = f"{DID}#rsa-19990101T000000"
    result = check(site, ".".join([b64(json.dumps(head).encode()), payload, signature]))
    assert result.status == "invalid"
    assert "not one of this site's keys" in result.checks["signature"].reason


# -- dates and status ------------------------------------------------------------------


def test_expired_certificate(site, holder):
    cert_id, _number = holder
    with site.app_context():
        certificate(cert_id).expires_at = datetime.now(UTC) - timedelta(days=3)
        db.session.commit()
    result = check(site, issued_jwt(site, cert_id))
    assert result.status == "expired"
    assert result.checks["expiry"].passed is False
    assert "expired on" in result.checks["expiry"].reason
    assert result.checks["signature"].passed is True


def test_credential_past_its_valid_until_is_expired_even_if_record_was_extended(site, holder):
    cert_id, _number = holder
    with site.test_request_context():
        cert = certificate(cert_id)
        credential = services.build_credential(cert)
        credential["validUntil"] = "2020-01-01T00:00:00Z"
        token = services.sign_jwt(credential)
    result = check(site, token)
    assert result.status == "expired"
    assert "1 January 2020" in result.checks["expiry"].reason
    assert result.checks["record"].passed is True


def test_not_yet_valid(site, holder):
    cert_id, _number = holder
    with site.test_request_context():
        credential = services.build_credential(certificate(cert_id))
        credential["validFrom"] = (datetime.now(UTC) + timedelta(days=30)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        token = services.sign_jwt(credential)
    result = check(site, token)
    assert result.status == "not_yet_valid"
    assert result.checks["start"].passed is False
    assert "not valid until" in result.checks["start"].reason


def test_revoked_certificate_record(site, holder, make):
    cert_id, number = holder
    token = issued_jwt(site, cert_id)
    admin = make("admin")
    with site.app_context():
        accreditation.revoke(certificate(cert_id), db.session.get(User, admin), "Left the NHS")
        db.session.commit()
    result = check(site, token)
    assert result.status == "revoked"
    assert result.checks["record"].passed is False
    assert f"{number} was revoked on" in result.checks["record"].reason


def test_erased_holder_certificate_is_withdrawn(site, holder):
    from lms.privacy.services import erase_user

    cert_id, number = holder
    token = issued_jwt(site, cert_id)
    with site.app_context():
        user = db.session.get(User, certificate(cert_id).user_id)
        erase_user(user)
        db.session.commit()
    result = check(site, token)
    assert result.status == "withdrawn"
    assert "withdrawn" in result.checks["record"].reason
    with site.test_request_context():
        answer = result.as_json()
    assert answer["status"] == "withdrawn"
    assert answer["certificate"] is None or answer["certificate"]["holder"] is None
    assert "Tia" not in json.dumps(answer)


# -- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"x" * (MAX_BYTES + 1), "too large"),
        (b"", "Nothing was given"),
        (b"   \n ", "Nothing was given"),
        (b"\xff\xfe\x00garbage", "not text"),
        ("hello, this is not a credential", "neither a VC-JWT"),
        ("aaa.bbb.ccc", "cannot be read"),
        ("{not json", "not valid JSON"),
        ("[" * 30000 + "]" * 30000, "neither a VC-JWT"),
        ('{"a":' * 9000 + "1" + "}" * 9000, "not valid JSON"),
        ("[1, 2]", "neither a VC-JWT"),
        ('{"@context": ["https://example.org/x"], "type": ["Thing"]}', "@context"),
        (
            json.dumps({"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["X"]}),
            "not a verifiable credential",
        ),
    ],
    ids=[
        "oversize",
        "empty",
        "blank",
        "binary",
        "words",
        "three-dotted-parts",
        "broken-json",
        "deep-array",
        "deep-json",
        "json-array",
        "foreign-context",
        "not-a-vc",
    ],
)
def test_bad_input_is_malformed_with_a_reason(site, data, says):
    result = check(site, data)
    assert result.status == "malformed"
    assert result.checks["format"].passed is False
    assert says in result.checks["format"].reason


def test_json_credential_without_a_proof(site, holder):
    with site.test_request_context():
        credential = services.build_credential(certificate(holder[0]))
    credential.pop("proof", None)
    result = check(site, json.dumps(credential))
    assert result.status == "malformed"
    assert "no proof" in result.checks["format"].reason


# -- the page ----------------------------------------------------------------------------


def test_page_shows_the_form_and_checks_a_pasted_jwt(site, holder):
    token = issued_jwt(site, holder[0])
    client = site.test_client()
    page = client.get("/verify").get_data(as_text=True)
    assert "Check a digital credential" in page and 'name="credential"' in page
    response = client.post(
        "/verify/credential",
        data={"credential": token, "csrf_token": get_csrf(client, "/verify")},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Genuine and valid" in html
    assert "✓ Passed" in html and "Failed" not in html
    assert holder[1] in html
    assert "Tia Marsh" not in html  # not public, and no surname typed


def test_page_shows_the_name_for_a_matching_surname(site, holder):
    client = site.test_client()
    response = client.post(
        "/verify/credential",
        data={
            "credential": issued_jwt(site, holder[0]),
            "surname": "marsh",
            "csrf_token": get_csrf(client, "/verify"),
        },
    )
    html = response.get_data(as_text=True)
    assert "Tia Marsh" in html and "matches this certificate" in html


def test_page_checks_an_uploaded_file(site, holder):
    client = site.test_client()
    response = client.post(
        "/verify/credential",
        data={
            "credential_file": (io.BytesIO(issued_jwt(site, holder[0]).encode()), "c.jwt"),
            "csrf_token": get_csrf(client, "/verify"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "Genuine and valid" in response.get_data(as_text=True)


def test_page_shows_each_failed_check_in_words(site, holder):
    token = issued_jwt(site, holder[0])
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    claims["name"] = "Forged"
    client = site.test_client()
    response = client.post(
        "/verify/credential",
        data={
            "credential": ".".join([header, b64(json.dumps(claims).encode()), signature]),
            "csrf_token": get_csrf(client, "/verify"),
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Not genuine" in html and "✗ Failed" in html and "does not match" in html
    assert holder[1] not in html


def test_page_keeps_pasted_text_on_bad_input(site):
    client = site.test_client()
    pasted = "this is <b>not</b> a credential"
    response = client.post(
        "/verify/credential",
        data={"credential": pasted, "csrf_token": get_csrf(client, "/verify")},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "neither a VC-JWT" in html
    assert "this is &lt;b&gt;not&lt;/b&gt; a credential</textarea>" in html


def test_page_keeps_pasted_text_when_the_token_lapsed(site, holder):
    token = issued_jwt(site, holder[0])
    response = site.test_client().post("/verify/credential", data={"credential": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "session timed out" in html and f"{token}</textarea>" in html


def test_page_asks_for_something_when_nothing_is_given(site):
    client = site.test_client()
    response = client.post(
        "/verify/credential", data={"credential": "", "csrf_token": get_csrf(client, "/verify")}
    )
    assert response.status_code == 422
    assert "Paste the credential" in response.get_data(as_text=True)


# -- the API -------------------------------------------------------------------------------


def test_api_answers_json(site, holder):
    token = issued_jwt(site, holder[0])
    client = site.test_client()
    response = client.post("/api/credentials/verify", json={"credential": token})
    assert response.status_code == 200 and response.is_json
    answer = response.get_json()
    assert answer["status"] == "valid"
    assert answer["checks"]["signature"]["passed"] is True
    assert answer["certificate"]["number"] == holder[1]
    assert answer["certificate"]["holder"] is None
    assert response.headers["Cache-Control"] == "no-store"

    raw = client.post("/api/credentials/verify", data=token, content_type="application/vc+jwt")
    assert raw.get_json()["status"] == "valid"


def test_api_shows_the_name_only_when_public(site, holder):
    with site.app_context():
        user = db.session.get(User, certificate(holder[0]).user_id)
        user.is_name_public = True
        db.session.commit()
    answer = (
        site.test_client()
        .post("/api/credentials/verify", json={"credential": issued_jwt(site, holder[0])})
        .get_json()
    )
    assert answer["certificate"]["holder"] == {"name": "Tia Marsh"}


def test_api_bad_input(site):
    client = site.test_client()
    garbage = client.post("/api/credentials/verify", json={"credential": "nonsense"})
    assert garbage.status_code == 200 and garbage.get_json()["status"] == "malformed"
    assert "neither a VC-JWT" in garbage.get_json()["checks"]["format"]["reason"]
    assert garbage.get_json()["certificate"] is None
    for nothing in ({"something": "else"}, {"credential": 5}, {"credential": ""}, [1]):
        missing = client.post("/api/credentials/verify", json=nothing)
        assert missing.status_code == 422 and missing.get_json()["status"] == "malformed"
    empty = client.post("/api/credentials/verify", data=b"", content_type="text/plain")
    assert empty.status_code == 422
    big = client.post(
        "/api/credentials/verify", data=b"a" * (MAX_BYTES + 5000), content_type="text/plain"
    )
    assert big.status_code == 413 and "too large" in big.get_json()["checks"]["format"]["reason"]


def test_api_revoked_answer(site, holder, make):
    token = issued_jwt(site, holder[0])
    admin = make("admin")
    with site.app_context():
        accreditation.revoke(certificate(holder[0]), db.session.get(User, admin), "Left")
        db.session.commit()
    answer = site.test_client().post("/api/credentials/verify", json={"credential": token})
    body = answer.get_json()
    assert body["status"] == "revoked"
    assert body["certificate"]["status"] == "revoked" and body["certificate"]["revoked_on"]


def test_openapi_describes_the_api_and_its_answers(site, holder):
    import jsonschema
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    client = site.test_client()
    document = client.get("/api/v1/openapi.json").get_json()
    if "/api/credentials/verify" not in document["paths"]:  # until the lead wires it
        extend_openapi(document)
    validate(document, cls=OpenAPIV31SpecValidator)
    operation = document["paths"]["/api/credentials/verify"]["post"]
    assert operation["operationId"] == "verifyCredential"
    registry = Registry().with_resource(
        "urn:lms:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    validator = jsonschema.Draft202012Validator(
        {"$ref": "urn:lms:openapi#/components/schemas/CredentialCheck"},
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    token = issued_jwt(site, holder[0])
    for body in (token, "nonsense", token[:-5] + "AAAAA"):
        answer = client.post("/api/credentials/verify", json={"credential": body})
        assert str(answer.status_code) in operation["responses"]
        validator.validate(answer.get_json())
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"status": "probably", "checks": {}, "certificate": None})


def test_api_refuses_other_methods(site):
    assert site.test_client().get("/api/credentials/verify").status_code == 405


# -- the JSON form with its Data Integrity proof ------------------------------------------


def issued_json(site, cert_id: int) -> dict:
    with site.test_request_context():
        return services.signed_json(certificate(cert_id))


def test_json_from_the_issuing_code_is_valid(site, holder):
    signed = issued_json(site, holder[0])
    result = check(site, json.dumps(signed, indent=2))
    assert result.status == "valid", reasons(result)
    assert result.form == "json"
    assert "eddsa-rdfc-2022" in result.checks["signature"].reason
    assert result.checks["status"].passed is True
    assert "clear" in result.checks["status"].reason


def test_json_with_a_changed_field_fails(site, holder):
    signed = issued_json(site, holder[0])
    signed["credentialSubject"]["achievement"]["name"] = "Chief Negotiator"
    result = check(site, json.dumps(signed))
    assert result.status == "invalid"
    assert "does not match" in result.checks["signature"].reason
    assert result.certificate is None


def test_json_with_an_added_undefined_field_fails(site, holder):
    """The VC 2.0 context's @vocab signs undefined terms too: adding one breaks the proof."""
    signed = issued_json(site, holder[0])
    signed["holderName"] = "Someone Else"
    assert check(site, json.dumps(signed)).status == "invalid"


def test_json_with_another_signature_fails(site, holder):
    signed = issued_json(site, holder[0])
    value = signed["proof"]["proofValue"]
    signed["proof"]["proofValue"] = value[:-3] + ("111" if value[-3:] != "111" else "222")
    result = check(site, json.dumps(signed))
    assert result.status == "invalid"
    assert result.checks["signature"].passed is False


def test_json_from_another_issuer(site, holder):
    signed = issued_json(site, holder[0])
    signed["issuer"]["id"] = "did:web:elsewhere.example"
    signed["proof"]["verificationMethod"] = "did:web:elsewhere.example#key-1"
    result = check(site, json.dumps(signed))
    assert result.status == "unknown_issuer"
    assert "did:web:elsewhere.example" in result.checks["issuer"].reason


def test_json_with_a_context_we_do_not_bundle(site, holder):
    signed = issued_json(site, holder[0])
    signed["@context"].append("https://evil.example/context.json")
    result = check(site, json.dumps(signed))
    assert result.status == "invalid"
    assert "contexts we use" in result.checks["signature"].reason


def test_json_proof_of_the_wrong_purpose(site, holder):
    signed = issued_json(site, holder[0])
    signed["proof"]["proofPurpose"] = "authentication"
    result = check(site, json.dumps(signed))
    assert result.status == "invalid"
    assert "purpose" in result.checks["signature"].reason


def test_json_uploaded_on_the_page_and_sent_to_the_api(site, holder):
    signed = issued_json(site, holder[0])
    client = site.test_client()
    page = client.post(
        "/verify/credential",
        data={
            "credential_file": (io.BytesIO(json.dumps(signed).encode()), "c.json"),
            "csrf_token": get_csrf(client, "/verify"),
        },
        content_type="multipart/form-data",
    )
    assert "Genuine and valid" in page.get_data(as_text=True)
    as_object = client.post("/api/credentials/verify", json={"credential": signed})
    assert as_object.get_json()["status"] == "valid"
    as_body = client.post(
        "/api/credentials/verify", data=json.dumps(signed), content_type="application/vc+ld+json"
    )
    assert as_body.get_json()["status"] == "valid"


# -- the status list --------------------------------------------------------------------------


def test_revocation_shows_in_the_status_list_for_both_forms(site, holder, make):
    cert_id, _number = holder
    token, signed = issued_jwt(site, cert_id), issued_json(site, cert_id)
    assert check(site, token).checks["status"].passed is True
    admin = make("admin")
    with site.app_context():
        accreditation.revoke(certificate(cert_id), db.session.get(User, admin), "Left the NHS")
        db.session.commit()
    for given in (token, json.dumps(signed)):
        result = check(site, given)
        assert result.status == "revoked"
        assert result.checks["status"].passed is False
        assert "Revoked" in result.checks["status"].reason
        assert result.checks["record"].passed is False


def test_status_entry_pointing_elsewhere_is_refused(site, holder):
    with site.test_request_context():
        credential = services.build_credential(certificate(holder[0]))
        credential["credentialStatus"]["statusListCredential"] = "https://elsewhere.example/s/1"
        token = services.sign_jwt(credential)
    result = check(site, token)
    assert result.status == "invalid"
    assert "not one of this site's" in result.checks["status"].reason


# -- everyone may use both routes; the API fuzzed from its own OpenAPI document ------------

FOREIGN_JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImRpZDp3ZWI6ZWxzZXdoZXJlLmV4YW1wbGUja2V5LTEifQ."
    "eyJ0eXBlIjpbIlZlcmlmaWFibGVDcmVkZW50aWFsIiwiT3BlbkJhZGdlQ3JlZGVudGlhbCJdLCJpc3N1ZXIiOiJk"
    "aWQ6d2ViOmVsc2V3aGVyZS5leGFtcGxlIiwiaXNzIjoiZGlkOndlYjplbHNld2hlcmUuZXhhbXBsZSIsImNyZWRl"
    "bnRpYWxTdWJqZWN0Ijp7fX0.c2lnbmF0dXJl"
)


def test_anyone_may_check_logged_in_or_not(site, make):
    make("officer", email="officer@example.org")
    anonymous, officer = site.test_client(), site.test_client()
    login(officer, "officer@example.org")
    for client in (anonymous, officer):
        page = client.post(
            "/verify/credential",
            data={"credential": FOREIGN_JWT, "csrf_token": get_csrf(client, "/verify")},
        )
        assert page.status_code == 200
        assert "Not issued by this site" in page.get_data(as_text=True)
        api = client.post("/api/credentials/verify", data={"credential": FOREIGN_JWT})
        assert api.status_code == 200 and api.get_json()["status"] == "unknown_issuer"


def test_api_fuzzed_from_its_openapi_document(site, holder):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.generation.modes import GenerationMode

    site.config["LMS_VERIFY_LIMIT"] = "100000 per minute"
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", site)
    operation = schema["/api/credentials/verify"]["POST"]
    statuses: list[int] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @settings(
            max_examples=25,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check_case(case):
            response = case.call_and_validate()
            statuses.append(response.status_code)

        check_case()
    assert statuses and all(status < 500 for status in statuses)
    real = operation.Case(
        body={"credential": issued_jwt(site, holder[0])}, media_type="application/json"
    )
    response = real.call_and_validate()
    assert response.status_code == 200 and response.json()["status"] == "valid"


def test_page_for_a_withdrawn_certificate_names_nobody(site, holder):
    from lms.privacy.services import erase_user

    cert_id, number = holder
    token = issued_jwt(site, cert_id)
    with site.app_context():
        erase_user(db.session.get(User, certificate(cert_id).user_id))
        db.session.commit()
    client = site.test_client()
    response = client.post(
        "/verify/credential",
        data={"credential": token, "surname": "Marsh", "csrf_token": get_csrf(client, "/verify")},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Genuine but withdrawn" in html and "at the holder’s request" in html
    assert "Tia" not in html and "Marsh" not in html and "surname" not in html.lower()


def test_checks_are_rate_limited_like_other_lookups(app_with, tmp_path):
    limited = app_with(LMS_ISSUER_KEY_DIR=str(tmp_path / "keys"), LMS_VERIFY_LIMIT="3 per minute")
    init_credential_verify(limited)
    client = limited.test_client()
    answers = [
        client.post("/api/credentials/verify", json={"credential": FOREIGN_JWT}).status_code
        for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    token = get_csrf(client, "/verify")
    pages = [
        client.post(
            "/verify/credential", data={"credential": FOREIGN_JWT, "csrf_token": token}
        ).status_code
        for _ in range(4)
    ]
    assert pages[-1] == 429
