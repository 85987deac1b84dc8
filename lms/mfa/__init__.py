"""A second factor at login: an authenticator app (TOTP), recovery codes, security keys."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    from lms.mfa.routes import init_app as init_routes

    init_routes(app)  # the second factor's blueprint, settings and account-page section
