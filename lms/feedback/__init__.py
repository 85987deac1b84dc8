"""Anonymous feedback: forms, per-run tallies, released results and "you said, we did"."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    import lms.feedback.models  # noqa: F401 - its tables
    from lms.feedback.routes import bp
    from lms.feedback.services import activity_context, connect_signals

    app.register_blueprint(bp)
    connect_signals()
    # Extra facts for activity pages: fn(course, activity, user) -> dict.
    app.extensions.setdefault("lms.activity_context", []).append(activity_context)
