"""compare: PSIS-LOO ranking, Pareto-k fallbacks (exact refits, grouped K-fold), verdict, CLI."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws import cli
from bayeslaws.compare import join_scores, kfold, loo, size_groups, verdict

pytestmark = pytest.mark.slow

#: Refits in these tests are short on purpose (they check the plumbing, not the numbers).
TINY = {"draws": 150, "tune": 200, "chains": 1}


@pytest.fixture(scope="module")
def kaplan_small(small_fit):
    """Kaplan's law fitted to the same simulated Chinchilla rows as ``small_fit``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        return bl.laws.get("kaplan").fit(small_fit.data, seed=1, draws=300, tune=400, chains=2)


def _second_largest_k(fit) -> float:
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = np.sort(az.loo(fit.idata, pointwise=True).pareto_k.values)
    return float((k[-1] + k[-2]) / 2)


def test_compare_ranks_true_law_first_with_diagnostics(small_fit, kaplan_small):
    # 30 runs: a few are influential enough to trip Pareto k, as on real scaling-law tables;
    # fallback="none" keeps plain PSIS-LOO and must say so (the fallbacks are tested below)
    with pytest.warns(UserWarning, match="PSIS-LOO may be optimistic"):
        table = bl.compare({"kaplan": kaplan_small, "chinchilla": small_fit}, fallback="none",
                           extrapolation=False)
    assert list(table.index) == ["chinchilla", "kaplan"]  # data simulated from Chinchilla's law
    assert list(table.columns) == ["rank", "elpd", "se", "elpd_diff", "dse", "p_worse", "p_loo",
                                   "weight", "cv", "k_max", "n_high_k", "diag_diff", "diag_elpd"]
    assert table["weight"].sum() == pytest.approx(1.0, abs=1e-6)
    assert table.loc["chinchilla", "elpd_diff"] == 0 and table.loc["kaplan", "elpd_diff"] < 0
    assert (table["cv"] == "psis-loo").all()
    assert table.loc["chinchilla", "n_high_k"] >= 1 and table.loc["chinchilla", "k_max"] > 0.7
    assert any("unreliable" in n for n in table.attrs["notes"])
    assert table.attrs["verdict"].startswith("chinchilla")
    assert "stacking weights" in table.attrs["verdict"]


def test_identical_fits_are_a_tie(small_fit):
    table = bl.compare({"a": small_fit, "b": small_fit}, k_threshold=10.0, extrapolation=False)
    assert table["elpd_diff"].abs().max() < 1e-9
    assert "about equally well" in table.attrs["verdict"]


def test_high_k_rows_are_refitted_exactly(small_fit):
    thr = _second_largest_k(small_fit)
    res = loo(small_fit, k_threshold=thr, refit=TINY)
    assert res.method == "psis-loo + 1 exact refit"
    (row,) = res.high_k_rows
    psis = loo(small_fit, fallback="refit", k_threshold=10.0)  # nothing above: plain PSIS
    assert psis.method == "psis-loo"
    assert res.elpd.pareto_k.values[row] == 0.0  # that row's term is now exact
    others = np.arange(len(small_fit.data)) != row
    np.testing.assert_allclose(res.elpd.elpd_i.values[others], psis.elpd.elpd_i.values[others])
    assert res.elpd.elpd_i.values[row] != pytest.approx(psis.elpd.elpd_i.values[row], abs=1e-12)
    assert np.isfinite(res.elpd.elpd)
    assert "refitted" in res.notes[0]


def test_too_many_high_k_rows_switch_to_grouped_kfold(small_fit):
    thr = _second_largest_k(small_fit)
    res = loo(small_fit, k_threshold=thr, max_refits=0, folds=2, refit=TINY)
    assert res.method == "grouped 2-fold"
    assert "grouped 2-fold" in res.notes[0] and "Pareto k" in res.notes[0]
    psis = loo(small_fit, fallback="none", k_threshold=10.0)
    # leaving out half of the model sizes is much harder than leaving out one run
    assert res.elpd.elpd < psis.elpd.elpd
    assert res.pareto_k.equals(psis.pareto_k)  # diagnostics of the original PSIS are kept


