"""Completion rules, officers' confirmation, prior grants and the certificate PDF."""

from __future__ import annotations

import io
import threading
import unicodedata
from datetime import timedelta

import pypdf
import pytest
from sqlalchemy import func, select

from lms.accounts.models import User
from lms.accreditation import services
from lms.accreditation.models import Accreditation, Certificate, CertificateFile
from lms.db import utcnow
from lms.extensions import db
from lms.learning.models import ActivityProgress, Enrolment
from tests.conftest import csrf_from, get_csrf, login
from tests.functional.accreditation_helpers import grant, qr_texts
from tests.functional.run_helpers import complete_course, get_run, make_run


def client_for(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def finish_online(app, user_id, slug):
    """Mark every required activity of a course complete and run the rules."""
    from lms.learning import services as learning

    with app.app_context():
        user = db.session.get(User, user_id)
        course = learning.catalogue().get(slug)
        enrolment = learning.create_enrolment(user, course)
        for activity in course.activities:
            row = learning.lock_progress(enrolment, activity)
            row.is_complete = True
            row.completed_at = utcnow()
        db.session.flush()
        learning.check_completion(enrolment, course)
        db.session.commit()


def test_link_member_certificate_issued_once_its_case_studies_meet_the_standard(app, make):
    from tests.functional.review_helpers import name_reviewer, review_latest, send_case_studies

    uid = make("trainee", email="lm@example.org", name="Ffion Bevan", region_name="Wales")
    reviewer = make("facilitator")
    name_reviewer(app, reviewer)
    finish_online(app, uid, "link-member")
    client = client_for(app, "lm@example.org")
    assert len(send_case_studies(client, app)) == 2
    with app.app_context():
        # Every activity is done, but the course waits for both case studies to meet the
        # standard (completion: review: must_pass).
        assert db.session.scalar(select(Certificate)) is None
    page = client.get("/certificates").get_data(as_text=True)
    assert "0 of 2 case studies reviewed and meeting the standard" in page
    assert review_latest(app, uid, reviewer) == 2
    with app.app_context():
        certificate = db.session.scalar(select(Certificate))
        assert certificate.accreditation_title == "MiP Link Member"
        assert certificate.officer_name is None and certificate.expires_at is None
        assert certificate.region_name == "Wales"
        assert certificate.accreditation.status == "accredited"
    page = client.get("/certificates").get_data(as_text=True)
    assert certificate.number in page
    pdf = client.get(f"/certificates/{certificate.number}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    with app.app_context():
        stored = db.session.scalar(select(CertificateFile))
        assert pdf.data == stored.pdf  # the stored bytes, not a new rendering
        import hashlib

        assert hashlib.sha256(pdf.data).hexdigest() == stored.sha256


def test_rep_needs_attendance_then_officer_confirmation(app, make):
    officer = make(
        "officer", email="officer@example.org", name="Tomasz Wronski", region_name="North East"
    )
    fac = make("facilitator", email="fac@example.org")
    uid = make("trainee", email="rep@example.org", name="Sam Okafor", region_name="North East")
    complete_course(app, uid)
    run_id = make_run(app, facilitators=[fac])
    client = client_for(app, "rep@example.org")
    client.post(f"/runs/{run_id}/sign-up", data={"csrf_token": get_csrf(client, "/courses/rep")})
    finish_online(app, uid, "rep")
    with app.app_context():
        assert db.session.scalar(select(Accreditation)) is None  # attendance missing
    page = client.get("/certificates").get_data(as_text=True)
    assert "Attendance on every day: 0 of 2 days" in page
    # Day 1 present, day 2 excused: the rep course does not count excused absence.
    fac_client = client_for(app, "fac@example.org")
    with app.app_context():
        day1, day2 = (d.id for d in get_run(run_id).days)
    for day, status in ((day1, "present"), (day2, "excused")):
        url = f"/facilitate/runs/{run_id}/days/{day}"
        fac_client.post(
            url, data={"csrf_token": get_csrf(fac_client, url), f"status-{uid}": status}
        )
    with app.app_context():
        assert db.session.scalar(select(Accreditation)) is None
    url = f"/facilitate/runs/{run_id}/days/{day2}"
    fac_client.post(url, data={"csrf_token": get_csrf(fac_client, url), f"status-{uid}": "present"})
    with app.app_context():
        record = db.session.scalar(select(Accreditation))
        assert record.status == "pending" and record.region.name == "North East"
        assert db.session.scalar(select(Certificate)) is None
    outbox = app.extensions["lms.outbox"]
    assert any(
        to == "officer@example.org" and "Accreditation to confirm" in subject
        for to, subject, _b in outbox
    )

    officer_client = client_for(app, "officer@example.org")
    register = officer_client.get("/register").get_data(as_text=True)
    assert "Awaiting confirmation" in register and "Sam Okafor" in register
    evidence = officer_client.get(f"/register/requests/{record.id}").get_data(as_text=True)
    assert "Attendance on every day: 2 of 2 days" in evidence
    assert "Case studies" in evidence
    # Declining needs a note; the note reaches the trainee.
    refused = officer_client.post(
        f"/register/requests/{record.id}",
        data={"csrf_token": csrf_from(evidence), "decision": "decline"},
    )
    assert refused.status_code == 422
    officer_client.post(
        f"/register/requests/{record.id}",
        data={
            "csrf_token": csrf_from(evidence),
            "decision": "decline",
            "note": "Please redo the unfair dismissal case study first.",
        },
    )
    assert "Please redo the unfair dismissal case study first." in client.get(
        "/certificates"
    ).get_data(as_text=True)
    officer_client.post(
        f"/register/requests/{record.id}",
        data={"csrf_token": csrf_from(evidence), "decision": "confirm", "note": "Well done."},
    )
    with app.app_context():
        certificate = db.session.scalar(select(Certificate))
        assert certificate.officer_name == "Tomasz Wronski"
        assert certificate.accreditation_title == "Accredited MiP Representative"
        assert certificate.expires_at.year == certificate.issued_at.year + 3
        assert certificate.accreditation.decided_by_id == officer


def test_pdf_reads_back_and_its_qr_code_verifies_then_shows_revoked(app, make):
    uid = make("trainee", email="t@example.org", name="Aled Price")
    admin = make("admin", email="office@example.org")
    cert_id, number, token = grant(app, uid)
    with app.app_context():
        stored = db.session.scalar(select(CertificateFile))
        data = stored.pdf
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "Aled Price" in text and number in text and "MiP rep course" in text
    assert "Accredited MiP Representative" in text
    # Archival and tagged.
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and "/OutputIntents" in root
    assert root["/MarkInfo"]["/Marked"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert "pdfaid:part" in xmp
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert width > height  # landscape
    assert round(float(width) / 72 * 25.4) == 297 and round(float(height) / 72 * 25.4) == 210

    (url,) = qr_texts(data)
    assert url.endswith(f"/verify/{token}")
    assert len(token) >= 43  # 32 random bytes: 256 bits
    public = app.test_client()
    page = public.get(url.split("//", 1)[1].split("/", 1)[1].join(["/", ""]))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Genuine and valid" in html
    assert "Aled Price" not in html  # not shown without the holder's say-so
    assert 'name="surname"' in html  # the page's own form (a state-free check: no token)
    named = public.post(f"/verify/{token}", data={"surname": "price"})
    assert "Aled Price" in named.get_data(as_text=True)

    office = client_for(app, "office@example.org")
    office.post(
        f"/register/certificates/{cert_id}/revoke",
        data={
            "csrf_token": get_csrf(office, f"/register/certificates/{cert_id}"),
            "reason": "Left the union",
        },
    )
    html = public.get(f"/verify/{token}").get_data(as_text=True)
    assert "Revoked on" in html and "Genuine and valid" not in html
    api = public.get(f"/api/v1/certificates/{token}").get_json()
    assert api["status"] == "revoked" and api["revoked_on"]
    with app.app_context():
        assert db.session.get(Certificate, cert_id).revoked_by_id == admin


@pytest.mark.parametrize(
    "name",
    [
        '<img src=file:///etc/passwd> O\'Brien & "Sons"',
        "Siân Wyn ap Rhys",
        "Łucja Wróblewska-Żelazny",
        "Ελένη Παπαδοπούλου",
        "محمد عبد الله",
        "王小明",
    ],
    ids=["hostile", "welsh", "polish", "greek", "arabic", "chinese"],
)
def test_names_in_any_script_and_hostile_names_print_correctly(app, make, name):
    uid = make("trainee", email="n@example.org", name=name)
    grant(app, uid, "link-member")
    with app.app_context():
        data = db.session.scalar(select(CertificateFile)).pdf
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = unicodedata.normalize("NFKC", reader.pages[0].extract_text())
    if name.startswith("محمد"):
        # Extracted Arabic comes out in visual order; compare the letters.
        assert sorted(name.replace(" ", "")) == sorted(
            ch for ch in text if "\u0600" <= ch <= "\u06ff"
        )[: len(name.replace(" ", ""))] or all(
            word in text or word[::-1] in text for word in name.split()
        )
    else:
        assert name in text
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    # Every glyph came from the fonts bundled in the template folder (their CSS
    # families are called "Cert ..."), none from the machine's own fonts.
    assert fonts and all("Cert-" in f for f in fonts), fonts
    assert "etc/passwd" not in str(reader.trailer) and len(reader.pages) == 1


def test_twenty_simultaneous_grants_give_one_certificate(app, make):
    uid = make("trainee", email="race@example.org", name="Rhys Pugh")
    barrier = threading.Barrier(20)
    errors = []
    numbers = []

    def go():
        try:
            barrier.wait()
            with app.app_context():
                user = db.session.get(User, uid)
                course = app.extensions["lms.courses"].get("link-member")
                certificate = services.grant_prior(user, course, "Pilot")
                db.session.commit()
                numbers.append(certificate.number)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert len(set(numbers)) == 1 and len(numbers) == 20
    with app.app_context():
        assert db.session.scalar(select(func.count(Certificate.id))) == 1
        assert db.session.scalar(select(func.count(Accreditation.id))) == 1
        assert db.session.scalar(select(func.count(CertificateFile.id))) == 1


def test_expiry_shows_on_verification_and_reminders_go_once(app, make):
    make("officer", email="officer@example.org", region_name="North East")
    uid = make("trainee", email="t@example.org", name="Sam Okafor", region_name="North East")
    cert_id, number, token = grant(app, uid)
    with app.app_context():
        certificate = db.session.get(Certificate, cert_id)
        certificate.expires_at = utcnow() + timedelta(days=30)
        db.session.commit()
        sent = services.send_reminders()
        again = services.send_reminders()
        db.session.commit()
        assert [c.id for c in sent] == [cert_id] and again == []
    subjects = [(to, s) for to, s, _b in app.extensions["lms.outbox"]]
    assert any(to == "t@example.org" and "expires" in s for to, s in subjects)
    assert any(to == "officer@example.org" and "expires" in s for to, s in subjects)
    with app.app_context():
        certificate = db.session.get(Certificate, cert_id)
        certificate.expires_at = utcnow() - timedelta(days=1)
        db.session.commit()
    html = app.test_client().get(f"/verify/{token}").get_data(as_text=True)
    assert "Expired on" in html


def test_cli_grant_pdf_and_reissue(app, make, tmp_path):
    make("trainee", email="pilot@example.org", name="Gwen Morgan")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "lms",
            "accreditation",
            "grant",
            "--email",
            "pilot@example.org",
            "--course",
            "rep",
            "--reason",
            "Pilot course, 4-5 May 2017",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Issued certificate MIP-R" in result.output
    assert "Verification URL: http" in result.output and "/verify/" in result.output
    number = result.output.split("Issued certificate ")[1].split()[0]
    again = runner.invoke(
        args=[
            "lms",
            "accreditation",
            "grant",
            "--email",
            "pilot@example.org",
            "--course",
            "rep",
            "--reason",
            "again",
        ]
    )
    assert "already holds certificate " + number in again.output
    out = tmp_path / "cert.pdf"
    written = runner.invoke(args=["lms", "certificates", "pdf", number, "-o", str(out)])
    assert written.exit_code == 0, written.output
    with app.app_context():
        first = db.session.scalar(select(CertificateFile))
        assert out.read_bytes() == first.pdf
        first_sha = first.sha256
    reissued = runner.invoke(args=["lms", "certificates", "reissue", "--course", "rep"])
    assert reissued.exit_code == 0, reissued.output
    assert "Re-issued 1 certificate(s)" in reissued.output
    with app.app_context():
        files = db.session.scalars(select(CertificateFile).order_by(CertificateFile.id)).all()
        assert len(files) == 2 and [f.is_current for f in files] == [False, True]
        assert db.session.scalar(select(Certificate)).number == number
    # The earlier file still verifies as issued here.
    client = app.test_client()
    page = client.get("/verify").get_data(as_text=True)
    response = client.post(
        "/verify/file",
        data={
            "csrf_token": csrf_from(page),
            "certificate": (io.BytesIO(out.read_bytes()), "cert.pdf"),
        },
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert "it has since been replaced by a newer copy" in html
    assert first_sha
    bad = runner.invoke(
        args=[
            "lms",
            "accreditation",
            "grant",
            "--email",
            "nobody@example.org",
            "--course",
            "rep",
            "--reason",
            "x",
        ]
    )
    assert bad.exit_code == 1 and "no account" in bad.output


def test_requirements_listed_for_the_trainee(app, make):
    uid = make("trainee", email="t@example.org")
    complete_course(app, uid)
    client = client_for(app, "t@example.org")
    client.post("/courses/rep/enrol", data={"csrf_token": get_csrf(client, "/courses/rep")})
    html = client.get("/certificates").get_data(as_text=True)
    for label in (
        "Module pages read: 0 of 9",
        "Knowledge checks passed: 0 of 9",
        "Case studies: 0 of 9",
        "Feedback forms sent: 0 of 3",
        "Attendance on every day",
    ):
        assert label in html
    with app.app_context():
        # Only the rows made at enrolment for the (anonymous) feedback forms, none complete.
        rows = db.session.scalars(select(ActivityProgress)).all()
        assert {r.activity_key for r in rows} == {
            "feedback-day-1",
            "feedback-day-2",
            "feedback-end",
        }
        assert not any(r.is_complete for r in rows)
        assert db.session.scalar(select(Enrolment)).course_slug in {"rep", "link-member"}
