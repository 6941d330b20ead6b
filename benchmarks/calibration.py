"""Leave-one-source-out calibration of forecasts beyond the data, over a corpus of public studies.

Each *split* of the corpus fits a law on the smaller runs of one public study, the way a user
would (``law.fit(train)``, default settings), and forecasts its larger held-out runs. The
corpus spans IsoFLOP sweeps, over-training grids, single-family ladders, multi-corpus studies,
training trajectories and learning-curve collections, with compute multiples from about 2x to
100x beyond the largest fitted run (table in ``docs/calibration.md``).

What is scored is the *extrapolation model*: how the plain posterior predictive is widened
beyond the data. Everything learned across studies (the population prior of the drift rate
tau, the weight of a fit's own inner backtests) is learned without the study being scored:
leave-one-source-out (a source is one paper's release; where one paper gave two sets of runs,
both leave together). The candidates, scored on the same cached posteriors:

* ``plain``: the posterior predictive alone (no discrepancy);
* ``inner-eb``: tau's prior fitted by empirical Bayes to the other sources' *inner* backtests
  (refits on the smaller runs of the training data); at ``w=1`` updated by the study's own inner
  backtests at full weight, the package's model until 2026-12;
* ``outer-eb``: tau's prior fitted by empirical Bayes to the other sources' *realised forecast
  errors* (the held-out runs of their splits against their final fits); ``outer-tight`` the same
  with the between-source spread fixed at :data:`bayeslaws.extrapolation.SD_FLOOR`; each with
  the study's own inner backtests at weight ``w`` (a tempered likelihood; ``w=0``: none run);
* ``bayeslaws (nested choice)``: for each source, the candidate with the best mean CRPS on the
  other sources (each under priors learned without both);
* ``huber-grid``: Hoffmann/Epoch Huber + L-BFGS (Chinchilla splits; a point: CRPS = abs.
  error), and ``huber-bootstrap``, Epoch's row bootstrap of it (200 refits).

Only training rows enter any fit; held-out rows are used for scoring and, for the *other*
sources, for learning the population.

    python benchmarks/calibration.py [--fresh] [--only SPLIT ...] [--draws 1000]

Writes ``benchmarks/results/calibration.csv`` (per split and method),
``calibration_summary.csv`` (means), ``calibration_selection.csv`` (the nested choice per
source), ``calibration_by_multiple.csv`` (held-out rows binned by compute multiple) and
``calibration_prior.json`` (each candidate's population prior from every source: the shipped one
is :data:`bayeslaws.extrapolation.TAU_PRIOR`). Fits are cached in
``benchmarks/.cache/calibration/``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import baselines

import bayeslaws as bl
from bayeslaws import extrapolation as ex
from bayeslaws import scores

DATA = os.path.join(HERE, "data")
CACHE = os.path.join(HERE, ".cache", "calibration")
RESULTS = os.path.join(HERE, "results")


def _csv(name):
    return pd.read_csv(os.path.join(DATA, f"{name}.csv"))


def _by(frame, column, cut, *, below=True):
    """(train, test): rows with ``column <= cut`` and the rest."""
    mask = frame[column] <= cut
    return frame[mask], frame[~mask]


def _compute(frame):
    return frame.assign(compute=6.0 * frame.params * frame.tokens)


def _quantile_split(frame, q):
    frame = _compute(frame)
    return _by(frame, "compute", np.quantile(frame.compute, q))


# ------------------------------------------------------------------------------- the corpus
@dataclass(frozen=True)
class Split:
    source: str  # the leave-out unit: one paper's data release
    dataset: str  # one set of training runs
    law: str
    kind: str  # what sort of study
    load: Callable
    note: str


def _chinchilla():
    return bl.datasets.load("chinchilla_epoch", fit_rows=True)


def _gadre():
    return bl.datasets.load("gadre_overtraining")


def _datablations():
    return _csv("datablations")


def _porian():
    runs = _csv("porian")
    return runs[runs.loss <= 8]  # the badly sized edge-of-isoFLOP points (data README)


def _opt():
    return _csv("opt")


def _steplaw():
    runs = bl.datasets.load("steplaw_li2025")
    return (runs.groupby(["params", "tokens"], as_index=False)["loss"].min()
            .assign(family="steplaw_dense"))


def _oscar():
    runs = _csv("datablations_oscar")
    runs = runs[runs.tokens >= 5e9]  # past warm-up: the curves' first billions are transients
    return runs[runs.groupby("model").cumcount() % 4 == 0]  # every 16th logged point


def _olmo1():
    runs = _csv("olmo1")
    return runs[runs.tokens >= 2e10]  # past warm-up


def _olmo_sizes(train, test):
    """OLMo ladder: the ``train`` sizes, and the ``test`` sizes (None: every other run)."""
    runs = _csv("olmo_ladder")
    fit = runs["size"].isin(train)
    held = ~fit if test is None else runs["size"].isin(test)
    return runs[fit], runs[held]


def _revisiting(domain):
    runs = bl.datasets.load("revisiting_alabdulmohsin2022")
    runs = runs[runs.domain == domain]
    return runs[runs.train_split_is_1 == 1], runs[runs.train_split_is_1 == 0]


SPLITS: dict[str, Split] = {
    # Epoch's extraction of Hoffmann et al.'s runs: near-IsoFLOP, one family
    "chinchilla_q85": Split("hoffmann2022", "chinchilla", "chinchilla", "IsoFLOP sweep",
                            lambda: _quantile_split(_chinchilla(), 0.85),
                            "lowest 85% of compute -> top 15%"),
    "chinchilla_1e21": Split("hoffmann2022", "chinchilla", "chinchilla", "IsoFLOP sweep",
                             lambda: _by(_compute(_chinchilla()), "compute", 1e21),
                             "C < 1e21 -> C >= 1e21"),
    "chinchilla_3e20": Split("hoffmann2022", "chinchilla", "chinchilla", "IsoFLOP sweep",
                             lambda: _by(_compute(_chinchilla()), "compute", 3e20),
                             "C <= 3e20 -> C > 3e20"),
    "chinchilla_q50": Split("hoffmann2022", "chinchilla", "chinchilla", "IsoFLOP sweep",
                            lambda: _quantile_split(_chinchilla(), 0.5),
                            "lowest half of compute -> upper half"),
    # Gadre et al.: 3 corpora, over-training grid
    "gadre_5e8": Split("gadre2024", "gadre", "chinchilla", "over-training grid, 3 corpora",
                       lambda: _by(_gadre(), "params", 5e8), "<= 411M -> 1.4B and 6.9B"),
    "gadre_2e8": Split("gadre2024", "gadre", "chinchilla", "over-training grid, 3 corpora",
                       lambda: _by(_gadre(), "params", 2e8), "<= 154M -> 411M-6.9B"),
    # Muennighoff et al.: C4 finals (<= 4 epochs) and OSCAR training curves
    "datablations_4e9": Split("muennighoff2023", "datablations_c4", "chinchilla",
                              "single-corpus grid", lambda: _by(_datablations(), "params", 4e9 - 1),
                              "< 4B -> 4.2B and 8.7B"),
    "datablations_1e9": Split("muennighoff2023", "datablations_c4", "chinchilla",
                              "single-corpus grid", lambda: _by(_datablations(), "params", 1.2e9),
                              "<= 1.1B -> 1.4B-8.7B"),
    "oscar_curves": Split("muennighoff2023", "datablations_oscar", "data-constrained",
                          "training curves, repeated data",
                          lambda: _by(_oscar(), "params", 5e9), "2.8B and 4.2B -> 8.7B curves"),
    # Porian et al.: 9 recipes (families), IsoFLOP
    "porian_3e18": Split("porian2024", "porian", "chinchilla", "IsoFLOP sweeps, 9 recipes",
                         lambda: _by(_porian(), "flops_budget", 3.2e18),
                         "C <= 3.2e18 -> 6.4e18-2.56e19"),
    "porian_8e17": Split("porian2024", "porian", "chinchilla", "IsoFLOP sweeps, 9 recipes",
                         lambda: _by(_porian(), "flops_budget", 8e17), "C <= 8e17 -> 1.6e18-2.56e19"),
    # Bhagia et al.: OLMo ladder (final checkpoints) and OLMo-2 7B/13B
    "olmo_ladder": Split("bhagia2024", "olmo_ladder", "chinchilla", "size ladder",
                         lambda: _olmo_sizes(["190M", "370M", "760M", "1B"], None),
                         "190M-1.3B -> 3B ladder, OLMo-2 7B and 13B"),
    "olmo_ladder_small": Split("bhagia2024", "olmo_ladder", "chinchilla", "size ladder",
                               lambda: _olmo_sizes(["190M", "370M"], ["760M", "1B", "3B"]),
                               "190M-370M -> 760M-3B ladder"),
    # OPT training trajectories (Hitchhiker collection)
    "opt_13b": Split("zhang2022", "opt", "chinchilla", "training trajectories",
                     lambda: _by(_opt(), "params", 1.4e10), "<= 13B -> 30B and 175B"),
    "opt_2b": Split("zhang2022", "opt", "chinchilla", "training trajectories",
                    lambda: _by(_opt(), "params", 3e9), "<= 2.7B -> 6.7B-175B"),
    # Li et al. Step Law: best loss per (N, D) cell; dense and MoE runs
    "steplaw_dense": Split("li2025", "steplaw_dense", "chinchilla", "hyperparameter-tuned grid",
                           lambda: _by(_steplaw(), "params", 1e9), "215-537M -> 1.07B"),
    "steplaw_moe": Split("li2025", "steplaw_moe", "chinchilla", "hyperparameter-tuned grid, MoE",
                         lambda: _by(_csv("steplaw_moe"), "tokens", 8e9),
                         "D <= 8B -> D = 20B (active params)"),
    # Alabdulmohsin et al. 2022 learning curves: the benchmark's own split
    "revisiting_lm": Split("alabdulmohsin2022", "revisiting_lm", "m4", "learning curves",
                           lambda: _revisiting("LM"), "5 LM sizes, benchmark split"),
    "revisiting_nmt": Split("alabdulmohsin2022", "revisiting_nmt", "m4", "learning curves",
                            lambda: _revisiting("NMT"), "5 NMT architectures, benchmark split"),
    # Groeneveld et al. 2024: OLMo-1 checkpoints
    "olmo1_curves": Split("groeneveld2024", "olmo1", "power-law", "training trajectories",
                          lambda: _by(_olmo1(), "tokens", 8e11),
                          "checkpoints <= 0.8T tokens -> later ones"),
}


# ------------------------------------------------------------------------------- one split
def _link(values, law):
    values = np.asarray(values, dtype=float)
    if law.positive_target:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(values)
    return values


def run_split(name, *, fresh=False, draws=1000, keep_backtests=False):
    """Fit, plain forecasts, realised forecast errors, inner backtests and baselines of one
    split (cached). ``keep_backtests`` refits the split but takes its inner backtests and
    baselines (which the default extrapolation model does not use) from the cache."""
    path = os.path.join(CACHE, f"{name}_d{draws}.pkl")
    old = None
    if os.path.exists(path):
        with open(path, "rb") as fh:
            old = pickle.load(fh)
        if not fresh:
            return old
    split = SPLITS[name]
    train, test = (f.reset_index(drop=True) for f in split.load())
    law = bl.laws.get(split.law)
    y = test[law.target].to_numpy(float)
    out = {"rows_train": len(train), "rows_test": len(test), "y": y, "draws": draws}
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = law.fit(train, seed=0, draws=draws, tune=draws)
    out["t_fit"] = time.perf_counter() - t
    out["warnings"] = sorted({str(w.message).splitlines()[0][:160] for w in caught
                              if issubclass(w.category, bl.ConvergenceWarning)})
    diag = fit.diagnostics()
    out["rhat"] = float(max(diag["rhat"].values()))
    out["divergences"] = int(diag["divergences"])
    # The fit's noise scale (link-scale sigma of the likelihood): what a noise-scaled drift
    # (candidates ``... /sigma``) measures the discrepancy in.
    out["sigma"] = float(fit.posterior["sigma"].median())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = fit.predict(test, discrepancy=False)
    n = len(test)
    out["plain"] = pred.predictive.values.reshape(-1, n)
    curve = _link(pred.law.values.reshape(-1, n), law)
    link = _link(out["plain"], law)
    out["distance"] = np.asarray(pred.distance, dtype=float)
    out["family"] = np.asarray(pred.draws["family"].values).astype(str)
    tr = bl.data.prepare(law, train)
    out["width"] = ex.fitted_width(law, tr.x, tr.family.astype(str), out["family"])
    out["posterior_shape"] = tuple(pred.predictive.shape[:2])
    train_size = ex.size_axis(law, tr.x)
    te = bl.data.prepare(law, test)
    out["multiple"] = float(np.exp(ex.size_axis(law, te.x).max() - train_size.max()))
    # Realised forecast errors of the final fit, grouped like the inner backtests' residuals
    # (per family: residual against the predictive median, joint predictive covariance,
    # distance in widths): what the *other* sources' populations learn from.
    q16, med, q84 = np.quantile(link, [0.16, 0.5, 0.84], axis=0)
    s = np.maximum(0.5 * (q84 - q16), 1e-9)
    rel = out["distance"] / out["width"]
    outer = []
    ylink = _link(y, law)
    for fam in np.unique(out["family"]):
        rows = (out["family"] == fam) & (rel > 0)
        if rows.any():
            outer.append((ylink[rows] - med[rows], ex.predictive_cov(curve[:, rows], s[rows]),
                          rel[rows]))
    out["outer"] = outer
    if keep_backtests and old is not None:
        out |= {k: old[k] for k in ("groups", "folds", "t_backtest", "huber", "t_huber",
                                    "bootstrap") if k in old}
        out["backtests_from"] = old.get("backtests_from", "cache of an earlier fit")
        _write(path, out)
        return out
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["groups"], out["folds"] = ex.backtest_residuals(law, train, seed=0,
                                                            chains=fit.config["chains"])
    out["t_backtest"] = time.perf_counter() - t
    if split.law == "chinchilla":
        t = time.perf_counter()
        theta = baselines.huber_fit(train)
        out["t_huber"] = time.perf_counter() - t
        out["huber"] = np.exp(baselines.log_law(theta, np.log(test.params.to_numpy(float)),
                                                np.log(test.tokens.to_numpy(float))))[None, :]
    _write(path, out)
    return out


def _write(path, out):
    os.makedirs(CACHE, exist_ok=True)
    with open(path + ".tmp", "wb") as fh:
        pickle.dump(out, fh)
    os.replace(path + ".tmp", path)


# ------------------------------------------------------------------------------- the models
LOG_TAU = np.linspace(math.log(1e-4), math.log(ex.TAU_MAX), 600)


def _loglik_grid(groups):
    return ex.drift_loglik(groups, np.exp(LOG_TAU)) if groups else np.zeros(len(LOG_TAU))


MUS = np.linspace(math.log(1e-3), math.log(0.3), 170)


def _log_normals(sd_floor, sd_max=2.0):
    sds = np.linspace(sd_floor, sd_max, 60 if sd_max > sd_floor else 1)
    z = (LOG_TAU[None, None, :] - MUS[:, None, None]) / sds[None, :, None]
    return sds, -0.5 * z**2 - np.log(sds * math.sqrt(2 * math.pi))[None, :, None]


def eb_prior(logliks: list[np.ndarray], sd_floor: float = ex.SD_FLOOR,
             sd_max: float = 2.0) -> tuple[float, float]:
    """Empirical-Bayes (mu, sd) of log tau from per-source log-likelihood curves on LOG_TAU:
    the (mu, sd) grid point that maximises the product over sources of the marginal likelihood
    (the same estimator as :func:`bayeslaws.extrapolation.population_prior`); ``sd_max =
    sd_floor`` fixes the spread (a tight prior: shrinkage by assumption, mu by the data)."""
    if not logliks:
        return ex.TAU_PRIOR
    sds, logn = _log_normals(sd_floor, sd_max)
    total = sum(np.logaddexp.reduce(ll[None, None, :] + logn, axis=-1) for ll in logliks)
    i, j = np.unravel_index(np.argmax(total), total.shape)
    return float(MUS[i]), float(sds[j])


def log_score(res, prior, weight, outer=None) -> float:
    """Log predictive density of a split's realised forecast errors (its ``outer`` groups)
    under tau ~ prior x (own inner backtests)^weight: the score that picks the weight."""
    mu, sd = prior
    logp = -0.5 * ((LOG_TAU - mu) / sd) ** 2  # log-normal in log tau (uniform grid)
    if weight and res["groups"]:
        logp = logp + weight * _loglik_grid(res["groups"])
    logp -= np.logaddexp.reduce(logp)
    return float(np.logaddexp.reduce(logp + _loglik_grid(res["outer"] if outer is None
                                                         else outer)))


def noise_scale(res, power: float) -> float:
    """Factor by which a noise-scaled candidate multiplies tau for a split:
    ``(sigma / SIGMA_REF) ** power`` with the fit's link-scale noise sigma (1 at ``power=0``;
    :func:`bayeslaws.extrapolation.noise_scale` at the package's power)."""
    return float((res["sigma"] / ex.SIGMA_REF) ** power) if power else 1.0


