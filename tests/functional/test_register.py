"""The national officers' register of reps and link members, and the region boundary.

An officer sees and decides for the people of their own region only, whatever id
is typed into an address; administrators see every region.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from html.parser import HTMLParser

import pypdf
import pytest
from sqlalchemy import select

from lms.accounts.models import Region, User
from lms.accreditation import services
from lms.accreditation.models import Accreditation, Certificate
from lms.db import utcnow
from lms.extensions import db
from lms.learning import services as learning
from tests.conftest import csrf_from, get_csrf, login
from tests.functional.accreditation_helpers import write_plain_templates

FORMULA = "=cmd|' /C calc'!A0"
CSV_HEADER = [
    "name",
    "email",
    "region",
    "course",
    "status",
    "since",
    "certificate",
    "issued",
    "expires",
]


# Helpers ---------------------------------------------------------------------------------


def client_for(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def day(app, when) -> str:
    """A date as the site's pages print it."""
    with app.test_request_context():
        return app.jinja_env.filters["date"](when)


def enrol(app, user_id: int, course: str = "rep") -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        learning.create_enrolment(user, app.extensions["lms.courses"].get(course))
        db.session.commit()


def request_accreditation(app, user_id: int, course: str = "rep") -> int:
    """A request waiting for the region's officer, as the completion rules open it."""
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
        db.session.commit()
        return record.id


def issue(app, user_id: int, course: str = "rep") -> tuple[int, str]:
    with app.app_context():
        user = db.session.get(User, user_id)
        spec = app.extensions["lms.courses"].get(course)
        certificate = services.grant_prior(user, spec, "Pilot course, May 2017")
        db.session.commit()
        return certificate.id, certificate.number


def certificate_of(certificate_id: int) -> Certificate:
    return db.session.get(Certificate, certificate_id)


def region_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Region.id).where(Region.name == name))


class TableRows(HTMLParser):
    """The body rows of the register table, each a list of its cells' text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag in {"td", "th"}:
            self._cell = []
        elif self._cell is not None and tag == "br":
            self._cell.append(" / ")

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif self._cell is not None and tag in {"td", "th"}:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table(html: str) -> dict[str, list[str]]:
    """Register rows keyed by the person's name: [name / email, course, status, since, ...]."""
    parser = TableRows()
    parser.feed(html)
    rows = [r for r in parser.rows if len(r) > 1]
    return {row[0].split(" / ")[0]: row for row in rows}


def names(html: str) -> set[str]:
    return set(table(html))


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # so spreadsheets read it as UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


# Two regions' worth of people ------------------------------------------------------------


@pytest.fixture()
def plain_certificates(app_with, tmp_path):
    """An app on the same database whose certificate templates are one line each.

    Issuing still goes through the real services and WeasyPrint; only the page is
    simpler, so that setting up many certificates stays quick.
    """
    write_plain_templates(
        tmp_path / "plain-certificates", "<p>{{ number }}</p><p>{{ officer }}</p>"
    )
    return app_with(LMS_CERTIFICATES_DIR=str(tmp_path / "plain-certificates"))


NORTH_EAST = {
    "training": "Aled Hughes",
    "awaiting": "Bethan Jones",
    "accredited": "Carys Evans",
    "revoked": "Dewi Morgan",
    "expired": "Eirlys Price",
    "link member": "Ffion Bevan",
    "formula": FORMULA,
}
LONDON = {"training": "Lola Smith", "awaiting": "Leon Clarke", "accredited": "Lucy Brown"}


