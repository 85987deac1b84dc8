"""`flask lms credentials ...`: issuer key rotation; the credential export command."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

credentials_cli = AppGroup("credentials", help="Open Badges 3.0 issuer keys.")


@credentials_cli.command("rotate-keys")
def rotate_keys() -> None:
    """Add a new Ed25519 and RSA key; old keys stay in the DID document."""
    from lms.credentials.services import rotate_keys as rotate

    click.echo(f"New issuer keys: {rotate()} (earlier keys kept in the DID document).")


@click.command("credential")
@with_appcontext
@click.argument("number")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["jwt", "json"]), default="jwt")
def credential(number: str, output: str, fmt: str) -> None:
    """Write certificate NUMBER's Open Badges 3.0 credential: VC-JWT, or JSON with an
    embedded Data Integrity proof (eddsa-rdfc-2022)."""
    from sqlalchemy import select

    from lms.accreditation.models import Certificate
    from lms.credentials import services
    from lms.extensions import db

    certificate = db.session.scalar(select(Certificate).where(Certificate.number == number))
    if certificate is None:
        raise click.ClickException(f"No certificate {number}.")
    if certificate.user_id is None:
        raise click.ClickException(
            f"Certificate {number} was withdrawn at the holder's request: it has no credential."
        )
    if fmt == "json":
        text = services.dumps(services.signed_json(certificate))
    else:
        text = services.sign_jwt(services.build_credential(certificate))
    db.session.commit()  # a certificate from before status lists gets its position kept
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(text)
    click.echo(f"Wrote {output}")
    if not current_app.config.get("LMS_BASE_URL"):
        # Outside a request the issuer's did:web can only come from LMS_BASE_URL.
        click.echo(
            f"Warning: LMS_BASE_URL is not set, so the credential names the issuer "
            f"{services.issuer_did()}, which verifiers cannot resolve. Set LMS_BASE_URL to "
            "the site's address (e.g. https://training.example.org) and write it again.",
            err=True,
        )


@click.command("revoke")
@with_appcontext
@click.argument("number")
@click.option("--reason", required=True, help="Why it is revoked (kept with the certificate).")
def revoke(number: str, reason: str) -> None:
    """Revoke certificate NUMBER: verification says revoked, its status list bit is set."""
    from sqlalchemy import select

    from lms.accreditation import services as accreditation
    from lms.accreditation.models import Certificate
    from lms.credentials import status
    from lms.extensions import db

    certificate = db.session.scalar(select(Certificate).where(Certificate.number == number))
    if certificate is None:
        raise click.ClickException(f"No certificate {number}.")
    try:
        # As the web page does, with no person as actor: the site's operator.
        accreditation.revoke(certificate, None, reason)
    except accreditation.AccreditationError as exc:
        raise click.ClickException(f"Certificate {number}: {exc.message}") from exc
    entry = status.mark_revoked(certificate)  # the listener did it already; a no-op then
    db.session.commit()
    click.echo(
        f"Revoked certificate {number}; status list {entry.list_id} position "
        f"{entry.position} is set and the list is being published again."
    )
