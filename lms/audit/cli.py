"""`flask lms audit ...`: check the issuance and decisions log."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lms.audit import services

audit_cli = AppGroup("audit", help="The issuance and decisions log.")


@audit_cli.command("verify")
def verify() -> None:
    """Recompute the log's hash chain; report the first broken link and exit 1 if any."""
    report = services.verify_chain()
    if report.ok:
        click.echo(f"The audit log is whole: {report.entries:,} entries, each following the last.")
        return
    raise click.ClickException(
        f"The chain breaks at entry {report.broken_at}: {report.reason}. "
        f"The {report.entries:,} entries before it are whole."
    )
