"""Are N* intervals honest beyond the data? Held-out IsoFLOP minima of Porian et al.'s recipes.

A compute-optimal size N*(C) is what a practitioner takes from a scaling law, and it is forecast
at budgets beyond the fitted ones. Porian et al. (2024) trained IsoFLOP sweeps at 12 budgets
(1.25e16 to 2.56e19 FLOPs, a factor 2 apart) for 8 recipes (dataset x hyperparameters x
warm-up/schedule), so each recipe has an empirical N* at every budget: the vertex of a quadratic
in log N fitted to the sweep's log losses (Hoffmann et al.'s approach 2). Here the default
Chinchilla fit (all recipes, default pooling) sees the sweeps at budgets up to a cut; for each
recipe and held-out budget, ``fit.optimal(C, family=recipe)`` gives N*'s posterior, scored
against the empirical minimum.

The empirical vertex has its own error (5-8 runs per sweep), estimated by a residual bootstrap
of the quadratic; the forecast's draws are widened by it before scoring (a predictive for the
*measured* minimum), so a sweep whose minimum is poorly pinned does not count as a miss. Sweeps
whose vertex falls outside the sizes they trained, or that are not convex, are skipped (their
minimum is not measured).

    python benchmarks/optimal_calibration.py [--draws 500] [--cuts 8e17 3.2e18]

Writes ``benchmarks/results/optimal_calibration.csv`` (one row per recipe x held-out budget x
cut) and prints the coverage of 50% and 90% intervals of log N*, the median absolute error of
N* (as a factor) and the share of the forecast's variance that the vertex error contributes.
Data: ``benchmarks/data/porian.csv`` (source and license in ``benchmarks/data/README.md``).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd

import bayeslaws as bl

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def load() -> pd.DataFrame:
    runs = pd.read_csv(os.path.join(HERE, "data", "porian.csv"))
    return runs[runs.loss <= 8].reset_index(drop=True)  # as benchmarks/calibration.py


def vertex(log_n: np.ndarray, log_loss: np.ndarray) -> float | None:
    """log N at the minimum of a quadratic fitted to a sweep; None where it is not a minimum
    inside the sweep's sizes."""
    a, b, _ = np.polyfit(log_n, log_loss, 2)
    if a <= 0:
        return None
    v = -b / (2 * a)
    return float(v) if log_n.min() <= v <= log_n.max() else None


def empirical_minimum(sweep: pd.DataFrame, rng: np.random.Generator, boots: int = 400):
    """(log N*, its bootstrap sd) of one IsoFLOP sweep, or None (not convex / at an edge)."""
    x = np.log(sweep.params.to_numpy(float))
    y = np.log(sweep.loss.to_numpy(float))
    if len(x) < 4:
        return None
    v = vertex(x, y)
    if v is None:
        return None
    fitted = np.polyval(np.polyfit(x, y, 2), x)
    resid = (y - fitted) * np.sqrt(len(x) / (len(x) - 3))  # degrees-of-freedom correction
    vs = []
    for _ in range(boots):
        w = vertex(x, fitted + rng.choice(resid, len(x)))
        if w is not None:
            vs.append(w)
    if len(vs) < boots // 2:  # the minimum is not pinned by this sweep
        return None
    return v, float(np.std(vs))


