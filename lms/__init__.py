"""MiP training platform. :func:`create_app` is the only place the app is assembled."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError

from lms.config import PROJECT_ROOT, load_config
from lms.db import dispatch as _dispatch

log = logging.getLogger(__name__)


class Request(Flask.request_class):
    """Flask's request, without NUL characters in what people typed.

    U+0000 cannot be stored in a PostgreSQL text column (and means nothing in a name or
    an answer): it is removed from query and form values, once, where they are parsed,
    so every form keeps the rest of what was typed. Uploaded files are left as sent.
    """

    @staticmethod
    def _without_nul(values):
        pairs = list(values.items(multi=True))
        if not any("\x00" in key or "\x00" in value for key, value in pairs):
            return values
        return values.__class__([(k.replace("\x00", ""), v.replace("\x00", "")) for k, v in pairs])

    def _load_form_data(self) -> None:
        super()._load_form_data()
        if "form" in self.__dict__:
            self.__dict__["form"] = self._without_nul(self.__dict__["form"])

    @property
    def args(self):  # noqa: D102
        parsed = self.__dict__.get("_lms_args")
        if parsed is None:
            parsed = self._without_nul(super().args)
            self.__dict__["_lms_args"] = parsed
        return parsed


class App(Flask):
    """Flask, with views of SQLite read requests run through :func:`lms.db.dispatch`."""

    request_class = Request

    def dispatch_request(self):  # noqa: D102
        return _dispatch(super().dispatch_request)


#: The domains, each a package of ``lms`` with an ``init_app(app)``.
DOMAINS = (
    "catalogue",
    "accounts",
    "sessions",
    "learning",
    "admin",
    "runs",
    "review",
    "feedback",
    "accreditation",
    "jobs",
    "calendars",
    "cohorts",
    "notifications",
    "audit",
    "credentials",
    "mfa",
    "privacy",
    "demo",
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, extensions, activity types, courses, blueprints.

    Raises lms.catalogue.content.CourseContentError if any course is broken, and
    lms.plugins.RegistryError if two activity types share a name.
    """
    config = dict(config or {})
    instance_path = Path(
        config.pop("INSTANCE_PATH", None)
        or os.environ.get("LMS_INSTANCE_PATH")
        or PROJECT_ROOT / "instance"
    )
    app = App(
        __name__,
        instance_path=str(instance_path),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    instance_path.mkdir(parents=True, exist_ok=True)
    load_config(app, config)
    _init_logging(app)
    _init_proxy(app)

    # The frame's own tables (sessions, the job queue's records); each domain imports
    # its models in its init_app, so the metadata (and migrations) see every table.
    import lms.jobs.models
    import lms.sessions.models  # noqa: F401
    from lms.extensions import babel, csrf, db, limiter, migrate

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            from lms.db import configure_sqlite

            configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    from lms.sessions.store import init_app as init_sessions

    # Server-side sessions (the database, or Redis with LMS_SESSION_URL).
    init_sessions(app)
    csrf.init_app(app)
    limiter.init_app(app)
    _limit_only_where_declared(app)
    babel.init_app(app)
    _init_login(app)

    from lms.jobs.services import init_app as init_jobs

    # The queue for background jobs, and dispatching them after each commit.
    init_jobs(app)

    from lms.catalogue.content import load_catalogue
    from lms.plugins import build_registry

    registry = build_registry()
    app.extensions["lms.activity_types"] = registry
    app.extensions["lms.courses"] = load_catalogue(
        app.config["LMS_COURSES_DIR"], registry, app.config["LMS_CERTIFICATES_DIR"]
    )

    # Each domain adds its blueprint, CLI and signal listeners (its package's init_app),
    # in this order (blueprints' order, and signal listeners' order among domains).
    import importlib

    app.extensions.setdefault("lms.activity_context", [])
    for name in DOMAINS:
        importlib.import_module(f"lms.{name}").init_app(app)

    from lms.security import init_security

    init_security(app)
    _init_transactions(app)
    _init_errors(app)
    _init_templates(app)

    from lms.cli import register_cli

    register_cli(app)
    return app


def _limit_only_where_declared(app: Flask) -> None:
    """Drop Flask-Limiter's check before every request when no limit is app-wide.

    Every limit of the platform is declared on its route (login, reset, verification)
    and checked by its decorator; the extension's before-request check only looks for
    default, application and meta limits, of which there are none unless configured,
    yet costs about 30 microseconds on every request.
    """
    from lms.extensions import limiter

    if any(
        app.config.get(key)
        for key in ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META")
    ):
        return
    hooks = app.before_request_funcs.get(None, [])
    app.before_request_funcs[None] = [
        hook for hook in hooks if hook != limiter._check_request_limit
    ]


def _init_logging(app: Flask) -> None:
    if not app.debug and not app.testing and not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)sZ %(levelname)s %(name)s: %(message)s"
        )
        # Times in UTC (ASVS 7.3.4), the same on every machine whatever its zone.
        for handler in logging.getLogger().handlers:
            if handler.formatter is not None:
                handler.formatter.converter = time.gmtime
    # Alembic announces every plugin it loads at INFO; that is noise on each start.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # WeasyPrint reports every rendering step at INFO.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    from lms.logs import audit_response
    from lms.logs import install as redact_logs

    # No secret token (verification, set-password links) in any log line.
    redact_logs(app)
    # Who looked at which people's records (ASVS 8.3.5), ids only.
    app.after_request(audit_response)


