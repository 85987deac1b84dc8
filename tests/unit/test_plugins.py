"""Activity types are plugins: the registry, and a separately packaged type installed for real."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lms import create_app
from lms.activities.reading import Reading
from lms.catalogue.content import CourseContentError
from lms.extensions import db
from lms.learning.models import Enrolment
from lms.plugins import ActivityTypeRegistry, RegistryError, build_registry
from tests import plugin_packages
from tests.conftest import base_config, csrf_from, login

COURSE_YAML = """\
slug: plugin-demo
title: Plugin demo course
version: "1"
summary: A course that uses an activity type from a separately installed package.
modules:
  - key: reflect
    title: Reflecting on practice
    outcomes: [Reflect on a member's problem you helped with.]
    activities:
      - key: reflect-reading
        type: reading
        title: Why reflect
        settings:
          body: "## Why reflect\\n\\nReflection turns experience into skill."
      - key: reflect-write
        type: reflection
        title: Your reflection
        settings:
          prompt: Think of a time you supported a colleague at work. What went well?
          min_words: 5
"""


def test_builtin_types_come_from_entry_points():
    registry = build_registry()
    assert {"reading", "quiz"} <= set(registry.names())


def test_duplicate_type_names_are_refused():
    registry = ActivityTypeRegistry()
    registry.register(Reading(), origin="one")
    with pytest.raises(RegistryError, match="Two activity types are called 'reading'"):
        registry.register(Reading(), origin="two")


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory):
    """The lms-reflection-activity package, installed for real (tests/plugin_packages.py)."""
    yield from plugin_packages.installed(
        tmp_path_factory, "lms-reflection-activity", "lms_reflection_activity"
    )


@pytest.fixture()
def plugin_courses(tmp_path):
    folder = tmp_path / "courses" / "plugin-demo"
    folder.mkdir(parents=True)
    (folder / "course.yaml").write_text(COURSE_YAML)
    return folder.parent


def test_course_using_uninstalled_type_is_an_error_naming_the_file(app, plugin_courses, tmp_path):
    config = base_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "instance")
    with pytest.raises(CourseContentError) as info:
        create_app({**config, "LMS_COURSES_DIR": str(plugin_courses)})
    message = str(info.value)
    assert "plugin-demo/course.yaml: modules[0].activities[1].type" in message
    assert "unknown activity type 'reflection'" in message


def test_installed_plugin_adds_a_type_that_works_end_to_end(
    app, make, installed_plugin, plugin_courses, app_with
):
    plugin_app = app_with(LMS_COURSES_DIR=str(plugin_courses))
    assert "reflection" in plugin_app.extensions["lms.activity_types"]
    assert type(plugin_app.extensions["lms.activity_types"]["reflection"]).__module__ == (
        "lms_reflection_activity"
    )
    make("trainee", email="ffion@example.org")
    client = plugin_app.test_client()
    assert login(client, "ffion@example.org").status_code == 302
    page = client.get("/courses/plugin-demo").get_data(as_text=True)
    client.post("/courses/plugin-demo/enrol", data={"csrf_token": csrf_from(page)})

    page = client.get("/learn/plugin-demo/reflect-write").get_data(as_text=True)
    assert "Think of a time you supported a colleague" in page
    assert '<label for="reflection-text">Your reflection</label>' in page

    too_short = client.post(
        "/learn/plugin-demo/reflect-write", data={"csrf_token": csrf_from(page), "text": "It went"}
    )
    assert too_short.status_code == 422
    html = too_short.get_data(as_text=True)
    assert "Write at least 5 words (you have 2)." in html
    assert ">It went</textarea>" in html

    text = "I listened first, then helped her write down the dates."
    done = client.post(
        "/learn/plugin-demo/reflect-write", data={"csrf_token": csrf_from(page), "text": text}
    )
    assert done.status_code == 302
    page = client.get("/learn/plugin-demo/reflect-write").get_data(as_text=True)
    assert "Reflection saved" in page
    assert text in page

    page = client.get("/learn/plugin-demo/reflect-reading").get_data(as_text=True)
    client.post(
        "/learn/plugin-demo/reflect-reading",
        data={"csrf_token": csrf_from(page), "action": "complete"},
    )
    with plugin_app.app_context():
        enrolment = db.session.scalar(select(Enrolment))
        assert enrolment.completed_at is not None
