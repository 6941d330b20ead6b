"""The quick approximate fit (bayeslaws.laplace): same posterior variables as NUTS, mode near
the NUTS median and the truth, labelled approximate everywhere, saved and loaded with its label."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws import batch, laplace
from bayeslaws.cli import main
from bayeslaws.errors import SpecError
from bayeslaws.fit import approximate_note
import bayeslaws.inference  # noqa: F401  (fit_law, the refits' entry point)
from conftest import simulate_chinchilla

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick():
    data = bl.datasets.load("chinchilla_epoch", fit_rows=True)
    return bl.laws.get("chinchilla").fit(data, method="laplace", extrapolation=None, seed=3)


@pytest.fixture(scope="module")
def simulated():
    """One family with known truth (15 runs), fitted quickly and by (short) NUTS."""
    frame, truth = simulate_chinchilla(11, n_families=1)
    law = bl.laws.get("chinchilla")
    q = law.fit(frame, method="laplace", extrapolation=None, seed=1)
    n = law.fit(frame, draws=500, tune=500, chains=4, seed=1, extrapolation=None,
                dense_mass=True)
    return frame, truth, q, n


def test_posterior_has_the_variables_and_dims_of_a_nuts_fit(quick):
    program = batch._program(quick.law, len(quick.families), sorted(quick.law.inputs))
    post = quick.posterior
    assert set(program.free) | set(quick.law.param_names) == set(post.data_vars)
    # one family: its population means are sampled through the affine map (centred_w)
    assert dict(post.sizes) == {"chain": 4, "draw": 1000, "family": 1, "centred_param": 5}
    assert quick.config["method"] == "laplace" and quick.config["sampler"] == "laplace"
    assert np.all(np.isfinite(post["alpha"].values))
    # independent Gaussian draws: a real spread, not a point
    assert 0.002 < float(post["alpha"].std()) < 0.05


def test_labelled_approximate(quick):
    note = approximate_note(quick)
    assert note.startswith("approximate (Laplace) fit")
    assert "approximate: Laplace" in repr(quick)
    table = quick.summary()
    assert (table["method"] == "laplace").all()
    assert table["r_hat"].isna().all() and table.attrs["note"] == note
    # a NUTS-style config carries no label
    assert approximate_note(type("F", (), {"config": {"sampler": "numpyro"}})()) is None


def test_mode_near_nuts_median_and_truth(simulated):
    _, truth, q, n = simulated
    dq = bl.hierarchy.family_draws(q.law, q.posterior, q.families)
    dn = bl.hierarchy.family_draws(n.law, n.posterior, n.families)
    for name in ("log_E", "log_alpha", "log_beta"):
        med_q = dq[name].median(("chain", "draw")).values
        med_n = dn[name].median(("chain", "draw")).values
        sd_n = dn[name].std(("chain", "draw")).values
        # the quick median lies within one NUTS posterior sd of the NUTS median, per family
        assert np.all(np.abs(med_q - med_n) <= sd_n), (name, med_q, med_n, sd_n)
        lo, hi = np.quantile(dq[name].values.reshape(-1, 1), [0.01, 0.99], axis=0)
        assert np.all((lo <= truth[name]) & (truth[name] <= hi)), name
        # 90% widths within a factor 2 of NUTS' (one family; at these 15 runs log_E's quick
        # interval was 0.66x NUTS': sparse data skew the posterior; several pooled families
        # are where the quick fit goes badly wrong, benchmarks/quick.py)
        wq = np.subtract(*np.quantile(dq[name].values.reshape(-1, 1), [0.95, 0.05], axis=0))
        wn = np.subtract(*np.quantile(dn[name].values.reshape(-1, 1), [0.95, 0.05], axis=0))
        assert np.all((wq / wn > 0.5) & (wq / wn < 2.0)), (name, wq / wn)


def test_predict_and_optimal_work(quick):
    new = pd.DataFrame({"params": [1e9, 7e10], "tokens": [2e10, 1.4e12]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.errors.ExtrapolationWarning)
        table = quick.predict(new).interval(0.9)
    lo, hi = table["loss_lower"].to_numpy(), table["loss_upper"].to_numpy()
    assert np.all(np.isfinite(lo)) and np.all(lo < hi) and np.all((lo > 1.5) & (hi < 3.5))
    opt = quick.optimal(1e24).table(0.9)
    assert 1e10 < opt["N_opt_median"].iloc[0] < 1e12


def test_save_load_keeps_the_label(quick, tmp_path):
    path = tmp_path / "quick.nc"
    quick.save(path)
    back = bl.load(path)
    assert back.config["method"] == "laplace"
    assert approximate_note(back) == approximate_note(quick)
    pd.testing.assert_frame_equal(back.summary(), quick.summary())


def test_bad_method_and_hessian_floor():
    with pytest.raises(SpecError, match="method must be one of"):
        bl.laws.get("chinchilla").fit(pd.DataFrame(), method="vi")
    h = np.diag([4.0, -1.0, 1e-9])
    factor, floored, involved = laplace.gaussian(h, ["a", "b", "c"])
    assert floored == 2 and involved == ["b", "c"] or set(involved) == {"b", "c"}
    cov = factor @ factor.T
    np.testing.assert_allclose(np.diag(cov), [0.25, 1.0, 1 / laplace.EIGEN_FLOOR])


def test_refits_of_a_quick_fit_are_quick(quick):
    # backtests and leave-largest-out refits pass the config's sampler to fit_law: "laplace"
    # routes them to the quick fit
    refit = bl.inference.fit_law(quick.law, quick.data.iloc[:150], sampler="laplace",
                                 extrapolation=None, draws=50, chains=2)
    assert refit.config["method"] == "laplace" and refit.posterior.sizes["draw"] == 50


def test_cli_fit_quick_and_predict_note(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "chinchilla", "--data", "chinchilla_epoch", "--out", "q.nc", "--quick",
                 "--no-extrapolation", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "approximate (Laplace) fit" in err
    pd.DataFrame({"params": [1e9], "tokens": [2e10]}).to_csv("rows.csv", index=False)
    assert main(["predict", "q.nc", "--data", "rows.csv", "--out", "p.csv"]) == 0
    err = capsys.readouterr().err
    assert "note: approximate (Laplace) fit" in err
    assert len(pd.read_csv("p.csv")) == 1
    assert bl.load("q.nc").config["method"] == "laplace"
