"""bench/pipeline.py reads stage latency quantiles off Prometheus histograms."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[3] / "bench"))
from pipeline import _quantile  # noqa: E402

INF = float("inf")


def test_quantile_interpolates_within_the_bucket_it_falls_in() -> None:
    cumulative = {0.1: 50.0, 0.2: 100.0, INF: 100.0}
    assert _quantile(cumulative, 0.5) == pytest.approx(100.0)
    assert _quantile(cumulative, 0.99) == pytest.approx(198.0)
    assert _quantile(cumulative, 0.25) == pytest.approx(50.0)


def test_quantile_beyond_the_last_finite_bound_is_that_bound() -> None:
    assert _quantile({0.1: 10.0, 1.0: 10.0, INF: 20.0}, 0.99) == pytest.approx(1000.0)


def test_an_empty_histogram_has_no_latency() -> None:
    assert _quantile({0.1: 0.0, INF: 0.0}, 0.5) == 0.0


def test_stage_latency_counts_only_the_batches_between_two_readings() -> None:
    from pipeline import stage_latency

    before = {"tag": {0.1: 1.0, 1.0: 1.0, INF: 1.0}}  # the warm-up batch: 0.1 s or less
    after = {"tag": {0.1: 1.0, 1.0: 101.0, INF: 101.0}}  # then 100 batches in (0.1, 1]
    latency = stage_latency(before, after)["tag"]
    assert latency["p50_ms"] == pytest.approx(550.0)
    assert latency["p99_ms"] == pytest.approx(991.0)
