"""The oracle scoring of ``benchmarks/calibration_limits.py``: what a perfectly calibrated
forecast scores on issue 23's per-split targets. No fits; the numbers checked are analytic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def limits():
    return load_benchmark("calibration_limits")


def _phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_one_shared_shift_meets_the_sharpness_target_with_the_normal_probability(limits):
    # rho = 1: a split's errors are one N(0, 1) shift, so sharpness = 3.29 / |z| <= 6 exactly
    # when |z| >= 3.29 / 6, and the 90% interval holds all rows or none.
    cov, sharp = limits.gaussian_oracle(np.array([5, 40]), 1.0, 20000, np.random.default_rng(1))
    expected = 2 * (1 - _phi(2 * 1.6448536269514722 / 6))  # 0.583
    assert np.mean(sharp <= 6, axis=1) == pytest.approx([expected] * 2, abs=0.015)
    assert set(np.unique(cov)) == {0.0, 1.0}
    assert np.mean(cov, axis=1) == pytest.approx([0.9, 0.9], abs=0.01)


def test_independent_rows_give_the_normal_ratio_and_nominal_coverage(limits):
    cov, sharp = limits.gaussian_oracle(np.array([2001]), 0.0, 400, np.random.default_rng(2))
    # 90% width over the median |error| of N(0, 1): 3.29 / 0.6745 = 4.88
    assert np.median(sharp) == pytest.approx(2 * 1.6448536269514722 / 0.6744897501960817,
                                             rel=0.02)
    assert np.mean(cov) == pytest.approx(0.9, abs=0.005)


def test_truths_drawn_from_the_forecast_are_covered_at_the_nominal_rate(limits):
    rng = np.random.default_rng(3)
    # a forecast whose rows share a drift: log y = 1 + 0.05 shift + 0.02 noise
    samples = np.exp(1 + 0.05 * rng.standard_normal((8000, 1))
                     + 0.02 * rng.standard_normal((8000, 12)))
    joint = limits.split_scores(samples, limits.oracle(samples, 4000, rng))
    rows = limits.split_scores(samples, limits.oracle(samples, 4000, rng, joint=False))
    for sim in (joint, rows):
        assert sim.coverage_90.mean() == pytest.approx(0.9, abs=0.01)
        assert sim.coverage_50.mean() == pytest.approx(0.5, abs=0.01)
    # a shared drift spreads a split's coverage: far more all-or-nothing splits than row noise
    assert joint.coverage_90.std() > 2 * rows.coverage_90.std()
    assert np.mean(joint.coverage_90 < 0.75) > 0.05 > np.mean(rows.coverage_90 < 0.75)