def score_cut(runs: pd.DataFrame, cut: float, draws: int, seed: int = 0) -> list[dict]:
    train = runs[runs.flops_budget <= cut]
    law = bl.laws.get("chinchilla")
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = law.fit(train, seed=seed, draws=draws, tune=draws)
    rhat = max(fit.diagnostics()["rhat"].values())
    print(f"cut {cut:.3g}: {len(train)} runs fitted in {time.perf_counter() - t:.0f} s, "
          f"R-hat {rhat:.3f}", flush=True)
    rng = np.random.default_rng(seed)
    sweeps = []
    for (fam, budget), sweep in runs.groupby(["family", "flops_budget"]):
        emp = empirical_minimum(sweep, rng)
        if emp is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt = fit.optimal(budget, family=fam)
        sweeps.append((fam, budget, *emp, np.log(opt.draws["N_opt"].values.ravel())))
    # Tried, not adopted: the law's misfit to the *fitted* sweeps' minima (method of moments:
    # mean squared error of the median N* less the vertex and posterior variances) as an extra
    # normal error of log N* everywhere.
    inside = [(v, sd, ln) for _, b, v, sd, ln in sweeps if b <= cut]
    mse = np.mean([(v - np.median(ln)) ** 2 for v, _, ln in inside])
    noise = np.mean([sd**2 + np.var(ln) for _, sd, ln in inside])
    misfit = float(np.sqrt(max(mse - noise, 0.0)))
    print(f"  {len(inside)} fitted sweeps: rms error of N* {np.sqrt(mse):.3f} in log, of which "
          f"vertex + posterior {np.sqrt(noise):.3f}; misfit sd {misfit:.3f}", flush=True)
    trend = {fam: _trend([(b, v, ln) for f, b, v, _, ln in sweeps if f == fam and b <= cut])
             for fam in {f for f, *_ in sweeps}}
    rows = []
    for fam, budget, v, sd_emp, log_n in sweeps:
        if budget <= cut:
            continue
        row = {"cut": cut, "family": fam, "budget": budget, "multiple": budget / cut,
               "rhat": rhat, "log_n_emp": v, "sd_emp": sd_emp,
               "log_n_med": float(np.median(log_n)), "sd_fit": float(np.std(log_n)),
               "misfit": misfit, "abs_log_err": abs(float(np.median(log_n)) - v)}
        for tag, extra in (("", 0.0), ("_misfit", misfit)):
            # a predictive of the measured vertex: posterior + vertex error (+ misfit)
            measured = log_n + np.hypot(sd_emp, extra) * rng.standard_normal(log_n.shape)
            q = np.quantile(measured, [0.05, 0.25, 0.75, 0.95])
            row |= {f"in50{tag}": q[1] <= v <= q[2], f"in90{tag}": q[0] <= v <= q[3],
                    f"z{tag}": (v - float(np.mean(measured))) / float(np.std(measured))}
        if trend[fam] is not None:
            # the fitted sweeps' misses, extrapolated along log C (a Student-t predictive of a
            # least-squares line), added to the law's N*: Hoffmann's approach 2 as a correction
            shift, scale, dof = trend[fam](np.log10(budget))
            measured = (log_n + shift + scale * rng.standard_t(dof, log_n.shape)
                        + sd_emp * rng.standard_normal(log_n.shape))
            q = np.quantile(measured, [0.05, 0.25, 0.5, 0.75, 0.95])
            row |= {"in50_trend": q[1] <= v <= q[3], "in90_trend": q[0] <= v <= q[4],
                    "abs_log_err_trend": abs(q[2] - v)}
        row["in90_fit_only"] = bool(np.quantile(log_n, 0.05) <= v <= np.quantile(log_n, 0.95))
        rows.append(row)
    return rows


def _trend(fitted):
    """A least-squares line through one recipe's misses on its fitted sweeps, e = log N*_measured
    - median log N*_law against log10 C, as a function giving (shift, predictive scale, dof) at a
    new log10 C; None with fewer than 4 fitted sweeps."""
    if len(fitted) < 4:
        return None
    x = np.log10([b for b, _, _ in fitted])
    e = np.array([v - np.median(ln) for _, v, ln in fitted])
    slope, icept = np.polyfit(x, e, 1)
    resid = e - (icept + slope * x)
    n = len(x)
    s2 = float(resid @ resid) / (n - 2)
    sxx = float(((x - x.mean()) ** 2).sum())

    def at(x0):
        return (icept + slope * x0, np.sqrt(s2 * (1 + 1 / n + (x0 - x.mean()) ** 2 / sxx)), n - 2)
    return at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=500, help="draws (and tune) per chain")
    parser.add_argument("--cuts", type=float, nargs="*", default=[8e17, 3.2e18],
                        help="largest fitted budget(s)")
    args = parser.parse_args()
    runs = load()
    rows = [r for cut in args.cuts for r in score_cut(runs, cut, args.draws)]
    table = pd.DataFrame(rows)
    os.makedirs(RESULTS, exist_ok=True)
    table.to_csv(os.path.join(RESULTS, "optimal_calibration.csv"), index=False)
    pd.set_option("display.width", 200)
    print(table.round(3).to_string(index=False))
    for cut, g in table.groupby("cut"):
        print(f"\ncut {cut:.3g}: {len(g)} held-out minima ({g.family.nunique()} recipes, "
              f"{g.budget.nunique()} budgets, {g.multiple.min():.0f}-{g.multiple.max():.0f}x)")
        print(f"  coverage of log N*: 50% {g.in50.mean():.2f}, 90% {g.in90.mean():.2f} "
              f"(posterior alone, without the vertex error: {g.in90_fit_only.mean():.2f})")
        print(f"  with the fitted sweeps' misfit (sd {g.misfit.iloc[0]:.3f}) added: 50% "
              f"{g.in50_misfit.mean():.2f}, 90% {g.in90_misfit.mean():.2f}")
        if "in90_trend" in g:
            print(f"  with the fitted sweeps' misses extrapolated along log C: 50% "
                  f"{g.in50_trend.mean():.2f}, 90% {g.in90_trend.mean():.2f}, median |error| "
                  f"factor {np.exp(g.abs_log_err_trend.median()):.3f}")
        print(f"  median |error| of N*: factor {np.exp(g.abs_log_err.median()):.3f}; "
              f"sd of z {g.z.std():.2f}, mean z {g.z.mean():+.2f}; median sd of log N*: "
              f"posterior {g.sd_fit.median():.3f}, vertex {g.sd_emp.median():.3f}")


if __name__ == "__main__":
    main()
