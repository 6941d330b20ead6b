"""Quick (Laplace) fits against NUTS on bundled tables: time, parameters, forecast intervals.

For each table, the largest 15% of runs by compute are held out; the Chinchilla law is fitted to
the rest twice in the same process, ``method="laplace"`` (``bayeslaws fit --quick``) and NUTS
(numpyro, 4 chains x 1000 draws after 1000 warm-up), both with ``extrapolation=None`` (the
backtest discrepancy is left out of both, so the forecast intervals compare the two posteriors
alone). Reported per table:

* wall time of each fit (first Laplace fit of a shape includes its JAX compile; a second,
  warm Laplace fit is timed too) and the ratio NUTS / Laplace (warm);
* per parameter: the two medians, and the ratio of 90% interval widths (Laplace / NUTS);
* held-out rows: coverage of the 90% posterior predictive interval for each method, the mean
  width ratio, and the width ratio at the largest held-out compute.

    python benchmarks/quick.py [--tables chinchilla_epoch gadre_overtraining ...]
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import pandas as pd

TABLES = ("chinchilla_epoch", "gadre_overtraining", "datablations_muennighoff2023")
HOLDOUT = 0.15


def _widths(ds, prob=0.9):
    lo, hi = (1 - prob) / 2, (1 + prob) / 2
    out = {}
    for name in ds.data_vars:
        for fam in ds[name]["family"].values:
            v = ds[name].sel(family=fam).values.ravel()
            q = np.quantile(v, [lo, 0.5, hi])
            out[f"{name}[{fam}]"] = (q[1], q[2] - q[0])
    return out


def run_table(name: str, seed: int = 0) -> dict:
    import bayeslaws as bl
    from bayeslaws.extrapolation import size_axis

    law = bl.laws.get("chinchilla")
    data = bl.datasets.load(name, fit_rows=True)
    table = bl.data.prepare(law, data)
    size = size_axis(law, table.x)
    keep = size <= np.quantile(size, 1 - HOLDOUT)
    frame = table.frame.reset_index(drop=True)
    train, held = frame[keep], frame[~keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t0 = time.perf_counter()
        quick = law.fit(train, method="laplace", extrapolation=None, seed=seed)
        t_quick_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        quick = law.fit(train, method="laplace", extrapolation=None, seed=seed)
        t_quick = time.perf_counter() - t0
        t0 = time.perf_counter()
        nuts = law.fit(train, extrapolation=None, seed=seed)
        t_nuts = time.perf_counter() - t0
        pq = quick.predict(held, seed=seed, discrepancy=False)
        pn = nuts.predict(held, seed=seed, discrepancy=False)
    wq, wn = _widths(quick.params(population=False)), _widths(nuts.params(population=False))
    params = pd.DataFrame({"median_laplace": {k: v[0] for k, v in wq.items()},
                           "median_nuts": {k: v[0] for k, v in wn.items()},
                           "width90_ratio": {k: wq[k][1] / wn[k][1] for k in wq}})
    y = held[law.target].to_numpy(float)
    iq, inn = pq.interval(0.9), pn.interval(0.9)
    lo_q, hi_q = iq[f"{law.target}_lower"].to_numpy(), iq[f"{law.target}_upper"].to_numpy()
    lo_n, hi_n = inn[f"{law.target}_lower"].to_numpy(), inn[f"{law.target}_upper"].to_numpy()
    ratio = (hi_q - lo_q) / (hi_n - lo_n)
    top = int(np.argmax(size[~keep]))
    return {"table": name, "rows": len(train), "held_out": len(held),
            "families": len(quick.families), "khat": quick.config["laplace"]["khat"],
            "t_laplace_cold": t_quick_cold, "t_laplace": t_quick, "t_nuts": t_nuts,
            "speedup": t_nuts / t_quick, "params": params,
            "cover90_laplace": float(np.mean((lo_q <= y) & (y <= hi_q))),
            "cover90_nuts": float(np.mean((lo_n <= y) & (y <= hi_n))),
            "width_ratio_mean": float(np.mean(ratio)), "width_ratio_top": float(ratio[top]),
            "nuts_convergence": "; ".join(nuts.convergence) or "ok"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {platform.processor() or '?'}; python "
          f"{platform.python_version()}")
    for name in args.tables:
        r = run_table(name, args.seed)
        print(f"\n## {name}: {r['rows']} training rows, {r['held_out']} held out, "
              f"{r['families']} famil{'y' if r['families'] == 1 else 'ies'}")
        print(f"time: Laplace {r['t_laplace']:.2f} s warm ({r['t_laplace_cold']:.1f} s with "
              f"compile), NUTS {r['t_nuts']:.1f} s: {r['speedup']:.0f}x; Pareto k {r['khat']}; "
              f"NUTS convergence: {r['nuts_convergence']}")
        print(f"held-out 90% coverage: Laplace {r['cover90_laplace']:.2f}, NUTS "
              f"{r['cover90_nuts']:.2f}; width ratio (Laplace/NUTS) mean "
              f"{r['width_ratio_mean']:.2f}, at the largest compute {r['width_ratio_top']:.2f}")
        with pd.option_context("display.width", 160, "display.precision", 4):
            print(r["params"])


if __name__ == "__main__":
    main()
