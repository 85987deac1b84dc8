"""Hostile input through the real forms: stored markup is shown as text on every page that
shows it, CSV exports never start a cell with a formula, uploads to /verify that are not a
certificate get a clear answer, and over-long or odd Unicode never breaks a page.

ASVS 4.0.3 V5.1 (input validation), V5.3.3 (output encoding), V5.3.1 / V14.4 (CSV
injection), V12.1 (file upload): see docs/security.md.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from markupsafe import escape
from sqlalchemy import select
from werkzeug.test import EnvironBuilder

from lms.accounts import services as accounts
from lms.accreditation.models import Accreditation, Certificate
from lms.extensions import db
from lms.learning.models import Attempt
from lms.runs.models import CourseRun
from tests.conftest import PASSWORD, csrf_from, get_csrf, login, region
from tests.functional.run_helpers import complete_course

CASE_URL = "/learn/rep/representing-members-case"
FEEDBACK_URL = "/learn/rep/feedback-day-1"


def xss(tag: str) -> str:
    """A payload that would run script if put into a page unescaped, marked with ``tag``."""
    return f'<script>alert("{tag}")</script>"><img src=x onerror=alert("{tag}")>'


def client_for(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def post_form(client, url, data, page_url=None):
    return client.post(url, data={"csrf_token": get_csrf(client, page_url or url), **data})


def region_id(app, name="North East") -> str:
    with app.app_context():
        return str(region(name).id)


def new_account(app, admin, name, email, roles=("trainee",)):
    """An account made on the administrator's page, then given a password."""
    response = post_form(
        admin,
        "/admin/users/new",
        {"name": name, "email": email, "roles": list(roles), "region": region_id(app)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        user = accounts.find_by_email(email)
        accounts.set_password(user, PASSWORD)
        db.session.commit()
        return user.id


def long_answer(extra: str) -> str:
    base = (
        "I would meet the member privately, listen to what they want, check the letter and "
        "the policy, and ask HR in writing for a date and a review of the suspension. "
    )
    return base * 12 + extra


def assert_shown_as_text(html: str, payload: str, where: str, *, shown: bool = True) -> None:
    """The payload never appears as markup; when ``shown``, its escaped form is on the page."""
    assert payload not in html, f"raw markup on {where}"
    assert "<script>alert(" not in html, f"script tag on {where}"
    assert "<img src=x onerror" not in html, f"img tag on {where}"
    if shown:
        assert str(escape(payload)) in html, f"payload missing (escaped) on {where}"


def pages_seen_by(client, urls, payload, shown=True):
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_shown_as_text(response.get_data(as_text=True), payload, url, shown=shown)


def make_run_on_the_form(app, admin, fac_id, title, venue):
    start = date.today() + timedelta(days=30)
    response = post_form(
        admin,
        "/admin/runs/new",
        {
            "course_slug": "rep",
            "title": title,
            "days-0": start.isoformat(),
            "days-1": (start + timedelta(days=1)).isoformat(),
            "venue": venue,
            "capacity": "12",
            "is_open": "y",
            "facilitator_ids": str(fac_id),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        return db.session.scalar(select(CourseRun.id).where(CourseRun.title == title))


def feedback_answers(improve: str, best: str = "Role play") -> dict:
    return {
        "f-overall": "4",
        "f-case-studies": "5",
        "f-confidence": "3",
        "f-pace": "About right",
        "f-best": best,
        "f-improve": improve,
    }


def send_feedback(client, data):
    page = client.get(FEEDBACK_URL).get_data(as_text=True)
    return client.post(FEEDBACK_URL, data={"csrf_token": csrf_from(page), **data})


# Stored XSS ------------------------------------------------------------------------------


def test_stored_markup_is_shown_as_text_on_every_page(app, make):
    """Every free-text field, typed into its real form, read back on every page showing it."""
    make("admin", email="office@example.org", name="Office Person")
    admin = client_for(app, "office@example.org")
    fac_name, trainee_name = xss("facilitator-name"), xss("trainee-name")
    fac_id = new_account(app, admin, fac_name, "fac@example.org", ("facilitator",))
    officer_name = xss("officer-name")
    new_account(app, admin, officer_name, "officer@example.org", ("officer",))
    title, venue = xss("run-title"), xss("run-venue")
    run_id = make_run_on_the_form(app, admin, fac_id, title, venue)

    # Six trainees: the first with a hostile name, all on the run.
    trainees = []
    for i in range(6):
        email = f"t{i}@example.org"
        uid = new_account(app, admin, trainee_name if i == 0 else f"Trainee Person{i}", email)
        complete_course(app, uid)
        client = client_for(app, email)
        signed = client.post(
            f"/runs/{run_id}/sign-up", data={"csrf_token": get_csrf(client, "/courses/rep")}
        )
        assert signed.status_code == 302
        trainees.append((uid, client))
    trainee_id, trainee = trainees[0]

    # Names and the run, as staff and the trainee see them.
    pages_seen_by(admin, ["/admin/users", f"/admin/users/{trainee_id}"], trainee_name)
    pages_seen_by(admin, ["/admin/runs", f"/admin/runs/{run_id}"], title)
    pages_seen_by(admin, [f"/admin/runs/{run_id}"], venue)
    pages_seen_by(admin, [f"/admin/runs/{run_id}", "/admin/runs/new"], fac_name)
    fac = client_for(app, "fac@example.org")
    with app.app_context():
        day1, day2 = (d.id for d in db.session.get(CourseRun, run_id).days)
    attendance = f"/facilitate/runs/{run_id}/days/{day1}"
    pages_seen_by(fac, ["/facilitate", f"/facilitate/runs/{run_id}", attendance], title)
    pages_seen_by(fac, [f"/facilitate/runs/{run_id}", attendance], trainee_name)
    pages_seen_by(trainee, ["/courses/rep", "/dashboard"], title)
    pages_seen_by(trainee, ["/courses/rep"], venue)

    # A case-study answer, seen by the facilitator in review and by the trainee.
    answer = long_answer(xss("case-answer"))
    page = trainee.get(CASE_URL).get_data(as_text=True)
    sent = trainee.post(CASE_URL, data={"csrf_token": csrf_from(page), "answer": answer})
    assert sent.status_code == 302
    with app.app_context():
        attempt_id = db.session.scalar(select(Attempt.id))
    review_url = f"/facilitate/reviews/{attempt_id}"
    pages_seen_by(fac, ["/facilitate/reviews"], trainee_name)
    pages_seen_by(fac, [review_url], xss("case-answer"))
    pages_seen_by(fac, [review_url], trainee_name)
    pages_seen_by(trainee, [CASE_URL], xss("case-answer"))

    # A review comment, seen by the trainee.
    review_page = fac.get(review_url).get_data(as_text=True)
    criteria = set(re.findall(r'name="(criterion-[^"]+)"', review_page))
    comment = "Say more about the policy. " + xss("review-comment")
    reviewed = fac.post(
        review_url,
        data={
            "csrf_token": csrf_from(review_page),
            "decision": "needs_work",
            "comments": comment,
            **{c: "not_yet" for c in criteria},
        },
    )
    assert reviewed.status_code == 302
    pages_seen_by(trainee, ["/dashboard", CASE_URL], comment)
    pages_seen_by(fac, [review_url], comment)

    # Feedback comments: six, so the results and comments pages show them (the first
    # five, released together at the fifth; the sixth waits for the next group of five).
    for n, (_uid, client) in enumerate(trainees):
        improve = xss(f"feedback-{n}")
        assert send_feedback(client, feedback_answers(improve)).status_code == 302
    results = [f"/facilitate/runs/{run_id}/feedback", "/facilitate/courses/rep/feedback"]
    comments = [
        f"/facilitate/courses/rep/feedback/feedback-day-1/improve?run={run_id}",
        "/facilitate/courses/rep/feedback/feedback-day-1/improve",
    ]
    for n in range(5):
        pages_seen_by(fac, comments, xss(f"feedback-{n}"))
    pages_seen_by(fac, comments, xss("feedback-5"), shown=False)
    for url in results:  # the first comments (some of the six), never as markup
        html = fac.get(url).get_data(as_text=True)
        assert sum(str(escape(xss(f"feedback-{n}"))) in html for n in range(6)) >= 1
        for n in range(6):
            assert_shown_as_text(html, xss(f"feedback-{n}"), url, shown=False)

    # "You said, we did", seen by the facilitator and later trainees.
    said, did = xss("you-said"), xss("we-did")
    recorded = post_form(
        fac, "/facilitate/courses/rep/changes", {"you_said": said, "we_did": did, "run_id": ""}
    )
    assert recorded.status_code == 302
    for text in (said, did):
        pages_seen_by(fac, ["/facilitate/courses/rep/changes"], text)
        pages_seen_by(trainee, ["/courses/rep"], text)

    # Attendance notes, then an accreditation request and the officer's notes.
    note = xss("attendance-note")
    for day in (day1, day2):
        url = f"/facilitate/runs/{run_id}/days/{day}"
        marked = post_form(
            fac, url, {f"status-{trainee_id}": "present", f"note-{trainee_id}": note}
        )
        assert marked.status_code == 302
    pages_seen_by(fac, [attendance], note)
    from tests.functional.test_accreditation import finish_online

    finish_online(app, trainee_id, "rep")
    with app.app_context():
        record_id = db.session.scalar(
            select(Accreditation.id).where(Accreditation.user_id == trainee_id)
        )
    assert record_id is not None
    officer = client_for(app, "officer@example.org")
    request_url = f"/register/requests/{record_id}"
    pages_seen_by(officer, ["/register", request_url], trainee_name)
    declined_note = xss("decline-note")
    declined = post_form(officer, request_url, {"decision": "decline", "note": declined_note})
    assert declined.status_code == 302
    pages_seen_by(trainee, ["/certificates"], declined_note)
    with app.app_context():
        record = db.session.get(Accreditation, record_id)
        record.status = "pending"  # asked again (as after the trainee redoes the work)
        db.session.commit()
    confirm_note = xss("confirm-note")
    confirmed = post_form(officer, request_url, {"decision": "confirm", "note": confirm_note})
    assert confirmed.status_code == 302
    with app.app_context():
        certificate = db.session.scalar(select(Certificate))
        cert_id, token = certificate.id, certificate.token
        assert certificate.holder_name == trainee_name
        assert certificate.officer_name == officer_name
    pages_seen_by(
        officer,
        ["/register", "/register/certificates", f"/register/certificates/{cert_id}"],
        trainee_name,
    )
    pages_seen_by(trainee, ["/certificates"], trainee_name, shown=False)

    # A revocation reason.
    reason = xss("revoke-reason")
    revoked = post_form(
        admin,
        f"/register/certificates/{cert_id}/revoke",
        {"reason": reason},
        page_url=f"/register/certificates/{cert_id}",
    )
    assert revoked.status_code == 302
    pages_seen_by(admin, [f"/register/certificates/{cert_id}"], reason)
    public = app.test_client()
    pages_seen_by(public, [f"/verify/{token}"], reason, shown=False)
    # The holder's name, once they show it publicly.
    trainee.post(
        "/certificates/privacy",
        data={"csrf_token": get_csrf(trainee, "/certificates"), "is_name_public": "yes"},
    )
    pages_seen_by(public, [f"/verify/{token}"], trainee_name)


@pytest.mark.parametrize(
    ("url", "role"),
    [
        ("/register?q={q}", "officer"),
        ("/register/certificates?q={q}", "officer"),
        ("/admin/users?q={q}", "admin"),
        ("/admin/runs?q={q}", "admin"),
        ("/facilitate?q={q}", "facilitator"),
        ("/facilitate/reviews?q={q}&run_q={q}", "facilitator"),
    ],
)
def test_search_boxes_show_what_was_typed_as_text(app, make, url, role):
    make(role, email="staff@example.org")
    client = client_for(app, "staff@example.org")
    payload = xss("search")
    response = client.get(url.format(q=payload.replace("&", "%26").replace("#", "%23")))
    assert response.status_code == 200
    assert_shown_as_text(response.get_data(as_text=True), payload, url)


# CSV injection ---------------------------------------------------------------------------

FORMULAS = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    " =1+1",
]


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def assert_no_formula(rows: list[list[str]], where: str) -> None:
    for row in rows[1:]:
        for cell in row:
            assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), (where, cell)


def test_every_csv_export_is_known_to_this_test(app):
    """A new CSV route must be added to the formula test below."""
    csv_routes = sorted(r.rule for r in app.url_map.iter_rules() if r.rule.endswith(".csv"))
    assert csv_routes == [
        "/facilitate/courses/<slug>/feedback.csv",
        "/facilitate/runs/<int:run_id>/feedback.csv",
        "/facilitate/runs/<int:run_id>/progress.csv",
        "/register.csv",
    ]


def test_no_csv_export_starts_a_cell_with_a_formula(app, make):
    make("admin", email="office@example.org", name="Office Person")
    admin = client_for(app, "office@example.org")
    fac_id = new_account(app, admin, "=cmd|' /C calc'!A0", "fac@example.org", ("facilitator",))
    run_id = make_run_on_the_form(app, admin, fac_id, "@run title", "+Venue, -Leeds")
    trainees = []
    for i, formula in enumerate(FORMULAS):
        email = f"t{i}@example.org"
        # Names typed with a formula (the form trims spaces, so the tab and CR go inside).
        uid = new_account(app, admin, f"{formula.strip()} Person{i}", email)
        complete_course(app, uid)
        client = client_for(app, email)
        client.post(
            f"/runs/{run_id}/sign-up", data={"csrf_token": get_csrf(client, "/courses/rep")}
        )
        assert send_feedback(client, feedback_answers(formula, best=formula)).status_code == 302
        trainees.append(uid)
    # One on the register, with a certificate.
    from tests.functional.accreditation_helpers import grant

    for uid in trainees[:3]:
        grant(app, uid, "link-member", reason="=IMPORTXML(A1)")

    fac = client_for(app, "fac@example.org")
    exports = {
        "run feedback": (fac, f"/facilitate/runs/{run_id}/feedback.csv"),
        "course feedback": (fac, "/facilitate/courses/rep/feedback.csv"),
        "cohort progress": (fac, f"/facilitate/runs/{run_id}/progress.csv"),
        "register": (admin, "/register.csv"),
    }
    for where, (client, url) in exports.items():
        rows = csv_rows(client.get(url))
        assert len(rows) > 3, where
        assert_no_formula(rows, where)
    feedback_cells = {c for row in csv_rows(fac.get(exports["run feedback"][1])) for c in row}
    for formula in FORMULAS:
        stored = formula.strip()
        assert "'" + stored in feedback_cells, formula
    register = "\n".join(",".join(r) for r in csv_rows(admin.get("/register.csv")))
    assert "'=HYPERLINK" in register and "'@SUM(A1) Person3" in register


# Uploads to /verify ----------------------------------------------------------------------


def upload(client, data: bytes, filename="certificate.pdf", surname="Jones"):
    return client.post(
        "/verify/file",
        data={
            "csrf_token": get_csrf(client, "/verify"),
            "certificate": (io.BytesIO(data), filename),
            "surname": surname,
        },
        content_type="multipart/form-data",
    )


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.mark.parametrize(
    ("data", "filename", "status", "message"),
    [
        (b"", "certificate.pdf", 422, "Choose the certificate"),
        (PNG, "certificate.png", 422, "That file is not a PDF."),
        (PNG, "certificate.pdf", 422, "That file is not a PDF."),
        (bytes(range(256)) * 64, "random.pdf", 422, "That file is not a PDF."),
        (MINIMAL_PDF[:40], "truncated.pdf", 404, "This file was not issued by this platform"),
        (MINIMAL_PDF, "other.pdf", 404, "This file was not issued by this platform"),
        (b"%PDF-", "x.pdf", 404, "This file was not issued by this platform"),
        (MINIMAL_PDF, "../../etc/passwd\x00.pdf", 404, "This file was not issued by this platform"),
    ],
    ids=[
        "empty",
        "png",
        "png-named-pdf",
        "random",
        "truncated",
        "no-certificate",
        "header",
        "name",
    ],
)
def test_uploads_that_are_not_a_certificate_get_a_clear_answer(
    app, client, data, filename, status, message
):
    response = upload(client, data, filename=filename)
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in html
    if status == 422:
        assert 'id="file-surname" name="surname" value="Jones"' in html  # kept


def test_an_oversize_upload_is_refused_with_a_clear_message(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit and limit <= 20 * 1024 * 1024
    builder = EnvironBuilder(
        path="/verify/file",
        method="POST",
        data={
            "csrf_token": get_csrf(client, "/verify"),
            "certificate": (io.BytesIO(b"%PDF-1.4\n" + b"0" * limit), "certificate.pdf"),
        },
    )
    environ = builder.get_environ()
    try:
        response = client.open(environ)
    finally:
        # The app refuses before reading the body; the test's own copy of it is closed here.
        environ["wsgi.input"].close()
        builder.close()
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "too large" in html.lower()
    assert "Traceback" not in html


def test_an_upload_without_the_file_field_or_with_two_files(app, client):
    token = get_csrf(client, "/verify")
    bare = client.post("/verify/file", data={"csrf_token": token})
    assert bare.status_code == 422
    assert "Choose the certificate" in bare.get_data(as_text=True)
    two = client.post(
        "/verify/file",
        data={
            "csrf_token": token,
            "certificate": [(io.BytesIO(PNG), "a.png"), (io.BytesIO(MINIMAL_PDF), "b.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert two.status_code in (404, 422)
    assert "No certificate found" in two.get_data(as_text=True) or "not a PDF" in two.get_data(
        as_text=True
    )


# Over-long and odd Unicode ---------------------------------------------------------------

ODD = {
    "rtl-override": "Ali\u202egnp.exe",
    "zero-width": "Zo\u200de\u200b\u200c\ufeffy",
    "combining": "Ze\u0301\u0301\u0301\u0301phyr Z\u0336a\u0336l\u0336g\u0336o\u0336",
    "astral": "Emoji \U0001f600 and \U0001d573",
    "control": "Bell\x07 and escape\x1b[31m",
}
LONG = "x" * 10_050


@pytest.mark.parametrize("kind", list(ODD))
def test_odd_unicode_in_a_name_never_breaks_a_page(app, make, kind):
    make("admin", email="office@example.org")
    admin = client_for(app, "office@example.org")
    name = ODD[kind]
    response = post_form(
        admin,
        "/admin/users/new",
        {"name": name, "email": "odd@example.org", "roles": ["trainee"], "region": region_id(app)},
    )
    assert response.status_code in (302, 422)
    html = response.get_data(as_text=True)
    if response.status_code == 422:
        # Refused with a message, and the name is kept on the form (less what cannot be shown).
        assert 'class="error-message"' in html or "error" in html.lower()
        assert 'name="email"' in html and "odd@example.org" in html
        return
    with app.app_context():
        user = accounts.find_by_email("odd@example.org")
        stored = user.name
        user_id = user.id
    for url in ("/admin/users", f"/admin/users/{user_id}", "/admin/users?q=" + stored[:3]):
        page = admin.get(url)
        assert page.status_code == 200, url
        assert str(escape(stored)) in page.get_data(as_text=True), url


@pytest.mark.parametrize("kind", [*ODD, "long"])
def test_odd_and_over_long_text_in_search_boxes(app, make, kind):
    text = LONG if kind == "long" else ODD[kind]
    make("admin", "officer", "facilitator", email="office@example.org")
    client = client_for(app, "office@example.org")
    for url in (
        "/register",
        "/register/certificates",
        "/admin/users",
        "/admin/runs",
        "/facilitate",
        "/facilitate/reviews",
    ):
        for arg in ("q", "run_q", "course", "region", "role", "status", "page", "per_page"):
            response = client.get(url, query_string={arg: text})
            assert response.status_code == 200, (url, arg)
    register_csv = client.get("/register.csv", query_string={"q": text, "course": text})
    assert register_csv.status_code == 200
    # A run's roster, its attendance page and its feedback comments.
    from tests.functional.run_helpers import make_run

    with app.app_context():
        staff_id = accounts.find_by_email("office@example.org").id
    run_id = make_run(app, facilitators=[staff_id])
    with app.app_context():
        day_id = db.session.get(CourseRun, run_id).days[0].id
    for url in (
        f"/facilitate/runs/{run_id}",
        f"/facilitate/runs/{run_id}/days/{day_id}",
        f"/admin/runs/{run_id}",
    ):
        for arg in ("q", "page", "per_page"):
            response = client.get(url, query_string={arg: text})
            assert response.status_code == 200, (url, arg)
    comments = "/facilitate/courses/rep/feedback/feedback-day-1/improve"
    for arg in ("run", "page", "per_page"):
        assert client.get(comments, query_string={arg: text}).status_code in (200, 404), arg


def test_over_long_and_odd_run_title_and_venue(app, make):
    make("admin", email="office@example.org")
    fac = make("facilitator", email="fac@example.org")
    admin = client_for(app, "office@example.org")
    start = date.today() + timedelta(days=30)
    base = {
        "course_slug": "rep",
        "days-0": start.isoformat(),
        "capacity": "8",
        "facilitator_ids": str(fac),
    }
    refused = post_form(admin, "/admin/runs/new", {**base, "title": LONG, "venue": "Leeds"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "characters" in html
    assert f'value="{LONG}"' in html  # what was typed is kept
    refused = post_form(admin, "/admin/runs/new", {**base, "title": "Leeds run", "venue": LONG})
    assert refused.status_code == 422
    assert 'value="Leeds run"' in refused.get_data(as_text=True)
    for kind, text in ODD.items():
        title = f"Run {kind} {text}"
        response = post_form(admin, "/admin/runs/new", {**base, "title": title, "venue": text})
        assert response.status_code in (302, 422), kind
        if response.status_code == 302:
            page = admin.get("/admin/runs").get_data(as_text=True)
            assert str(escape(" ".join(title.split()))) in page, kind


def test_over_long_and_odd_names_on_the_account_form(app, make):
    make("admin", email="office@example.org")
    admin = client_for(app, "office@example.org")
    typed = {"name": LONG, "email": "long@example.org", "roles": ["trainee"]}
    refused = post_form(admin, "/admin/users/new", {**typed, "region": region_id(app)})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "200 characters" in html or "characters" in html
    assert LONG in html and "long@example.org" in html
    long_email = "a" * 10_000 + "@example.org"
    refused = post_form(
        admin, "/admin/users/new", {**typed, "name": "Ann", "email": long_email, "region": "1"}
    )
    assert refused.status_code == 422
    assert 'value="Ann"' in refused.get_data(as_text=True)


def test_over_long_and_odd_case_study_answer(app, make):
    from tests.functional.test_case_studies import setup_run

    client, *_ = setup_run(app, make)
    too_long = long_answer("") + "y" * 20_001
    page = client.get(CASE_URL).get_data(as_text=True)
    refused = client.post(CASE_URL, data={"csrf_token": csrf_from(page), "answer": too_long})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "characters" in html
    assert too_long[-200:] in html or "Your draft is saved" in html
    odd = long_answer(" ".join(ODD.values()))
    page = client.get(CASE_URL).get_data(as_text=True)
    response = client.post(CASE_URL, data={"csrf_token": csrf_from(page), "answer": odd})
    assert response.status_code in (302, 422)
    shown = client.get(CASE_URL)
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    assert str(escape(ODD["rtl-override"])) in html and str(escape(ODD["combining"])) in html
    # A draft with odd text is kept too.
    draft = client.post(
        f"{CASE_URL}/draft",
        data={"answer": "draft " + " ".join(ODD.values()) + LONG * 3},
        headers={"X-CSRFToken": csrf_from(html)},
    )
    assert draft.status_code in (200, 413, 422)


def test_over_long_and_odd_feedback_comment(app, make):
    from tests.functional.test_feedback import cohort

    _run_id, (client,) = cohort(app, make, 1)
    refused = send_feedback(client, feedback_answers("z" * 4_001))
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Keep this under 4000 characters." in html
    assert "z" * 4_001 in html  # kept
    odd = " ".join(ODD.values())
    response = send_feedback(client, feedback_answers(odd, best=ODD["rtl-override"]))
    assert response.status_code in (302, 422)
    if response.status_code == 422:
        assert str(escape(ODD["combining"])) in response.get_data(as_text=True)


def test_over_long_and_odd_review_comment_and_notes(app, make):
    from tests.functional.test_case_studies import answer, setup_run

    client, run_id, trainee, fac = setup_run(app, make)
    page = client.get(CASE_URL).get_data(as_text=True)
    client.post(CASE_URL, data={"csrf_token": csrf_from(page), "answer": answer(160)})
    with app.app_context():
        attempt_id = db.session.scalar(select(Attempt.id))
        day1 = db.session.get(CourseRun, run_id).days[0].id
    facilitator = client_for(app, "fac@example.org")
    url = f"/facilitate/reviews/{attempt_id}"
    page = facilitator.get(url).get_data(as_text=True)
    criteria = set(re.findall(r'name="(criterion-[^"]+)"', page))
    data = {"decision": "needs_work", **{c: "not_yet" for c in criteria}}
    refused = facilitator.post(
        url, data={"csrf_token": csrf_from(page), **data, "comments": "w" * 10_001}
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "characters" in html and "w" * 10_001 in html
    odd = " ".join(ODD.values())
    response = facilitator.post(url, data={"csrf_token": csrf_from(page), **data, "comments": odd})
    assert response.status_code in (302, 422)
    assert client.get("/dashboard").status_code == 200
    attendance = f"/facilitate/runs/{run_id}/days/{day1}"
    for note in (odd, LONG * 2):
        marked = post_form(
            facilitator, attendance, {f"status-{trainee}": "excused", f"note-{trainee}": note}
        )
        assert marked.status_code in (302, 422)
        assert facilitator.get(attendance).status_code == 200
        assert facilitator.get(f"/facilitate/runs/{run_id}").status_code == 200


def test_over_long_and_odd_you_said_we_did(app, make):
    from tests.functional.test_feedback import cohort

    cohort(app, make, 1)
    fac = client_for(app, "fac@example.org")
    url = "/facilitate/courses/rep/changes"
    refused = post_form(fac, url, {"you_said": LONG, "we_did": "Shorter days.", "run_id": ""})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "characters" in html and LONG in html and "Shorter days." in html
    odd = " ".join(ODD.values())
    response = post_form(fac, url, {"you_said": odd, "we_did": odd, "run_id": ""})
    assert response.status_code in (302, 422)
    assert fac.get(url).status_code == 200


@pytest.mark.parametrize(
    "field", ["name", "review-comment", "you-said", "attendance-note", "search", "feedback"]
)
def test_nul_is_never_stored_and_never_a_server_error(app, make, backend, field):
    """NUL is removed where forms and queries are parsed (lms.Request): stored nowhere,
    a 500 nowhere (PostgreSQL text cannot hold it), the rest of what was typed kept."""
    text = "Nul\x00Byte"
    if field == "search":
        make("officer", email="officer@example.org")
        client = client_for(app, "officer@example.org")
        assert client.get("/register", query_string={"q": text}).status_code == 200
        return
    if field == "name":
        make("admin", email="office@example.org")
        admin = client_for(app, "office@example.org")
        response = post_form(
            admin,
            "/admin/users/new",
            {
                "name": text,
                "email": "n@example.org",
                "roles": ["trainee"],
                "region": region_id(app),
            },
        )
        assert response.status_code in (302, 400, 422)
    elif field == "you-said":
        from tests.functional.test_feedback import cohort

        cohort(app, make, 1)
        fac = client_for(app, "fac@example.org")
        url = "/facilitate/courses/rep/changes"
        response = post_form(fac, url, {"you_said": text, "we_did": "Shorter days", "run_id": ""})
        assert response.status_code in (302, 400, 422)
    elif field == "feedback":
        from tests.functional.test_feedback import cohort

        _run, (client,) = cohort(app, make, 1)
        assert send_feedback(client, feedback_answers(text)).status_code in (302, 400, 422)
    else:
        from tests.functional.test_case_studies import answer, setup_run

        client, run_id, trainee, _fac = setup_run(app, make)
        page = client.get(CASE_URL).get_data(as_text=True)
        client.post(CASE_URL, data={"csrf_token": csrf_from(page), "answer": answer(160)})
        facilitator = client_for(app, "fac@example.org")
        if field == "attendance-note":
            with app.app_context():
                day1 = db.session.get(CourseRun, run_id).days[0].id
            url = f"/facilitate/runs/{run_id}/days/{day1}"
            data = {f"status-{trainee}": "excused", f"note-{trainee}": text}
            assert post_form(facilitator, url, data).status_code in (302, 400, 422)
        else:
            with app.app_context():
                attempt_id = db.session.scalar(select(Attempt.id))
            url = f"/facilitate/reviews/{attempt_id}"
            page = facilitator.get(url).get_data(as_text=True)
            criteria = set(re.findall(r'name="(criterion-[^"]+)"', page))
            data = {"decision": "needs_work", "comments": text, **{c: "met" for c in criteria}}
            assert post_form(facilitator, url, data).status_code in (302, 400, 422)
    # Whatever was accepted holds no NUL anywhere in the database.
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)).all():
                assert not any(holds_nul(value) for value in row), table.name


def holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(holds_nul(v) for v in value)
    return False


def test_lone_surrogates_and_bad_utf8_never_break_a_form(app, make):
    """A lone surrogate cannot be sent as UTF-8; its bytes (and other invalid UTF-8) arrive
    as replacement characters, never as a server error."""
    make("admin", email="office@example.org")
    admin = client_for(app, "office@example.org")
    token = get_csrf(admin, "/admin/users/new")
    body = (
        b"csrf_token="
        + token.encode()
        + b"&name=Bad%ED%A0%80Surrogate%FF%FE&email=bad%40example.org"
        b"&roles=trainee&region=" + region_id(app).encode()
    )
    response = admin.post(
        "/admin/users/new", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in (302, 422)
    with app.app_context():
        user = accounts.find_by_email("bad@example.org")
        if user is not None:
            assert user.name.startswith("Bad") and "\ud800" not in user.name
    searched = admin.get(b"/admin/users?q=%ED%A0%80%FF".decode("latin-1"))
    assert searched.status_code == 200


def test_over_long_and_odd_accreditation_notes_and_revocation_reason(app, make):
    from tests.functional.accreditation_helpers import grant

    make("officer", email="officer@example.org")
    make("admin", email="office@example.org")
    uid = make("trainee", email="t@example.org")
    with app.app_context():
        # A rep course request waiting for the officer (as the completion rules open it).
        record = Accreditation(
            user_id=uid,
            course_slug="rep",
            course_version=app.extensions["lms.courses"].get("rep").version,
            status="pending",
            region_id=region("North East").id,
        )
        db.session.add(record)
        db.session.commit()
        record_id = record.id
    officer = client_for(app, "officer@example.org")
    url = f"/register/requests/{record_id}"
    odd = " ".join(ODD.values())
    for note in (LONG * 10, odd):
        response = post_form(officer, url, {"decision": "nonsense", "note": note})
        assert response.status_code in (200, 422), response.status_code
        assert str(escape(note)) in response.get_data(as_text=True)  # kept
    declined = post_form(officer, url, {"decision": "decline", "note": odd})
    assert declined.status_code in (302, 422)
    trainee = client_for(app, "t@example.org")
    assert trainee.get("/certificates").status_code == 200
    cert_id, _number, token = grant(app, uid, "link-member")
    admin = client_for(app, "office@example.org")
    page = f"/register/certificates/{cert_id}"
    revoked = post_form(admin, f"{page}/revoke", {"reason": odd + LONG * 10}, page_url=page)
    assert revoked.status_code == 302
    shown = admin.get(page)
    assert shown.status_code == 200
    assert str(escape(odd + LONG * 10)) in shown.get_data(as_text=True)
    assert app.test_client().get(f"/verify/{token}").status_code == 200
