"""The extrapolation backtests of one fit: batched refits (the default) against one at a time.

Learning a fit's extrapolation discrepancy (``fit.discrepancy``) refits the law on the lower 50%,
65% and 80% of its runs (500 + 500 draws per chain, 4 chains) and scores the rest
(:func:`bayeslaws.extrapolation.backtest_residuals`). Since 2026-11-27 the refits run as one
compiled program (``bayeslaws.batch.fit_many``); before, one ``law.fit`` per fold. This script
times both paths in one process on bundled data, alternating their order over ``--repeat``
rounds, and checks that they give the same drift scale tau (up to Monte Carlo error).

    python benchmarks/backtests.py [--specs chinchilla_epoch gadre_chinchilla] [--repeat 2]

Run with ``BAYESLAWS_JAX_CACHE=off`` to include XLA compilation in every call (a new process
without the persistent cache), or with the cache on (the user's default) for warm numbers.
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

import numpy as np  # noqa: E402

import bayeslaws as bl  # noqa: E402
from bayeslaws import extrapolation  # noqa: E402
from bayeslaws.spec import load_spec  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--specs", nargs="+", default=["chinchilla_epoch", "gadre_chinchilla"])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python "
          f"{platform.python_version()}, JAX cache {os.environ.get('BAYESLAWS_JAX_CACHE', 'on')}")
    print("| spec | path | round | seconds | folds | groups | tau median |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.specs:
        spec = load_spec(os.path.join(os.path.dirname(HERE), "models", f"{name}.yaml"))
        law, data = spec.law(), spec.train_data()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = law.fit(data, seed=0, draws=500, tune=500, extrapolation=None)
        times = {True: [], False: []}
        for r in range(args.repeat):
            order = (True, False) if r % 2 == 0 else (False, True)
            for batched in order:
                start = time.perf_counter()
                groups, folds = extrapolation.backtest_residuals(
                    fit.law, fit.data, seed=r, chains=4, batched=batched)
                sec = time.perf_counter() - start
                times[batched].append(sec)
                tau = extrapolation.Discrepancy.from_groups(fit, groups, folds)
                med = float(np.median(tau.tau.values))
                path = "batched" if batched else "sequential"
                print(f"| {name} | {path} | {r + 1} | {sec:.1f} | {folds} | {len(groups)} | "
                      f"{med:.4f} |", flush=True)
        ratio = np.mean(times[True]) / np.mean(times[False])
        print(f"| {name} | batched / sequential (mean over rounds) | | {ratio:.2f} | | | |")


if __name__ == "__main__":
    main()
