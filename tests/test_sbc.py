"""Simulation-based calibration (Talts et al. 2018; Modrák et al. 2023) of each law's posterior.

Data are simulated from the law's own prior and likelihood; the rank of each true parameter
among (thinned) posterior draws must then be uniform. To keep it to one compiled model per law,
every simulated data set is a *family* of one fit with ``independent`` pooling: each family's
parameters are drawn from the prior independently, the noise (sigma, nu) is drawn once per fit
and shared, which is exactly the joint model that fit samples. So one fit yields one rank per
family and parameter. The partial-pooling hierarchy is checked by recovery in test_pooling.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayeslaws as bl

FAMILIES = 40
RANK_DRAWS = 99  # posterior draws per rank (thinned): ranks take 100 values


def simulate_from_prior(law, rng):
    """A run table with FAMILIES families whose parameters and noise are prior draws."""
    sigma = abs(rng.normal(0.0, law.noise["sigma_scale"]))
    nu = rng.gamma(2.0, 1 / 0.1)
    sizes = np.geomspace(2e7, 5e9, 6)
    ratios = np.array([2.0, 10.0, 40.0, 160.0])
    n = np.repeat(sizes, len(ratios))
    d = n * np.tile(ratios, len(sizes))
    frames, truth = [], {}
    for f in range(FAMILIES):
        values = {prm.sampled: rng.normal(prm.loc, prm.scale) for prm in law.parameters.values()}
        truth[f"f{f}"] = values
        inputs = {"params": n, "tokens": d, "flops": 6 * n * d}
        x = {k: np.log(inputs[k]) for k in law.inputs}
        link = law.formula(x, law.natural(values, np), np)
        y = np.exp(link + sigma * rng.standard_t(nu, len(n)))
        frames.append(pd.DataFrame({"family": f"f{f}", "params": n, "tokens": d,
                                    "flops": 6 * n * d, "loss": y}))
    return pd.concat(frames, ignore_index=True), truth


@pytest.mark.slow
@pytest.mark.parametrize("name", ["chinchilla", "kaplan", "power-law"])
def test_ranks_of_prior_draws_are_uniform(name):
    law = bl.laws.get(name, pooling="independent")
    frame, truth = simulate_from_prior(law, np.random.default_rng(2026))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        fit = law.fit(frame, seed=1, draws=RANK_DRAWS * 5, tune=600, chains=2,
                      extrapolation=None)
    rep = fit.diagnostics()
    assert rep["divergences"] <= 5, rep  # a handful of prior corners is tolerable, more is not
    post = fit.posterior
    ranks = {}
    for prm in law.parameters.values():
        draws = post[prm.sampled].stack(s=("chain", "draw")).values[:, ::10]  # thin: (family, 99+)
        draws = draws[:, :RANK_DRAWS]
        fams = list(post[prm.sampled]["family"].values)
        true = np.array([truth[f][prm.sampled] for f in fams])
        ranks[prm.name] = (draws < true[:, None]).sum(axis=1)
    pooled = np.concatenate(list(ranks.values()))
    # Pooled over parameters: 10 bins, chi-square; per parameter: mean rank (uniform: 49.5,
    # sd 28.9/sqrt(40) = 4.6) within 4 sd.
    counts = np.histogram(pooled, bins=10, range=(0, RANK_DRAWS + 1))[0]
    p = stats.chisquare(counts).pvalue
    assert p > 1e-3, (counts, p)
    for pname, r in ranks.items():
        assert abs(r.mean() - RANK_DRAWS / 2) < 4 * 28.9 / np.sqrt(FAMILIES), (pname, r)
