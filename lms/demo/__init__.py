"""A generator of realistic demo sites: `flask lms demo populate --trainees N`."""


def init_app(app) -> None:
    """Add this domain to ``app``: its blueprint, CLI and signal listeners."""
    from lms.cli import add_group
    from lms.demo.cli import demo_cli

    add_group(demo_cli)
