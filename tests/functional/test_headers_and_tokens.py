"""Token hygiene (issue 8) and the headers every answer carries.

Set-password and reset links work once, expire, stop working when a newer one is sent
or the password changes by any route, and their secret (like a certificate's
verification token) never reaches a log line, an error page or another site's
``Referer``. Every answer but a static file is ``no-store``; HSTS comes with
LMS_SECURE_COOKIES; every 405 says what is allowed.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from flask import Flask, abort, request
from sqlalchemy import select, update
from werkzeug.serving import make_server

from lms.accounts import services as accounts
from lms.accounts.models import PasswordToken
from lms.db import utcnow
from lms.extensions import db
from lms.logs import REDACTED
from lms.security import STRICT_TRANSPORT_SECURITY
from tests.conftest import PASSWORD, get_csrf, get_user, login
from tests.functional.test_access_matrix import ROLES, ROUTES, as_role, build_world

ALL_NEEDS = frozenset({"run", "attempt", "accreditation", "certificate", "jobs"})
NEW_PASSWORD = "a completely new passphrase"
EXPIRED_TEXT = "This link no longer works"


def issue(app: Flask, user_id: int, purpose: str = "setup") -> tuple[str, str]:
    """A new link for the person: (its path, its secret)."""
    with app.app_context():
        url = accounts.issue_password_link(get_user(app, user_id), purpose)
        db.session.commit()
    path = urlsplit(url).path
    return path, path.rsplit("/", 1)[1]


def works(client, path: str) -> bool:
    response = client.get(path)
    if response.status_code == 410:
        assert EXPIRED_TEXT in response.get_data(as_text=True)
        return False
    assert response.status_code == 200, (path, response.status_code)
    return True


def set_by_link(client, path: str, password: str = NEW_PASSWORD):
    token = get_csrf(client, path)
    return client.post(path, data={"csrf_token": token, "password": password, "confirm": password})


# Links work once, for a limited time ------------------------------------------------------


def test_a_link_lasts_the_configured_hours_and_then_answers_link_expired(app, client, make):
    user_id = make("trainee", email="sam@example.org")
    path, secret = issue(app, user_id, "reset")
    hours = app.config["LMS_RESET_TOKEN_HOURS"]  # a reset; a first link: LMS_PASSWORD_TOKEN_HOURS
    assert hours < app.config["LMS_PASSWORD_TOKEN_HOURS"]
    with app.app_context():
        record = db.session.scalar(select(PasswordToken).where(PasswordToken.used_at.is_(None)))
        assert record.expires_at - record.created_at == timedelta(hours=hours)
    # The email tells the person how long the link works.
    assert f"for {hours} hours" in app.extensions["lms.outbox"][-1][2]

    # A minute before the end it still works; a second after it, it has expired.
    with app.app_context():
        db.session.execute(update(PasswordToken).values(expires_at=utcnow() + timedelta(minutes=1)))
        db.session.commit()
    assert works(client, path)
    with app.app_context():
        db.session.execute(update(PasswordToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = client.get(path)
    assert response.status_code == 410
    html = response.get_data(as_text=True)
    assert EXPIRED_TEXT in html
    assert secret not in html
    # Nor can it be used by posting to it.
    stored = get_hash(app, user_id)
    token = get_csrf(client, "/password/reset")
    response = client.post(
        path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 410
    assert get_hash(app, user_id) == stored


def get_hash(app: Flask, user_id: int) -> str | None:
    with app.app_context():
        return get_user(app, user_id).password_hash


def test_a_link_sets_a_password_once_even_when_two_requests_opened_it(app, make):
    user_id = make("trainee", email="sam@example.org")
    path, secret = issue(app, user_id)
    # Two requests both find the link unused (two browser tabs, or a replayed request) ...
    with app.app_context():
        first = accounts.token_user(secret)
        assert first is not None
        db.session.commit()  # SQLite: the other request cannot write while this one reads
        with app.app_context():
            second = accounts.token_user(secret)
            assert second is not None
            accounts.use_token(second, "the first tab's passphrase")
            db.session.commit()
        # ... but only the first to set a password spends it.
        with pytest.raises(accounts.AccountError) as refused:
            accounts.use_token(first, "the second tab's passphrase")
        assert refused.value.field == "password"
        assert "no longer works" in refused.value.message
        db.session.rollback()
    assert (
        login(app.test_client(), "sam@example.org", "the first tab's passphrase").status_code == 302
    )
    assert (
        login(app.test_client(), "sam@example.org", "the second tab's passphrase").status_code
        == 401
    )


def test_a_refused_password_leaves_the_link_usable(app, client, make):
    user_id = make("trainee", email="sam@example.org")
    path, secret = issue(app, user_id)
    with app.app_context():
        record = accounts.token_user(secret)
        with pytest.raises(accounts.AccountError):
            accounts.use_token(record, "short")
        db.session.commit()
    assert works(client, path)
    assert set_by_link(client, path).status_code == 302
    assert not works(app.test_client(), path)


# Links stop working when a newer one is sent or the password changes ------------------------


@pytest.mark.parametrize(
    ("first", "then"), [("setup", "reset"), ("reset", "setup"), ("reset", "reset")]
)
def test_a_newer_link_of_any_purpose_replaces_the_earlier_one(app, client, make, first, then):
    user_id = make("trainee", email="sam@example.org")
    old, _secret = issue(app, user_id, first)
    new, _secret = issue(app, user_id, then)
    assert not works(client, old)
    assert works(client, new)


def test_asking_for_a_reset_replaces_an_earlier_link(app, client, make):
    user_id = make("trainee", email="sam@example.org")
    old, _secret = issue(app, user_id)
    token = get_csrf(client, "/password/reset")
    response = client.post(
        "/password/reset", data={"csrf_token": token, "email": "sam@example.org"}
    )
    assert response.status_code == 302
    body = app.extensions["lms.outbox"][-1][2]
    new = next(urlsplit(word).path for word in body.split() if "/password/set/" in word)
    assert not works(client, old)
    assert works(client, new)


def test_an_administrator_sending_a_link_replaces_the_earlier_one(app, make):
    make("admin", email="admin@example.org")
    user_id = make("trainee", email="sam@example.org")
    old, _secret = issue(app, user_id, "reset")
    admin = app.test_client()
    assert login(admin, "admin@example.org").status_code == 302
    url = f"/admin/users/{user_id}/password-link"
    response = admin.post(url, data={"csrf_token": get_csrf(admin, f"/admin/users/{user_id}")})
    assert response.status_code == 302
    assert not works(app.test_client(), old)
    new = urlsplit(app.extensions["lms.outbox"][-1][2].split()[-1]).path
    assert new != old and works(app.test_client(), new)


def test_changing_the_password_on_the_account_page_ends_unused_links(app, make):
    user_id = make("trainee", email="sam@example.org")
    path, _secret = issue(app, user_id, "reset")
    client = app.test_client()
    assert login(client, "sam@example.org").status_code == 302
    token = get_csrf(client, "/account")
    response = client.post(
        "/account",
        data={
            "csrf_token": token,
            "current": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert not works(app.test_client(), path)


def test_any_password_change_ends_unused_links(app, make):
    # set_password is the one place passwords change (account page, links, CLI).
    user_id = make("trainee", email="sam@example.org")
    path, _secret = issue(app, user_id)
    other_id = make("trainee", email="other@example.org")
    others, _secret = issue(app, other_id)
    with app.app_context():
        accounts.set_password(get_user(app, user_id), NEW_PASSWORD)
        db.session.commit()
        # Nothing is left to end a second time.
        assert accounts.invalidate_password_links(get_user(app, user_id)) == 0
    client = app.test_client()
    assert not works(client, path)
    assert works(client, others)  # only that person's links


def test_setting_a_password_by_link_spends_the_link(app, make):
    user_id = make("trainee", email="sam@example.org")
    path, _secret = issue(app, user_id, "reset")
    client = app.test_client()
    assert set_by_link(client, path).status_code == 302
    assert not works(app.test_client(), path)
    with app.app_context():
        assert db.session.scalars(select(PasswordToken.used_at)).all() != [None]
        assert None not in db.session.scalars(select(PasswordToken.used_at)).all()


def test_a_deactivated_accounts_link_stops_working(app, make):
    make("admin", email="admin@example.org")
    user_id = make("trainee", email="sam@example.org")
    path, _secret = issue(app, user_id, "reset")
    admin = app.test_client()
    assert login(admin, "admin@example.org").status_code == 302
    token = get_csrf(admin, f"/admin/users/{user_id}")
    assert (
        admin.post(f"/admin/users/{user_id}/active", data={"csrf_token": token}).status_code == 302
    )
    assert not works(app.test_client(), path)


# No secret in a log line, an error page or another site's Referer ---------------------------


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """The app behind werkzeug's real server (its request log included), on a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, method=method, data=data)  # noqa: S310 - our own server
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def test_secret_tokens_never_reach_a_log_line_or_an_error_page(app, app_with, caplog):
    world = build_world(app, {"certificate"})
    caplog.set_level(logging.INFO)
    # A second app on the same database that answers a 500 (and logs the exception, as
    # production does) when asked, with the full address in the exception's message.
    served = app_with(PROPAGATE_EXCEPTIONS=False)

    @served.before_request
    def fail_on_request():
        if request.args.get("fail"):
            raise RuntimeError(f"failed while answering {request.url}")

    link, secret = issue(app, world["trainee_id"], "reset")
    spent, spent_secret = issue(app, world["officer_id"], "reset")
    issue(app, world["officer_id"], "reset")  # the earlier link is now spent
    cert = world["cert_token"]
    unknown = "an-unknown-verification-token-0123456789"
    secrets_ = [secret, spent_secret, cert, unknown]
    pages: dict[str, tuple[int, str]] = {}
    with live_server(served) as base:
        pages["set-password"] = fetch(base + link)
        pages["set-password, no CSRF"] = fetch(base + link, "POST", b"password=x&confirm=x")
        pages["set-password, 405"] = fetch(base + link, "DELETE")
        pages["set-password, 500"] = fetch(base + link + "?fail=1")
        pages["spent link"] = fetch(base + spent)
        pages["verify"] = fetch(f"{base}/verify/{cert}")
        pages["verify, encoded slash"] = fetch(f"{base}/verify%2F{cert}")
        pages["verify, unknown"] = fetch(f"{base}/verify/{unknown}")
        pages["verify, 500"] = fetch(f"{base}/verify/{cert}?fail=1")
        pages["verify, 405"] = fetch(f"{base}/verify/{cert}", "DELETE")
        pages["API"] = fetch(f"{base}/api/v1/certificates/{cert}")
        pages["API, unknown"] = fetch(f"{base}/api/v1/certificates/{unknown}")
        pages["API, 405"] = fetch(f"{base}/api/v1/certificates/{cert}", "POST", b"")
        pages["query token"] = fetch(f"{base}/verify?token={cert}")
    statuses = {what: status for what, (status, _body) in pages.items()}
    assert statuses == {
        "set-password": 200,
        "set-password, no CSRF": 400,
        "set-password, 405": 405,
        "set-password, 500": 500,
        "spent link": 410,
        "verify": 200,
        "verify, encoded slash": 200,
        "verify, unknown": 404,
        "verify, 500": 500,
        "verify, 405": 405,
        "API": 200,
        "API, unknown": 404,
        "API, 405": 405,
        "query token": 200,
    }

    records = caplog.records
    logged = caplog.text + "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in records
    )
    # The request log and the 500s' tracebacks were captured, with the secrets taken out.
    assert any(
        r.name == "werkzeug" and "/password/set/" + REDACTED in r.getMessage() for r in records
    )
    assert any(r.exc_info and "RuntimeError" in (r.exc_text or "") for r in records)
    assert logged.count(REDACTED) >= len(pages)
    for token in secrets_:
        assert token not in logged

    # No page spells out the secret of the address it answers, error pages included
    # (their forms post back to their own address).
    for what, (_status, body) in pages.items():
        for token in secrets_:
            assert token not in body, what


