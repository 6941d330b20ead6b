"""Pooling does something: small families borrow strength, new families come from the population."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws import hierarchy
from conftest import simulate_chinchilla

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pooled_and_independent():
    frame, truth = simulate_chinchilla(seed=7, n_families=5, small_family_runs=3)
    assert (frame["family"] == "fam0").sum() == 3
    kw = dict(seed=1, draws=1000, tune=1000, chains=4)
    partial = bl.laws.get("chinchilla").fit(frame, **kw)
    # independent pooling with 3 runs and 5 parameters is weakly identified: warnings expected
    with _maybe_warn():
        independent = bl.laws.get("chinchilla", pooling="independent").fit(frame, **kw)
    return frame, partial, independent


class _maybe_warn:
    """Allow (but do not require) a ConvergenceWarning."""

    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore", bl.ConvergenceWarning)

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


@pytest.mark.parametrize("name", ["E", "alpha", "beta"])
def test_small_family_narrower_under_partial_pooling(pooled_and_independent, name):
    _, partial, independent = pooled_and_independent

    def width(fit):
        d = fit.posterior[name].sel(family="fam0").values
        lo, hi = np.quantile(d, [0.05, 0.95])
        return hi - lo

    assert width(partial) < width(independent)


def test_new_family_draws_follow_population_spread(pooled_and_independent):
    _, partial, _ = pooled_and_independent
    post = partial.posterior
    pop = hierarchy.population_draws(partial.law, post, np.random.default_rng(0))
    for name in ("log_alpha", "log_E"):
        expected = np.sqrt((post[f"{name}_sigma"] ** 2).mean() + post[f"{name}_mu"].var())
        assert abs(float(pop[name].std()) / float(expected) - 1) < 0.1


def test_unseen_family_is_wider_and_said_so(pooled_and_independent):
    frame, partial, _ = pooled_and_independent
    row = pd.DataFrame({"params": [7e9, 7e9], "tokens": [1.4e11, 1.4e11],
                        "family": ["fam1", "brand_new"]})
    with pytest.warns(UserWarning, match="brand_new"):
        pred = partial.predict(row, discrepancy=False)  # the family effect alone
    iv = pred.interval()
    width = iv["loss_upper"] - iv["loss_lower"]
    assert width[1] > 2 * width[0]
    assert list(pred.draws["family"].values) == ["fam1", "brand_new"]


def test_independent_pooling_has_no_population(pooled_and_independent):
    _, _, independent = pooled_and_independent
    row = pd.DataFrame({"params": [7e9], "tokens": [1.4e11], "family": ["brand_new"]})
    with pytest.raises(bl.SpecError, match="independent pooling"):
        independent.predict(row)
    assert "population" not in independent.optimal(1e22).table().index
