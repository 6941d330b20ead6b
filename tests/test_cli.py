"""The command line contract: commands, output columns and exit codes."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from bayeslaws.cli import main
from conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A small CLI fit of Gadre's models up to 411M parameters via the model spec."""
    folder = tmp_path_factory.mktemp("cli")
    out = folder / "gadre.nc"
    spec = os.path.join(REPO, "models", "gadre_chinchilla.yaml")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains, by design
        code = main(["fit", spec, "--out", str(out), "--draws", "300", "--tune", "500",
                     "--chains", "2", "--quiet"])
    return code, out


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.filterwarnings("ignore::bayeslaws.ConvergenceWarning")
def test_fit_spec_writes_a_fit(fitted):
    code, out = fitted
    assert code == 0
    assert out.exists()


def test_predict_columns_contract(fitted, tmp_path, capsys):
    _, fit_path = fitted
    rows = pd.DataFrame({"params": [1.4e9, 6.9e9], "tokens": [2.9e10, 1.38e11],
                         "note": ["a", "b"], "family": ["rpj", "rpj"]})
    rows.to_csv("rows.csv", index=False)
    code, _, err = run(["predict", str(fit_path), "--data", "rows.csv", "--out", "pred.csv",
                        "--prob", "0.8"], capsys)
    assert code == 0, err
    pred = pd.read_csv("pred.csv")
    # the contract's columns in order, then how far out each row is and where its family came from
    assert list(pred.columns) == ["params", "tokens", "note", "family", "loss_mean",
                                  "loss_median", "loss_lower", "loss_upper", "extrapolation",
                                  "compute_multiple", "family_source"]
    assert pred["family_source"].tolist() == ["fitted", "fitted"]
    # compute over the largest fitted run's: 6.9B x 138B tokens is 23x the 1.4B x 29B run
    ratio = pred["compute_multiple"].iloc[1] / pred["compute_multiple"].iloc[0]
    assert ratio == pytest.approx(6.9e9 * 1.38e11 / (1.4e9 * 2.9e10), rel=1e-9)
    assert (pred["loss_lower"] < pred["loss_median"]).all()
    assert (pred["loss_median"] < pred["loss_upper"]).all()
    assert (pred["loss_median"].diff().iloc[1:] < 0).all()  # bigger model, lower loss
    # without a family column a multi-family fit uses the population: wider intervals
    rows.drop(columns="family").to_csv("rows_nf.csv", index=False)
    assert run(["predict", str(fit_path), "--data", "rows_nf.csv", "--out", "pop.csv"], capsys)[0] == 0
    pop = pd.read_csv("pop.csv")
    assert list(pop.columns)[:3] == ["params", "tokens", "note"]


def test_optimal_rows_per_family_and_population(fitted, capsys):
    _, fit_path = fitted
    code, out, _ = run(["optimal", str(fit_path), "--flops", "1e24", "--out", "opt.csv"], capsys)
    assert code == 0
    table = pd.read_csv("opt.csv", index_col=0)
    assert list(table.index) == ["c4_original", "rpj", "rw_original", "population"]
    assert {"N_opt_median", "D_opt_lower", "tokens_per_param_upper", "loss_opt_median"} <= set(table)
    code, out, _ = run(["optimal", str(fit_path), "--flops", "1e24", "--family", "rpj"], capsys)
    assert code == 0 and "rpj" in out and "c4_original" not in out
    # beyond the fitted compute the table says what its N* interval leaves out; inside, not
    assert "held-out IsoFLOP minima" in out
    code, out, _ = run(["optimal", str(fit_path), "--flops", "1e18"], capsys)
    assert code == 0 and "held-out IsoFLOP minima" not in out


