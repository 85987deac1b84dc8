"""Every route, every role: allowed or refused, and nothing in between.

``ROUTES`` is the explicit table. A route added to the app without a row here makes
:func:`test_every_route_is_in_the_table` fail, so each new route has to say who may
use it. Allowed means the page's normal answer (a 200, or the redirect that is its
success flow); refused means a redirect to the login page for someone logged out
and 403 for someone logged in without the role. A refused request never changes
anything: the whole database and the outbox are compared before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.extensions import db
from lms.learning import services as learning
from tests.conftest import PASSWORD, get_csrf, get_user, login, region

ANONYMOUS = "anonymous"
LOGGED_IN = frozenset({"trainee", "facilitator", "officer", "admin"})
EVERYONE = LOGGED_IN | {ANONYMOUS}
ADMIN = frozenset({"admin"})
ROLES = sorted(EVERYONE)

NEW_PASSWORD = "a fresh password for the matrix"
TARGET_EMAIL = "target@example.org"


@dataclass(frozen=True)
class Route:
    """One (endpoint, method) of the app and who may use it.

    ``url`` and the values in ``data`` are formatted with the test's world
    (``user_id``, ``token``, ``region_id``, ``target_email``). ``ok`` is the allowed
    answer: a status and, for a redirect, its location (ending in ``*`` for a
    prefix). ``ok_logged_in`` overrides it for logged-in roles. ``changes`` says
    that an allowed POST changes the database, so the refusal check means something.
    """

    endpoint: str
    method: str
    url: str
    allowed: frozenset[str]
    ok: tuple[int, str | None] = (200, None)
    ok_logged_in: tuple[int, str | None] | None = None
    data: dict[str, Any] = field(default_factory=dict)
    changes: bool = False

    @property
    def id(self) -> str:
        return f"{self.endpoint}-{self.method}"


ROUTES = [
    # Public pages. Logged-in people are sent on to their dashboard from / and /login.
    Route("catalogue.home", "GET", "/", EVERYONE, ok_logged_in=(302, "/dashboard")),
    Route("accounts.login", "GET", "/login", EVERYONE, ok_logged_in=(302, "/dashboard")),
    Route(
        "accounts.login",
        "POST",
        "/login",
        EVERYONE,
        ok=(302, "/dashboard"),
        data={"email": "{target_email}", "password": PASSWORD},
    ),
    Route("accounts.reset_request", "GET", "/password/reset", EVERYONE),
    Route(
        "accounts.reset_request",
        "POST",
        "/password/reset",
        EVERYONE,
        ok=(302, "/login"),
        data={"email": "{target_email}"},
        changes=True,
    ),
    Route("accounts.set_password", "GET", "/password/set/{token}", EVERYONE),
    Route(
        "accounts.set_password",
        "POST",
        "/password/set/{token}",
        EVERYONE,
        ok=(302, "/dashboard"),
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        changes=True,
    ),
    # Anyone logged in, whatever their role.
    Route("accounts.logout", "POST", "/logout", LOGGED_IN, ok=(302, "/login")),
    Route("accounts.account", "GET", "/account", LOGGED_IN),
    Route(
        "accounts.account",
        "POST",
        "/account",
        LOGGED_IN,
        ok=(302, "/account"),
        data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        changes=True,
    ),
    Route("learning.dashboard", "GET", "/dashboard", LOGGED_IN),
    Route("catalogue.index", "GET", "/courses", LOGGED_IN),
    Route("catalogue.course", "GET", "/courses/link-member", LOGGED_IN),
    Route(
        "catalogue.enrol",
        "POST",
        "/courses/link-member/enrol",
        LOGGED_IN,
        # Already enrolled (see as_role): joining again goes back to the course.
        ok=(302, "/learn/link-member/promoting-mip-reading"),
    ),
    Route(
        "learning.resume",
        "GET",
        "/learn/link-member",
        LOGGED_IN,
        ok=(302, "/learn/link-member/promoting-mip-reading"),
    ),
    Route("learning.activity", "GET", "/learn/link-member/promoting-mip-reading", LOGGED_IN),
    Route(
        "learning.activity",
        "POST",
        "/learn/link-member/promoting-mip-reading",
        LOGGED_IN,
        ok=(302, "/learn/link-member/promoting-mip-check"),
        data={"action": "complete"},
        changes=True,
    ),
    # The training office only.
    Route("admin.users", "GET", "/admin/users", ADMIN),
    Route("admin.new_user", "GET", "/admin/users/new", ADMIN),
    Route(
        "admin.new_user",
        "POST",
        "/admin/users/new",
        ADMIN,
        ok=(302, "/admin/users/*"),
        data={"name": "New Person", "email": "new@example.org", "roles": "trainee", "region": ""},
        changes=True,
    ),
    Route("admin.user", "GET", "/admin/users/{user_id}", ADMIN),
    Route(
        "admin.user",
        "POST",
        "/admin/users/{user_id}",
        ADMIN,
        ok=(302, "/admin/users/{user_id}"),
        data={"roles": ["trainee", "officer"], "region": "{region_id}"},
        changes=True,
    ),
    Route(
        "admin.send_password_link",
        "POST",
        "/admin/users/{user_id}/password-link",
        ADMIN,
        ok=(302, "/admin/users/{user_id}"),
        changes=True,
    ),
    Route(
        "admin.toggle_active",
        "POST",
        "/admin/users/{user_id}/active",
        ADMIN,
        ok=(302, "/admin/users/{user_id}"),
        changes=True,
    ),
    Route("admin.regions", "GET", "/admin/regions", ADMIN),
    Route(
        "admin.regions",
        "POST",
        "/admin/regions",
        ADMIN,
        ok=(302, "/admin/regions"),
        data={"name": "Isle of Wight"},
        changes=True,
    ),
]

IGNORED_ENDPOINTS = {"static"}


def app_routes(app: Flask) -> set[tuple[str, str]]:
    """(endpoint, method) for every route of the app, HEAD and OPTIONS aside."""
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in IGNORED_ENDPOINTS
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_is_in_the_table(app):
    table = {(r.endpoint, r.method) for r in ROUTES}
    missing = app_routes(app) - table
    assert not missing, f"routes with no row in ROUTES (add who may use them): {sorted(missing)}"
    stale = table - app_routes(app)
    assert not stale, f"rows in ROUTES for routes the app does not have: {sorted(stale)}"
    assert len(table) == len(ROUTES), "a route is in ROUTES twice"


def test_public_pages_are_reachable_logged_out(client, world):
    for url in ("/", "/login", "/password/reset", f"/password/set/{world['token']}"):
        assert client.get(url).status_code == 200, url


@pytest.fixture()
def world(app: Flask) -> dict[str, Any]:
    """The data the table's URLs point at: a person to act on, their link, a region."""
    with app.app_context():
        created = accounts.create_user(
            TARGET_EMAIL, "Target Person", ["trainee"], region("North East"), send_link=False
        )
        accounts.set_password(created.user, PASSWORD)
        token_url = accounts.issue_password_link(created.user, "setup", send=False)
        world = {
            "user_id": created.user.id,
            "token": token_url.rsplit("/", 1)[1],
            "region_id": region("North East").id,
            "target_email": TARGET_EMAIL,
        }
        db.session.commit()
    return world


