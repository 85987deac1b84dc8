"""Public verification of certificates: by link, by number and surname, by file, and as JSON.

Anyone may check a certificate without an account. They learn whether it is genuine
and what it accredits; the holder's name only when the holder allows it or the
visitor types the surname. Lookups are rate-limited per address and failures are
logged without the code that was tried.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accounts.models import User
from lms.accreditation import services, verify
from lms.accreditation.models import Accreditation, Certificate, CertificateFile
from lms.config import defaults
from lms.db import utcnow
from lms.extensions import db
from tests.conftest import csrf_from, get_csrf, login, region
from tests.functional.accreditation_helpers import grant, write_plain_templates

NAME = "Siân Wyn Pritchard"
EMAIL = "swp.member@example.org"
OFFICER = "Rhodri Gwynfor"
TOKEN_PATH = "/api/v1/certificates/{token}"


# Helpers ---------------------------------------------------------------------------------


def confirmed(app, user_id: int, officer_id: int, course: str = "rep"):
    """A certificate issued the usual way: a request the region's officer confirms."""
    with app.app_context():
        user = db.session.get(User, user_id)
        spec = app.extensions["lms.courses"].get(course)
        record = Accreditation(
            user_id=user.id,
            course_slug=spec.slug,
            course_version=spec.version,
            status="pending",
            region_id=user.region_id,
        )
        db.session.add(record)
        db.session.flush()
        certificate = services.confirm(record, db.session.get(User, officer_id))
        db.session.commit()
        return certificate.id, certificate.number, certificate.token


def day(app, when) -> str:
    """A date as the site's pages print it."""
    with app.test_request_context():
        return app.jinja_env.filters["date"](when)


def stored_pdf(app, certificate_id: int) -> bytes:
    with app.app_context():
        return db.session.get(Certificate, certificate_id).current_file.pdf


def set_certificate(app, certificate_id: int, **fields) -> None:
    with app.app_context():
        certificate = db.session.get(Certificate, certificate_id)
        for key, value in fields.items():
            setattr(certificate, key, value)
        db.session.commit()


