"""Server-side sessions: logging out, changing a password, a reset and deactivation end
sessions for real; timeouts; a new session id at login and on a change of roles; the
account page's "Active sessions"; the Redis store when Redis answers."""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from lms.accounts import services as accounts
from lms.accounts.models import User
from lms.extensions import db
from lms.sessions import services as sessions
from lms.sessions.models import LoginSession, WebSession
from lms.sessions.store import store_key
from tests.conftest import PASSWORD, csrf_from, get_csrf, login

COOKIE = "lms_session"
NEW_PASSWORD = "a brand new passphrase"


def cookie_of(client: FlaskClient) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def with_cookie(app: Flask, value: str) -> FlaskClient:
    """Another browser holding a copy of a session cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, value)
    return thief


def logged_in(client: FlaskClient) -> bool:
    response = client.get("/dashboard")
    return response.status_code == 200


def rows_of(app: Flask, user_id: int) -> list[LoginSession]:
    with app.app_context():
        return list(db.session.scalars(select(LoginSession).where(LoginSession.user_id == user_id)))


@pytest.fixture()
def person(app, make):
    return make("trainee", email="ada@example.org", name="Ada Lovell")


def test_logout_ends_the_session_on_the_server(app, client, person):
    assert login(client, "ada@example.org").status_code == 302
    copied = cookie_of(client)
    assert logged_in(with_cookie(app, copied))
    page = client.get("/dashboard").get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert not logged_in(client)
    # The copy taken before logout opens nothing now.
    thief = with_cookie(app, copied)
    answer = thief.get("/dashboard")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert rows_of(app, person) == []
    with app.app_context():
        assert db.session.get(WebSession, store_key(copied)) is None


def test_cookie_holds_a_random_id_and_the_database_only_its_hash(app, client, person):
    assert login(client, "ada@example.org").status_code == 302
    value = cookie_of(client)
    assert len(value) >= 40 and "." not in value  # not a signed, readable cookie
    with app.app_context():
        keys = list(db.session.scalars(select(WebSession.id)))
        row = db.session.scalars(select(LoginSession)).one()
    assert value not in keys and store_key(value) in keys
    assert row.key == "s:" + hashlib.sha256(value.encode()).hexdigest()
    assert not any(value in key for key in keys)


def test_session_id_changes_at_login(app, client, person):
    client.get("/login")
    before = cookie_of(client)
    assert before  # the login form's CSRF token lives in an anonymous session
    assert login(client, "ada@example.org").status_code == 302
    after = cookie_of(client)
    assert after and after != before
    # The anonymous id from before login is not logged in (session fixation).
    assert not logged_in(with_cookie(app, before))
    assert logged_in(client)


def test_password_change_ends_every_other_session(app, person):
    here, elsewhere = app.test_client(), app.test_client()
    assert login(here, "ada@example.org").status_code == 302
    assert login(elsewhere, "ada@example.org").status_code == 302
    old_here = cookie_of(here)
    response = here.post(
        "/account",
        data={
            "csrf_token": get_csrf(here, "/account"),
            "current": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert logged_in(here)
    assert not logged_in(elsewhere)
    # This session goes on under a new id; the old id opens nothing.
    assert cookie_of(here) != old_here
    assert not logged_in(with_cookie(app, old_here))
    assert len(rows_of(app, person)) == 1


def test_password_reset_ends_every_session(app, person):
    browser = app.test_client()
    assert login(browser, "ada@example.org").status_code == 302
    with app.app_context():
        url = accounts.issue_password_link(db.session.get(User, person), "reset", send=False)
        db.session.commit()
    path = url[url.index("/password/") :]
    stranger = app.test_client()
    response = stranger.post(
        path,
        data={
            "csrf_token": get_csrf(stranger, path),
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert not logged_in(browser)
    assert logged_in(stranger)  # whoever set the new password is logged in, once
    assert len(rows_of(app, person)) == 1


def test_deactivation_ends_every_session(app, make, person):
    browser = app.test_client()
    assert login(browser, "ada@example.org").status_code == 302
    make("admin", email="office@example.org", region_name=None)
    office = app.test_client()
    assert login(office, "office@example.org").status_code == 302
    page = office.get(f"/admin/users/{person}").get_data(as_text=True)
    response = office.post(f"/admin/users/{person}/active", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert not logged_in(browser)
    assert rows_of(app, person) == []
    assert logged_in(office)


def _age(app: Flask, user_id: int, **seconds_ago: int) -> None:
    now = int(time.time())
    with app.app_context():
        db.session.execute(
            update(LoginSession)
            .where(LoginSession.user_id == user_id)
            .values(**{name: now - ago for name, ago in seconds_ago.items()})
        )
        db.session.commit()


def test_idle_timeout_logs_out_and_says_why(app, client, person):
    assert login(client, "ada@example.org").status_code == 302
    idle = app.config["LMS_SESSION_IDLE_MINUTES"] * 60
    _age(app, person, seen=idle - 90)
    assert logged_in(client)  # still inside the limit; and this request counts as activity
    with app.app_context():
        seen = db.session.scalars(select(LoginSession.seen)).one()
    assert seen >= int(time.time()) - 5
    _age(app, person, seen=idle + 5)
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "without activity" in page
    assert rows_of(app, person) == []


def test_absolute_lifetime_logs_out_however_active(app, client, person):
    assert login(client, "ada@example.org").status_code == 302
    hours = app.config["LMS_SESSION_MAX_HOURS"]
    _age(app, person, created=hours * 3600 + 5, seen=1)
    response = client.get("/dashboard")
    assert response.status_code == 302
    assert "last at most" in client.get("/login").get_data(as_text=True)


def test_last_seen_is_written_at_most_once_a_minute(app, client, person):
    assert login(client, "ada@example.org").status_code == 302
    _age(app, person, seen=30)
    assert logged_in(client)
    with app.app_context():
        seen = db.session.scalars(select(LoginSession.seen)).one()
    assert int(time.time()) - seen >= 29  # not written again within the minute


def test_a_change_of_roles_gives_the_session_a_new_id(app, make, person):
    browser = app.test_client()
    assert login(browser, "ada@example.org").status_code == 302
    before = cookie_of(browser)
    with app.app_context():
        user = db.session.get(User, person)
        accounts.set_roles(user, ["trainee", "facilitator"], user.region)
        db.session.commit()
    assert logged_in(browser)
    after = cookie_of(browser)
    assert after != before
    assert browser.get("/facilitate").status_code == 200
    # The id from before the change no longer opens anything.
    assert not logged_in(with_cookie(app, before))
    assert logged_in(browser)


def test_active_sessions_are_listed_and_can_be_ended(app, person):
    office, phone, laptop = app.test_client(), app.test_client(), app.test_client()
    office.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (Windows NT 10.0) Firefox/133.0"
    phone.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Safari/604.1"
    for browser in (office, phone, laptop):
        assert login(browser, "ada@example.org").status_code == 302
    page = office.get("/account").get_data(as_text=True)
    assert "Active sessions" in page
    assert "Firefox on Windows" in page and "Safari on iPhone" in page
    assert page.count("This device") == 1
    phone_row = next(r for r in rows_of(app, person) if "iPhone" in r.agent)
    # End one other session.
    response = office.post(
        f"/account/sessions/{phone_row.id}/end", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302
    assert not logged_in(phone) and logged_in(laptop) and logged_in(office)
    # End all the others.
    page = office.get("/account").get_data(as_text=True)
    response = office.post("/account/sessions/end-others", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert not logged_in(laptop) and logged_in(office)
    assert len(rows_of(app, person)) == 1
    # Ending this device's own session is logging out.
    page = office.get("/account").get_data(as_text=True)
    own = rows_of(app, person)[0]
    response = office.post(f"/account/sessions/{own.id}/end", data={"csrf_token": csrf_from(page)})
    assert "/login" in response.headers["Location"] and not logged_in(office)


def test_someone_elses_session_cannot_be_ended(app, make, person):
    make("trainee", email="bo@example.org", name="Bo Hart")
    ada, bo = app.test_client(), app.test_client()
    assert login(ada, "ada@example.org").status_code == 302
    assert login(bo, "bo@example.org").status_code == 302
    ada_row = rows_of(app, person)[0]
    page = bo.get("/account").get_data(as_text=True)
    response = bo.post(f"/account/sessions/{ada_row.id}/end", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 404
    assert logged_in(ada)


def test_clean_up_deletes_expired_sessions_and_data(app, make, person):
    stale, fresh = app.test_client(), app.test_client()
    assert login(stale, "ada@example.org").status_code == 302
    make("trainee", email="bo@example.org", name="Bo Hart")
    assert login(fresh, "bo@example.org").status_code == 302
    _age(app, person, seen=app.config["LMS_SESSION_IDLE_MINUTES"] * 60 + 5)
    with app.app_context():
        db.session.add(WebSession(id="s:old", data=b"\x80", expires=int(time.time()) - 1))
        db.session.commit()
        assert sessions.clean_up() == 1
        db.session.commit()
        assert db.session.get(WebSession, "s:old") is None
        assert db.session.get(WebSession, store_key(cookie_of(stale))) is None
    assert rows_of(app, person) == []
    assert logged_in(fresh)


def test_pages_for_everyone_make_no_session(app, client, person):
    """Public pages that show no form keep nothing on the server for a visitor."""
    for path in ("/", "/verify/nothing-here", "/api/v1/certificates/nothing-here"):
        response = client.get(path)
        assert "Set-Cookie" not in response.headers, path
    with app.app_context():
        assert db.session.scalars(select(WebSession)).all() == []


def _redis_url() -> str | None:
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=0.5).ping()
    except Exception:
        return None
    return "redis://127.0.0.1:6379/0"


@pytest.mark.skipif(_redis_url() is None, reason="Redis does not answer on 127.0.0.1:6379")
def test_redis_store_ends_sessions_too(app, app_with, person):
    import redis

    other = app_with(LMS_SESSION_URL=_redis_url())
    client = redis.Redis.from_url(_redis_url())
    here, elsewhere = other.test_client(), other.test_client()
    assert login(here, "ada@example.org").status_code == 302
    assert login(elsewhere, "ada@example.org").status_code == 302
    value = cookie_of(here)
    key = store_key(value)
    assert client.exists(key) and not client.exists(value)
    assert 0 < client.ttl(key) <= other.config["LMS_SESSION_MAX_HOURS"] * 3600
    # Nothing of the session in the database's own store.
    with other.app_context():
        assert db.session.scalars(select(WebSession)).all() == []
    page = here.get("/account").get_data(as_text=True)
    here.post("/account/sessions/end-others", data={"csrf_token": csrf_from(page)})
    assert not logged_in(elsewhere) and logged_in(here)
    page = here.get("/dashboard").get_data(as_text=True)
    here.post("/logout", data={"csrf_token": csrf_from(page)})
    assert not client.exists(key)
    assert not logged_in(with_cookie(other, value))
    # An anonymous session (a form's token) lives two hours in Redis.
    visitor = other.test_client()
    visitor.get("/login")
    assert 0 < client.ttl(store_key(cookie_of(visitor))) <= 2 * 3600
    client.delete(store_key(cookie_of(visitor)))


def test_unknown_session_store_is_refused(app, app_with):
    with pytest.raises(ValueError, match="LMS_SESSION_URL"):
        app_with(LMS_SESSION_URL=f"memcached://{uuid.uuid4().hex}")


def test_ending_a_session_needs_the_form_token(app, person):
    here, there = app.test_client(), app.test_client()
    assert login(here, "ada@example.org").status_code == 302
    assert login(there, "ada@example.org").status_code == 302
    other = next(r for r in rows_of(app, person) if r.key != store_key(cookie_of(here)))
    for url in (f"/account/sessions/{other.id}/end", "/account/sessions/end-others"):
        response = here.post(url, data={})
        assert response.status_code == 400  # the app's CSRF page: nothing done
    assert logged_in(there) and len(rows_of(app, person)) == 2


def test_secure_cookies_use_the_host_prefix(app, app_with, person):
    """Behind HTTPS (LMS_SECURE_COOKIES=true) the session cookie is __Host-: Secure,
    this host only, Path=/ (ASVS 3.4.1, 3.4.4)."""
    secure = app_with(LMS_SECURE_COOKIES=True)
    assert secure.config["SESSION_COOKIE_NAME"] == "__Host-lms_session"
    browser = secure.test_client()
    page = browser.get("/login", base_url="https://localhost").get_data(as_text=True)
    response = browser.post(
        "/login",
        base_url="https://localhost",
        data={"csrf_token": csrf_from(page), "email": "ada@example.org", "password": PASSWORD},
        headers={"Referer": "https://localhost/login"},  # Flask-WTF checks it over HTTPS
    )
    assert response.status_code == 302
    header = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("__Host-lms_session=")
    )
    parts = {p.strip().split("=")[0].lower() for p in header.split(";")}
    assert {"secure", "httponly", "path"} <= parts and "domain" not in parts
    assert "Path=/" in header
    assert browser.get("/dashboard", base_url="https://localhost").status_code == 200


def test_a_changed_password_is_told_to_its_owner(app, person):
    browser = app.test_client()
    assert login(browser, "ada@example.org").status_code == 302
    app.extensions.pop("lms.outbox", None)
    browser.post(
        "/account",
        data={
            "csrf_token": get_csrf(browser, "/account"),
            "current": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    sent = app.extensions.get("lms.outbox", [])
    assert [(to, subject) for to, subject, _b in sent] == [
        ("ada@example.org", "Your MiP training password was changed")
    ]
    assert "reset your password" in sent[0][2]
