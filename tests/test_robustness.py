"""Robustness: bad input, sampling trouble, damaged files, interrupts and reproducibility.

Each test here is a row of the catalogue in ``docs/robustness.md``. The fixture fit
``tests/fixtures/tiny_fit_v1.nc`` (see ``tests/fixtures/make_fixtures.py``) stands in for a fit
wherever no sampling is needed; two tests sample, briefly.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayeslaws as bl
from bayeslaws import batch, diagnostics, io, sampling
from bayeslaws.cli import main
from bayeslaws.data import prepare
from bayeslaws.laws import Law, Param
from bayeslaws.model import build_model
from conftest import REPO

FIXTURES = os.path.join(REPO, "tests", "fixtures")
sys.path.insert(0, FIXTURES)
import make_fixtures  # noqa: E402  the script that wrote the fixture files
FIXTURE = os.path.join(FIXTURES, "tiny_fit_v1.nc")
CHINCHILLA = bl.laws.get("chinchilla")


def runs(n: int = 6, **columns) -> pd.DataFrame:
    """A small valid table in raw units, two families, with column overrides."""
    params = np.geomspace(7e7, 1.6e10, n)
    frame = pd.DataFrame({"params": params, "tokens": 20.0 * params,
                          "loss": np.linspace(3.4, 2.1, n), "family": (["a", "b"] * n)[:n]})
    return frame.assign(**columns)


def cli(argv, capsys):
    """Run the CLI in-process; return (exit code, stdout, stderr lines)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, [line for line in captured.err.splitlines() if line]


def expected():
    with open(os.path.join(FIXTURES, "tiny_fit_v1.json")) as fh:
        return json.load(fh)


# --------------------------------------------------------------------------- bad input
def test_tokens_in_mixed_units_stop_with_rows():
    from bayeslaws.mapping import to_canonical

    frame = runs(4, tokens=[2.5e9, 7e9, 26.0, 80.0])
    with pytest.raises(bl.DataError, match=r"'tokens' mixes values below 100 in rows 3, 4 \(counted from 1"):
        to_canonical(CHINCHILLA, frame)


