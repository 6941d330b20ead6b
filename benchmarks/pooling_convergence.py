"""Default (non-centred) against centred pooling on a bundled multi-family table: convergence.

Fits ``LAW`` to the fit rows of ``DATASET`` at the default settings (4 chains x 1000 draws after
1000 warm-up, seed 0, no calibration backtests) with ``pooling="partial"`` (the default,
non-centred) and ``pooling="centred"``, and prints each fit's time, its three largest R-hat
values, its smallest bulk ESS, its divergences and whether the automatic retry ran.

    python benchmarks/pooling_convergence.py gadre_overtraining chinchilla

Figures in ``benchmarks/RESULTS.md`` ("Default pooling on a multi-family table").
"""

from __future__ import annotations

import sys
import time
import warnings

import bayeslaws as bl


def main(name: str, law_name: str) -> None:
    runs = bl.datasets.load(name, fit_rows=True)
    print(name, len(runs), runs["family"].value_counts().to_dict() if "family" in runs else 1)
    for pooling in ("partial", "centred"):
        start = time.time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the diagnostics are printed below
            fit = bl.laws.get(law_name, pooling=pooling).fit(runs, seed=0, extrapolation=None)
        d = fit.diagnostics()
        worst = sorted(d["rhat"].items(), key=lambda kv: -kv[1])[:3]
        print(pooling, f"{time.time() - start:.0f}s", "max rhat",
              [(k, round(v, 3)) for k, v in worst], "min ess",
              round(min(d["ess_bulk"].values())), "div", d["divergences"],
              "retried", fit.config["retried"])


if __name__ == "__main__":
    main(*(sys.argv[1:3] if len(sys.argv) >= 3 else ("gadre_overtraining", "chinchilla")))
