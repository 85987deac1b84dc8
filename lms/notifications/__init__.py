"""Telling people what happened: an in-app list and email (through the job queue),
listening to the other domains' signals; each person chooses per kind whether to get email."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    import lms.notifications.models  # noqa: F401 - its tables
    from lms.notifications.routes import bp
    from lms.notifications.services import connect_signals

    app.register_blueprint(bp)
    connect_signals()
