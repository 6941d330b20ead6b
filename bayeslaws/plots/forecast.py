"""A forecast fan: the law extended past the data to a target compute."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import BayeslawsError
from .base import (
    HELD_OUT_COLOR,
    LABELS,
    _axis_kind,
    _band_handles,
    _bands,
    _format_axis,
    _frames,
    _held_out_handle,
    _plt,
    _predict,
    _quantiles,
    _save,
    _target_label,
    flops_label,
    human,
)


# --------------------------------------------------------------------------- forecast fan
def _forecast_rows(law, x: np.ndarray, tokens_per_param: float) -> dict:
    """Law inputs along the forecast path at compute (or one-input) values ``x``."""
    if {"params", "tokens"} <= set(law.inputs):
        params = np.sqrt(x / (6.0 * tokens_per_param))
        return {"params": params, "tokens": params * tokens_per_param, "flops": x}
    return {law.inputs[0]: x}


def plot_forecast(fit, target=None, path=None, *, tokens_per_param: float = 20.0,
                  holdout: pd.DataFrame | None = None, families=None, n_grid: int = 50):
    """A forecast fan: the law extended past the data to a target compute, with bands.

    For laws of ``params`` and ``tokens`` the x axis is compute C = 6ND and the forecast follows
    models trained at ``tokens_per_param`` (20 is Chinchilla's rule). The bands are those of the
    posterior predictive (a new run's loss, noise included), so they widen honestly past the data;
    the shaded region is extrapolation.

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
    target : float, optional
        Where the fan ends (FLOPs, or the law's one input); default 1000 times the largest run.
    path : str, optional
        Write a PNG there.
    tokens_per_param : float
        D/N of the forecast path.
    holdout : pandas.DataFrame, optional
        Held-out runs drawn as hollow red markers.
    families : list of str, optional
        Families to draw (default: all fitted; ``"population"`` is a new family).
    n_grid : int
        Points along the fan.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    law = fit.law
    train, held, fam_col = _frames(fit, holdout)
    xcol = "flops" if {"params", "tokens"} <= set(law.inputs) else law.inputs[0]
    xmax_data = train[xcol].max()
    target = float(target) if target is not None else 1000.0 * xmax_data
    if not (np.isfinite(target) and target > 0):
        raise BayeslawsError(f"the forecast target must be a positive number, not {target!r}")
    families = list(families) if families is not None else list(fit.families)
    lo = train[xcol].min() / 2
    grid = np.geomspace(lo, max(target, xmax_data) * 1.3, n_grid)
    fig, ax = plt.subplots(figsize=(8.2, 5.4))
    colors = plt.get_cmap("tab10")
    lines = []
    for i, fam in enumerate(families):
        rows = pd.DataFrame({**_forecast_rows(law, grid, tokens_per_param), fam_col: fam})
        pred = _predict(fit, rows).predictive
        color = "0.35" if fam == "population" else colors(i % 10)
        _bands(ax, grid, pred, color, label=fam, ls="--" if fam == "population" else "-")
        end = _predict(fit, pd.DataFrame({**_forecast_rows(law, np.array([target]), tokens_per_param),
                                        fam_col: fam})).predictive
        q = _quantiles(end, (0.9,))
        lines.append(f"{fam}: {q['median'][0]:.3g} [{q[0.9][0][0]:.3g}, {q[0.9][1][0]:.3g}]")
        sel = train[fam_col].astype(str) == fam
        ax.scatter(train[xcol][sel], train[law.target][sel], s=10, color=color, alpha=0.55,
                   edgecolors="none", zorder=3)
        if held is not None:
            hs = held[fam_col].astype(str) == fam
            ax.scatter(held[xcol][hs], held[law.target][hs], s=40, facecolors="none",
                       edgecolors=HELD_OUT_COLOR, linewidths=1.4, zorder=4)
    ax.axvspan(xmax_data, grid[-1], color="0.9", zorder=0)
    ax.axvline(xmax_data, color="0.5", lw=0.8, ls=":")
    ax.axvline(target, color="k", lw=0.8, ls="--")
    ax.text(xmax_data * 1.15, 0.97, "extrapolation", transform=ax.get_xaxis_transform(),
            va="top", fontsize=9, color="0.35")
    ax.set_xscale("log")
    if law.positive_target:
        ax.set_yscale("log")
    _format_axis(ax.xaxis, _axis_kind(xcol))
    _format_axis(ax.yaxis, "value")
    ax.set_xlabel(LABELS.get(xcol, xcol) + (f", models at {tokens_per_param:g} tokens/param"
                                            if xcol == "flops" else ""))
    ax.set_ylabel(_target_label(law))
    ax.grid(True, which="major", alpha=0.3)
    at = flops_label(target) if xcol == "flops" else human(target)
    ax.text(0.02, 0.03, f"{law.target} at {at} (median [90%]):\n" + "\n".join(lines),
            transform=ax.transAxes, fontsize=8.5, va="bottom",
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.8", "alpha": 0.9})
    handles, labels = ax.get_legend_handles_labels()
    if held is not None:
        handles.append(_held_out_handle())
        labels.append("held out")
    bh, bl_ = _band_handles()
    ax.legend(handles + bh, labels + bl_, fontsize=8.5, loc="upper right", frameon=True)
    ax.set_title(f"{law.name}: forecast to {at} (posterior predictive)", fontsize=11)
    fig.tight_layout()
    _save(fig, path, fit)
    return fig
