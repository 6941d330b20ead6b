"""Default partial pooling on multi-family tables with many or few runs per family: convergence.

Fits the Chinchilla law at the default settings (4 chains x 1000 draws after 1000 warm-up, seed
0, no calibration backtests) to

* ``many``: a simulated IsoFLOP table, 6 pretraining corpora x 6 budgets (1e17-1e20 FLOPs) x 15
  model sizes (90 runs per corpus, 540 in all): E from 1.7 to 2.0 nats, A and B log-normal
  (sd 0.3) around Hoffmann et al.'s fit, exponents within ~0.01 of 0.34 / 0.28, log-loss noise
  0.01;
* ``sharp``: as ``many`` with noise 0.005 and A, B spread sd 0.6 (corpora far apart, each
  pinned tightly);
* ``few``: the same corpora with 3 budgets x 5 sizes (15 runs per corpus);
* ``gadre``: Gadre et al.'s bundled fit rows (3 corpora of 34-35 runs);

and prints, per table, the time, the largest R-hat, the smallest bulk ESS, the divergences,
whether the retry at target_accept 0.99 ran, and the parametrisation chosen
(:mod:`bayeslaws.parametrisation`). ``--old`` sets ``BAYESLAWS_PARAMETRISATION=noncentred``: the
default before the automatic choice (every partially pooled parameter non-centred). Each run
writes the posterior summary per table to ``benchmarks/results/many_rows_{new,old}_{table}.csv``;
when both exist, the largest difference of posterior means between the two forms is printed in
posterior sds (the same model: it should be Monte Carlo noise).

    python benchmarks/many_rows_convergence.py [--old] [--tables few gadre many sharp]

Figures in ``benchmarks/RESULTS.md`` ("Partial pooling with many runs per family").
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import bayeslaws as bl  # noqa: E402


def isoflop(n_families: int, budgets: int, sizes: int, *, noise: float = 0.01,
            seed: int = 0, log_spread: float = 0.3) -> pd.DataFrame:
    """IsoFLOP sweeps of ``n_families`` Chinchilla corpora (truth around Hoffmann et al. 2022):
    ``budgets`` budgets from 1e17 to 1e20 FLOPs, ``sizes`` model sizes from 0.15x to 6x each
    corpus's compute-optimal N, D = C / 6N, multiplicative log-normal noise ``noise``; A and B
    log-normal with sd ``log_spread`` across corpora."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(n_families):
        e = 1.7 + 0.3 * f / max(n_families - 1, 1) + rng.normal(0, 0.02)
        a = 406.4 * np.exp(rng.normal(0, log_spread))
        b = 410.7 * np.exp(rng.normal(0, log_spread))
        alpha, beta = 0.34 + rng.normal(0, 0.01), 0.28 + rng.normal(0, 0.01)
        g = (alpha * a / (beta * b)) ** (1 / (alpha + beta))
        for c in np.geomspace(1e17, 1e20, budgets):
            for n in g * (c / 6) ** (beta / (alpha + beta)) * np.geomspace(0.15, 6.0, sizes):
                d = c / (6 * n)
                loss = (e + a / n ** alpha + b / d ** beta) * np.exp(rng.normal(0, noise))
                rows.append({"family": f"corpus{f}", "params": n, "tokens": d, "flops": c,
                             "loss": loss})
    return pd.DataFrame(rows)


TABLES = {
    "few": lambda: isoflop(6, 3, 5),
    "gadre": lambda: bl.datasets.load("gadre_overtraining", fit_rows=True),
    "many": lambda: isoflop(6, 6, 15),
    "sharp": lambda: isoflop(6, 6, 15, noise=0.005, log_spread=0.6),
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", action="store_true", help="every partial parameter non-centred")
    ap.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    args = ap.parse_args(argv)
    tag = "old" if args.old else "new"
    if args.old:
        os.environ["BAYESLAWS_PARAMETRISATION"] = "noncentred"
    out_dir = os.path.join(HERE, "results")
    os.makedirs(out_dir, exist_ok=True)
    for name in args.tables:
        runs = TABLES[name]()
        start = time.time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the diagnostics are printed below
            fit = bl.laws.get("chinchilla").fit(runs, seed=0, extrapolation=None)
        wall = time.time() - start
        d = fit.diagnostics()
        worst = max(d["rhat"].items(), key=lambda kv: kv[1])
        steps = float(fit.idata["sample_stats"]["n_steps"].mean()) \
            if "n_steps" in fit.idata["sample_stats"] else float("nan")
        forms = fit.config.get("parametrisation", {})
        centred = [k for k, v in forms.items() if v == "centred"] or "none"
        print(f"{tag} {name}: {len(runs)} rows, {runs['family'].nunique()} families, "
              f"{wall:.0f} s, max R-hat {worst[1]:.3f} ({worst[0]}), min bulk ESS "
              f"{min(d['ess_bulk'].values()):.0f}, divergences {d['divergences']}, retried "
              f"{fit.config['retried']}, leapfrog steps/draw {steps:.0f}, centred {centred}",
              flush=True)
        summary = fit.summary()[["mean", "sd", "r_hat"]]
        path = os.path.join(out_dir, f"many_rows_{tag}_{name}.csv")
        summary.to_csv(path)
        other = os.path.join(out_dir, f"many_rows_{'new' if args.old else 'old'}_{name}.csv")
        if os.path.exists(other):
            both = summary.join(pd.read_csv(other, index_col=0).add_suffix("_other")).dropna()
            both = both[~both.index.str.contains("population")]  # a fresh random draw
            gap = (both["mean"] - both["mean_other"]).abs() / np.maximum(both["sd"],
                                                                           both["sd_other"])
            print(f"  {name}: largest |mean difference| / sd between the forms "
                  f"{gap.max():.3f} ({gap.idxmax()}), median {gap.median():.3f}", flush=True)


if __name__ == "__main__":
    main()
