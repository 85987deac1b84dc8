"""The course catalogue: courses loaded from their folders, their pages and the home page."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    from lms.catalogue.cli import courses_cli
    from lms.catalogue.routes import bp
    from lms.cli import add_group

    app.register_blueprint(bp)
    add_group(courses_cli)
