"""Output a person reads at a glance: compact optimal and compare tables, named parameters in
convergence warnings, each warning printed once."""

from __future__ import annotations

import os
import re
import warnings

import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws import cli, data as data_mod, diagnostics
from bayeslaws.cli import main
from bayeslaws.cli.optimal import _number
from bayeslaws.compare import LOO_COLUMNS, brief_table, plain_verdict
from conftest import REPO

FIXTURE = os.path.join(REPO, "tests", "fixtures", "tiny_fit_v1.nc")  # two families, a and b
CSV = os.path.join(REPO, "tests", "fixtures", "tiny_fit_v1.csv")


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def one_family(tmp_path_factory):
    """A CLI fit of family a's six runs plus a duplicate of its first row (one family)."""
    folder = tmp_path_factory.mktemp("readable")
    runs = pd.read_csv(CSV)
    runs = runs[runs["family"] == "a"]
    runs = pd.concat([runs, runs.iloc[[0]]], ignore_index=True)
    path = folder / "dup.csv"
    runs.to_csv(path, index=False)
    out = folder / "one.nc"
    import sys
    from io import StringIO

    err, saved = StringIO(), sys.stderr
    sys.stderr = err
    try:
        with warnings.catch_warnings():
            # "always": Python itself would repeat a warning; the CLI must print it once
            warnings.simplefilter("always")
            code = main(["fit", "chinchilla", "--data", str(path), "--out", str(out),
                         "--no-extrapolation", "--draws", "200", "--tune", "300", "--chains",
                         "2", "--seed", "1", "--quiet"])
    finally:
        sys.stderr = saved
    return code, err.getvalue(), out, path


# --------------------------------------------------------------------------- optimal
def test_optimal_compact_by_default_full_with_long_and_out(capsys, tmp_path):
    full = bl.load(FIXTURE).optimal(1e22).table(0.9)
    code, out, err = run(["optimal", FIXTURE, "--flops", "1e22", "--out",
                          str(tmp_path / "opt.csv")], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "compute-optimal allocation at C = 1e22 FLOPs: median [90% interval]"
    assert max(len(line) for line in lines) <= 120  # no wrapping at a usual terminal width
    assert "N_opt_median" not in out and "tokens_per_param" not in out
    row_a = next(line for line in lines if line.startswith("a "))
    n = full.loc["a"]
    assert (f"{_number(n['N_opt_median'], 2)} [{_number(n['N_opt_lower'], 2)}, "
            f"{_number(n['N_opt_upper'], 2)}]") in row_a
    assert f"{_number(n['loss_opt_median'], 4)} [" in row_a
    assert sum(line.startswith("new family (population)") for line in lines) == 1
    # --out keeps the full numeric table, every family and the population
    written = pd.read_csv(tmp_path / "opt.csv", index_col=0)
    assert list(written.index) == ["a", "b", "population"]
    assert list(written.columns) == list(full.columns) and len(written.columns) == 13
    pd.testing.assert_frame_equal(written, full, check_names=False, rtol=1e-9)
    code, out, _ = run(["optimal", FIXTURE, "--flops", "1e22", "--long"], capsys)
    assert code == 0 and "N_opt_median" in out and "population" in out


def test_number_format():
    assert _number(7.1234e10, 2) == "7.1e10" and _number(5.0e9, 2) == "5.0e9"
    assert _number(2.13, 4) == "2.130" and _number(79.4, 2) == "79" and _number(2100, 2) == "2.1e3"


@pytest.mark.slow
def test_optimal_one_family_hides_population(one_family, capsys):
    code, _, out_path, _ = one_family
    assert code == 0
    code, out, _ = run(["optimal", str(out_path), "--flops", "1e21"], capsys)
    assert code == 0
    assert "population" not in out.split("(")[0] and "--family population" in out
    rows = [line for line in out.splitlines()[2:] if "[" in line and not line.startswith("(")]
    assert len(rows) == 1 and rows[0].startswith("a ")
    code, out, _ = run(["optimal", str(out_path), "--flops", "1e21", "--family", "population"],
                       capsys)
    assert code == 0 and "new family (population)" in out
    code, out, _ = run(["optimal", str(out_path), "--flops", "1e21", "--long"], capsys)
    assert code == 0 and "population" in out and "N_opt_median" in out


# --------------------------------------------------------------------------- compare
@pytest.fixture(scope="module")
def kaplan_file(tmp_path_factory):
    """Kaplan's law on the fixture's 12 runs (the fixture is chinchilla on the same rows)."""
    runs = pd.read_csv(CSV)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)  # 12 runs; ranking is the point
        fit = bl.laws.get("kaplan").fit(runs, seed=2, draws=200, tune=300, chains=2,
                                        extrapolation=None, progress=False)
    path = tmp_path_factory.mktemp("cmp") / "kap.nc"
    fit.save(path)
    return path