def forecast(res, law_name, prior, weight, *, seed=0, paths=8, relative=True, power=0.0):
    """Predictive samples with the discrepancy: tau ~ prior x (own inner backtests)^weight;
    ``relative=False`` measures the distance in plain decades (log10 of the compute multiple)
    instead of widths of the fitted range; ``power`` scales tau by the fit's noise
    (:func:`noise_scale`)."""
    import xarray as xr

    grid = np.linspace(ex.TAU_MAX / 2001, ex.TAU_MAX, 2001)
    mu, sd = prior
    c = noise_scale(res, power)
    logp = -0.5 * ((np.log(grid) - mu) / sd) ** 2 - np.log(grid)
    if weight and res["groups"]:
        logp = logp + weight * ex.drift_loglik(res["groups"], grid * c)
    dens = np.exp(logp - logp.max())
    dens /= np.trapezoid(dens, grid)
    law = bl.laws.get(law_name)
    rng = np.random.default_rng(seed)
    out, taus = [], []
    n = len(res["y"])
    for _ in range(paths):
        tau = ex.tau_draws(grid, dens, res["posterior_shape"], rng) * c
        disc = ex.Discrepancy(xr.DataArray(tau, dims=("chain", "draw")), res["folds"],
                              len(res["groups"]), relative=relative)
        delta = disc.draws(res["distance"], res["family"], rng, width=res["width"]).reshape(-1, n)
        out.append(res["plain"] * np.exp(delta) if law.positive_target else res["plain"] + delta)
        taus.append(tau)
    return np.concatenate(out), float(np.median(taus))


