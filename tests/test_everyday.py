"""The everyday loop at the command line: forecasts typed inline, along the frontier, progress
lines that say what runs, a saved fit that never reruns its backtests, sizes beyond any model.

The committed fixture fit (``tests/fixtures/tiny_fit_v1.nc``, two families) stands in for a fit;
nothing here samples.
"""

from __future__ import annotations

import io
import os
import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayeslaws as bl
from bayeslaws import extrapolation as ex
from bayeslaws import mapping
from bayeslaws.cli import main
from bayeslaws.progress import PROGRESS, Progress, Steps
from conftest import REPO

FIXTURE = os.path.join(REPO, "tests", "fixtures", "tiny_fit_v1.nc")


def _discrepancy(fit, tau=0.02):
    post = fit.posterior
    values = np.full((post.sizes["chain"], post.sizes["draw"]), tau)
    return ex.Discrepancy(xr.DataArray(values, dims=("chain", "draw")), folds=3, groups=6)


@pytest.fixture(scope="module")
def fit_path(tmp_path_factory):
    """The fixture fit with a discrepancy attached, saved as a fit of this version."""
    fit = bl.load(FIXTURE)
    fit.idata["extrapolation"] = _discrepancy(fit).to_dataset()
    path = tmp_path_factory.mktemp("everyday") / "tiny.nc"
    fit.save(path)
    return path


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------------ predict, inline rows
def test_predict_rows_typed_inline_print_a_table_per_family(fit_path, capsys):
    code, out, err = run(["predict", fit_path, "--params", "1e9", "--tokens", "2e10",
                          "--params", "1e11", "--tokens", "2e12"], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert "loss_median" in lines[0] and "family_source" in lines[0]
    assert len(lines) == 1 + 2 * 2  # two rows for each of the two fitted families
    assert sum(" a " in f" {ln} " for ln in lines[1:]) == 2
    assert "rows lie beyond the fitted range" in err  # 1e11 params is far past the data


def test_predict_flops_with_one_size_gives_the_other(fit_path, tmp_path, capsys):
    out = tmp_path / "p.csv"
    code, _, err = run(["predict", fit_path, "--flops", "1.2e20", "--params", "1e9",
                        "--family", "b", "--out", out], capsys)
    assert code == 0, err
    table = pd.read_csv(out)
    assert table["tokens"].iloc[0] == pytest.approx(1.2e20 / 6e9)
    assert table["family"].tolist() == ["b"] and table["family_source"].tolist() == ["fitted"]


def test_predict_frontier_matches_the_optimum_and_widens_with_compute(fit_path, tmp_path, capsys):
    out = tmp_path / "f.csv"
    code, _, err = run(["predict", fit_path, "--flops", "1e20", "--flops", "1e23", "--frontier",
                        "--family", "a", "--out", out], capsys)
    assert code == 0, err
    table = pd.read_csv(out)
    fit = bl.load(fit_path)
    opt = fit.optimal(1e20, family="a").table()
    assert table["params_opt"].iloc[0] == pytest.approx(opt["N_opt_median"].iloc[0], rel=1e-9)
    # the loss law at each draw's own optimum: the curve's centre is the optimum's loss
    assert table["loss_mean"].iloc[0] == pytest.approx(
        float(fit.optimal(1e20, family="a").draws["loss_opt"].mean()), rel=0.02)
    width = (table["loss_upper"] - table["loss_lower"]).to_numpy()
    assert width[1] > width[0] and table["extrapolation"].iloc[1] > table["extrapolation"].iloc[0]


@pytest.mark.parametrize("argv, needle", [
    (["--params", "1e9", "--data", "x.csv"], "either in a file (--data) or inline"),
    ([], "nothing to predict"),
    (["--flops", "1e20"], "give --params or --tokens too, or --frontier"),
    (["--params", "1e9", "--tokens", "1e10", "--flops", "1e20"], "give two of"),
    (["--params", "1e9", "--params", "2e9", "--params", "3e9", "--tokens", "1e10",
      "--tokens", "2e10"], "once per row"),
    (["--frontier", "--family", "a"], "--frontier needs --flops"),
    (["--params", "1e9", "--tokens", "2e10", "--family", "A"], "did you mean 'a'"),
])
def test_predict_inline_mistakes_exit_2_with_the_fix(fit_path, argv, needle, capsys):
    code, _, err = run(["predict", fit_path, *argv], capsys)
    assert code == 2 and needle in err


def test_a_declared_new_family_is_forecast_as_new(fit_path, capsys):
    code, out, err = run(["predict", fit_path, "--params", "1e9", "--tokens", "2e10",
                          "--family", "A", "--new-family", "A"], capsys)
    assert code == 0, err
    assert "new family" in out and "'A' was not fitted" in err


def test_predict_from_a_file_without_family_column_says_so(fit_path, tmp_path, capsys):
    rows = tmp_path / "rows.csv"
    pd.DataFrame({"params": [2e9], "tokens": [4e10]}).to_csv(rows, index=False)
    code, out, err = run(["predict", fit_path, "--data", rows], capsys)
    assert code == 0
    assert "no family column" in out and "no 'family' column" in err


# ------------------------------------------------------------------------ saving and loading
def test_save_learns_the_discrepancy_of_a_fresh_fit_once(tmp_path, monkeypatch):
    calls = []

    def learn(cls, fit, **kw):
        calls.append(kw)
        return _discrepancy(fit, 0.03)

    monkeypatch.setattr(ex.Discrepancy, "learn", classmethod(learn))
    fit = bl.load(FIXTURE)
    fit.source = None  # as if made in this process
    assert fit.config.get("extrapolation", "backtest") == "backtest"
    fit.save(tmp_path / "a.nc")
    assert len(calls) == 1
    back = bl.load(tmp_path / "a.nc")
    assert back.discrepancy.summary()["median"] == pytest.approx(0.03)
    back.save(tmp_path / "b.nc")
    assert len(calls) == 1  # stored: never learned again


def test_a_loaded_fit_without_a_discrepancy_says_it_learns_one(tmp_path, monkeypatch):
    # only when backtests would run (OWN_WEIGHT > 0); the default's population prior is free
    monkeypatch.setattr(ex, "OWN_WEIGHT", 1.0)
    monkeypatch.setattr(ex.Discrepancy, "learn",
                        classmethod(lambda cls, fit, **kw: _discrepancy(fit)))
    path = tmp_path / "old.nc"
    shutil.copy(FIXTURE, path)
    fit = bl.load(path)
    with pytest.warns(UserWarning, match="holds no extrapolation discrepancy.*save the fit again"):
        assert fit.discrepancy is not None


# ------------------------------------------------------------------------ figures and report
def test_forecast_follows_the_frontier_unless_a_ratio_is_given(fit_path):
    from bayeslaws.plots.forecast import default_target, forecast_path

    fit = bl.load(fit_path)
    xs = np.array([1e20, 1e22])
    rows, pred, how = forecast_path(fit, xs, "a")
    assert how == "on the fitted compute-optimal frontier"
    opt = fit.optimal(1e22, family="a").table()
    assert rows["params"].iloc[1] == pytest.approx(opt["N_opt_median"].iloc[0], rel=1e-9)
    rows20, _, how20 = forecast_path(fit, xs, "a", tokens_per_param=20)
    assert how20 == "at 20 tokens/param"
    np.testing.assert_allclose(rows20["tokens"] / rows20["params"], 20)
    top = float((6 * fit.data["params"] * fit.data["tokens"]).max())
    assert 100 * top <= default_target(fit) < 1000 * top


def test_plot_tokens_per_param_flag(fit_path, tmp_path, capsys):
    assert run(["plot", fit_path, "--kind", "forecast", "--tokens-per-param", "40",
                "--out", tmp_path / "f.png"], capsys)[0] == 0
    code, _, err = run(["plot", fit_path, "--kind", "fit", "--tokens-per-param", "40",
                        "--out", tmp_path / "g.png"], capsys)
    assert code == 2 and "applies to --kind forecast" in err


def test_report_forecasts_every_family_at_the_figures_target(fit_path):
    from bayeslaws.plots.forecast import default_target
    from bayeslaws.report import _forecast_tables

    fit = bl.load(fit_path)
    html = _forecast_tables(fit, default_target(fit), None, 0.9)  # the page's forecast section
    assert "Forecasts per family on the fitted compute-optimal frontier" in html
    for fam in ("<td>a</td>", "<td>b</td>", "<td>population</td>"):
        assert html.count(fam) >= 3  # at the target and 10x and 100x below it


# ------------------------------------------------------------------------ progress lines
def test_steps_line_counts_steps_and_estimates_the_rest():
    stream = io.StringIO()
    with Steps("bayeslaws report", 4, stream=stream) as steps:
        for k in range(4):
            steps.step(f"figure {k + 1} of 4")
            steps.done()
    text = stream.getvalue()
    assert "bayeslaws report: figure 1 of 4:   0%" in text
    assert "bayeslaws report: figure 4 of 4: 100%" in text
    quiet = io.StringIO()
    with Steps("x", 2, show=False, stream=quiet) as steps:
        steps.step("a")
        steps.done()
    assert quiet.getvalue() == ""


def test_progress_names_the_compile_and_the_titled_step():
    line, stream = Progress(), io.StringIO()
    line.start("bayeslaws: sampling 4 chains", 10, stream=stream)
    line.stop()
    assert "compiling the sampler" in stream.getvalue()
    stream = io.StringIO()
    with PROGRESS.titled("calibration backtests, 3 refits on the smaller runs"):
        PROGRESS.start("bayeslaws: sampling 3 tables x 4 chains", 10, stream=stream)
        PROGRESS.stop()
    assert stream.getvalue().lstrip("\r").startswith(
        "bayeslaws: calibration backtests, 3 refits on the smaller runs:")
    assert PROGRESS.title is None


# ------------------------------------------------------------------------ sizes
@pytest.mark.parametrize("col, factor", [("tokens", 1e18), ("params", 1e11)])
def test_sizes_beyond_any_trained_model_stop_unless_declared_raw(col, factor):
    runs = bl.datasets.load("chinchilla_epoch", fit_rows=True).head(20)
    law = bl.laws.get("chinchilla")
    bad = runs.assign(**{col: runs[col] * factor})
    with pytest.raises(bl.DataError, match=f"column '{col}' has values up to .* beyond any "
                                           f"trained model.*--scale {col}=1"):
        mapping.to_canonical(law, bad, mapping.source(None))
    mapping.to_canonical(law, bad, mapping.source(None, scale={col: 1}))


def test_compare_refits_and_forecast_checks_are_titled(monkeypatch):
    import importlib

    cmp = importlib.import_module("bayeslaws.compare")  # bl.compare is the function
    seen = []

    def llo(fit, *, holdout, seed, progress):
        seen.append((PROGRESS.title, progress))
        return {"coverage_90": 1.0}

    monkeypatch.setattr(ex, "leave_largest_out", llo)
    table = cmp.extrapolation_scores({"a": None, "b": None}, progress=True)
    assert list(table.index) == ["a", "b"] and "llo_coverage_90" in table
    assert seen == [("compare: leave-largest-out 1 of 2 (a)", True),
                    ("compare: leave-largest-out 2 of 2 (b)", True)]

    class _Law:
        def fit(self, data, **kw):
            seen.append((PROGRESS.title, kw["progress"]))
            return "refit"

    class _Fit:
        law, idata = _Law(), None
        data = pd.DataFrame({"x": [1.0, 2.0, 3.0]})

    wrapper = cmp._refit_wrapper(_Fit(), {}, total=3, label="compare: kaplan, 3-fold",
                                 progress=True)
    wrapper.sample(_Fit.data)
    wrapper.sample(_Fit.data)
    assert seen[-2:] == [("compare: kaplan, 3-fold: refit 1 of 3", True),
                         ("compare: kaplan, 3-fold: refit 2 of 3", True)]


# ------------------------------------------------------------------------ a second mode
def test_a_chain_in_a_second_mode_is_named_with_its_own_remedy():
    from bayeslaws import diagnostics

    rng = np.random.default_rng(0)
    beta = np.log(0.35) + 0.02 * rng.standard_normal((4, 500))
    beta[2] = np.log(0.07) + 0.02 * rng.standard_normal(500)  # chain 3 found another optimum
    alpha = np.log(0.34) + 0.02 * rng.standard_normal((4, 500))
    post = xr.Dataset({"log_beta": (("chain", "draw"), beta),
                       "log_alpha": (("chain", "draw"), alpha)})
    idata = xr.DataTree.from_dict({"posterior": post})
    report = diagnostics.diagnose(idata, ["log_beta", "log_alpha"])
    assert [(m["var"], m["chain"]) for m in report["modes"]] == [("log_beta", 2)]
    with pytest.warns(bl.ConvergenceWarning) as record:
        diagnostics.warn_if_unconverged(report)
    text = str(record[0].message)
    assert "chain 3 sits in a second mode: beta = 0.07 there, 0.35 in the other chains" in text
    assert "More draws will not join the two" in text and "more draws/tune" not in text
    # slow mixing (chains apart by less than the gap rule) keeps the generic remedy
    slow = post.assign(log_beta=(("chain", "draw"),
                                 np.log(0.35) + 0.02 * rng.standard_normal((4, 500))
                                 + 0.03 * np.arange(4)[:, None]))
    report = diagnostics.diagnose(xr.DataTree.from_dict({"posterior": slow}), ["log_beta"])
    assert report["modes"] == []
    with pytest.warns(bl.ConvergenceWarning, match="more draws/tune"):
        diagnostics.warn_if_unconverged(report)
