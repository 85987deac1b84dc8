"""Instructions per request of the trainee pages, verification and the API (callgrind).

Run from the project folder (needs valgrind and a C compiler)::

    python3 -m uv run --frozen --no-sync python bench/instructions.py --site /tmp/cpusite \
        [--requests 20] [--pages dashboard,reading,quiz,verify,api]

The same site, accounts and pages as bench/cpu.py, through Flask's test client, but
counted in instructions by valgrind's callgrind rather than timed: the count does not
move when other work shares the machine (two runs of the same code differ by under
1%), so it compares two versions of the code on a busy machine where CPU time does
not (it moved by a factor of 1.8 between runs of the same code on 2026-12-04). Start-up is not
counted: instrumentation is switched on just before each page's requests (after five
warm-up requests) and off after them, through callgrind's client requests (a small C
helper compiled on the fly). Python runs about 50 times slower under callgrind, so a
run takes a minute or two. ``PYTHONHASHSEED`` is fixed so that runs are comparable.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HELPER = r"""
#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void cg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT("page"); }
"""
PAGES = "dashboard,reading,quiz,verify,api"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, required=True, help="instance folder (bench/cpu.py's)")
    parser.add_argument("--trainees", type=int, default=200, help="when the site is built")
    parser.add_argument("--requests", type=int, default=20, help="counted requests per page")
    parser.add_argument("--pages", default=PAGES)
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the run under valgrind
    args = parser.parse_args()
    if args.measure:
        return measure(args)
    with tempfile.TemporaryDirectory(prefix="lms-callgrind-") as temp:
        helper = Path(temp) / "libcg.so"
        source = Path(temp) / "cg.c"
        source.write_text(HELPER)
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", helper, source], check=True)  # noqa: S603, S607
        out = Path(temp) / "callgrind.out"
        env = dict(os.environ, PYTHONHASHSEED="0")
        subprocess.run(  # noqa: S603 - our own command line
            [  # noqa: S607
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--site",
                str(args.site),
                "--trainees",
                str(args.trainees),
                "--requests",
                str(args.requests),
                "--pages",
                args.pages,
                "--measure",
                str(helper),
            ],
            check=True,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        print("| page | instructions per request |")
        print("|---|---:|")
        for number, name in enumerate(args.pages.split(","), start=1):
            text = Path(f"{out}.{number}").read_text()
            total = int(re.search(r"^totals: (\d+)", text, re.MULTILINE).group(1))
            print(f"| {name} | {total // args.requests:,} |")
    return 0


def measure(args) -> int:
    import ctypes

    import load

    site = args.site.resolve()
    holder, visitor, facts = load.signed_in_clients(site, args.trainees)
    pages = {
        "dashboard": (holder, "/dashboard"),
        "reading": (holder, f"/learn/{facts['course']}/{facts['reading']}"),
        "quiz": (holder, f"/learn/{facts['course']}/{facts['quiz']}"),
        "verify": (visitor, f"/verify/{facts['token']}"),
        "api": (visitor, f"/api/v1/certificates/{facts['token']}"),
    }
    helper = ctypes.CDLL(args.measure)
    for name in args.pages.split(","):
        client, url = pages[name]
        for _ in range(5):
            if client.get(url).status_code != 200:
                raise SystemExit(f"{name}: {url} did not answer 200")
        helper.cg_start()
        for _ in range(args.requests):
            client.get(url)
        helper.cg_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