@pytest.mark.slow
def test_compare_compact_labels_and_plain_verdict(kaplan_file, capsys, tmp_path):
    csv = tmp_path / "cmp.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # high Pareto k on 12 runs, --fallback none
        code, out, err = run(["compare", FIXTURE, str(kaplan_file), "--fallback", "none",
                              "--no-extrapolation", "--out", str(csv)], capsys)
    assert code == 0, err
    full = pd.read_csv(csv, index_col=0)
    assert set(full.index) == {"chinchilla (tiny_fit_v1.nc)", "kaplan (kap.nc)"}
    assert set(LOO_COLUMNS) <= set(full.columns)  # --out: the full table
    for label in full.index:
        assert label in out
    assert "p_worse" not in out and "diag_diff" not in out and "NaN" not in out
    assert "vs best" in out and "weight" in out
    best, second = full.index[0].split()[0], full.index[1].split()[0]
    diff, dse = -full["elpd_diff"].iloc[1], full["dse"].iloc[1]
    clear = diff >= 4 and diff >= 2 * dse
    verdict = next(line for line in out.splitlines() if line.startswith("verdict: "))
    worse = f"{second} is worse by {diff:.1f} ± {dse:.1f} elpd"
    if clear:
        assert verdict.startswith(f"verdict: {best} predicts left-out runs best; {worse} (clearly)")
    else:
        assert verdict.startswith(f"verdict: no clear winner: {best} ranks first")
        assert f"{worse} (within noise)" in verdict
    assert "note: 12 runs (fewer than 100)" in out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        code, out, _ = run(["compare", FIXTURE, str(kaplan_file), "--fallback", "none",
                            "--no-extrapolation", "--long"], capsys)
    assert code == 0 and "p_worse" in out and "diag_diff" in out and "stacking weights" in out


def _table(diff, dse, names=("x (a.nc)", "y (b.nc)")):
    return pd.DataFrame({"rank": [0, 1], "elpd": [-10.0, -10.0 - diff], "se": [2.0, 2.5],
                         "elpd_diff": [0.0, -diff], "dse": [0.0, dse], "weight": [0.8, 0.2],
                         "cv": ["psis-loo", "psis-loo + 2 exact refits"], "n_high_k": [0, 2]},
                        index=list(names))


def test_plain_verdict_and_brief_table():
    short = {"x (a.nc)": "chinchilla", "y (b.nc)": "kaplan"}
    assert plain_verdict(_table(12.3, 4.1), short) == (
        "chinchilla predicts left-out runs best; kaplan is worse by 12.3 ± 4.1 elpd (clearly).")
    tie = plain_verdict(_table(3.0, 0.5), short)
    assert tie.startswith("no clear winner: chinchilla ranks first but kaplan")
    assert "kaplan is worse by 3.0 ± 0.5 elpd (within noise)" in tie
    assert "(within noise)" in plain_verdict(_table(10.0, 6.0), short)  # diff < 2 se
    same = {"x (a.nc)": "chinchilla", "y (b.nc)": "chinchilla"}  # names not unique: labels
    assert plain_verdict(_table(12.3, 4.1), same).startswith("x (a.nc) predicts left-out runs")
    brief = brief_table(_table(12.3, 4.1))
    assert list(brief["rank"]) == [1, 2] and list(brief["vs best"]) == ["best", "-12.3 ± 4.1"]
    assert list(brief["elpd"]) == ["-10.0 ± 2.0", "-22.3 ± 2.5"]
    assert brief["estimated by"].iloc[0] == "psis-loo, all rows ok"