@pytest.fixture()
def people(app, make, plain_certificates):
    """Officers for the North East and London, an administrator, and trainees in each state."""
    ids = {
        "ne officer": make(
            "officer",
            email="officer.ne@example.org",
            name="Tomasz Wronski",
            region_name="North East",
        ),
        "london officer": make(
            "officer",
            email="officer.london@example.org",
            name="Grace Adeyemi",
            region_name="London",
        ),
        "admin": make(
            "admin", email="office@example.org", name="Training Office", region_name=None
        ),
    }
    for region_name, who in (("North East", NORTH_EAST), ("London", LONDON)):
        prefix = "ne" if region_name == "North East" else "london"
        for state, name in who.items():
            email = f"{prefix}.{state.replace(' ', '-')}@example.org"
            ids[f"{prefix} {state}"] = make(
                "trainee", email=email, name=name, region_name=region_name
            )
    out: dict[str, int | str] = dict(ids)
    enrol(app, ids["ne training"])
    enrol(app, ids["ne formula"], "link-member")
    enrol(app, ids["london training"])
    out["ne request"] = request_accreditation(app, ids["ne awaiting"])
    out["london request"] = request_accreditation(app, ids["london awaiting"])
    for key, course in (
        ("ne accredited", "rep"),
        ("ne revoked", "rep"),
        ("ne expired", "rep"),
        ("ne link member", "link-member"),
        ("london accredited", "rep"),
    ):
        out[f"{key} certificate"], out[f"{key} number"] = issue(
            plain_certificates, ids[key], course
        )
    with app.app_context():
        services.revoke(
            certificate_of(out["ne revoked certificate"]),
            db.session.get(User, ids["ne officer"]),
            "Left the union",
        )
        certificate_of(out["ne expired certificate"]).expires_at = utcnow() - timedelta(days=30)
        db.session.commit()
    return out


# The register ----------------------------------------------------------------------------


def test_officer_sees_their_region_with_statuses_dates_and_numbers(app, people):
    officer = client_for(app, "officer.ne@example.org")
    response = officer.get("/register")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    rows = table(html)
    assert set(rows) == set(NORTH_EAST.values())
    for name in LONDON.values():
        assert name not in html
    assert "Grace Adeyemi" not in html and "London" not in html
    assert "Showing all 7 entries" in html

    with app.app_context():
        requested_at = db.session.get(Accreditation, people["ne request"]).requested_at
        enrolled_at = learning.get_enrolment(
            db.session.get(User, people["ne training"]), app.extensions["lms.courses"].get("rep")
        ).enrolled_at
        accredited = certificate_of(people["ne accredited certificate"])
        revoked = certificate_of(people["ne revoked certificate"])
        expired = certificate_of(people["ne expired certificate"])
        link = certificate_of(people["ne link member certificate"])
        dates = {
            "accredited": (accredited.issued_at, accredited.expires_at),
            "revoked": (revoked.revoked_at, revoked.expires_at),
            "expired": (expired.expires_at, expired.expires_at),
        }

    # [name / email, course, status, since, certificate, expires]
    assert rows["Aled Hughes"][1:] == [
        "MiP rep course",
        "In training",
        day(app, enrolled_at),
        "",
        "",
    ]
    assert rows["Aled Hughes"][0] == "Aled Hughes / ne.training@example.org"
    assert rows["Bethan Jones"][1:] == [
        "MiP rep course",
        "Awaiting confirmation",
        day(app, requested_at),
        "",
        "",
    ]
    for state, label in (
        ("accredited", "Accredited"),
        ("revoked", "Revoked"),
        ("expired", "Expired"),
    ):
        since, expires = dates[state]
        assert rows[NORTH_EAST[state]][1:] == [
            "MiP rep course",
            label,
            day(app, since),
            people[f"ne {state} number"],
            day(app, expires),
        ], state
    assert rows["Ffion Bevan"][1:] == [
        "MiP link member course",
        "Accredited",
        day(app, link.issued_at),
        people["ne link member number"],
        "",
    ]
    assert rows[FORMULA][2] == "In training"
    # The request waiting for them is listed first and linked.
    assert "1 accreditation to confirm" in html
    assert f'href="/register/requests/{people["ne request"]}"' in html
    assert list(rows)[0] == "Bethan Jones"


SEARCHES = [
    ({"q": "bethan"}, {"Bethan Jones"}),
    ({"q": "JONES"}, {"Bethan Jones"}),
    ({"q": "ne.expired@"}, {"Eirlys Price"}),  # email too
    ({"q": "Lola"}, set()),  # another region's trainee is not found
    ({"status": "training"}, {"Aled Hughes", FORMULA}),
    ({"status": "awaiting"}, {"Bethan Jones"}),
    ({"status": "accredited"}, {"Carys Evans", "Ffion Bevan"}),
    ({"status": "revoked"}, {"Dewi Morgan"}),
    ({"status": "expired"}, {"Eirlys Price"}),
    ({"status": "no-such-status"}, set(NORTH_EAST.values())),
    ({"course": "link-member"}, {"Ffion Bevan", FORMULA}),
    ({"course": "rep", "status": "accredited"}, {"Carys Evans"}),
    ({"q": "e", "status": "revoked", "course": "rep"}, {"Dewi Morgan"}),
]


