"""Compute-optimal allocation: loss along IsoFLOP budgets and the N*(C), D*(C) frontier."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import BayeslawsError
from ..intervals import flatten
from .base import (
    LABELS,
    _band_handles,
    _bands,
    _finish,
    _format_axis,
    _frames,
    _legend_below,
    _plt,
    _predict,
    _save,
    _target_label,
    flops_label,
)


# --------------------------------------------------------------------------- compute-optimal
def _require_allocation(fit) -> None:
    if not {"params", "tokens"} <= set(fit.law.inputs):
        raise BayeslawsError(f"law {fit.law.name!r} has inputs {', '.join(fit.law.inputs)}: "
                             "isoFLOP and frontier plots need a law of params and tokens")


def default_budgets(fit, n: int = 4) -> np.ndarray:
    """``n`` round FLOP budgets spread over the compute range of the fitted runs."""
    train, _, _ = _frames(fit, None)
    logc = np.log10(train["flops"].to_numpy(dtype=float))
    values, counts = np.unique(np.round(logc, 1), return_counts=True)
    common = values[counts >= 5]  # runs laid out on isoFLOP budgets (as Chinchilla's)
    if len(common) >= 2:
        pick = common[np.unique(np.round(np.linspace(0, len(common) - 1, n)).astype(int))]
        return np.array([10 ** np.median(logc[np.round(logc, 1) == v]) for v in pick])
    exps = np.unique(np.round(np.linspace(logc.min() + 0.3, logc.max() - 0.1, n) * 2) / 2)
    return 10.0 ** exps


def plot_isoflop(fit, budgets=None, path=None, *, family: str | None = None, n_grid: int = 60,
                 band: float = 0.1):
    """IsoFLOP profiles: the law along fixed budgets C = 6ND, with the posterior of the optimum.

    For each budget the loss is drawn against model size along the budget line (median and bands
    of the law curve); runs within ``band`` decades of the budget are drawn on top, and the
    posterior of the compute-optimal size N* is shown as its median (a diamond on the curve) and
    90% interval (a horizontal bar through it).

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
        A fit of a law of ``params`` and ``tokens``.
    budgets : sequence of float, optional
        FLOP budgets; default :func:`default_budgets`.
    path : str, optional
        Write a PNG there.
    family : str, optional
        The family (default: the first fitted one).
    n_grid : int
        Model sizes per profile.
    band : float
        Runs whose compute is within this many decades of a budget are drawn with it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    _require_allocation(fit)
    law = fit.law
    family = family or fit.families[0]
    budgets = np.sort(np.atleast_1d(np.asarray(budgets if budgets is not None
                                              else default_budgets(fit), dtype=float)))
    train, _, fam_col = _frames(fit, None)
    fam_rows = train[train[fam_col].astype(str) == family] if family in fit.families else train.iloc[:0]
    fig, ax = plt.subplots(figsize=(8.2, 5.4))
    cmap = plt.get_cmap("plasma")
    for i, c in enumerate(budgets):
        color = cmap(0.8 * i / max(len(budgets) - 1, 1))
        opt = fit.optimal(c, family=family).draws
        n_med = float(opt["N_opt"].median())
        grid = np.geomspace(n_med / 30, n_med * 30, n_grid)
        curve = _predict(fit, pd.DataFrame({"params": grid, "tokens": c / (6 * grid),
                                          fam_col: family})).law
        _bands(ax, grid, curve, color, label=f"C = {flops_label(c)}")
        near = np.abs(np.log10(fam_rows["flops"] / c)) < band
        ax.scatter(fam_rows["params"][near], fam_rows[law.target][near], s=14, color=color,
                   edgecolors="k", linewidths=0.3, zorder=3)
        lo, hi = np.quantile(flatten(opt["N_opt"].squeeze("family", drop=True)), [0.05, 0.95])
        l_med = float(opt["loss_opt"].median())
        ax.errorbar([n_med], [l_med], xerr=[[n_med - lo], [hi - n_med]], fmt="none", ecolor="k",
                    elinewidth=1.4, capsize=4, zorder=4)
        ax.plot([n_med], [l_med], marker="D", ms=6, color=color, mec="k", zorder=5)
    ax.set_xscale("log")
    if law.positive_target:
        ax.set_yscale("log")
    _format_axis(ax.xaxis, "count")
    _format_axis(ax.yaxis, "value")
    ax.set_xlabel(LABELS["params"] + "  (D = C / 6N along each profile)")
    ax.set_ylabel(_target_label(law))
    ax.grid(True, which="major", alpha=0.3)
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], marker="D", ls="", color="0.5", mec="k"),
                Line2D([], [], color="k", lw=1.4, marker="|", ms=8)]
    labels += ["optimum N* (median)", "N*: 90% interval"]
    ax.legend(handles, labels, fontsize=8.5, loc="upper right")
    ax.set_title(f"IsoFLOP profiles of {family}: {law.formula_text}", fontsize=11)
    fig.tight_layout()
    _save(fig, path, fit)
    return fig