def as_role(app: Flask, make, role: str) -> FlaskClient:
    """A client logged in as someone holding just ``role`` (enrolled on the link member course)."""
    client = app.test_client()
    if role == ANONYMOUS:
        return client
    email = f"{role}@example.org"
    user_id = make(role, email=email, region_name="North East")
    with app.app_context():
        learning.enrol(get_user(app, user_id), learning.catalogue().get("link-member"))
        db.session.commit()
    assert login(client, email).status_code == 302
    return client


def snapshot(app: Flask) -> dict[str, Any]:
    """Every row of every table, and the outbox."""
    with app.app_context():
        tables = {
            table.name: sorted((tuple(row) for row in db.session.execute(select(table))), key=repr)
            for table in db.metadata.sorted_tables
        }
        db.session.remove()
    return {"tables": tables, "outbox": list(app.extensions.get("lms.outbox", []))}


def fill(value: Any, world: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [fill(v, world) for v in value]
    return value.format(**world) if isinstance(value, str) else value


def location_matches(location: str | None, expected: str) -> bool:
    if location is None:
        return False
    if expected.endswith("*"):
        return location.startswith(expected[:-1]) and len(location) > len(expected) - 1
    return location == expected


CASES = [
    pytest.param(route, role, id=f"{route.id}-{role}{'' if role in route.allowed else '-refused'}")
    for route in ROUTES
    for role in ROLES
]


@pytest.mark.parametrize(("route", "role"), CASES)
def test_access(app, make, world, route: Route, role: str):
    client = as_role(app, make, role)
    url = route.url.format(**world)
    if route.method == "GET":
        before = snapshot(app)
        response = client.get(url)
    else:
        # A real CSRF token, so a refusal comes from the access check, not from CSRF.
        data = {k: fill(v, world) for k, v in route.data.items()}
        data["csrf_token"] = get_csrf(client, "/password/reset")
        before = snapshot(app)
        response = client.open(url, method=route.method, data=data)
    status, location = response.status_code, response.location
    where = f"{route.method} {url} as {role}"

    if role in route.allowed:
        expected = route.ok_logged_in if role != ANONYMOUS and route.ok_logged_in else route.ok
        want_status, want_location = expected
        assert status == want_status, f"{where}: {status} (wanted {want_status})"
        if want_location is not None:
            want_location = want_location.format(**world)
            assert location_matches(location, want_location), f"{where}: sent to {location}"
        if route.method != "GET" and route.changes:
            assert snapshot(app) != before, f"{where}: allowed, but changed nothing"
        return

    if role == ANONYMOUS:
        assert status == 302, f"{where}: {status} (wanted a redirect to log in)"
        assert location is not None and location.startswith("/login?next="), (
            f"{where}: sent to {location}"
        )
    else:
        assert status == 403, f"{where}: {status} (wanted 403)"
        assert "Not allowed" in response.get_data(as_text=True)
    assert snapshot(app) == before, f"{where}: refused, but something changed"
