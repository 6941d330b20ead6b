"""Calibrated extrapolation: fit on the smaller models, forecast the largest held-out ones.

For every dataset with a natural split, the Chinchilla law is fitted on the smaller runs and
scored on the larger held-out ones (coverage of the 50/80/90% intervals, CRPS of log loss,
median absolute relative error of the median, median relative width of the 90% interval), by:

* ``bayeslaws``: the default fit; beyond the fitted range the extrapolation discrepancy of
  :mod:`bayeslaws.extrapolation` (drift rate tau learned from backtests inside the training
  rows, with the population prior on tau learned from the *other* datasets' inner backtests:
  leave-one-dataset-out, so no dataset's held-out rows, nor its own prior, inform its score);
* ``bayes-plain``: the same posterior without the discrepancy (the plain posterior predictive);
* ``huber-grid``: Hoffmann/Epoch Huber + L-BFGS from the 4,500-start grid (a point: its CRPS is
  its absolute error);
* ``bootstrap``: 200-refit row bootstrap of it with resampled residuals;
* ``curve_fit``: scipy least squares on log loss with its covariance.

Only training rows enter any fit; the held-out rows are used for scoring alone.

    python benchmarks/extrapolation.py [--fresh] [--only NAME ...]

Writes ``benchmarks/results/extrapolation.csv`` (scores), ``..._calibration.csv`` (nominal vs
observed coverage), ``..._prior.json`` (population prior of tau from all datasets) and
``docs/_static/extrapolation_calibration.png``. Expensive steps are cached in
``benchmarks/.cache/`` (``--fresh`` recomputes).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import sys
import time
import warnings

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bayeslaws as bl  # noqa: E402
from bayeslaws import extrapolation as ex  # noqa: E402
from bayeslaws import scores  # noqa: E402

import baselines  # noqa: E402

DATA = os.path.join(HERE, "data")
CACHE = os.path.join(HERE, ".cache", "extrapolation")
RESULTS = os.path.join(HERE, "results")


# ------------------------------------------------------------------------------- the splits
def _csv(name):
    return pd.read_csv(os.path.join(DATA, f"{name}.csv"))


def chinchilla_q85():
    runs = bl.datasets.load("chinchilla_epoch", fit_rows=True)
    flops = 6 * runs.params * runs.tokens
    cut = np.quantile(flops, 0.85)
    return runs[flops <= cut], runs[flops > cut]


def chinchilla_1e21():
    runs = bl.datasets.load("chinchilla_epoch", fit_rows=True)
    flops = 6 * runs.params * runs.tokens
    return runs[flops < 1e21], runs[flops >= 1e21]


def gadre():
    runs = bl.datasets.load("gadre_overtraining")
    return runs[runs.params <= 5e8], runs[runs.params > 5e8]


def datablations():
    runs = _csv("datablations")
    return runs[runs.params < 4e9], runs[runs.params >= 4e9]


def porian():
    runs = _csv("porian")
    runs = runs[runs.loss <= 8]  # the badly sized edge-of-isoFLOP points (data README)
    return runs[runs.flops_budget <= 3.2e18], runs[runs.flops_budget > 3.2e18]


def olmo_ladder():
    runs = _csv("olmo_ladder")
    train = runs[runs["size"].isin(["190M", "370M", "760M", "1B"])]
    return train, runs.drop(train.index)


def opt():
    runs = _csv("opt")
    big = runs.model.isin(["opt-30b", "opt-175b"])
    return runs[~big], runs[big]


def steplaw():
    """Li et al.'s dense runs: the best smoothed final loss of each (N, D) cell over its learning
    rate x batch size grid (the loss at tuned hyperparameters, as the paper fits), one family."""
    runs = bl.datasets.load("steplaw_li2025")
    best = (runs.groupby(["params", "tokens"], as_index=False)["loss"].min()
            .assign(family="steplaw_dense"))
    return best[best.params < 1.07e9], best[best.params >= 1.07e9]


#: name -> (loader, underlying dataset, description of the split)
SPLITS = {
    "chinchilla_q85": (chinchilla_q85, "chinchilla", "Epoch's 240 runs: lowest 85% of compute -> top 15%"),
    "chinchilla_1e21": (chinchilla_1e21, "chinchilla", "Epoch's 240 runs: C < 1e21 -> C >= 1e21"),
    "gadre": (gadre, "gadre", "3 corpora (families): <= 411M -> 1.4B and 6.9B"),
    "datablations": (datablations, "datablations", "C4, <= 4 epochs: < 4B -> 4.2B and 8.7B"),
    "porian": (porian, "porian", "9 recipes (families), standard N, val loss: C <= 3.2e18 -> 6.4e18-2.56e19"),
    "olmo_ladder": (olmo_ladder, "olmo", "ladder 190M-1.3B final ckpts -> 3B ladder, OLMo-2 7B, 13B"),
    "opt": (opt, "opt", "OPT trajectories: <= 13B -> 30B and 175B"),
    # added 2026-11-28, after the model choices above: a clean test of them
    "steplaw": (steplaw, "steplaw", "Step Law dense cells, best loss per (N, D): 215-537M -> 1.07B"),
}


# ------------------------------------------------------------------------------- one split
def run_split(name, *, fresh=False, backtests=False):
    """Fit, inner backtests and baselines of one split (cached; ``backtests`` reruns only the
    inner backtests of a cached split)."""
    path = os.path.join(CACHE, f"{name}.pkl")
    loader = SPLITS[name][0]
    train, test = (f.reset_index(drop=True) for f in loader())
    law = bl.laws.get("chinchilla")
    if os.path.exists(path) and not fresh:
        with open(path, "rb") as fh:
            out = pickle.load(fh)
        if backtests:
            t = time.perf_counter()
            out["groups"], out["folds"] = ex.backtest_residuals(law, train, seed=0, chains=4)
            out["t_backtest"] = time.perf_counter() - t
            with open(path + ".tmp", "wb") as fh:
                pickle.dump(out, fh)
            os.replace(path + ".tmp", path)
        return out
    out = {"rows_train": len(train), "rows_test": len(test), "y": test["loss"].to_numpy(float)}
    t = time.perf_counter()
    fit = law.fit(train, seed=0)
    out["t_fit"] = time.perf_counter() - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ExtrapolationWarning)
        pred = fit.predict(test, discrepancy=False)
    out["plain"] = pred.predictive.values.reshape(-1, len(test))
    out["distance"] = pred.distance
    out["family"] = pred.draws["family"].values
    tr = bl.data.prepare(law, train)
    out["width"] = ex.fitted_width(law, tr.x, tr.family.astype(str), out["family"])
    out["posterior_shape"] = pred.predictive.shape[:2]
    t = time.perf_counter()
    out["groups"], out["folds"] = ex.backtest_residuals(
        law, train, seed=0, chains=fit.config["chains"])
    out["t_backtest"] = time.perf_counter() - t
    t = time.perf_counter()
    theta = baselines.huber_fit(train)
    out["t_huber"] = time.perf_counter() - t
    out["huber"] = np.exp(baselines.log_law(theta, np.log(test.params.to_numpy(float)),
                                            np.log(test.tokens.to_numpy(float))))[None, :]
    out["bootstrap"] = baselines.bootstrap_samples(train, theta, test)
    out["curve_fit"] = baselines.curve_fit_samples(train, theta, test)
    os.makedirs(CACHE, exist_ok=True)
    with open(path + ".tmp", "wb") as fh:
        pickle.dump(out, fh)
    os.replace(path + ".tmp", path)
    return out


#: Discrepancy kernels compared by the evidence of the inner backtests (training rows only).
KERNELS = {
    "brownian + drift (default)": ex.kernel,
    "brownian": lambda a, b: np.minimum(a[:, None], b[None, :]),
    "drift": lambda a, b: a[:, None] * b[None, :],
}


#: Scale exponents gamma (drift rate of a refit e^(gamma g) times the full fit's, g the decades
#: its largest run lies below the full data's) compared by the inner backtests' evidence.
GAMMAS = (-0.5, -0.2, 0.0, 0.2, 0.5, 1.0)


def scale_evidence(by_dataset) -> dict[float, float]:
    """Log marginal likelihood of all datasets' inner backtests for each scale exponent gamma
    (:func:`bayeslaws.extrapolation.drift_loglik`), at its empirical-Bayes population prior:
    does a refit on smaller runs drift faster per fitted width than the full fit?"""
    import math

    log_tau = np.linspace(math.log(1e-4), math.log(ex.TAU_MAX), 600)
    out = {}
    for gamma in GAMMAS:
        mu, sd = ex.population_prior(by_dataset, gamma=gamma)
        logn = -0.5 * ((log_tau - mu) / sd) ** 2 - math.log(sd * math.sqrt(2 * math.pi))
        out[gamma] = float(sum(
            np.logaddexp.reduce(ex.drift_loglik(g, np.exp(log_tau), gamma) + logn)
            + math.log(log_tau[1] - log_tau[0]) for g in by_dataset.values()))
    return out


def kernel_evidence(by_dataset) -> dict[str, float]:
    """Log marginal likelihood of all datasets' inner backtests under each kernel, at its
    empirical-Bayes population prior (the kernel choice uses no held-out run)."""
    import math

    out = {}
    default = ex.kernel
    log_tau = np.linspace(math.log(1e-4), math.log(ex.TAU_MAX), 600)
    try:
        for name, kern in KERNELS.items():
            ex.kernel = kern
            mu, sd = ex.population_prior(by_dataset)
            logn = -0.5 * ((log_tau - mu) / sd) ** 2 - math.log(sd * math.sqrt(2 * math.pi))
            out[name] = float(sum(
                np.logaddexp.reduce(ex.drift_loglik(g, np.exp(log_tau)) + logn)
                + math.log(log_tau[1] - log_tau[0]) for g in by_dataset.values()))
    finally:
        ex.kernel = default
    return out


#: Discrepancy paths per posterior draw in the scores of ``bayeslaws`` (see ``with_discrepancy``).
PATHS = 8


def with_discrepancy(res, prior, seed=0, paths=PATHS):
    """Predictive samples of the bayeslaws forecast: plain predictive + discrepancy draws.

    ``paths`` independent discrepancy draws (each with its own tau draw) per posterior draw,
    stacked: the same predictive distribution as ``Fit.predict``'s one path per draw, with less
    Monte Carlo noise in the scores (with one path, datablations' median error moved between
    1.64% and 1.74% from seed to seed).
    """
    import xarray as xr

    grid, dens = ex.tau_posterior(res["groups"], prior=prior)
    rng = np.random.default_rng(seed)
    out, taus = [], []
    for _ in range(paths):
        tau = ex.tau_draws(grid, dens, tuple(res["posterior_shape"]), rng)
        disc = ex.Discrepancy(xr.DataArray(tau, dims=("chain", "draw")), res["folds"],
                              len(res["groups"]))
        delta = disc.draws(res["distance"], res["family"], rng, width=res["width"])
        out.append(res["plain"] * np.exp(delta.reshape(-1, len(res["y"]))))
        taus.append(tau)
    return np.concatenate(out), float(np.median(taus))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="recompute the cached fits")
    parser.add_argument("--only", nargs="*", default=None, help="split names")
    parser.add_argument("--backtests", action="store_true",
                        help="rerun only the inner backtests of the cached splits")
    parser.add_argument("--distance", choices=("relative", "decades"), default="relative",
                        help="axis of the discrepancy: widths of the fitted range (the package's) "
                             "or plain decades (the earlier model; own cache and result files)")
    args = parser.parse_args()
    suffix = ""
    if args.distance == "decades":
        global CACHE
        CACHE, suffix = CACHE + "_decades", "_decades"
        ex.relative_distance = ex.distance  # backtest distances in decades
        ex.fitted_width = lambda law, tx, tf, fam: np.ones(len(fam))  # width 1: d / 1
    names = args.only or list(SPLITS)
    results = {}
    for name in names:
        t = time.perf_counter()
        results[name] = run_split(name, fresh=args.fresh, backtests=args.backtests)
        r = results[name]
        r.setdefault("width", np.ones(len(r["y"])))  # a decades cache (see --distance)
        print(f"{name}: {r['rows_train']} train / {r['rows_test']} held out, bayes fit "
              f"{r['t_fit']:.1f} s, backtests {r['t_backtest']:.1f} s ({r['folds']} folds), "
              f"huber grid {r['t_huber']:.1f} s [{time.perf_counter() - t:.0f} s]", flush=True)

    # Population prior of log tau from the inner backtests: per underlying dataset, then
    # leave-one-dataset-out for scoring.
    by_dataset = {}
    for name in names:
        by_dataset.setdefault(SPLITS[name][1], results[name]["groups"])
    priors = {ds: ex.population_prior({k: v for k, v in by_dataset.items() if k != ds})
              for ds in by_dataset}
    everything = ex.population_prior(by_dataset)

    rows, curves, pits = [], [], []
    for name in names:
        res, ds = results[name], SPLITS[name][1]
        y = res["y"]
        bayes, tau = with_discrepancy(res, priors[ds])
        methods = {"bayeslaws": bayes, "bayes-plain": res["plain"], "huber-grid": res["huber"],
                   "bootstrap": res["bootstrap"], "curve_fit": res["curve_fit"]}
        for method, samples in methods.items():
            row = {"split": name, "method": method} | scores.score_table(samples, y)
            if method == "huber-grid":
                for k in row:
                    if k.startswith(("coverage", "width")):
                        row[k] = np.nan
            if method == "bayeslaws":
                row["tau"] = tau
            row["max_factor"] = float(10 ** res["distance"].max())
            rows.append(row)
            if method != "huber-grid":
                curve = scores.calibration_curve(samples, y)
                curves.append(curve.assign(split=name, method=method))
                pit = scores.group_pit(samples, y, res["family"])
                pits += [{"split": name, "method": method, "family": g,
                          "rows": int(np.sum(res["family"] == g)), "pit": v}
                         for g, v in pit.items()]
    table = pd.DataFrame(rows)
    os.makedirs(RESULTS, exist_ok=True)
    table.to_csv(os.path.join(RESULTS, f"extrapolation{suffix}.csv"), index=False)
    curves = pd.concat(curves, ignore_index=True)
    curves.to_csv(os.path.join(RESULTS, f"extrapolation_calibration{suffix}.csv"), index=False)
    with open(os.path.join(RESULTS, f"extrapolation_prior{suffix}.json"), "w") as fh:
        json.dump({"mu": everything[0], "sd": everything[1],
                   "loo": {k: list(v) for k, v in priors.items()}}, fh, indent=1)
    pd.set_option("display.width", 200)
    print(table.round(4).to_string(index=False))
    mean = table.groupby("method")[["coverage_50", "coverage_80", "coverage_90", "crps_log",
                                     "abs_rel_err", "width_90"]].mean()
    print("\nmean over splits\n" + mean.round(4).to_string())
    # One PIT per (split, family) of the family's mean log loss: the held-out runs of a family
    # share one drift path, so these are the (nearly) independent trials of the calibration.
    pits = pd.DataFrame(pits)
    pits.to_csv(os.path.join(RESULTS, f"extrapolation_group_pit{suffix}.csv"), index=False)
    group_cov = pits.groupby("method")["pit"].agg(
        groups="size",
        **{f"coverage_{int(100 * p)}": (lambda v, p=p: float(np.mean(np.abs(v - 0.5) <= p / 2)))
           for p in scores.PROBS})
    print("\ncoverage of the family-mean log loss (one PIT per split and family)\n"
          + group_cov.round(3).to_string())
    print(f"\npopulation prior of log tau (all datasets): mu={everything[0]:.3f} "
          f"(tau {np.exp(everything[0]):.4f}), sd={everything[1]:.3f}")
    for kern, value in kernel_evidence(by_dataset).items():
        print(f"evidence of the inner backtests, kernel {kern}: {value:.1f}")
    if all(len(g) == 4 for groups in by_dataset.values() for g in groups):
        for gamma, value in scale_evidence(by_dataset).items():
            print(f"evidence of the inner backtests, scale exponent gamma {gamma:+.1f}: "
                  f"{value:.1f}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}")
    if not suffix:
        _plot(curves)


def _plot(curves):
    try:
        from bayeslaws.plots import plot_calibration
    except ImportError:
        plot_calibration = None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mean = curves.groupby(["method", "nominal"], as_index=False)["observed"].mean()
    path = os.path.join(HERE, "..", "docs", "_static", "extrapolation_calibration.png")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if plot_calibration is not None:
        fig = plot_calibration(mean)
    else:
        fig, ax = plt.subplots(figsize=(5, 5))
        for method, g in mean.groupby("method"):
            ax.plot(g.nominal, g.observed, marker="o", label=method)
        ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
        ax.set(xlabel="nominal coverage", ylabel="observed coverage (mean over splits)",
               xlim=(0, 1), ylim=(0, 1), title="Extrapolation to the largest held-out runs")
        ax.legend()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"figure: {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
