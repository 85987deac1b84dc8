"""The training office's pages: accounts, roles, deactivation, regions and search."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lms.accounts import services as accounts
from lms.accounts.models import Region, RoleAssignment, User
from lms.extensions import db
from tests.conftest import PASSWORD, csrf_from, get_csrf, get_user, login, region

NEW_PASSWORD = "a password of my own"


class FormState(HTMLParser):
    """What a page's form fields hold: name -> values (text, ticked boxes, selected options)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._select: str | None = None
        self.feed(html)

    def _add(self, name: str | None, value: str | None) -> None:
        if name:
            self.values.setdefault(name, []).append(value or "")

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input":
            kind = a.get("type", "text")
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self._add(a.get("name"), a.get("value", "on"))
            elif kind not in {"submit", "button"}:
                self._add(a.get("name"), a.get("value"))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value"))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def form_state(html: str) -> dict[str, list[str]]:
    return FormState(html).values


def error_for(html: str, field_id: str) -> str:
    """The error message shown next to a field (empty if none)."""
    match = re.search(rf'<p class="error-message" id="{field_id}-error">(.*?)</p>', html, re.S)
    if not match:
        return ""
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def outbox(app) -> list[tuple[str, str, str]]:
    return app.extensions.get("lms.outbox", [])


def region_id(app, name: str) -> str:
    with app.app_context():
        return str(region(name).id)


@pytest.fixture()
def admin(app, make) -> FlaskClient:
    make("admin", email="office@example.org", name="Morwenna Pryce", region_name="London")
    client = app.test_client()
    assert login(client, "office@example.org").status_code == 302
    return client


def post_form(client: FlaskClient, url: str, data: dict):
    token = get_csrf(client, url)
    return client.post(url, data={"csrf_token": token, **data})


def count_users(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(User.id)))


# Creating accounts ----------------------------------------------------------------------


def test_admin_creates_an_account_and_the_person_gets_a_one_time_link(app, admin):
    page = admin.get("/admin/users/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for label in ("Full name", "Email address", "Trainee", "National officer", "North East"):
        assert label in html

    response = post_form(
        admin,
        "/admin/users/new",
        {
            "name": "  Rhiannon   Price ",
            "email": "Rhiannon.Price@Example.org",
            "roles": ["trainee", "officer"],
            "region": region_id(app, "North East"),
        },
    )
    assert response.status_code == 302
    user_id = int(response.location.rsplit("/", 1)[1])
    assert response.location == f"/admin/users/{user_id}"
    html = admin.get(response.location).get_data(as_text=True)
    assert "Account created for Rhiannon Price." in html
    assert "Invited: has not chosen a password yet" in html

    with app.app_context():
        person = get_user(app, user_id)
        assert person.email == "rhiannon.price@example.org"
        assert person.name == "Rhiannon Price"
        assert person.role_names == {"trainee", "officer"}
        assert person.region.name == "North East"
        assert [r.name for r in person.officer_regions()] == ["North East"]
        assert person.password_hash is None

    [(to, subject, body)] = outbox(app)
    assert to == "rhiannon.price@example.org"
    assert subject == "Your MiP training account"
    assert "Hello Rhiannon Price" in body
    link = re.search(r"https?://\S+/password/set/\S+", body).group(0)
    path = urlsplit(link).path

    person = app.test_client()
    token = get_csrf(person, path)
    response = person.post(
        path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.location == "/dashboard"
    assert person.get(path).status_code == 410
    assert login(app.test_client(), "rhiannon.price@example.org", NEW_PASSWORD).status_code == 302


GOOD = {
    "name": "Rhiannon Price",
    "email": "rhiannon@example.org",
    "roles": ["trainee", "facilitator"],
    "region": "North East",
}

BAD_INPUT = [
    pytest.param({"email": "not-an-email"}, "email", "Enter a valid email address", id="bad-email"),
    pytest.param({"email": "rhiannon@"}, "email", "Enter a valid email address", id="half-email"),
    pytest.param(
        {"email": "Taken@Example.org"},
        "email",
        "An account with this email address already exists.",
        id="taken-email",
    ),
    pytest.param({"email": ""}, "email", "Enter an email address.", id="no-email"),
    pytest.param({"name": "   "}, "name", "Enter the person's name.", id="no-name"),
    pytest.param({"roles": []}, "roles", "Give the account at least one role.", id="no-role"),
    pytest.param(
        {"roles": ["trainee", "officer"], "region": ""},
        "region",
        "A national officer needs a region.",
        id="officer-without-region",
    ),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_INPUT)
def test_bad_input_is_named_next_to_the_field_and_everything_typed_is_kept(
    app, admin, make, change, field, message
):
    make("trainee", email="taken@example.org")
    users_before = count_users(app)
    typed = {**GOOD, **change}
    region_value = region_id(app, typed["region"]) if typed["region"] else ""
    response = post_form(admin, "/admin/users/new", {**typed, "region": region_value})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in error_for(html, field)
    assert f'href="#{field}"' in html  # the summary at the top links to the field
    state = form_state(html)
    assert state["name"] == [typed["name"]]
    assert state["email"] == [typed["email"]]
    assert state.get("roles", []) == typed["roles"]
    assert state["region"] == [region_value]
    assert count_users(app) == users_before
    assert outbox(app) == []


def test_unknown_region_is_refused(app, admin):
    response = post_form(admin, "/admin/users/new", {**GOOD, "region": "99999"})
    assert response.status_code == 422
    assert error_for(response.get_data(as_text=True), "region")
    assert count_users(app) == 1


# Editing an account ---------------------------------------------------------------------


def roles_of(app, user_id: int) -> dict[str, str | None]:
    with app.app_context():
        rows = db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == user_id))
        return {r.role: (r.region.name if r.region else None) for r in rows}


