"""Helpers for accreditation tests: certificates issued through the real services."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2
import zxingcpp

from lms.accounts.models import User
from lms.accreditation import services
from lms.extensions import db

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def write_plain_templates(folder: Path, body: str) -> Path:
    """Certificate templates ``rep`` and ``link-member`` of one line each, in ``folder``.

    Issuing still goes through the real services and WeasyPrint; only the page is
    simpler, so that tests issuing many certificates stay quick. The shared font
    folder is the project's own (linked, not copied).
    """
    for name in ("rep", "link-member"):
        template = folder / name
        template.mkdir(parents=True)
        (template / "template.html").write_text(
            f'<html lang="en"><head><title>{{{{ number }}}}</title></head><body>{body}</body></html>',
            encoding="utf-8",
        )
    (folder / "_fonts").symlink_to(PROJECT_ROOT / "certificates" / "_fonts")
    return folder


def grant(app, user_id: int, course: str = "rep", reason: str = "Pilot course, May 2017"):
    with app.app_context():
        user = db.session.get(User, user_id)
        certificate = services.grant_prior(user, app.extensions["lms.courses"].get(course), reason)
        db.session.commit()
        return certificate.id, certificate.number, certificate.token


def qr_texts(pdf_bytes: bytes, scale: float = 2.5) -> list[str]:
    """Render the first page (about 180 dpi) and decode every QR code on it."""
    document = pypdfium2.PdfDocument(io.BytesIO(pdf_bytes))
    try:
        image = document[0].render(scale=scale).to_pil()
    finally:
        document.close()
    return [result.text for result in zxingcpp.read_barcodes(image)]
