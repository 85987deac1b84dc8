"""Security headers, no inline script or style anywhere, cookies, Markdown and logs."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

import pytest
from flask import Flask

from lms.extensions import db
from lms.markdown import render_markdown
from tests.conftest import PASSWORD, get_csrf, login
from tests.functional.test_access_matrix import ROUTES, as_role, build_world

ALL_NEEDS = frozenset({"run", "attempt", "accreditation", "certificate", "jobs"})


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_security_headers(response, what: str) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    assert policy, f"{what}: no Content-Security-Policy"
    assert "unsafe-inline" not in policy, what
    assert "unsafe-eval" not in policy, what
    directives = csp_directives(response)
    assert directives.get("frame-ancestors") == ["'none'"], what
    assert directives.get("script-src") == ["'self'"], what
    assert directives.get("default-src") == ["'self'"], what
    assert "'self'" in directives.get("style-src", []), what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("Referrer-Policy") in {
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    }, what
    if response.mimetype == "text/html":
        assert "no-store" in headers.get("Cache-Control", ""), what


# Headers on every kind of response --------------------------------------------------------


def test_headers_on_a_page_a_redirect_an_error_and_a_static_file(app, client, make):
    make("trainee", email="sam@example.org")
    responses = {
        "page": client.get("/login"),
        "redirect": client.get("/dashboard"),
        "404": client.get("/no-such-page"),
        "405": client.get("/logout"),
        "static": client.get("/static/css/app.css"),
        "400 (CSRF)": client.post("/login", data={"email": "sam@example.org"}),
        "401": login(client, "sam@example.org", "not the password"),
        "410": client.get("/password/set/not-a-token"),
    }
    assert responses["page"].status_code == 200
    assert responses["redirect"].status_code == 302
    assert responses["404"].status_code == 404
    assert responses["static"].status_code == 200
    assert responses["static"].mimetype == "text/css"
    responses["static"].close()
    assert login(client, "sam@example.org").status_code == 302
    responses["403"] = client.get("/admin/users")
    responses["logged-in redirect"] = client.get("/")
    assert responses["403"].status_code == 403
    for what, response in responses.items():
        assert_security_headers(response, what)


def test_headers_on_downloads_and_the_api(app):
    world = build_world(app, frozenset({"certificate"}))
    trainee, officer = as_role(app, "trainee"), as_role(app, "officer")
    responses = {
        "PDF": trainee.get(f"/certificates/{world['number']}.pdf"),
        "CSV": officer.get("/register.csv"),
        "JSON": trainee.get(f"/api/v1/certificates/{world['cert_token']}"),
        "OpenAPI": trainee.get("/api/v1/openapi.json"),
    }
    assert responses["PDF"].mimetype == "application/pdf"
    assert responses["CSV"].mimetype == "text/csv"
    assert responses["JSON"].mimetype == "application/json"
    for what, response in responses.items():
        assert response.status_code == 200, what
        assert_security_headers(response, what)


def test_headers_on_too_many_attempts(app, make):
    make("trainee", email="sam@example.org")
    client = app.test_client()
    for _ in range(5):
        login(client, "sam@example.org", "not the password")
    response = login(client, "sam@example.org", "not the password")
    assert response.status_code == 429
    assert_security_headers(response, "429")


# No inline script, event handlers or style attributes on any page --------------------------


URL_ATTRIBUTES = {"href", "src", "action", "formaction"}


class InlineCodeFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts and styles, handlers, js: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and not a.get("src"):
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name == "style":
                self.problems.append(f"<{tag} style=...>")
            url = (value or "").strip().lower()
            if name in URL_ATTRIBUTES and url.startswith(("javascript:", "data:text")):
                self.problems.append(f"<{tag} {name}={value!r}>")
        # Everything the page loads comes from this site (no CDN).
        if tag in {"script", "img", "iframe"} and re.match(r"(https?:)?//", a.get("src") or ""):
            self.problems.append(f"<{tag} src={a['src']!r}> from another site")
        if tag == "link" and re.match(r"(https?:)?//", a.get("href") or ""):
            self.problems.append(f"<link href={a['href']!r}> from another site")

    handle_startendtag = handle_starttag


def inline_code(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.problems


def test_the_inline_code_finder_finds_inline_code():
    page = (
        '<script>alert(1)</script><script src="/static/js/app.js"></script>'
        '<p style="color:red" onclick="x()">x</p><a href="javascript:alert(1)">y</a>'
        '<style>p{}</style><img src="https://cdn.example/x.png" onerror="x()">'
    )
    assert len(inline_code(page)) == 7


def quiz_answers(app: Flask, key: str, right: bool) -> dict[str, list[str]]:
    config = app.extensions["lms.courses"].get("link-member").activity(key).config
    return {
        q.field_name: sorted(q.correct_keys)
        if right
        else [o.key for o in q.options if not o.correct][:1]
        for q in config.questions
    }


@pytest.mark.parametrize("role", ["admin", "trainee", "facilitator", "officer", "anonymous"])
def test_no_page_has_inline_script_or_style(app, role):
    # Every GET route of the access matrix (which fails when one is missing), as this
    # role sees it, with a run, a case study, an accreditation and a certificate about.
    world = build_world(app, ALL_NEEDS)
    client = as_role(app, role)
    pages = {}
    for route in ROUTES:
        if route.method != "GET":
            continue
        url = route.url.format(**world)
        response = client.get(url, follow_redirects=True)
        assert response.status_code < 500, url
        if response.mimetype == "text/html":
            pages[url] = response.get_data(as_text=True)
    if role != "anonymous":
        # Every activity page the person can open, a quiz's results, and form errors.
        for course in app.extensions["lms.courses"]:
            for activity in course.activities:
                url = f"/learn/{course.slug}/{activity.key}"
                response = client.get(url)
                if response.status_code == 200:
                    pages[url] = response.get_data(as_text=True)
        url = "/learn/link-member/promoting-mip-check"
        token = get_csrf(client, url)
        for right in (False, True):
            answers = quiz_answers(app, "promoting-mip-check", right)
            response = client.post(url, data={"csrf_token": token, **answers})
            pages[f"{url} result {right}"] = client.get(response.location).get_data(as_text=True)
        unanswered = client.post(url, data={"csrf_token": token})
        assert unanswered.status_code == 422
        pages[f"{url} unanswered"] = unanswered.get_data(as_text=True)
        pages["/account (errors)"] = client.post("/account", data={"csrf_token": token}).get_data(
            as_text=True
        )
    if role == "admin":
        for url in ("/admin/users/new", "/admin/regions", "/admin/runs/new"):
            response = client.post(url, data={"csrf_token": get_csrf(client, url), "email": "x"})
            assert response.status_code == 422, url
            pages[f"{url} (errors)"] = response.get_data(as_text=True)
    # Error pages and a certificate check that finds nothing.
    pages["404"] = client.get("/no-such-page").get_data(as_text=True)
    pages["405"] = client.get("/logout").get_data(as_text=True)
    pages["410"] = client.get("/password/set/not-a-token").get_data(as_text=True)
    pages["/verify/unknown"] = client.get("/verify/not-a-token").get_data(as_text=True)
    pages["400 (CSRF)"] = client.post(
        "/password/reset", data={"email": "kept@example.org"}
    ).get_data(as_text=True)
    assert "kept@example.org" in pages["400 (CSRF)"]

    problems = {url: found for url, html in pages.items() if (found := inline_code(html))}
    assert not problems, problems


# Cookies ---------------------------------------------------------------------------------


def session_cookie_header(response) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("lms_session=")]
    assert headers, response.headers.getlist("Set-Cookie")
    return headers[-1]


def test_session_cookie_is_httponly_and_samesite_lax(app, client, make):
    make("trainee", email="sam@example.org", name="Sam Okafor")
    header = session_cookie_header(login(client, "sam@example.org"))
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in header.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"] == "SameSite=Lax"
    assert attributes["path"] == "Path=/"
    # Only the session cookie; nothing else about the person is stored in the browser.
    names = {c.split("=", 1)[0] for c in client.get("/dashboard").headers.getlist("Set-Cookie")}
    assert names <= {"lms_session"}


def test_session_cookie_holds_no_personal_data(app, client, make):
    make("trainee", email="sam@example.org", name="Sam Okafor")
    header = session_cookie_header(login(client, "sam@example.org"))
    value = header.split(";", 1)[0].split("=", 1)[1]
    # The cookie is a random id only (the session lives on the server: lms.sessions) ...
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", value)
    # ... and what the server keeps for it names nobody either.
    from lms.sessions.models import WebSession
    from lms.sessions.store import store_key

    with app.app_context():
        stored = db.session.get(WebSession, store_key(value))
        text = repr(app.session_interface.serializer.decode(stored.data))
    for personal in ("sam@example.org", "Sam", "Okafor", "North East", "trainee", PASSWORD):
        assert personal not in text and personal not in value


# Markdown --------------------------------------------------------------------------------


MARKDOWN_ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "![x](javascript:alert(1))",
    '<a href="https://example.org" onclick="x()">x</a>',
    "<style>p{}</style>",
    '<p style="color:red">x</p>',
]


@pytest.mark.parametrize("source", MARKDOWN_ATTACKS)
def test_markdown_never_renders_raw_html_or_script_links(source):
    html = str(render_markdown(source))
    # Shown as text, if at all: no element, attribute or link comes through.
    for tag in ("<script", "<img", "<a ", "<style", "<p style"):
        assert tag not in html.lower()
    assert inline_code(html) == []


def test_markdown_shows_raw_html_as_text():
    html = str(render_markdown("Before <script>alert(1)</script> after"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="https://example.org">ok</a>' in str(
        render_markdown("[ok](https://example.org)")
    )


# Logs ------------------------------------------------------------------------------------


def test_emails_and_passwords_never_reach_the_logs(app, make, caplog):
    caplog.set_level(logging.DEBUG)
    make("trainee", email="sam.private@example.org")
    client = app.test_client()
    assert login(client, "sam.private@example.org", "wrong password here").status_code == 401
    assert login(client, "nobody.private@example.org", "wrong password here").status_code == 401
    assert login(client, "sam.private@example.org").status_code == 302
    assert any("logged in" in r.getMessage() for r in caplog.records)  # the logs are captured
    logged = caplog.text + "\n".join(
        f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records
    )
    for secret in ("sam.private", "nobody.private", "wrong password here", PASSWORD):
        assert secret not in logged


def test_session_cookie_reveals_nothing_of_the_password_hash(app, make):
    from lms.accounts.models import User
    from lms.sessions.models import WebSession
    from lms.sessions.store import store_key
    from tests.conftest import login as do_login

    user_id = make("trainee", email="cookie@example.org")
    client = app.test_client()
    do_login(client, "cookie@example.org")
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    with app.app_context():
        password_hash = db.session.get(User, user_id).password_hash
        stored = db.session.get(WebSession, store_key(cookie))
        # What the server keeps for the session: Flask-Login's id with a keyed fingerprint.
        text = repr(app.session_interface.serializer.decode(stored.data)) + cookie
    assert "cookie@example.org" not in text
    for start in range(0, len(password_hash) - 8, 4):
        assert password_hash[start : start + 8] not in text


def test_refusals_are_logged_without_secrets(app, client, make, caplog):
    """403, 405 and CSRF refusals leave a warning with who and where (ASVS 7.1.3,
    7.2.2, 14.5.1); a secret in the path is redacted there as everywhere."""
    import logging

    uid = make("trainee", email="sam@example.org")
    assert login(client, "sam@example.org").status_code == 302
    caplog.set_level(logging.WARNING, logger="lms")
    assert client.get("/admin/users").status_code == 403
    assert client.put("/dashboard").status_code == 405
    assert client.post("/account", data={"current": "x"}).status_code == 400
    assert client.delete("/verify/SECRET-TOKEN-123").status_code == 405
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Refused")]
    assert any("403" in line and "/admin/users" in line and f"user {uid}" in line for line in lines)
    assert any("405" in line and "PUT /dashboard" in line for line in lines)
    assert any("CSRF" in line and "POST /account" in line for line in lines)
    assert "SECRET-TOKEN-123" not in caplog.text


def test_a_rate_limit_reached_is_logged(app, make, caplog):
    """An address that reaches a limit shows in the logs (ASVS 8.1.4), for the operator."""
    import logging

    caplog.set_level(logging.WARNING, logger="lms")
    client = app.test_client()
    for n in range(25):
        token = get_csrf(client, "/login")
        client.post(
            "/login",
            data={"csrf_token": token, "email": f"guess{n}@example.org", "password": "x" * 12},
            environ_base={"REMOTE_ADDR": "203.0.113.9"},
        )
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Refused 429")]
    assert lines and all("POST /login" in line for line in lines)


def test_the_api_answers_as_a_download(app, client, make):
    """ASVS 14.4.2: an API answer opened in a browser is saved, not rendered."""
    from tests.functional.test_verification import confirmed

    officer = make("officer", email="rhodri@example.org", region_name="Wales")
    uid = make("trainee", email="holder@example.org", region_name="Wales")
    _cert, _number, token = confirmed(app, uid, officer)
    response = client.get(f"/api/v1/certificates/{token}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")


def test_views_of_peoples_records_are_audited_by_id_only(app, client, make, caplog):
    """Who looked at whom (ASVS 8.3.5): one audit line per view of a page that shows
    people, with the viewer's id and the ids in the address; never a name, an email,
    or what was searched for."""
    import logging

    from lms.logs import AUDITED

    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(AUDITED) <= endpoints, set(AUDITED) - endpoints
    officer = make("officer", email="officer@example.org", name="Olwen Price")
    make("trainee", email="member@example.org", name="Morgan Secretname")
    assert login(client, "officer@example.org").status_code == 302
    caplog.set_level(logging.INFO, logger="lms.audit")
    assert client.get("/register", query_string={"q": "Secretname"}).status_code == 200
    assert client.get("/register.csv").status_code == 200
    assert client.get("/dashboard").status_code == 200  # one's own page: not audited
    lines = [r.getMessage() for r in caplog.records if r.name == "lms.audit"]
    assert lines == [f"user {officer} GET register", f"user {officer} GET register export"]
    assert "Secretname" not in caplog.text and "member@example.org" not in caplog.text


def test_page_not_found_says_where_its_button_goes(app, client, trainee_client):
    visitor = client.get("/no-such-page").get_data(as_text=True)
    assert "start again from the home page" in visitor and "Go to the home page" in visitor
    signed_in = trainee_client.get("/no-such-page").get_data(as_text=True)
    assert "go back to your courses" in signed_in and "Go to my courses" in signed_in


def test_an_error_that_names_its_field_is_not_prefixed_with_the_label(app, client):
    from tests.conftest import get_csrf

    token = get_csrf(client, "/login")
    html = client.post(
        "/login", data={"csrf_token": token, "email": "nobody@example.org", "password": "x" * 14}
    ).get_data(as_text=True)
    assert '<a href="#password">The email address or password is not right.</a>' in html