def test_editing_roles(app, admin, make):
    user_id = make("trainee", email="ffion@example.org", region_name="North East")
    url = f"/admin/users/{user_id}"
    state = form_state(admin.get(url).get_data(as_text=True))
    assert state["roles"] == ["trainee"]
    assert state["region"] == [region_id(app, "North East")]

    response = post_form(
        admin, url, {"roles": ["facilitator", "officer"], "region": region_id(app, "Wales")}
    )
    assert response.status_code == 302
    assert response.location == url
    html = admin.get(url).get_data(as_text=True)
    assert "Roles saved." in html
    assert form_state(html)["roles"] == ["facilitator", "officer"]
    assert roles_of(app, user_id) == {"facilitator": None, "officer": "Wales"}
    with app.app_context():
        assert get_user(app, user_id).region.name == "Wales"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"roles": []}, "roles", "Give the account at least one role."),
        ({"roles": ["officer", "facilitator"]}, "region", "A national officer needs a region."),
    ],
    ids=["no-role", "officer-without-region"],
)
def test_bad_role_changes_are_refused_and_keep_what_was_ticked(
    app, admin, make, data, field, message
):
    user_id = make("trainee", email="ffion@example.org", region_name=None)
    response = post_form(admin, f"/admin/users/{user_id}", {"region": "", **data})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in error_for(html, field)
    order = ["trainee", "facilitator", "officer", "admin"]
    assert form_state(html).get("roles", []) == sorted(data["roles"], key=order.index)
    assert roles_of(app, user_id) == {"trainee": None}


def test_unknown_account_is_404(admin):
    assert admin.get("/admin/users/99999").status_code == 404
    token = get_csrf(admin, "/admin/users")
    for action in ("active", "password-link"):
        assert (
            admin.post(f"/admin/users/99999/{action}", data={"csrf_token": token}).status_code
            == 404
        )


def test_deactivate_and_reactivate(app, admin, make):
    user_id = make("trainee", email="ffion@example.org")
    theirs = app.test_client()
    assert login(theirs, "ffion@example.org").status_code == 302
    url = f"/admin/users/{user_id}"

    # Without a CSRF token nothing happens.
    assert admin.post(f"{url}/active").status_code == 400
    assert theirs.get("/dashboard").status_code == 200

    token = get_csrf(admin, url)
    response = admin.post(f"{url}/active", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.location == url
    html = admin.get(url).get_data(as_text=True)
    assert "Account deactivated." in html
    assert "Reactivate account" in html
    assert "Deactivated" in admin.get("/admin/users").get_data(as_text=True)
    # Their session ends, and they cannot log in again.
    assert theirs.get("/dashboard").status_code == 302
    assert login(app.test_client(), "ffion@example.org").status_code == 401

    token = get_csrf(admin, url)
    admin.post(f"{url}/active", data={"csrf_token": token})
    html = admin.get(url).get_data(as_text=True)
    assert "Account reactivated." in html
    assert "Deactivate account" in html
    assert login(app.test_client(), "ffion@example.org").status_code == 302


def test_an_administrator_cannot_deactivate_their_own_account(app, admin):
    with app.app_context():
        own_id = accounts.find_by_email("office@example.org").id
    url = f"/admin/users/{own_id}"
    html = admin.get(url).get_data(as_text=True)
    assert "Deactivate account" not in html
    token = get_csrf(admin, url)
    response = admin.post(f"{url}/active", data={"csrf_token": token})
    assert response.status_code == 302
    assert "You cannot deactivate your own account." in admin.get(url).get_data(as_text=True)
    with app.app_context():
        assert get_user(app, own_id).is_active_account
    assert admin.get("/admin/users").status_code == 200


def test_sending_a_new_password_link_replaces_the_old_one(app, admin, make):
    user_id = make("trainee", email="ffion@example.org")
    with app.app_context():
        old = urlsplit(accounts.issue_password_link(get_user(app, user_id), "reset")).path
        db.session.commit()
    app.extensions.pop("lms.outbox", None)
    url = f"/admin/users/{user_id}"
    token = get_csrf(admin, url)
    response = admin.post(f"{url}/password-link", data={"csrf_token": token})
    assert response.location == url
    assert "A new one-time link has been sent to ffion@example.org." in admin.get(url).get_data(
        as_text=True
    )
    [(to, subject, body)] = outbox(app)
    assert to == "ffion@example.org"
    assert subject == "Reset your MiP training password"
    new = urlsplit(re.search(r"https?://\S+/password/set/\S+", body).group(0)).path
    client = app.test_client()
    assert client.get(old).status_code == 410
    assert client.get(new).status_code == 200


# Regions --------------------------------------------------------------------------------


def region_names(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Region.name).order_by(Region.name)))


