"""Load benchmark: the app's pages under gunicorn, against a bare Flask floor, in one run.

Run from the project folder (wrk needed: ``apt-get install wrk``)::

    python3 -m uv run --frozen --no-sync python bench/load.py [--trainees 200]
        [--site DIR] [--duration 10] [--connections 16] [--threads 2] [--only dashboard,api]

It builds a site with ``flask --app wsgi lms setup`` and ``lms demo populate
--trainees N`` on SQLite in a temporary instance folder (or reuses ``--site DIR``,
building it there if it has no database yet), then serves, one after the other and
with the same gunicorn settings (2 sync workers; the project's gunicorn.conf.py when
there is one), the floor app (bench/floor.py: one SQLite lookup by primary key and a
small Jinja render) and the real app on that site. It logs in as the demo accounts
(and as the holder of a rendered certificate) through the login form, and runs wrk
against each page. Each page's req/s is given as a ratio to the floor's, except the
PDF download, which is compared with a static file of the same size served by the
same app. It also measures the cold start of a web process: from exec to the first
200 answer.

Only loopback addresses are used, and every run is bounded by ``--duration``.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "wrk_report.lua"
HOST = "127.0.0.1"
# The load helper's ports (see the notes for helpers): floor, app, cold start.
FLOOR_PORT, APP_PORT, COLD_PORT = 5141, 5142, 5143
USER_AGENT = "lms-bench/1"
BENCH_PASSWORD = "bench-demo-password-2026"  # noqa: S105 - a throw-away demo site
# The verification lookups are rate-limited per address; wrk is one address. The
# limiter still runs (memory storage, as by default), it just never says no.
BENCH_VERIFY_LIMIT = "100000000 per minute"

# name -> (account, target ratio, what it is compared with)
PAGES: dict[str, tuple[str | None, float | None, str]] = {
    "floor": (None, None, "floor"),
    "dashboard": ("trainee", 0.3, "floor"),
    "reading": ("trainee", 0.3, "floor"),
    "quiz": ("trainee", 0.3, "floor"),
    "review queue": ("facilitator", None, "floor"),
    "register": ("officer", None, "floor"),
    "verify": (None, 0.5, "floor"),
    "api": (None, 0.5, "floor"),
    "static": (None, None, "floor"),
    # The PDF as a browser gets it: the signed link on the holder's certificates page.
    "pdf": ("holder", 0.8, "static"),
    # The checked address that link stands for (old bookmarks, expired links).
    "pdf checked": ("holder", None, "static"),
}


@dataclass
class Result:
    page: str
    url: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="instance folder to reuse (built if empty)")
    parser.add_argument("--trainees", type=int, default=200, help="trainees for a new site")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per page")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--only", help=f"comma-separated pages among: {', '.join(PAGES)} (floor always runs)"
    )
    parser.add_argument(
        "--floor-duration", type=int, default=5, help="seconds of each floor run (one a page)"
    )
    parser.add_argument("--cold-starts", type=int, default=3, help="cold starts to time")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk")
        return 2
    pages = list(PAGES)
    if args.only:
        wanted = {p.strip() for p in args.only.split(",") if p.strip()}
        unknown = wanted - set(PAGES)
        if unknown:
            parser.error(f"unknown pages: {', '.join(sorted(unknown))}")
        if wanted & {"pdf", "pdf checked"}:
            wanted.add("static")
        pages = [p for p in PAGES if p in wanted or p == "floor"]

    temp = None
    if args.site is None:
        temp = Path(tempfile.mkdtemp(prefix="lms-load-"))
        site = temp / "instance"
    else:
        site = args.site.resolve()
    try:
        return run(args, site, pages)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def site_env(site: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "LMS_INSTANCE_PATH": str(site),
            "LMS_DATABASE_URL": f"sqlite:///{site / 'lms.db'}",
            "LMS_VERIFY_LIMIT": BENCH_VERIFY_LIMIT,
            "FLOOR_DB": str(site / "floor.db"),
        }
    )
    env.setdefault("LMS_DEMO_PASSWORD", BENCH_PASSWORD)
    # Staff log in with a password alone in the benchmarks (see LMS_MFA_REQUIRED_ROLES).
    env.setdefault("LMS_MFA_REQUIRED_ROLES", "")
    # Server settings come from gunicorn.conf.py and the flags below, not the caller's shell.
    env.pop("WEB_CONCURRENCY", None)
    env.pop("GUNICORN_CMD_ARGS", None)
    return env


def build_site(site: Path, trainees: int, env: dict[str, str]) -> None:
    flask = [sys.executable, "-m", "flask", "--app", "wsgi", "lms"]
    started = time.monotonic()
    site.mkdir(parents=True, exist_ok=True)
    print(f"Building a site with {trainees} trainees in {site} ...", flush=True)
    # Immediate jobs while building, so the demo's few certificate PDFs are rendered.
    build_env = dict(env, LMS_QUEUE_URL="immediate")
    for command in (["setup"], ["demo", "populate", "--trainees", str(trainees), "--pdfs", "3"]):
        subprocess.run(  # noqa: S603 - our own command line
            flask + command,
            cwd=ROOT,
            env=build_env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=1800,
        )
    (site / "bench_password").write_text(env["LMS_DEMO_PASSWORD"] + "\n")
    print(f"  built in {time.monotonic() - started:.0f} s", flush=True)


def prepare_site(site: Path, trainees: int, env: dict[str, str]) -> None:
    """Build the site, or bring a reused one up to this code's migrations (``lms setup``)."""
    if not (site / "lms.db").exists():
        build_site(site, trainees, env)
        return
    subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "flask", "--app", "wsgi", "lms", "setup"],
        cwd=ROOT,
        env=dict(env, LMS_DEMO_PASSWORD=demo_password(site, env)),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=600,
    )


