"""The start-point check without a PyTensor compile: numpyro and Laplace fits evaluate their
compiled log-density at the initial point and run the full :func:`bayeslaws.model.check_start`
(which names the bad prior or rows) only when it is not finite."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws import batch, inference, laplace
from bayeslaws import data as data_mod
from bayeslaws.laws import Law, Param


def runs(n: int = 6) -> pd.DataFrame:
    params = np.geomspace(7e7, 1.6e10, n)
    return pd.DataFrame({"params": params, "tokens": 20.0 * params,
                         "loss": np.linspace(3.4, 2.1, n), "family": (["a", "b"] * n)[:n]})


class _Shifted(Law):
    """A user's law whose domain is params > e**20 (about 4.9e8)."""

    name = "shifted-start-test"
    inputs = ("params",)
    params = (Param("E", math.log(1.5), 0.5),)

    def formula(self, x, p, xp):
        return xp.log(x["params"] - 20.0) + p["log_E"]


class _Stop(Exception):
    pass


def _table(law, frame):
    return data_mod.prepare_for_fit(law, frame, family_column="family")[:2]


def test_start_is_finite_says_true_for_good_data_and_false_for_bad():
    law, table = _table(bl.laws.get("chinchilla"), runs())
    assert batch.start_is_finite(law, table) is True
    assert batch.start_is_finite(law, table, float32=True) is False  # left to the full check
    law, table = _table(bl.laws.get("chinchilla", priors={"E": (0.4, -1.0)}), runs())
    assert batch.start_is_finite(law, table) is False
    law, table = _table(_Shifted(), runs())
    assert batch.start_is_finite(law, table) is False


def test_a_good_numpyro_fit_skips_the_pytensor_check(monkeypatch):
    def stop(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(inference, "check_start", pytest.fail)  # must not be needed
    monkeypatch.setattr(batch, "sample_table", stop)
    with pytest.raises(_Stop):
        bl.laws.get("chinchilla").fit(runs(), draws=10, tune=10, chains=1)


@pytest.mark.parametrize("method", ["nuts", "laplace"])
def test_a_bad_prior_is_still_named_before_sampling(method, monkeypatch):
    monkeypatch.setattr(batch, "sample_table", pytest.fail)
    monkeypatch.setattr(laplace, "find_mode", pytest.fail)
    with pytest.raises(bl.SpecError, match="not finite at the starting point") as err:
        bl.laws.get("chinchilla", priors={"E": (0.4, -1.0)}).fit(
            runs(), draws=10, tune=10, chains=1, method=method)
    assert "prior of parameter 'E'" in str(err.value)


@pytest.mark.parametrize("method", ["nuts", "laplace"])
def test_rows_outside_the_domain_are_still_named_before_sampling(method, monkeypatch):
    monkeypatch.setattr(batch, "sample_table", pytest.fail)
    monkeypatch.setattr(laplace, "find_mode", pytest.fail)
    with pytest.raises(bl.DataError) as err:
        _Shifted().fit(runs(), draws=10, tune=10, chains=1, method=method)
    small = np.flatnonzero(runs()["params"].to_numpy() < math.exp(20)).tolist()
    assert err.value.rows == small and err.value.column == "loss"
