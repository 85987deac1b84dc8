"""Accreditation: requests, officers' decisions, certificates, their PDFs and verification."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    import lms.accreditation.models  # noqa: F401 - its tables
    from lms.accreditation.cli import accreditation_cli, certificates_cli
    from lms.accreditation.routes import bp
    from lms.accreditation.services import connect_signals
    from lms.accreditation.verify import bp as verify_bp
    from lms.cli import add_group

    app.register_blueprint(bp)
    app.register_blueprint(verify_bp)
    add_group(accreditation_cli)
    add_group(certificates_cli)
    connect_signals()
