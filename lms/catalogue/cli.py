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
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Judge dates as on this day (YYYY-MM-DD; default today), e.g. to see what goes "
    "out of date next month.",
)
def check(directory: str | None, on) -> None:
    """Validate every course, then check its quality and dates: quizzes whose right
    answers stand out, review dates passed, legal changes in force since a module was
    last reviewed, past dates still written as plans. Errors give exit status 1;
    warnings are printed and do not."""
    from lms.catalogue.changes import today
    from lms.catalogue.lint import lint_catalogue

    directory = directory or current_app.config["LMS_COURSES_DIR"]
    registry = current_app.extensions["lms.activity_types"]
    try:
        catalogue = load_catalogue(directory, registry, current_app.config["LMS_CERTIFICATES_DIR"])
    except CourseContentError as exc:
        for problem in exc.problems:
            click.secho(f"error: {problem}", fg="red", err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s) in course content") from exc
    findings = lint_catalogue(catalogue, registry, on.date() if on else today())
    errors = [f for f in findings if f.level == "error"]
    for f in findings:
        colour = "red" if f.level == "error" else "yellow"
        click.secho(f"{f.level}: {f}", fg=colour, err=True)
    for course in catalogue:
        click.echo(
            f"ok: {course.slug} {course.version}: {len(course.modules)} modules, "
            f"{len(course.activities)} activities"
        )
    click.echo(
        f"{len(catalogue.changes)} dated legal changes; "
        f"{len(errors)} error(s), {len(findings) - len(errors)} warning(s)"
    )
    if errors:
        raise click.ClickException(f"{len(errors)} error(s) in course content")


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
