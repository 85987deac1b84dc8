"""`flask lms privacy export|erase`."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from lms.extensions import db

privacy_cli = AppGroup("privacy", help="Subject access export and erasure (UK GDPR).")


def _user(email: str):
    from lms.accounts.services import find_by_email

    user = find_by_email(email)
    if user is None:
        raise click.ClickException("No account with that email.")
    return user


@privacy_cli.command("export")
@click.option("--email", required=True)
@click.option("-o", "output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_command(email: str, output: Path) -> None:
    """Write a ZIP of everything held about a person."""
    from lms.privacy.services import export_zip

    output.write_bytes(export_zip(_user(email)))
    click.echo(f"Wrote {output}")


@privacy_cli.command("erase")
@click.option("--email", required=True)
@click.option("--yes", is_flag=True, help="Confirm: this cannot be undone.")
def erase_command(email: str, yes: bool) -> None:
    """Erase a person's data and account."""
    from lms.privacy.services import erase_user

    if not yes:
        raise click.ClickException("Erasure cannot be undone: pass --yes.")
    from lms.privacy.services import after_erasure_commit

    erase_user(_user(email))
    db.session.commit()
    after_erasure_commit()
    click.echo(
        "The account and its personal data were erased; its certificates stay only as "
        "anonymous records that verification shows as withdrawn."
    )


@privacy_cli.command("retention")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
def retention_command(dry_run: bool) -> None:
    """Remove personal data older than the retention periods."""
    from lms.privacy.retention import apply

    counts = apply(dry_run=dry_run)
    if not dry_run:
        db.session.commit()
    verb = "Would remove" if dry_run else "Removed"
    for label, count in counts.items():
        click.echo(f"{verb} {count} {label}.")
