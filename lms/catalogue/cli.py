"""`flask lms courses ...`: check and list course content."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from lms.catalogue.content import CourseContentError, load_catalogue

courses_cli = AppGroup("courses", help="Check and list course content.")


@courses_cli.command("check")
@click.option(
    "--dir", "directory", type=click.Path(file_okay=False), help="Courses folder to check."
)
def check(directory: str | None) -> None:
    """Validate every course and report all errors at once (exit status 1 if any)."""
    directory = directory or current_app.config["LMS_COURSES_DIR"]
    try:
        catalogue = load_catalogue(
            directory,
            current_app.extensions["lms.activity_types"],
            current_app.config["LMS_CERTIFICATES_DIR"],
        )
    except CourseContentError as exc:
        for problem in exc.problems:
            click.secho(f"error: {problem}", fg="red", err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s) in course content") from exc
    for course in catalogue:
        click.echo(
            f"ok: {course.slug} {course.version}: {len(course.modules)} modules, "
            f"{len(course.activities)} activities"
        )


@courses_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_courses(as_json: bool) -> None:
    """List the loaded courses with their modules and activities."""
    catalogue = current_app.extensions["lms.courses"]
    data = [
        {
            "slug": c.slug,
            "title": c.title,
            "version": c.version,
            "prerequisites": list(c.prerequisites),
            "modules": [
                {
                    "key": m.key,
                    "title": m.title,
                    "activities": [
                        {"key": a.key, "type": a.type, "title": a.title} for a in m.activities
                    ],
                }
                for m in c.modules
            ],
        }
        for c in catalogue
    ]
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for c in data:
        prereq = f" (requires {', '.join(c['prerequisites'])})" if c["prerequisites"] else ""
        click.echo(f"{c['slug']} {c['version']}: {c['title']}{prereq}")
        for m in c["modules"]:
            click.echo(f"  {m['key']}: {m['title']}")
            for a in m["activities"]:
                click.echo(f"    {a['key']} [{a['type']}]")
