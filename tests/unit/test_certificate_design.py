"""One certificate design: every course's folder extends certificates/_base and holds only
what it changes, so a change to the design is made once."""

from __future__ import annotations

import hashlib

from lms.config import PROJECT_ROOT

CERTIFICATES = PROJECT_ROOT / "certificates"


def course_folders():
    return sorted(p for p in CERTIFICATES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def test_every_course_design_extends_the_base():
    folders = course_folders()
    assert {f.name for f in folders} >= {"rep", "link-member"}
    for folder in folders:
        template = (folder / "template.html").read_text(encoding="utf-8")
        assert '{% extends "_base/template.html" %}' in template, folder.name
        # What a course changes is a few blocks and a palette, not a copy of the page.
        assert len(template.splitlines()) <= 15, folder.name
        assert len((folder / "theme.css").read_text(encoding="utf-8").splitlines()) <= 30
        assert (folder / "metadata.yaml").is_file()


def test_no_file_is_copied_between_certificate_folders():
    seen: dict[str, str] = {}
    for path in sorted(CERTIFICATES.rglob("*")):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert digest not in seen, f"{path} is a copy of {seen[digest]}"
            seen[digest] = str(path)
