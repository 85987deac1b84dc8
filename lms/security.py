"""Security headers, safe redirects and role checks used by every domain."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, request
from flask.globals import request_ctx
from flask_login import current_user, login_required
from werkzeug.exceptions import MethodNotAllowed

from lms.accounts.models import Role

F = TypeVar("F", bound=Callable[..., Any])

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


def is_safe_next(target: str | None) -> bool:
    """Whether ``target`` is a path on this site (never another host, scheme or ``//``)."""
    if not target or not isinstance(target, str):
        return False
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


#: Sent with every response unless the view set its own; (name, lowercase, value).
SECURITY_HEADERS = [
    (name, name.lower(), value)
    for name, value in (
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    )
]


#: With LMS_SECURE_COOKIES (the site is served over HTTPS only): browsers use HTTPS
#: for a year, subdomains included, and never let a person click through a bad certificate.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"

#: Endpoints whose answers are the same for everyone and may be cached (CSS, images).
CACHEABLE_ENDPOINTS = frozenset({"static"})


def allowed_methods() -> list[str]:
    """The methods the current request's URL accepts (for a 405's ``Allow`` header)."""
    error = request.routing_exception
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        return sorted(error.valid_methods)
    adapter = request_ctx.url_adapter
    if adapter is None:
        return []
    return sorted(adapter.allowed_methods())


def add_security_headers(response: Response, *, hsts: bool = False) -> Response:
    """Add the headers above where the view has not set them, and:

    - ``Cache-Control: no-store`` on every answer but static files: pages, CSV
      exports, PDFs and the API can all show personal data, and a shared office
      computer's browser or a proxy must not keep them;
    - ``Strict-Transport-Security`` when ``hsts`` (LMS_SECURE_COOKIES);
    - ``Allow`` on a 405, as RFC 9110 asks (the app's 405 page replaces Werkzeug's
      own answer, which carried it).

    The names present are read once rather than searched for each header
    (``Headers.setdefault`` scans the list every time).
    """
    headers = response.headers
    present = {name.lower() for name, _value in headers}
    headers.extend((name, value) for name, lower, value in SECURITY_HEADERS if lower not in present)
    if "cache-control" not in present and (
        response.status_code >= 400 or request.endpoint not in CACHEABLE_ENDPOINTS
    ):
        headers["Cache-Control"] = "no-store"
    if hsts and "strict-transport-security" not in present:
        headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    if response.status_code == 405 and "allow" not in present:
        methods = allowed_methods()
        if methods:
            headers["Allow"] = ", ".join(methods)
    return response


def init_security(app: Flask) -> None:
    hsts = bool(app.config.get("LMS_SECURE_COOKIES"))

    def security_headers(response: Response) -> Response:
        return add_security_headers(response, hsts=hsts)

    app.after_request(security_headers)


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Allow a view to people holding any of ``roles``; others get 403, anonymous a login page."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not any(current_user.has_role(role) for role in roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
