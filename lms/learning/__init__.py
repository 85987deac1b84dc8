"""A trainee's course: enrolment, progress through activities, drafts and attempts."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    import lms.learning.models  # noqa: F401 - its tables
    from lms.learning.routes import bp
    from lms.learning.services import connect_signals

    app.register_blueprint(bp)
    connect_signals()
