"""Privacy (UK GDPR): what each domain holds about a person, subject access export, erasure."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    import lms.privacy.retention  # noqa: F401 - registers the daily retention job
    from lms.cli import add_group
    from lms.privacy.cli import privacy_cli

    add_group(privacy_cli)
