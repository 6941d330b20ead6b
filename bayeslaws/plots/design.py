"""Planning the next runs: candidates on the (N, D) plane by value per FLOP, the proposed set."""

from __future__ import annotations

import numpy as np

from ..design import design as make_design
from ..errors import BayeslawsError
from .base import LABELS, _format_axis, _frames, _plt, _save, flops_label


def plot_design(fit, path=None, *, target=None, budget=None, design=None, candidates=None,
                quantity: str = "loss", family: str | None = None, seed: int = 0):
    """Candidate runs on the (N, D) plane coloured by value per FLOP, with the proposed set.

    Each candidate of :func:`bayeslaws.design.design` is a dot at (params, tokens), log axes,
    coloured by its expected variance reduction of the forecast per FLOP (log colour scale);
    the fit's runs are black crosses, the proposed runs are ringed in red and numbered in the
    order the greedy chose them, and the target's IsoFLOP line (D = C / 6N) is drawn with the
    compute-optimal point the quantity is taken at (a star).

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
    path : str, optional
        Write a PNG there.
    target, budget : float
        Target compute and FLOP budget (required unless ``design`` is given).
    design : bayeslaws.design.Design, optional
        A design already computed; otherwise one is computed with the arguments below.
    candidates, quantity, family, seed
        As in :func:`bayeslaws.design.design`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.colors import LogNorm

    plt = _plt()
    if design is None:
        if target is None or budget is None:
            raise BayeslawsError("a design figure needs the target compute and the budget "
                                 "(--target-flops and --budget)")
        design = make_design(fit, target=target, budget=budget, candidates=candidates,
                             quantity=quantity, family=family, seed=seed)
    table = design.table()
    train, _, _ = _frames(fit, None)
    fig, ax = plt.subplots(figsize=(7.6, 5.8))
    value = table["value_per_flop"].to_numpy(float)
    pos = value > 0
    floor = value[pos].min() if pos.any() else 1e-30
    sc = ax.scatter(table["params"], table["tokens"], c=np.maximum(value, floor), s=36,
                    cmap="viridis", norm=LogNorm(vmin=floor, vmax=max(value.max(), floor * 10)),
                    edgecolors="none", zorder=2)
    fig.colorbar(sc, ax=ax, label="expected variance reduction per FLOP")
    ax.scatter(train["params"], train["tokens"], marker="x", color="k", s=26, lw=1.0,
               label="fitted runs", zorder=3)
    prop = design.proposal
    if len(prop):
        ax.scatter(prop["params"], prop["tokens"], s=150, facecolors="none",
                   edgecolors="crimson", linewidths=1.8, zorder=4,
                   label=f"proposed ({len(prop)} run{'s' if len(prop) != 1 else ''}, "
                         f"{flops_label(design.spent)} FLOPs)")
        for _, row in prop.iterrows():
            ax.annotate(str(int(row["order"])), (row["params"], row["tokens"]),
                        xytext=(6, 5), textcoords="offset points", color="crimson",
                        fontsize=9, zorder=5)
    n_t, d_t, c_t = design.target_point
    n_all = np.concatenate([table["params"], train["params"], [n_t]]).astype(float)
    grid = np.geomspace(n_all.min() / 2, n_all.max() * 2, 50)
    ax.plot(grid, c_t / (6 * grid), color="0.3", ls="--", lw=1.2,
            label=f"target C = {flops_label(c_t)} (IsoFLOP)")
    ax.plot(grid, design.budget / (6 * grid), color="0.6", ls=":", lw=1.2,
            label=f"budget {flops_label(design.budget)} (one run)")
    ax.plot([n_t], [d_t], marker="*", ms=14, color="gold", mec="k", ls="", zorder=5,
            label="target point")
    ax.set_xscale("log")
    ax.set_yscale("log")
    d_all = np.concatenate([table["tokens"], train["tokens"], [d_t]]).astype(float)
    ax.set_ylim(d_all.min() / 2, d_all.max() * 2)
    ax.set_xlim(grid[0], grid[-1])
    _format_axis(ax.xaxis, "count")
    _format_axis(ax.yaxis, "count")
    ax.set_xlabel(LABELS["params"])
    ax.set_ylabel(LABELS["tokens"])
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    what = {"loss": "loss", "n_opt": "N*", "d_opt": "D*"}[design.quantity]
    ax.set_title(f"Next runs for {what} at {flops_label(c_t)} FLOPs: 90% width "
                 f"{design.width90_now:.3g} -> {design.width90_now * design.sd_after / design.sd_now:.3g}"
                 " (log scale)", fontsize=10)
    fig.tight_layout()
    _save(fig, path, fit)
    return fig
