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
    _quantiles,
    _save,
    _target_label,
    flops_label,
    human,
)


# --------------------------------------------------------------------------- forecast fan
def _forecast_rows(law, x: np.ndarray, tokens_per_param: float) -> dict:
    """Law inputs along a fixed-ratio forecast path at compute (or one-input) values ``x``."""
    if {"params", "tokens"} <= set(law.inputs):
        params = np.sqrt(x / (6.0 * tokens_per_param))
        return {"params": params, "tokens": params * tokens_per_param, "flops": x}
    return {law.inputs[0]: x}


def default_target(fit) -> float:
    """The forecast target of the figure and the report when none is given: a round number
    100 to 1000 times the largest fitted run (compute, or the law's one input)."""
    law = fit.law
    xcol = "flops" if {"params", "tokens"} <= set(law.inputs) else law.inputs[0]
    data = fit.data
    top = (6.0 * data["params"] * data["tokens"]).max() if xcol == "flops" and "flops" not in data \
        else data[xcol].max()
    return float(10 ** np.ceil(np.log10(float(top) * 100)))


def forecast_path(fit, xs: np.ndarray, family: str, tokens_per_param: float | None = None):
    """A forecast at compute values ``xs`` for ``family``, along the fitted compute-optimal
    frontier (each posterior draw at its own N*, D*: :func:`bayeslaws.optimal.optimal`) or, with
    ``tokens_per_param``, along models of that fixed D/N.

    Returns
    -------
    rows : pandas.DataFrame
        ``params`` and ``tokens`` (posterior medians on the frontier), ``flops`` and the family.
    prediction : bayeslaws.predict.Prediction
    path : str
        In words: ``"on the fitted compute-optimal frontier"`` or ``"at 20 tokens/param"``.
        Laws without params and tokens, or without a compute optimum, take a fixed ratio (20 when
        none is given).
    """
    import warnings

    from ..errors import ExtrapolationWarning
    from ..optimal import frontier_inputs

    law = fit.law
    fam_col = fit.config["family_column"]
    xs = np.asarray(xs, dtype=float)
    two = {"params", "tokens"} <= set(law.inputs)
    draws = None
    if two and tokens_per_param is None:
        try:
            draws = frontier_inputs(fit, xs, family)
        except BayeslawsError:  # e.g. a law with more inputs than N and D: a fixed ratio
            draws = None
        if draws is not None:
            rows = pd.DataFrame({"params": np.median(draws["params"], axis=(0, 1)),
                                 "tokens": np.median(draws["tokens"], axis=(0, 1)), "flops": xs})
    if draws is None:
        ratio = 20.0 if tokens_per_param is None else float(tokens_per_param)
        rows = pd.DataFrame(_forecast_rows(law, xs, ratio))
        path = f"at {ratio:g} tokens/param" if two else ""
    else:
        path = "on the fitted compute-optimal frontier"
    rows[fam_col] = family
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)  # the caller shows how far out
        pred = fit.predict(rows, input_draws=draws)
    return rows, pred, path


def plot_forecast(fit, target=None, path=None, *, tokens_per_param: float | None = None,
                  holdout: pd.DataFrame | None = None, families=None, n_grid: int = 50):
    """A forecast fan: the law extended past the data to a target compute, with bands.

    For laws of ``params`` and ``tokens`` the x axis is compute C = 6ND and the forecast follows
    the fitted compute-optimal frontier: at each C every posterior draw is evaluated at its own
    N*(C), D*(C), so the fan holds the uncertainty of the allocation as well as of the loss
    (:func:`forecast_path`); ``tokens_per_param`` follows models of that fixed D/N instead (20 is
    Chinchilla's rule). The bands are those of the posterior predictive (a new run's loss, noise
    and the extrapolation discrepancy included), so they widen honestly past the data; the shaded
    region is extrapolation.

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
    target : float, optional
        Where the fan ends (FLOPs, or the law's one input); default :func:`default_target`, the
        report's target too.
    path : str, optional
        Write a PNG there.
    tokens_per_param : float, optional
        D/N of the forecast path; default: the fitted compute-optimal frontier.
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
    target = float(target) if target is not None else default_target(fit)
    if not (np.isfinite(target) and target > 0):
        raise BayeslawsError(f"the forecast target must be a positive number, not {target!r}")
    families = list(families) if families is not None else list(fit.families)
    lo = train[xcol].min() / 2
    grid = np.geomspace(lo, max(target, xmax_data) * 1.3, n_grid)
    fig, ax = plt.subplots(figsize=(8.2, 5.4))
    colors = plt.get_cmap("tab10")
    lines = []
    how = ""
    for i, fam in enumerate(families):
        _, pred, how = forecast_path(fit, np.append(grid, target), fam, tokens_per_param)
        pred, end = pred.predictive.isel(row=slice(0, -1)), pred.predictive.isel(row=[-1])
        color = "0.35" if fam == "population" else colors(i % 10)
        _bands(ax, grid, pred, color, label=fam, ls="--" if fam == "population" else "-")
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
    ax.set_xlabel(LABELS.get(xcol, xcol) + (f", models {how}" if xcol == "flops" and how else ""))
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
