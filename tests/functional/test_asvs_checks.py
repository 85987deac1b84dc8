"""Checks for ASVS 4.0.3 rows that were true by construction but had no test of their own
(docs/security.md): password lengths and Unicode, session ids in URLs and their
randomness, version and CORS headers, charsets, proxy headers, unsafe deserialisation
and log injection."""

from __future__ import annotations

import logging
import re
import string
from pathlib import Path

import flask_session.base
import pytest

from lms.extensions import db, limiter
from tests.conftest import PASSWORD, csrf_from, get_csrf, login
from tests.functional.test_access_matrix import as_role, build_world
from tests.functional.test_accounts import attempt, error_for, issue_link

LMS = Path(__file__).resolve().parents[2] / "lms"
COOKIE = "lms_session"
URL_SAFE = set(string.ascii_letters + string.digits + "-_")
# Strong, unrelated words; exactly 64 characters.
PASSPHRASE_64 = "quartz heron lantern marmalade tundra bellows orchid whistle fig"


def cookie_of(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "no session cookie"
    return cookie.value


def set_password_by_link(app, client, user_id: int, password: str):
    path = issue_link(app, user_id)
    token = get_csrf(client, path)
    return client.post(path, data={"csrf_token": token, "password": password, "confirm": password})


# 2.1.2, 2.1.3, 2.1.4: lengths, no truncation, any Unicode ---------------------------------


def test_a_password_of_64_characters_is_accepted_and_one_of_129_refused(app, make):
    assert len(PASSPHRASE_64) == 64
    user_id = make("trainee", email="sam@example.org")
    too_long = PASSPHRASE_64 * 2 + "q"
    assert len(too_long) == 129

    client = app.test_client()
    response = set_password_by_link(app, client, user_id, too_long)
    assert response.status_code == 422
    assert error_for(response.get_data(as_text=True), "password") == (
        "Error: Use between 12 and 128 characters."
    )

    response = set_password_by_link(app, app.test_client(), user_id, PASSPHRASE_64)
    assert response.status_code == 302
    assert login(app.test_client(), "sam@example.org", PASSPHRASE_64).status_code == 302
    assert login(app.test_client(), "sam@example.org", PASSWORD).status_code == 401


def test_a_unicode_passphrase_with_spaces_and_emoji_is_kept_whole(app, make):
    passphrase = "Llanfair 🐧 pingüino ščáp 雨傘 über fjord ☕ glöckchen"
    user_id = make("trainee", email="sam@example.org")
    response = set_password_by_link(app, app.test_client(), user_id, passphrase)
    assert response.status_code == 302, response.get_data(as_text=True)

    assert login(app.test_client(), "sam@example.org", passphrase).status_code == 302
    # Not truncated: each shorter or altered form is a wrong password (each from its own
    # address, so the growing delay after failures does not answer instead).
    wrongs = [
        passphrase[:-1],
        passphrase[:-2],
        passphrase.replace("🐧", "🐦"),
        passphrase.replace("ü", "u\u0308"),  # the same text, decomposed: not normalised
    ]
    for n, wrong in enumerate(wrongs):
        response = attempt(app, "sam@example.org", wrong, address=f"192.0.2.{n + 1}")
        assert response.status_code == 401, wrong
    assert attempt(app, "sam@example.org", passphrase, address="192.0.2.9").status_code == 302


# 3.1.1, 3.2.2, 3.2.4: session ids ---------------------------------------------------------


def test_the_session_id_never_appears_in_an_address_or_a_page(app, make):
    make("trainee", email="sam@example.org")
    client = app.test_client()
    seen: list[tuple[str, str]] = []  # (what, text): every Location and every page

    def visit(response, what):
        seen.append((what, response.headers.get("Location", "")))
        seen.append((what, response.get_data(as_text=True)))
        return response

    page = visit(client.get("/login?next=/account"), "login page")
    anonymous = cookie_of(client)
    response = visit(
        client.post(
            "/login",
            data={
                "csrf_token": csrf_from(page.get_data(as_text=True)),
                "email": "sam@example.org",
                "password": PASSWORD,
                "next": "/account",
            },
        ),
        "login",
    )
    assert response.status_code == 302
    while response.status_code in (301, 302, 303):
        response = visit(client.get(response.location), response.location)
    assert response.status_code == 200
    for path in ("/", "/dashboard", "/account", "/no-such-page"):
        visit(client.get(path), path)
    logged_in = cookie_of(client)
    assert logged_in != anonymous
    for what, text in seen:
        assert anonymous not in text, what
        assert logged_in not in text, what
    # And the id in an address is not a way in: only the cookie is read.
    stranger = app.test_client()
    assert stranger.get(f"/dashboard?{COOKIE}={logged_in}").status_code == 302
    assert stranger.get(f"/dashboard?session={logged_in}").status_code == 302


def test_session_ids_are_long_random_and_from_the_secrets_module(app, make, monkeypatch):
    made: list[str] = []
    real = flask_session.base.secrets.token_urlsafe

    def recording(nbytes=None):
        made.append(real(nbytes))
        return made[-1]

    # A spy, not a stand-in: the ids are still the real generator's.
    monkeypatch.setattr(flask_session.base.secrets, "token_urlsafe", recording)
    make("trainee", email="sam@example.org")
    ids = []
    for _ in range(20):
        client = app.test_client()
        assert login(client, "sam@example.org").status_code == 302
        ids.append(cookie_of(client))
    assert len(set(ids)) == 20
    for value in ids:
        assert len(value) >= 43, value  # 32 bytes: 256 bits
        assert set(value) <= URL_SAFE, value
        assert value in made  # made by secrets.token_urlsafe, the OS's CSPRNG


# 14.3.3, 14.4.1, 14.5.3: headers -----------------------------------------------------------


@pytest.fixture()
def sample_responses(app):
    """A page, a redirect, an error, a static file, JSON, an API error and a CSV."""
    world = build_world(app, frozenset({"certificate"}))
    trainee, officer, anonymous = (
        as_role(app, "trainee"),
        as_role(app, "officer"),
        app.test_client(),
    )
    responses = {
        "login page": anonymous.get("/login"),
        "redirect": anonymous.get("/dashboard"),
        "404": anonymous.get("/no-such-page"),
        "dashboard": trainee.get("/dashboard"),
        "static": anonymous.get("/static/css/app.css"),
        "JSON": anonymous.get(f"/api/v1/certificates/{world['cert_token']}"),
        "JSON 404": anonymous.get("/api/v1/certificates/not-a-token"),
        "OpenAPI": anonymous.get("/api/v1/openapi.json"),
        "CSV": officer.get("/register.csv"),
    }
    assert responses["dashboard"].status_code == 200
    assert responses["JSON"].status_code == 200
    assert responses["CSV"].status_code == 200
    return responses


def test_no_response_names_a_component_or_its_version(sample_responses):
    for what, response in sample_responses.items():
        assert "X-Powered-By" not in response.headers, what
        server = response.headers.get("Server", "")
        assert not re.search(r"\d", server), f"{what}: Server: {server}"
        for name, value in response.headers.items():
            assert not re.search(r"(werkzeug|flask|python|gunicorn)/\d", value, re.I), (
                what,
                name,
            )


def test_every_text_response_says_its_charset(sample_responses):
    for what, response in sample_responses.items():
        content_type = response.headers.get("Content-Type", "")
        assert content_type, what
        if response.mimetype == "application/json":
            # RFC 8259: JSON is UTF-8 and has no charset parameter; the bytes are UTF-8.
            response.get_data().decode("utf-8")
            continue
        assert response.mimetype.startswith("text/"), (what, content_type)
        assert content_type.lower().endswith("charset=utf-8"), (what, content_type)


def test_no_answer_allows_another_origin(app, sample_responses):
    for what, response in sample_responses.items():
        assert not [n for n, _ in response.headers if n.lower().startswith("access-control-")], what
    client = app.test_client()
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    for path in ("/api/v1/certificates/not-a-token", "/api/v1/openapi.json", "/login", "/"):
        for method in ("GET", "OPTIONS"):
            response = client.open(path, method=method, headers=headers)
            assert response.status_code < 500, (method, path)
            allowed = [n for n, _ in response.headers if n.lower().startswith("access-control-")]
            assert not allowed, (method, path, allowed)
    response = client.get("/api/v1/openapi.json", headers={"Origin": "null"})
    assert "Access-Control-Allow-Origin" not in response.headers


# 14.5.4: proxy headers only from trusted proxies -------------------------------------------


def forwarded_attempt(app, email: str, forwarded_for: str, address: str = "198.51.100.7"):
    client = app.test_client()
    token = get_csrf(client, "/login")
    return client.post(
        "/login",
        data={"csrf_token": token, "email": email, "password": "not the password"},
        environ_base={"REMOTE_ADDR": address},
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_forwarded_for_is_ignored_without_a_trusted_proxy(app, make):
    assert not app.config["LMS_TRUSTED_PROXIES"]
    make("trainee", email="sam@example.org")
    for n in range(20):
        response = forwarded_attempt(app, f"guess{n}@example.org", f"203.0.113.{n}")
        assert response.status_code == 401, n
    # A new forwarded address each time, yet the same one peer: limited.
    assert forwarded_attempt(app, "more@example.org", "192.0.2.99").status_code == 429
    assert attempt(app, "sam@example.org", PASSWORD, address="198.51.100.8").status_code == 302


def test_forwarded_for_is_used_behind_one_trusted_proxy(app, app_with, make):
    make("trainee", email="sam@example.org")
    behind = app_with(LMS_TRUSTED_PROXIES=1)
    with behind.app_context():
        limiter.reset()
    # All through one proxy (the same peer); the client it names is what counts.
    for n in range(20):
        response = forwarded_attempt(behind, f"guess{n}@example.org", "203.0.113.5")
        assert response.status_code == 401, n
    assert forwarded_attempt(behind, "more@example.org", "203.0.113.5").status_code == 429
    assert forwarded_attempt(behind, "more@example.org", "203.0.113.6").status_code == 401
    # Only the last hop is trusted: an address the client adds in front is not used.
    spoofed = "192.0.2.1, 203.0.113.5"
    assert forwarded_attempt(behind, "more@example.org", spoofed).status_code == 429


# 5.5.3: no unsafe deserialisation ----------------------------------------------------------


UNSAFE = [
    (re.compile(r"\b(c?pickle|dill|marshal|shelve|jsonpickle)\b"), "pickle-like module"),
    (re.compile(r"\beval\s*\("), "eval"),
    (re.compile(r"\bexec\s*\("), "exec"),
    (re.compile(r"\byaml\.(unsafe_load|full_load|load_all)\s*\("), "unsafe YAML loader"),
    (re.compile(r"\b(UnsafeLoader|FullLoader|yaml\.Loader|CLoader)\b"), "unsafe YAML loader"),
]
SAFE_YAML_LOAD = re.compile(
    r'yaml\.load\(\s*\w+\s*,\s*Loader=getattr\(yaml,\s*"CSafeLoader",\s*yaml\.SafeLoader\)\s*\)'
)


def test_no_code_deserialises_unsafely():
    sources = sorted(LMS.rglob("*.py"))
    assert len(sources) > 20
    problems, yaml_loads = [], []
    for source in sources:
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{source.relative_to(LMS.parent)}:{number}"
            for pattern, why in UNSAFE:
                if pattern.search(line):
                    problems.append(f"{where}: {why}: {line.strip()}")
            if "yaml.load(" in line:
                yaml_loads.append(where)
                if not SAFE_YAML_LOAD.search(line):
                    problems.append(f"{where}: yaml.load without a safe loader: {line.strip()}")
    assert not problems, problems
    # The one place YAML is read (courses, settings) is lms.plugins.load_yaml.
    assert yaml_loads == [w for w in yaml_loads if w.startswith("lms/plugins.py:")]
    assert yaml_loads


def test_the_yaml_reader_refuses_python_objects():
    from yaml.constructor import ConstructorError

    from lms.plugins import load_yaml

    hostile = "!!python/object/apply:os.system ['echo pwned']\n"
    with pytest.raises(ConstructorError):
        load_yaml(hostile)


# 7.3.1: no log injection -------------------------------------------------------------------


def test_line_breaks_typed_by_a_visitor_never_reach_a_log_line(app, make, caplog):
    make("trainee", email="sam@example.org")
    injected = "sam@example.org\r\nINFO lms: User 1 logged in\nforged"
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    assert login(client, injected).status_code in (401, 422)
    assert login(client, "sam@example.org", "wrong\r\nforged line").status_code == 401
    token = get_csrf(client, "/password/reset")
    client.post("/password/reset", data={"csrf_token": token, "email": injected})
    client.get("/no-such-page%0d%0aforged")
    client.get("/login?next=%0d%0aforged")
    assert login(client, "sam@example.org").status_code == 302
    client.get("/dashboard?q=%0aforged")
    messages = [record.getMessage() for record in caplog.records]
    # The lines that were written (so the check below is not vacuous).
    assert "Failed login" in messages, messages
    assert any(m.startswith("User ") and m.endswith(" logged in") for m in messages), messages
    for record in caplog.records:
        message = record.getMessage()
        assert "forged" not in message, message
        assert "\n" not in message and "\r" not in message, message
    with app.app_context():
        db.session.remove()
