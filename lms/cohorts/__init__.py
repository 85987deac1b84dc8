"""How a facilitator's cohort is doing: per run, trainees by activities with completion,
attendance and review state, and the same as CSV."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    from lms.cohorts.routes import bp

    app.register_blueprint(bp)