#: Candidate extrapolation models: name -> (errors the population prior of tau is learned
#: from: "inner" backtests or "outer" realised forecast errors; whether its spread is fixed at
#: the floor (tight); weight of the split's own inner backtests; power of the fit's noise that
#: scales tau, :func:`noise_scale`: 0 for none).
CANDIDATES = {
    "inner-eb (until 2026-12)": ("inner", False, 1.0, 0.0),
    "inner-eb w=0.5": ("inner", False, 0.5, 0.0),
    "inner-eb w=0": ("inner", False, 0.0, 0.0),
    "outer-eb w=0": ("outer", False, 0.0, 0.0),
    "outer-eb w=0.25": ("outer", False, 0.25, 0.0),
    "outer-eb w=1": ("outer", False, 1.0, 0.0),
    "outer-tight w=0": ("outer", True, 0.0, 0.0),
    "outer-tight w=0.5": ("outer", True, 0.5, 0.0),
    "outer-tight w=1": ("outer", True, 1.0, 0.0),
    "outer-tight w=0 x sigma^0.5": ("outer", True, 0.0, 0.5),
    "outer-tight w=0 x sigma": ("outer", True, 0.0, 1.0),
    "outer-eb w=0 x sigma^0.5": ("outer", False, 0.0, 0.5),
    "outer-eb w=0 x sigma": ("outer", False, 0.0, 1.0),
}
#: The row of the nested choice (per held-out source, the candidate chosen without it).
SELECTED = "bayeslaws (nested choice)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="recompute the cached fits")
    parser.add_argument("--only", nargs="*", default=None, help="split names")
    parser.add_argument("--draws", type=int, default=1000, help="draws (and tune) per chain")
    parser.add_argument("--fits-only", action="store_true", help="fit and cache, do not score")
    parser.add_argument("--rows", metavar="SPLIT", default=None,
                        help="print one cached split's held-out rows with the plain forecast's "
                             "median and relative error, then stop")
    parser.add_argument("--per-axis-distance", action="store_true",
                        help="tried, not adopted: score with distances per scale axis "
                             "(per_axis_distance)")
    parser.add_argument("--keep-backtests", action="store_true",
                        help="with --fresh: refit, but keep the cached inner backtests and "
                             "baselines")
    args = parser.parse_args()
    if args.rows:
        print_rows(args.rows, run_split(args.rows, draws=args.draws))
        return
    names = args.only or list(SPLITS)
    results = {}
    for name in names:
        t = time.perf_counter()
        results[name] = r = run_split(name, fresh=args.fresh, draws=args.draws,
                                           keep_backtests=args.keep_backtests)
        print(f"{name}: {r['rows_train']} train / {r['rows_test']} held out, x{r['multiple']:.3g} "
              f"compute, fit {r['t_fit']:.1f} s (R-hat {r['rhat']:.3f}, {r['divergences']} div), "
              f"backtests {r['t_backtest']:.1f} s ({r['folds']} folds) "
              f"[{time.perf_counter() - t:.0f} s]", flush=True)
    if args.fits_only:
        return
    if args.per_axis_distance:
        results = {n: per_axis_distance(n, r) for n, r in results.items()}
    score(results)


