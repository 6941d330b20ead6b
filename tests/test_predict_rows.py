"""Forecasts per row: a row's draws depend on the seed, the fit and the row alone; rows without a
fitted family are named, marked and never switched to population draws in silence.

The committed fixture fit (``tests/fixtures/tiny_fit_v1.nc``, two families) stands in for a fit;
a discrepancy is attached to it so that rows beyond the data draw their extrapolation paths.
No sampling here.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayeslaws as bl
from bayeslaws import extrapolation as ex
from bayeslaws.errors import DataError, ExtrapolationWarning
from bayeslaws.streams import row_keys
from conftest import REPO

FIXTURE = os.path.join(REPO, "tests", "fixtures", "tiny_fit_v1.nc")


@pytest.fixture(scope="module")
def fit():
    fit = bl.load(FIXTURE)
    post = fit.posterior
    tau = xr.DataArray(np.full((post.sizes["chain"], post.sizes["draw"]), 0.02),
                       dims=("chain", "draw"))
    fit.idata["extrapolation"] = ex.Discrepancy(tau, folds=3, groups=6).to_dataset()
    return fit


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    params = 10 ** rng.uniform(8, 12, n)  # inside the data and up to 100x beyond it
    return pd.DataFrame({"params": params, "tokens": params * rng.uniform(5, 60, n),
                         "family": rng.choice(["a", "b", "new"], n)})


def _quiet(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return call()


def test_a_rows_draws_do_not_depend_on_the_other_rows(fit):
    rows = _rows(24, 0)
    full = _quiet(lambda: fit.predict(rows, seed=5).draws)
    assert (full["extrapolation"].values > 0).sum() >= 5  # discrepancy paths are exercised
    rng = np.random.default_rng(1)
    for _ in range(6):
        pick = rng.choice(len(rows), size=rng.integers(1, len(rows)), replace=False)
        part = _quiet(lambda pick=pick: fit.predict(rows.iloc[pick], seed=5).draws)
        for name in ("loss", "loss_predictive", "loss_law"):
            np.testing.assert_array_equal(part[name].values, full[name].values[..., pick])
    other = _quiet(lambda: fit.predict(rows, seed=6).draws)
    assert not np.allclose(other["loss_predictive"].values, full["loss_predictive"].values)


def test_rows_of_one_family_share_their_discrepancy_path(fit):
    # two rows 10x and 30x beyond family a: one path, so their discrepancies are correlated
    far = pd.DataFrame({"params": [3e11, 1e12], "tokens": [6e12, 2e13], "family": ["a", "a"]})
    with pytest.warns(ExtrapolationWarning, match=r"rows 1, 2 \(counted from 1"):
        pred = fit.predict(far, seed=0)
    delta = np.log(pred.law.values) - np.log(pred.draws["loss_law"].values)
    delta = delta.reshape(-1, 2)
    assert np.corrcoef(delta.T)[0, 1] > 0.6


def test_repeated_rows_are_independent_draws_and_the_first_copy_is_unchanged(fit):
    row = pd.DataFrame({"params": [2e9], "tokens": [4e10], "family": ["a"]})
    alone = fit.predict(row, seed=2).predictive.values[..., 0]
    twice = fit.predict(pd.concat([row, row]), seed=2).predictive.values
    np.testing.assert_array_equal(twice[..., 0], alone)
    assert not np.array_equal(twice[..., 0], twice[..., 1])
    keys = row_keys([np.log([2e9, 2e9, 3e9])], np.array(["a", "a", "a"]))
    assert len(set(keys.tolist())) == 3


def test_missing_and_unknown_families_are_named_and_marked(fit):
    rows = pd.DataFrame({"params": [2e9, 2e9, 2e9], "tokens": [4e10] * 3,
                         "family": ["a", None, "zeta"]})
    with pytest.warns(UserWarning) as record:
        table = fit.predict(rows, seed=1).summary()
    text = " ".join(str(w.message) for w in record)
    assert "row 2 (counted from 1" in text and "'family' value" in text
    assert "'zeta' was not fitted: row 3" in text
    assert table["family_source"].tolist() == ["fitted", "family missing", "new family"]
    width = (table["loss_upper"] - table["loss_lower"]).to_numpy()
    assert width[1] > 5 * width[0] and width[2] > 5 * width[0]


def test_no_family_column_in_a_multi_family_fit_warns_and_marks(fit):
    rows = pd.DataFrame({"params": [2e9], "tokens": [4e10]})
    with pytest.warns(UserWarning, match="no 'family' column, so all 1 rows get forecasts for a "
                                         "new family"):
        table = fit.predict(rows).summary()
    assert table["family_source"].tolist() == ["no family column"]


@pytest.mark.parametrize("typo, meant", [("A", "a"), ("b ", "b")])
def test_a_family_name_close_to_a_fitted_one_is_an_error_with_the_fix(fit, typo, meant):
    rows = pd.DataFrame({"params": [2e9], "tokens": [4e10], "family": [typo]})
    with pytest.raises(DataError, match=f"did you mean '{meant}'.*new_families="):
        fit.predict(rows)
    with pytest.warns(UserWarning, match="not fitted"):
        table = fit.predict(rows, new_families=[typo]).summary()
    assert table["family_source"].tolist() == ["new family"]


def test_close_names_of_real_families_are_caught():
    from bayeslaws.predict import _close_family

    fams = ["c4_original", "rpj", "rw_original"]
    assert _close_family("c4_orignal", fams) == "c4_original"
    assert _close_family("RW-Original", fams) == "rw_original"
    assert _close_family("brand_new", fams) is None
    assert _close_family("slimpajama", fams) is None


def test_a_population_family_is_the_same_in_a_forecast_and_an_optimum(fit):
    # the law's own optimum (no allocation error), so its loss is the law at (N*, D*)
    opt = fit.optimal(1e21, family="population", seed=4, discrepancy=False)
    n, d = opt.draws["N_opt"].values[..., 0], opt.draws["D_opt"].values[..., 0]
    rows = pd.DataFrame({"params": [1.0], "tokens": [1.0], "family": ["population"]})
    pred = _quiet(lambda: fit.predict(rows, seed=4, discrepancy=False,
                                      input_draws={"params": n[..., None], "tokens": d[..., None]}))
    np.testing.assert_allclose(pred.draws["loss_law"].values[..., 0],
                               opt.draws["loss_opt"].values[..., 0], rtol=1e-10)
