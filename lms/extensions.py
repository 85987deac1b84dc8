"""Flask extensions, created unbound and bound to an app in :func:`lms.create_app`."""

import threading
import time

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from limits.storage import MemoryStorage

from lms.db import Base


class SweepingMemoryStorage(MemoryStorage):
    """The ``memory://`` rate-limit storage, without a timer thread per 10 ms.

    ``limits``' memory storage starts a new ``threading.Timer`` (a thread) each time
    a counter is hit and the last timer has run, i.e. about every 10 ms while
    requests come: 0.05-0.1 ms of CPU on each rate-limited request. Counts are the
    same either way (an expired counter is already dropped when it is next read);
    the timer only frees the memory of expired keys, which this does in the request
    at most once every :attr:`SWEEP_EVERY` seconds.
    """

    STORAGE_SCHEME = ["memory"]  # replaces limits' own class for memory:// URIs
    SWEEP_EVERY = 5.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._sweep_lock = threading.Lock()
        self._next_sweep = time.monotonic() + self.SWEEP_EVERY

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - overrides the private hook
        now = time.monotonic()
        if now < self._next_sweep or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + self.SWEEP_EVERY
            self._MemoryStorage__expire_events()
        finally:
            self._sweep_lock.release()


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Limits are declared on the routes that need them (login, password reset);
# storage comes from RATELIMIT_STORAGE_URI (memory:// by default, Redis in production).
limiter = Limiter(key_func=get_remote_address)
