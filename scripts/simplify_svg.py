"""Simplify the curves of a certificate decoration (SVG) without changing how it looks.

    python3 scripts/simplify_svg.py certificates/rep/assets/frame.svg --tol 0.03 [--write]

WeasyPrint parses every path of a background SVG each time it draws a certificate, so
the cost of a rendering grows with the number of curve segments. Guilloche lines drawn
by a generator often use many more cubic segments than the shape needs. This tool
replaces each run of consecutive cubic segments (absolute ``C`` commands) by as few
cubic Béziers as fit the original within ``--tol`` user units (for the frames, whose
viewBox is in millimetres, 0.03 is a thirtieth of a millimetre), keeping every
endpoint's tangent, so joins stay smooth; and writes a segment whose first control
point mirrors the previous one (a smooth join, as generated curves mostly are) as
``S`` with four numbers instead of six. Paths with relative commands or arcs, and
everything that is not a path, are left exactly as they were.

The fit is the least-squares step of Schneider's algorithm ("An algorithm for
automatically fitting digitized curves", Graphics Gems, 1990) with fixed end
tangents and one reparameterisation pass; the error is the largest distance from
points sampled on the original to the new curve. It prints the segments before and
after and the largest error found; without ``--write`` it changes nothing.
Look at the certificate afterwards (pdftoppm) before committing the result.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

Point = tuple[float, float]
Segment = tuple[Point, Point, Point, Point]

_PATH_D = re.compile(r'(\sd=")([^"]*)(")')
_TOKEN = re.compile(r"[A-Za-z]|-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ABSOLUTE = set("MLHVCZ")
SAMPLES = 10  # points sampled on each original segment
SMOOTH_TOL = 0.0101  # how far a mirrored control point may be from the written one (rounding)


def bezier(seg: Segment, t: float) -> Point:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = seg
    u = 1 - t
    a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
    return (a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3)


def derivative(seg: Segment, t: float) -> Point:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = seg
    u = 1 - t
    a, b, c = 3 * u * u, 6 * u * t, 3 * t * t
    return (
        a * (x1 - x0) + b * (x2 - x1) + c * (x3 - x2),
        a * (y1 - y0) + b * (y2 - y1) + c * (y3 - y2),
    )


def second(seg: Segment, t: float) -> Point:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = seg
    return (
        6 * (1 - t) * (x2 - 2 * x1 + x0) + 6 * t * (x3 - 2 * x2 + x1),
        6 * (1 - t) * (y2 - 2 * y1 + y0) + 6 * t * (y3 - 2 * y2 + y1),
    )


def _unit(dx: float, dy: float) -> Point | None:
    norm = math.hypot(dx, dy)
    return None if norm < 1e-9 else (dx / norm, dy / norm)


def start_tangent(seg: Segment) -> Point | None:
    p0, p1, p2, p3 = seg
    for q in (p1, p2, p3):
        t = _unit(q[0] - p0[0], q[1] - p0[1])
        if t:
            return t
    return None


def end_tangent(seg: Segment) -> Point | None:
    p0, p1, p2, p3 = seg
    for q in (p2, p1, p0):
        t = _unit(p3[0] - q[0], p3[1] - q[1])
        if t:
            return t
    return None


def fit(run: list[Segment]) -> tuple[Segment, float] | None:
    """One cubic for the consecutive segments ``run``, and its error; None if none fits."""
    t1, t2 = start_tangent(run[0]), end_tangent(run[-1])
    if t1 is None or t2 is None:
        return None
    points = [run[0][0]]
    for seg in run:
        points.extend(bezier(seg, i / SAMPLES) for i in range(1, SAMPLES + 1))
    lengths = [0.0]
    for a, b in zip(points, points[1:], strict=False):
        lengths.append(lengths[-1] + math.dist(a, b))
    if lengths[-1] < 1e-9:
        return None
    params = [s / lengths[-1] for s in lengths]
    p0, p3 = points[0], points[-1]
    curve = None
    for _ in range(3):  # fit, reparameterise (Newton), fit again
        c00 = c01 = c11 = x0 = x1 = 0.0
        for q, u in zip(points, params, strict=True):
            b0, b1, b2, b3 = (1 - u) ** 3, 3 * u * (1 - u) ** 2, 3 * u * u * (1 - u), u**3
            a1 = (t1[0] * b1, t1[1] * b1)
            a2 = (-t2[0] * b2, -t2[1] * b2)
            rx = q[0] - (p0[0] * (b0 + b1) + p3[0] * (b2 + b3))
            ry = q[1] - (p0[1] * (b0 + b1) + p3[1] * (b2 + b3))
            c00 += a1[0] * a1[0] + a1[1] * a1[1]
            c01 += a1[0] * a2[0] + a1[1] * a2[1]
            c11 += a2[0] * a2[0] + a2[1] * a2[1]
            x0 += a1[0] * rx + a1[1] * ry
            x1 += a2[0] * rx + a2[1] * ry
        det = c00 * c11 - c01 * c01
        if abs(det) < 1e-12:
            return None
        alpha = (x0 * c11 - x1 * c01) / det
        beta = (c00 * x1 - c01 * x0) / det
        if alpha <= 0 or beta <= 0:
            return None
        curve = (
            p0,
            (p0[0] + alpha * t1[0], p0[1] + alpha * t1[1]),
            (p3[0] - beta * t2[0], p3[1] - beta * t2[1]),
            p3,
        )
        new_params = []
        for q, u in zip(points, params, strict=True):
            b, d1, d2 = bezier(curve, u), derivative(curve, u), second(curve, u)
            num = (b[0] - q[0]) * d1[0] + (b[1] - q[1]) * d1[1]
            den = d1[0] ** 2 + d1[1] ** 2 + (b[0] - q[0]) * d2[0] + (b[1] - q[1]) * d2[1]
            new_params.append(min(1.0, max(0.0, u - num / den)) if abs(den) > 1e-12 else u)
        params = new_params
    error = max(_distance_to_curve(q, curve, u) for q, u in zip(points, params, strict=True))
    return curve, error


def _distance_to_curve(q: Point, curve: Segment, u: float) -> float:
    # Close to the nearest point after reparameterisation; refine by a local search.
    best = math.dist(q, bezier(curve, u))
    step = 0.02
    for _ in range(12):
        for cand in (u - step, u + step):
            if 0 <= cand <= 1:
                d = math.dist(q, bezier(curve, cand))
                if d < best:
                    best, u = d, cand
        step /= 2
    return best


def simplify_run(run: list[Segment], tol: float, longest: int) -> tuple[list[Segment], float]:
    out: list[Segment] = []
    worst = 0.0
    i = 0
    while i < len(run):
        for k in range(min(longest, len(run) - i), 1, -1):
            result = fit(run[i : i + k])
            if result is not None and result[1] <= tol:
                out.append(result[0])
                worst = max(worst, result[1])
                i += k
                break
        else:
            out.append(run[i])
            i += 1
    return out, worst


def _fmt(v: float) -> str:
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def simplify_d(d: str, tol: float, longest: int) -> tuple[str, int, int, float]:
    """The path data ``d`` simplified, segments before and after, and the largest error."""
    tokens = _TOKEN.findall(d)
    if "C" not in tokens or any(t.isalpha() and t not in _ABSOLUTE for t in tokens):
        count = sum(1 for t in tokens if t == "C")
        return d, count, count, 0.0
    out: list[str] = []
    before = after = 0
    worst = 0.0
    current: Point = (0.0, 0.0)
    start: Point = (0.0, 0.0)
    i = 0
    while i < len(tokens):
        cmd = tokens[i]
        i += 1
        if cmd == "C":
            run: list[Segment] = []
            while True:
                c = [float(v) for v in tokens[i : i + 6]]
                i += 6
                seg = (current, (c[0], c[1]), (c[2], c[3]), (c[4], c[5]))
                run.append(seg)
                current = seg[3]
                if i < len(tokens) and tokens[i] == "C":
                    i += 1
                    continue
                if i < len(tokens) and not tokens[i].isalpha():
                    continue  # implicit repetition of C
                break
            new, err = simplify_run(run, tol, longest)
            before += len(run)
            after += len(new)
            worst = max(worst, err)
            previous_c2: Point | None = None
            for seg in new:
                c1, c2, end = (tuple(round(v, 2) for v in p) for p in seg[1:])
                start_point = tuple(round(v, 2) for v in seg[0])
                if previous_c2 is not None and all(
                    abs(2 * start_point[k] - previous_c2[k] - c1[k]) <= SMOOTH_TOL for k in (0, 1)
                ):
                    # The first control point mirrors the last one: "S" says so in 4 numbers.
                    out.append("S" + " ".join(_fmt(v) for v in (*c2, *end)))
                else:
                    out.append("C" + " ".join(_fmt(v) for v in (*c1, *c2, *end)))
                previous_c2 = c2
            continue
        args: list[str] = []
        while i < len(tokens) and not tokens[i].isalpha():
            args.append(tokens[i])
            i += 1
        values = [float(v) for v in args]
        if cmd == "M":
            current = start = (values[-2], values[-1])
        elif cmd == "L":
            current = (values[-2], values[-1])
        elif cmd == "H":
            current = (values[-1], current[1])
        elif cmd == "V":
            current = (current[0], values[-1])
        elif cmd == "Z":
            current = start
        out.append(cmd + " ".join(args))
    return "".join(out), before, after, worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--tol", type=float, required=True, help="largest error, user units")
    parser.add_argument("--longest", type=int, default=6, help="most segments merged into one")
    parser.add_argument("--write", action="store_true", help="rewrite the files")
    args = parser.parse_args(argv)
    for path in args.files:
        text = path.read_text(encoding="utf-8")
        totals = [0, 0, 0.0]

        def replace(m: re.Match, totals=totals) -> str:
            d, before, after, worst = simplify_d(m.group(2), args.tol, args.longest)
            totals[0] += before
            totals[1] += after
            totals[2] = max(totals[2], worst)
            return m.group(1) + d + m.group(3)

        new = _PATH_D.sub(replace, text)
        print(
            f"{path}: {totals[0]} cubic segments -> {totals[1]}, largest error {totals[2]:.4f}, "
            f"{len(text.encode())} -> {len(new.encode())} bytes"
        )
        if args.write and new != text:
            path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
