"""Review of written work: the queue, a reviewer's judgement and what the trainee sees."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    import lms.review.models  # noqa: F401 - its tables
    from lms.review.reviewer_routes import bp as reviewers_bp
    from lms.review.routes import bp

    app.register_blueprint(bp)
    app.register_blueprint(reviewers_bp)
