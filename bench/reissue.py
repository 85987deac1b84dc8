"""Benchmark: bulk re-issue of certificates by real job workers on the SQLite queue.

Run from the project folder:  python3 -m uv run python bench/reissue.py [--count 1000]

It builds a throw-away instance (SQLite database, SQLite queue file), issues COUNT
certificates through the real services (their first renderings are skipped: only
the re-issue is measured), starts a real worker (`flask --app wsgi lms jobs worker
--workers N`, N forked processes), waits until it reports in, then starts the
re-issue of all of them (`start_reissue`, jobs of CHUNK certificates) and follows the
batch's progress until every job is done. It prints the elapsed time from the commit
of the batch to the last job done, certificates per second, and the spread of the
workers' job times. Nothing is asserted: the figure is for docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import delete, select  # noqa: E402

from lms import create_app  # noqa: E402
from lms.accounts import services as accounts  # noqa: E402
from lms.accounts.cli import seed_regions  # noqa: E402
from lms.accreditation import services  # noqa: E402
from lms.extensions import db  # noqa: E402
from lms.jobs import services as jobs  # noqa: E402
from lms.jobs.models import Job  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="certificates to re-issue")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--chunk", type=int, default=services.REISSUE_CHUNK, help="per job")
    parser.add_argument("--course", default="link-member")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="lms-bench-reissue-"))
    try:
        run(workdir, args)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run(workdir: Path, args: argparse.Namespace) -> None:
    instance = workdir / "instance"
    database = f"sqlite:///{workdir / 'bench.db'}"
    queue_url = f"sqlite:///{workdir / 'queue.db'}"
    env = {
        **os.environ,
        "LMS_DATABASE_URL": database,
        "LMS_QUEUE_URL": queue_url,
        "LMS_INSTANCE_PATH": str(instance),
        "LMS_SECRET_KEY": "bench",
        "LMS_BASE_URL": "https://training.example.org",
    }
    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "SQLALCHEMY_DATABASE_URI": database,
            "LMS_QUEUE_URL": queue_url,
            "SECRET_KEY": "bench",
            "LMS_BASE_URL": "https://training.example.org",
        }
    )
    queue = app.extensions["lms.queue"]
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        seed_regions()
        db.session.commit()
        course = app.extensions["lms.courses"].get(args.course)
        started = time.perf_counter()
        for n in range(args.count):
            created = accounts.create_user(
                f"holder{n}@example.org", f"Holder Number{n}", ("trainee",), None, send_link=False
            )
            services.grant_prior(created.user, course, "bench")
            if n % 200 == 199:
                db.session.commit()
        db.session.commit()
        # Only the re-issue is measured: drop the first renderings' jobs and messages.
        db.session.execute(delete(Job))
        db.session.commit()
        queue.huey.flush()
        print(f"{args.count} certificates issued in {time.perf_counter() - started:.1f} s")

    flask = Path(sys.executable).with_name("flask")
    log = (workdir / "worker.log").open("w")
    worker = subprocess.Popen(  # noqa: S603 - our own command line
        [str(flask), "--app", "wsgi", "lms", "jobs", "worker", "--workers", str(args.workers)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not queue.workers():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    "the worker did not start:\n" + (workdir / "worker.log").read_text()
                )
            time.sleep(0.2)
        with app.app_context():
            batch = services.start_reissue(course, chunk=args.chunk)
            db.session.commit()
            batch_id = batch.id
        started = time.perf_counter()
        last = -1
        while True:
            with app.app_context():
                progress = jobs.batch_progress([batch_id])[batch_id]
            if progress.done != last:
                last = progress.done
                print(f"\r{progress.done:>5} / {progress.total}", end="", flush=True)
            if progress.is_finished:
                break
            time.sleep(0.25)
        elapsed = time.perf_counter() - started
        print()
        with app.app_context():
            durations = [
                (finished - begun).total_seconds()
                for begun, finished in db.session.execute(
                    select(Job.started_at, Job.finished_at).where(Job.batch_id == batch_id)
                )
                if begun and finished
            ]
        print(
            f"re-issued {progress.done} certificates ({progress.failed} failed) with "
            f"{args.workers} worker process(es), {args.chunk} per job, on {os.cpu_count()} cores"
        )
        print(
            f"elapsed {elapsed:.1f} s; {progress.done / elapsed:.1f} certificates/s; "
            f"{elapsed / max(progress.done, 1) * 1000:.0f} ms per certificate overall"
        )
        if durations:
            per = sorted(d / args.chunk * 1000 for d in durations)
            print(
                f"per job: median {statistics.median(durations):.1f} s "
                f"({statistics.median(per):.0f} ms per certificate), "
                f"max {max(durations):.1f} s"
            )
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()


if __name__ == "__main__":
    main()
