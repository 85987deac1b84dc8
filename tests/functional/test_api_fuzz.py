"""The public verification API, fuzzed by Schemathesis from its own OpenAPI document.

Every generated request goes to the app in-process (WSGI). A test fails on any 5xx,
an undocumented status code or content type, or a body that does not match the schema.
The database holds real certificates (valid, public name, revoked, expired), and each
of their tokens is asked for as well, so the 200 answers are checked against the schema
too, not only the 404s. Examples are bounded and derandomized: the run is repeatable
and takes seconds.

ASVS 4.0.3 V13.2.6 / V13.3 (API schema validation), V5.1.4: see docs/security.md.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from lms.accounts.models import User
from lms.accreditation import services
from lms.accreditation.models import Certificate
from lms.db import utcnow
from lms.extensions import db
from tests.functional.accreditation_helpers import grant, write_plain_templates

OPERATION = ("/api/v1/certificates/{token}", "GET")
CREDENTIAL_CHECK = ("/api/credentials/verify", "POST")


@pytest.fixture()
def api_app(app, app_with, make, tmp_path):
    """An app on the test database with four real certificates, and a lookup limit high
    enough that the fuzzing is not all answered 429 (the limit has its own tests)."""
    write_plain_templates(tmp_path / "plain", "<p>{{ number }}</p>")
    api = app_with(
        LMS_CERTIFICATES_DIR=str(tmp_path / "plain"), LMS_VERIFY_LIMIT="100000 per minute"
    )
    admin = make("admin", email="office@example.org")
    tokens = {}
    for kind in ("valid", "public", "revoked", "expired"):
        uid = make("trainee", email=f"{kind}@example.org", name=f"Api Holder {kind.title()}")
        cert_id, _number, token = grant(api, uid, "link-member")
        tokens[kind] = token
        with api.app_context():
            certificate = db.session.get(Certificate, cert_id)
            if kind == "public":
                db.session.get(User, uid).is_name_public = True
            elif kind == "revoked":
                services.revoke(certificate, db.session.get(User, admin), "Left the union")
            elif kind == "expired":
                certificate.expires_at = utcnow() - timedelta(days=1)
            db.session.commit()
    api.extensions["test.tokens"] = tokens
    return api


@pytest.fixture()
def api_schema(api_app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)


FUZZ = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_get_documented_answers(api_app, api_schema, mode):
    """Every operation, fuzzed: 30 derandomized examples each, valid (positive) and invalid
    (negative) input. The positive run also draws the real tokens, so 200 answers are
    among the checked ones.

    (Schemathesis' own ``@schema.parametrize()`` with ``schemathesis.pytest.from_fixture``
    cannot be used here: under pytest 9 it fails with ``'Function' object has no
    attribute '_nodeid'``. The documented strategies with Hypothesis' ``@given`` do the same.)
    """
    every = [result.ok() for result in api_schema.get_all_operations()]
    assert {(op.path, op.method.upper()) for op in every} == {OPERATION, CREDENTIAL_CHECK}
    # The credential check has its own fuzzing (test_credential_verify.py), with credentials.
    operations = [op for op in every if (op.path, op.method.upper()) == OPERATION]
    tokens = sorted(api_app.extensions["test.tokens"].values())
    statuses: list[int] = []
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=mode)
        if mode == GenerationMode.POSITIVE:
            real = st.sampled_from(tokens).map(
                lambda token, op=operation: op.Case(path_parameters={"token": token})
            )
            strategy = st.one_of(real, strategy)

        @FUZZ
        @given(case=strategy)
        def check(case):
            # Default checks: no 5xx, documented status codes, content types and headers,
            # bodies matching their schema, and (negative mode) invalid input refused.
            response = case.call_and_validate()
            statuses.append(response.status_code)

        check()
    assert statuses and all(status < 500 for status in statuses)
    if mode == GenerationMode.POSITIVE:
        assert 200 in statuses and 404 in statuses


def test_real_certificates_answer_as_documented(api_app, api_schema):
    """Each kind of real certificate: 200 with a body that matches the schema."""
    operation = api_schema[OPERATION[0]][OPERATION[1]]
    seen = {}
    for kind, token in api_app.extensions["test.tokens"].items():
        case = operation.Case(path_parameters={"token": token})
        response = case.call_and_validate()
        assert response.status_code == 200, kind
        seen[kind] = response.json()
    assert seen["valid"]["status"] == "valid" and seen["valid"]["holder"] is None
    assert seen["public"]["holder"] == {"name": "Api Holder Public"}
    assert seen["revoked"]["status"] == "revoked" and seen["revoked"]["revoked_on"]
    assert seen["expired"]["status"] == "expired"
    # A token one character off is a documented 404, not an error.
    near = operation.Case(
        path_parameters={"token": api_app.extensions["test.tokens"]["valid"][:-1]}
    )
    assert near.call_and_validate().status_code == 404
