"""`flask lms users ...` and `flask lms regions ...`."""

from __future__ import annotations

import secrets
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from lms.accounts import services
from lms.accounts.models import Region, Role, User
from lms.extensions import db
from lms.plugins import load_yaml

REGIONS_FILE = Path(__file__).resolve().parent.parent / "data" / "regions.yaml"

users_cli = AppGroup("users", help="Create and import accounts.")
regions_cli = AppGroup("regions", help="List, add and seed regions.")

ROLE_CHOICE = click.Choice([r.value for r in Role], case_sensitive=False)


def _region_or_fail(name: str | None) -> Region | None:
    if not name:
        return None
    region = services.region_by_name(name)
    if region is None:
        known = ", ".join(r.name for r in db.session.scalars(select(Region).order_by(Region.name)))
        raise click.BadParameter(f"no region {name!r} (known: {known})", param_hint="--region")
    return region


@users_cli.command("create")
@click.option("--email", required=True, help="Email address (the login).")
@click.option("--name", required=True, help="Full name.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=ROLE_CHOICE,
    help="trainee, facilitator, officer or admin; repeat for several.",
)
@click.option("--region", help="Region name; required for a national officer.")
def create_user(email: str, name: str, roles: tuple[str, ...], region: str | None) -> None:
    """Create an account and print its one-time set-password link."""
    try:
        created = services.create_user(email, name, roles, _region_or_fail(region))
    except services.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(f"Created {created.user.email} ({', '.join(sorted(created.user.role_names))}).")
    click.echo(f"One-time link to set the password: {created.set_password_url}")


@users_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-bad", is_flag=True, help="Import the good rows even when some rows are refused."
)
def import_users(file: Path, skip_bad: bool) -> None:
    """Import accounts from a CSV file with columns email, name, roles, region.

    ``roles`` holds one or more of trainee, facilitator, officer, admin separated
    by ``;``. Every row is checked first. Unless --skip-bad is given, one bad row
    means nothing is imported. Each created account is sent its set-password link.
    """
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file} is not UTF-8 text") from exc
    try:
        total = len(services.read_import(text))
        with click.progressbar(length=total, label="Checking and importing") as bar:
            report = services.import_accounts(text, skip_bad=skip_bad, progress=bar.update)
    except services.AccountError as exc:
        raise click.ClickException(f"{file}: {exc.message}") from exc
    for r in report.rows:
        if r.ok:
            outcome = "created" if report.imported else "would be created"
        else:
            outcome = f"refused: {r.problem}"
        click.secho(f"line {r.line}: {r.email}: {outcome}", fg="green" if r.ok else "red")
    if not report.imported:
        db.session.rollback()
        raise click.ClickException(
            f"{len(report.bad)} of {len(report.rows)} rows refused; nothing was imported. "
            "Fix the rows and run again, or use --skip-bad to import the others."
        )
    db.session.commit()
    click.echo(f"Imported {len(report.good)} accounts; {len(report.bad)} refused.")


