"""Percentiles the harness computes itself, kept apart so each definition is stated once.

Three shapes of data reach the judge:

* raw samples (custom metrics such as `ai_generation`): `percentile` interpolates linearly
  between order statistics, the same definition as numpy's default;
* locust response-time histograms (`{bucket_ms: count}` from locust's `--json-file`):
  `histogram_percentile` reproduces locust's own `calculate_response_time_percentile`, so a
  percentile combined over several endpoints agrees with what locust would print for them;
* only locust's reported percentile points per endpoint (CSV, no histogram):
  `mixture_percentile` rebuilds each endpoint's CDF piecewise-linearly from its points and
  solves the request-weighted mixture — an approximation, and callers say so.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile of `values` at fraction `q` (0..1)."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be within 0..1, got {q}")
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = math.ceil(rank)
    below, above = ordered[low], ordered[high]
    if below == above or rank == low:
        # Also keeps infinities (failed samples) from turning into NaN as inf - inf.
        return below
    return below + (above - below) * (rank - low)


def merge_histograms(histograms: Sequence[Mapping[int, int]]) -> dict[int, int]:
    """Sum bucket counts; locust buckets are the same rounding for every endpoint."""
    merged: dict[int, int] = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            merged[bucket] = merged.get(bucket, 0) + count
    return merged


def histogram_percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """Locust's percentile over a bucketed histogram; None when it holds no requests."""
    total = sum(histogram.values())
    if total == 0:
        return None
    # Same walk as locust.stats.calculate_response_time_percentile (not imported: importing
    # locust monkey-patches the whole process with gevent).
    wanted = int(total * q)
    processed = 0
    for bucket in sorted(histogram, reverse=True):
        processed += histogram[bucket]
        if total - processed <= wanted:
            return float(bucket)
    return 0.0


def _cdf(points: Sequence[tuple[float, float]], x: float) -> float:
    """Piecewise-linear CDF through (value, cumulative fraction) points sorted by fraction."""
    if x < points[0][0]:
        return 0.0
    for (x0, p0), (x1, p1) in itertools.pairwise(points):
        if x < x1:
            if x1 == x0:
                return p1
            return p0 + (p1 - p0) * (x - x0) / (x1 - x0)
    return 1.0


def _monotone(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sort by fraction and make values non-decreasing.

    Locust rounds percentiles to ~2 significant digits but reports min/max exactly, so a
    rounded p50 can sit just below the exact minimum; a CDF must not go backwards.
    """
    out: list[tuple[float, float]] = []
    for value, fraction in sorted(points, key=lambda p: p[1]):
        out.append((max(value, out[-1][0]) if out else value, fraction))
    return out


def mixture_percentile(
    distributions: Sequence[tuple[int, Sequence[tuple[float, float]]]], q: float
) -> float | None:
    """Percentile `q` of a request-weighted mixture of per-endpoint CDFs.

    Each item is `(request_count, points)` where points are `(value_ms, fraction)` pairs such
    as `(min, 0.0), (p50, 0.5), …, (max, 1.0)`. Returns None when there are no requests.
    """
    usable = [(n, _monotone(pts)) for n, pts in distributions if n > 0 and pts]
    if not usable:
        return None
    total = sum(n for n, _ in usable)
    low = min(pts[0][0] for _, pts in usable)
    high = max(pts[-1][0] for _, pts in usable)

    def mixed(x: float) -> float:
        return sum(n * _cdf(pts, x) for n, pts in usable) / total

    # The mixture CDF is monotone, so bisection converges; 60 halvings are far below 1 µs.
    for _ in range(60):
        mid = (low + high) / 2
        if mixed(mid) >= q:
            high = mid
        else:
            low = mid
    return high
