"""Parameter recovery on simulated multi-family data with known truth, over several seeds."""

from __future__ import annotations

import numpy as np
import pytest

import bayeslaws as bl
from conftest import simulate_chinchilla

pytestmark = pytest.mark.slow

SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def recovery():
    """Coverage of the truth by 90% intervals: family-level, population means and sds."""
    hits = {"family": [], "mu": [], "sigma": []}
    for seed in SEEDS:
        frame, truth = simulate_chinchilla(seed)
        fit = bl.laws.get("chinchilla").fit(frame, seed=seed, draws=1000, tune=1000, chains=4,
                                            extrapolation=None)
        post = fit.posterior
        fams = truth["families"]
        draws = bl.hierarchy.family_draws(fit.law, post, fit.families)
        for name, (mu, sd) in truth["population"].items():
            d = draws[name]
            for i, fam in enumerate(fams):
                lo, hi = np.quantile(d.sel(family=fam).values, [0.05, 0.95])
                hits["family"].append(lo <= truth[name][i] <= hi)
            for key, true in (("mu", mu), ("sigma", sd)):
                lo, hi = np.quantile(post[f"{name}_{key}"].values, [0.05, 0.95])
                hits[key].append(lo <= true <= hi)
    return {k: np.array(v) for k, v in hits.items()}


def test_family_level_parameters_recovered(recovery):
    # 3 seeds x 5 families x 5 parameters; nominal 90%
    assert recovery["family"].size == 75
    assert recovery["family"].mean() >= 0.8, recovery["family"].mean()


def test_population_means_recovered(recovery):
    assert recovery["mu"].mean() >= 0.8, recovery["mu"]


def test_population_sds_recovered(recovery):
    assert recovery["sigma"].mean() >= 0.8, recovery["sigma"]
