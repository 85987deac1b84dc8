"""New passwords: common and guessable ones refused (ASVS 2.1.7), the strength meter and
show-password control (2.1.8, 2.1.12), and the pepper (2.4.5)."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lms.accounts import services as accounts
from lms.accounts.models import User
from lms.extensions import db
from tests.conftest import PASSWORD, csrf_from, get_csrf, get_user, login, make_user

STRONG = "walrus ferry tangerine oboe"
ADVICE = "Choose three or four unrelated words"
COMMON = "It is, or is built on, one of the passwords people use most often."
GUESSABLE = "It would be quick to guess"
PERSONAL = "Do not use your name or email address in your password"
FAMOUS = "This is a well-known example password"

# (password, why it is refused) for Ffion Bevan, ffion.bevan@example.org.
REFUSED = [
    ("password1234", COMMON),
    ("qwertyuiop123", COMMON),
    ("iloveyou2024!", COMMON),
    ("aaaaaaaaaaaaaaaa", GUESSABLE),
    ("abcdefghijklmnop", GUESSABLE),
    ("correct horse battery", FAMOUS),
    ("Correct-Horse-Battery-Staple", FAMOUS),
    ("ffion.bevan.rocks!", PERSONAL),
    ("my name is Bevan, hello", PERSONAL),
]


def _hasher(app) -> PasswordHasher:
    return PasswordHasher(
        time_cost=app.config["LMS_ARGON2_TIME_COST"],
        memory_cost=app.config["LMS_ARGON2_MEMORY_COST"],
    )


def error_for(html: str, field_id: str) -> str:
    match = re.search(rf'<p class="error-message" id="{field_id}-error">(.*?)</p>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) if match else ""


def password_inputs(html: str) -> list[str]:
    return re.findall(r"<input[^>]*type=\"password\"[^>]*>", html)


def new_person(app, password: str | None = None) -> int:
    return make_user(app, email="ffion.bevan@example.org", name="Ffion Bevan", password=password)


def setup_link(app, user_id: int) -> str:
    with app.app_context():
        url = accounts.issue_password_link(get_user(app, user_id), "setup", send=False)
        db.session.commit()
    return "/password/set/" + url.rsplit("/", 1)[-1]


@pytest.mark.parametrize(("password", "why"), REFUSED)
def test_password_problem_says_why_and_how_to_choose(app, password, why):
    with app.app_context():
        person = User(email="ffion.bevan@example.org", name="Ffion Bevan")
        problem = accounts.password_problem(password, person)
    assert problem is not None and why in problem and ADVICE in problem


def test_password_problem_accepts_strong_passphrases_and_works_without_a_person(app):
    with app.app_context():
        person = User(email="sam@example.org", name="Sam Okafor")
        for password in (STRONG, PASSWORD, "sample the damson jam at noon"):
            assert accounts.password_problem(password, person) is None, password
        # Without the person only their words are not checked.
        assert accounts.password_problem("ffion.bevan.rocks!") is None
        assert COMMON in accounts.password_problem("password1234")
        # "Sam" is refused as a word of its own, not inside "sample".
        assert PERSONAL in accounts.password_problem("sam walks the damson jam", person)


def test_set_password_page_refuses_weak_passwords_and_keeps_nothing_typed(app, client):
    user_id = new_person(app)
    path = setup_link(app, user_id)
    html = client.get(path).get_data(as_text=True)
    for password, why in REFUSED:
        response = client.post(
            path, data={"csrf_token": csrf_from(html), "password": password, "confirm": password}
        )
        assert response.status_code == 422, password
        html = response.get_data(as_text=True)
        message = error_for(html, "password")
        assert why in message and ADVICE in message, (password, message)
        # Nothing typed comes back in the password fields (or anywhere on the page);
        # the account's address (the hidden username field) is still there.
        assert password not in html
        assert not [f for f in password_inputs(html) if re.search(r"value=\"[^\"]", f)]
        assert 'value="ffion.bevan@example.org" autocomplete="username"' in html
        assert get_user_hash(app, user_id) is None
    # The link still works, and a strong passphrase is accepted.
    response = client.post(
        path, data={"csrf_token": csrf_from(html), "password": STRONG, "confirm": STRONG}
    )
    assert response.status_code == 302
    assert login(app.test_client(), "ffion.bevan@example.org", STRONG).status_code == 302


def get_user_hash(app, user_id: int) -> str | None:
    with app.app_context():
        return get_user(app, user_id).password_hash


def test_account_page_refuses_weak_passwords_and_accepts_a_strong_one(app, client):
    user_id = new_person(app, PASSWORD)
    assert login(client, "ffion.bevan@example.org").status_code == 302
    before = get_user_hash(app, user_id)
    for password, why in [REFUSED[0], REFUSED[4], REFUSED[7]]:
        response = client.post(
            "/account",
            data={
                "csrf_token": get_csrf(client, "/account"),
                "current": PASSWORD,
                "password": password,
                "confirm": password,
            },
        )
        assert response.status_code == 422, password
        html = response.get_data(as_text=True)
        message = error_for(html, "password")
        assert why in message and ADVICE in message, (password, message)
        assert password not in html and PASSWORD not in html
        assert not [f for f in password_inputs(html) if re.search(r"value=\"[^\"]", f)]
        assert get_user_hash(app, user_id) == before
    response = client.post(
        "/account",
        data={
            "csrf_token": get_csrf(client, "/account"),
            "current": PASSWORD,
            "password": STRONG,
            "confirm": STRONG,
        },
    )
    assert response.status_code == 302
    assert login(app.test_client(), "ffion.bevan@example.org", STRONG).status_code == 302


def test_cli_refuses_a_weak_demo_password_and_accepts_a_strong_one(app, monkeypatch):
    runner = app.test_cli_runner()
    monkeypatch.setitem(app.config, "LMS_DEMO_PASSWORD", "password1234")
    result = runner.invoke(args=["lms", "setup", "--demo"])
    assert result.exit_code == 1
    assert "the demo password is not accepted for admin@example.org" in result.output
    assert COMMON in result.output and ADVICE in result.output
    with app.app_context():
        assert accounts.find_by_email("admin@example.org") is None
    monkeypatch.setitem(app.config, "LMS_DEMO_PASSWORD", STRONG)
    result = runner.invoke(args=["lms", "setup", "--demo"])
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), "admin@example.org", STRONG).status_code == 302


def test_generated_demo_passwords_are_accepted(app):
    from lms.accounts.cli import _WORDS, DEMO_PEOPLE

    assert len(set(_WORDS)) == 64
    with app.app_context():
        import secrets

        for _ in range(40):
            password = "-".join(secrets.choice(_WORDS) for _ in range(4)) + "42"
            for email, name, *_rest in DEMO_PEOPLE:
                assert accounts.password_problem(password, User(email=email, name=name)) is None


def test_meter_and_show_password_on_password_pages(app, client):
    user_id = new_person(app, PASSWORD)
    script = '<script src="/static/js/password.js" defer></script>'
    login_page = client.get("/login").get_data(as_text=True)
    assert script in login_page  # the toggle enhances every password field
    set_page = client.get(setup_link(app, user_id)).get_data(as_text=True)
    assert login(client, "ffion.bevan@example.org").status_code == 302
    account_page = client.get("/account").get_data(as_text=True)
    for html in (set_page, account_page):
        assert script in html
        fields = password_inputs(html)
        # The new password (only) gets the meter; every field gets the toggle (in JS).
        metered = [f for f in fields if "data-password-meter" in f]
        assert len(metered) == 1 and 'id="password"' in metered[0]
        assert 'autocomplete="new-password"' in metered[0]
    response = client.get("/static/js/password.js")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'querySelectorAll("input[type=password]")' in body
    assert "Show password" in body and "data-password-meter" in body
    response.close()
    css = client.get("/static/css/app.css").get_data(as_text=True)
    assert ".password-strength__meter" in css and ".password-toggle" in css


# --- the pepper (ASVS 2.4.5) -------------------------------------------------------


def expected_pepper(app) -> bytes:
    """The default pepper, derived here with another HKDF implementation."""
    if app.config.get("LMS_PASSWORD_PEPPER"):
        return app.config["LMS_PASSWORD_PEPPER"].encode()
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"lms password pepper v1"
    ).derive(app.config["SECRET_KEY"].encode())


def test_stored_hash_is_argon2_of_the_peppered_password_not_the_bare_one(app):
    user_id = new_person(app, STRONG)
    stored = get_user_hash(app, user_id)
    assert stored.startswith("p1$$argon2id$")
    argon2_hash = stored[len("p1$") :]
    hasher = _hasher(app)
    with pytest.raises(VerificationError):
        hasher.verify(argon2_hash, STRONG)
    peppered = hmac.new(expected_pepper(app), STRONG.encode(), hashlib.sha256).digest()
    assert hasher.verify(argon2_hash, peppered)


def test_an_explicit_pepper_is_used(app, app_with):
    other = app_with(LMS_PASSWORD_PEPPER="kept in the vault, not in the database")
    with other.app_context():
        user_id = new_person(other, STRONG)
        stored = get_user_hash(other, user_id)
    peppered = hmac.new(
        b"kept in the vault, not in the database", STRONG.encode(), hashlib.sha256
    ).digest()
    assert _hasher(app).verify(stored[len("p1$") :], peppered)


def test_an_old_unpeppered_hash_still_logs_in_and_is_upgraded(app):
    user_id = new_person(app)
    with app.app_context():
        get_user(app, user_id).password_hash = _hasher(app).hash(PASSWORD)
        db.session.commit()
    old = get_user_hash(app, user_id)
    assert old.startswith("$argon2id$")
    assert login(app.test_client(), "ffion.bevan@example.org").status_code == 302
    new = get_user_hash(app, user_id)
    assert new.startswith("p1$$argon2id$") and new != old
    # The upgraded hash logs in again (and is not changed again).
    assert login(app.test_client(), "ffion.bevan@example.org").status_code == 302
    assert get_user_hash(app, user_id) == new
    # A wrong password does not upgrade an old hash.
    with app.app_context():
        get_user(app, user_id).password_hash = old
        db.session.commit()
    assert login(app.test_client(), "ffion.bevan@example.org", STRONG).status_code == 401
    assert get_user_hash(app, user_id) == old


def test_weaker_argon2_parameters_are_upgraded_at_login(app):
    user_id = new_person(app)
    weak = PasswordHasher(time_cost=1, memory_cost=512)
    with app.app_context():
        peppered = hmac.new(expected_pepper(app), PASSWORD.encode(), hashlib.sha256).digest()
        get_user(app, user_id).password_hash = "p1$" + weak.hash(peppered)
        db.session.commit()
    assert login(app.test_client(), "ffion.bevan@example.org").status_code == 302
    upgraded = get_user_hash(app, user_id)
    assert f"m={app.config['LMS_ARGON2_MEMORY_COST']}," in upgraded


def test_a_changed_pepper_stops_logins(app, app_with):
    """Documented (README): changing LMS_PASSWORD_PEPPER, or SECRET_KEY while it is
    unset, makes every peppered password fail; people then reset their passwords."""
    new_person(app, STRONG)
    assert login(app.test_client(), "ffion.bevan@example.org", STRONG).status_code == 302
    for overrides in ({"LMS_PASSWORD_PEPPER": "a new pepper"}, {"SECRET_KEY": "another key"}):
        other = app_with(**overrides)
        response = login(other.test_client(), "ffion.bevan@example.org", STRONG)
        assert response.status_code == 401, overrides
        assert "The email address or password is not right." in response.get_data(as_text=True)


def test_unknown_address_is_checked_against_a_peppered_dummy_hash(app):
    with app.app_context():
        accounts._DUMMY_HASH.clear()
        assert accounts.authenticate("nobody@example.org", STRONG) is None
        # The same work as for an account: one argon2 verification of a peppered hash.
        assert [h[:3] for h in accounts._DUMMY_HASH.values()] == ["p1$"]
