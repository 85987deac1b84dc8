"""Course days in people's calendars: iCalendar files per run and per place, and a
personal feed URL (a secret, revocable token) that calendar apps subscribe to."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    import lms.calendars.models  # noqa: F401 - its tables
    from lms.calendars.routes import bp

    app.register_blueprint(bp)
