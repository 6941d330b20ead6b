"""fit_many on a Dask cluster (bayeslaws.cluster): a local multi-process cluster started here gives
the same fits, bitwise, as the local run; a bad address or a missing Dask fails clearly."""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws import batch, cluster

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")

KW = dict(seed=11, chains=2, draws=150, tune=150)


@pytest.fixture(scope="module")
def sets():
    frame = bl.datasets.load("chinchilla_epoch").query("not epoch_excluded_top5_loss")
    flops = 6.0 * frame["params"] * frame["tokens"]
    return [frame[flops <= np.quantile(flops, q)].reset_index(drop=True) for q in (0.5, 0.7, 0.9)]


@pytest.fixture(scope="module")
def local_cluster():
    # processes: each worker is a fresh interpreter that sets up JAX/XLA itself
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as lc:
        yield lc


def fit_quietly(law, sets, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        return batch.fit_many(law, sets, **KW, **kw)


def assert_same_fits(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        for group in ("posterior", "sample_stats"):
            assert set(g.idata[group].data_vars) == set(w.idata[group].data_vars)
            for name in w.idata[group].data_vars:
                assert np.array_equal(g.idata[group][name].values, w.idata[group][name].values), \
                    (group, name)
        assert g.config == w.config
        assert g.families == w.families
        pd.testing.assert_frame_equal(g.data, w.data)
        pd.testing.assert_frame_equal(g.summary(), w.summary())
        assert g.convergence == w.convergence


def test_fits_on_a_local_cluster_equal_the_local_fits(sets, local_cluster):
    law = bl.laws.get("chinchilla")
    start = time.perf_counter()
    local = fit_quietly(law, sets)
    t_local = time.perf_counter() - start
    # workers set up JAX as bayeslaws does: one XLA host device per core
    with distributed.Client(local_cluster, set_as_default=False) as client:
        info = client.run(cluster.worker_info)
        assert len(info) == 2
        for worker in info.values():
            assert worker["backend"] == "cpu"
            assert worker["devices"] >= min(2, worker["cpus"]), worker
    start = time.perf_counter()
    remote = fit_quietly(law, sets, cluster=local_cluster.scheduler_address)  # 2 chunks: 2 + 1
    t_remote = time.perf_counter() - start
    assert_same_fits(remote, local)
    # a Client works too, and so does any chunking (one table per task here)
    with distributed.Client(local_cluster, set_as_default=False) as client:
        again = fit_quietly(law, sets, cluster=client, chunk_size=1)
        assert client.status == "running"  # a client we were given stays open
    assert_same_fits(again, local)
    print(f"local {t_local:.1f} s, cluster {t_remote:.1f} s")


def test_custom_law_travels_to_the_workers(local_cluster):
    """A law defined only in this process reaches the workers with its class."""
    law_cls = bl.laws.define(
        "test-distributed-power", target="loss", inputs=["params"],
        params={"E": dict(loc=0.5, scale=0.5, log=True), "A": dict(loc=0.0, scale=1.0, log=True),
                "alpha": dict(loc=-1.2, scale=0.5, log=True)},
        formula=lambda x, p, xp: xp.log(p["E"] + p["A"] * xp.exp(-p["alpha"]
                                                                 * (x["params"] - 18.42))),
        formula_text="L = E + A (N/1e8)^-alpha", reference="test", replace=True)
    law = law_cls()
    rng = np.random.default_rng(0)
    n = np.geomspace(1e7, 1e10, 10)
    frame = pd.DataFrame({"params": n, "loss": (1.8 + 0.9 * (n / 1e8) ** -0.3)
                          * np.exp(0.01 * rng.normal(size=n.size)), "family": "a"})
    local = fit_quietly(law, [frame])  # one table: one task, one worker compiles
    remote = fit_quietly(law, [frame], cluster=local_cluster.scheduler_address)
    assert_same_fits(remote, local)


def test_unreachable_address_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)
    frame = pd.DataFrame({"params": [1e8, 1e9], "tokens": [1e9, 1e10], "loss": [3.0, 2.5]})
    with pytest.raises(bl.ClusterError, match=r"tcp://127\.0\.0\.1:9.*dask scheduler.*dask worker"):
        batch.fit_many(bl.laws.get("chinchilla"), [frame], cluster="tcp://127.0.0.1:9")
    with pytest.raises(bl.SpecError, match="cluster must be"):
        batch.fit_many(bl.laws.get("chinchilla"), [frame], cluster=8786)


def test_missing_dask_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    frame = pd.DataFrame({"params": [1e8, 1e9], "tokens": [1e9, 1e10], "loss": [3.0, 2.5]})
    with pytest.raises(ImportError, match=r"pip install 'bayeslaws\[distributed\]'"):
        batch.fit_many(bl.laws.get("chinchilla"), [frame], cluster="tcp://127.0.0.1:8786")
