"""Background jobs on a kept queue (Huey): declaring, enqueueing after commit, failed jobs."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    from lms.cli import add_group
    from lms.jobs.cli import jobs_cli
    from lms.jobs.routes import bp

    app.register_blueprint(bp)
    add_group(jobs_cli)
