"""Design of the next runs (issue 26): ranking, proposal, errors, CLI and figure."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import simulate_chinchilla

import bayeslaws as bl
from bayeslaws.cli import main
from bayeslaws.design import DesignError, design

pytestmark = pytest.mark.slow

TARGET = 1e24
BUDGET = 1e21
COLUMNS = ["rank", "params", "tokens", "family", "flops", "reduction", "value_per_flop",
           "sd_after", "width90_after", "distance_after", "ess", "linearised", "in_data",
           "proposed"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One family of 15 simulated Chinchilla runs (30M-3B parameters), fitted once and saved."""
    frame, _ = simulate_chinchilla(3, n_families=1)
    law = bl.laws.get("chinchilla")
    with warnings.catch_warnings():
        # short chains: the population sds of a one-family fit follow their prior and mix
        # slowly; the design's mechanics are under test here, not the posterior's quality
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        fit = law.fit(frame, draws=300, tune=300, chains=2, seed=1, extrapolation=None)
    path = tmp_path_factory.mktemp("design") / "fit.nc"
    fit.save(str(path))
    return fit, path


@pytest.fixture(scope="module")
def fit(saved):
    return saved[0]


def quiet_design(fit, **kw):
    kw.setdefault("outcomes", 32)  # fewer simulated outcomes and draws: fast, still decisive
    kw.setdefault("max_draws", 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # notes on the missing discrepancy
        return design(fit, **kw)


def test_table_columns_and_determinism(fit):
    a = quiet_design(fit, target=TARGET, budget=BUDGET, seed=3)
    b = quiet_design(fit, target=TARGET, budget=BUDGET, seed=3)
    ta, tb = a.table(), b.table()
    assert list(ta.columns) == COLUMNS
    pd.testing.assert_frame_equal(ta, tb)
    pd.testing.assert_frame_equal(a.proposal, b.proposal)
    assert (ta["flops"] <= BUDGET).all()
    assert np.all(np.diff(ta["value_per_flop"]) <= 0)  # ranked by value per FLOP
    assert a.spent <= BUDGET and len(a.proposal) >= 1
    assert 0 < a.sd_after < a.sd_now
    assert a.greedy in ("per_flop", "gain")
    # the proposal's expected reduction grows run by run
    assert np.all(np.diff(a.proposal["reduction"]) > 0)


def test_target_point_ranks_first_and_is_proposed(fit):
    first = quiet_design(fit, target=TARGET, budget=BUDGET)
    n_t, d_t, c_t = first.target_point
    # five candidates on the target's IsoFLOP line: equal cost, the target point among them
    factors = [1 / 8, 1 / 3, 1.0, 3.0, 8.0]
    cands = pd.DataFrame({"params": [n_t * f for f in factors],
                          "tokens": [d_t / f for f in factors]})
    small = pd.DataFrame({"params": [1e8, 3e8], "tokens": [2e9, 6e9]})
    res = quiet_design(fit, target=TARGET, budget=1.5 * c_t,
                       candidates=pd.concat([cands, small], ignore_index=True))
    table = res.table()
    line = table[np.isclose(table["flops"], c_t, rtol=1e-6)]
    assert math.isclose(line.iloc[0]["params"], n_t, rel_tol=1e-9)
    assert line.iloc[0]["distance_after"] == 0.0
    # it removes most of the variance, and the proposal holds it
    assert line.iloc[0]["reduction"] > 0.5
    assert np.isclose(res.proposal["params"], n_t, rtol=1e-9).any()


def test_runs_already_in_the_data_gain_little(fit):
    existing = fit.data[["params", "tokens"]].iloc[[0, 7]]
    new = pd.DataFrame({"params": [2e10], "tokens": [4e11]})  # 5e22 FLOPs, toward the target
    res = quiet_design(fit, target=TARGET, budget=1e23,
                       candidates=pd.concat([existing, new], ignore_index=True))
    table = res.table()
    old = table[table["in_data"]]
    assert len(old) == 2
    fresh = table[~table["in_data"]].iloc[0]
    assert old["reduction"].max() < 0.25 * fresh["reduction"]
    assert fresh["reduction"] > 0.3


def test_discrepancy_counts_and_shrinks_nearer_the_target(saved, tmp_path):
    from bayeslaws.extrapolation import Discrepancy

    fit = bl.load(str(saved[1]))
    post = fit.posterior
    tau = xr.DataArray(np.full((post.sizes["chain"], post.sizes["draw"]), 0.05),
                       dims=("chain", "draw"),
                       coords={"chain": post["chain"].values, "draw": post["draw"].values})
    fit.idata["extrapolation"] = Discrepancy(tau, 3, 3).to_dataset()
    plain = quiet_design(saved[0], target=TARGET, budget=1e23)
    with_disc = design(fit, target=TARGET, budget=1e23, outcomes=32, max_draws=300)
    assert with_disc.sd_now > plain.sd_now
    t = with_disc.table()
    # a run beyond the data moves the edge: the target's distance shrinks with the run's size
    far = t.sort_values("flops").iloc[-1]
    near = t.sort_values("flops").iloc[0]
    assert far["distance_after"] < near["distance_after"]


def test_quantities_and_a_new_family(fit):
    n_opt = quiet_design(fit, target=TARGET, budget=BUDGET, quantity="n_opt")
    assert n_opt.quantity == "n_opt" and n_opt.sd_after < n_opt.sd_now
    cands = pd.DataFrame({"params": [1e8, 1e9], "tokens": [2e9, 2e10]})
    known = quiet_design(fit, target=TARGET, budget=BUDGET, candidates=cands).table()
    new = quiet_design(fit, target=TARGET, budget=BUDGET, family="newfam",
                       candidates=cands.assign(family="newfam")).table()
    # a new family's first runs are worth far more than more runs of a fitted family
    assert new["reduction"].min() > known["reduction"].max()


def test_n_opt_counts_the_allocation_error_and_says_when_it_dominates(chinchilla_fit):
    """Epoch's 240 runs, default extrapolation: N*'s variance at 1e24 FLOPs is the law's plus
    the allocation error of bayeslaws.optimal at the target's distance; a budget that cannot
    reach beyond the largest fitted run (1.3e22) is told that most of it is out of its reach."""
    from bayeslaws.extrapolation import fit_distance
    from bayeslaws.optimal import allocation_sd

    fit, fam = chinchilla_fit, chinchilla_fit.families[0]
    kw = dict(target=TARGET, budget=1e21, quantity="n_opt", outcomes=32, max_draws=300, seed=2)
    with pytest.warns(UserWarning, match="allocation error of N"):
        full = design(fit, **kw)
    saved_setting = fit.config["extrapolation"]
    try:
        fit.config["extrapolation"] = None  # the law's posterior alone, same draws
        plain = quiet_design(fit, **kw)
    finally:
        fit.config["extrapolation"] = saved_setting
    n = float(np.median(fit.optimal(TARGET, family=fam, discrepancy=False).draws["N_opt"]))
    x = {"params": np.log([n]), "tokens": np.log([TARGET / 6 / n])}
    d, width, _ = fit_distance(fit, x, np.array([fam]))
    alloc = float(allocation_sd(d / width)[0])
    assert full.sd_now ** 2 == pytest.approx(plain.sd_now ** 2 + alloc ** 2, rel=0.02)
    assert alloc ** 2 > 0.5 * full.sd_now ** 2  # what the note says: most of it
    assert full.sd_after > 0.9 * full.sd_now


def test_bad_input_raises_design_error(fit):
    with pytest.raises(DesignError, match="budget"):
        quiet_design(fit, target=TARGET, budget=1e10)
    with pytest.raises(DesignError, match="inside the fitted range"):
        quiet_design(fit, target=1e18, budget=BUDGET)
    top = float((6 * fit.data["params"] * fit.data["tokens"]).max())
    with pytest.raises(DesignError, match=re.escape(f"largest run {top:.3g} FLOPs")):  # 6ND
        quiet_design(fit, target=top / 2, budget=BUDGET)
    with pytest.raises(DesignError, match="quantity"):
        quiet_design(fit, target=TARGET, budget=BUDGET, quantity="width")
    with pytest.raises(DesignError, match="params"):
        quiet_design(fit, target=TARGET, budget=BUDGET, candidates=pd.DataFrame({"n": [1.0]}))
    assert issubclass(DesignError, bl.errors.BayeslawsError)


def test_fit_method_delegates(fit):
    a = quiet_design(fit, target=TARGET, budget=BUDGET, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        b = fit.design(target=TARGET, budget=BUDGET, seed=2, outcomes=32, max_draws=300)
    pd.testing.assert_frame_equal(a.table(), b.table())


def test_cli_writes_csv_and_exits_2_on_bad_input(saved, tmp_path, capsys):
    path = str(saved[1])
    out = tmp_path / "design.csv"
    cands = tmp_path / "cands.csv"
    pd.DataFrame({"params": [1e8, 1e9, 5e9], "tokens": [2e9, 2e10, 3e10]}).to_csv(cands,
                                                                                  index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        code = main(["design", path, "--target-flops", "1e24", "--budget", "1e21",
                     "--candidates", str(cands), "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out)
    assert list(table.columns) == COLUMNS
    assert len(table) == 3 and list(table["rank"]) == [1, 2, 3]
    capsys.readouterr()
    code = main(["design", path, "--target-flops", "1e24", "--budget", "1e3"])
    err = capsys.readouterr().err
    assert code == 2 and "budget" in err and len(err.strip().splitlines()) == 1
    code = main(["design", path, "--target-flops", "1e18", "--budget", "1e21"])
    err = capsys.readouterr().err
    assert code == 2 and "inside the fitted range" in err
    code = main(["design", path, "--target-flops", "1e24", "--budget", "1e21",
                 "--quantity", "bogus"])
    assert code == 2


def test_plot_design(saved, tmp_path):
    png = tmp_path / "design.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        code = main(["plot", str(saved[1]), "--kind", "design", "--target-flops", "1e24",
                     "--budget", "1e21", "--out", str(png)])
    assert code == 0 and png.stat().st_size > 10_000
    assert main(["plot", str(saved[1]), "--kind", "design", "--out", str(png)]) == 2
    assert main(["plot", str(saved[1]), "--kind", "fit", "--budget", "1e21",
                 "--out", str(png)]) == 2
