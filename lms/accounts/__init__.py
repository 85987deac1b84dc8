"""People and their accounts: sign-up, login, passwords, roles, regions."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    import lms.accounts.models  # noqa: F401 - its tables
    from lms.accounts.cli import regions_cli, users_cli
    from lms.accounts.routes import bp
    from lms.cli import add_group

    app.register_blueprint(bp)
    add_group(users_cli)
    add_group(regions_cli)