def test_search_by_name_and_filter_by_status_and_course(app, people):
    officer = client_for(app, "officer.ne@example.org")
    for query, expected in SEARCHES:
        html = officer.get("/register", query_string=query).get_data(as_text=True)
        assert names(html) == expected, query
        if not expected:
            assert "No one matches." in html, query
        rows = read_csv(officer.get("/register.csv", query_string=query))
        assert {row[0].lstrip("'") for row in rows[1:]} == expected, query
    # The filters are kept in the form and in the CSV link.
    html = officer.get("/register", query_string={"q": "jones", "status": "awaiting"}).get_data(
        as_text=True
    )
    assert 'name="q" value="jones"' in html
    assert '<option value="awaiting" selected>' in html
    assert "/register.csv?q=jones&amp;status=awaiting" in html


def test_csv_has_the_same_rows_and_is_safe_in_a_spreadsheet(app, people):
    officer = client_for(app, "officer.ne@example.org")
    page = table(officer.get("/register").get_data(as_text=True))
    rows = read_csv(officer.get("/register.csv"))
    assert rows[0] == CSV_HEADER
    body = rows[1:]
    assert len(body) == len(page) == 7
    by_name = {row[0]: row for row in body}
    # The formula is text in a spreadsheet: prefixed with a quote, otherwise intact.
    assert f"'{FORMULA}" in by_name and FORMULA not in by_name
    for row in body:
        assert not row[0].startswith(("=", "+", "-", "@")), row
        name = row[0].removeprefix("'")
        shown = page[name]
        assert row[3] == shown[1] and row[4] == shown[2], name  # course and status
        assert row[6] == shown[4], name  # certificate number
        assert row[2] == "North East"
        assert row[1] == shown[0].split(" / ")[1]  # email
    with app.app_context():
        carys = certificate_of(people["ne accredited certificate"])
        assert by_name["Carys Evans"][5:] == [
            carys.issued_at.date().isoformat(),
            carys.number,
            carys.issued_at.date().isoformat(),
            carys.expires_at.date().isoformat(),
        ]
    assert by_name["Aled Hughes"][6:] == ["", "", ""]


def test_administrator_sees_every_region_and_can_filter_by_region(app, people):
    office = client_for(app, "office@example.org")
    html = office.get("/register").get_data(as_text=True)
    assert names(html) == set(NORTH_EAST.values()) | set(LONDON.values())
    assert "All regions." in html
    rows = table(html)
    assert rows["Lucy Brown"][-1] == "London" and rows["Carys Evans"][-1] == "North East"
    assert "2 accreditations to confirm" in html
    london = region_id(app, "London")
    only_london = office.get("/register", query_string={"region": london}).get_data(as_text=True)
    assert names(only_london) == set(LONDON.values())
    assert f'<option value="{london}" selected>London</option>' in only_london
    csv_rows = read_csv(office.get("/register.csv", query_string={"region": london}))
    assert {row[0] for row in csv_rows[1:]} == set(LONDON.values())
    assert {row[2] for row in csv_rows[1:]} == {"London"}
    everyone = read_csv(office.get("/register.csv"))
    assert {row[2] for row in everyone[1:]} == {"North East", "London"}


def test_officer_cannot_widen_the_register_to_another_region(app, people):
    officer = client_for(app, "officer.ne@example.org")
    london = region_id(app, "London")
    html = officer.get("/register", query_string={"region": london}).get_data(as_text=True)
    assert names(html) == set(NORTH_EAST.values())
    rows = read_csv(officer.get("/register.csv", query_string={"region": london, "q": "l"}))
    assert not {row[0] for row in rows[1:]} & set(LONDON.values())
    assert {row[2] for row in rows[1:]} == {"North East"}


# The region boundary, trying ids in addresses ---------------------------------------------------


