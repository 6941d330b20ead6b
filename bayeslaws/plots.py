"""Figures of fitted laws: curves with 50% and 90% credible bands per family, data on top.

Log axes as in the papers; sizes shown as 10M / 1B rather than 1e9.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .intervals import equal_tailed

#: Bands drawn around each curve (credible bands of the law curve).
BAND_PROBS = (0.9, 0.5)


def human(x: float, _pos=None) -> str:
    """Format a count as 10M, 1.4B, 2T."""
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= scale:
            v = x / scale
            return f"{v:.0f}{unit}" if v >= 10 or v == int(v) else f"{v:.1f}{unit}"
    return f"{x:g}"


def _groups(ratio: np.ndarray, max_groups: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by tokens per parameter: exact values when few, else quantile bins."""
    rounded = np.round(ratio, 1)
    values = np.unique(rounded)
    if len(values) <= max_groups:
        return rounded, values
    edges = np.quantile(np.log(ratio), np.linspace(0, 1, 6))
    bins = np.clip(np.searchsorted(edges, np.log(ratio), side="right") - 1, 0, 4)
    centres = np.array([np.exp(np.log(ratio[bins == b]).mean()) for b in range(5)])
    return np.round(centres[bins], 1), np.round(centres, 1)


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
        Held-out runs, drawn as hollow markers and included in the x range.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    law, target = fit.law, fit.law.target
    fam_col = fit.config["family_column"]
    train = fit.data.copy()
    if fam_col not in train:
        train[fam_col] = fit.families[0]
    held = holdout.copy() if holdout is not None and len(holdout) else None
    if held is not None and fam_col not in held:
        held[fam_col] = fit.families[0]
    two_inputs = {"params", "tokens"} <= set(law.inputs)
    xcol = "params" if two_inputs else law.inputs[0]
    n = len(fit.families)
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.3 * nrows), squeeze=False,
                             sharey=True)
    allx = pd.concat([train[xcol]] + ([held[xcol]] if held is not None else []))
    grid = np.geomspace(allx.min() / 1.5, allx.max() * 1.5, n_grid)
    ratio_all = (pd.concat([train["tokens"]] + ([held["tokens"]] if held is not None else []))
                 / allx).to_numpy() if two_inputs else None
    group_of, group_values = _groups(ratio_all) if two_inputs else (None, [None])
    cmap = plt.get_cmap("viridis")
    colors = {g: cmap(i / max(len(group_values) - 1, 1)) for i, g in enumerate(group_values)}
    n_train = len(train)
    for k, fam in enumerate(fit.families):
        ax = axes[k // ncols][k % ncols]
        for g in group_values:
            rows = {xcol: grid, fam_col: fam}
            if two_inputs:
                rows["tokens"] = grid * g
            pred = fit.predict(pd.DataFrame(rows))
            curve = pred.law
            for prob, alpha in zip(BAND_PROBS, (0.18, 0.35)):
                lo, hi = equal_tailed(curve, prob)
                ax.fill_between(grid, lo.values, hi.values, color=colors[g], alpha=alpha, lw=0)
            ax.plot(grid, curve.median(("chain", "draw")).values, color=colors[g], lw=1.3,
                    label=None if g is None else f"{g:g} tok/param")
            for frame, offset, held_out in ((train, 0, False), (held, n_train, True)):
                if frame is None:
                    continue
                sel = (frame[fam_col].astype(str) == fam).to_numpy().copy()
                if two_inputs:
                    sel &= group_of[offset:offset + len(frame)] == g
                if sel.any():
                    ax.scatter(frame[xcol][sel], frame[target][sel], s=28 if held_out else 14,
                               facecolors="none" if held_out else colors[g],
                               edgecolors="crimson" if held_out else "k", linewidths=1.2 if held_out else 0.4,
                               zorder=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(human))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.3g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _p: f"{v:.2g}"))
        ax.set_title(f"{fam}", fontsize=11)
        ax.set_xlabel({"params": "parameters N", "tokens": "training tokens D",
                       "flops": "training FLOPs C"}.get(xcol, xcol))
        ax.grid(True, which="major", alpha=0.3)
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    axes[0][0].set_ylabel(f"{target} (nats/token)" if target == "loss" else target)
    handles, labels = axes[0][0].get_legend_handles_labels()
    from matplotlib.lines import Line2D

    if held is not None:
        handles.append(Line2D([], [], marker="o", ls="", mfc="none", mec="crimson", label="held out"))
        labels.append("held out")
    if handles:
        fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    fig.suptitle(f"{law.name}: {law.formula_text}  (median, 50% and 90% credible bands)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 0.86 if handles else 1, 0.95))
    if path is not None:
        from .io import atomic_write

        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=130, format="png"))
    return fig