def print_rows(name, res) -> None:
    """A split's held-out rows beside the plain forecast's median and relative error, per model
    (where a forecast misses: e.g. early checkpoints of a training curve)."""
    _, test = (f.reset_index(drop=True) for f in SPLITS[name].load())
    target = bl.laws.get(SPLITS[name].law).target
    test["forecast"] = np.median(res["plain"], axis=0)
    test["error %"] = 100 * (test["forecast"] / test[target] - 1)
    pd.set_option("display.width", 200)
    print(test.round(4).to_string(index=False))
    if "model" in test:
        print(test.groupby("model")["error %"].describe().round(2).to_string())


def per_axis_distance(name, res) -> dict:
    """``res`` with each row's distance replaced by its largest excess over the scale axes,
    each in widths of that axis (the decades the family's fitted rows span on it, at least
    :data:`bayeslaws.extrapolation.WIDTH_MIN`), instead of the largest excess in widths of
    compute (tried, not adopted: ``benchmarks/RESULTS.md``)."""
    split = SPLITS[name]
    law = bl.laws.get(split.law)
    tr, te = (bl.data.prepare(law, f.reset_index(drop=True)) for f in split.load())
    train, new = ex.scale_axes(law, tr.x), ex.scale_axes(law, te.x)
    u = np.zeros(len(te.family))
    for rows, ref in ex._families(tr.family.astype(str), te.family.astype(str)):
        for axis, v in new.items():
            lo, hi = train[axis][ref].min(), train[axis][ref].max()
            span = max((hi - lo) / ex.DECADE, ex.WIDTH_MIN)
            excess = np.maximum(np.maximum(v[rows] - hi, lo - v[rows]), 0.0) / ex.DECADE
            u[rows] = np.maximum(u[rows], excess / span)
    old = res["distance"] / res["width"]
    # the same rows lie beyond the data either way, so the realised-error groups keep their
    # rows and only their distances change
    families = [f for f in np.unique(res["family"]) if ((res["family"] == f) & (old > 0)).any()]
    outer = [(r, cov, u[(res["family"] == f) & (old > 0)])
             for f, (r, cov, _) in zip(families, res["outer"])]
    return res | {"distance": u, "width": np.ones_like(u), "outer": outer}


