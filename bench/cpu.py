"""CPU time per request of the trainee pages, verification and the API, in one process.

Run from the project folder::

    python3 -m uv run --frozen --no-sync python bench/cpu.py [--site DIR] [--trainees 200]
        [--requests 100] [--profile DIR]

The same site as bench/load.py (built the same way when ``--site`` has no database),
the same pages, the same accounts, but through Flask's test client: no server, no
network, no wrk. Each page is asked for ``--requests`` times in five rounds; the
figure is the least CPU time per request of the rounds, which moves much less than
req/s when other work shares the machine. Use it to compare two versions of the code
(before/after a change); bench/load.py gives the figures under load.

``--profile DIR`` also writes a cProfile report per page (cumulative time) to DIR.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import load  # noqa: E402 - bench/load.py, for the site and its fixtures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="instance folder to reuse (built if empty)")
    parser.add_argument("--trainees", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100, help="requests per round")
    parser.add_argument("--profile", type=Path, help="write cProfile reports to this folder")
    args = parser.parse_args()
    temp = None
    if args.site is None:
        temp = Path(tempfile.mkdtemp(prefix="lms-cpu-"))
        site = temp / "instance"
    else:
        site = args.site.resolve()
    try:
        run(args, site)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return 0


def run(args, site: Path) -> None:
    holder, visitor, facts = load.signed_in_clients(site, args.trainees)
    # The PDF link the holder's certificates page gives (signed, valid five minutes).
    certificates = holder.get("/certificates").get_data(as_text=True)
    link = re.search(r'href="(/certificates/files/[^"]+[.]pdf)"', certificates)
    if link is None:
        raise SystemExit("no PDF link on the holder's certificates page")
    pages = {
        "dashboard": (holder, "/dashboard"),
        "reading": (holder, f"/learn/{facts['course']}/{facts['reading']}"),
        "quiz": (holder, f"/learn/{facts['course']}/{facts['quiz']}"),
        "verify": (visitor, f"/verify/{facts['token']}"),
        "api": (visitor, f"/api/v1/certificates/{facts['token']}"),
        "pdf": (holder, link.group(1)),
        "pdf checked": (holder, f"/certificates/{facts['number']}.pdf"),
        "static": (visitor, "/static/img/logo.svg"),
    }
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores; {args.requests} requests a round, best of 5 rounds")
    print()
    print("| page | CPU ms per request |")
    print("|---|---:|")
    for name, (client, url) in pages.items():
        for _ in range(20):
            status = client.get(url).status_code
            if status != 200:
                raise SystemExit(f"{name}: {url} answered {status}")
        rounds = []
        for _ in range(5):
            started = time.process_time()
            for _ in range(args.requests):
                client.get(url)
            rounds.append((time.process_time() - started) / args.requests * 1000)
        print(f"| {name} | {min(rounds):.2f} |", flush=True)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.requests):
                client.get(url)
            profiler.disable()
            with (args.profile / f"{name}.txt").open("w") as out:
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(80)


if __name__ == "__main__":
    sys.exit(main())
