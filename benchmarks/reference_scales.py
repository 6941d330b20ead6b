"""Fixed LLM-scale against data-relative reference scales of the Chinchilla law: coverage.

Issue 23 (item 6): on synthetic IsoFLOP tables at small scale (N ~ 1e4-5e6) the default
Chinchilla fit's 90% intervals covered the true alpha in 24 of 36 tables, because the priors of
``A0``/``B0`` sat at the fixed references N = 1e9, D = 2e10, three to five decades from the data.
Since then a bound law moves a reference outside the data to the round power of ten nearest the
data's geometric centre (:mod:`bayeslaws.laws.reference`). This script fits the same simulated
tables both ways, in one run:

* ``fixed``: ``Chinchilla(n_ref=1e9, d_ref=2e10)``, exactly the law before the change;
* ``data``: ``Chinchilla()``, references chosen by :meth:`~bayeslaws.laws.Chinchilla.bind`.

Truths (known surfaces):

* ``small``: E = 1.8, A = 20, B = 60, alpha = 0.25, beta = 0.30 (each term 0.2-2 nats over the
  runs, losses 2.3-5.6), 4 IsoFLOP budgets from 1e11 to 1e14 FLOPs (3 decades; N ~ 4e3-6e6);
* ``mid``: the same surface, 4 budgets from 1e14 to 1e17 FLOPs (N ~ 2e5-8e8, one to three
  decades below the fixed N = 1e9);
* ``llm``: Epoch's refit of Chinchilla (Besiroglu et al. 2024: E = 1.8172, A = 482.01,
  B = 2085.43, alpha = 0.3478, beta = 0.3658), 4 budgets from 1e18 to 1e21 FLOPs
  (N ~ 4e7-1e10).

Each budget C has 7 runs with N log-spaced over a factor 10^(+-0.9) around the true N*(C) and
D = C / (6N); the loss gets log-normal noise of sd ``NOISE`` (in log loss). Each table is fitted
with the default ``law.fit`` at ``draws=500, tune=500`` (4 chains, numpyro), no calibration
backtests (``extrapolation=None``), and scored by whether the 90% equal-tailed intervals of
alpha, beta, and of N*, D* at a target budget 30x beyond the largest run (``fit.optimal``)
cover the truth; the median alpha is reported too.

    python benchmarks/reference_scales.py [seeds per cell, default 6]

Figures in ``benchmarks/RESULTS.md`` ("Data-relative reference scales").
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.laws.chinchilla import D_REF, N_REF

TRUTHS = {
    "small": {"E": 1.8, "A": 20.0, "B": 60.0, "alpha": 0.25, "beta": 0.30,
              "budgets": (1e11, 1e12, 1e13, 1e14)},
    "mid": {"E": 1.8, "A": 20.0, "B": 60.0, "alpha": 0.25, "beta": 0.30,
            "budgets": (1e14, 1e15, 1e16, 1e17)},
    "llm": {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658,
            "budgets": (1e18, 1e19, 1e20, 1e21)},
}
NOISES = (0.01, 0.05, 0.2)
TARGET_FACTOR = 30.0  # the target budget is this many times the largest run's
POINTS = 7  # runs per IsoFLOP budget
SPREAD = 0.9  # decades either side of the true N*(C)


def true_optimum(t: dict, flops: float) -> tuple[float, float]:
    """The truth's compute-optimal (N*, D*) at ``flops`` (Hoffmann et al. Eq. 4)."""
    a, b = t["alpha"], t["beta"]
    g = (a * t["A"] / (b * t["B"])) ** (1.0 / (a + b))
    n = g * (flops / 6.0) ** (b / (a + b))
    return n, flops / (6.0 * n)


def simulate(t: dict, noise: float, seed: int) -> pd.DataFrame:
    """An IsoFLOP table of ``POINTS`` runs per budget around the truth's N*, with noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in t["budgets"]:
        n_star, _ = true_optimum(t, c)
        for n in n_star * np.logspace(-SPREAD, SPREAD, POINTS):
            d = c / (6.0 * n)
            loss = t["E"] + t["A"] / n ** t["alpha"] + t["B"] / d ** t["beta"]
            rows.append({"params": n, "tokens": d, "loss": loss * np.exp(rng.normal(0.0, noise))})
    return pd.DataFrame(rows)


def score(law, frame: pd.DataFrame, t: dict, seed: int) -> dict:
    """Fit ``law`` to ``frame``; whether the 90% intervals cover the truth."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is reported as max R-hat below
        fit = law.fit(frame, seed=seed, draws=500, tune=500, extrapolation=None,
                      scale={"params": 1, "tokens": 1})
    s = fit.summary(0.9)
    out = {"options": str(fit.law.options())}
    for name in ("alpha", "beta"):
        row = s.loc[f"{name}[all]"]
        out[name] = bool(row["lower"] <= t[name] <= row["upper"])
    out["alpha_median"] = float(s.loc["alpha[all]", "median"])
    target = TARGET_FACTOR * max(t["budgets"])
    n_true, d_true = true_optimum(t, target)
    opt = fit.optimal(target, family="all").table(0.9).iloc[0]
    out["N*"] = bool(opt["N_opt_lower"] <= n_true <= opt["N_opt_upper"])
    out["D*"] = bool(opt["D_opt_lower"] <= d_true <= opt["D_opt_upper"])
    out["rhat"] = max(fit.diagnostics()["rhat"].values())
    return out


def main(seeds: int = 6) -> None:
    laws = {"fixed": bl.laws.get("chinchilla", n_ref=N_REF, d_ref=D_REF),
            "data": bl.laws.get("chinchilla")}
    records = []
    start = time.time()
    for scale, t in TRUTHS.items():
        for noise in NOISES:
            for seed in range(seeds):
                frame = simulate(t, noise, seed=1000 * NOISES.index(noise) + seed)
                for how, law in laws.items():
                    t0 = time.time()
                    r = score(law, frame, t, seed)
                    records.append({"scale": scale, "noise": noise, "seed": seed, "refs": how,
                                    **r, "s": time.time() - t0})
                    print(scale, noise, seed, how, r["options"],
                          {k: r[k] for k in ("alpha", "beta", "N*", "D*")},
                          f"alpha_med={r['alpha_median']:.3f} rhat={r['rhat']:.3f}",
                          f"{time.time() - t0:.0f}s", flush=True)
    df = pd.DataFrame(records)
    cover = ["alpha", "beta", "N*", "D*"]
    by_cell = df.groupby(["scale", "noise", "refs"]).agg(
        n=("seed", "size"), **{c: (c, "sum") for c in cover},
        alpha_med=("alpha_median", "median"), max_rhat=("rhat", "max"))
    print("\ncovering 90% intervals per cell (of n tables)")
    print(by_cell.to_string())
    by_scale = df.groupby(["scale", "refs"]).agg(
        n=("seed", "size"), **{c: (c, "mean") for c in cover},
        alpha_med=("alpha_median", "median"))
    print("\ncoverage per scale (fraction of tables)")
    print(by_scale.round(3).to_string())
    print(f"\ntotal {time.time() - start:.0f}s, {len(df)} fits")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 6)
