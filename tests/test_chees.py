"""ChEES-HMC (bayeslaws.chees) and fit_many(sampler="chees"): same posterior as NUTS, the same
convergence rule, one leapfrog count per iteration for every chain of a fit, an exact progress
fraction."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import bayeslaws as bl
from bayeslaws import batch, chees
from bayeslaws.progress import PROGRESS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from many_fits import splits  # noqa: E402  (the leave-largest-out tables of the benchmarks)

LAW_PARAMS = ("E", "A0", "B0", "alpha", "beta")


def test_gaussian_of_very_different_scales_is_recovered():
    """Pure sampler on N(0, diag(scales^2)), scales over four decades: the preconditioner and
    step size adapt; sds within 10% (relative MC error of an sd at ESS ~1000: ~2%)."""
    import jax
    import jax.numpy as jnp

    scales = jnp.array([0.01, 1.0, 100.0])

    def potential(x, data):
        return 0.5 * jnp.sum((x / scales) ** 2)

    run = jax.jit(chees.make_sampler(potential, chains=16, draws=300, tune=300))
    x0 = jax.random.uniform(jax.random.PRNGKey(1), (16, 3), minval=-1, maxval=1)
    pos, stats, warm = run(jax.random.PRNGKey(0), x0, jnp.zeros(1), jnp.ones(3))
    draws = np.asarray(pos).reshape(-1, 3) / np.asarray(scales)
    assert np.all(np.abs(draws.std(0) - 1) < 0.1)
    assert np.all(np.abs(draws.mean(0)) < 0.1)
    n_steps = np.asarray(stats[1])
    assert (n_steps == n_steps[:, :1]).all()          # one count per iteration for all chains
    assert len(np.unique(n_steps[:, 0])) > 1          # jittered lengths
    assert float(warm) > 0 and not np.asarray(stats[0]).any()


@pytest.fixture(scope="module")
def fitted():
    law = bl.laws.get("chinchilla")
    frame = bl.datasets.load("chinchilla_epoch")
    frame = frame.query(bl.datasets.CATALOGUE["chinchilla_epoch"].fit_query).reset_index(drop=True)
    table = splits(frame, 3)[-1]  # the runs below the 90% compute quantile
    ticks, totals = [0], []
    start, tick = PROGRESS.start, PROGRESS.tick

    def counting_start(label, total, *a, **k):
        totals.append(total)
        return start(label, total, *a, **k)

    def counting_tick():
        ticks[0] += 1
        return tick()

    PROGRESS.start, PROGRESS.tick = counting_start, counting_tick
    try:
        (c,) = batch.fit_many(law, [table], seed=0, sampler="chees", draws=400, tune=400,
                              dense_mass=True,
                              progress=True)
    finally:
        PROGRESS.start, PROGRESS.tick = start, tick
    (n,) = batch.fit_many(law, [table], seed=0, chains=4, draws=500, tune=500)
    return law, c, n, ticks[0], totals


@pytest.mark.slow
def test_chees_converges_by_the_same_rule(fitted):
    _, c, _, _, _ = fitted
    assert c.config["sampler"] == "chees-batched" and c.config["chains"] == chees.CHAINS
    assert c.convergence == []  # R-hat <= 1.01, bulk ESS >= 100 per chain, no divergence
    d = c.diagnostics()
    assert max(d["rhat"].values()) <= 1.01
    assert min(d["ess_bulk"].values()) >= 100 * chees.CHAINS


@pytest.mark.slow
def test_chees_posterior_agrees_with_nuts(fitted):
    """Means within 0.25 posterior sd and sds within 15% on the log scale of each law parameter.
    Monte Carlo error: with bulk ESS >= 1600 (ChEES) and >= 400 (NUTS), the difference of the two
    means has sd ~ sd * sqrt(1/1600 + 1/400) = 0.056 sd, so 0.25 sd is ~4.5 MC sds; an sd's
    relative MC error is ~sqrt(1/(2 ESS)) <= 3.5% each, so 15% is ~3 MC sds of the ratio."""
    _, c, n, _, _ = fitted
    for name in LAW_PARAMS:
        a = np.log(np.asarray(c.posterior[name]).ravel())
        b = np.log(np.asarray(n.posterior[name]).ravel())
        assert abs(a.mean() - b.mean()) / b.std() < 0.25, name
        assert abs(a.std() / b.std() - 1) < 0.15, name


@pytest.mark.slow
def test_every_chain_of_a_fit_takes_the_same_steps_and_progress_is_exact(fitted):
    _, c, _, ticks, totals = fitted
    n_steps = c.idata["sample_stats"]["n_steps"].values          # (chains, draws)
    assert (n_steps == n_steps[:1]).all()
    assert c.idata["sample_stats"].attrs["warmup_n_steps"] > 0
    assert totals and ticks == totals[-1]  # every announced tick arrived: the fraction is exact


def test_bad_sampler_is_a_clear_error():
    law = bl.laws.get("chinchilla")
    with pytest.raises(bl.errors.SpecError, match="sampler must be one of"):
        batch.fit_many(law, [bl.datasets.load("chinchilla_epoch")], sampler="mcmc")
