"""In-person course runs: days, places, waiting lists and attendance."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    import lms.runs.models  # noqa: F401 - its tables
    from lms.runs.routes import bp

    app.register_blueprint(bp)
