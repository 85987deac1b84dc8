"""The Huey queue behind the job table: storage from ``LMS_QUEUE_URL``, one generic task.

The queue carries only job ids ("run job 42"); what to run and how it went lives in
the ``job`` table (see :mod:`lms.jobs.services`). So a message that is lost, or
delivered twice, costs at most a delay or a no-op: the sweeper hands lost jobs to
the queue again and a job row is claimed by one worker at a time.

Storage:
  - ``immediate`` (the default when TESTING): jobs run in this process right after
    the commit that created them; retries wait in memory.
  - ``sqlite:///PATH`` (the default otherwise: ``queue.db`` in the instance folder;
    relative paths are relative to the instance folder, like the database's).
  - ``redis://[:password@]host:port/db`` (or ``rediss://``): a priority queue that
    any number of workers on any number of machines share.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask
from huey import Huey, MemoryHuey, PriorityRedisHuey, SqliteHuey, crontab

log = logging.getLogger(__name__)

QUEUE_NAME = "lms"
HEARTBEAT_PREFIX = "lms.worker:"
HEARTBEAT_SECONDS = 15
# A worker not heard from for this long is taken to be gone.
HEARTBEAT_STALE_SECONDS = 60


class QueueConfigError(ValueError):
    """``LMS_QUEUE_URL`` names a storage this app cannot use."""


def safe_url(url: str) -> str:
    """``url`` without its password, for logs and pages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def resolve_url(app: Flask) -> str:
    """The queue URL in effect: the setting, else immediate in tests, else the instance file."""
    url = (app.config.get("LMS_QUEUE_URL") or "").strip()
    if not url:
        if app.testing:
            return "immediate"
        return f"sqlite:///{Path(app.instance_path) / 'queue.db'}"
    return url


def make_huey(url: str, instance_path: str) -> Huey:
    """A Huey instance for ``url``. Raises QueueConfigError for an unknown scheme."""
    if url == "immediate":
        return MemoryHuey(QUEUE_NAME, immediate=True, results=False)
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path or path == ":memory:":
            raise QueueConfigError(
                "LMS_QUEUE_URL: a SQLite queue needs a file, e.g. sqlite:///queue.db"
            )
        file = Path(path)
        if not file.is_absolute():
            file = Path(instance_path) / file
        file.parent.mkdir(parents=True, exist_ok=True)
        # The queue's own connection waits up to 15 s for the file's lock, like the app's.
        return SqliteHuey(QUEUE_NAME, filename=str(file), results=False, timeout=15)
    if scheme in {"redis", "rediss", "unix"}:
        # The priority variant, so an email is not stuck behind a bulk re-issue.
        return PriorityRedisHuey(QUEUE_NAME, url=url, results=False)
    raise QueueConfigError(
        f"LMS_QUEUE_URL: unknown queue {safe_url(url)!r} "
        "(use sqlite:///FILE, redis://HOST:PORT/DB or immediate)"
    )


@dataclass(frozen=True)
class WorkerInfo:
    host: str
    pid: int
    workers: int
    worker_type: str
    started_at: float
    seen_at: float


class Queue:
    """The app's queue: hands job ids to Huey and runs them in fresh app contexts."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.url = resolve_url(app)
        self.huey = make_huey(self.url, app.instance_path)
        self.immediate = self.url == "immediate"
        self._register_tasks()

    def _register_tasks(self) -> None:
        app = self.app
        huey = self.huey

        # Retries here cover the queue's own trouble (e.g. the database is briefly
        # unreachable when the job is claimed); a job's failures are counted on its row.
        @huey.task(name="run_job", retries=2, retry_delay=30)
        def run_job(job_id: int) -> None:
            from lms.jobs import services

            with app.app_context():
                services.run_job(job_id)

        @huey.periodic_task(crontab(minute="*/5"), name="tick")
        def tick() -> None:
            from lms.jobs import services

            with app.app_context():
                services.tick()

        @huey.on_startup(name="fresh_connections")
        def fresh_connections() -> None:
            # Forked worker processes must not share the parent's database connections.
            from lms.extensions import db

            with app.app_context():
                db.engine.dispose(close=False)

        self._run_job = run_job

    def send(self, job_id: int, *, priority: int = 0, delay: float = 0) -> None:
        """Hand job ``job_id`` to the queue (after ``delay`` seconds). Raises on storage errors."""
        if delay > 0:
            self._run_job.schedule(args=(job_id,), delay=delay, priority=priority)
        else:
            self.huey.enqueue(self._run_job.s(job_id, priority=priority))

    def scheduled_job_ids(self) -> list[int]:
        """Ids of jobs waiting in the queue's schedule (retries after back-off)."""
        return [task.args[0] for task in self.huey.scheduled()]

    def pending_count(self) -> int:
        return self.huey.pending_count()

    # --- Worker heartbeats -------------------------------------------------------------

    def workers(self, now: float | None = None) -> list[WorkerInfo]:
        """Workers that reported in recently (empty for an immediate queue)."""
        if self.immediate:
            return []
        now = time.time() if now is None else now
        found = []
        try:
            items = self.huey.storage.result_items()
        except Exception:
            log.warning("Could not read worker heartbeats from the queue", exc_info=True)
            return []
        for key, raw in items.items():
            if not str(key).startswith(HEARTBEAT_PREFIX):
                continue
            try:
                data = json.loads(bytes(raw).decode())
                info = WorkerInfo(**data)
            except (ValueError, TypeError):
                continue
            if now - info.seen_at <= HEARTBEAT_STALE_SECONDS:
                found.append(info)
        return sorted(found, key=lambda w: (w.host, w.pid))


class Heartbeat:
    """Tells the queue every few seconds that this worker is alive, until stopped.

    It writes through its own Huey instance: the consumer forks worker processes,
    and a child must never inherit a storage lock this thread might be holding.
    """

    def __init__(self, queue: Queue, workers: int, worker_type: str) -> None:
        self.huey = make_huey(queue.url, queue.app.instance_path)
        self.key = f"{HEARTBEAT_PREFIX}{socket.gethostname()}:{os.getpid()}"
        self.info: dict[str, Any] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "workers": workers,
            "worker_type": worker_type,
            "started_at": time.time(),
        }
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def _beat(self) -> None:
        payload = json.dumps({**self.info, "seen_at": time.time()}).encode()
        self.huey.storage.put_data(self.key, payload)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._beat()
            except Exception:
                log.warning("Could not write the worker heartbeat", exc_info=True)

    def start(self) -> None:
        self._beat()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self.huey.storage.delete_data(self.key)
        except Exception:
            log.warning("Could not remove the worker heartbeat", exc_info=True)
