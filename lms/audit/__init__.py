"""The issuance and decisions log: append-only and hash-chained, so a changed or removed
entry shows. Every issue, re-issue, revocation, confirmation and decline is one entry."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    import lms.audit.models  # noqa: F401 - its tables
    from lms.audit.cli import audit_cli
    from lms.audit.routes import bp
    from lms.audit.services import connect_signals
    from lms.cli import add_group

    app.register_blueprint(bp)
    add_group(audit_cli)
    connect_signals()
