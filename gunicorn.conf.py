"""gunicorn settings for the MiP training platform: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Environment:
  PORT             port to listen on (default 5000), on HOST (default 127.0.0.1)
  LMS_BIND         full bind address(es) instead, e.g. ``0.0.0.0:8000`` or
                   ``unix:/run/lms.sock``; several separated by commas
  WEB_CONCURRENCY  number of worker processes (default 2)
  LMS_GUNICORN_CONTROL_SOCKET  path of gunicorn's control socket (default: none)
  GUNICORN_CMD_ARGS  any other gunicorn option (gunicorn reads it itself)

Sync workers: every request is short (PDFs are rendered by the job worker), and a
process per request in flight keeps SQLite and PostgreSQL connections simple. The
access log goes to stdout, the error log to stderr, and both pass through
:func:`lms.logs.redact`, so verification and set-password tokens never reach them.
"""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

from lms.logs import add_filter, redact

_bind = os.environ.get("LMS_BIND", "").strip()
if _bind:
    bind = [part.strip() for part in _bind.split(",") if part.strip()]
else:
    bind = [f"{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or '5000'}"]

workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
worker_class = "sync"

# The app is built once in the master and the workers are forked from it: they
# start answering at once and share the loaded code and course content. Nothing in
# create_app holds a database connection (see post_fork, which makes sure).
preload_app = True

# Heartbeat files in memory, not on a disk that may stall (as gunicorn advises).
if os.path.isdir("/dev/shm"):  # noqa: S108 - gunicorn's own recommendation
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# gunicorn's control socket (for gunicornc) lives at one path per user by default,
# so two servers on one machine would fight over it: off unless a path is given.
_control = os.environ.get("LMS_GUNICORN_CONTROL_SOCKET", "").strip()
if _control:
    control_socket = _control
else:
    control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# The combined log format, plus the time taken in milliseconds.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'

# Atoms holding a bare query string (no leading "?"), redacted as a query.
_QUERY_ATOMS = ("q", "{query_string}e")


class RedactingLogger(Logger):
    """gunicorn's logger, with every secret token in a URL replaced by ``[redacted]``.

    Access lines: each value that can appear in a line (request line, path, query,
    Referer and other headers, environ values) is redacted before formatting. Error
    log: the redaction filter on ``gunicorn.error`` (and on ``gunicorn.access`` too,
    in case a custom format puts a secret together from parts) rewrites each record's
    message and traceback.
    """

    def setup(self, cfg):  # noqa: D102
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            add_filter(log)

    def atoms(self, resp, req, environ, request_time):  # noqa: D102
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if isinstance(value, str):
                atoms[key] = redact(value)
        for key in _QUERY_ATOMS:
            value = atoms.get(key)
            if isinstance(value, str) and value:
                atoms[key] = redact("?" + value)[1:]
        return atoms

    def access(self, resp, req, environ, request_time):  # noqa: D102
        # Kept explicit: the line is built from atoms(), redacted above.
        super().access(resp, req, environ, request_time)


logger_class = RedactingLogger


def post_fork(server, worker):
    """Each worker opens its own connections: none inherited from the master."""
    import sys

    wsgi = sys.modules.get("wsgi")
    app = getattr(wsgi, "app", None)
    if app is None:
        return
    from lms.extensions import db

    with app.app_context():
        # Drop (without closing: they belong to the master) any pooled connections.
        db.engine.dispose(close=False)
    queue = app.extensions.get("lms.queue")
    storage = getattr(getattr(queue, "huey", None), "storage", None)
    if storage is not None and getattr(storage, "_conn", None) is not None:
        storage._conn = None  # a SQLite queue's connection, opened again on first use
