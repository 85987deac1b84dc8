"""The training office's pages: people, roles, imports."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    from lms.admin.routes import bp

    app.register_blueprint(bp)
