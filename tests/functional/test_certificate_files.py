"""Stored certificate PDFs are files named by their hash; downloads check them and are conditional;
the templates share one font folder and the renderer is built once per process."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from lms.accreditation import pdf, storage
from lms.accreditation.models import Certificate, CertificateFile
from lms.extensions import db
from tests.conftest import login
from tests.functional.accreditation_helpers import PROJECT_ROOT, grant


@pytest.fixture()
def issued(app, make):
    """A link member certificate granted through the services (rendered by its job)."""
    uid = make("trainee", email="holder@example.org", name="Ffion Bevan", region_name="Wales")
    cert_id, number, _token = grant(app, uid, "link-member")
    with app.app_context():
        stored = db.session.get(Certificate, cert_id).current_file
        assert stored is not None
        return {"id": cert_id, "number": number, "sha": stored.sha256, "size": stored.size}


def holder(app):
    client = app.test_client()
    assert login(client, "holder@example.org").status_code == 302
    return client


def test_the_pdf_is_a_file_named_by_its_hash_and_not_in_the_database(app, issued):
    with app.app_context():
        path = storage.path_for(issued["sha"])
        assert path.parent.parent == Path(app.config["LMS_CERTIFICATE_STORAGE_DIR"])
        assert path.name == f"{issued['sha']}.pdf" and path.parent.name == issued["sha"][:2]
        data = path.read_bytes()
        assert data.startswith(b"%PDF") and len(data) == issued["size"]
        assert hashlib.sha256(data).hexdigest() == issued["sha"]
        assert not os.access(path, os.W_OK) or os.geteuid() == 0  # written read-only
        assert "pdf" not in CertificateFile.__table__.columns
        assert db.session.get(CertificateFile, 1).pdf == data


def test_writing_the_same_bytes_twice_keeps_one_file_and_leaves_no_temporary_files(app, tmp_path):
    with app.app_context():
        first = storage.write(b"%PDF-1.7 same bytes", tmp_path)
        second = storage.write(b"%PDF-1.7 same bytes", tmp_path)
    assert first == second
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [first[1]]


def test_path_for_refuses_anything_but_a_hash(app):
    with app.app_context():
        for bad in ("../../etc/passwd", "A" * 64, "abc", "0" * 63 + "/"):
            with pytest.raises(ValueError):
                storage.path_for(bad)


def test_download_is_the_stored_file_with_its_hash_as_etag_and_conditional(app, issued):
    client = holder(app)
    url = f"/certificates/{issued['number']}.pdf"
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    with app.app_context():
        assert response.data == storage.path_for(issued["sha"]).read_bytes()
    assert response.headers["ETag"] == f'"{issued["sha"]}"'
    assert response.headers["Content-Length"] == str(issued["size"])
    assert "no-store" in response.headers["Cache-Control"]
    assert "private" in response.headers["Cache-Control"]
    # The same version again: 304 and no body.
    again = client.get(url, headers={"If-None-Match": f'"{issued["sha"]}"'})
    assert again.status_code == 304 and again.data == b""
    # Another version: the whole file.
    other = client.get(url, headers={"If-None-Match": '"' + "0" * 64 + '"'})
    assert other.status_code == 200 and other.data == response.data
    # A range (a download manager resuming) is served too.
    part = client.get(url, headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.data == b"%PDF"


def test_the_access_check_comes_before_the_file(app, issued, make):
    make("trainee", email="someone@example.org", region_name="Wales")
    other = app.test_client()
    assert login(other, "someone@example.org").status_code == 302
    url = f"/certificates/{issued['number']}.pdf"
    refused = other.get(url, headers={"If-None-Match": f'"{issued["sha"]}"'})
    assert refused.status_code == 404 and "ETag" not in refused.headers
    assert app.test_client().get(url).status_code == 302  # to the login page


def test_a_changed_file_is_never_served(app, issued, caplog):
    with app.app_context():
        path = storage.path_for(issued["sha"])
    original = path.read_bytes()
    path.chmod(0o640)
    path.write_bytes(original[:-10] + b"0123456789")  # same size, other bytes
    client = holder(app)
    response = client.get(f"/certificates/{issued['number']}.pdf")
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert b"%PDF" not in response.data
    assert "cannot be downloaded just now" in response.get_data(as_text=True)
    assert "missing or changed on disk" in caplog.text
    with app.app_context(), pytest.raises(storage.StoredFileError):
        storage.read_verified(issued["sha"])


def test_a_file_changed_after_it_was_served_is_refused_next_time(app, issued, caplog):
    client = holder(app)
    url = f"/certificates/{issued['number']}.pdf"
    assert client.get(url).status_code == 200  # hashed and found right
    with app.app_context():
        path = storage.path_for(issued["sha"])
    original = path.read_bytes()
    stat = path.stat()
    path.chmod(0o640)
    path.write_bytes(original[:-10] + b"0123456789")
    # Even with the old modification time put back, the change time has moved.
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    response = client.get(url)
    assert response.status_code == 500 and b"%PDF" not in response.data
    assert "missing or changed on disk" in caplog.text


def test_a_missing_file_is_an_error_page_not_a_crash(app, issued, caplog):
    with app.app_context():
        storage.path_for(issued["sha"]).unlink()
    response = holder(app).get(f"/certificates/{issued['number']}.pdf")
    assert response.status_code == 500 and b"%PDF" not in response.data
    assert "missing or changed on disk" in caplog.text


def test_a_certificate_whose_pdf_is_not_rendered_yet_says_so(app, issued):
    with app.app_context():
        for stored in db.session.scalars(select(CertificateFile)):
            db.session.delete(stored)
        db.session.commit()
    response = holder(app).get(f"/certificates/{issued['number']}.pdf")
    assert response.status_code == 202
    assert response.headers["Retry-After"] == "10"
    assert response.mimetype == "text/html" and issued["number"] in response.get_data(as_text=True)


def test_migration_moves_pdfs_into_the_database_and_back_out_to_files(app, issued):
    """Downgrading past 0005 puts each PDF back in its row; upgrading writes the files again."""
    with app.app_context():
        directory = app.extensions["migrate"].directory
        root = storage.storage_dir()
        original = storage.path_for(issued["sha"]).read_bytes()
        db.session.remove()
        downgrade(directory=directory, revision="0004_accreditation")
        for path in root.rglob("*.pdf"):
            path.chmod(0o640)
            path.unlink()
        with db.engine.connect() as conn:
            [(blob,)] = conn.exec_driver_sql("SELECT pdf FROM certificate_file").all()
        assert bytes(blob) == original
        upgrade(directory=directory)
        assert storage.read_verified(issued["sha"]) == original
    response = holder(app).get(f"/certificates/{issued['number']}.pdf")
    assert response.status_code == 200 and response.data == original


def test_templates_share_one_font_folder_and_no_font_file_is_repeated():
    certificates = PROJECT_ROOT / "certificates"
    fonts = [p for p in PROJECT_ROOT.rglob("*") if p.suffix.lower() in {".ttf", ".otf", ".woff"}]
    fonts = [p for p in fonts if ".venv" not in p.parts and "node_modules" not in p.parts]
    assert fonts and all(p.parent == certificates / "_fonts" for p in fonts), fonts
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in fonts]
    assert len(set(digests)) == len(digests)
    for template in certificates.iterdir():
        if (template / "template.html").is_file():
            assert not list(template.rglob("*.ttf")) and not (template / "fonts.css").exists()


def test_the_renderer_is_built_once_and_again_only_when_a_template_file_changes(tmp_path):
    import shutil

    shutil.copytree(PROJECT_ROOT / "certificates" / "link-member", tmp_path / "link-member")
    (tmp_path / "_fonts").symlink_to(PROJECT_ROOT / "certificates" / "_fonts")
    first = pdf.renderer(tmp_path, "link-member")
    assert pdf.renderer(tmp_path, "link-member") is first
    theme = tmp_path / "link-member" / "theme.css"
    theme.write_text(theme.read_text() + "\n/* changed */\n")
    later = theme.stat().st_mtime_ns + 10**9
    os.utime(theme, ns=(later, later))
    rebuilt = pdf.renderer(tmp_path, "link-member")
    assert rebuilt is not first
    assert pdf.renderer(tmp_path, "link-member") is rebuilt


def test_someone_elses_pdf_is_audited_ones_own_is_not(app, issued, make, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="lms.audit")
    url = f"/certificates/{issued['number']}.pdf"
    assert holder(app).get(url).status_code == 200
    assert not [r for r in caplog.records if r.name == "lms.audit"]
    office_id = make("admin", email="office@example.org", region_name=None)
    office = app.test_client()
    assert login(office, "office@example.org").status_code == 302
    assert office.get(url).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "lms.audit"]
    assert lines == [f"user {office_id} GET certificate PDF number={issued['number']}"]


def _link_on(client, page: str) -> str:
    import re

    html = client.get(page).get_data(as_text=True)
    links = re.findall(r'href="(/certificates/files/[^"]+\.pdf)"', html)
    assert links, f"no PDF link on {page}"
    return links[0]


def test_pages_link_the_pdf_with_a_signed_link_that_serves_the_file_without_a_lookup(app, issued):
    from sqlalchemy import event

    client = holder(app)
    for page in ("/certificates", "/dashboard"):
        link = _link_on(client, page)
        assert link.endswith(f"/{issued['number']}.pdf")
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(link)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    with app.app_context():
        assert response.data == storage.path_for(issued["sha"]).read_bytes()
    assert response.headers["ETag"] == f'"{issued["sha"]}"'
    assert "no-store" in response.headers["Cache-Control"]
    # The link names the file: no session, user, permission or file query.
    assert statements == [], statements
    # The session is not read or written: no cookie is set, the session stays as it was.
    assert "Set-Cookie" not in response.headers
    assert client.get("/dashboard").status_code == 200
    again = client.get(link, headers={"If-None-Match": f'"{issued["sha"]}"'})
    assert again.status_code == 304


def test_a_signed_link_is_no_use_elsewhere_later_or_for_another_certificate(
    app, issued, monkeypatch
):
    client = holder(app)
    link = _link_on(client, "/certificates")
    download = f"/certificates/{issued['number']}.pdf"
    # Another browser (no session, or someone else's): sent to the checked download.
    stranger = app.test_client()
    response = stranger.get(link)
    assert response.status_code == 303 and response.location == download
    assert stranger.get(download).status_code == 302  # to the login page
    # Another certificate's number in the same link.
    other = link.replace(f"/{issued['number']}.pdf", "/MIP-LM-0000-0000.pdf")
    assert client.get(other).status_code == 303
    # A changed token.
    token = link.split("/")[3]
    assert client.get(link.replace(token, token[:-2] + "xx")).status_code == 303
    # Expired.
    monkeypatch.setattr(storage, "FILE_LINK_SECONDS", -1)
    assert client.get(link).status_code == 303
    monkeypatch.undo()
    assert client.get(link).status_code == 200
    # After logging out the link ends with the session.
    from tests.conftest import csrf_from

    page = client.get("/account").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert client.get(link).status_code == 303


def test_a_staff_members_signed_link_is_audited(app, issued, make, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="lms.audit")
    office_id = make("admin", email="office@example.org", region_name=None)
    office = app.test_client()
    assert login(office, "office@example.org").status_code == 302
    link = _link_on(office, f"/register/certificates/{issued['id']}")
    caplog.clear()
    assert office.get(link).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "lms.audit"]
    assert lines == [f"user {office_id} GET certificate PDF number={issued['number']}"]


def test_a_signed_link_made_before_a_new_rendering_still_serves_a_checked_file(app, issued):
    client = holder(app)
    link = _link_on(client, "/certificates")
    with app.app_context():
        path = storage.path_for(issued["sha"])
    original = path.read_bytes()
    path.chmod(0o640)
    path.write_bytes(original[:-10] + b"0123456789")  # the named file changed on disk
    response = client.get(link)
    assert response.status_code == 500 and b"%PDF" not in response.data


def test_a_certificate_not_yet_rendered_links_to_the_checked_address(app, issued):
    with app.app_context():
        for stored in db.session.scalars(select(CertificateFile)):
            stored.is_current = False
        db.session.commit()
    html = holder(app).get("/certificates").get_data(as_text=True)
    assert f'href="/certificates/{issued["number"]}.pdf"' in html
    assert "/certificates/files/" not in html