def plot_frontier(fit, path=None, *, flops=None, families=None, published: bool = True,
                  n_grid: int = 24):
    """Compute-optimal frontier N*(C) and D*(C) with credible bands, published ones overlaid.

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
        A fit of a law of ``params`` and ``tokens``.
    path : str, optional
        Write a PNG there.
    flops : (float, float), optional
        Range of budgets; default from 1/10 of the smallest run's compute to 1e26 FLOPs.
    families : list of str, optional
        Families to draw (default: every fitted family, plus ``population`` when several).
    published : bool
        Overlay Hoffmann et al. 2022 (Eq. 10 and Table 3) and Kaplan et al. 2020 (Table 6).
    n_grid : int
        Budgets along the frontier.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .. import published as pub

    plt = _plt()
    _require_allocation(fit)
    train, _, _ = _frames(fit, None)
    lo, hi = flops if flops is not None else (train["flops"].min() / 10, 1e26)
    grid = np.geomspace(lo, hi, n_grid)
    if families is None:
        families = list(fit.families) + (["population"] if len(fit.families) > 1 else [])
    draws = [fit.optimal(c).draws for c in grid]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    colors = plt.get_cmap("tab10")
    for ax, q, name in zip(axes, ("N_opt", "D_opt"), ("N*", "D*")):
        for i, fam in enumerate(families):
            stack = np.stack([flatten(d[q].sel(family=fam)) for d in draws], axis=-1)
            color = "0.35" if fam == "population" else colors(i % 10)
            _bands(ax, grid, stack[None], color, label=f"{fam} (this fit)",
                   ls="--" if fam == "population" else "-")
        if published:
            h_n, h_d = pub.hoffmann_frontier(grid)
            k_n, k_d = pub.kaplan_frontier(grid)
            ax.plot(grid, h_n if q == "N_opt" else h_d, color="k", lw=1.1, ls="-.",
                    label="Hoffmann et al. 2022, Eq. 10")
            ax.plot(grid, k_n if q == "N_opt" else k_d, color="tab:red", lw=1.1, ls=":",
                    label="Kaplan et al. 2020, Table 6")
            t3 = np.array(pub.HOFFMANN_TABLE3)
            ok = (t3[:, 1] >= lo) & (t3[:, 1] <= hi)
            ax.scatter(t3[ok, 1], t3[ok, 0 if q == "N_opt" else 2], marker="s", s=22,
                       facecolors="none", edgecolors="k", zorder=4,
                       label="Hoffmann et al. 2022, Table 3")
        ax.axvspan(train["flops"].max(), hi, color="0.92", zorder=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _format_axis(ax.xaxis, "flops")
        _format_axis(ax.yaxis, "count")
        ax.set_xlabel(LABELS["flops"])
        ax.set_ylabel(f"compute-optimal {'parameters' if q == 'N_opt' else 'tokens'} {name}")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_title(f"{name}(C)", fontsize=10.5)
    handles, labels = axes[0].get_legend_handles_labels()
    bh, bl_ = _band_handles()
    rows = _legend_below(fig, handles + bh, labels + bl_, ncol=4)
    _finish(fig, f"Compute-optimal allocation under C = 6ND ({fit.law.name}); shaded: beyond "
                 "the largest fitted run", legend_rows=rows)
    _save(fig, path, fit)
    return fig