def make_public(app, email: str, public: bool) -> None:
    """The holder makes their choice on their certificates page."""
    holder = app.test_client()
    assert login(holder, email).status_code == 302
    response = holder.post(
        "/certificates/privacy",
        data={
            "csrf_token": get_csrf(holder, "/certificates"),
            "is_name_public": "yes" if public else "no",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        assert accounts.find_by_email(email).is_name_public is public


def check_surname(client, token: str, surname: str):
    page = client.get(f"/verify/{token}").get_data(as_text=True)
    assert 'name="surname"' in page
    return client.post(f"/verify/{token}", data={"surname": surname})


def check_number(client, number: str, surname: str, **kwargs):
    return client.post(
        "/verify",
        data={"csrf_token": get_csrf(client, "/verify"), "number": number, "surname": surname},
        **kwargs,
    )


def upload(client, data: bytes, surname: str = "", filename: str = "certificate.pdf", **kwargs):
    return client.post(
        "/verify/file",
        data={
            "csrf_token": get_csrf(client, "/verify"),
            "certificate": (io.BytesIO(data), filename),
            "surname": surname,
        },
        content_type="multipart/form-data",
        **kwargs,
    )


def main_of(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def assert_nothing_about_the_person(html: str) -> None:
    lowered = html.lower()
    for private in ("siân", "sian", "pritchard", "swp.member", "wales", "rhodri", "gwynfor"):
        assert private not in lowered, private


def assert_security_headers(response) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("X-Frame-Options") == "DENY"
    assert headers.get("Referrer-Policy") == "same-origin"
    if response.mimetype == "text/html":
        assert "no-store" in headers.get("Cache-Control", "")


@pytest.fixture()
def holder(app, make):
    """A rep in Wales whose certificate was confirmed by the Welsh national officer."""
    officer = make("officer", email="rhodri@example.org", name=OFFICER, region_name="Wales")
    uid = make("trainee", email=EMAIL, name=NAME, region_name="Wales")
    cert_id, number, token = confirmed(app, uid, officer)
    with app.app_context():
        certificate = db.session.get(Certificate, cert_id)
        assert certificate.officer_name == OFFICER and certificate.region_name == "Wales"
    return {"user_id": uid, "id": cert_id, "number": number, "token": token}


@pytest.fixture()
def plain_certificates(app_with, tmp_path):
    """An app on the same database whose certificate templates are one line each.

    Issuing still goes through the real services and WeasyPrint; only the page is
    simpler, so that tests issuing many certificates stay quick.
    """
    write_plain_templates(tmp_path / "plain-certificates", "<p>{{ number }}</p>")
    return app_with(LMS_CERTIFICATES_DIR=str(tmp_path / "plain-certificates"))


# By link (the QR code) -------------------------------------------------------------------


def test_valid_certificate_shows_what_it_accredits_and_nothing_about_the_person(
    app, client, holder
):
    response = client.get(f"/verify/{holder['token']}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Genuine and valid" in html
    with app.app_context():
        certificate = db.session.get(Certificate, holder["id"])
        issued, expires = certificate.issued_at, certificate.expires_at
    assert "Accredited MiP Representative" in html
    assert "MiP rep course" in html and "version 2027.1" in html
    assert holder["number"] in html
    assert f"<dd>{day(app, issued)}</dd>" in html
    assert f"<dd>{day(app, expires)}</dd>" in html  # valid until
    assert "Not shown: the holder has not chosen to show their name." in html
    assert_nothing_about_the_person(html)


def test_holder_chooses_to_show_their_name(app, client, holder):
    make_public(app, EMAIL, True)
    html = client.get(f"/verify/{holder['token']}").get_data(as_text=True)
    assert NAME in html and "Genuine and valid" in html
    assert "Not shown" not in html
    # Only the name: still nothing else about them.
    lowered = html.lower()
    for private in ("swp.member", "wales", "rhodri", "gwynfor"):
        assert private not in lowered
    api = client.get(f"/api/v1/certificates/{holder['token']}").get_json()
    assert api["holder"] == {"name": NAME}

    make_public(app, EMAIL, False)
    html = client.get(f"/verify/{holder['token']}").get_data(as_text=True)
    assert_nothing_about_the_person(html)
    assert client.get(f"/api/v1/certificates/{holder['token']}").get_json()["holder"] is None


@pytest.mark.parametrize("typed", ["pritchard", "PRITCHARD", "Pritchárd", "  Pritchard "])
def test_typing_the_surname_shows_the_name(app, client, holder, typed):
    html = check_surname(client, holder["token"], typed).get_data(as_text=True)
    assert NAME in html
    assert "The surname you typed matches this certificate." in html
    assert "does not match" not in html


@pytest.mark.parametrize("typed", ["Jones", "Pritch", "Siân Jones", "Wales"])
def test_a_wrong_surname_says_so_without_the_name(app, client, holder, typed):
    response = check_surname(client, holder["token"], typed)
    html = response.get_data(as_text=True)
    assert response.status_code == 200  # the certificate is still genuine
    assert "That surname does not match this certificate." in html
    assert "Genuine and valid" in html
    assert NAME not in html and "pritchard" not in html.lower() and " wyn " not in html.lower()


@pytest.mark.parametrize(
    ("name", "typed"),
    [
        ("Łucja Wróblewska-Żelazny", "Wróblewska-Żelazny"),
        ("Łucja Wróblewska-Żelazny", "wroblewska-zelazny"),
        ("Łucja Wróblewska-Żelazny", "Wróblewska - Żelazny"),
        ("王小明", "王"),
        ("Nguyễn Thị Minh Khai", "NGUYEN"),  # family name first
    ],
    ids=["compound", "compound-unaccented", "compound-spaced", "chinese", "family-first"],
)
def test_compound_and_family_name_first_surnames_match(app, client, make, name, typed):
    uid = make("trainee", email="holder@example.org", name=name)
    _id, _number, token = grant(app, uid, "link-member")
    assert name not in client.get(f"/verify/{token}").get_data(as_text=True)
    html = check_surname(client, token, typed).get_data(as_text=True)
    assert name in html and "The surname you typed matches" in html


def test_the_qr_page_needs_no_session(app, client, holder):
    """Checking a surname changes nothing, so its form carries no CSRF token, the page
    sets no cookie, and a surname sent without one is checked all the same."""
    page = client.get(f"/verify/{holder['token']}")
    assert "csrf_token" not in page.get_data(as_text=True)
    assert "Set-Cookie" not in page.headers
    stranger = app.test_client(use_cookies=False)
    wrong = stranger.post(f"/verify/{holder['token']}", data={"surname": "Jones"})
    assert "That surname does not match" in wrong.get_data(as_text=True)
    assert NAME not in wrong.get_data(as_text=True)
    right = stranger.post(f"/verify/{holder['token']}", data={"surname": "Pritchard"})
    assert NAME in right.get_data(as_text=True) and "Set-Cookie" not in right.headers


def test_kept_qr_page_follows_the_certificate(app, client, make, holder):
    """The page a visitor sees is kept per state of the certificate: a revocation, a
    holder's choice to show their name, a change of expiry show at once; a visitor who
    is logged in, or has a message waiting, gets the page made for them."""
    url = f"/verify/{holder['token']}"
    for _ in range(2):
        first = client.get(url).get_data(as_text=True)
        assert "Genuine and valid" in first and NAME not in first
    make_public(app, EMAIL, True)
    assert NAME in app.test_client().get(url).get_data(as_text=True)
    make_public(app, EMAIL, False)
    assert NAME not in app.test_client().get(url).get_data(as_text=True)
    with app.app_context():
        certificate = db.session.get(Certificate, holder["id"])
        certificate.expires_at = utcnow() - timedelta(days=1)
        db.session.commit()
    expired = client.get(url).get_data(as_text=True)
    assert "Expired on" in expired and "Genuine and valid" not in expired
    admin = make("admin", email="office@example.org", region_name=None)
    with app.app_context():
        services.revoke(
            db.session.get(Certificate, holder["id"]), db.session.get(User, admin), "Left"
        )
        db.session.commit()
    assert "Revoked on" in client.get(url).get_data(as_text=True)
    # Logged in: the page has that person's menu, not the kept page.
    officer = app.test_client()
    assert login(officer, "office@example.org").status_code == 302
    mine = officer.get(url).get_data(as_text=True)
    assert "Revoked on" in mine and 'action="/logout"' in mine
    assert 'action="/logout"' not in client.get(url).get_data(as_text=True)
    # A link that matches nothing is kept too, and still answers 404.
    for _ in range(2):
        missing = client.get(url[:-1])
        assert missing.status_code == 404
        assert "No certificate found" in missing.get_data(as_text=True)


def test_unknown_token_is_not_found(app, client, holder):
    for token in ("x" * 43, holder["token"][:-1], holder["token"] + "A", "a" * 101):
        response = client.get(f"/verify/{token}")
        html = response.get_data(as_text=True)
        assert response.status_code == 404, token
        assert "No certificate found" in html
        assert "This link does not match any certificate." in html
        assert "Genuine" not in html


def test_revoked_certificate_says_revoked_and_when_never_not_found(app, client, make, holder):
    admin = make("admin", email="office@example.org", region_name=None)
    with app.app_context():
        services.revoke(
            db.session.get(Certificate, holder["id"]), db.session.get(User, admin), "Left"
        )
        db.session.commit()
        revoked_at = db.session.get(Certificate, holder["id"]).revoked_at
    response = client.get(f"/verify/{holder['token']}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"Revoked on {day(app, revoked_at)}" in html
    assert "No certificate found" not in html and "Genuine and valid" not in html
    assert "Left" not in main_of(html)  # the reason stays with the office
    assert_nothing_about_the_person(html)
    # The same by number and surname, and by file.
    by_number = check_number(client, holder["number"], "Pritchard")
    assert by_number.status_code == 200
    assert "Revoked on" in by_number.get_data(as_text=True)
    by_file = upload(client, stored_pdf(app, holder["id"]))
    assert by_file.status_code == 200 and "Revoked on" in by_file.get_data(as_text=True)


def test_expired_certificate_says_expired_and_when(app, client, holder):
    lapsed = utcnow() - timedelta(days=3)
    set_certificate(app, holder["id"], expires_at=lapsed)
    response = client.get(f"/verify/{holder['token']}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"Expired on {day(app, lapsed)}" in html
    assert "Genuine and valid" not in html and "No certificate found" not in html
    api = client.get(f"/api/v1/certificates/{holder['token']}").get_json()
    assert api["status"] == "expired" and api["expires_on"] == lapsed.date().isoformat()


# By number and surname ---------------------------------------------------------------------


def test_number_and_surname_find_the_certificate(app, client, holder):
    response = check_number(client, holder["number"], "Pritchard")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Genuine and valid" in html and holder["number"] in html
    assert NAME in html  # the visitor knew the surname
    # The number as people type it: lower case, spaces around.
    again = check_number(client, f"  {holder['number'].lower()} ", "pritchárd")
    assert again.status_code == 200 and NAME in again.get_data(as_text=True)


def test_wrong_surname_and_wrong_number_get_the_same_answer(app, client, holder):
    number = holder["number"]
    other = number[:-1] + ("2" if number[-1] != "2" else "3")
    wrong_surname = check_number(client, number, "Jones")
    wrong_number = check_number(client, other, "Pritchard")
    for response in (wrong_surname, wrong_number):
        html = response.get_data(as_text=True)
        assert response.status_code == 404
        assert "No certificate found" in html
        assert "No certificate matches that number and surname." in html
        assert_nothing_about_the_person(html)
        assert "Genuine" not in html and "Revoked" not in html
    assert main_of(wrong_surname.get_data(as_text=True)) == main_of(
        wrong_number.get_data(as_text=True)
    )
    # Revoked or not, a wrong surname still tells nothing about the number.
    with app.app_context():
        certificate = db.session.get(Certificate, holder["id"])
        certificate.revoked_at = utcnow()
        db.session.commit()
    revoked_wrong = check_number(client, number, "Jones")
    assert revoked_wrong.status_code == 404
    assert main_of(revoked_wrong.get_data(as_text=True)) == main_of(
        wrong_number.get_data(as_text=True)
    )


def test_empty_fields_are_explained_and_what_was_typed_is_kept(app, client, holder):
    no_surname = check_number(client, "MIP-R26-7KQ4-M9XD", "")
    html = no_surname.get_data(as_text=True)
    assert no_surname.status_code == 422
    assert 'id="surname-error">Enter the holder' in html
    assert 'value="MIP-R26-7KQ4-M9XD"' in html
    assert 'aria-describedby="surname-error"' in html
    assert "number-error" not in html

    no_number = check_number(client, "", "Pritchard")
    html = no_number.get_data(as_text=True)
    assert no_number.status_code == 422
    assert 'id="number-error">Enter the certificate number' in html
    assert 'id="surname" name="surname" value="Pritchard"' in html
    assert 'aria-describedby="number-hint number-error"' in html

    neither = check_number(client, "  ", "")
    html = neither.get_data(as_text=True)
    assert neither.status_code == 422
    assert "number-error" in html and "surname-error" in html

    # A form without its CSRF token loses nothing either, and finds nothing.
    stale = client.post("/verify", data={"number": holder["number"], "surname": "Pritchard"})
    html = stale.get_data(as_text=True)
    assert stale.status_code == 422
    assert "Your session timed out" in html
    assert f'value="{holder["number"]}"' in html and 'value="Pritchard"' in html
    assert NAME not in html and "Genuine" not in html


# By uploading the PDF ----------------------------------------------------------------------


def test_the_exact_stored_file_is_found(app, client, holder):
    data = stored_pdf(app, holder["id"])
    response = upload(client, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Genuine and valid" in html and "This exact file was issued here" in html
    assert holder["number"] in html
    assert_nothing_about_the_person(html)


def test_a_file_with_one_byte_changed_is_not_found(app, client, holder):
    data = bytearray(stored_pdf(app, holder["id"]))
    middle = len(data) // 2
    data[middle] = (data[middle] + 1) % 256
    response = upload(client, bytes(data))
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "No certificate found" in html and "This file was not issued by this platform" in html
    assert holder["number"] not in html


def test_a_file_that_is_not_a_pdf_is_refused(app, client, holder):
    response = upload(client, b"GIF89a not a certificate", surname="Pritchard", filename="x.pdf")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="certificate-error">That file is not a PDF.' in html
    assert 'id="file-surname" name="surname" value="Pritchard"' in html  # kept
    empty = upload(client, b"")
    assert empty.status_code == 422
    assert 'id="certificate-error">Choose the certificate' in empty.get_data(as_text=True)


def test_upload_shows_the_name_under_the_same_rule(app, client, holder):
    data = stored_pdf(app, holder["id"])
    assert NAME not in upload(client, data).get_data(as_text=True)
    assert NAME not in upload(client, data, surname="Jones").get_data(as_text=True)
    named = upload(client, data, surname="pritchard").get_data(as_text=True)
    assert NAME in named and "The surname you typed matches this certificate." in named
    make_public(app, EMAIL, True)
    assert NAME in upload(client, data).get_data(as_text=True)


# Rate limits and logs ----------------------------------------------------------------------


def test_default_limit_on_lookups(app):
    assert defaults(Path(app.instance_path))["LMS_VERIFY_LIMIT"] == "30 per minute;300 per hour"
    configured = os.environ.get("LMS_VERIFY_LIMIT") or "30 per minute;300 per hour"
    assert app.config["LMS_VERIFY_LIMIT"] == configured


def test_lookups_are_limited_per_address(app, make, app_with):
    uid = make("trainee", email="t@example.org", name="Aled Price")
    _id, number, token = grant(app, uid, "link-member")
    limited = app_with(LMS_VERIFY_LIMIT="3 per minute")
    guesser = limited.test_client()
    here = {"REMOTE_ADDR": "203.0.113.9"}
    # Guessing different tokens counts the same as looking up a real one.
    assert guesser.get(f"/verify/{token}", environ_base=here).status_code == 200
    assert guesser.get(f"/verify/{'x' * 43}", environ_base=here).status_code == 404
    assert guesser.get(f"/verify/{'y' * 43}", environ_base=here).status_code == 404
    refused = guesser.get(f"/verify/{token}", environ_base=here)
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert "Genuine" not in refused.get_data(as_text=True)
    assert "Retry-After" in refused.headers
    assert_security_headers(refused)
    elsewhere = {"REMOTE_ADDR": "203.0.113.10"}
    assert guesser.get(f"/verify/{token}", environ_base=elsewhere).status_code == 200

    # The number form and the API are limited the same way.
    api = limited.test_client()
    for _ in range(3):
        assert api.get(f"/api/v1/certificates/{token}", environ_base=here).status_code == 200
    assert api.get(f"/api/v1/certificates/{token}", environ_base=here).status_code == 429
    assert api.get(f"/api/v1/certificates/{token}", environ_base=elsewhere).status_code == 200

    form = limited.test_client()
    page = form.get("/verify", environ_base={"REMOTE_ADDR": "198.51.100.1"})
    csrf = csrf_from(page.get_data(as_text=True))
    codes = [
        form.post(
            "/verify",
            data={"csrf_token": csrf, "number": number, "surname": "Price"},
            environ_base={"REMOTE_ADDR": "198.51.100.2"},
        ).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]


def test_failed_lookups_are_logged_without_the_code(app, client, holder, caplog):
    caplog.set_level(logging.DEBUG)
    bad_token = "Zq" * 22
    bad_number = "MIP-R99-ZZZZ-ZZZZ"
    surname = "Vaughan-Thomas"
    data = bytearray(stored_pdf(app, holder["id"]))
    data[-10] ^= 0xFF
    seen: list[logging.LogRecord] = []

    def failure_logged(what: str) -> None:
        ours = [r for r in caplog.records if r.name == "lms.accreditation.verify"]
        assert ours, f"nothing logged for a failed lookup {what}"
        seen.extend(caplog.records)
        caplog.clear()

    assert client.get(f"/verify/{bad_token}").status_code == 404
    failure_logged("by link")
    assert check_number(client, bad_number, surname).status_code == 404
    failure_logged("by number")
    assert check_number(client, holder["number"], surname).status_code == 404
    failure_logged("by number with the wrong surname")
    assert upload(client, bytes(data), surname=surname).status_code == 404
    failure_logged("by file")
    assert client.get(f"/api/v1/certificates/{bad_token}").status_code == 404
    failure_logged("by API")
    # Successful lookups, too, leave no code or name behind.
    assert client.get(f"/verify/{holder['token']}").status_code == 200
    assert check_surname(client, holder["token"], "Pritchard").status_code == 200
    assert check_number(client, holder["number"], "Pritchard").status_code == 200
    assert upload(client, stored_pdf(app, holder["id"]), surname="Pritchard").status_code == 200
    seen.extend(caplog.records)

    never = (bad_token, bad_number, surname, holder["token"], holder["number"], "Pritchard", "Siân")
    for record in seen:
        text = f"{record.getMessage()} {record.args!r} {record.__dict__!r}".lower()
        for secret in never:
            assert secret.lower() not in text, (secret, record.getMessage())


# Codes -------------------------------------------------------------------------------------

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43,}$")
NUMBER_RE = re.compile(r"^MIP-[A-Z]\d\d-[0-9A-Z]{4}-[0-9A-Z]{4}$")


def test_tokens_are_long_and_unguessable_and_numbers_readable(app, plain_certificates):
    with plain_certificates.app_context():
        courses = plain_certificates.extensions["lms.courses"]
        home = region("London")
        for n in range(50):
            person = accounts.create_user(
                f"holder{n}@example.org", f"Holder Number{n}", ["trainee"], home, send_link=False
            ).user
            services.grant_prior(person, courses.get("rep" if n % 2 else "link-member"), "Pilot")
        db.session.commit()
        certificates = db.session.scalars(select(Certificate)).all()
        assert db.session.scalar(select(CertificateFile.id).limit(1)) is not None
        tokens = [c.token for c in certificates]
        numbers = [c.number for c in certificates]
        year = f"{certificates[0].issued_at:%y}"
    assert len(tokens) == 50
    assert len(set(tokens)) == 50 and len(set(numbers)) == 50
    for token in tokens:
        assert TOKEN_RE.match(token), token
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) >= 32  # 256 bits from secrets.token_urlsafe(32)
    for number in numbers:
        assert NUMBER_RE.match(number), number
        assert number[4] in {"R", "L"} and number[5:7] == year
        # Read out and typed by people: no I, L, O or U in the random part.
        assert not set(number[8:]) & set("ILOU"), number


# The JSON API and its OpenAPI document -------------------------------------------------------


def openapi_document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def assert_matches_document(document: dict, path: str, response) -> None:
    """Check an API response against the schema the OpenAPI document gives for it."""
    operation = document["paths"][path]["get"]
    described = operation["responses"][str(response.status_code)]
    assert response.mimetype in described["content"], response.mimetype
    pointer = "/".join(
        ["", "paths", path.replace("~", "~0").replace("/", "~1"), "get", "responses"]
        + [str(response.status_code), "content", response.mimetype.replace("/", "~1"), "schema"]
    )
    registry = Registry().with_resource(
        "urn:lms:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    validator = jsonschema.Draft202012Validator(
        {"$ref": "urn:lms:openapi#" + quote(pointer)},
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    validator.validate(response.get_json())


def test_openapi_document_is_valid_openapi_3_1(app, client):
    document = openapi_document(client)
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)
    assert TOKEN_PATH in document["paths"]
    assert document["servers"][0]["url"].startswith("http")
    # The validator is not a formality: a broken document is refused.
    broken = {**document, "paths": {TOKEN_PATH: {"get": {"responses": {"200": {}}}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken, cls=OpenAPIV31SpecValidator)
    # And the response schemas really constrain: a made-up answer does not pass.
    schemas = document["components"]["schemas"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schemas["Certificate"]).validate({"status": "maybe"})


def test_api_gives_the_same_facts_as_the_page(app, client, holder, make):
    document = openapi_document(client)
    token = holder["token"]
    response = client.get(f"/api/v1/certificates/{token}")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "no-store" in response.headers["Cache-Control"]
    body = response.get_json()
    with app.app_context():
        certificate = db.session.get(Certificate, holder["id"])
        assert body == verify.facts(certificate, show_name=False)
        issued = certificate.issued_at
    assert set(body) == {
        "status",
        "number",
        "accreditation",
        "course",
        "issued_on",
        "expires_on",
        "revoked_on",
        "withdrawn_on",
        "holder",
    }
    assert body["status"] == "valid" and body["number"] == holder["number"]
    assert body["withdrawn_on"] is None
    assert body["accreditation"] == "Accredited MiP Representative"
    assert body["course"] == {"title": "MiP rep course", "version": "2027.1"}
    assert body["issued_on"] == issued.date().isoformat()
    assert body["expires_on"] and body["revoked_on"] is None and body["holder"] is None
    assert_nothing_about_the_person(response.get_data(as_text=True))
    assert_matches_document(document, TOKEN_PATH, response)
    # What the page says about the same certificate.
    page = client.get(f"/verify/{token}").get_data(as_text=True)
    for fact in (body["number"], body["accreditation"], body["course"]["title"]):
        assert fact in page
    assert f"version {body['course']['version']}" in page and "Genuine and valid" in page

    # The holder allows their name: the API says it too, and nothing more.
    make_public(app, EMAIL, True)
    public = client.get(f"/api/v1/certificates/{token}")
    assert public.get_json()["holder"] == {"name": NAME}
    assert_matches_document(document, TOKEN_PATH, public)

    # Revoked and expired certificates are described, not hidden.
    admin = make("admin", email="office@example.org", region_name=None)
    with app.app_context():
        certificate = db.session.get(Certificate, holder["id"])
        services.revoke(certificate, db.session.get(User, admin), "Left the union")
        db.session.commit()
        revoked_facts = verify.facts(certificate, show_name=True)
    revoked = client.get(f"/api/v1/certificates/{token}")
    assert revoked.status_code == 200 and revoked.get_json() == revoked_facts
    assert revoked_facts["status"] == "revoked" and revoked_facts["revoked_on"]
    assert "Left the union" not in revoked.get_data(as_text=True)
    assert_matches_document(document, TOKEN_PATH, revoked)

    other = make("trainee", email="lm@example.org", name="Ffion Bevan")
    other_id, _number, other_token = grant(app, other, "link-member")
    set_certificate(app, other_id, expires_at=utcnow() - timedelta(days=400))
    expired = client.get(f"/api/v1/certificates/{other_token}")
    assert expired.get_json()["status"] == "expired" and expired.get_json()["holder"] is None
    assert_matches_document(document, TOKEN_PATH, expired)


def test_api_unknown_token_is_not_found_json(app, client, holder):
    document = openapi_document(client)
    for token in ("x" * 43, holder["token"][:-1], "a" * 101):
        response = client.get(f"/api/v1/certificates/{token}")
        assert response.status_code == 404
        assert response.mimetype == "application/json"
        assert response.get_json() == {"status": "not_found"}
        assert_matches_document(document, TOKEN_PATH, response)


# Open to everyone, with the usual headers ----------------------------------------------------


def test_verification_works_without_logging_in_and_sends_security_headers(app, client, holder):
    data = stored_pdf(app, holder["id"])
    responses = {
        "index": client.get("/verify"),
        "by link": client.get(f"/verify/{holder['token']}"),
        "surname": check_surname(client, holder["token"], "Pritchard"),
        "not found": client.get(f"/verify/{'x' * 43}"),
        "by number": check_number(client, holder["number"], "Pritchard"),
        "wrong number": check_number(client, "MIP-R00-0000-0000", "Pritchard"),
        "empty form": check_number(client, "", ""),
        "by file": upload(client, data),
        "not a pdf": upload(client, b"plain text"),
        "api": client.get(f"/api/v1/certificates/{holder['token']}"),
        "api not found": client.get(f"/api/v1/certificates/{'x' * 43}"),
        "openapi": client.get("/api/v1/openapi.json"),
    }
    expected = {
        "not found": 404,
        "wrong number": 404,
        "empty form": 422,
        "not a pdf": 422,
        "api not found": 404,
    }
    for what, response in responses.items():
        assert response.status_code == expected.get(what, 200), what
        assert_security_headers(response)
        assert "/login" not in response.headers.get("Location", ""), what
    assert "Check an MiP training certificate" in responses["index"].get_data(as_text=True)
    # Nothing was needed from a login, and the session keeps nothing of what was looked up.
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    from lms.sessions.models import WebSession
    from lms.sessions.store import store_key

    with app.app_context():
        stored = db.session.get(WebSession, store_key(cookie.value))
        session = app.session_interface.serializer.decode(stored.data)
    assert "_user_id" not in session
    kept = repr(session).lower()
    for private in ("pritchard", holder["token"].lower(), holder["number"].lower()):
        assert private not in kept


def test_typed_numbers_are_forgiving(app, client, holder):
    number = holder["number"]
    sloppy = number.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    page = client.get("/verify").get_data(as_text=True)
    response = client.post(
        "/verify", data={"csrf_token": csrf_from(page), "number": sloppy, "surname": "Pritchard"}
    )
    assert response.status_code == 200
    assert "Genuine and valid" in response.get_data(as_text=True)


def test_the_home_page_offers_checking_a_certificate_beside_logging_in(client):
    html = client.get("/").get_data(as_text=True)
    hero = html.split('<section class="hero">')[1].split("</section>")[0]
    assert 'href="/login">Log in</a>' in hero
    assert 'href="/verify">Check a certificate</a>' in hero