class Resources(HTMLParser):
    """Every address a page loads or links to, with the tag and attribute naming it."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in {"src", "href", "action", "srcset", "poster", "data"} and value is not None:
                self.found.append((tag, name, value))


def foreign(address: str) -> bool:
    parts = urlsplit(address.strip())
    return bool(
        parts.netloc or parts.scheme not in {"", "data"} or address.strip().startswith("//")
    )


def test_token_pages_keep_referrers_on_this_site_and_load_nothing_from_elsewhere(app):
    world = build_world(app, {"certificate"})
    link, _secret = issue(app, world["trainee_id"], "reset")
    client = app.test_client()
    responses = {
        "set-password": client.get(link),
        "verify": client.get(f"/verify/{world['cert_token']}"),
        "verify, unknown": client.get("/verify/an-unknown-token-for-this-test"),
        "spent link": client.get("/password/set/an-unknown-token-for-this-test"),
    }
    assert [r.status_code for r in responses.values()] == [200, 200, 404, 410]
    for what, response in responses.items():
        # A link followed from the page tells another site nothing of this address.
        assert response.headers["Referrer-Policy"] == "same-origin", what
        # The policy names no other host: nothing is fetched from elsewhere.
        for directive in response.headers["Content-Security-Policy"].split(";"):
            _name, *sources = directive.split()
            assert set(sources) <= {"'self'", "'none'", "data:"}, (what, directive)
        parser = Resources()
        parser.feed(response.get_data(as_text=True))
        assert parser.found, what
        assert [f for f in parser.found if foreign(f[2])] == [], what


# Headers -----------------------------------------------------------------------------------


def sample_responses(app: Flask, world: dict) -> dict:
    client = as_role(app, "trainee")
    return {
        "page": client.get("/dashboard"),
        "redirect": client.get("/"),
        "404": client.get("/no-such-page"),
        "405": client.get("/logout"),
        "static": client.get("/static/css/app.css"),
        "JSON": client.get(f"/api/v1/certificates/{world['cert_token']}"),
        "PDF": client.get(f"/certificates/{world['number']}.pdf"),
        "anonymous": app.test_client().get("/login"),
    }


def test_hsts_on_every_answer_when_cookies_are_secure(app, app_with):
    world = build_world(app, {"certificate"})
    secure = app_with(LMS_SECURE_COOKIES=True)
    for what, response in sample_responses(secure, world).items():
        assert response.headers.get("Strict-Transport-Security") == STRICT_TRANSPORT_SECURITY, what
    # Without Secure cookies (plain HTTP in development) browsers must not be told to insist.
    for what, response in sample_responses(app, world).items():
        assert "Strict-Transport-Security" not in response.headers, what


def concrete(rule) -> str:
    """A URL the rule matches: 1 for a number, a word for anything else."""
    values = {
        name: 1 if type(conv).__name__ == "IntegerConverter" else "sample"
        for name, conv in rule._converters.items()
    }
    return rule.build(values, append_unknown=False)[1]


def test_every_405_says_which_methods_are_allowed(app, client):
    adapter = app.url_map.bind("localhost")
    seen = 0
    for rule in app.url_map.iter_rules():
        url = concrete(rule)
        allowed = set(adapter.allowed_methods(url))
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            if method in allowed:
                continue
            response = client.open(url, method=method)
            assert response.status_code == 405, (method, url)
            header = response.headers.get("Allow", "")
            assert {m.strip() for m in header.split(",")} == allowed, (method, url, header)
            seen += 1
    assert seen > 100
    # The API's too, for whoever is logged in.
    build_world(app)
    response = as_role(app, "admin").post("/api/v1/openapi.json")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


#: Documents credential verifiers fetch (a status list, a bundled JSON-LD context): public,
#: the same for every reader, and meant to be cached for a few minutes or a day.
PUBLIC_DOCUMENTS = {"credentials.status_list", "credentials.context_file"}


def test_every_answer_a_signed_in_person_gets_is_no_store(app):
    # Every GET route of the access matrix (whose own test fails when a route has no row),
    # for every role that may open it, with a run, a case study, an accreditation, a
    # certificate and jobs about: pages, PDFs, CSV exports and JSON alike.
    world = build_world(app, ALL_NEEDS)
    csv_endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.rule.endswith(".csv")}
    assert len(csv_endpoints) >= 3
    opened: dict[str, set[str]] = {}
    for role in ROLES:
        client = as_role(app, role)
        for route in ROUTES:
            if route.method != "GET" or role not in route.allowed or route.ok[0] >= 400:
                continue  # (a route whose answer here is an error: the calendar feed's 404)
            url = route.url.format(**world)
            response = client.get(url)
            where = f"GET {url} as {role}"
            assert response.status_code < 400, f"{where}: {response.status_code}"
            if route.endpoint in PUBLIC_DOCUMENTS:
                # The same bytes for everyone, signed in or not: caches may keep them.
                assert response.get_data() == app.test_client().get(url).get_data(), where
                assert response.headers["Cache-Control"].startswith("public, max-age="), where
                continue
            assert response.headers.get("Cache-Control") in {"no-store", "private, no-store"}, (
                f"{where}: Cache-Control {response.headers.get('Cache-Control')!r}"
            )
            if response.status_code == 200:
                opened.setdefault(response.mimetype, set()).add(route.endpoint)
    assert {"text/html", "text/csv", "application/pdf", "application/json"} <= set(opened)
    # Every CSV export and the certificate download were among them, with a 200.
    assert csv_endpoints <= opened["text/csv"]
    assert "accreditation.download" in opened["application/pdf"]


def test_static_files_stay_cacheable(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    cache = response.headers.get("Cache-Control", "")
    assert "no-store" not in cache
    assert response.headers.get("ETag") or response.headers.get("Last-Modified")
    again = client.get("/static/css/app.css", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    # A missing static file is an error page like any other.
    assert "no-store" in client.get("/static/no-such-file.css").headers["Cache-Control"]


def test_a_405_raised_by_a_view_also_says_which_methods_are_allowed(app_with):
    other = app_with()

    @other.route("/refuses-this-way", methods=["GET", "PUT"])
    def refuses_this_way():
        abort(405)

    response = other.test_client().get("/refuses-this-way")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, PUT"