def test_officer_cannot_decide_another_regions_request(app, people):
    officer = client_for(app, "officer.ne@example.org")
    token = get_csrf(officer, "/register")
    url = f"/register/requests/{people['london request']}"
    assert officer.get(url).status_code == 403
    for decision in ("confirm", "decline"):
        response = officer.post(
            url, data={"csrf_token": token, "decision": decision, "note": "Not mine to decide"}
        )
        assert response.status_code == 403, decision
    with app.app_context():
        record = db.session.get(Accreditation, people["london request"])
        assert record.status == "pending" and record.decided_by_id is None
        assert record.certificate is None
    # Their own region's request opens.
    assert officer.get(f"/register/requests/{people['ne request']}").status_code == 200
    assert officer.get("/register/requests/999999").status_code == 404


def test_officer_cannot_open_or_revoke_another_regions_certificate(app, people):
    officer = client_for(app, "officer.ne@example.org")
    token = get_csrf(officer, "/register")
    cert_id = people["london accredited certificate"]
    assert officer.get(f"/register/certificates/{cert_id}").status_code == 403
    response = officer.post(
        f"/register/certificates/{cert_id}/revoke",
        data={"csrf_token": token, "reason": "Trying another region"},
    )
    assert response.status_code == 403
    with app.app_context():
        certificate = certificate_of(cert_id)
        assert certificate.revoked_at is None and services.status(certificate) == "valid"
    pdf = officer.get(f"/certificates/{people['london accredited number']}.pdf")
    assert pdf.status_code in {403, 404} and pdf.mimetype != "application/pdf"
    # Their own region's certificate: the page and the PDF.
    own = people["ne accredited certificate"]
    assert officer.get(f"/register/certificates/{own}").status_code == 200
    own_pdf = officer.get(f"/certificates/{people['ne accredited number']}.pdf")
    assert own_pdf.status_code == 200 and own_pdf.mimetype == "application/pdf"


def test_trainee_cannot_see_others_certificates_or_the_register(app, people):
    trainee = client_for(app, "ne.accredited@example.org")
    own = trainee.get(f"/certificates/{people['ne accredited number']}.pdf")
    assert own.status_code == 200 and own.data.startswith(b"%PDF")
    for number in (people["london accredited number"], people["ne link member number"]):
        response = trainee.get(f"/certificates/{number}.pdf")
        assert response.status_code == 404, number
        assert not response.data.startswith(b"%PDF")
    token = get_csrf(trainee, "/certificates")
    refused = {
        "register": trainee.get("/register"),
        "csv": trainee.get("/register.csv"),
        "request": trainee.get(f"/register/requests/{people['ne request']}"),
        "confirm": trainee.post(
            f"/register/requests/{people['ne request']}",
            data={"csrf_token": token, "decision": "confirm"},
        ),
        "certificate": trainee.get(f"/register/certificates/{people['ne accredited certificate']}"),
        "revoke": trainee.post(
            f"/register/certificates/{people['ne accredited certificate']}/revoke",
            data={"csrf_token": token, "reason": "mine"},
        ),
    }
    for what, response in refused.items():
        assert response.status_code == 403, what
    with app.app_context():
        assert db.session.get(Accreditation, people["ne request"]).status == "pending"
        assert certificate_of(people["ne accredited certificate"]).revoked_at is None


def test_london_officer_can_do_all_of_it_for_london(app, people):
    officer = client_for(app, "officer.london@example.org")
    html = officer.get("/register").get_data(as_text=True)
    assert names(html) == set(LONDON.values())
    cert_id = people["london accredited certificate"]
    page = officer.get(f"/register/certificates/{cert_id}")
    assert page.status_code == 200 and "Lucy Brown" in page.get_data(as_text=True)
    pdf = officer.get(f"/certificates/{people['london accredited number']}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    revoked = officer.post(
        f"/register/certificates/{cert_id}/revoke",
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "reason": "Left the union"},
    )
    assert revoked.status_code == 302
    url = f"/register/requests/{people['london request']}"
    evidence = officer.get(url)
    assert evidence.status_code == 200 and "Leon Clarke" in evidence.get_data(as_text=True)
    confirmed = officer.post(
        url,
        data={"csrf_token": csrf_from(evidence.get_data(as_text=True)), "decision": "confirm"},
    )
    assert confirmed.status_code == 302
    with app.app_context():
        assert certificate_of(cert_id).revoked_by_id == people["london officer"]
        record = db.session.get(Accreditation, people["london request"])
        assert record.status == "accredited" and record.certificate is not None
        assert record.certificate.officer_name == "Grace Adeyemi"
    # And none of it for the North East.
    token = get_csrf(officer, "/register")
    assert officer.get(f"/register/requests/{people['ne request']}").status_code == 403
    assert (
        officer.post(
            f"/register/requests/{people['ne request']}",
            data={"csrf_token": token, "decision": "confirm"},
        ).status_code
        == 403
    )
    ne_cert = people["ne accredited certificate"]
    assert officer.get(f"/register/certificates/{ne_cert}").status_code == 403
    assert (
        officer.post(
            f"/register/certificates/{ne_cert}/revoke",
            data={"csrf_token": token, "reason": "x"},
        ).status_code
        == 403
    )
    assert officer.get(f"/certificates/{people['ne accredited number']}.pdf").status_code in {
        403,
        404,
    }
    with app.app_context():
        assert db.session.get(Accreditation, people["ne request"]).status == "pending"
        assert certificate_of(ne_cert).revoked_at is None


