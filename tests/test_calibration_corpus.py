"""A small version of the calibration corpus (``benchmarks/calibration.py``): default fits on
two of its splits forecast their held-out larger runs with honest intervals.

The full leave-one-source-out benchmark takes about an hour on 2 cores; this runs two splits of
two different studies with few draws and checks that the default forecast (plain posterior plus
the extrapolation discrepancy, with the package's population prior) covers the held-out runs,
is not uselessly wide, and is wider than the plain posterior. The package's prior was learned
from the corpus's realised errors, these splits included, so this is a regression check of the
default, not a held-out test (that is the benchmark's leave-one-source-out table).
"""

from __future__ import annotations

import os
import warnings

import pytest
from conftest import REPO, load_benchmark

import bayeslaws as bl
from bayeslaws import scores

#: Two splits of two studies: an IsoFLOP sweep (13x beyond the fitted compute) and a
#: single-corpus grid (10x), the cheapest of their sources.
SPLITS = ("chinchilla_1e21", "datablations_4e9")


@pytest.fixture(scope="module")
def corpus():
    return load_benchmark("calibration")


@pytest.mark.slow
@pytest.mark.parametrize("name", SPLITS)
def test_default_forecast_covers_the_larger_held_out_runs(corpus, name):
    split = corpus.SPLITS[name]
    train, test = (f.reset_index(drop=True) for f in split.load())
    law = bl.laws.get(split.law)
    with warnings.catch_warnings():
        # 2 chains x 300 draws is too few for the strict R-hat rule; the forecast is the point
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        warnings.simplefilter("ignore", bl.ExtrapolationWarning)
        fit = law.fit(train, seed=0, draws=300, tune=300, chains=2)
        default = fit.predict(test)
        plain = fit.predict(test, discrepancy=False)
    y = test[law.target].to_numpy(float)
    n = len(test)
    got = scores.score_table(default.predictive.values.reshape(-1, n), y)
    base = scores.score_table(plain.predictive.values.reshape(-1, n), y)
    # the summary says how far beyond the fitted compute each row lies (larger models on fewer
    # tokens can use less compute than the largest fitted run: a multiple below 1)
    multiple = default.summary()["compute_multiple"].to_numpy()
    assert multiple.max() > 5 and (multiple > 0).all()
    # honest: the 90% intervals cover at least 3 in 4 held-out runs, and 50% ones not all
    assert got["coverage_90"] >= 0.75
    assert got["coverage_50"] < 1.0 or got["width_90"] < 0.05
    # sharp: the 90% interval is at most 12 times the median error (the benchmark's splits
    # range 2-9 for this method; the target is 6)
    assert got["width_90"] / got["abs_rel_err"] <= 12
    # the discrepancy widens the plain posterior beyond the data, and improves its score
    assert got["width_90"] > base["width_90"]
    assert got["coverage_90"] >= base["coverage_90"]


def test_shipped_prior_is_the_one_the_corpus_learned():
    """The package's discrepancy prior is the recorded all-sources prior of the shipped candidate
    (``benchmarks/results/calibration_prior.json``): a rerun of the benchmark that moves it
    must move the package too."""
    import json

    from bayeslaws import extrapolation as ex

    with open(os.path.join(REPO, "benchmarks", "results", "calibration_prior.json")) as fh:
        learned = json.load(fh)["all_sources"]["outer-tight w=0 x sigma^0.5"]
    mu, sd, weight, power = learned
    assert ex.TAU_PRIOR == pytest.approx((mu, sd), abs=5e-4)
    assert weight == ex.OWN_WEIGHT and power == ex.NOISE_POWER
