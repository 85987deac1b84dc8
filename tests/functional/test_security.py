"""Security headers, no inline script or style anywhere, cookies, Markdown and logs."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lms.accounts import services as accounts
from lms.extensions import db
from lms.learning import services as learning
from lms.markdown import render_markdown
from tests.conftest import PASSWORD, get_csrf, get_user, login

# Values for the path parameters of every route; a route with a new parameter needs one here.
PATH_VALUES = {"slug": "link-member", "key": "promoting-mip-reading"}


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


def get_urls(app: Flask, values: dict[str, object]) -> list[str]:
    """A URL for every GET route of the app (``static`` aside)."""
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in rule.methods:
            continue
        unknown = set(rule.arguments) - set(values)
        assert not unknown, f"{rule.rule}: add a value for {sorted(unknown)} to PATH_VALUES"
        path, _query = rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)
        urls.append(path)
    return urls


def pages_for(app: Flask, client: FlaskClient, values: dict[str, object]) -> dict[str, str]:
    """Every GET page as ``client`` sees it (redirects followed), keyed by what was asked."""
    pages = {}
    for url in get_urls(app, values):
        response = client.get(url, follow_redirects=True)
        assert response.status_code in {200, 403}, f"{url}: {response.status_code}"
        pages[url] = response.get_data(as_text=True)
    return pages


def quiz_answers(app: Flask, key: str, right: bool) -> dict[str, list[str]]:
    config = app.extensions["lms.courses"].get("link-member").activity(key).config
    return {
        q.field_name: sorted(q.correct_keys)
        if right
        else [o.key for o in q.options if not o.correct][:1]
        for q in config.questions
    }


@pytest.fixture()
def values(app: Flask, make) -> dict[str, object]:
    user_id = make("trainee", email="target@example.org")
    with app.app_context():
        url = accounts.issue_password_link(get_user(app, user_id), "setup", send=False)
        db.session.commit()
    return {**PATH_VALUES, "user_id": user_id, "token": url.rsplit("/", 1)[1]}


def logged_in(app: Flask, make, *roles: str) -> FlaskClient:
    email = f"{'-'.join(roles)}@example.org"
    user_id = make(*roles, email=email)
    with app.app_context():
        learning.enrol(get_user(app, user_id), learning.catalogue().get("link-member"))
        db.session.commit()
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


@pytest.mark.parametrize("role", ["admin", "trainee", "anonymous"])
def test_no_page_has_inline_script_or_style(app, make, values, role):
    client = app.test_client() if role == "anonymous" else logged_in(app, make, role)
    pages = pages_for(app, client, values)
    if role != "anonymous":
        # Every activity of the course, a quiz's results, and the course that is not open yet.
        course = app.extensions["lms.courses"].get("link-member")
        for activity in course.activities:
            url = f"/learn/link-member/{activity.key}"
            pages[url] = client.get(url).get_data(as_text=True)
        quiz = next(a for a in course.activities if a.type == "quiz")
        url = f"/learn/link-member/{quiz.key}"
        token = get_csrf(client, url)
        for right in (False, True):
            answers = quiz_answers(app, quiz.key, right)
            response = client.post(url, data={"csrf_token": token, **answers})
            pages[f"{url} result {right}"] = client.get(response.location).get_data(as_text=True)
        unanswered = client.post(url, data={"csrf_token": token})
        assert unanswered.status_code == 422
        pages[f"{url} unanswered"] = unanswered.get_data(as_text=True)
        pages["/courses/rep"] = client.get("/courses/rep").get_data(as_text=True)
        pages["/account (errors)"] = client.post(
            "/account", data={"csrf_token": get_csrf(client, "/account")}
        ).get_data(as_text=True)
    if role == "admin":
        pages["/admin/users/new (errors)"] = client.post(
            "/admin/users/new",
            data={"csrf_token": get_csrf(client, "/admin/users/new"), "email": "x"},
        ).get_data(as_text=True)
        pages["/admin/regions (errors)"] = client.post(
            "/admin/regions", data={"csrf_token": get_csrf(client, "/admin/regions")}
        ).get_data(as_text=True)
    # Error pages.
    pages["404"] = client.get("/no-such-page").get_data(as_text=True)
    pages["405"] = client.get("/logout").get_data(as_text=True)
    pages["410"] = client.get("/password/set/not-a-token").get_data(as_text=True)
    pages["400 (CSRF)"] = client.post(
        "/password/reset", data={"email": "kept@example.org"}
    ).get_data(as_text=True)
    assert "kept@example.org" in pages["400 (CSRF)"]

    problems = {url: found for url, html in pages.items() if (found := inline_code(html))}
    assert not problems, problems


def test_admin_sees_every_page(app, make, values):
    admin = logged_in(app, make, "admin")
    for url, html in pages_for(app, admin, values).items():
        assert "Not allowed" not in html, url


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
    data = app.session_interface.get_signing_serializer(app).loads(value)
    text = repr(data)
    for personal in ("sam@example.org", "Sam", "Okafor", "North East", "trainee", PASSWORD):
        assert personal not in text


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
