"""Open Badges 3.0 credentials: the issuer's did:web keys and the signed credential forms."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint and CLI."""
    from lms.cli import add_group
    from lms.credentials.cli import credentials_cli
    from lms.credentials.routes import bp

    app.register_blueprint(bp)
    add_group(credentials_cli)