def _init_proxy(app: Flask) -> None:
    """Behind LMS_TRUSTED_PROXIES proxies, take the client's address and scheme from them.

    ProxyFix trusts the last N entries of X-Forwarded-For / X-Forwarded-Proto, so
    rate limits count real clients and links say https. Never set it without a proxy
    in front that overwrites those headers: clients could then choose their address.
    """
    proxies = int(app.config.get("LMS_TRUSTED_PROXIES") or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)


def _init_login(app: Flask) -> None:
    from sqlalchemy.orm import joinedload

    from lms.accounts.models import User
    from lms.extensions import db, login_manager
    from lms.i18n import _l
    from lms.sessions import services as sessions

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    from sqlalchemy import bindparam, select

    # Built once (statement and its cache key), not on every signed-in request; the
    # roles come in the same query: every page's menu asks for them.
    by_id = select(User).options(joinedload(User.roles)).where(User.id == bindparam("id"))

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        raw_id, _sep, fingerprint = user_id.partition(":")
        if not raw_id.isdigit():
            return None
        # Logged in only while this session's login_session row lives (lms.sessions).
        row = sessions.login_row()
        if row is None:
            sessions.drop_session()
            return None
        user = db.session.execute(by_id, {"id": int(raw_id)}).unique().scalar_one_or_none()
        if user is None or user.get_id() != user_id or not user.is_active:
            return None
        if not sessions.check(user, row):
            return None
        return user


def _init_transactions(app: Flask) -> None:
    """One commit at the end of each successful request; rollback otherwise.

    On SQLite, GET requests read in deferred transactions and their few writes run
    after this commit (see :func:`lms.db.configure_sqlite`).
    """
    from lms.db import init_app as init_read_requests
    from lms.db import run_deferred_writes, session_in_use
    from lms.extensions import db

    init_read_requests(app)

    @app.after_request
    def commit(response):
        # A request that never touched the database has no session to end (asking
        # the scoped session would make one).
        if response.status_code < 400:
            if session_in_use():
                db.session.commit()
            run_deferred_writes()
        elif session_in_use():
            db.session.rollback()
        return response


