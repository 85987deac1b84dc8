"""Logging in and out, password links, resets and changes, and the login rate limits."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from lms.accounts import services as accounts
from lms.accounts.models import PasswordToken, User
from lms.db import utcnow
from lms.extensions import db
from lms.security import is_safe_next
from tests.conftest import CSRF_RE, PASSWORD, csrf_from, get_csrf, get_user, login

WRONG = "The email address or password is not right."
NEW_PASSWORD = "a completely new passphrase"
TOO_LONG = "x" * 10_000


def error_for(html: str, field_id: str) -> str:
    """The text of the error message shown next to a field (empty if none)."""
    match = re.search(rf'<p class="error-message" id="{field_id}-error">(.*?)</p>', html, re.S)
    if not match:
        return ""
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def outbox(app) -> list[tuple[str, str, str]]:
    return app.extensions.get("lms.outbox", [])


def link_path(url: str) -> str:
    return urlsplit(url).path


def issue_link(app, user_id: int, purpose: str = "setup") -> str:
    with app.app_context():
        url = accounts.issue_password_link(get_user(app, user_id), purpose)
        db.session.commit()
    return link_path(url)


def password_hash(app, user_id: int) -> str | None:
    with app.app_context():
        return get_user(app, user_id).password_hash


def is_logged_in(client) -> bool:
    return client.get("/dashboard").status_code == 200


# Logging in and out ---------------------------------------------------------------------


def test_login_and_logout(app, client, make):
    make("trainee", email="sam@example.org")
    response = login(client, "sam@example.org")
    assert response.status_code == 302
    assert response.location == "/dashboard"
    assert is_logged_in(client)

    # Logging out is a POST with a CSRF token; a GET or a POST without the token is refused.
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert is_logged_in(client)
    token = get_csrf(client, "/account")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.location == "/login"
    assert "You have logged out." in client.get("/login").get_data(as_text=True)
    response = client.get("/dashboard")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


def test_login_email_is_not_case_sensitive(client, make):
    make("trainee", email="sam@example.org")
    assert login(client, "  Sam@Example.ORG ").status_code == 302


def test_wrong_password_says_so_next_to_the_field_and_keeps_the_email(client, make):
    make("trainee", email="sam@example.org")
    response = login(client, "sam@example.org", "not the password")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert error_for(html, "password") == f"Error: {WRONG}"
    assert 'href="#password"' in html  # the error summary links to the field
    assert 'value="sam@example.org"' in html
    assert "not the password" not in html
    assert not is_logged_in(client)


def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client, make):
    make("trainee", email="sam@example.org")
    response = login(client, "nobody@example.org", "not the password")
    assert response.status_code == 401
    assert error_for(response.get_data(as_text=True), "password") == f"Error: {WRONG}"


def test_empty_login_form_names_both_fields(client):
    token = get_csrf(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "email": "", "password": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter your email address." in error_for(html, "email")
    assert "Enter your password." in error_for(html, "password")


def test_login_without_csrf_token_is_refused(app, client, make):
    make("trainee", email="sam@example.org")
    response = client.post("/login", data={"email": "sam@example.org", "password": PASSWORD})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Your session timed out" in html
    assert PASSWORD not in html  # what is shown back never includes a password
    assert not is_logged_in(client)
    response = client.post(
        "/login", data={"csrf_token": "forged", "email": "sam@example.org", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert not is_logged_in(client)


def test_overlong_password_at_login_is_refused_without_error(client, make):
    make("trainee", email="sam@example.org")
    response = login(client, "sam@example.org", TOO_LONG)
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert error_for(html, "password") == f"Error: {WRONG}"
    assert TOO_LONG not in html


def test_deactivated_account_cannot_log_in_and_its_session_ends(app, make):
    user_id = make("trainee", email="sam@example.org")
    earlier = app.test_client()
    assert login(earlier, "sam@example.org").status_code == 302
    with app.app_context():
        get_user(app, user_id).is_active_account = False
        db.session.commit()
    client = app.test_client()
    response = login(client, "sam@example.org")
    assert response.status_code == 401
    assert error_for(response.get_data(as_text=True), "password") == f"Error: {WRONG}"
    assert not is_logged_in(client)
    assert not is_logged_in(earlier)


def test_account_without_a_password_yet_cannot_log_in(app, client):
    with app.app_context():
        accounts.create_user("new@example.org", "New Person", ["trainee"], send_link=False)
        db.session.commit()
    assert login(client, "new@example.org", "").status_code == 422
    assert login(client, "new@example.org", "anything at all").status_code == 401


# Where to go after logging in -----------------------------------------------------------


def test_local_next_is_followed(client, make):
    make("trainee", email="sam@example.org")
    response = login(client, "sam@example.org", next_url="/courses/link-member?tab=1")
    assert response.location == "/courses/link-member?tab=1"


def test_next_survives_the_trip_through_the_login_page(client, make):
    make("trainee", email="sam@example.org")
    response = client.get("/courses/link-member")
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert 'name="next" value="/courses/link-member"' in page
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_from(page),
            "email": "sam@example.org",
            "password": PASSWORD,
            "next": "/courses/link-member",
        },
    )
    assert response.location == "/courses/link-member"


FOREIGN_NEXT = [
    "https://evil.example",
    "https://evil.example/dashboard",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "http:/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    " //evil.example",
    "\t//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "\x00//evil.example",
    "/\x00evil.example",
    "dashboard",
    "",
]


@pytest.mark.parametrize("target", FOREIGN_NEXT, ids=[repr(t) for t in FOREIGN_NEXT])
def test_foreign_next_is_ignored(client, make, target):
    make("trainee", email="sam@example.org")
    # NUL is removed where queries and forms are parsed (lms.Request): what is left is
    # judged as it is ("/\x00evil.example" is the path "/evil.example" on this site).
    cleaned = target.replace("\x00", "")
    page = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    if not is_safe_next(cleaned):
        assert "evil" not in page
        assert 'name="next"' not in page
    response = login(client, "sam@example.org", next_url=target)
    assert response.status_code == 302
    assert response.location == (cleaned if is_safe_next(cleaned) else "/dashboard")
    assert "//" not in response.location and not response.location.startswith("/\t")
    # Already logged in, the login page sends people on, never to another site.
    response = client.get("/login", query_string={"next": target})
    assert response.location == (cleaned if is_safe_next(cleaned) else "/dashboard")


# Rate limits on failed logins -----------------------------------------------------------


WRONG_PASSWORD = "not the password"


def attempt(app, email: str, password: str = WRONG_PASSWORD, address: str = "10.0.0.1"):
    """One login attempt from ``address`` in a fresh browser."""
    client = app.test_client()
    token = get_csrf(client, "/login")
    return client.post(
        "/login",
        data={"csrf_token": token, "email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_a_strangers_failures_elsewhere_never_stop_the_owner(app, make):
    """Many wrong passwords for one account, from many addresses: the owner, from
    their own address, logs in at once with the right one."""
    make("trainee", email="sam@example.org")
    for n in range(40):
        response = attempt(app, "sam@example.org", address=f"10.0.{n // 10}.{n}")
        assert response.status_code in (401, 429), n
    assert attempt(app, "sam@example.org", PASSWORD, address="192.0.2.99").status_code == 302


def age_failures(app, seconds: int) -> None:
    from sqlalchemy import update

    from lms.accounts.models import LoginFailure

    with app.app_context():
        db.session.execute(update(LoginFailure).values(last_at=LoginFailure.last_at - seconds))
        db.session.commit()


def fresh_failures(app) -> None:
    """The last failures happened just now (a slow machine must not let a wait run out
    between one request of a test and the next)."""
    import time

    from sqlalchemy import update

    from lms.accounts.models import LoginFailure

    with app.app_context():
        db.session.execute(update(LoginFailure).values(last_at=int(time.time())))
        db.session.commit()


def test_wrong_passwords_slow_down_that_email_from_that_address_only(app, make):
    from lms.accounts import throttle

    make("trainee", email="sam@example.org")
    make("trainee", email="ffion@example.org")
    for _ in range(throttle.FREE_FAILURES):
        assert attempt(app, "sam@example.org", address="10.0.0.1").status_code == 401
    # The pair now waits: even the right password, from there, is asked to wait.
    fresh_failures(app)
    waiting = attempt(app, "SAM@example.org", PASSWORD, address="10.0.0.1")
    assert waiting.status_code == 429
    html = waiting.get_data(as_text=True)
    assert re.search(r"Wait [12] seconds? and try again", html), html
    assert 'value="SAM@example.org"' in html
    # The same account from elsewhere, and another account from there, are not slowed.
    assert attempt(app, "ffion@example.org", PASSWORD, address="10.0.0.1").status_code == 302
    assert attempt(app, "sam@example.org", PASSWORD, address="10.0.0.2").status_code == 302
    # After the wait the right password works there too, and the count starts again.
    age_failures(app, 3)
    assert attempt(app, "sam@example.org", PASSWORD, address="10.0.0.1").status_code == 302
    for _ in range(throttle.FREE_FAILURES):
        assert attempt(app, "sam@example.org", address="10.0.0.1").status_code == 401


def test_the_delay_grows_and_has_a_ceiling(app, make):
    from lms.accounts import throttle

    with app.app_context():
        delays = [throttle.delay_after(n) for n in range(1, 12)]
    assert delays[: throttle.FREE_FAILURES - 1] == [0] * (throttle.FREE_FAILURES - 1)
    growing = delays[throttle.FREE_FAILURES - 1 :]
    assert growing == sorted(growing) and growing[0] == 2 and growing[1] == 4
    assert max(growing) == app.config["LMS_LOGIN_DELAY_MAX_SECONDS"]
    make("trainee", email="sam@example.org")
    for n in range(6):
        if n:
            age_failures(app, 120)  # each try after the last one's wait
        response = attempt(app, "sam@example.org", address="10.0.0.1")
        assert response.status_code == 401, n
    fresh_failures(app)
    waiting = attempt(app, "sam@example.org", address="10.0.0.1")
    assert waiting.status_code == 429


def test_many_failures_tell_the_owner_once(app, make):
    from sqlalchemy import select

    from lms.accounts.models import LoginFailure

    make("trainee", email="sam@example.org", name="Sam Okafor")
    threshold = app.config["LMS_LOGIN_ALERT_FAILURES"]
    app.extensions.pop("lms.outbox", None)
    for n in range(threshold + 5):
        attempt(app, "sam@example.org", address=f"10.1.{n}.1")
        attempt(app, "nobody@example.org", address=f"10.2.{n}.1")
    sent = [(to, subject) for to, subject, _body in app.extensions.get("lms.outbox", [])]
    assert sent == [("sam@example.org", "Failed attempts to log in to your MiP training account")]
    body = app.extensions["lms.outbox"][0][2]
    assert "not locked" in body and "Sam" in body
    # The counts keep no email and no address.
    with app.app_context():
        stored = repr(db.session.scalars(select(LoginFailure)).all()) + repr(
            [(r.key,) for r in db.session.scalars(select(LoginFailure))]
        )
    assert "sam@" not in stored and "10.1." not in stored and "nobody" not in stored


def test_failed_logins_are_limited_per_address(app, make):
    make("trainee", email="sam@example.org")
    for n in range(20):
        response = attempt(app, f"guess{n}@example.org", address="198.51.100.7")
        assert response.status_code == 401, n
    assert attempt(app, "guess-more@example.org", address="198.51.100.7").status_code == 429
    assert attempt(app, "sam@example.org", PASSWORD, address="198.51.100.7").status_code == 429
    # Someone else, elsewhere, can still log in.
    assert attempt(app, "sam@example.org", PASSWORD, address="198.51.100.8").status_code == 302


def test_successful_logins_are_not_counted(app, make):
    make("trainee", email="sam@example.org")
    for _ in range(2):
        assert attempt(app, "sam@example.org").status_code == 401
    for _ in range(25):
        assert attempt(app, "sam@example.org", PASSWORD).status_code == 302
    # The right password started the pair's count again: three more tries before a wait.
    for _ in range(3):
        assert attempt(app, "sam@example.org").status_code == 401
    fresh_failures(app)
    assert attempt(app, "sam@example.org").status_code == 429


# One-time links to set a password -------------------------------------------------------


def test_set_password_link_works_once(app, make):
    user_id = make("trainee", email="sam@example.org")
    path = issue_link(app, user_id)
    (to, subject, body), *_ = outbox(app)
    assert to == "sam@example.org"
    assert path in body

    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Choose your password" in html
    assert "For sam@example.org." in html
    token = csrf_from(html)

    # Mistakes keep the link usable.
    response = client.post(
        path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": "something else"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The two passwords are not the same." in error_for(html, "confirm")
    assert NEW_PASSWORD not in html
    # Eleven characters are too few (ASVS 2.1.1: at least 12); spaces and any Unicode
    # count, and there are no rules about kinds of characters.
    response = client.post(
        path, data={"csrf_token": token, "password": "elevenchars", "confirm": "elevenchars"}
    )
    assert response.status_code == 422
    assert "Use between 12 and 128 characters." in error_for(
        response.get_data(as_text=True), "password"
    )

    response = client.post(
        path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert response.location == "/dashboard"
    assert "Your password is set. Welcome, Test." in client.get("/dashboard").get_data(as_text=True)

    # Spent: the link now says so, and a second use changes nothing.
    stored = password_hash(app, user_id)
    response = client.get(path)
    assert response.status_code == 410
    assert "This link no longer works" in response.get_data(as_text=True)
    token = get_csrf(client, "/account")
    response = client.post(
        path, data={"csrf_token": token, "password": "another password 2", "confirm": "x"}
    )
    assert response.status_code == 410
    assert password_hash(app, user_id) == stored

    fresh = app.test_client()
    assert login(fresh, "sam@example.org", NEW_PASSWORD).status_code == 302
    assert login(app.test_client(), "sam@example.org", PASSWORD).status_code == 401


def test_overlong_password_on_the_set_password_page_gets_a_clear_message(app, client, make):
    user_id = make("trainee", email="sam@example.org")
    path = issue_link(app, user_id)
    token = get_csrf(client, path)
    response = client.post(
        path, data={"csrf_token": token, "password": TOO_LONG, "confirm": TOO_LONG}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_for(html, "password") == "Error: Use between 12 and 128 characters."
    assert TOO_LONG not in html
    assert client.get(path).status_code == 200  # the link was not spent


def test_set_password_link_expires(app, client, make):
    user_id = make("trainee", email="sam@example.org")
    path = issue_link(app, user_id)
    assert client.get(path).status_code == 200
    with app.app_context():
        db.session.execute(update(PasswordToken).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    response = client.get(path)
    assert response.status_code == 410
    assert "This link no longer works" in response.get_data(as_text=True)


def test_a_newer_link_replaces_an_earlier_one(app, client, make):
    user_id = make("trainee", email="sam@example.org")
    first = issue_link(app, user_id)
    second = issue_link(app, user_id, "reset")
    assert first != second
    assert client.get(first).status_code == 410
    response = client.get(second)
    assert response.status_code == 200
    assert "Reset your password" in response.get_data(as_text=True)


def test_unknown_link_no_longer_works(client):
    assert client.get("/password/set/made-up-token").status_code == 410


def test_links_are_stored_only_as_hashes(app, make):
    user_id = make("trainee", email="sam@example.org")
    path = issue_link(app, user_id)
    token = path.rsplit("/", 1)[1]
    with app.app_context():
        stored = db.session.scalars(select(PasswordToken.token_hash)).all()
    assert stored
    assert token not in stored


# Resetting a forgotten password ---------------------------------------------------------


def request_reset(client, email: str):
    token = get_csrf(client, "/password/reset")
    return client.post("/password/reset", data={"csrf_token": token, "email": email})


def without_csrf(html: str) -> str:
    return CSRF_RE.sub("", html)


def test_reset_says_the_same_whether_or_not_there_is_an_account(app, make):
    make("trainee", email="sam@example.org")
    pages = []
    for email in ("nobody@example.org", "sam@example.org"):
        client = app.test_client()
        response = request_reset(client, email)
        assert response.status_code == 302
        assert response.location == "/login"
        pages.append(without_csrf(client.get("/login").get_data(as_text=True)))
    assert pages[0] == pages[1]
    assert "If an account uses that address, we have sent it a link" in pages[0]

    # Only the real account was sent a link, and the link resets the password.
    assert [to for to, _subject, _body in outbox(app)] == ["sam@example.org"]
    _to, subject, body = outbox(app)[0]
    assert subject == "Reset your MiP training password"
    path = link_path(re.search(r"https?://\S+/password/set/\S+", body).group(0))
    client = app.test_client()
    token = get_csrf(client, path)
    response = client.post(
        path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert login(app.test_client(), "sam@example.org", NEW_PASSWORD).status_code == 302


def test_reset_for_a_deactivated_account_sends_nothing(app, client, make):
    user_id = make("trainee", email="sam@example.org")
    with app.app_context():
        get_user(app, user_id).is_active_account = False
        db.session.commit()
    assert request_reset(client, "sam@example.org").location == "/login"
    assert outbox(app) == []


def test_reset_with_a_bad_address_keeps_what_was_typed(client):
    response = request_reset(client, "not an address")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a valid email address." in error_for(html, "email")
    assert 'value="not an address"' in html


# Changing the password ------------------------------------------------------------------


def change_password(client, current: str, new: str, confirm: str | None = None):
    token = get_csrf(client, "/account")
    return client.post(
        "/account",
        data={
            "csrf_token": token,
            "current": current,
            "password": new,
            "confirm": new if confirm is None else confirm,
        },
    )


def test_change_password_needs_the_current_one(app, make):
    user_id = make("trainee", email="sam@example.org")
    client = app.test_client()
    login(client, "sam@example.org")
    before = password_hash(app, user_id)
    response = change_password(client, "not my password", NEW_PASSWORD)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert error_for(html, "current") == "Error: That is not your current password."
    assert "not my password" not in html
    assert password_hash(app, user_id) == before

    response = change_password(client, PASSWORD, TOO_LONG)
    assert response.status_code == 422
    assert "Use between 12 and 128 characters." in error_for(
        response.get_data(as_text=True), "password"
    )
    assert password_hash(app, user_id) == before


def test_change_password_ends_other_sessions(app, make):
    user_id = make("trainee", email="sam@example.org")
    this, other = app.test_client(), app.test_client()
    assert login(this, "sam@example.org").status_code == 302
    assert login(other, "sam@example.org").status_code == 302
    assert is_logged_in(other)

    response = change_password(this, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert response.location == "/account"
    assert "Your password has been changed." in this.get("/account").get_data(as_text=True)
    assert is_logged_in(this)
    response = other.get("/dashboard")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")

    assert login(app.test_client(), "sam@example.org", PASSWORD).status_code == 401
    assert login(app.test_client(), "sam@example.org", NEW_PASSWORD).status_code == 302
    assert password_hash(app, user_id).startswith("p1$$argon2id$")  # peppered (ASVS 2.4.5)


def test_setting_a_password_by_link_ends_other_sessions(app, make):
    user_id = make("trainee", email="sam@example.org")
    other = app.test_client()
    assert login(other, "sam@example.org").status_code == 302
    path = issue_link(app, user_id, "reset")
    client = app.test_client()
    token = get_csrf(client, path)
    client.post(path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert is_logged_in(client)
    assert not is_logged_in(other)


# How passwords are stored ---------------------------------------------------------------


def test_passwords_are_stored_as_argon2id_hashes_only(app, make):
    user_id = make("trainee", email="sam@example.org")
    stored = password_hash(app, user_id)
    assert stored.startswith("p1$$argon2id$")  # argon2id of the peppered password
    assert PASSWORD not in stored
    # Nowhere in the database, in any table, is the password in plain text.
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                assert all(PASSWORD not in str(value) for value in row), table.name
        assert db.session.scalar(select(User.password_hash).where(User.id == user_id)) == stored
