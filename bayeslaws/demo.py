"""The main job on bundled data: the hierarchical Chinchilla law on Gadre et al.'s three corpora.

Fits the models up to 411M parameters (partial pooling across corpora), prints the parameters
with 90% intervals, forecasts the held-out 1.4B and 6.9B runs against their true losses, gives
the compute-optimal allocation at 1e24 FLOPs, and writes a figure with credible bands.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pandas as pd

from . import datasets, laws
from .errors import ExtrapolationWarning
from .intervals import DEFAULT_PROB

#: The paper's split: the four small architectures (<= 411M parameters) are fitted.
TRAIN_MAX_PARAMS = 4.2e8
BUDGET = 1e24


def fmt_interval(median: float, lower: float, upper: float, digits: int = 3) -> str:
    """``median [lower, upper]`` with ``digits`` significant digits."""
    f = f"{{:.{digits}g}}"
    return f"{f.format(median)} [{f.format(lower)}, {f.format(upper)}]"


def run(out: str = "bayeslaws-demo", *, draws: int = 1000, tune: int = 1000, chains: int = 4,
        seed: int = 0, progress: bool = True, echo=print) -> dict:
    """Run the demo; return its tables and the paths written.

    Parameters
    ----------
    out : str
        Folder for the figure, the fit file and the forecast table (created if needed).
    draws, tune, chains, seed : int
        Sampler settings.
    echo : callable
        Where the printed report goes.
    """
    start = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    runs = datasets.load("gadre_overtraining")
    train = runs[runs["params"] <= TRAIN_MAX_PARAMS].reset_index(drop=True)
    held = runs[runs["params"] > TRAIN_MAX_PARAMS].reset_index(drop=True)
    law = laws.get("chinchilla")
    echo(f"bayeslaws demo: {law.formula_text}, partial pooling across pretraining corpora")
    echo(f"data: Gadre et al. 2024 (gadre_overtraining), {len(train)} runs <= 411M params fitted "
         f"over {train['family'].nunique()} corpora; {len(held)} runs (1.4B, 6.9B) held out\n")
    fit = law.fit(train, seed=seed, draws=draws, tune=tune, chains=chains, progress=progress)
    fit_time = time.perf_counter() - start

    summ = fit.summary(DEFAULT_PROB)
    names = law.param_names
    labels = fit.families + (["population"] if len(fit.families) > 1 else [])
    table = pd.DataFrame(
        {lab: [fmt_interval(*summ.loc[f"{n}[{lab}]", ["median", "lower", "upper"]]) for n in names]
         for lab in labels}, index=names)
    echo("posterior medians [90% intervals] per corpus ('population' = a new corpus):")
    echo(table.to_string() + "\n")
    worst = summ[["r_hat", "ess_bulk"]].agg({"r_hat": "max", "ess_bulk": "min"})
    echo(f"convergence: max R-hat {worst['r_hat']:.3f}, min bulk ESS {worst['ess_bulk']:.0f}, "
         f"divergences {fit.diagnostics()['divergences']}\n")

    with warnings.catch_warnings():  # the factor is printed in the table instead
        warnings.simplefilter("ignore", ExtrapolationWarning)
        pred = fit.predict(held).summary(DEFAULT_PROB)
    disc = fit.discrepancy.summary()
    fc = pd.DataFrame({
        "family": pred["family"], "params": pred["params"].map(lambda v: f"{v / 1e9:.1f}B"),
        "tokens": pred["tokens"].map(lambda v: f"{v / 1e9:.0f}B"),
        "true loss": pred["loss"].round(3),
        "forecast [90%]": [fmt_interval(m, lo, hi) for m, lo, hi in
                           pred[["loss_median", "loss_lower", "loss_upper"]].to_numpy()],
        "error %": (100 * (pred["loss_median"] / pred["loss"] - 1)).round(2),
        "inside": (pred["loss"] >= pred["loss_lower"]) & (pred["loss"] <= pred["loss_upper"]),
        "beyond data": pred["extrapolation"].map(lambda v: f"{v:.1f}x"),
    })
    whence = (f"learned from {disc['folds']} backtests" if disc["folds"] else
              "the population learned from the calibration corpus, scaled by the fit's noise")
    echo("forecasts of the held-out runs (posterior predictive with the extrapolation discrepancy, "
         f"tau {disc['median']:.3f} per width of the fitted range beyond the data, {whence}):")
    echo(fc.to_string(index=False))
    abs_err = np.abs(pred["loss_median"] / pred["loss"] - 1)
    echo(f"median |relative error| {100 * np.median(abs_err):.2f}%, "
         f"{int(fc['inside'].sum())}/{len(fc)} true losses inside the 90% intervals\n")

    opt = fit.optimal(BUDGET).table(DEFAULT_PROB)
    ot = pd.DataFrame({
        "N* (params)": [fmt_interval(*r) for r in opt[["N_opt_median", "N_opt_lower", "N_opt_upper"]].to_numpy()],
        "D* (tokens)": [fmt_interval(*r) for r in opt[["D_opt_median", "D_opt_lower", "D_opt_upper"]].to_numpy()],
        "D*/N*": [fmt_interval(*r) for r in opt[["tokens_per_param_median", "tokens_per_param_lower", "tokens_per_param_upper"]].to_numpy()],
        "loss": [fmt_interval(*r) for r in opt[["loss_opt_median", "loss_opt_lower", "loss_opt_upper"]].to_numpy()],
    }, index=opt.index)
    echo(f"compute-optimal allocation at C = {BUDGET:.0e} FLOPs (C = 6ND), median [90%]:")
    echo(ot.to_string() + "\n")

    from .plots import plot_fit

    fig_path = os.path.join(out, "demo_fit.png")
    plot_fit(fit, fig_path, holdout=held)
    fit_path = os.path.join(out, "demo_fit.nc")
    fit.save(fit_path)
    pred_path = os.path.join(out, "demo_forecasts.csv")
    from .files import atomic_write

    atomic_write(pred_path, lambda tmp: pred.to_csv(tmp, index=False))
    total = time.perf_counter() - start
    echo(f"wrote {fig_path}, {fit_path}, {pred_path}")
    echo(f"fit {fit_time:.1f} s, total {total:.1f} s")
    return {"fit": fit, "summary": summ, "forecasts": pred, "optimal": opt, "figure": fig_path,
            "fit_path": fit_path, "seconds": total}
