"""Privacy (UK GDPR): what each domain holds about a person, subject access export, erasure."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    import lms.privacy.models  # noqa: F401 - its table (privacy_export)
    import lms.privacy.retention  # noqa: F401 - registers the daily retention and export jobs
    from lms.cli import add_group
    from lms.privacy.cli import privacy_cli
    from lms.privacy.routes import bp

    app.register_blueprint(bp)
    add_group(privacy_cli)