def bootstrap(name, res) -> np.ndarray:
    """Epoch's row bootstrap of the Huber grid fit (200 refits), cached beside the split."""
    if "bootstrap" not in res:
        train, test = (f.reset_index(drop=True) for f in SPLITS[name].load())
        theta = baselines.huber_fit(train)
        res["bootstrap"] = baselines.bootstrap_samples(train, theta, test)
        path = os.path.join(CACHE, f"{name}_d{res.get('draws', 500)}.pkl")
        if os.path.exists(path):
            with open(path + ".tmp", "wb") as fh:
                pickle.dump(res, fh)
            os.replace(path + ".tmp", path)
    return res["bootstrap"]


def row_multiples(name) -> np.ndarray:
    """Each held-out row's compute multiple over the split's largest fitted run (of its
    family; :func:`bayeslaws.extrapolation.size_multiple`)."""
    split = SPLITS[name]
    law = bl.laws.get(split.law)
    train, test = (bl.data.prepare(law, f.reset_index(drop=True)) for f in split.load())
    return ex.size_multiple(law, train.x, train.family.astype(str), test.x,
                            test.family.astype(str))


#: Bins of the compute multiple for "what to expect at 2x, 10x, 100x".
BINS = ((1.0, 3.0, "1-3x"), (3.0, 30.0, "3-30x"), (30.0, np.inf, "30x and more"))