def demo_password(site: Path, env: dict[str, str]) -> str:
    for name in ("bench_password", "demo_password"):
        path = site / name
        if path.exists():
            return path.read_text().strip()
    return env["LMS_DEMO_PASSWORD"]


def fixtures(site: Path) -> dict[str, str]:
    """Who and what to ask for: a rendered certificate, its holder, one of their courses."""
    with sqlite3.connect(site / "lms.db") as db:
        row = db.execute(
            "SELECT c.number, c.token, u.email, c.course_slug FROM certificate c"
            " JOIN certificate_file f ON f.certificate_id = c.id AND f.is_current"
            " JOIN user u ON u.id = c.user_id"
            " WHERE c.revoked_at IS NULL ORDER BY c.id LIMIT 1"
        ).fetchone()
    if row is None:
        raise SystemExit("the site has no certificate with a rendered PDF")
    number, token, email, course_slug = row
    listing = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "lms", "courses", "list", "--json"],
        cwd=ROOT,
        env=site_env(site),
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    course = next(c for c in json.loads(listing.stdout) if c["slug"] == course_slug)
    activities = [a for m in course["modules"] for a in m["activities"]]
    reading = next(a["key"] for a in activities if a["type"] == "reading")
    quiz = next(a["key"] for a in activities if a["type"] == "quiz")
    return {
        "number": number,
        "token": token,
        "holder": email,
        "course": course_slug,
        "reading": reading,
        "quiz": quiz,
    }


# --- Serving ----------------------------------------------------------------------------


def gunicorn_command(app: str, port: int, workers: int) -> list[str]:
    command = [sys.executable, "-m", "gunicorn"]
    conf = ROOT / "gunicorn.conf.py"
    if conf.exists():
        command += ["-c", str(conf)]
    # Given after -c, these win over the file: the same for the floor and the app.
    command += ["--workers", str(workers), "--worker-class", "sync", "--bind", f"{HOST}:{port}"]
    return command + [app]