def test_adding_a_region(app, admin):
    html = admin.get("/admin/regions").get_data(as_text=True)
    assert "Yorkshire and the Humber" in html
    response = post_form(admin, "/admin/regions", {"name": "  Isle  of Wight "})
    assert response.status_code == 302
    assert response.location == "/admin/regions"
    html = admin.get("/admin/regions").get_data(as_text=True)
    assert "Region Isle of Wight added." in html
    assert "<td>Isle of Wight</td>" in html
    assert "Isle of Wight" in region_names(app)
    with app.app_context():
        assert region("Isle of Wight").slug == "isle-of-wight"
    # The new region can be chosen for an account.
    assert ">Isle of Wight</option>" in admin.get("/admin/users/new").get_data(as_text=True)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("north   EAST", "There is already a region with this name."),
        ("North-East", "There is already a region with this name."),
        ("!!!", "Use letters or numbers in the name."),
        ("", "Enter the region's name."),
    ],
    ids=["same-name", "same-slug", "no-letters", "empty"],
)
def test_bad_region_is_refused_and_keeps_what_was_typed(app, admin, typed, message):
    before = region_names(app)
    response = post_form(admin, "/admin/regions", {"name": typed})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in error_for(html, "name")
    assert form_state(html)["name"] == [typed]
    assert region_names(app) == before


def test_region_shows_how_many_officers_it_has(app, admin, make):
    make("officer", region_name="Wales")
    make("officer", region_name="Wales")
    html = admin.get("/admin/regions").get_data(as_text=True)
    assert "<td>Wales</td><td>2</td>" in html
    assert "<td>Scotland</td><td>0</td>" in html


# Finding people -------------------------------------------------------------------------


def listed(html: str) -> list[str]:
    return re.findall(r'<td><a href="/admin/users/\d+">([^<]+)</a></td>', html)


@pytest.fixture()
def people(app, make):
    make("trainee", email="ffion.bevan@example.org", name="Ffion Bevan")
    make("officer", email="tomasz@mip.example", name="Tomasz Wronski", region_name="London")
    make("trainee", "facilitator", email="niamh@example.org", name="Niamh Gallagher")
    with app.app_context():
        person = accounts.find_by_email("niamh@example.org")
        person.is_active_account = False
        db.session.commit()


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({}, ["Ffion Bevan", "Morwenna Pryce", "Niamh Gallagher", "Tomasz Wronski"]),
        ({"q": "bevan"}, ["Ffion Bevan"]),
        ({"q": "GALLAGHER"}, ["Niamh Gallagher"]),
        ({"q": "mip.example"}, ["Tomasz Wronski"]),
        ({"q": "  niamh@  "}, ["Niamh Gallagher"]),
        ({"role": "officer"}, ["Tomasz Wronski"]),
        ({"role": "trainee"}, ["Ffion Bevan", "Niamh Gallagher"]),
        ({"role": "facilitator", "q": "niamh"}, ["Niamh Gallagher"]),
        ({"role": "facilitator", "q": "ffion"}, []),
        ({"role": "admin"}, ["Morwenna Pryce"]),
        (
            {"role": "wizard"},
            ["Ffion Bevan", "Morwenna Pryce", "Niamh Gallagher", "Tomasz Wronski"],
        ),
        ({"q": "nobody"}, []),
    ],
)
def test_search_and_filter_accounts(admin, people, query, names):
    response = admin.get("/admin/users", query_string=query)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert listed(html) == names
    assert f"{len(names)} account" in html
    if not names:
        assert "No accounts match." in html
    state = form_state(html)
    assert state["q"] == [query.get("q", "").strip()]
    if query.get("role") in {"trainee", "facilitator", "officer", "admin"}:
        assert state["role"] == [query["role"]]


def test_accounts_list_shows_roles_and_status(admin, people):
    html = admin.get("/admin/users").get_data(as_text=True)
    assert "<td>Trainee, Facilitator</td>" in html
    assert "<td>National officer</td>" in html
    assert "<td>Deactivated</td>" in html


