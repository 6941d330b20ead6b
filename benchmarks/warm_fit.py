"""Warm single fits of the Chinchilla law: ``law.fit`` (numpyro through bayeslaws' compiled-once
program, :func:`bayeslaws.batch.sample_table`) against the same fit through ``pm.sample``'s numpyro
path (what ``law.fit`` did before; it rebuilds and recompiles the model every fit), and ``law.fit``
with ``float32=True`` (a single-precision program).

Fits Epoch's 240 Chinchilla runs at the project's defaults (4 chains x 1000 draws + 1000 tune,
numpyro, ``extrapolation=None``) ``--fits`` times per path in one process, seeds 0, 1, ...; the
first fit of each path is cold (compile, or a persistent-cache read), the later ones warm. Prints
the wall time, worst R-hat and smallest bulk ESS of each fit.

    python benchmarks/warm_fit.py [--fits 3]

Run on an idle machine; the persistent JAX cache is on unless ``BAYESLAWS_JAX_CACHE=off``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import pymc.sampling.jax  # noqa: E402,F401  (before JAX starts: parallel chains on CPU)

import pandas as pd  # noqa: E402

import bayeslaws as bl  # noqa: E402
from bayeslaws import data as data_mod  # noqa: E402
from bayeslaws import diagnostics, sampling  # noqa: E402
from bayeslaws.fit import Fit  # noqa: E402
from bayeslaws.model import build_model, check_start  # noqa: E402


def pm_sample_fit(law, data, seed: int) -> Fit:
    """The former ``law.fit`` numpyro path: build the PyMC model, ``pm.sample(nuts_sampler=
    "numpyro")`` (PyMC translates and compiles it afresh each call), same defaults."""
    table = data_mod.prepare(law, data)
    law = law.bind(table)
    model = build_model(law, table, table.families, pd.Index(table.families).get_indexer(table.family))
    check_start(model, law)
    idata = sampling.sample(model, draws=1000, tune=1000, chains=4, seed=seed, target_accept=0.9)
    fit = Fit(law, idata, table.frame, {"seed": seed, "draws": 1000, "tune": 1000, "chains": 4,
                                        "sampler": "numpyro", "target_accept": 0.9,
                                        "family_column": "family", "retried": False,
                                        "extrapolation": None, "dense_mass": False},
              table.families, _fresh=True)
    fit.convergence = diagnostics.warn_if_unconverged(
        diagnostics.diagnose(idata, [v.name for v in model.free_RVs]))
    return fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fits", type=int, default=3)
    ap.add_argument("--huber", action="store_true",
                    help="also time the Huber + L-BFGS full 4,500-start grid (analytic gradients, "
                         "benchmarks/baselines.py) and print each path's warm time as a ratio")
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python "
          f"{platform.python_version()}, JAX cache {os.environ.get('BAYESLAWS_JAX_CACHE', 'on')}")
    data = bl.datasets.load("chinchilla_epoch")
    law = bl.laws.get("chinchilla")
    paths = {"law.fit (compiled-once program)":
             lambda seed: law.fit(data, seed=seed, extrapolation=None),
             "law.fit, float32": lambda seed: law.fit(data, seed=seed, extrapolation=None,
                                                      float32=True),
             "law.fit, float32 + dense mass (spec-level settings)":
             lambda seed: law.fit(data, seed=seed, extrapolation=None, float32=True,
                                  dense_mass=True),
             "pm.sample numpyro (former law.fit path)": lambda seed: pm_sample_fit(law, data, seed)}
    print("| path | fit | seconds | max R-hat | min bulk ESS |")
    print("| --- | --- | --- | --- | --- |")
    warm: dict[str, float] = {}
    for name, run in paths.items():
        for seed in range(args.fits):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                fit = run(seed)
            sec = time.perf_counter() - start
            if seed:
                warm[name] = min(warm.get(name, sec), sec)
            diag = fit.diagnostics()
            print(f"| {name} | {'cold' if seed == 0 else 'warm'} (seed {seed}) | {sec:.2f} | "
                  f"{max(diag['rhat'].values()):.3f} | {min(diag['ess_bulk'].values()):.0f} |",
                  flush=True)
    if args.huber:
        sys.path.insert(0, HERE)
        import baselines

        start = time.perf_counter()
        theta = baselines.huber_fit(data, screen=None)
        grid = time.perf_counter() - start
        print(f"\nHuber + L-BFGS, full 4,500-start grid (analytic gradients): {grid:.1f} s "
              f"(theta {theta.round(4).tolist()})")
        for name, sec in warm.items():
            print(f"  grid / fastest warm {name}: {grid / sec:.1f}x ({sec:.2f} s)")


if __name__ == "__main__":
    main()
