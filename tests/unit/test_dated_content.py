"""Dated legal changes, module review dates, version notes and the date checks of
``flask lms courses check``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from lms import create_app
from lms.catalogue import changes as changes_module
from lms.catalogue.content import CourseContentError, load_catalogue
from lms.catalogue.lint import lint_catalogue
from lms.plugins import build_registry
from tests.conftest import base_config

CERTIFICATES = Path(__file__).resolve().parents[2] / "certificates"

CHANGE = {
    "title": "Qualifying period for unfair dismissal",
    "effective_on": date(2027, 1, 1),
    "law": "Employment Rights Act 2025",
    "before": "Employees need **two years** of service.",
    "after": "Employees need **six months** of service.",
    "sources": [{"title": "GOV.UK: Dismissal", "url": "https://www.gov.uk/dismissal"}],
}

PAGE = """## Qualifying period

Most rights start at once.

[[change:qualifying-period]]

The national officer checks every case. The new code is planned for March 2026.
"""


def write_site(root: Path, page: str = PAGE, module_dates=None, notes=None) -> Path:
    courses = root / "courses"
    (courses / "changes").mkdir(parents=True)
    (courses / "changes" / "qualifying-period.yaml").write_text(yaml.safe_dump(CHANGE))
    course = courses / "demo"
    (course / "modules").mkdir(parents=True)
    (course / "modules" / "page.md").write_text(page)
    module = {
        "key": "m1",
        "title": "Module one",
        "outcomes": ["Know the period."],
        "activities": [
            {
                "key": "m1-reading",
                "type": "reading",
                "title": "Reading",
                "source": "modules/page.md",
            }
        ],
    }
    module.update(module_dates or {})
    spec = {
        "slug": "demo",
        "title": "Demo course",
        "version": "2027.1",
        "summary": "A course.",
        "modules": [module],
        "version_notes": notes or [],
    }
    (course / "course.yaml").write_text(yaml.safe_dump(spec))
    return courses


def test_a_change_line_shows_the_rule_that_applies_on_the_day(tmp_path, monkeypatch):
    courses = write_site(tmp_path)
    app = create_app(
        {
            **base_config(f"sqlite:///{tmp_path}/db.sqlite", tmp_path / "i"),
            "LMS_COURSES_DIR": str(courses),
            "LMS_CERTIFICATES_DIR": str(CERTIFICATES),
        }
    )
    html = app.extensions["lms.courses"].get("demo").activity("m1-reading").config.html
    with app.test_request_context():
        template = app.jinja_env.from_string("{{ html }}")
        monkeypatch.setattr(changes_module, "today", lambda: date(2026, 12, 31))
        before = template.render(html=html)
        assert "This changes on 1 January 2027." in before
        assert "law-change--coming" in before
        now = before.split("law-change__now")[1].split("</div>")[0]
        assert "<strong>two years</strong>" in now
        assert "From 1 January 2027" in before and "six months" in before
        assert (
            '<a href="https://www.gov.uk/dismissal" rel="noopener">GOV.UK: Dismissal</a>' in before
        )

        monkeypatch.setattr(changes_module, "today", lambda: date(2027, 1, 1))
        after = template.render(html=html)
        assert "This changed on 1 January 2027." in after
        now = after.split("law-change__now")[1].split("</div>")[0]
        assert "<strong>six months</strong>" in now
        assert "Before 1 January 2027" in after
        # The rest of the page is the page.
        assert "Most rights start at once." in after and "[[change:" not in after


def test_a_change_line_naming_no_change_is_an_error(tmp_path):
    courses = write_site(tmp_path, page="Text\n\n[[change:no-such-rule]]\n")
    with pytest.raises(CourseContentError) as exc:
        load_catalogue(courses, build_registry(), CERTIFICATES)
    assert (
        "courses/demo/modules/page.md: [[change:no-such-rule]] names no file "
        "courses/changes/no-such-rule.yaml"
    ) in str(exc.value)


def test_a_change_file_is_checked_field_by_field(tmp_path):
    courses = write_site(tmp_path)
    broken = {**CHANGE, "effective_on": "next spring", "sources": []}
    (courses / "changes" / "qualifying-period.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(CourseContentError) as exc:
        load_catalogue(courses, build_registry(), CERTIFICATES)
    text = str(exc.value)
    assert "courses/changes/qualifying-period.yaml: effective_on" in text
    assert "courses/changes/qualifying-period.yaml: sources" in text


def _lint(courses: Path, on: date):
    catalogue = load_catalogue(courses, build_registry(), CERTIFICATES)
    return lint_catalogue(catalogue, build_registry(), on)


def test_review_dates_are_required_and_warned_about(tmp_path):
    courses = write_site(tmp_path)
    findings = _lint(courses, date(2026, 12, 1))
    assert any(
        f.level == "error" and "needs reviewed_on and review_by dates" in f.message
        for f in findings
    )
    dated = write_site(
        tmp_path / "b",
        module_dates={"reviewed_on": date(2026, 12, 1), "review_by": date(2027, 6, 30)},
    )
    assert not [f for f in _lint(dated, date(2026, 12, 2)) if f.level == "error"]
    late = _lint(dated, date(2027, 7, 1))
    assert any("review was due by 30 June 2027" in f.message for f in late)


def test_a_change_in_force_since_the_last_review_is_flagged(tmp_path):
    courses = write_site(
        tmp_path,
        module_dates={"reviewed_on": date(2026, 12, 1), "review_by": date(2027, 6, 30)},
    )
    assert not any("changed on" in f.message for f in _lint(courses, date(2026, 12, 31)))
    flagged = [f for f in _lint(courses, date(2027, 1, 1)) if "changed on" in f.message]
    assert len(flagged) == 1
    assert flagged[0].level == "warning"
    assert "changed on 1 January 2027, after the module was last reviewed" in flagged[0].message


def test_past_dates_written_as_plans_are_flagged(tmp_path):
    courses = write_site(
        tmp_path,
        module_dates={"reviewed_on": date(2026, 1, 1), "review_by": date(2027, 6, 30)},
    )
    found = [f for f in _lint(courses, date(2026, 4, 2)) if "dated fact" in f.message]
    assert len(found) == 1
    assert found[0].field == "line 7"
    assert '"planned for March 2026"' in found[0].message
    assert not [f for f in _lint(courses, date(2026, 3, 15)) if "dated fact" in f.message]


def test_version_notes_say_what_changed_since_someone_completed(tmp_path):
    notes = [
        {"version": "2026.2", "released_on": date(2026, 6, 1), "note": "New case study."},
        {"version": "2027.1", "released_on": date(2027, 1, 1), "note": "Qualifying period."},
    ]
    courses = write_site(
        tmp_path,
        module_dates={"reviewed_on": date(2026, 12, 1), "review_by": date(2027, 6, 30)},
        notes=notes,
    )
    course = load_catalogue(courses, build_registry(), CERTIFICATES).get("demo")
    assert [n.version for n in course.notes_since(date(2026, 3, 1), "2026.1")] == [
        "2027.1",
        "2026.2",
    ]
    assert [n.version for n in course.notes_since(date(2026, 7, 1), "2026.2")] == ["2027.1"]
    assert course.notes_since(date(2027, 2, 1), "2027.1") == []
    assert course.notes_since(None, None) == []


def test_a_change_without_a_date_says_it_is_not_yet_in_force(tmp_path, monkeypatch):
    courses = write_site(tmp_path)
    pending = {
        **{k: v for k, v in CHANGE.items() if k != "effective_on"},
        "expected": "October 2026 (government timeline)",
        "checked_on": date(2026, 12, 3),
    }
    (courses / "changes" / "qualifying-period.yaml").write_text(yaml.safe_dump(pending))
    app = create_app(
        {
            **base_config(f"sqlite:///{tmp_path}/db.sqlite", tmp_path / "i"),
            "LMS_COURSES_DIR": str(courses),
            "LMS_CERTIFICATES_DIR": str(CERTIFICATES),
        }
    )
    html = app.extensions["lms.courses"].get("demo").activity("m1-reading").config.html
    with app.test_request_context():
        page = app.jinja_env.from_string("{{ html }}").render(html=html)
    assert (
        "Not yet in force when last checked (3 December 2026). Expected: October 2026 "
        "(government timeline)." in page
    )
    assert "law-change--pending" in page and "Once it comes into force" in page
    now = page.split("law-change__now")[1].split("</div>")[0]
    assert "<strong>two years</strong>" in now
    assert "Law: Employment Rights Act 2025" in page
    # Checked more than 60 days ago: a warning to look for commencement.
    catalogue = load_catalogue(courses, build_registry(), CERTIFICATES)
    assert not any(
        "no date yet" in f.message
        for f in lint_catalogue(catalogue, build_registry(), date(2027, 1, 31))
    )
    late = lint_catalogue(catalogue, build_registry(), date(2027, 2, 2))
    assert any(f.field == "checked_on" and "no date yet" in f.message for f in late)


def test_a_change_needs_a_date_or_what_is_expected(tmp_path):
    courses = write_site(tmp_path)
    undated = {k: v for k, v in CHANGE.items() if k != "effective_on"}
    (courses / "changes" / "qualifying-period.yaml").write_text(yaml.safe_dump(undated))
    with pytest.raises(CourseContentError, match="give effective_on, or"):
        load_catalogue(courses, build_registry(), CERTIFICATES)