def test_plot_writes_png(fitted, capsys):
    _, fit_path = fitted
    code, _, err = run(["plot", str(fit_path), "--out", "fig.png"], capsys)
    assert code == 0, err
    with open("fig.png", "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_listing_commands(capsys):
    code, out, _ = run(["laws"], capsys)
    assert code == 0 and "chinchilla" in out and "power-law" in out and "E + A/N^alpha" in out
    code, out, _ = run(["datasets"], capsys)
    assert code == 0 and "chinchilla_epoch" in out and "245" in out and "gadre_overtraining" in out


@pytest.mark.parametrize("argv, needle", [
    (["fit", "chinchila", "--data", "chinchilla_epoch", "--out", "x.nc"], "did you mean 'chinchilla'"),
    (["fit", "chinchilla", "--data", "no_such_data", "--out", "x.nc"], "no file or bundled dataset"),
    (["fit", "chinchilla", "--data", "chinchilla_epoch"], "--out is required"),
    (["fit", "chinchilla", "--data", "bad.csv", "--out", "x.nc"], "column 'params' is missing"),
    (["fit", "chinchilla", "--data", "chinchilla_epoch", "--out", "x.nc", "--draws", "0"], "positive integer"),
    (["fit", "chinchilla", "--data", "chinchilla_epoch", "--out", "x.nc", "--sampler", "blackjax"], "invalid choice"),
    (["fit", "chinchilla", "--data", "chinchilla_epoch", "--out", "nodir/x.nc"], "does not exist"),
    (["predict", "missing.nc", "--data", "bad.csv", "--out", "p.csv"], "no such fit file"),
    (["predict", "bad.csv", "--data", "bad.csv", "--out", "p.csv"], "not a readable fit file"),
    (["optimal", "missing.nc", "--flops", "1e24"], "no such fit file"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_exit_2_one_line(argv, needle, capsys):
    pd.DataFrame({"N": [1e8, 1e9], "tokens": [1e9, 1e10], "loss": [3.0, 2.5]}).to_csv("bad.csv", index=False)
    code, out, err = run(argv, capsys)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert not os.path.exists("x.nc")


@pytest.mark.parametrize("extra, needle", [
    (["--prob", "1.5"], "strictly between 0 and 1"),
    (["--prob", "0"], "strictly between 0 and 1"),
])
def test_bad_prob_and_flops(fitted, extra, needle, capsys):
    _, fit_path = fitted
    pd.DataFrame({"params": [1e9], "tokens": [2e10]}).to_csv("rows.csv", index=False)
    code, _, err = run(["predict", str(fit_path), "--data", "rows.csv", "--out", "p.csv", *extra], capsys)
    assert code == 2 and needle in err
    code, _, err = run(["optimal", str(fit_path), "--flops=-1e20"], capsys)
    assert code == 2 and "positive" in err
    code, _, err = run(["optimal", str(fit_path), "--flops", "1e24", "--family", "nope"], capsys)
    assert code == 2 and "not in this fit" in err


def test_internal_error_is_one_line_exit_1(monkeypatch, capsys):
    import bayeslaws.cli as cli

    def broken(args):
        raise RuntimeError("something inside broke")

    monkeypatch.setitem(cli.COMMANDS, "laws", broken)
    code, _, err = run(["laws"], capsys)
    assert code == 1
    assert err.strip().count("\n") == 0 and "--debug" in err and "something inside broke" in err


def test_sampler_flags_reach_law_fit(monkeypatch, tmp_path, capsys):
    """--dense-mass, --float32, --target-accept and --sampler are handed to Law.fit (stopped
    before sampling)."""
    from bayeslaws.laws.base import Law

    seen = []

    def record(self, data, **kw):
        seen.append(kw)
        raise RuntimeError("stop before sampling")

    monkeypatch.setattr(Law, "fit", record)
    base = ["fit", "chinchilla", "--data", "chinchilla_epoch", "--out", str(tmp_path / "f.nc"),
            "--quiet"]
    assert run(base + ["--dense-mass", "--target-accept", "0.95", "--sampler", "pymc"],
               capsys)[0] == 1
    assert run(base, capsys)[0] == 1
    assert run(base + ["--float32"], capsys)[0] == 1
    assert seen[2]["float32"] is True and "float32" not in seen[1]
    assert seen[0]["dense_mass"] is True and seen[0]["target_accept"] == 0.95
    assert seen[0]["sampler"] == "pymc"
    assert "dense_mass" not in seen[1]  # Law.fit's default (diagonal) applies
    assert not (tmp_path / "f.nc").exists()
