"""What a perfectly calibrated forecaster would score on the corpus's per-split targets (issue 23).

Issue 23 asks, on every split of the calibration corpus (``benchmarks/calibration.py``), for
90% coverage of at least 0.75 and a sharpness (median 90% width / median absolute relative
error) of at most 6. Both are statistics of one split's few held-out runs, whose errors beyond
the data share one drift and one set of law parameters. This benchmark asks what those
statistics look like when the forecast is *exactly* right about its own uncertainty.

For each split, the shipped extrapolation model's forecast (population prior of tau learned
without the split's source, exactly as scored by ``calibration.py``) is taken as the truth's
distribution: a simulated truth is one joint draw of that forecast (all held-out rows of the
split from the same posterior draw and the same drift path). The forecast is scored against
such truths as against the real runs. Under this *oracle* the forecaster is calibrated by
construction, so whatever share of splits misses a target is what calibration itself costs.
Beside it, ``rows independent``: truths drawn row by row from the same marginals (the errors of
a split's rows unrelated), which shows how much of the spread comes from the shared drift.

The realised scores are placed in their oracle distributions: the split-level PIT of the
realised mean log error (uniform across splits when the forecasts are calibrated at the split
level), and the rank of each split's realised sharpness among its oracle draws.

    python benchmarks/calibration_limits.py [--truths 2000] [--seed 0]

Needs the cached fits of ``benchmarks/calibration.py`` (``--draws 500``). Writes
``benchmarks/results/calibration_limits.csv`` (per split) and prints the corpus-level table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import calibration as cal

from bayeslaws import scores

#: The candidate of ``calibration.py`` that the package ships.
SHIPPED = "outer-tight w=0 x sigma^0.5"
#: Issue 23's per-split targets.
MIN_COVERAGE_90 = 0.75
MAX_SHARPNESS = 6.0


def split_scores(samples: np.ndarray, truths: np.ndarray) -> pd.DataFrame:
    """Coverage of the 50% and 90% intervals, median absolute relative error and sharpness of
    one forecast against each row of ``truths`` (``(k, n_rows)``), with the definitions of
    :func:`bayeslaws.scores.score_table`."""
    med = np.median(samples, axis=0)
    lo90, hi90 = np.quantile(samples, [0.05, 0.95], axis=0)
    lo50, hi50 = np.quantile(samples, [0.25, 0.75], axis=0)
    width = float(np.median((hi90 - lo90) / med))
    with np.errstate(divide="ignore"):  # a simulated truth of 0 (an error rate) is an infinite error
        err = np.median(np.abs(med[None, :] / truths - 1), axis=1)
    return pd.DataFrame({
        "coverage_50": np.mean((truths >= lo50) & (truths <= hi50), axis=1),
        "coverage_90": np.mean((truths >= lo90) & (truths <= hi90), axis=1),
        "abs_rel_err": err,
        "sharpness": width / np.maximum(err, 1e-12),
    })


def oracle(samples: np.ndarray, k: int, rng: np.random.Generator, *, joint: bool = True):
    """``k`` simulated truths from the forecast's own samples: whole joint draws (``joint``)
    or, per row, an independent draw."""
    m, n = samples.shape
    if joint:
        return samples[rng.integers(0, m, size=k)]
    return samples[rng.integers(0, m, size=(k, n)), np.arange(n)[None, :]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truths", type=int, default=2000, help="simulated truths per split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=500, help="the cached fits' draws")
    args = parser.parse_args()
    t0 = time.perf_counter()
    results = {n: cal.run_split(n, draws=args.draws) for n in cal.SPLITS}
    prior = cal.Population(results).prior
    pool, tight, weight, power = cal.CANDIDATES[SHIPPED]
    rng = np.random.default_rng(args.seed)
    per_split, sims = [], {"joint": [], "rows independent": []}
    for name, res in results.items():
        split = cal.SPLITS[name]
        samples, _ = cal.forecast(res, split.law, prior(pool, tight, {split.source}, power),
                                  weight, power=power)
        real = split_scores(samples, res["y"][None, :]).iloc[0]
        med = np.median(samples, axis=0)
        pit = float(scores.group_pit(samples, res["y"], np.zeros(len(res["y"]))).iloc[0])
        row = {"split": name, "source": split.source, "rows": len(res["y"]),
               "multiple": res["multiple"], "coverage_50": real.coverage_50,
               "coverage_90": real.coverage_90,
               "sharpness": real.sharpness, "split_pit": pit,
               # how shared the realised errors are: the share of rows on the majority side
               # of the forecast's median (0.5-1; 1 when one drift moved them all)
               "same_side": float(max(np.mean(res["y"] > med), np.mean(res["y"] < med)))}
        for kind, frames in sims.items():
            sim = split_scores(samples, oracle(samples, args.truths, rng,
                                               joint=kind == "joint"))
            frames.append(sim)
            tag = "" if kind == "joint" else "_indep"
            row |= {f"p_cov90_ok{tag}": float(np.mean(sim.coverage_90 >= MIN_COVERAGE_90)),
                    f"p_sharp_ok{tag}": float(np.mean(sim.sharpness <= MAX_SHARPNESS)),
                    f"median_sharpness{tag}": float(sim.sharpness.median())}
        row["sharpness_rank"] = float(np.mean(sims["joint"][-1].sharpness <= real.sharpness))
        per_split.append(row)
    table = pd.DataFrame(per_split)
    os.makedirs(cal.RESULTS, exist_ok=True)
    table.to_csv(os.path.join(cal.RESULTS, "calibration_limits.csv"), index=False)
    pd.set_option("display.width", 250)
    print(table.round(3).to_string(index=False))

    # Corpus level: the i-th simulated truth of every split makes one simulated corpus.
    print(f"\nCorpus of {len(table)} splits, {args.truths} simulated corpora; "
          f"shipped model '{SHIPPED}'")
    print("| | realised | oracle: joint draws (median [5%, 95%]) | P(target met), joint "
          "| oracle: rows independent | P(target met), independent |")
    print("|---|---|---|---|---|---|")
    stats = {
        "mean 90% coverage (0.85-0.95)": (lambda f: f.coverage_90.mean(axis=0),
                                          lambda v: (v >= 0.85) & (v <= 0.95)),
        "mean 50% coverage (0.40-0.60)": (lambda f: f.coverage_50.mean(axis=0),
                                          lambda v: (v >= 0.40) & (v <= 0.60)),
        "lowest split 90% coverage (>= 0.75)": (lambda f: f.coverage_90.min(axis=0),
                                                lambda v: v >= MIN_COVERAGE_90),
        "splits with sharpness <= 6 (all)": (lambda f: (f.sharpness <= MAX_SHARPNESS).sum(axis=0),
                                            lambda v: v == len(table)),
        "largest sharpness (<= 6)": (lambda f: f.sharpness.max(axis=0),
                                     lambda v: v <= MAX_SHARPNESS),
    }
    realised = _Cols({c: table[c].to_numpy() for c in ("coverage_50", "coverage_90",
                                                        "sharpness")})
    simulated = {kind: _Cols({c: np.stack([f[c].to_numpy() for f in frames])
                              for c in ("coverage_50", "coverage_90", "sharpness")})
                 for kind, frames in sims.items()}
    for label, (stat, ok) in stats.items():
        cells = [f"{float(stat(realised)):.3g}"]
        for cols in simulated.values():
            values = np.asarray(stat(cols), dtype=float)
            lo, mid, hi = np.quantile(values, [0.05, 0.5, 0.95])
            cells += [f"{mid:.3g} [{lo:.3g}, {hi:.3g}]", f"{np.mean(ok(values)):.3f}"]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\nBest case: a Gaussian forecast that knows each split's error scale exactly, errors "
          "of a split's rows with correlation rho (the split's row counts; "
          f"{args.truths} simulated corpora)")
    print("| rho | P(lowest split 90% coverage >= 0.75) | P(every split sharpness <= 6) "
          "| splits with sharpness <= 6, median [5%, 95%] |")
    print("|---|---|---|---|")
    for rho in (0.0, 0.5, 0.9, 1.0):
        cov, sharp = gaussian_oracle(table.rows.to_numpy(), rho, args.truths, rng)
        n_ok = (sharp <= MAX_SHARPNESS).sum(axis=0)
        lo, mid, hi = np.quantile(n_ok, [0.05, 0.5, 0.95])
        print(f"| {rho} | {np.mean(cov.min(axis=0) >= MIN_COVERAGE_90):.3f} "
              f"| {np.mean(n_ok == len(table)):.3f} | {mid:.0f} [{lo:.0f}, {hi:.0f}] |")
    pits = np.sort(table.split_pit.to_numpy())
    ks = float(np.max(np.maximum(np.arange(1, len(pits) + 1) / len(pits) - pits,
                                 pits - np.arange(len(pits)) / len(pits))))
    print(f"\nsplit-level PIT of the realised mean log error: {np.round(pits, 3).tolist()}")
    print(f"inside the central 90%: {int(np.sum(np.abs(pits - 0.5) <= 0.45))} of {len(pits)}; "
          f"below 0.5: {int(np.sum(pits < 0.5))}; Kolmogorov-Smirnov D = {ks:.3f} "
          f"(5% critical value for n = {len(pits)}: {1.36 / np.sqrt(len(pits)):.3f}, "
          "asymptotic)")
    print(f"\n{time.perf_counter() - t0:.0f} s; machine: {platform.machine()}, {os.cpu_count()} "
          f"cpus, python {platform.python_version()}")


def gaussian_oracle(rows: np.ndarray, rho: float, k: int, rng: np.random.Generator):
    """90% coverage and sharpness of ``k`` simulated corpora scored by an ideal forecast: per
    split, standard normal errors of its ``rows`` with pairwise correlation ``rho`` (one shared
    shift plus independent parts) and the exact N(0, 1) 90% interval (width 3.29, point 0).
    Returns two ``(splits, k)`` arrays."""
    z90 = 1.6448536269514722
    cov, sharp = [], []
    for n in rows:
        e = (np.sqrt(rho) * rng.standard_normal((k, 1))
             + np.sqrt(1 - rho) * rng.standard_normal((k, int(n))))
        cov.append(np.mean(np.abs(e) <= z90, axis=1))
        sharp.append(2 * z90 / np.maximum(np.median(np.abs(e), axis=1), 1e-12))
    return np.array(cov), np.array(sharp)


class _Cols:
    """Column access (``.coverage_90`` ...) to ``(splits, truths)`` arrays, so one statistic
    function serves the realised table and the simulated corpora."""

    def __init__(self, arrays: dict):
        self.__dict__.update(arrays)


if __name__ == "__main__":
    main()
