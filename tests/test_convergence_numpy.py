"""R-hat and ESS in NumPy (:mod:`bayeslaws.convergence`) agree with ArviZ, and a command-line fit
no longer imports ArviZ's stats or plots (nor matplotlib)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from bayeslaws import convergence as cv

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "tiny_fit_v1.nc"
#: Relative agreement asked of R-hat and ESS (both are the same arithmetic as ArviZ's; measured
#: agreement is ~1e-15).
RTOL = 1e-9


def _ours_and_arviz(x):
    """Our rhat, bulk ESS, tail ESS and ArviZ's on an array (chain, draw, ...)."""
    from arviz_stats.base import array_stats

    xa = np.moveaxis(x, (0, 1), (-2, -1))  # ArviZ's array interface: chain, draw last
    ours = (cv.rhat_array(x), cv.ess_array(x, "bulk"), cv.ess_array(x, "tail"))
    theirs = (array_stats.rhat(xa), array_stats.ess(xa, method="bulk"),
              array_stats.ess(xa, method="tail", prob=0.89))
    return ours, theirs


def _close(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=RTOL)


def _random_draws(rng, kind: str):
    chains, draws = int(rng.integers(1, 6)), int(rng.integers(4, 700))
    x = rng.normal(size=(chains, draws, 3))
    if kind == "ar1":  # slow mixing: small ESS, long autocorrelation sums
        phi = rng.uniform(0.5, 0.98)
        for t in range(1, draws):
            x[:, t] = phi * x[:, t - 1] + x[:, t]
    elif kind == "antithetic":  # negative lag-1 autocorrelation: ESS above the draws
        for t in range(1, draws):
            x[:, t] = -0.6 * x[:, t - 1] + x[:, t]
    elif kind == "ties":
        x = np.round(x, 1)
    elif kind == "skewed":
        x = np.exp(2 * x)
    return x


@pytest.mark.parametrize(
    "seed, kind", list(enumerate(["iid", "ar1", "antithetic", "ties", "skewed"])))
def test_random_draws_agree_with_arviz(seed, kind):
    rng = np.random.default_rng(seed)
    for _ in range(8):
        x = _random_draws(rng, kind)
        ours, theirs = _ours_and_arviz(x)
        for o, t in zip(ours, theirs):
            _close(o, t)


def test_a_real_posterior_agrees_with_arviz_through_datasets():
    """The committed two-family Chinchilla fit (2 chains x 25 draws, unconverged), every
    variable, through the Dataset interface ``az.rhat(ds)`` / ``az.ess(ds, method=...)``."""
    import arviz as az

    post = xr.open_datatree(FIXTURE)["posterior"].to_dataset().load()
    for ours, theirs in [(cv.rhat(post), az.rhat(post)),
                         (cv.ess(post, "bulk"), az.ess(post, method="bulk")),
                         (cv.ess(post, "tail"), az.ess(post, method="tail"))]:
        assert set(ours.data_vars) == set(post.data_vars)
        for name in post.data_vars:
            assert ours[name].dims == theirs[name].dims
            _close(ours[name].values, theirs[name].values)
    assert float(cv.rhat(post)["log_E_mu"]) > 1.5  # the fixture's recorded convergence warning


def test_a_stuck_chain_gives_high_rhat_in_both():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 500, 2))
    x[2, :, 0] += 1.0  # chain 3 sits elsewhere in the first element only
    ours, theirs = _ours_and_arviz(x)
    assert ours[0][0] > 1.01 and theirs[0][0] > 1.01
    assert ours[0][1] < 1.01 and theirs[0][1] < 1.01
    _close(ours[0], theirs[0])


def test_a_chain_stuck_in_scale_is_caught_by_the_folded_rhat():
    """Same location, different spread: only the tail (folded) R-hat sees it."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 500, 1))
    x[0] *= 3.0
    ours, theirs = _ours_and_arviz(x)
    assert ours[0][0] > 1.01
    _close(ours[0], theirs[0])


def test_constant_and_degenerate_draws_are_handled_like_arviz():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 40, 5))
    x[..., 0] = 2.0                      # constant: R-hat NaN (0/0), ESS = split draws
    x[..., 1] = np.arange(3)[:, None]    # each chain constant, chains differ: R-hat B/0
    x[1, 7, 2] = np.nan                  # a NaN draw: NaN for both
    x[..., 3] = np.where(rng.random((3, 40)) < 0.5, -1.0, 1.0)  # two values: folded constant
    ours, theirs = _ours_and_arviz(x)
    # element 1: W is 0 up to rounding of the tied ranks' normal scores, so R-hat is ~1e16 or
    # inf in both, its digits rounding noise
    assert ours[0][1] > 1e6 and theirs[0][1] > 1e6
    _close(np.delete(ours[0], 1), np.delete(theirs[0], 1))
    for o, t in zip(ours[1:], theirs[1:]):
        _close(o, t)
    assert np.isnan(ours[0][0]) and ours[1][0] == 3 * 40
    assert np.isnan(ours[0][2]) and np.isnan(ours[1][2]) and np.isnan(ours[2][2])
    # one chain: R-hat undefined, ESS defined; fewer than 4 draws: both undefined
    ours, theirs = _ours_and_arviz(rng.normal(size=(1, 100, 2)))
    assert np.isnan(ours[0]).all() and np.isfinite(ours[1]).all()
    for o, t in zip(ours, theirs):
        _close(o, t)
    ours, theirs = _ours_and_arviz(rng.normal(size=(4, 3, 2)))
    assert all(np.isnan(o).all() for o in ours)
    for o, t in zip(ours, theirs):
        _close(o, t)


def test_ess_rejects_other_methods():
    with pytest.raises(ValueError, match="bulk"):
        cv.ess_array(np.zeros((2, 10)), method="mean")


@pytest.fixture(scope="module")
def cli_fit(tmp_path_factory):
    """A small command-line fit in a fresh interpreter, and the modules it imported."""
    out = tmp_path_factory.mktemp("cli") / "f.nc"
    code = f"""
        import json, sys
        from bayeslaws.cli import main
        rc = main(["fit", "chinchilla", "--data", "chinchilla_epoch", "--no-extrapolation",
                   "--draws", "60", "--tune", "60", "--chains", "2", "--quiet",
                   "--out", {str(out)!r}])
        mods = ("arviz", "arviz_stats", "arviz_plots", "matplotlib", "bayeslaws.convergence")
        print(json.dumps({{"rc": rc, "loaded": [m for m in mods if m in sys.modules]}}))
    """
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("XLA_FLAGS", None)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), out


@pytest.mark.slow
def test_a_command_line_fit_imports_no_arviz_stats_plots_or_matplotlib(cli_fit):
    got, out = cli_fit
    assert got["rc"] == 0 and out.exists(), got
    assert got["loaded"] == ["bayeslaws.convergence"], got


@pytest.mark.slow
def test_the_command_line_fits_posterior_agrees_with_arviz(cli_fit):
    import arviz as az

    post = xr.open_datatree(cli_fit[1])["posterior"].to_dataset().load()
    _close(cv.rhat(post).to_array().values, az.rhat(post).to_array().values)
    _close(cv.ess(post, "bulk").to_array().values, az.ess(post, method="bulk").to_array().values)
    _close(cv.ess(post, "tail").to_array().values, az.ess(post, method="tail").to_array().values)
