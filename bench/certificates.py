"""Benchmark: how long one certificate takes to render, first and warm, per template.

Run from the project folder:  python3 -m uv run python bench/certificates.py [--count 40]

It renders COUNT certificates of each template with the real renderer
(``lms.accreditation.pdf.render``: Jinja, WeasyPrint, PDF/A-2a, the QR code) in this
process, with invented names of several scripts and lengths, and prints the first
rendering (fonts and templates loaded) and the median, 90th percentile and maximum of
the warm ones. The process's CPU time is printed beside the wall time, so a busy
machine shows. Nothing is asserted: the figures are for docs/performance.md (target:
warm median <= 200 ms). Re-issue by real workers is measured by bench/reissue.py.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lms.accreditation import pdf  # noqa: E402

NAMES = [
    "Ffion Price-Davies",
    "Tomasz Wiśniewski",
    "Aaliyah Rahman",
    "Chen Xiaoming 陈晓明",
    "نور الهدى عبد الله",
    "Maximilian Alexander Fotheringham-Worthington-Smythe",
    "Ellie O'Connor",
    "Siân Llewellyn",
]


def data(template: str, i: int) -> dict[str, str]:
    number = f"MIP-{'REP' if template == 'rep' else 'LM'}-2026-{i:05d}"
    return {
        "holder_name": NAMES[i % len(NAMES)],
        "accreditation": "Accredited rep" if template == "rep" else "Link member",
        "course_title": "Two-day rep course" if template == "rep" else "Link member course",
        "course_version": "3",
        "issued_on": "3 December 2026",
        "region": "Wales",
        "officer": "Gwen Morgan",
        "expires_on": "3 December 2029" if template == "rep" else "",
        "number": number,
        "verify_url": f"https://training.example.org/verify/{'x' * 43}{i}",
        "basis": "",
    }


def measure(template: str, count: int) -> dict[str, float]:
    start = time.perf_counter()
    cpu = time.process_time()
    first = pdf.render(ROOT / "certificates", template, data(template, 0))
    first_ms = (time.perf_counter() - start) * 1000
    first_cpu = (time.process_time() - cpu) * 1000
    warm, warm_cpu = [], []
    for i in range(1, count + 1):
        start, cpu = time.perf_counter(), time.process_time()
        pdf.render(ROOT / "certificates", template, data(template, i))
        warm.append((time.perf_counter() - start) * 1000)
        warm_cpu.append((time.process_time() - cpu) * 1000)
    warm.sort()
    return {
        "first": first_ms,
        "first_cpu": first_cpu,
        "median": statistics.median(warm),
        "median_cpu": statistics.median(warm_cpu),
        "p90": warm[int(0.9 * (len(warm) - 1))],
        "max": warm[-1],
        "size_kb": len(first.data) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="warm renderings per template")
    parser.add_argument("--template", action="append", help="only these (default: all)")
    args = parser.parse_args()
    templates = args.template or sorted(
        p.name for p in (ROOT / "certificates").iterdir() if (p / "template.html").is_file()
    )
    print(
        f"{'template':<12} {'first ms':>9} {'median ms':>10} {'(cpu)':>7} {'p90':>7} "
        f"{'max':>7} {'PDF KB':>7}"
    )
    for template in templates:
        r = measure(template, args.count)
        print(
            f"{template:<12} {r['first']:>9.0f} {r['median']:>10.0f} {r['median_cpu']:>7.0f} "
            f"{r['p90']:>7.0f} {r['max']:>7.0f} {r['size_kb']:>7.0f}"
        )


if __name__ == "__main__":
    main()