# --------------------------------------------------------------------------- warnings
def test_convergence_problems_named_as_in_the_paper():
    many = {"rhat": {"log_E_mu": 1.3, "log_E_z": 1.2, "log_A0_sigma": 1.05, "sigma": 1.02,
                     "log_A0_mu": 1.0, "log_A0_z": 1.0, "log_E_sigma": 1.0, "nu": 1.0},
            "ess_bulk": {}, "divergences": 0, "chains": 2}
    text = "; ".join(diagnostics.problems(many))
    assert "E (population mean) [log_E_mu] = 1.300" in text
    assert "E (per-family offsets) [log_E_z] = 1.200" in text
    assert "spread of A0 across families [log_A0_sigma] = 1.050" in text
    assert "noise scale [sigma] = 1.020" in text
    # one family: no offsets; the spreads are prior draws that enter nothing, the mean is E
    one = {"rhat": {"log_E_mu": 1.3, "log_E_sigma": 1.4, "sigma": 1.0},
           "ess_bulk": {"log_E_mu": 50.0, "log_E_sigma": 20.0, "sigma": 900.0},
           "divergences": 0, "chains": 2}
    found = diagnostics.problems(one)
    assert found == ["R-hat > 1.01 for E [log_E_mu] = 1.300", "bulk ESS < 200 for E [log_E_mu] = 50"]
    assert diagnostics.unused(one["rhat"]) == {"log_E_sigma"}
    # centred pooling of several families (no _z): the spread is used through log_E itself
    assert diagnostics.unused({"log_E_mu", "log_E_sigma", "log_E"}) == set()
    assert diagnostics.unused({"log_E_mu", "log_E_sigma", "centred_w", "log_E"}) == set()
    # one family sampled through the affine map: centred_w makes the mean, the spread is unused
    assert diagnostics.unused({"log_E_mu", "log_E_sigma", "centred_w"}) == {"log_E_sigma"}


@pytest.mark.slow
def test_one_family_fit_spreads_are_unused_and_not_warned(one_family):
    code, err, out, _ = one_family
    assert code == 0
    fit = bl.load(out)
    report = fit.diagnostics()
    names = set(report["rhat"])
    law = fit.law
    spreads = {f"{p.sampled}_sigma" for p in law.parameters.values()}
    assert spreads <= names and not any(n.endswith("_z") for n in names)  # what 1 family samples
    assert diagnostics.unused(names) == spreads
    text = " ".join(diagnostics.problems(report)) + " " + " ".join(fit.convergence)
    assert "_sigma]" not in text and "spread of" not in text
    assert "log_E_z" not in err and "_sigma" not in err.replace("[sigma]", "")


@pytest.mark.slow
def test_duplicate_row_warned_once(one_family):
    code, err, out, path = one_family
    assert code == 0
    assert err.count("exact duplicates of another row") == 1, err
    assert "rows 1, 7" in err
    # the fit's data is not warned about again when a later step re-checks it (backtests,
    # LOO), in this process or after loading
    fit = bl.load(out)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data_mod.prepare(fit.law, fit.data)
        data_mod.prepare(fit.law, fit.data.iloc[:5])
    assert not [w for w in caught if "duplicates" in str(w.message)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data_mod.prepare(fit.law, pd.read_csv(path))  # a user's table: warned
    assert len([w for w in caught if "duplicates" in str(w.message)]) == 1


def test_cli_prints_each_distinct_warning_once(monkeypatch, capsys):
    def twice(args):
        for text in ("same words", "same words", "other words"):
            warnings.warn(text, UserWarning)

    monkeypatch.setitem(cli.COMMANDS, "laws", twice)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        code, _, err = run(["laws"], capsys)
    assert code == 0
    assert err.count("warning: UserWarning: same words") == 1
    assert err.count("warning: UserWarning: other words") == 1
    assert re.search(r"same words", err)
