"""Security headers, safe redirects and role checks used by every domain."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort
from flask_login import current_user, login_required

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


def add_security_headers(response: Response) -> Response:
    """Add the headers above (and no-store to pages) where the view has not set them.

    The names present are read once rather than searched for each header
    (``Headers.setdefault`` scans the list every time).
    """
    headers = response.headers
    present = {name.lower() for name, _value in headers}
    headers.extend((name, value) for name, lower, value in SECURITY_HEADERS if lower not in present)
    if "cache-control" not in present and response.mimetype == "text/html":
        # Pages can show who is in the union; keep them out of shared caches.
        headers["Cache-Control"] = "no-store"
    return response


def init_security(app: Flask) -> None:
    app.after_request(add_security_headers)


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