# Deciding through the web page --------------------------------------------------------------


def test_confirming_prints_the_officers_name_on_the_certificate(app, make):
    make("officer", email="officer@example.org", name="Tomasz Wronski", region_name="North East")
    uid = make("trainee", email="bethan@example.org", name="Bethan Jones", region_name="North East")
    record_id = request_accreditation(app, uid)
    officer = client_for(app, "officer@example.org")
    url = f"/register/requests/{record_id}"
    evidence = officer.get(url).get_data(as_text=True)
    assert "Awaiting your confirmation" in evidence
    response = officer.post(
        url, data={"csrf_token": csrf_from(evidence), "decision": "confirm", "note": "Well done."}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/register")
    with app.app_context():
        certificate = db.session.scalar(select(Certificate))
        number = certificate.number
        assert certificate.officer_name == "Tomasz Wronski"
        assert certificate.accreditation.decided_by.name == "Tomasz Wronski"
    register = officer.get("/register").get_data(as_text=True)
    assert f"Accreditation confirmed. Certificate {number} issued." in register
    assert table(register)["Bethan Jones"][2] == "Accredited"

    trainee = client_for(app, "bethan@example.org")
    pdf = trainee.get(f"/certificates/{number}.pdf")
    assert pdf.status_code == 200
    text = pypdf.PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "Tomasz Wronski" in text and "Bethan Jones" in text and number in text
    assert "Confirmed by" in " ".join(text.split())
    assert officer.get(f"/certificates/{number}.pdf").data == pdf.data


def test_declining_needs_a_note_the_trainee_then_reads(app, make):
    make("officer", email="officer@example.org", name="Tomasz Wronski", region_name="North East")
    uid = make("trainee", email="bethan@example.org", name="Bethan Jones", region_name="North East")
    enrol(app, uid)
    record_id = request_accreditation(app, uid)
    officer = client_for(app, "officer@example.org")
    url = f"/register/requests/{record_id}"
    token = csrf_from(officer.get(url).get_data(as_text=True))
    for note in ("", "   \n  "):
        refused = officer.post(url, data={"csrf_token": token, "decision": "decline", "note": note})
        assert refused.status_code == 422
        assert "Tell the trainee why, and what to do next." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Accreditation, record_id).status == "pending"
    note = "Please redo the unfair dismissal case study & send it again."
    declined = officer.post(url, data={"csrf_token": token, "decision": "decline", "note": note})
    assert declined.status_code == 302
    with app.app_context():
        record = db.session.get(Accreditation, record_id)
        assert record.status == "declined" and record.decision_note == note
        assert record.certificate is None
    assert any(to == "bethan@example.org" for to, _s, _b in app.extensions["lms.outbox"])
    trainee = client_for(app, "bethan@example.org")
    mine = trainee.get("/certificates").get_data(as_text=True)
    assert "Your national officer has not confirmed your accreditation yet." in mine
    assert "Please redo the unfair dismissal case study &amp; send it again." in mine
    # The register shows them back in training, with the note.
    row = table(officer.get("/register").get_data(as_text=True))["Bethan Jones"]
    assert row[2] == f"In training / Declined: {note}"
