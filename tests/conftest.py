"""Shared fixtures: simulated multi-family data with known truth, and fits reused across tests."""

from __future__ import annotations

import math
import os

import matplotlib

matplotlib.use("Agg", force=True)

import numpy as np
import pandas as pd
import pytest

# The suite runs without the persistent JAX cache (unless the caller chose one): entries written
# by other processes are never read, and test runs crashed inside the cache's read/write paths.
# Tests of the cache itself (test_compile_once.py) give their subprocesses a folder of their own.
os.environ.setdefault("BAYESLAWS_JAX_CACHE", "off")

import bayeslaws as bl
from bayeslaws.laws.chinchilla import D_REF, N_REF

#: Population of the simulated Chinchilla families, on the sampling scale: (mean, sd).
TRUE_POPULATION = {
    "log_E": (math.log(1.8), 0.08),
    "log_A0": (math.log(0.4), 0.25),
    "log_B0": (math.log(0.4), 0.25),
    "log_alpha": (math.log(0.33), 0.08),
    "log_beta": (math.log(0.30), 0.08),
}
NOISE_SD = 0.01


def simulate_chinchilla(seed: int, n_families: int = 5, sizes=(3e7, 1e8, 3e8, 1e9, 3e9),
                        ratios=(5.0, 20.0, 80.0), small_family_runs: int | None = None):
    """Runs from the hierarchical Chinchilla model with known truth.

    Returns ``(frame, truth)`` where ``truth[name]`` is an array of family-level sampling-scale
    values and ``truth["population"]`` the population (mean, sd) pairs.
    """
    rng = np.random.default_rng(seed)
    fams = [f"fam{i}" for i in range(n_families)]
    truth = {k: rng.normal(m, s, n_families) for k, (m, s) in TRUE_POPULATION.items()}
    law = bl.laws.get("chinchilla")
    rows = []
    for i, fam in enumerate(fams):
        grid = [(n, n * r) for n in sizes for r in ratios]
        if small_family_runs and i == 0:
            grid = [grid[j] for j in np.linspace(0, len(grid) - 1, small_family_runs).astype(int)]
        n = np.array([g[0] for g in grid])
        d = np.array([g[1] for g in grid])
        p = {k[4:]: np.exp(v[i]) for k, v in truth.items()}
        loss = law.evaluate({"params": n, "tokens": d}, p)
        loss = loss * np.exp(rng.normal(0, NOISE_SD, len(n)))
        rows.append(pd.DataFrame({"family": fam, "params": n, "tokens": d, "loss": loss}))
    truth["population"] = TRUE_POPULATION
    truth["families"] = fams
    return pd.concat(rows, ignore_index=True), truth


@pytest.fixture(scope="session")
def chinchilla_fit():
    """The default fit of Epoch's 240 Chinchilla runs (4 chains x 1000 draws)."""
    runs = bl.datasets.load("chinchilla_epoch", fit_rows=True)
    return bl.laws.get("chinchilla").fit(runs, seed=0)


@pytest.fixture(scope="session")
def small_fit():
    """A quick two-family fit used for plumbing tests (not for numbers)."""
    import warnings

    frame, _ = simulate_chinchilla(seed=11, n_families=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)  # short chains, by design
        return bl.laws.get("chinchilla").fit(frame, seed=3, draws=300, tune=400, chains=2)


@pytest.fixture(autouse=True)
def _tmp_cwd(tmp_path, monkeypatch):
    """Run each test in its own folder so CLI outputs never land in the repository."""
    monkeypatch.chdir(tmp_path)
    yield


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_benchmark(name: str):
    """Import ``benchmarks/<name>.py`` as a module (``<name>_bench``), with ``benchmarks/`` on
    the path for its own imports of neighbouring scripts (``baselines``, ``calibration``)."""
    import importlib.util
    import sys

    bench = os.path.join(REPO, "benchmarks")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    spec = importlib.util.spec_from_file_location(f"{name}_bench",
                                                  os.path.join(bench, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass looks its module up while being defined
    spec.loader.exec_module(module)
    return module
