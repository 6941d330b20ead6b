"""The mixture law pooled across validation domains: one fit, three domains, held-out scores.

RegMix's first 150 1M-parameter proxies (``regmix_liu2024``) in long format, one row per run and
validation domain (:func:`bayeslaws.laws.mixture.by_domain`: ``family`` = the domain), fitted
with the exponential data-mixing law, every parameter partially pooled across the domains; the
next 212 proxies of the paper's 512 are held out and scored per domain (90% coverage of the
posterior predictive, Spearman correlation of the median with the true loss).

    python benchmarks/mixture_pooling.py [--train 150] [--domains arxiv,freelaw,pubmed_central]

Figures in ``benchmarks/RESULTS.md`` ("Data-mixture law: pooling across validation domains").
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

import bayeslaws as bl
from bayeslaws.laws.mixture import by_domain


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=150)
    ap.add_argument("--domains", default="arxiv,freelaw,pubmed_central")
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    args = ap.parse_args(argv)
    runs = bl.datasets.load("regmix_liu2024", fit_rows=True)
    domains = args.domains.split(",")
    train, held = runs.iloc[:args.train], runs.iloc[300:512]
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", bl.ConvergenceWarning)
        fit = bl.laws.get("mixture").fit(by_domain(train, domains), seed=0, draws=args.draws,
                                         tune=args.tune, chains=4, extrapolation=None)
    seconds = time.perf_counter() - t0
    d = fit.diagnostics()
    print(f"{len(domains)} domains x {args.train} runs, 4 x ({args.tune}+{args.draws}): "
          f"{seconds:.0f} s, max R-hat {max(d['rhat'].values()):.4f}, min bulk ESS "
          f"{min(d['ess_bulk'].values()):.0f}, divergences {d['divergences']}, retried "
          f"{fit.config['retried']}; convergence warnings: {len(caught)}")
    rows = by_domain(held, domains)
    iv = fit.predict(rows, seed=0).interval(0.9)
    y = rows["loss"].to_numpy()
    inside = (y >= iv["loss_lower"].to_numpy()) & (y <= iv["loss_upper"].to_numpy())
    out = []
    for dom in domains:
        m = rows["family"].to_numpy() == dom
        out.append({"domain": dom, "held_out": int(m.sum()), "coverage90": inside[m].mean(),
                    "spearman": spearmanr(iv["loss_median"].to_numpy()[m], y[m]).statistic,
                    "median_abs_rel_error": np.median(np.abs(iv["loss_median"].to_numpy()[m]
                                                             / y[m] - 1))})
    print(pd.DataFrame(out).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
