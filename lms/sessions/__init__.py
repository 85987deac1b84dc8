"""Server-side sessions: where a person is logged in, for how long, and ending it."""


def init_app(app) -> None:
    """Add the pages of a person's sessions (where they are logged in, ending them).

    The session store itself is part of the app's frame (``lms.sessions.store``), set up
    before any domain since every request reads it.
    """
    from lms.sessions.routes import bp

    app.register_blueprint(bp)
