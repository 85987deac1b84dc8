"""Anyone checks a certificate: by number and surname, by uploading the PDF, and by the
link its QR code holds. The whole journey runs in a phone-sized browser (most people
checking a certificate hold it and a phone); axe checks every page at both sizes.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.accreditation.models import CertificateFile
from lms.extensions import db
from tests.browser.conftest import PHONE
from tests.browser.journey_helpers import no_sideways_scrolling
from tests.functional.accreditation_helpers import grant, qr_texts

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [PHONE], ids=["phone"])
def test_anyone_checks_a_certificate(app: Flask, make, page: Page, axe_check, tmp_path) -> None:
    uid = make("trainee", email="ffion@example.org", name="Ffion Bevan", region_name="Wales")
    _id, number, _token = grant(app, uid, "link-member")
    with app.app_context():
        pdf = db.session.scalar(select(CertificateFile)).pdf
    issued = tmp_path / f"{number}.pdf"
    issued.write_bytes(pdf)
    not_a_pdf = tmp_path / "certificate.pdf"
    not_a_pdf.write_bytes(b"GIF89a: a picture, not a certificate")

    # --- From the footer of any page to the check ------------------------------------
    page.goto("/")
    page.get_by_role("contentinfo").get_by_role("link", name="Check a certificate").click()
    expect(
        page.get_by_role("heading", level=1, name="Check an MiP training certificate")
    ).to_be_visible()
    no_sideways_scrolling(page)
    axe_check(page)

    # --- By number and surname: missing surname, wrong surname, then right -----------
    page.get_by_role("textbox", name="Certificate number", exact=True).fill(number.lower())
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_text("Enter the holder's surname.")).to_be_visible()
    axe_check(page)
    page.get_by_label("Holder’s surname", exact=True).fill("Jones")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_role("heading", name="No certificate found")).to_be_visible()
    axe_check(page)
    page.get_by_role("link", name="Check another certificate").click()
    page.get_by_role("textbox", name="Certificate number", exact=True).fill(number)
    page.get_by_label("Holder’s surname", exact=True).fill("bevan")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_role("heading", name="Genuine and valid")).to_be_visible()
    expect(page.get_by_text("Ffion Bevan")).to_be_visible()
    no_sideways_scrolling(page)
    axe_check(page)

    # --- By the PDF file: a file that is not a PDF, then the certificate itself -------
    page.go_back()
    expect(
        page.get_by_role("heading", level=1, name="Check an MiP training certificate")
    ).to_be_visible()
    page.get_by_label("Certificate PDF").set_input_files(not_a_pdf)
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_text("That file is not a PDF.")).to_be_visible()
    axe_check(page)
    page.get_by_label("Certificate PDF").set_input_files(issued)
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="Genuine and valid")).to_be_visible()
    expect(page.get_by_text(re.compile(r"This exact file was issued here on"))).to_be_visible()
    axe_check(page)

    # --- By the QR code's link: the name is hidden until the surname is typed ---------
    (link,) = qr_texts(pdf)
    page.goto(urlsplit(link).path)
    expect(page.get_by_role("heading", name="Genuine and valid")).to_be_visible()
    expect(page.get_by_text(number, exact=True)).to_be_visible()
    axe_check(page)
    page.get_by_label("Surname of the person who showed you this certificate").fill("Evans")
    page.get_by_role("button", name="Check the name").click()
    expect(page.get_by_role("alert")).to_have_text("That surname does not match this certificate.")
    axe_check(page)
    page.get_by_label("Surname of the person who showed you this certificate").fill("Bevan")
    page.get_by_role("button", name="Check the name").click()
    expect(page.get_by_text("The surname you typed matches this certificate.")).to_be_visible()
    axe_check(page)
