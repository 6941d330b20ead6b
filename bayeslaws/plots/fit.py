"""The fitted law per family with its credible bands, data on top, held-out runs beside."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import (
    HELD_OUT_COLOR,
    LABELS,
    _axis_kind,
    _band_handles,
    _bands,
    _finish,
    _format_axis,
    _frames,
    _groups,
    _held_out_handle,
    _legend_below,
    _panels,
    _plt,
    _predict,
    _save,
    _target_label,
)
from .mixture import plot_mixture


# --------------------------------------------------------------------------- fitted curves
def plot_fit(fit, path=None, *, holdout: pd.DataFrame | None = None, n_grid: int = 60):
    """Plot the fitted law per family with credible bands, training data and held-out runs.

    For laws of ``params`` and ``tokens`` the x axis is parameters and one curve is drawn per
    tokens-per-parameter group (binned when the ratios are continuous); for one-input laws the x
    axis is that input.

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
    path : str, optional
        Write a PNG there.
    holdout : pandas.DataFrame, optional
        Held-out runs, drawn as hollow red markers and included in the x range.
    n_grid : int
        Points along each curve.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if getattr(fit.law, "name", "") == "mixture" and holdout is None:
        return plot_mixture(fit, path)  # proportions, no size axis: loss along each share
    plt = _plt()
    law, target = fit.law, fit.law.target
    train, held, fam_col = _frames(fit, holdout)
    two_inputs = {"params", "tokens"} <= set(law.inputs)
    xcol = "params" if two_inputs else _x_input(law, train, fam_col)
    # other inputs of a multi-input law (not params/tokens): held at each family's median
    others = [c for c in law.inputs if c != xcol and not (two_inputs and c == "tokens")]
    fig, axes = _panels(len(fit.families))
    frames = [train] + ([held] if held is not None else [])
    allx = pd.concat([f[xcol] for f in frames])
    grid = np.geomspace(allx.min() / 1.5, allx.max() * 1.5, n_grid)
    if two_inputs:
        ratio_all = pd.concat([f["tokens"] / f["params"] for f in frames]).to_numpy()
        group_of, group_values = _groups(ratio_all)
    else:
        group_of, group_values = None, [None]
    cmap = plt.get_cmap("viridis")
    colors = {g: cmap(0.9 * i / max(len(group_values) - 1, 1)) for i, g in enumerate(group_values)}
    for ax, fam in zip(axes, fit.families):
        for g in group_values:
            rows = {xcol: grid, fam_col: fam}
            if two_inputs:
                rows["tokens"] = grid * g
            mine = train[train[fam_col].astype(str) == fam]
            for col in others:
                rows[col] = float(np.exp(np.log(mine[col]).median()))
            curve = _predict(fit, pd.DataFrame(rows)).law
            _bands(ax, grid, curve, colors[g], label=None if g is None else f"{g:g} tokens/param")
            offset = 0
            for frame, held_out in ((train, False), (held, True)):
                if frame is None:
                    continue
                sel = (frame[fam_col].astype(str) == fam).to_numpy().copy()
                if two_inputs:
                    sel &= group_of[offset:offset + len(frame)] == g
                offset += len(frame)
                if sel.any():
                    ax.scatter(frame[xcol][sel], frame[target][sel], s=34 if held_out else 14,
                               facecolors="none" if held_out else colors[g],
                               edgecolors=HELD_OUT_COLOR if held_out else "k",
                               linewidths=1.3 if held_out else 0.4, zorder=3)
        ax.set_xscale("log")
        if law.positive_target:
            ax.set_yscale("log")
        _format_axis(ax.xaxis, _axis_kind(xcol, grid))
        if law.positive_target:
            _format_axis(ax.yaxis, _axis_kind(target, train[target]))
        ax.set_title(fam, fontsize=10.5)
        ax.set_xlabel(LABELS.get(xcol, xcol))
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel(_target_label(law))
    handles, labels = axes[0].get_legend_handles_labels()
    if held is not None:
        handles.append(_held_out_handle())
        labels.append("held out")
    bh, bl_ = _band_handles()
    rows = _legend_below(fig, handles + bh, labels + bl_, ncol=5)
    held_at = f";\n{', '.join(others)} at each family's median" if others else ""
    _finish(fig, f"{law.name}: {law.formula_text}   (median, 50% and 90% credible bands"
            f"{held_at})", legend_rows=rows)
    _save(fig, path, fit)
    return fig



def _x_input(law, train: pd.DataFrame, fam_col: str) -> str:
    """The x axis of a fit plot: the law's input that varies most within families."""
    if len(law.inputs) == 1:
        return law.inputs[0]
    return max(law.inputs, key=lambda c: train.groupby(fam_col)[c].nunique().mean())
