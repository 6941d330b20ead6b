"""Save and load: same numbers after a round trip; clear errors for files that are not fits;
the same seed gives the same posterior, in one process and across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayeslaws as bl
from conftest import REPO, simulate_chinchilla

pytestmark = pytest.mark.slow

NEW_ROWS = pd.DataFrame({"params": [5e9, 2e10, 7e10], "tokens": [1e11, 4e11, 1.4e12],
                         "family": ["fam0", "fam1", "unseen"]})


def test_roundtrip_predicts_the_same_numbers(small_fit, tmp_path):
    path = tmp_path / "fit.nc"
    small_fit.discrepancy  # learned once (backtests), saved with the fit, not learned again
    small_fit.save(path)
    loaded = bl.load(path)
    assert loaded.law == small_fit.law
    assert loaded.families == small_fit.families
    assert loaded.config == small_fit.config
    pd.testing.assert_frame_equal(loaded.data, small_fit.data, check_dtype=False)
    with pytest.warns(UserWarning):
        a = small_fit.predict(NEW_ROWS, seed=5).interval()
    with pytest.warns(UserWarning):
        b = loaded.predict(NEW_ROWS, seed=5).interval()
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(small_fit.summary(), loaded.summary())
    versions = loaded.versions
    assert {"bayeslaws", "pymc", "arviz", "jax", "numpyro"} <= set(versions)


def test_save_is_atomic_and_keeps_earlier_file(small_fit, tmp_path, monkeypatch):
    path = tmp_path / "fit.nc"
    small_fit.save(path)
    before = path.read_bytes()

    def boom(self, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.DataTree, "to_netcdf", boom)
    with pytest.raises(KeyboardInterrupt):
        small_fit.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["fit.nc"]


def test_foreign_truncated_and_newer_files(small_fit, tmp_path):
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("a", np.arange(3))}).to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(bl.FitFileError, match="not a bayeslaws fit"):
        bl.load(foreign)
    text = tmp_path / "notes.nc"
    text.write_text("hello")
    with pytest.raises(bl.FitFileError, match="not a readable fit file"):
        bl.load(text)
    good = tmp_path / "good.nc"
    small_fit.save(good)
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(bl.FitFileError):
        bl.load(truncated)
    with pytest.raises(bl.FitFileError, match="no such fit file"):
        bl.load(tmp_path / "missing.nc")
    tree = xr.open_datatree(good, engine="h5netcdf").load()
    tree.attrs["bayeslaws_format_version"] = 99
    newer = tmp_path / "newer.nc"
    tree.to_netcdf(newer, engine="h5netcdf")
    with pytest.raises(bl.FitFileError, match="newer bayeslaws"):
        bl.load(newer)


def test_same_seed_same_posterior_in_process():
    frame, _ = simulate_chinchilla(seed=21, n_families=2)
    kw = dict(draws=200, tune=300, chains=2)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        a = bl.laws.get("chinchilla").fit(frame, seed=4, **kw)
        b = bl.laws.get("chinchilla").fit(frame, seed=4, **kw)
        c = bl.laws.get("chinchilla").fit(frame, seed=5, **kw)
    assert np.array_equal(a.posterior["E"].values, b.posterior["E"].values)
    assert not np.array_equal(a.posterior["E"].values, c.posterior["E"].values)


SCRIPT = """
import warnings, json, sys
import bayeslaws as bl
sys.path.insert(0, {tests!r})
from conftest import simulate_chinchilla
frame, _ = simulate_chinchilla(seed=21, n_families=2)
warnings.simplefilter("ignore")
fit = bl.laws.get("chinchilla").fit(frame, seed=4, draws=200, tune=300, chains=2)
print(json.dumps([float(fit.posterior[v].values.sum()) for v in ("E", "alpha", "beta", "sigma")]))
"""


def test_same_seed_same_posterior_across_processes():
    code = SCRIPT.format(tests=os.path.join(REPO, "tests"))
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           timeout=300).stdout.strip().splitlines()[-1] for _ in range(2)]
    assert json.loads(outs[0]) == json.loads(outs[1])


def test_pointwise_log_likelihood_is_the_same_in_row_blocks(small_fit, monkeypatch):
    """Fit.log_likelihood builds the log-likelihood in row blocks (memory at 100k rows); any
    block size gives the same array."""
    from bayeslaws import fit as fit_mod

    full = small_fit.log_likelihood()
    monkeypatch.setattr(fit_mod, "LL_BLOCK", 7)  # fewer than one draw per block: 1 row each
    again = fit_mod.Fit(small_fit.law, small_fit.idata.copy(), small_fit.data, small_fit.config,
                        small_fit.families, _fresh=True)
    del again.idata["log_likelihood"]
    blocks = again.log_likelihood()
    name = next(iter(full.data_vars))
    np.testing.assert_array_equal(blocks[name].values, full[name].values)


def test_log_likelihood_is_computed_when_asked_and_saved_only_on_request(small_fit, tmp_path):
    """No draws x rows array is made or written unless something needs it; when it is, a
    loaded fit recomputes the very same numbers."""
    fresh = bl.Fit(small_fit.law, small_fit.idata.copy(), small_fit.data, small_fit.config,
                   small_fit.families, _fresh=True)
    if "log_likelihood" in fresh.idata.children:
        del fresh.idata["log_likelihood"]
    fresh.save(tmp_path / "lean.nc")
    assert "log_likelihood" not in fresh.idata.children  # saving did not compute it
    with xr.open_datatree(tmp_path / "lean.nc", engine="h5netcdf") as tree:
        assert "log_likelihood" not in tree.children
    full = fresh.log_likelihood()
    name = next(iter(full.data_vars))
    assert full[name].shape == (small_fit.config["chains"], small_fit.config["draws"],
                                len(small_fit.data))
    fresh.save(tmp_path / "full.nc", log_likelihood=True)
    with xr.open_datatree(tmp_path / "full.nc", engine="h5netcdf") as tree:
        assert "log_likelihood" in tree.children
    again = bl.load(tmp_path / "lean.nc").log_likelihood()
    np.testing.assert_array_equal(again[name].values, full[name].values)