def test_accounts_list_is_paged(app, admin):
    with app.app_context():
        for n in range(60):
            accounts.create_user(
                f"p{n:02}@example.org", f"Person {n:02}", ["trainee"], send_link=False
            )
        db.session.commit()
    first = admin.get("/admin/users").get_data(as_text=True)
    assert len(listed(first)) == 50
    assert "61 accounts" in first
    assert "Page 1 of 2" in first
    assert "Next page" in first
    second = admin.get("/admin/users", query_string={"page": 2}).get_data(as_text=True)
    assert len(listed(second)) == 11
    assert "Previous page" in second
    assert set(listed(first)).isdisjoint(listed(second))
    for odd in ("0", "-3", "abc"):
        page = admin.get("/admin/users", query_string={"page": odd})
        assert page.status_code == 200
        assert listed(page.get_data(as_text=True)) == listed(first)


def test_new_accounts_can_log_in_only_after_setting_a_password(app, admin):
    post_form(admin, "/admin/users/new", {**GOOD, "region": ""})
    assert login(app.test_client(), GOOD["email"], PASSWORD).status_code == 401


def test_an_administrator_cannot_remove_their_own_admin_role(app, admin):
    with app.app_context():
        me = db.session.scalar(
            select(User).join(RoleAssignment).where(RoleAssignment.role == "admin")
        )
        my_id = me.id
    response = post_form(admin, f"/admin/users/{my_id}", {"roles": ["trainee"], "region": ""})
    assert response.status_code == 422
    assert "You cannot remove your own administrator role." in response.get_data(as_text=True)
    assert "admin" in roles_of(app, my_id)


def test_search_treats_percent_and_underscore_as_text(app, admin, make):
    make("trainee", email="plain@example.org", name="Plain Person")
    make("trainee", email="odd_name@example.org", name="Odd 100% Person")
    percent = admin.get("/admin/users?q=%25").get_data(as_text=True)
    assert "Odd 100% Person" in percent and "Plain Person" not in percent
    underscore = admin.get("/admin/users?q=_").get_data(as_text=True)
    assert "odd_name@example.org" in underscore and "plain@example.org" not in underscore


IMPORT_URL = "/admin/users/import"


def test_import_page_checks_every_row_and_keeps_the_text_when_refused(app, make):
    import io

    make("admin", email="office@example.org")
    client = app.test_client()
    assert login(client, "office@example.org").status_code == 302
    page = client.get(IMPORT_URL).get_data(as_text=True)
    assert "Import accounts" in page and 'enctype="multipart/form-data"' in page
    text = (
        "email,name,roles,region\n"
        "ana.silva@example.org,Ana Silva,trainee,North East\n"
        "not-an-email,Bad Row,trainee,\n"
        "olu.ade@example.org,Olu Ade,officer,\n"
    )
    refused = client.post(IMPORT_URL, data={"csrf_token": csrf_from(page), "text": text})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Nothing was imported" in html
    assert "Would be created" in html and "Enter a valid email address" in html
    assert "A national officer needs a region." in html
    assert "not-an-email,Bad Row,trainee," in html  # the text is kept to fix
    with app.app_context():
        assert accounts.find_by_email("ana.silva@example.org") is None
    assert outbox(app) == []

    # The same rows as an uploaded file, importing the good ones.
    upload = (io.BytesIO(text.encode("utf-8-sig")), "people.csv")
    done = client.post(
        IMPORT_URL,
        data={"csrf_token": csrf_from(html), "file": upload, "skip_bad": "y"},
        content_type="multipart/form-data",
    )
    assert done.status_code == 200  # refused rows are still listed to fix
    html = done.get_data(as_text=True)
    assert "What was imported" in html and "Created" in html
    with app.app_context():
        assert accounts.find_by_email("ana.silva@example.org") is not None
    assert [to for to, _s, _b in outbox(app)] == ["ana.silva@example.org"]


def test_import_page_explains_a_file_it_cannot_read(app, make):
    import io

    make("admin", email="office@example.org")
    client = app.test_client()
    login(client, "office@example.org")
    token = csrf_from(client.get(IMPORT_URL).get_data(as_text=True))
    for data, message in (
        ({"text": ""}, "Choose a CSV file or paste the rows."),
        ({"text": "mail,name\nx@example.org,X\n"}, "The first line must name the columns"),
        (
            {
                "file": (
                    io.BytesIO(
                        "email,name,roles\nz@example.org,Zo\xe9,trainee\n".encode("latin-1")
                    ),
                    "p.csv",
                )
            },
            "The file is not UTF-8 text.",
        ),
    ):
        response = client.post(
            IMPORT_URL, data={"csrf_token": token, **data}, content_type="multipart/form-data"
        )
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
