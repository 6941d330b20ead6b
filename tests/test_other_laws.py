"""Kaplan and the one-input power law fit real data cleanly; compare ranks law forms by LOO."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import bayeslaws as bl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kaplan_fit():
    runs = bl.datasets.load("chinchilla_epoch", fit_rows=True)
    return bl.laws.get("kaplan").fit(runs, seed=0)


def test_kaplan_converges_and_allocates_numerically(kaplan_fit):
    assert kaplan_fit.convergence == []
    s = kaplan_fit.summary()
    fam = "chinchilla_massivetext"
    # exponents in the range of published Kaplan-type fits, N_c and D_c around 1e13
    assert 0.05 < s.loc[f"alpha_N[{fam}]", "median"] < 0.15
    assert 0.05 < s.loc[f"alpha_D[{fam}]", "median"] < 0.2
    assert 1e12 < s.loc[f"N_c[{fam}]", "median"] < 1e14
    opt = kaplan_fit.optimal(1e24, discrepancy=False).draws  # the law curve itself
    np.testing.assert_allclose((6 * opt["N_opt"] * opt["D_opt"]).values, 1e24, rtol=1e-9)
    # the numeric optimum is a minimum of the law along the budget line, draw by draw
    law, fam_draws = kaplan_fit.law, kaplan_fit.sampled_draws("chinchilla_massivetext")
    p = law.natural({k: v.values for k, v in fam_draws.items()}, np)
    n = opt["N_opt"].sel(family=fam).values
    for factor in (0.8, 1.25):
        x = {"params": np.log(n * factor), "tokens": np.log(1e24 / 6 / (n * factor))}
        assert (law.formula(x, p, np) >= np.log(opt["loss_opt"].sel(family=fam).values) - 1e-12).all()


def test_compare_prefers_chinchilla_on_its_own_data(chinchilla_fit, kaplan_fit):
    # LOO only: leave-largest-out scores are tested in test_compare.py (they refit each law).
    table = bl.compare({"chinchilla": chinchilla_fit, "kaplan": kaplan_fit}, extrapolation=False)
    assert table.index[0] == "chinchilla"
    assert {"elpd", "se", "weight"} <= set(table.columns)


def test_power_law_over_flops_on_gadre():
    g = bl.datasets.load("gadre_overtraining")
    fit = bl.laws.get("power-law").fit(g[g["params"] <= 4.2e8], seed=0)
    assert fit.convergence == []
    s = fit.summary()
    assert 0.05 < s.loc["alpha[population]", "median"] < 0.3
    big = g[g["params"] > 4.2e8]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ExtrapolationWarning)
        pred = fit.predict(big, discrepancy=False).interval()
    assert list(pred.columns[: len(big.columns)]) == list(big.columns)
    with pytest.raises(bl.SpecError, match="params and tokens"):
        fit.optimal(1e24)
