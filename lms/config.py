"""Configuration: built-in defaults, then ``instance/config.py``, then ``LMS_*`` environment.

Every setting can be given as an environment variable named ``LMS_<NAME>``; the
documented ones are listed in README.md. Values given to ``create_app(config=...)``
win over everything (tests use that).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# name -> (default, parser). The Flask key is the name without the LMS_ prefix for
# Flask's own settings, and the full LMS_ name for ours.
_ENV_SETTINGS: dict[str, tuple[str, Any]] = {
    "LMS_DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "LMS_SECRET_KEY": ("SECRET_KEY", str),
    "LMS_COURSES_DIR": ("LMS_COURSES_DIR", str),
    "LMS_CERTIFICATES_DIR": ("LMS_CERTIFICATES_DIR", str),
    "LMS_CERTIFICATE_STORAGE_DIR": ("LMS_CERTIFICATE_STORAGE_DIR", str),
    "LMS_VERIFY_LIMIT": ("LMS_VERIFY_LIMIT", str),
    "LMS_BASE_URL": ("LMS_BASE_URL", str),
    "LMS_CALENDAR_HOST": ("LMS_CALENDAR_HOST", str),
    "LMS_RETAIN_READ_NOTICES_DAYS": ("LMS_RETAIN_READ_NOTICES_DAYS", int),
    "LMS_RETAIN_SESSIONS_DAYS": ("LMS_RETAIN_SESSIONS_DAYS", int),
    "LMS_RETAIN_PASSWORD_TOKENS_DAYS": ("LMS_RETAIN_PASSWORD_TOKENS_DAYS", int),
    "LMS_RETAIN_LEFT_LEARNING_DAYS": ("LMS_RETAIN_LEFT_LEARNING_DAYS", int),
    "LMS_RETAIN_FINISHED_JOBS_DAYS": ("LMS_RETAIN_FINISHED_JOBS_DAYS", int),
    "LMS_PRIVACY_EXPORT_DAYS": ("LMS_PRIVACY_EXPORT_DAYS", int),
    "LMS_PRIVACY_EXPORT_DIR": ("LMS_PRIVACY_EXPORT_DIR", str),
    "LMS_RATELIMIT_STORAGE_URI": ("RATELIMIT_STORAGE_URI", str),
    "LMS_SECURE_COOKIES": ("LMS_SECURE_COOKIES", lambda v: v.lower() in {"1", "true", "yes"}),
    "LMS_SMTP_HOST": ("LMS_SMTP_HOST", str),
    "LMS_SMTP_PORT": ("LMS_SMTP_PORT", int),
    "LMS_SMTP_USERNAME": ("LMS_SMTP_USERNAME", str),
    "LMS_SMTP_PASSWORD": ("LMS_SMTP_PASSWORD", str),
    "LMS_SMTP_STARTTLS": ("LMS_SMTP_STARTTLS", lambda v: v.lower() in {"1", "true", "yes"}),
    "LMS_MAIL_FROM": ("LMS_MAIL_FROM", str),
    "LMS_DEMO_PASSWORD": ("LMS_DEMO_PASSWORD", str),
    "LMS_PASSWORD_TOKEN_HOURS": ("LMS_PASSWORD_TOKEN_HOURS", int),
    "LMS_RESET_TOKEN_HOURS": ("LMS_RESET_TOKEN_HOURS", int),
    "LMS_TRUSTED_PROXIES": ("LMS_TRUSTED_PROXIES", int),
    "LMS_QUEUE_URL": ("LMS_QUEUE_URL", str),
    "LMS_JOB_STALE_SECONDS": ("LMS_JOB_STALE_SECONDS", int),
    "LMS_SESSION_URL": ("LMS_SESSION_URL", str),
    "LMS_LOGIN_LIMIT_PER_ADDRESS": ("LMS_LOGIN_LIMIT_PER_ADDRESS", str),
    "LMS_LOGIN_DELAY_MAX_SECONDS": ("LMS_LOGIN_DELAY_MAX_SECONDS", int),
    "LMS_LOGIN_ALERT_FAILURES": ("LMS_LOGIN_ALERT_FAILURES", int),
    "LMS_SESSION_IDLE_MINUTES": ("LMS_SESSION_IDLE_MINUTES", int),
    "LMS_SESSION_MAX_HOURS": ("LMS_SESSION_MAX_HOURS", int),
    "LMS_PASSWORD_PEPPER": ("LMS_PASSWORD_PEPPER", str),
}


def defaults(instance_path: Path) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance_path / 'lms.db'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "LMS_COURSES_DIR": str(PROJECT_ROOT / "courses"),
        "LMS_CERTIFICATES_DIR": str(PROJECT_ROOT / "certificates"),
        # Issued PDFs, one file per rendering named by its SHA-256 (a shared volume in production).
        "LMS_CERTIFICATE_STORAGE_DIR": str(instance_path / "certificates"),
        "LMS_BASE_URL": None,
        # The host in calendar events' UIDs (lms.calendars): never change it once
        # people subscribe. None: SERVER_NAME, then LMS_BASE_URL's host.
        "LMS_CALENDAR_HOST": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "LMS_SECURE_COOKIES": False,
        "LMS_SMTP_HOST": None,
        "LMS_SMTP_PORT": 587,
        "LMS_SMTP_USERNAME": None,
        "LMS_SMTP_PASSWORD": None,
        "LMS_SMTP_STARTTLS": True,
        "LMS_MAIL_FROM": "training@localhost",
        "LMS_DEMO_PASSWORD": None,
        "LMS_PASSWORD_TOKEN_HOURS": 72,
        "LMS_RESET_TOKEN_HOURS": 2,
        # Proxies in front that set X-Forwarded-For/-Proto (0: none, use the peer's address).
        "LMS_TRUSTED_PROXIES": 0,
        # Background jobs: None means queue.db in the instance folder (immediate when TESTING).
        "LMS_QUEUE_URL": None,
        # A job running (or overdue in the queue) this long is recovered by the sweeper.
        "LMS_JOB_STALE_SECONDS": 900,
        # argon2id parameters: RFC 9106's second recommended option. Tests lower them.
        "LMS_ARGON2_TIME_COST": 3,
        "LMS_ARGON2_MEMORY_COST": 65536,
        # The pepper every password is keyed with before argon2 (lms.accounts.services):
        # keep it outside the database. Unset: derived from SECRET_KEY (HKDF), so
        # changing SECRET_KEY then stops every password working, as changing this does.
        "LMS_PASSWORD_PEPPER": None,
        "LMS_LOGIN_LIMIT_PER_ADDRESS": "20 per 15 minutes",
        # After 3 wrong passwords for one email from one address, that pair waits 2, 4,
        # 8... seconds, at most this long (lms.accounts.throttle); others are not slowed.
        "LMS_LOGIN_DELAY_MAX_SECONDS": 60,
        # This many failures for one account within an hour, from anywhere: email the owner.
        "LMS_LOGIN_ALERT_FAILURES": 10,
        "LMS_VERIFY_LIMIT": "30 per minute;300 per hour",
        # Sessions live on the server (lms/sessions): the app's database, or Redis when
        # this is redis://... The cookie holds only a random id, for the browser session.
        "LMS_SESSION_URL": None,
        # A shared office computer: logged out after 30 minutes without a request, and
        # after 10 hours (a working day) however active.
        "LMS_SESSION_IDLE_MINUTES": 30,
        "LMS_SESSION_MAX_HOURS": 10,
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "lms_session",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 60 * 60 * 8,
        "WTF_CSRF_TIME_LIMIT": 60 * 60 * 8,
        "BABEL_DEFAULT_LOCALE": "en_GB",
        "BABEL_DEFAULT_TIMEZONE": "Europe/London",
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
    }


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Fill ``app.config`` in order: defaults, instance/config.py, LMS_* environment, overrides."""
    instance_path = Path(app.instance_path)
    app.config.update(defaults(instance_path))
    app.config.from_pyfile(str(instance_path / "config.py"), silent=True)
    for env_name, (key, parse) in _ENV_SETTINGS.items():
        if env_name in os.environ and os.environ[env_name] != "":
            app.config[key] = parse(os.environ[env_name])
    if overrides:
        app.config.update(overrides)
    app.config["SESSION_COOKIE_SECURE"] = app.config["LMS_SECURE_COOKIES"]
    if app.config["LMS_SECURE_COOKIES"] and not app.config["SESSION_COOKIE_NAME"].startswith("__"):
        # ASVS 3.4.4: a __Host- cookie is only accepted Secure, for this host, on Path=/.
        app.config["SESSION_COOKIE_NAME"] = "__Host-" + app.config["SESSION_COOKIE_NAME"]
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["LMS_SECURE_COOKIES"]
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A SQLite file cannot drop a connection: checking it with a SELECT 1 at the
        # start of every request is pure cost (a server database keeps the check).
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options["pool_pre_ping"] = False
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance_path)


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secret(instance_path: Path) -> str:
    """Read the generated secret key from the instance folder, creating it once."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Created with owner-only permissions: it signs sessions and CSRF tokens.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    log.info("Generated a new secret key in %s", path)
    return key