def by_multiple(rows: list[dict]) -> pd.DataFrame:
    """Coverage and error of the rows binned by compute multiple (rows pooled over splits)."""
    frame = pd.DataFrame(rows)
    out = []
    for method, g in frame.groupby("method"):
        for lo, hi, label in BINS:
            b = g[(g.multiple > lo) & (g.multiple <= hi)]
            if len(b):
                out.append({"method": method, "multiple": label, "rows": len(b),
                            "splits": b.split.nunique(),
                            "coverage_50": b.in50.mean(), "coverage_90": b.in90.mean(),
                            "median_abs_rel_err": b.abs_err.median(),
                            "median_width_90": b.width90.median()})
    return pd.DataFrame(out)


def markdown(table: pd.DataFrame, results: dict, method: str = SELECTED) -> str:
    """The corpus and the per-split scores of ``method`` against the plain posterior and the
    Huber grid, as a Markdown table for ``docs/calibration.md``."""
    header = ("| split | source | study | law | fitted / held out | compute multiple | R-hat "
              "(div.) | cov. 90% plain / bayeslaws | CRPS plain / bayeslaws / Huber | median abs. "
              "rel. err. bayeslaws / Huber | sharpness |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for n, res in results.items():
        sp = SPLITS[n]
        t = table[table.split == n].set_index("method")
        hub = t.loc["huber-grid"] if "huber-grid" in t.index else None
        b, pl = t.loc[method], t.loc["plain"]
        lines.append(
            f"| {n} | {sp.source} | {sp.kind} | {sp.law} | {res['rows_train']} / "
            f"{res['rows_test']} | {res['multiple']:.3g}x | {res['rhat']:.3f} "
            f"({res['divergences']}) | {pl.coverage_90:.2f} / {b.coverage_90:.2f} | "
            f"{pl.crps_log:.3f} / {b.crps_log:.3f} / "
            + (f"{hub.crps_log:.3f}" if hub is not None else "-")
            + f" | {100 * b.abs_rel_err:.2f}% / "
            + (f"{100 * hub.abs_rel_err:.2f}%" if hub is not None else "-")
            + f" | {b.sharpness:.1f} |")
    return "\n".join(lines)


class Population:
    """Per-source log-likelihood curves of tau (on :data:`LOG_TAU`) and the population priors
    learned from them leaving sources out (both memoised).

    Parameters
    ----------
    results : dict
        Split name -> cached result of :func:`run_split`.
    """

    def __init__(self, results: dict):
        self.results = results
        self.names = list(results)
        self.sources = sorted({SPLITS[n].source for n in self.names})
        self._curves: dict = {}
        self._priors: dict = {}

    def curve(self, pool: str, power: float, src: str) -> np.ndarray:
        """Log-likelihood on LOG_TAU of one source's errors (``pool``: "inner" backtests or
        "outer" realised forecast errors), tau scaled per split by :func:`noise_scale`."""
        key = (pool, power, src)
        if key not in self._curves:
            field = "groups" if pool == "inner" else "outer"
            self._curves[key] = sum(
                (ex.drift_loglik(self.results[n][field], np.exp(LOG_TAU)
                                 * noise_scale(self.results[n], power))
                 for n in self.names
                 if SPLITS[n].source == src and self.results[n][field]),
                np.zeros(len(LOG_TAU)))
        return self._curves[key]

    def prior(self, pool: str, tight: bool, excluded, power: float = 0.0) -> tuple:
        """(mu, sd) of log tau learned by :func:`eb_prior` from every source not in
        ``excluded``; ``tight`` fixes the spread at the floor."""
        key = (pool, tight, frozenset(excluded), power)
        if key not in self._priors:
            lls = [self.curve(pool, power, s) for s in self.sources if s not in excluded]
            self._priors[key] = eb_prior([ll for ll in lls if ll.any()],
                                         sd_max=ex.SD_FLOOR if tight else 2.0)
        return self._priors[key]


def score(results) -> pd.DataFrame:
    names = list(results)
    sources = sorted({SPLITS[n].source for n in names})
    rows, per_row = [], []
    prior = Population(results).prior

    # Nested choice among the candidates: for each held-out source, the candidate with the
    # best mean CRPS over the other sources' splits, each scored under priors learned without
    # both it and the held-out source (2 discrepancy paths per draw: a cheaper Monte Carlo).
    chosen, selection = {}, []
    for src in sources:
        crps = {}
        for cand, (pool, tight, w, a) in CANDIDATES.items():
            vals = [scores.score_table(forecast(results[n], SPLITS[n].law,
                                                prior(pool, tight, {src, SPLITS[n].source}, a),
                                                w, paths=2, power=a)[0],
                                       results[n]["y"])["crps_log"]
                    for n in names if SPLITS[n].source != src]
            crps[cand] = float(np.mean(vals))
        chosen[src] = min(crps, key=crps.get)
        selection.append({"left_out": src, "chosen": chosen[src]} | crps)
        print(f"leave out {src}: mean CRPS of the others "
              + ", ".join(f"{c}: {v:.3f}" for c, v in crps.items()) + f" -> {chosen[src]}",
              flush=True)
    pd.DataFrame(selection).to_csv(os.path.join(RESULTS, "calibration_selection.csv"),
                                   index=False)
    for n in names:
        res, split = results[n], SPLITS[n]
        y = res["y"]
        methods = {"plain": (res["plain"], np.nan)}
        for cand, (pool, tight, w, a) in CANDIDATES.items():
            methods[cand] = forecast(res, split.law, prior(pool, tight, {split.source}, a), w,
                                     power=a)
        methods[SELECTED] = methods[chosen[split.source]]
        if "huber" in res:
            methods["huber-grid"] = (res["huber"], np.nan)
            methods["huber-bootstrap"] = (bootstrap(n, res), np.nan)
        mult = row_multiples(n)
        for method, (samples, tau) in methods.items():
            if method != "huber-grid":
                med = np.median(samples, axis=0)
                lo90, hi90 = np.quantile(samples, [0.05, 0.95], axis=0)
                lo50, hi50 = np.quantile(samples, [0.25, 0.75], axis=0)
                per_row += [{"split": n, "method": method, "multiple": m,
                             "in50": lo50[i] <= y[i] <= hi50[i], "in90": lo90[i] <= y[i] <= hi90[i],
                             "abs_err": abs(med[i] / y[i] - 1),
                             "width90": (hi90[i] - lo90[i]) / med[i]} for i, m in enumerate(mult)]
            row = {"split": n, "source": split.source, "law": split.law, "method": method,
                   "multiple": res["multiple"], "rhat": res["rhat"],
                   "divergences": res["divergences"]} | scores.score_table(samples, y)
            if method == "huber-grid":  # a point: no intervals
                for k in row:
                    if k.startswith(("coverage", "width")):
                        row[k] = np.nan
            row["tau"] = tau
            row["sharpness"] = row["width_90"] / max(row["abs_rel_err"], 1e-12)
            rows.append(row)
    table = pd.DataFrame(rows)
    os.makedirs(RESULTS, exist_ok=True)
    table.to_csv(os.path.join(RESULTS, "calibration.csv"), index=False)
    pd.set_option("display.width", 250)
    cols = ["coverage_50", "coverage_80", "coverage_90", "crps_log", "abs_rel_err", "width_90",
            "sharpness"]
    print(table[["split", "method", "multiple", "tau"] + cols].round(4).to_string(index=False))
    summary = table.groupby("method")[cols].mean()
    summary["min_cov90"] = table.groupby("method")["coverage_90"].min()
    summary["max_sharpness"] = table.groupby("method")["sharpness"].max()
    print("\nmean over splits\n" + summary.round(4).to_string())
    summary.to_csv(os.path.join(RESULTS, "calibration_summary.csv"))
    bins = by_multiple(per_row)
    bins.to_csv(os.path.join(RESULTS, "calibration_by_multiple.csv"), index=False)
    print("\nrows binned by compute multiple (pooled over splits)\n"
          + bins.round(4).to_string(index=False))
    everything = {cand: prior(pool, tight, set(), a) + (w, a)
                  for cand, (pool, tight, w, a) in CANDIDATES.items()}
    with open(os.path.join(RESULTS, "calibration_prior.json"), "w") as fh:
        json.dump({"all_sources": everything, "nested_choice": chosen, "splits": names}, fh,
                  indent=1)
    print(f"\npopulation of log tau, all sources: {everything}")
    print("\n" + markdown(table, results))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, python "
          f"{platform.python_version()}")
    return table


if __name__ == "__main__":
    main()
