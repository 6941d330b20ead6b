"""The sampler wrapper's chain-method choice and its ``BAYESLAWS_CHAIN_METHOD`` override."""

from __future__ import annotations

import numpy as np
import pytest

from bayeslaws import sampling
from bayeslaws.errors import SpecError


def test_chain_method_default_is_parallel_on_cpu_with_enough_devices(monkeypatch):
    import jax

    monkeypatch.delenv("BAYESLAWS_CHAIN_METHOD", raising=False)
    expected = "parallel" if jax.default_backend() == "cpu" and jax.local_device_count() >= 4 \
        else "vectorized"
    assert sampling.chain_method(4) == expected


@pytest.mark.parametrize("value", ["parallel", "vectorized", "sequential", " Vectorized "])
def test_chain_method_env_override(monkeypatch, value):
    monkeypatch.setenv("BAYESLAWS_CHAIN_METHOD", value)
    assert sampling.chain_method(4) == value.strip().lower()


def test_chain_method_env_rejects_unknown(monkeypatch):
    monkeypatch.setenv("BAYESLAWS_CHAIN_METHOD", "pmap")
    with pytest.raises(SpecError, match="BAYESLAWS_CHAIN_METHOD='pmap' is not one of parallel"):
        sampling.chain_method(4)


@pytest.mark.slow
def test_forced_vectorized_chains_sample_the_same_posterior(monkeypatch):
    import pymc as pm

    with pm.Model() as model:
        pm.Normal("x", 1.0, 2.0)
    monkeypatch.setenv("BAYESLAWS_CHAIN_METHOD", "vectorized")
    idata = sampling.sample(model, draws=500, tune=300, chains=2, seed=3, target_accept=0.8)
    x = idata["posterior"]["x"].values
    assert x.shape == (2, 500)
    assert abs(x.mean() - 1.0) < 0.3 and abs(x.std() - 2.0) < 0.3


def test_dense_mass_adapts_to_correlations():
    """A dense mass matrix learns a strong correlation: same posterior, far shorter NUTS trees."""
    import pymc as pm

    cov = np.array([[1.0, 0.995], [0.995, 1.0]])
    with pm.Model() as model:
        pm.MvNormal("x", mu=np.array([1.0, -1.0]), cov=cov)
    steps = {}
    for dense in (False, True):
        idata = sampling.sample(model, draws=500, tune=500, chains=2, seed=3, target_accept=0.8,
                                dense_mass=dense)
        x = idata["posterior"]["x"].values.reshape(-1, 2)
        assert np.allclose(x.mean(0), [1.0, -1.0], atol=0.25)
        assert np.corrcoef(x.T)[0, 1] == pytest.approx(0.995, abs=0.01)
        steps[dense] = float(idata["sample_stats"]["n_steps"].mean())
    assert steps[True] < 0.5 * steps[False], steps


def test_spec_rejects_unknown_sampler_settings(tmp_path):
    from bayeslaws.spec import load_spec

    path = tmp_path / "s.yaml"
    path.write_text("law: chinchilla\ndata: chinchilla_epoch\nsampler: {draw: 10}\n")
    with pytest.raises(SpecError, match=r"unknown sampler settings \['draw'\].*dense_mass"):
        load_spec(str(path))
