"""Open Badges 3.0 credentials: the issuer's did:web keys and the signed credential forms."""


def init_app(app) -> None:
    """Add this domain to ``app``: its tables, blueprints (downloads, status lists, the
    credential check), CLI, status-list signal listeners and publish job."""
    import lms.credentials.models  # noqa: F401 - its tables
    from lms.accreditation.cli import certificates_cli
    from lms.cli import add_group
    from lms.credentials import status
    from lms.credentials.cli import credential, credentials_cli, revoke
    from lms.credentials.routes import bp
    from lms.credentials.verify_routes import init_app as init_credential_verify

    app.register_blueprint(bp)
    init_credential_verify(app)  # checking a pasted credential: page form and API
    add_group(credentials_cli)
    # `lms certificates credential` and `lms certificates revoke` sit beside `pdf`.
    for command in (credential, revoke):
        if command.name not in certificates_cli.commands:
            certificates_cli.add_command(command)
    status.connect_signals()