def test_heuristics_are_silent_on_the_smallest_real_runs():
    # real data has 768-parameter models and D/N as low as 0.006 (Porian 2024, Pythia)
    frame = pd.DataFrame({"params": [768.0, 3.3e5, 1.2e9, 6.9e9],
                          "tokens": [5.0e6, 5.0e6, 7.2e6, 4.0e7], "loss": [6.1, 4.9, 4.0, 3.6]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from bayeslaws.mapping import to_canonical

        prepare(CHINCHILLA, to_canonical(CHINCHILLA, frame))


def test_family_with_one_run_warns_only_without_pooling():
    frame = pd.concat([runs(12), runs(1).assign(family="solo", loss=2.9)], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prepare(CHINCHILLA, frame)  # partial pooling: the lone run borrows strength
    with pytest.warns(UserWarning, match=r"family 'solo' \(1 run\) has fewer runs than the 5 "
                                         r"parameters.*pooling='partial'"):
        prepare(bl.laws.get("chinchilla", pooling="independent"), frame)


def test_single_family_with_partial_pooling_is_the_plain_model():
    frame = runs(6).drop(columns="family")
    table = prepare(CHINCHILLA, frame)
    model = build_model(CHINCHILLA, table, table.families, np.zeros(6, dtype=int))
    names = {v.name for v in model.free_RVs}
    assert not any(n.endswith("_z") for n in names)  # no family offsets, so no funnel
    # the family's values are the population means (sampled through the affine map of
    # bayeslaws.precondition: with 6 runs, the prior's own scale)
    made = names | {v.name for v in model.deterministics}
    assert {"log_E_mu", "log_alpha_mu", "sigma", "nu"} <= made
    assert table.families == ["all"]


def test_huge_table_validates_fast_and_errors_stay_one_line():
    n = 1_000_000
    frame = pd.DataFrame({"params": np.geomspace(1e6, 1e11, n),
                          "tokens": np.geomspace(2e7, 2e12, n), "loss": np.linspace(5.0, 2.0, n)})
    start = time.perf_counter()
    table = prepare(CHINCHILLA, frame)
    assert time.perf_counter() - start < 15.0
    assert table.y.shape == (n,)
    frame.loc[::3, "loss"] = -1.0
    with pytest.raises(bl.DataError) as err:
        prepare(CHINCHILLA, frame)
    assert len(err.value.rows) == len(range(0, n, 3))
    assert len(str(err.value)) < 400 and "(and 333326 more;" in str(err.value)


@pytest.mark.parametrize("content, needle", [
    ("params,tokens,loss\n", "empty (0 rows)"),
    ("params,tokens,loss\n1e9,2e10,2.1\n1.3B,2e10,2.0\n",
     "column 'params' has non-numeric values in row 2 "),
    ("params,tokens,loss\n1e9,2e10,2.1\n2e9,,2.0\n",
     "column 'tokens' has missing or infinite values in row 2 "),
    ("params,tokens,los\n1e9,2e10,2.1\n", "Did you mean 'los'?"),
    ("", "not a readable CSV"),
])
def test_cli_bad_tables_exit_2_with_one_line(content, needle, capsys):
    with open("runs.csv", "w") as fh:
        fh.write(content)
    code, _, err = cli(["fit", "chinchilla", "--data", "runs.csv", "--out", "x.nc"], capsys)
    assert code == 2 and len(err) == 1 and needle in err[0], err
    assert not os.path.exists("x.nc")


@pytest.mark.parametrize("argv, needle", [
    (["fit", FIXTURE, "--out", "x.nc"], "neither a law name nor a model spec"),
    (["predict", FIXTURE, "--data", "rows.csv", "--out", "x.csv", "--seed", "-1"],
     "expected a seed from 0 to 2**32 - 1, got -1"),
    (["fit", "chinchilla", "--data", "rows.csv", "--out", "x.nc", "--seed", "2**40"],
     "expected a seed (an integer"),
    (["optimal", FIXTURE, "--flops", "nan"], "positive finite number"),
    (["predict", FIXTURE, "--data", FIXTURE, "--out", "x.csv"], "is an HDF5/netCDF file (a saved bayeslaws fit?)"),
])
def test_cli_arguments_found_by_fuzzing_exit_2(argv, needle, capsys):
    pd.DataFrame({"params": [1e9], "tokens": [2e10]}).to_csv("rows.csv", index=False)
    code, _, err = cli(argv, capsys)
    assert code == 2 and len(err) == 1 and needle in err[0], err
    assert not os.path.exists("x.nc") and not os.path.exists("x.csv")


# --------------------------------------------------------------------------- start point
@pytest.mark.parametrize("kwargs, needle", [
    ({"priors": {"E": (0.4, -1.0)}}, "prior of parameter 'E'"),
    ({"priors": {"alpha": {"family_scale": 0.0}}}, "prior of parameter 'alpha'"),
    ({"noise": {"sigma_scale": 0.0}}, "sigma ~ HalfNormal(0)"),
])
def test_bad_prior_is_named_before_sampling(kwargs, needle, monkeypatch):
    monkeypatch.setattr(sampling, "sample", pytest.fail)  # must not get that far
    with pytest.raises(bl.SpecError, match="not finite at the starting point") as err:
        bl.laws.get("chinchilla", **kwargs).fit(runs(6), draws=10, tune=10, chains=1)
    assert needle in str(err.value) and "scale must be a positive finite number" in str(err.value)


class _Shifted(Law):
    """A user's law whose domain is params > e**20 (about 4.9e8)."""

    name = "shifted-test"
    inputs = ("params",)
    params = (Param("E", math.log(1.5), 0.5),)

    def formula(self, x, p, xp):
        return xp.log(x["params"] - 20.0) + p["log_E"]


def test_rows_outside_the_laws_domain_are_named_before_sampling(monkeypatch):
    monkeypatch.setattr(sampling, "sample", pytest.fail)
    with pytest.raises(bl.DataError) as err:
        _Shifted().fit(runs(6), draws=10, tune=10, chains=1)
    small = np.flatnonzero(runs(6)["params"].to_numpy() < math.exp(20)).tolist()
    assert err.value.rows == small and err.value.column == "loss"
    assert f"rows {', '.join(str(r + 1) for r in small)} " in str(err.value)


# --------------------------------------------------------------------------- predictions
def test_unknown_family_at_predict_uses_population_draws_and_says_so():
    fit = bl.load(FIXTURE)
    with pytest.warns(UserWarning, match="family 'new' was not fitted: row 2 .*gets population draws"):
        table = fit.predict(make_fixtures.PREDICT_ROWS, seed=1).interval(0.9)
    np.testing.assert_allclose(table["loss_median"], expected()["predict_median_keyed"],
                               rtol=1e-12)
    # the row-keyed streams (2026-12-04) moved the fitted family's median by under 0.1%
    assert table["loss_median"][0] == pytest.approx(expected()["predict_median"][0], rel=1e-3)
    width = (table["loss_upper"] - table["loss_lower"]).to_numpy()
    assert width[1] > 5 * width[0]  # a new family is honestly wider


# --------------------------------------------------------------------------- files
def test_fixture_from_version_1_loads_with_its_numbers():
    fit, want = bl.load(FIXTURE), expected()
    assert fit.families == want["families"]
    assert fit.posterior.sizes["chain"] == want["chains"]
    assert fit.posterior.sizes["draw"] == want["draws"]
    for name, total in want["posterior_sums"].items():
        assert float(fit.posterior[name].values.sum()) == pytest.approx(total, rel=1e-12)
    np.testing.assert_allclose(fit.summary().loc["E[a]", ["mean", "median", "lower", "upper"]],
                               want["summary_E_a"], rtol=1e-10)
    assert {"bayeslaws", "pymc", "arviz", "jax", "numpyro"} <= set(fit.versions)


def _rewrite(src, dst, edit):
    tree = xr.open_datatree(src, engine="h5netcdf").load()
    edit(tree)
    tree.to_netcdf(dst, engine="h5netcdf")
    return dst


def test_older_files_without_optional_fields_still_load(tmp_path):
    def strip(tree):
        for key in ("config", "families", "convergence", "versions", "checksum"):
            tree.attrs.pop(key)
        del tree["sample_stats"], tree["log_likelihood"]

    fit = bl.load(_rewrite(FIXTURE, tmp_path / "old.nc", strip))
    assert fit.families == ["a", "b"] and fit.versions == {} and fit.convergence == []
    assert fit.config["family_column"] == "family" and fit.config["chains"] == 2
    with pytest.warns(UserWarning, match="population draws"):
        table = fit.predict(make_fixtures.PREDICT_ROWS, seed=1).interval(0.9)
    np.testing.assert_allclose(table["loss_median"], expected()["predict_median_keyed"],
                               rtol=1e-12)
    np.testing.assert_allclose(table["loss_upper"], expected()["predict_upper_keyed"], rtol=1e-12)
    assert "2 chains x 25 draws" in repr(fit)


def test_resaving_a_loaded_fit_keeps_the_versions_it_was_made_with(tmp_path):
    fit = bl.load(FIXTURE)
    fit.versions = dict(fit.versions, pymc="0.0-made-with")
    fit.save(tmp_path / "again.nc")
    assert bl.load(tmp_path / "again.nc").versions["pymc"] == "0.0-made-with"


@pytest.mark.parametrize("edit, needle", [
    (lambda t: t.attrs.update(law="{not json"), "damaged bayeslaws fit"),
    (lambda t: t.attrs.update(law=json.dumps({"law": "no-such-law"})),
     "law 'no-such-law' is not registered"),
    (lambda t: t.attrs.update(bayeslaws_format_version="one"), "format version 'one'"),
    (lambda t: t.__delitem__("posterior"), "group(s) posterior missing"),
    (lambda t: t.attrs.update(families="[1, 2"), "damaged bayeslaws fit"),
])
def test_damaged_fit_attributes_and_groups(edit, needle, tmp_path):
    with pytest.raises(bl.FitFileError) as err:
        bl.load(_rewrite(FIXTURE, tmp_path / "damaged.nc", edit))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_changed_numbers_fail_the_checksum(tmp_path):
    def tamper(tree):
        post = tree["posterior"].to_dataset()
        tree["posterior"] = post.assign(E=post["E"] * 1.001)

    with pytest.raises(bl.FitFileError, match="checksum"):
        bl.load(_rewrite(FIXTURE, tmp_path / "tampered.nc", tamper))


def test_flipped_bytes_never_load_silently_wrong_or_print_tracebacks(tmp_path, capsys):
    raw = open(FIXTURE, "rb").read()
    want = expected()["posterior_sums"]["E"]
    rng = np.random.default_rng(0)
    outcomes, unreadable = set(), []
    for i in range(10):
        damaged = bytearray(raw)
        pos = int(rng.integers(0, len(raw) - 8))
        damaged[pos:pos + 8] = bytes(b ^ 0xFF for b in damaged[pos:pos + 8])
        path = tmp_path / f"flip{i}.nc"
        path.write_bytes(bytes(damaged))
        try:
            fit = bl.load(path)
        except bl.FitFileError:
            outcomes.add("error")
            unreadable.append(path)
        else:  # the flip hit padding or metadata that no number depends on
            outcomes.add("loaded")
            assert float(fit.posterior["E"].values.sum()) == pytest.approx(want, rel=1e-12)
    assert "error" in outcomes
    capsys.readouterr()
    code, _, err = cli(["predict", unreadable[0], "--data", "x.csv", "--out", "p.csv"], capsys)
    assert code == 2 and len(err) == 1 and "Traceback" not in err[0]


def test_saved_files_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        bl.load(FIXTURE).save(tmp_path / "fit.nc")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "fit.nc").st_mode) == 0o644


# --------------------------------------------------------------------------- interrupts
def _no_temporaries(folder) -> bool:
    return not [f for f in os.listdir(folder) if f.startswith(".bayeslaws-")]


def test_ctrl_c_during_sampling_exits_130_and_writes_nothing(monkeypatch, capsys, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "sample_table", interrupted)  # law.fit's numpyro path
    runs(6).to_csv("runs.csv", index=False)
    code, _, err = cli(["fit", "chinchilla", "--data", "runs.csv", "--out", "fit.nc"], capsys)
    assert code == 130 and err == ["error: interrupted; nothing was written"]
    assert not os.path.exists("fit.nc") and _no_temporaries(".")


def test_ctrl_c_during_save_keeps_the_earlier_file(monkeypatch, capsys):
    import bayeslaws.fit

    shutil.copy(FIXTURE, "fit.nc")
    before = open("fit.nc", "rb").read()
    fit = bl.load(FIXTURE)
    monkeypatch.setattr(bayeslaws.inference, "fit_law", lambda *a, **k: fit)

    def half_written(self, path, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"\x89HDF partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.DataTree, "to_netcdf", half_written)
    runs(6).to_csv("runs.csv", index=False)
    code, _, err = cli(["fit", "chinchilla", "--data", "runs.csv", "--out", "fit.nc"], capsys)
    assert code == 130 and len(err) == 1 and "interrupted" in err[0]
    assert open("fit.nc", "rb").read() == before and _no_temporaries(".")


def test_real_ctrl_c_ends_a_long_fit_promptly(tmp_path):
    """SIGINT while JAX samples (Python cannot raise inside XLA): exit 130 within seconds."""
    runs(6).to_csv(tmp_path / "runs.csv", index=False)
    # no persistent JAX cache: a process interrupted (or killed) mid-write must not leave an
    # entry that the rest of the suite reads
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               BAYESLAWS_JAX_CACHE="off")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bayeslaws.cli", "fit", "chinchilla", "--data", "runs.csv",
         "--out", "fit.nc", "--draws", "200000", "--tune", "200", "--chains", "1"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Ctrl-C as at a terminal: a suite started in the background without job control (e.g.
        # `make test &` from a script) runs with SIGINT ignored, and children inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # wait for the progress line: the compiled sampler has started (a fixed sleep could land
    # in the imports on a loaded machine, which is not what this test is about)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(lambda: proc.stderr.read(1), "")),
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + 180
    while "bayeslaws: sampling" not in "".join(seen) and time.monotonic() < deadline:
        assert proc.poll() is None, "".join(seen)
        time.sleep(0.2)
    assert "bayeslaws: sampling" in "".join(seen), "no progress line within 180 s"
    time.sleep(3.0)  # well inside XLA (compile, then sampling)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        proc.kill()
    err = "".join(seen)
    assert time.monotonic() - sent < 30
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "error: interrupted; nothing was written"
    assert os.listdir(tmp_path) == ["runs.csv"]


# --------------------------------------------------------------------------- sampling trouble
def test_unconverged_warning_names_parameters_and_remedy():
    report = {"rhat": {"log_E_mu": 1.2, "sigma": 1.001},
              "ess_bulk": {"log_E_mu": 30.0, "sigma": 900.0}, "divergences": 3, "chains": 2}
    with pytest.warns(bl.ConvergenceWarning) as record:
        found = diagnostics.warn_if_unconverged(report)
    msg = str(record[0].message)
    assert "R-hat > 1.01 for E (population mean) [log_E_mu] = 1.200" in msg
    assert "bulk ESS < 200 for E (population mean) [log_E_mu] = 30" in msg
    assert "sigma" not in msg.split("Remedy")[0] and "3 divergent transitions" in msg
    assert "Remedy" in msg and "target_accept" in msg and len(found) == 3
    fine = {**report, "rhat": {}, "ess_bulk": {}, "divergences": 0}
    assert diagnostics.warn_if_unconverged(fine) == []


def _mark_divergent(tree):
    stats = tree["sample_stats"].to_dataset()
    tree["sample_stats"] = stats.assign(diverging=stats["diverging"] | (stats["draw"] == 0))
    return tree


@pytest.mark.parametrize("sampler", ["numpyro", "pymc"])
def test_divergences_trigger_one_retry_then_a_warning(monkeypatch, sampler):
    """Real (short) sampling; every run is marked divergent, so the retry cannot fix it. numpyro
    runs through the compiled-once program (bayeslaws.batch), PyMC through pm.sample."""
    calls = []
    if sampler == "numpyro":
        real = batch._sample_group

        def diverging(law, tables, n_fam, **kwargs):
            calls.append(kwargs["target_accept"])
            return [_mark_divergent(tree) for tree in real(law, tables, n_fam, **kwargs)]

        monkeypatch.setattr(batch, "_sample_group", diverging)
    else:
        real = sampling.sample

        def diverging(model, **kwargs):
            calls.append(kwargs["target_accept"])
            return _mark_divergent(real(model, **kwargs))

        monkeypatch.setattr(sampling, "sample", diverging)
    frame = pd.read_csv(os.path.join(FIXTURES, "tiny_fit_v1.csv"))
    with pytest.warns(bl.ConvergenceWarning, match="2 divergent transitions") as record:
        fit = CHINCHILLA.fit(frame, seed=1, draws=60, tune=100, chains=2, sampler=sampler,
                             extrapolation=None)
    assert calls == [0.9, 0.99]
    assert fit.config["retried"] and fit.config["target_accept"] == 0.99
    warned = [str(r.message) for r in record if issubclass(r.category, bl.ConvergenceWarning)]
    assert "Remedy" in warned[0]  # (PyMC's worker processes may warn about fork() first)
    assert any("divergent" in c for c in fit.convergence)
    # the fit records the library versions it was made with
    assert fit.versions == io.versions()
    assert {"bayeslaws", "pymc", "arviz", "jax", "numpyro"} <= set(fit.versions)