def _init_errors(app: Flask) -> None:
    from lms.i18n import _

    def page(status: int, title: str, message: str):
        return render_template(
            "errors/error.html", status=status, title=title, message=message
        ), status

    def refused(status: int, why: str) -> None:
        # ASVS 7.1.3, 7.2.2: refusals are logged, with who and where, never a secret
        # (the path goes through lms.logs' redaction like every line).
        from lms.logs import viewer_id

        who = viewer_id()
        log.warning(
            "Refused %s: %s %s %s (user %s)", status, why, request.method, request.path, who
        )

    @app.errorhandler(403)
    def forbidden(_e):
        refused(403, "no access")
        return page(403, _("Not allowed"), _("Your account does not give you access to this page."))

    @app.errorhandler(404)
    def not_found(_e):
        from flask_login import current_user

        # The message says where the page's one button goes.
        return page(
            404,
            _("Page not found"),
            _("Check the address, or go back to your courses.")
            if current_user.is_authenticated
            else _("Check the address, or start again from the home page."),
        )

    @app.errorhandler(405)
    def method_not_allowed(_e):
        refused(405, "method not allowed")
        if request.path.startswith("/api/"):
            return {"status": "method_not_allowed"}, 405
        return page(405, _("Not allowed"), _("This page cannot be used that way."))

    @app.errorhandler(413)
    def too_large(_e):
        return page(413, _("Too large"), _("What you sent is too large."))

    @app.errorhandler(429)
    def too_many(_e):
        # A limit reached is what an operator watching the logs wants to see (ASVS 8.1.4).
        refused(429, "rate limit reached")
        if request.path.startswith("/api/"):
            return {"status": "too_many_requests"}, 429
        return page(
            429,
            _("Too many attempts"),
            _("There have been too many attempts. Wait a few minutes and try again."),
        )

    @app.errorhandler(CSRFError)
    def csrf_error(_e):
        refused(400, "CSRF token missing or wrong")
        # Show back what was typed (never passwords) so nothing is lost.
        kept = [
            (key, value)
            for key in request.form
            if key != "csrf_token" and "password" not in key and key not in {"current", "confirm"}
            for value in request.form.getlist(key)
            if value.strip()
        ]
        return (
            render_template("errors/csrf.html", kept=kept),
            400,
        )

    @app.errorhandler(500)
    def server_error(_e):
        return page(
            500, _("Something went wrong"), _("Nothing you sent was saved. Please try again.")
        )


#: The addresses every page's header and footer link to, built once per script root
#: (``url_for`` costs about 15 microseconds a call; a page's frame has a dozen).
_FRAME_LINKS = {
    "css": ("static", {"filename": "css/app.css"}),
    "password_js": ("static", {"filename": "js/password.js"}),
    "logout_js": ("static", {"filename": "js/logout.js"}),
    "favicon": ("static", {"filename": "img/favicon.svg"}),
    "logo": ("static", {"filename": "img/logo.svg"}),
    "home": ("catalogue.home", {}),
    "dashboard": ("learning.dashboard", {}),
    "catalogue": ("catalogue.index", {}),
    "certificates": ("accreditation.mine", {}),
    "register": ("accreditation.register", {}),
    "facilitate": ("runs.my_runs", {}),
    "admin": ("admin.users", {}),
    "account": ("accounts.account", {}),
    "notifications": ("notifications.index", {}),
    "logout": ("accounts.logout", {}),
    "verify": ("verify.index", {}),
}
_frame_urls: dict[str, dict[str, str]] = {}


def _page_urls() -> dict[str, str]:
    """The header's and footer's links (see ``_FRAME_LINKS``) for this request."""
    from flask import url_for

    root = request.script_root
    urls = _frame_urls.get(root)
    if urls is None:
        urls = {
            name: url_for(endpoint, **values) for name, (endpoint, values) in _FRAME_LINKS.items()
        }
        if len(_frame_urls) < 16:  # a handful of roots at most (one, or per proxy prefix)
            _frame_urls[root] = urls
    return urls


def _init_templates(app: Flask) -> None:
    from flask_login import current_user

    from lms.accounts.models import Role

    app.jinja_env.add_extension("jinja2.ext.do")
    from lms.forms import first_errors

    @app.context_processor
    def inject() -> dict[str, Any]:
        return {"Role": Role, "current_user": current_user}

    # Globals, unlike context processors, are visible inside imported macros.
    app.jinja_env.globals["first_errors"] = first_errors
    app.jinja_env.globals["page_urls"] = _page_urls

    from functools import lru_cache

    from flask_babel import format_date as babel_date

    from lms.i18n import locale_and_zone

    @lru_cache(maxsize=2048)
    def _date_text(value, _locale: str, _zone: str) -> str:
        return babel_date(value, "d MMMM y")

    @app.template_filter("date")
    def format_date(value) -> str:
        """A day in words; the same day in the same locale and zone is worded once
        (Babel's formatting costs about 15 microseconds a call)."""
        if value is None:
            return ""
        return _date_text(value, *locale_and_zone())

    @app.template_filter("datetime")
    def format_datetime(value) -> str:
        if value is None:
            return ""
        from flask_babel import format_datetime as babel_datetime

        return babel_datetime(value, "d MMMM y, HH:mm")

    @app.template_filter("epoch_datetime")
    def format_epoch_datetime(value) -> str:
        """Like ``|datetime``, for whole seconds since the epoch (session times)."""
        if value is None:
            return ""
        from datetime import UTC, datetime

        return format_datetime(datetime.fromtimestamp(int(value), UTC))
