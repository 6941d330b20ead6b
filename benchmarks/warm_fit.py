"""Warm single fits of the Chinchilla law: ``law.fit`` (through ``pm.sample``) against a
one-table ``fit_many`` call (bayeslaws' compiled-once batched program).

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

import bayeslaws as bl  # noqa: E402
from bayeslaws.batch import fit_many  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fits", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python "
          f"{platform.python_version()}, JAX cache {os.environ.get('BAYESLAWS_JAX_CACHE', 'on')}")
    data = bl.datasets.load("chinchilla_epoch")
    law = bl.laws.get("chinchilla")
    paths = {"law.fit": lambda seed: law.fit(data, seed=seed, extrapolation=None),
             "fit_many, one table": lambda seed: fit_many(law, [data], seed=seed)[0]}
    print("| path | fit | seconds | max R-hat | min bulk ESS |")
    print("| --- | --- | --- | --- | --- |")
    for name, run in paths.items():
        for seed in range(args.fits):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                fit = run(seed)
            sec = time.perf_counter() - start
            diag = fit.diagnostics()
            print(f"| {name} | {'cold' if seed == 0 else 'warm'} (seed {seed}) | {sec:.2f} | "
                  f"{max(diag['rhat'].values()):.3f} | {min(diag['ess_bulk'].values()):.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
