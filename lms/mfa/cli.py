"""``flask lms users remove-second-factor``: for a person who lost their phone or key
and every recovery code. The training office checks who is asking first (ASVS 2.5.7)."""

from __future__ import annotations

import click

from lms.accounts import services as accounts
from lms.accounts.cli import users_cli
from lms.extensions import db
from lms.i18n import _
from lms.mfa import services
from lms.sessions import services as sessions


@users_cli.command("remove-second-factor")
@click.argument("email")
def remove_second_factor(email: str) -> None:
    """Remove every second factor and recovery code of EMAIL and end their sessions.

    Only after checking, as for a new account, that the person asking is its owner.
    They are told by email, and must set one up again if their role needs it."""
    user = accounts.find_by_email(email)
    if user is None:
        raise click.ClickException(f"no account {email!r}")
    removed = services.remove_all(user)
    sessions.end_all(user.id)
    services.tell_factor_changed(
        user, _("every second factor and recovery code was removed by the training office.")
    )
    db.session.commit()
    click.echo(f"Removed {removed} second factor(s) of {user.email}; their sessions have ended.")