@users_cli.command("list")
def list_users() -> None:
    """List accounts with their roles."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        roles = ", ".join(f"{r.role} ({r.region.name})" if r.region else r.role for r in user.roles)
        click.echo(f"{user.email}\t{user.name}\t{roles}")


@users_cli.command("link")
@click.option("--email", required=True)
def password_link(email: str) -> None:
    """Print (and send) a new one-time set-password link for an account."""
    user = services.find_by_email(email)
    if user is None:
        raise click.ClickException(f"no account {email}")
    url = services.issue_password_link(user, "setup" if not user.password_hash else "reset")
    db.session.commit()
    click.echo(url)


def seed_regions() -> int:
    """Add the default regions when there are none. Returns how many were added."""
    if db.session.scalar(select(func.count(Region.id))):
        return 0
    from lms.admin.routes import slugify

    names = load_yaml(REGIONS_FILE.read_text(encoding="utf-8"))
    for name in names:
        db.session.add(Region(name=name, slug=slugify(name)))
    db.session.flush()
    return len(names)


@regions_cli.command("seed")
def seed() -> None:
    """Load the default regions into an empty database."""
    added = seed_regions()
    db.session.commit()
    click.echo(f"Added {added} regions." if added else "Regions already present; nothing added.")


@regions_cli.command("list")
def list_regions() -> None:
    for region in db.session.scalars(select(Region).order_by(Region.name)):
        click.echo(f"{region.slug}\t{region.name}")


@regions_cli.command("add")
@click.argument("name")
def add_region(name: str) -> None:
    from lms.admin.routes import slugify

    name = " ".join(name.split())
    if services.region_by_name(name):
        raise click.ClickException(f"region {name!r} exists")
    db.session.add(Region(name=name, slug=slugify(name)))
    db.session.commit()
    click.echo(f"Added {name}.")


DEMO_PEOPLE = [
    # Invented people, one per role.
    ("admin@example.org", "Morwenna Pryce", ["admin"], "London"),
    ("officer@example.org", "Tomasz Wronski", ["officer"], "North East"),
    ("facilitator@example.org", "Niamh Gallagher", ["facilitator"], "London"),
    ("trainee@example.org", "Sam Okafor", ["trainee"], "North East"),
    ("rep@example.org", "Eluned Hughes", ["trainee", "facilitator"], "Wales"),
]


def demo_password() -> str:
    """The demo accounts' password: LMS_DEMO_PASSWORD, or one generated into instance/."""
    configured = current_app.config.get("LMS_DEMO_PASSWORD")
    if configured:
        return configured
    path = Path(current_app.instance_path) / "demo_password"
    if path.exists():
        return path.read_text().strip()
    # Four words of 64 and two digits: about 2^30 choices, and zxcvbn scores it 4
    # (services.password_problem accepts it for every demo person).
    password = "-".join(secrets.choice(_WORDS) for _ in range(4)) + str(secrets.randbelow(90) + 10)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


_WORDS = [
    "harbour",
    "meadow",
    "lantern",
    "copper",
    "orchard",
    "thistle",
    "pebble",
    "willow",
    "saffron",
    "granite",
    "heron",
    "bramble",
    "juniper",
    "falcon",
    "marble",
    "clover",
    "acorn",
    "badger",
    "beacon",
    "birch",
    "bracken",
    "cobble",
    "cormorant",
    "dune",
    "ember",
    "fennel",
    "ferry",
    "flint",
    "gorse",
    "hazel",
    "hedgerow",
    "kestrel",
    "larch",
    "lichen",
    "linnet",
    "mallow",
    "mill",
    "moorland",
    "nettle",
    "otter",
    "pasture",
    "pippin",
    "plover",
    "quarry",
    "quill",
    "raven",
    "reed",
    "rowan",
    "sorrel",
    "spindle",
    "starling",
    "tansy",
    "teasel",
    "thatch",
    "tide",
    "tinder",
    "umber",
    "vetch",
    "wagtail",
    "weir",
    "wharf",
    "wren",
    "yarrow",
    "zephyr",
]


def create_demo_accounts() -> list[tuple[str, str, bool]]:
    """Create the demo accounts that do not exist yet. Returns (email, roles, created)."""
    password = demo_password()
    out = []
    for email, name, roles, region_name in DEMO_PEOPLE:
        if services.find_by_email(email) is not None:
            out.append((email, ", ".join(roles), False))
            continue
        region = services.region_by_name(region_name)
        created = services.create_user(email, name, roles, region, send_link=False)
        try:
            services.set_password(created.user, password)
        except services.AccountError as exc:
            # A weak LMS_DEMO_PASSWORD is refused like any other new password.
            raise click.ClickException(
                f"the demo password is not accepted for {email}: {exc.message}"
            ) from exc
        out.append((email, ", ".join(roles), True))
    db.session.flush()
    return out
