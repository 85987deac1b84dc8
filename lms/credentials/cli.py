"""`flask lms credentials ...`: issuer key rotation; the credential export command."""

from __future__ import annotations

import click
from flask.cli import AppGroup

credentials_cli = AppGroup("credentials", help="Open Badges 3.0 issuer keys.")


@credentials_cli.command("rotate-keys")
def rotate_keys() -> None:
    """Add a new Ed25519 and RSA key; old keys stay in the DID document."""
    from lms.credentials.services import rotate_keys as rotate

    click.echo(f"New issuer keys: {rotate()} (earlier keys kept in the DID document).")


@click.command("credential")
@click.argument("number")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["jwt", "json"]), default="jwt")
def credential(number: str, output: str, fmt: str) -> None:
    """Write certificate NUMBER's Open Badges 3.0 credential (VC-JWT, or JSON)."""
    from sqlalchemy import select

    from lms.accreditation.models import Certificate
    from lms.credentials import services
    from lms.extensions import db

    certificate = db.session.scalar(select(Certificate).where(Certificate.number == number))
    if certificate is None:
        raise click.ClickException(f"No certificate {number}.")
    cred = services.build_credential(certificate)
    text = services.dumps(cred) if fmt == "json" else services.sign_jwt(cred)
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(text)
    click.echo(f"Wrote {output}")
