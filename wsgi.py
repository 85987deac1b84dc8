"""WSGI entry point: ``flask --app wsgi ...`` or any WSGI server (``wsgi:app``)."""

from lms import create_app

app = create_app()