class Server:
    def __init__(self, app: str, port: int, env: dict[str, str], log: Path, workers: int):
        self.port = port
        self.command = gunicorn_command(app, port, workers)
        self.env = env
        self.log = log

    def start(self) -> float:
        """Start gunicorn; return the seconds from exec to the first 200 answer."""
        self._log = self.log.open("ab")
        started = time.perf_counter()
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = started + 60
        url = f"http://{HOST}:{self.port}/login"
        if "floor" in self.command[-1]:
            url = f"http://{HOST}:{self.port}/item/1"
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited early, see {self.log}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.01)
        self.stop()
        raise SystemExit(f"gunicorn did not answer within 60 s, see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


# --- Logging in -------------------------------------------------------------------------


def login(base: str, email: str, password: str) -> str:
    """Log in through the form; return the Cookie header of the session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    with opener.open(f"{base}/login", timeout=10) as response:
        page = response.read().decode()
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    if match is None:
        raise SystemExit("no CSRF token on the login page")
    body = urllib.parse.urlencode(
        {"csrf_token": match.group(1), "email": email, "password": password}
    ).encode()
    with opener.open(f"{base}/login", data=body, timeout=30) as response:
        final = response.geturl()
    if urllib.parse.urlparse(final).path == "/login":
        raise SystemExit(f"logging in as {email} failed")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def fetch(url: str, cookie: str | None) -> tuple[int, str, bytes]:
    headers = {"User-Agent": USER_AGENT}
    if cookie:
        headers["Cookie"] = cookie
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: D102
        return None


# --- wrk --------------------------------------------------------------------------------


def wrk(url: str, cookie: str | None, args, duration: int) -> dict[str, int]:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        "-H",
        f"User-Agent: {USER_AGENT}",
    ]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(  # noqa: S603 - our own command line
        command + [url], capture_output=True, text=True, check=True, timeout=duration + 60
    ).stdout
    line = next((x for x in out.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result for {url}:\n{out}")
    return {k: int(v) for k, v in (part.split("=") for part in line.split()[1:])}


def measure(page: str, url: str, cookie: str | None, args, duration: int | None = None) -> Result:
    status, content_type, body = fetch(url, cookie)
    if status != 200:
        raise SystemExit(f"{page}: {url} answered {status}, not 200")
    if page in {"pdf", "static"} and not body.startswith(b"%PDF"):
        raise SystemExit(f"{page}: {url} is not a PDF ({content_type})")
    wrk(url, cookie, args, 1)  # warm both workers (templates compiled, caches filled)
    stats = wrk(url, cookie, args, duration or args.duration)
    seconds = stats["duration_us"] / 1e6
    errors = sum(stats[k] for k in ("status", "connect", "read", "write", "timeout"))
    result = Result(
        page=page,
        url=url,
        rps=stats["requests"] / seconds,
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        errors=errors,
    )
    note = f", {errors} errors" if errors else ""
    print(
        f"  {page:<13} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.1f} ms"
        f"  p99 {result.p99_ms:6.1f} ms{note}",
        flush=True,
    )
    return result


# --- The run ----------------------------------------------------------------------------


def run(args, site: Path, pages: list[str]) -> int:
    env = site_env(site)
    prepare_site(site, args.trainees, env)
    env["LMS_DEMO_PASSWORD"] = password = demo_password(site, env)
    facts = fixtures(site)
    logs = site / "bench-logs"
    logs.mkdir(exist_ok=True)
    results: dict[str, Result] = {}
    print(
        f"wrk: {args.threads} threads, {args.connections} connections, {args.duration} s a page;"
        f" gunicorn: {args.workers} sync workers"
        + (", gunicorn.conf.py" if (ROOT / "gunicorn.conf.py").exists() else ""),
        flush=True,
    )

    # Both servers are up for the whole run, but only one is sent requests at a time.
    # On a shared machine the load of other work comes and goes, so the floor is
    # measured again just before each page, and each ratio is to that floor run (the
    # PDF's to the static file measured just before it).
    floor_url = f"http://{HOST}:{FLOOR_PORT}/item/42"
    floor = Server("bench.floor:app", FLOOR_PORT, env, logs / "floor.log", args.workers)
    floor.start()
    base = f"http://{HOST}:{APP_PORT}"
    static_name = f"bench-{os.getpid()}.pdf"
    static_path = ROOT / "static" / static_name
    app = Server("wsgi:app", APP_PORT, env, logs / "app.log", args.workers)
    floor_runs: dict[str, Result] = {}
    try:
        app.start()
        emails = {
            "trainee": facts["holder"],
            "holder": facts["holder"],
            "facilitator": "facilitator@example.org",
            "officer": "officer@example.org",
        }
        cookies: dict[str, str] = {}
        for account, email in emails.items():
            if any(PAGES[p][0] == account for p in pages):
                cookies[account] = login(base, email, password)
        urls = {
            "dashboard": f"{base}/dashboard",
            "reading": f"{base}/learn/{facts['course']}/{facts['reading']}",
            "quiz": f"{base}/learn/{facts['course']}/{facts['quiz']}",
            "review queue": f"{base}/facilitate/reviews",
            "register": f"{base}/register",
            "verify": f"{base}/verify/{facts['token']}",
            "api": f"{base}/api/v1/certificates/{facts['token']}",
            "pdf checked": f"{base}/certificates/{facts['number']}.pdf",
            "static": f"{base}/static/{static_name}",
        }
        if "pdf" in pages:
            # The signed link the holder's certificates page gives (valid five minutes:
            # longer than any run of one page).
            _status, _type, html = fetch(f"{base}/certificates", cookies["holder"])
            found = re.search(rb'href="(/certificates/files/[^"]+[.]pdf)"', html)
            if found is None:
                raise SystemExit("no PDF link on the holder's certificates page")
            urls["pdf"] = base + found.group(1).decode()
        if "static" in pages:
            # A static file as large as the PDF: its very bytes, fetched once.
            status, _type, pdf = fetch(
                urls["pdf checked"],
                cookies.get("holder") or login(base, facts["holder"], password),
            )
            if status != 200:
                raise SystemExit(f"the certificate PDF answered {status}")
            static_path.write_bytes(pdf)
        for page in pages:
            if page == "floor":
                continue
            if PAGES[page][2] == "floor":
                floor_runs[page] = measure("  floor", floor_url, None, args, args.floor_duration)
            account = PAGES[page][0]
            results[page] = measure(page, urls[page], cookies.get(account), args)
        if not floor_runs:
            floor_runs["floor"] = measure("floor", floor_url, None, args)
    finally:
        if hasattr(app, "process"):
            app.stop()
        floor.stop()
        static_path.unlink(missing_ok=True)
    runs = list(floor_runs.values())
    results["floor"] = Result(
        page="floor",
        url=floor_url,
        rps=statistics.mean(r.rps for r in runs),
        p50_ms=statistics.mean(r.p50_ms for r in runs),
        p99_ms=statistics.mean(r.p99_ms for r in runs),
        errors=sum(r.errors for r in runs),
    )
    floor_note = (
        f"floor: {len(runs)} runs, {min(r.rps for r in runs):,.0f} to"
        f" {max(r.rps for r in runs):,.0f} req/s (the table shows their mean; each ratio"
        " is to the floor run just before that page)"
    )

    cold = []
    for i in range(args.cold_starts):
        server = Server("wsgi:app", COLD_PORT, env, logs / "cold.log", args.workers)
        cold.append(server.start())
        server.stop()
        if i == 0:
            print(f"  cold start    {cold[0]:.2f} s", flush=True)

    results = {"floor": results.pop("floor"), **results}
    print_table(results, floor_runs, args, site, cold)
    print(floor_note)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "settings": {
                        "threads": args.threads,
                        "connections": args.connections,
                        "duration": args.duration,
                        "workers": args.workers,
                    },
                    "results": [r.__dict__ for r in results.values()],
                    "cold_start_s": cold,
                    "floor_before_each_page": {k: r.rps for k, r in floor_runs.items()},
                },
                indent=2,
            )
        )
    return 0


def print_table(
    results: dict[str, Result], floor_runs: dict[str, Result], args, site: Path, cold: list[float]
) -> None:
    print()
    print(
        f"{os.cpu_count()} cores; gunicorn {args.workers} sync workers; wrk {args.threads} threads,"
        f" {args.connections} connections, {args.duration} s; site {site}"
    )
    print()
    print("| page | req/s | p50 ms | p99 ms | compared with (req/s) | ratio | target |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for page, result in results.items():
        _account, target, against = PAGES[page]
        base = floor_runs.get(page) if against == "floor" else results.get(against)
        ratio = f"{result.rps / base.rps:.2f}" if base and page != against else "1"
        compared = f"{against} {base.rps:,.0f}" if base and page != against else ""
        print(
            f"| {page} | {result.rps:,.0f} | {result.p50_ms:.1f} | {result.p99_ms:.1f} |"
            f" {compared} | {ratio} | {'>= ' + str(target) if target else ''} |"
        )
    if cold:
        print()
        print(
            f"Cold start of a web process (exec to first 200, {len(cold)} tries):"
            f" median {statistics.median(cold):.2f} s, max {max(cold):.2f} s (target < 2 s)"
        )


def signed_in_clients(site, trainees: int):
    """For measuring in this process (bench/cpu.py, bench/instructions.py): the site made
    ready, the app built on it, and test clients for the certificate holder (signed in
    through the login form) and an anonymous visitor, with the site's fixtures."""
    env = site_env(site)
    prepare_site(site, trainees, env)
    password = demo_password(site, env)
    facts = fixtures(site)
    for key in ("LMS_INSTANCE_PATH", "LMS_DATABASE_URL", "LMS_VERIFY_LIMIT"):
        os.environ[key] = env[key]
    os.environ.setdefault("LMS_MFA_REQUIRED_ROLES", "")
    from lms import create_app

    app = create_app()
    holder = app.test_client()
    page = holder.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = holder.post(
        "/login", data={"csrf_token": token, "email": facts["holder"], "password": password}
    )
    if answer.status_code != 302:
        raise SystemExit(f"logging in as {facts['holder']} failed")
    return holder, app.test_client(), facts


if __name__ == "__main__":
    sys.exit(main())
