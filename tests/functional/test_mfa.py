"""A second factor: setting up an authenticator app from the account page, the login's
second step, recovery codes, slowing down guessed codes, and administrators made to
have one (ASVS 2.6, 2.8, 4.3.1)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time

import cbor2
import pyotp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accounts.models import LoginFailure
from lms.extensions import db
from lms.mfa import services as mfa
from lms.mfa.models import RecoveryCode, SecurityKey, TotpFactor
from lms.sessions.models import LoginSession
from tests.conftest import PASSWORD, csrf_from, get_csrf, login

EMAIL = "ada@example.org"
SECRET_RE = re.compile(r'id="mfa-secret">([A-Z2-7 ]+)<')
CODE_RE = re.compile(r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>")


@pytest.fixture()
def person(make) -> int:
    return make("trainee", email=EMAIL, name="Ada Lovell")


def code_for(secret: str, at: float | None = None) -> str:
    return pyotp.TOTP(secret).at(int(at if at is not None else time.time()))


def set_up_app(client: FlaskClient) -> tuple[str, list[str]]:
    """Set up an authenticator app through the account page; returns its secret and
    the recovery codes shown. Leaves the current time step used."""
    token = get_csrf(client, "/account")
    response = client.post("/account/two-step/app/new", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/two-step/app"
    page = client.get("/account/two-step/app").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    assert 'src="data:image/svg+xml' in page  # the QR code, inline
    response = client.post(
        "/account/two-step/app", data={"csrf_token": csrf_from(page), "code": code_for(secret)}
    )
    assert response.status_code == 200, response.status_code
    codes = CODE_RE.findall(response.get_data(as_text=True))
    return secret, codes


def logged_in(client: FlaskClient) -> bool:
    return client.get("/dashboard").status_code == 200


def second_step(client: FlaskClient, code: str):
    token = get_csrf(client, "/login/second-step")
    return client.post("/login/second-step", data={"csrf_token": token, "code": code})


def fresh_step_code(secret: str) -> str:
    """A code of the next time step (allowed by the one step of drift), not yet used."""
    return code_for(secret, time.time() + mfa.STEP_SECONDS)


def test_setting_up_an_app_shows_a_qr_code_and_ten_recovery_codes(app, client, person):
    assert login(client, EMAIL).status_code == 302
    account = client.get("/account").get_data(as_text=True)
    assert "Set up an authenticator app" in account
    secret, codes = set_up_app(client)
    assert len(secret) == 32
    assert len(codes) == 10 and len(set(codes)) == 10
    with app.app_context():
        factor = db.session.get(TotpFactor, person)
        # Stored encrypted, not as the base32 text, and readable with the app's key.
        assert secret not in factor.secret_encrypted
        assert mfa.decrypt(factor.secret_encrypted) == secret
        rows = db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == person)).all()
        assert len(rows) == 10
        stored = " ".join(f"{r.salt} {r.code_hash}" for r in rows)
        assert not any(code.replace("-", "") in stored for code in codes)
    account = client.get("/account").get_data(as_text=True)
    assert "Turn off the authenticator app" in account
    assert "10 unused recovery codes" in account
    # Shown once: nothing on the account page repeats a code.
    assert not any(code in account for code in codes)


def test_a_wrong_confirmation_code_sets_nothing_up(app, client, person):
    login(client, EMAIL)
    client.post("/account/two-step/app/new", data={"csrf_token": get_csrf(client, "/account")})
    page = client.get("/account/two-step/app").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    wrong = f"{(int(code_for(secret)) + 1) % 1_000_000:06d}"
    response = client.post(
        "/account/two-step/app", data={"csrf_token": csrf_from(page), "code": wrong}
    )
    assert response.status_code == 422
    assert "That code is not right" in response.get_data(as_text=True)
    # The same secret is shown again, to try once more.
    assert secret in response.get_data(as_text=True).replace(" ", "")
    with app.app_context():
        assert db.session.get(TotpFactor, person) is None


def test_login_with_an_app_needs_the_code_before_anything_opens(app, client, person):
    login(client, EMAIL)
    secret, _codes = set_up_app(client)
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account")})

    fresh = app.test_client()
    response = login(fresh, EMAIL, next_url="/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login/second-step"
    # The password alone opens nothing: the pending marker is not a login.
    assert not logged_in(fresh)
    assert fresh.get("/account").status_code == 302
    with app.app_context():
        assert db.session.scalars(select(LoginSession)).all() == []
    cookie_before = fresh.get_cookie("lms_session").value

    response = second_step(fresh, fresh_step_code(secret))
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"  # where the person was going
    assert logged_in(fresh)
    # A new session id, made by lms.sessions.services.start.
    assert fresh.get_cookie("lms_session").value != cookie_before
    with app.app_context():
        assert len(db.session.scalars(select(LoginSession)).all()) == 1


def test_a_code_is_accepted_once(app, client, person, caplog):
    login(client, EMAIL)
    secret, _codes = set_up_app(client)
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account")})
    code = fresh_step_code(secret)

    first = app.test_client()
    login(first, EMAIL)
    assert second_step(first, code).status_code == 302
    second = app.test_client()
    login(second, EMAIL)
    response = second_step(second, code)
    assert response.status_code == 401
    assert "has been used already" in response.get_data(as_text=True)
    assert not logged_in(second)
    # The reuse is logged (ASVS 2.8.5), without the code.
    assert any("used again" in r.getMessage() for r in caplog.records)
    assert not any(code in r.getMessage() for r in caplog.records)


def test_codes_drift_by_one_step_only(app, person):
    with app.app_context():
        secret = mfa.new_secret()
        now = 1_800_000_000.0
        assert mfa.matching_step(secret, code_for(secret, now), now) == int(now) // 30
        assert mfa.matching_step(secret, code_for(secret, now - 30), now) is not None
        assert mfa.matching_step(secret, code_for(secret, now + 30), now) is not None
        assert mfa.matching_step(secret, code_for(secret, now - 60), now) is None
        assert mfa.matching_step(secret, code_for(secret, now + 60), now) is None
        assert mfa.matching_step(secret, "12345", now) is None
        assert mfa.matching_step(secret, "abcdef", now) is None


def test_an_older_step_is_refused_after_a_newer_one(app, person):
    with app.app_context():
        user = accounts.find_by_email(EMAIL)
        secret = mfa.new_secret()
        now = 1_800_000_000.0
        mfa.enable_totp(user, secret, code_for(secret, now), now)
        assert mfa.use_totp(user.id, code_for(secret, now + 30), now + 30)
        # The code of the step before is still within the drift, but older than the used one.
        assert not mfa.use_totp(user.id, code_for(secret, now), now + 30)
        db.session.rollback()


def test_a_recovery_code_logs_in_once(app, client, person):
    login(client, EMAIL)
    _secret, codes = set_up_app(client)
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account")})

    first = app.test_client()
    login(first, EMAIL)
    # Case and spaces do not matter.
    response = second_step(first, " " + codes[3].upper().replace("-", " ") + " ")
    assert response.status_code == 302
    dashboard = first.get("/dashboard")
    assert dashboard.status_code == 200
    assert "9 left" in dashboard.get_data(as_text=True)
    with app.app_context():
        assert mfa.recovery_codes_left(person) == 9

    again = app.test_client()
    login(again, EMAIL)
    assert second_step(again, codes[3]).status_code == 401
    assert not logged_in(again)


def test_the_second_step_without_a_password_opens_nothing(app, client, person):
    login(client, EMAIL)
    secret, codes = set_up_app(client)
    stranger = app.test_client()
    response = stranger.get("/login/second-step")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    token = get_csrf(stranger, "/login")
    response = stranger.post(
        "/login/second-step", data={"csrf_token": token, "code": fresh_step_code(secret)}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not logged_in(stranger)
    # The code was not spent by the refused request.
    with app.app_context():
        assert mfa.recovery_codes_left(person) == 10


def test_the_pending_marker_expires(app, client, person, monkeypatch):
    login(client, EMAIL)
    secret, _codes = set_up_app(client)
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account")})
    fresh = app.test_client()
    login(fresh, EMAIL)
    token = get_csrf(fresh, "/login/second-step")
    later = time.time() + mfa.PENDING_SECONDS + 5
    monkeypatch.setattr(time, "time", lambda: later)
    response = fresh.post(
        "/login/second-step", data={"csrf_token": token, "code": code_for(secret, later)}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    monkeypatch.undo()
    assert not logged_in(fresh)


def test_a_password_change_voids_a_pending_marker(app, client, person):
    login(client, EMAIL)
    secret, _codes = set_up_app(client)
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account")})
    fresh = app.test_client()
    login(fresh, EMAIL)
    with app.app_context():
        accounts.set_password(accounts.find_by_email(EMAIL), "another long passphrase")
        db.session.commit()
    response = fresh.get("/login/second-step")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not logged_in(fresh)


def test_wrong_codes_are_slowed_down(app, client, person):
    login(client, EMAIL)
    secret, _codes = set_up_app(client)
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account")})
    fresh = app.test_client()
    login(fresh, EMAIL)
    right = fresh_step_code(secret)
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    for _n in range(mfa.FREE_FAILURES):
        assert second_step(fresh, wrong).status_code == 401
    # Even the right code now waits: it is not even checked.
    response = second_step(fresh, right)
    assert response.status_code == 429
    assert "Too many wrong codes" in response.get_data(as_text=True)
    assert not logged_in(fresh)
    with app.app_context():
        row = db.session.get(LoginFailure, mfa._failure_key(person))
        assert row.failures == mfa.FREE_FAILURES
        # The delay grows with each failure after the free ones.
        assert mfa._delay_after(mfa.FREE_FAILURES) < mfa._delay_after(mfa.FREE_FAILURES + 1)
        # After the wait, the right code logs in and the count starts again.
        row.last_at -= 120
        db.session.commit()
    assert second_step(fresh, right).status_code == 302
    assert logged_in(fresh)
    with app.app_context():
        assert db.session.get(LoginFailure, mfa._failure_key(person)) is None


def test_turning_the_app_off_needs_the_password_or_a_code(app, client, person):
    login(client, EMAIL)
    secret, _codes = set_up_app(client)
    token = get_csrf(client, "/account")
    response = client.post(
        "/account/two-step/app/off", data={"csrf_token": token, "password": "not my password"}
    )
    assert response.status_code == 302
    assert "Give your password" in client.get("/account").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(TotpFactor, person) is not None
    response = client.post(
        "/account/two-step/app/off", data={"csrf_token": token, "code": fresh_step_code(secret)}
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(TotpFactor, person) is None
        assert mfa.recovery_codes_left(person) == 0
    # Back to a password alone.
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account")})
    fresh = app.test_client()
    assert login(fresh, EMAIL).headers["Location"] == "/dashboard"


def test_turning_the_app_off_with_the_password(app, client, person):
    login(client, EMAIL)
    set_up_app(client)
    token = get_csrf(client, "/account")
    client.post("/account/two-step/app/off", data={"csrf_token": token, "password": PASSWORD})
    with app.app_context():
        assert db.session.get(TotpFactor, person) is None


def test_new_recovery_codes_replace_the_old_ones(app, client, person):
    login(client, EMAIL)
    _secret, old = set_up_app(client)
    token = get_csrf(client, "/account")
    response = client.post(
        "/account/two-step/recovery-codes", data={"csrf_token": token, "password": PASSWORD}
    )
    assert response.status_code == 200
    new = CODE_RE.findall(response.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    with app.app_context():
        user_id = person
        assert not mfa.use_recovery_code(user_id, old[0])
        assert mfa.use_recovery_code(user_id, new[0])
        db.session.rollback()


def test_a_password_reset_link_still_asks_for_the_code(app, client, person):
    login(client, EMAIL)
    secret, _codes = set_up_app(client)
    with app.app_context():
        link = accounts.issue_password_link(accounts.find_by_email(EMAIL), "reset", send=False)
        db.session.commit()
    stranger = app.test_client()
    path = "/password/set/" + link.rsplit("/")[-1]
    token = get_csrf(stranger, path)
    new = "a reset passphrase here"
    response = stranger.post(path, data={"csrf_token": token, "password": new, "confirm": new})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login/second-step"
    assert not logged_in(stranger)
    assert second_step(stranger, fresh_step_code(secret)).status_code == 302
    assert logged_in(stranger)


def test_setting_up_and_turning_off_need_the_form_token(app, client, person):
    login(client, EMAIL)
    assert client.post("/account/two-step/app/new").status_code == 400
    secret, _codes = set_up_app(client)
    response = client.post("/account/two-step/app/off", data={"password": PASSWORD})
    assert response.status_code == 400
    response = client.post("/account/two-step/recovery-codes", data={"password": PASSWORD})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(TotpFactor, person) is not None
        assert mfa.recovery_codes_left(person) == 10
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account")})
    fresh = app.test_client()
    login(fresh, EMAIL)
    response = fresh.post("/login/second-step", data={"code": fresh_step_code(secret)})
    assert response.status_code == 400
    assert not logged_in(fresh)


def test_confirming_an_app_needs_the_form_token(app, client, person):
    login(client, EMAIL)
    client.post("/account/two-step/app/new", data={"csrf_token": get_csrf(client, "/account")})
    page = client.get("/account/two-step/app").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    response = client.post("/account/two-step/app", data={"code": code_for(secret)})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(TotpFactor, person) is None


# Administrators must have a second factor (ASVS 4.3.1) ------------------------------------


@pytest.fixture()
def required(app: Flask, monkeypatch):
    monkeypatch.setitem(app.config, "LMS_MFA_REQUIRED_ROLES", ["admin"])


def test_an_administrator_without_a_second_factor_is_sent_to_set_one_up(app, make, required):
    make("admin", email="boss@example.org", name="Morwenna Pryce")
    client = app.test_client()
    assert login(client, "boss@example.org").status_code == 302
    for path in ("/admin/users", "/admin/runs", "/admin/jobs", "/dashboard"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/account#two-step-h", path
    account = client.get("/account").get_data(as_text=True)
    assert "Your role needs a second factor" in account
    # A POST to an admin page does nothing either.
    token = csrf_from(account)
    response = client.post("/admin/regions", data={"csrf_token": token, "name": "Isle of Man"})
    assert response.status_code == 302
    with app.app_context():
        assert accounts.region_by_name("Isle of Man") is None

    set_up_app(client)
    assert client.get("/admin/users").status_code == 200


def test_a_trainee_is_not_made_to_set_one_up(app, client, person, required):
    login(client, EMAIL)
    assert logged_in(client)


def test_nobody_is_made_to_when_no_role_is_required(app, make):
    assert app.config["LMS_MFA_REQUIRED_ROLES"] == []
    make("admin", email="boss@example.org", name="Morwenna Pryce")
    client = app.test_client()
    login(client, "boss@example.org")
    assert client.get("/admin/users").status_code == 200


def test_the_default_requires_administrators(monkeypatch):
    bare = Flask("bare")
    monkeypatch.delenv("LMS_MFA_REQUIRED_ROLES", raising=False)
    mfa.init_app(bare)
    assert bare.config["LMS_MFA_REQUIRED_ROLES"] == ["admin"]
    monkeypatch.setenv("LMS_MFA_REQUIRED_ROLES", "admin, officer")
    bare.config.pop("LMS_MFA_REQUIRED_ROLES")
    mfa.init_app(bare)
    assert bare.config["LMS_MFA_REQUIRED_ROLES"] == ["admin", "officer"]
    monkeypatch.setenv("LMS_MFA_REQUIRED_ROLES", "")
    bare.config.pop("LMS_MFA_REQUIRED_ROLES")
    mfa.init_app(bare)
    assert bare.config["LMS_MFA_REQUIRED_ROLES"] == []


# Security keys (WebAuthn), with a software authenticator -------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftKey:
    """A FIDO2 authenticator in software: a P-256 key pair, "none" attestation, a
    signature counter. It signs what a browser would hand it for ``origin``."""

    def __init__(self, origin: str = "http://localhost") -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = 0
        self.origin = origin

    def _public_cose(self) -> bytes:
        numbers = self.private.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()

    def create(self, options: dict) -> str:
        client_data = self._client_data("webauthn.create", options["challenge"])
        auth_data = (
            hashlib.sha256(options["rp"]["id"].encode()).digest()
            + bytes([0x41])  # user present, attested credential data
            + self.sign_count.to_bytes(4, "big")
            + bytes(16)  # AAGUID
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + self._public_cose()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                },
                "clientExtensionResults": {},
            }
        )

    def get(self, options: dict, count: int | None = None) -> str:
        self.sign_count = self.sign_count + 1 if count is None else count
        client_data = self._client_data("webauthn.get", options["challenge"])
        auth_data = (
            hashlib.sha256(options["rpId"].encode()).digest()
            + bytes([0x01])
            + self.sign_count.to_bytes(4, "big")
        )
        signature = self.private.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                },
                "clientExtensionResults": {},
            }
        )


def add_key(client: FlaskClient, key: SoftKey, name: str = "Blue key"):
    token = get_csrf(client, "/account")
    options = client.post("/account/two-step/keys/options", headers={"X-CSRFToken": token})
    assert options.status_code == 200, options.status_code
    assert options.json["rp"]["id"] == "localhost"
    return client.post(
        "/account/two-step/keys",
        data={"csrf_token": token, "credential": key.create(options.json), "name": name},
    )


def key_options(client: FlaskClient):
    token = get_csrf(client, "/login/second-step")
    return token, client.post("/login/second-step/key-options", headers={"X-CSRFToken": token})


def use_key(client: FlaskClient, key: SoftKey, count: int | None = None):
    token, options = key_options(client)
    assert options.status_code == 200, options.get_data(as_text=True)
    return client.post(
        "/login/second-step",
        data={"csrf_token": token, "credential": key.get(options.json, count)},
    )


def test_a_security_key_is_added_and_logs_in(app, client, person):
    login(client, EMAIL)
    key = SoftKey()
    response = add_key(client, key)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Your security key is added" in page
    assert len(CODE_RE.findall(page)) == 10  # the first second factor: recovery codes
    with app.app_context():
        stored = db.session.scalars(select(SecurityKey)).one()
        assert stored.user_id == person and stored.name == "Blue key"
    assert "Blue key" in client.get("/account").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account")})

    fresh = app.test_client()
    assert login(fresh, EMAIL).headers["Location"] == "/login/second-step"
    assert "Use my security key" in fresh.get("/login/second-step").get_data(as_text=True)
    assert not logged_in(fresh)
    response = use_key(fresh, key)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert logged_in(fresh)
    with app.app_context():
        stored = db.session.scalars(select(SecurityKey)).one()
        assert stored.sign_count == 1 and stored.last_used_at is not None


def test_a_key_answer_is_used_once_and_a_cloned_key_is_refused(app, client, person):
    login(client, EMAIL)
    key = SoftKey()
    add_key(client, key)
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account")})

    first = app.test_client()
    login(first, EMAIL)
    token, options = key_options(first)
    answer = key.get(options.json)
    response = first.post("/login/second-step", data={"csrf_token": token, "credential": answer})
    assert response.status_code == 302
    assert logged_in(first)

    # The same answer again, in another session: its challenge is gone.
    second = app.test_client()
    login(second, EMAIL)
    token = get_csrf(second, "/login/second-step")
    response = second.post("/login/second-step", data={"csrf_token": token, "credential": answer})
    assert response.status_code == 422
    assert not logged_in(second)
    # A copy of the key whose counter does not move on (a clone) is refused.
    response = use_key(second, key, count=1)
    assert response.status_code == 401
    assert "not one of yours" in response.get_data(as_text=True)
    assert not logged_in(second)


def test_a_key_from_another_site_is_refused(app, client, person):
    login(client, EMAIL)
    response = add_key(client, SoftKey(origin="https://phishing.example"))
    assert response.status_code == 302
    assert "could not be added" in client.get("/account").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(SecurityKey)).all() == []


def test_someone_elses_key_is_not_accepted(app, client, make, person):
    login(client, EMAIL)
    add_key(client, SoftKey())
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account")})
    make("trainee", email="other@example.org", name="Other Person")
    other_client = app.test_client()
    login(other_client, "other@example.org")
    stranger_key = SoftKey()
    add_key(other_client, stranger_key)

    fresh = app.test_client()
    login(fresh, EMAIL)
    response = use_key(fresh, stranger_key)
    assert response.status_code == 401
    assert not logged_in(fresh)


def test_removing_a_key_needs_the_password(app, client, person):
    login(client, EMAIL)
    add_key(client, SoftKey())
    with app.app_context():
        key_id = db.session.scalars(select(SecurityKey.id)).one()
    token = get_csrf(client, "/account")
    url = f"/account/two-step/keys/{key_id}/remove"
    client.post(url, data={"csrf_token": token, "password": "wrong password here"})
    with app.app_context():
        assert db.session.get(SecurityKey, key_id) is not None
    client.post(url, data={"csrf_token": token, "password": PASSWORD})
    with app.app_context():
        assert db.session.get(SecurityKey, key_id) is None
        assert mfa.recovery_codes_left(person) == 0


def test_an_administrator_with_a_key_may_use_admin_pages(app, make, required):
    make("admin", email="boss@example.org", name="Morwenna Pryce")
    client = app.test_client()
    login(client, "boss@example.org")
    assert client.get("/admin/users").status_code == 302
    add_key(client, SoftKey())
    assert client.get("/admin/users").status_code == 200


def test_key_options_need_a_pending_login(app, client, person):
    token = get_csrf(client, "/login")
    response = client.post("/login/second-step/key-options", headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert "Log in with your email address and password first" in response.json["error"]


def test_key_routes_need_the_form_token(app, client, person):
    login(client, EMAIL)
    key = SoftKey()
    assert client.post("/account/two-step/keys/options").status_code == 400
    token = get_csrf(client, "/account")
    options = client.post("/account/two-step/keys/options", headers={"X-CSRFToken": token})
    response = client.post(
        "/account/two-step/keys", data={"credential": key.create(options.json), "name": "x"}
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(SecurityKey)).all() == []
    add_key(client, key)
    with app.app_context():
        key_id = db.session.scalars(select(SecurityKey.id)).one()
    response = client.post(f"/account/two-step/keys/{key_id}/remove", data={"password": PASSWORD})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(SecurityKey, key_id) is not None
    client.post("/logout", data={"csrf_token": get_csrf(client, "/account")})
    fresh = app.test_client()
    login(fresh, EMAIL)
    assert fresh.post("/login/second-step/key-options").status_code == 400
    token, options = key_options(fresh)
    response = fresh.post("/login/second-step", data={"credential": key.get(options.json)})
    assert response.status_code == 400
    assert not logged_in(fresh)


# Telling the person, and the training office's reset -----------------------------------


def subjects_to(app: Flask, email: str) -> list[str]:
    return [subject for to, subject, _body in app.extensions.get("lms.outbox", []) if to == email]


def test_the_owner_is_told_when_a_factor_changes(app, client, person):
    login(client, EMAIL)
    set_up_app(client)
    told = "Your MiP training account's second factor was changed"
    assert subjects_to(app, EMAIL) == [told]
    body = app.extensions["lms.outbox"][-1][2]
    assert "an authenticator app was set up" in body
    token = get_csrf(client, "/account")
    client.post("/account/two-step/app/off", data={"csrf_token": token, "password": PASSWORD})
    assert subjects_to(app, EMAIL) == [told, told]
    assert "turned off" in app.extensions["lms.outbox"][-1][2]


def test_the_training_office_removes_a_lost_second_factor(app, client, person):
    login(client, EMAIL)
    set_up_app(client)
    add_key(client, SoftKey())
    app.extensions.pop("lms.outbox", None)
    result = app.test_cli_runner().invoke(args=["lms", "users", "remove-second-factor", EMAIL])
    assert result.exit_code == 0, result.output
    assert "Removed 2 second factor(s)" in result.output
    with app.app_context():
        assert not mfa.has_second_factor(person)
        assert mfa.recovery_codes_left(person) == 0
    # Their sessions ended; the next login is with the password alone, and they are told.
    assert not logged_in(client)
    assert subjects_to(app, EMAIL) == ["Your MiP training account's second factor was changed"]
    fresh = app.test_client()
    assert login(fresh, EMAIL).headers["Location"] == "/dashboard"
    missing = app.test_cli_runner().invoke(
        args=["lms", "users", "remove-second-factor", "nobody@example.org"]
    )
    assert missing.exit_code != 0 and "no account" in missing.output
