"""Benchmark: certificate issue time, and PDF download throughput against a static file.

Run from the project folder:  python3 -m uv run python bench/certificates.py [--count 30]

It builds the app on a throw-away SQLite database, issues COUNT certificates
through the real services (WeasyPrint rendering included), then serves the stored
PDFs and, in the same run, a static file of the same size through Flask's static
route, with the test client. Results are ratios against that baseline, so they
compare across machines; no threshold is asserted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from lms import create_app  # noqa: E402
from lms.accounts import services as accounts  # noqa: E402
from lms.accounts.cli import seed_regions  # noqa: E402
from lms.accreditation import services  # noqa: E402
from lms.accreditation.models import Certificate  # noqa: E402
from lms.extensions import db  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30, help="certificates to issue")
    parser.add_argument("--downloads", type=int, default=300, help="downloads of each kind")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="lms-bench-"))
    try:
        run(workdir, args.count, args.downloads)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(workdir: Path, count: int, downloads: int) -> None:
    static_dir = workdir / "static"
    static_dir.mkdir()
    app = create_app(
        {
            "INSTANCE_PATH": str(workdir / "instance"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.db'}",
            "SECRET_KEY": "bench",
            "LMS_ARGON2_TIME_COST": 1,
            "LMS_ARGON2_MEMORY_COST": 1024,
        }
    )
    app.static_folder = str(static_dir)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        seed_regions()
        course = app.extensions["lms.courses"].get("rep")
        people = [
            accounts.create_user(
                f"bench{i}@example.org",
                f"Bench Person {i}",
                ["trainee"],
                accounts.region_by_name("Wales"),
                send_link=False,
            ).user
            for i in range(count + 1)
        ]
        password = "bench-password-123"  # noqa: S105 - a throw-away benchmark database
        accounts.set_password(people[0], password)
        db.session.commit()
        # The first rendering loads fonts; it is reported on its own.
        start = time.perf_counter()
        services.grant_prior(people[0], course, "bench warm-up")
        db.session.commit()
        first = time.perf_counter() - start
        times = []
        for person in people[1:]:
            start = time.perf_counter()
            services.grant_prior(person, course, "bench")
            db.session.commit()
            times.append(time.perf_counter() - start)
        own = db.session.scalar(select(Certificate).where(Certificate.user_id == people[0].id))
        number, size = own.number, own.current_file.size
    (static_dir / "baseline.pdf").write_bytes(b"%PDF-1.7\n" + b"x" * (size - 9))

    client = app.test_client()
    with client:
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post(
            "/login",
            data={"csrf_token": token, "email": "bench0@example.org", "password": password},
        )
        baseline = timed(client, "/static/baseline.pdf", downloads)
        certificate = timed(client, f"/certificates/{number}.pdf", downloads)

    print(f"certificates issued:       {count} (+1 warm-up, first rendering {first:.2f} s)")
    print(
        f"issue time per certificate: median {statistics.median(times) * 1000:.0f} ms, "
        f"p90 {sorted(times)[int(len(times) * 0.9) - 1] * 1000:.0f} ms"
    )
    print(f"PDF size:                   {size} bytes")
    print(f"static file downloads/s:    {downloads / baseline:.0f}  (baseline)")
    print(f"certificate downloads/s:    {downloads / certificate:.0f}")
    print(f"ratio certificate/static:   {baseline / certificate:.2f} of baseline throughput")


def timed(client, url: str, n: int) -> float:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    start = time.perf_counter()
    for _ in range(n):
        client.get(url).close()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
