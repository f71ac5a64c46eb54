"""Percentile definitions: linear interpolation for samples (numpy's default), locust's walk
for histograms, and the mixture used when only per-endpoint percentile points exist."""

from __future__ import annotations

import random

import numpy as np
import pytest

from runs import quantiles


def test_percentile_matches_numpy_linear() -> None:
    rng = random.Random(3)
    values = [rng.expovariate(1 / 50) for _ in range(501)]
    for q in (0.0, 0.5, 0.9, 0.95, 0.99, 1.0):
        assert quantiles.percentile(values, q) == pytest.approx(np.percentile(values, q * 100))
    assert quantiles.percentile([7.0], 0.95) == 7.0
    with pytest.raises(ValueError, match="empty"):
        quantiles.percentile([], 0.5)
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        quantiles.percentile([1.0], 95)


def test_histogram_percentile_walks_like_locust() -> None:
    # 100 requests: 90 at 10 ms, 5 at 20 ms, 5 at 500 ms. Locust returns the largest bucket
    # whose slower requests number at most n·(1 − q), so p95 is already the 500 ms bucket.
    histogram = {10: 90, 20: 5, 500: 5}
    assert quantiles.histogram_percentile(histogram, 0.5) == 10
    assert quantiles.histogram_percentile(histogram, 0.89) == 10
    assert quantiles.histogram_percentile(histogram, 0.9) == 20
    assert quantiles.histogram_percentile(histogram, 0.95) == 500
    assert quantiles.histogram_percentile(histogram, 1.0) == 500
    assert quantiles.histogram_percentile({}, 0.95) is None
    merged = quantiles.merge_histograms([{10: 1, 20: 2}, {20: 3, 30: 4}])
    assert merged == {10: 1, 20: 5, 30: 4}


def test_mixture_of_one_distribution_interpolates_its_points() -> None:
    points = [(1.0, 0.0), (10.0, 0.5), (40.0, 0.9), (50.0, 0.95), (100.0, 1.0)]
    assert quantiles.mixture_percentile([(100, points)], 0.95) == pytest.approx(50.0, abs=1e-6)
    assert quantiles.mixture_percentile([(100, points)], 0.7) == pytest.approx(25.0, abs=1e-6)


def test_mixture_weights_by_requests() -> None:
    fast = [(1.0, 0.0), (10.0, 0.5), (20.0, 1.0)]
    slow = [(100.0, 0.0), (200.0, 0.5), (300.0, 1.0)]
    # 90% of the requests are fast, so p95 sits halfway into the slow endpoint's distribution.
    assert quantiles.mixture_percentile([(900, fast), (100, slow)], 0.95) == pytest.approx(
        200.0, abs=1e-6
    )
    median = quantiles.mixture_percentile([(900, fast), (100, slow)], 0.5)
    assert median is not None
    assert median < 20
    assert quantiles.mixture_percentile([(0, fast)], 0.5) is None


def test_mixture_tolerates_rounded_points_below_the_exact_minimum() -> None:
    # locust rounds p50 to 2 ms while the exact minimum is 2.4 ms.
    points = [(2.4, 0.0), (2.0, 0.5), (3.0, 1.0)]
    value = quantiles.mixture_percentile([(10, points)], 0.5)
    assert value is not None
    assert 2.4 <= value <= 3.0


def test_percentile_with_infinite_samples() -> None:
    # Failed AI generations count as infinitely slow; the result must be inf, never NaN.
    values = [100.0] * 90 + [float("inf")] * 10
    assert quantiles.percentile(values, 0.95) == float("inf")
    assert quantiles.percentile(values, 0.5) == 100.0