def test_size_groups_keep_each_model_size_together(small_fit):
    groups = size_groups(small_fit)
    sizes = small_fit.data["params"].to_numpy()
    for g in np.unique(groups):
        assert len(np.unique(sizes[groups == g])) == 1
    assert len(np.unique(groups)) == len(np.unique(sizes))
    with pytest.raises(bl.BayeslawsError, match="two model sizes"):
        one = small_fit.data["params"].iloc[0]
        small_fit.data["params"] = one
        try:
            kfold(small_fit, folds=2, refit=TINY)
        finally:
            small_fit.data["params"] = sizes


def test_extrapolation_scores_join_beside_loo(small_fit, kaplan_small):
    scores = pd.DataFrame({"coverage90": [0.9, 0.6], "crps": [0.01, 0.03]},
                          index=["chinchilla", "kaplan"])
    with pytest.warns(UserWarning, match="optimistic"):
        table = bl.compare({"chinchilla": small_fit, "kaplan": kaplan_small}, extrapolation=scores,
                           fallback="none")
    assert list(table.columns[-2:]) == ["coverage90", "crps"]
    assert table.loc["kaplan", "crps"] == 0.03 and table.attrs["verdict"]
    with pytest.raises(bl.BayeslawsError, match="one row per compared fit"):
        join_scores(table, scores.iloc[:1])
    with pytest.raises(bl.BayeslawsError, match="clash"):
        join_scores(table, scores.rename(columns={"crps": "elpd"}))


def test_compare_rejects_bad_input(small_fit):
    with pytest.raises(bl.BayeslawsError, match="at least two"):
        bl.compare({"a": small_fit})
    with pytest.raises(bl.BayeslawsError, match="fallback"):
        bl.compare({"a": small_fit, "b": small_fit}, fallback="magic")


def test_verdict_tells_a_clear_winner_from_a_tie():
    def table(diff, dse):
        return pd.DataFrame({"elpd_diff": [0.0, -diff], "dse": [0.0, dse], "weight": [0.8, 0.2]},
                            index=["x", "y"])

    assert verdict(table(30.0, 5.0)).startswith("x predicts left-out runs best")
    assert "about equally well" in verdict(table(3.0, 0.5))   # |diff| < 4
    assert "about equally well" in verdict(table(10.0, 6.0))  # diff < 2 se


def test_cli_compare_prints_table_and_verdict(small_fit, kaplan_small, tmp_path, capsys):
    small_fit.save(tmp_path / "chin.nc")
    kaplan_small.save(tmp_path / "kap.nc")
    out = tmp_path / "cmp.csv"
    code = cli.main(["compare", str(tmp_path / "chin.nc"), str(tmp_path / "kap.nc"),
                     "--fallback", "none", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "verdict: chinchilla predicts left-out runs best" in printed
    assert "note: chinchilla (chin.nc):" in printed and "Pareto k" in printed
    written = pd.read_csv(out, index_col=0)
    assert written.index.tolist() == ["chinchilla (chin.nc)", "kaplan (kap.nc)"]
    # Leave-largest-out scores beside LOO (one refit per fit on the smaller 85% of runs).
    for col in ("llo_coverage_50", "llo_coverage_90", "llo_crps_log", "llo_abs_rel_err"):
        assert col in written
    rows = written["llo_rows"].tolist()
    assert rows[0] == rows[1] and 2 <= rows[0] <= 8  # the top 15% by compute (ties kept together)
    assert ((written["llo_coverage_90"] >= 0) & (written["llo_coverage_90"] <= 1)).all()
    # the true law (chinchilla) forecasts its own largest runs better than kaplan
    assert (written.loc["chinchilla (chin.nc)", "llo_crps_log"]
            < written.loc["kaplan (kap.nc)", "llo_crps_log"])
    assert "Forecasting the largest 15% of runs from the rest" in printed
    assert cli.main(["compare", str(tmp_path / "chin.nc")]) == 2
    assert "at least two" in capsys.readouterr().err
