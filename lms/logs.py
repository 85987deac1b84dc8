"""Secret tokens never reach a log: :func:`redact` and the filter that applies it.

A verification link or a set-password link is as good as the secret itself, and log
files are read, copied and kept far more widely than the database. So every line
this app writes, gunicorn's access log and error log, and the development server's
request log pass through :func:`redact` before they are written.

The secrets in URLs are listed once, in :data:`SECRET_PATHS` (a path segment after
a prefix) and :data:`SECRET_QUERY` (a query parameter): a new kind of link that
carries a secret (a calendar feed, say) is added there and is redacted everywhere.
"""

from __future__ import annotations

import logging
import re

from flask import Flask

REDACTED = "[redacted]"

#: Path prefixes whose next segment is a secret, with why.
SECRET_PATHS: dict[str, str] = {
    "/verify/": "certificate verification token (the QR code's link)",
    "/api/v1/certificates/": "the same verification token, through the API",
    "/password/set/": "set-password and password-reset links",
    "/certificates/files/": "a certificate PDF's short-lived download link",
    "/calendar/": "a person's calendar feed address (webcal:// and https)",
}
#: Segments after a prefix above that are routes, not secrets (``POST /verify/file``).
NOT_SECRET_SEGMENTS = frozenset({"file"})
#: Query parameters holding a secret: ``token`` and any name ending in ``token``.
SECRET_QUERY = r"[A-Za-z0-9_.-]*token"  # noqa: S105 - a pattern, not a password

# Characters that end a path segment in a URL, a request line, a quoted log field or HTML.
_END = r"/?#&;\s\"'<>\\"
# A slash, also percent-encoded: the server decodes ``%2F`` in a path before routing, so
# ``/verify%2F<token>`` reaches the same page and must be redacted in the raw request line.
_SLASH = "(?:/|%2[Ff])"


def _pattern(text: str) -> str:
    return _SLASH.join(re.escape(part) for part in text.split("/"))


_PATH_RE = re.compile(
    "(?P<prefix>"
    + "|".join(_pattern(p) for p in sorted(SECRET_PATHS, key=len, reverse=True))
    + ")"
    + "(?!(?:"
    + "|".join(re.escape(s) for s in sorted(NOT_SECRET_SEGMENTS))
    + f")(?:[{_END}]|%2[Ff]|$))"
    + f"(?:(?!%2[Ff])[^{_END}])+"
)
_QUERY_RE = re.compile(rf"(?P<prefix>[?&;]{SECRET_QUERY}=)[^&#;\s\"'<>]*", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every secret token in a URL replaced by ``[redacted]``.

    Covers the path segments of :data:`SECRET_PATHS` wherever they appear (a path,
    a full URL, a request line, a Referer) and :data:`SECRET_QUERY` parameters.
    Text without secrets comes back unchanged; redacting twice changes nothing.
    """
    if not text or ("/" not in text and "%2" not in text and "token" not in text.lower()):
        return text
    text = _PATH_RE.sub(lambda m: m.group("prefix") + REDACTED, text)
    return _QUERY_RE.sub(lambda m: m.group("prefix") + REDACTED, text)


class RedactFilter(logging.Filter):
    """Rewrites a record's message (and traceback) with :func:`redact`; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - the handler reports a broken record itself
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatted here, as Formatter.format would, so the text can be redacted;
            # the formatter then uses it as it is.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactFilter()


def add_filter(target: logging.Logger | logging.Handler) -> None:
    """Install the redaction filter on a logger or handler (once)."""
    if not any(isinstance(f, RedactFilter) for f in target.filters):
        target.addFilter(_FILTER)


def install(app: Flask) -> None:
    """Redact every log line of this process that reaches a handler known now.

    Handler filters see records from every logger that propagates to them; logger
    filters catch records logged straight to a logger whose handlers are added later
    (werkzeug adds its own at its first line). Covered: the root logger's handlers,
    the app's logger and its handlers, werkzeug (the development server's request
    log) and Python's last-resort handler. Gunicorn's loggers are covered by
    ``gunicorn.conf.py``'s logger class.
    """
    loggers = [logging.getLogger(), app.logger, logging.getLogger("werkzeug")]
    for logger in loggers:
        add_filter(logger)
        for handler in logger.handlers:
            add_filter(handler)
    if logging.lastResort is not None:
        add_filter(logging.lastResort)


# --- Audit: who looked at whom ---------------------------------------------------------

#: Pages and files that show people (union membership is special-category data), each
#: successful view of which leaves one line on the ``lms.audit`` logger: who, what, the
#: ids in the address. Never a name, an email, a search or a filter (a search box can
#: hold a name), and never a secret (the line goes through :func:`redact` too).
AUDITED: dict[str, str] = {
    "accreditation.register": "register",
    "accreditation.register_csv": "register export",
    "accreditation.certificates": "certificates list",
    "accreditation.certificate": "certificate record",
    "accreditation.request_": "accreditation request",
    "admin.users": "people list",
    "admin.user": "person",
    "runs.run": "run roster",
    "runs.attendance": "attendance",
    "runs.admin_run": "run places",
    "review.queue": "review queue",
    "review.review": "case-study answer",
    "feedback.run_csv": "feedback export",
    "feedback.course_csv": "feedback export",
}

audit_log = logging.getLogger("lms.audit")


def audit_response(response):
    """After a request: record a successful view of an audited page (see AUDITED)."""
    from flask import request

    what = AUDITED.get(request.endpoint or "")
    if what is None or response.status_code >= 400 or request.method not in ("GET", "POST"):
        return response
    audit(what, **(request.view_args or {}))
    return response


def audit(what: str, viewer: int | str | None = None, **ids) -> None:
    """One audit line: the signed-in viewer, the request's method, ``what`` was seen and
    ``ids`` (numbers and codes only). For views that audit themselves, e.g. a staff
    member opening someone else's certificate PDF (one's own is not audited).
    ``viewer``: the viewer's id when the request has no session to read it from."""
    from flask import request

    shown = " ".join(f"{key}={value}" for key, value in sorted(ids.items()))
    audit_log.info(
        "user %s %s %s%s",
        viewer if viewer is not None else viewer_id(),
        request.method,
        what,
        f" {shown}" if shown else "",
    )


def viewer_id() -> str:
    """The signed-in person's id for a log line, without touching the database: after
    the request's commit the user object is expired, and reading it would start a new
    transaction (on SQLite, a write lock held until the request ends)."""
    from flask import g, session
    from flask_login import AnonymousUserMixin
    from sqlalchemy import inspect

    user = g.get("_login_user")
    # Not ``is_authenticated``: Flask-Login's answers it from ``is_active``, a column.
    if user is not None and not isinstance(user, AnonymousUserMixin):
        identity = inspect(user).identity
        if identity:
            return str(identity[0])
    raw = dict.get(session._get_current_object(), "_user_id") if session else None
    return str(raw).partition(":")[0] if raw else "-"
