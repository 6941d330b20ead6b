"""Forecast calibration (nominal against observed coverage) and the comparison of law forms."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import BayeslawsError
from .base import (
    _finish,
    _panels,
    _plt,
    _save,
)


# --------------------------------------------------------------------------- calibration
def plot_calibration(table: pd.DataFrame, path=None, *, title: str | None = None):
    """Nominal vs observed coverage of held-out points, one line per method, diagonal reference.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``method``, ``nominal`` and ``observed`` (fractions in [0, 1]); optional
        ``dataset`` (one panel each).
    path : str, optional
        Write a PNG there.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    BayeslawsError
        When a column is missing or a coverage lies outside [0, 1].
    """
    plt = _plt()
    missing = [c for c in ("method", "nominal", "observed") if c not in table]
    if missing:
        raise BayeslawsError(f"calibration table lacks column(s) {missing}; it needs method, "
                             "nominal and observed (and optionally dataset)")
    for col in ("nominal", "observed"):
        v = pd.to_numeric(table[col], errors="coerce")
        if v.isna().any() or (v < 0).any() or (v > 1).any():
            raise BayeslawsError(f"column {col!r} must hold coverages as fractions in [0, 1]")
    datasets = list(dict.fromkeys(table["dataset"])) if "dataset" in table else [None]
    methods = list(dict.fromkeys(table["method"]))
    fig, axes = _panels(len(datasets), width=4.4, height=4.3)
    colors = plt.get_cmap("tab10")
    markers = "osD^vP*X"
    for ax, ds in zip(axes, datasets):
        sub = table if ds is None else table[table["dataset"] == ds]
        ax.plot([0, 1], [0, 1], color="0.5", lw=1, ls="--", label="perfect calibration")
        for i, m in enumerate(methods):
            rows = sub[sub["method"] == m].sort_values("nominal")
            if len(rows):
                ax.plot(rows["nominal"], rows["observed"], marker=markers[i % len(markers)],
                        color=colors(i % 10), lw=1.5, ms=5, label=m)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_aspect("equal")
        ax.set_xlabel("nominal coverage of the interval")
        if ds is not None:
            ax.set_title(str(ds), fontsize=10.5)
        ax.grid(True, alpha=0.3)
        from matplotlib.ticker import PercentFormatter

        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes[0].set_ylabel("observed coverage of held-out points")
    axes[0].legend(fontsize=8.5, loc="upper left")  # above the diagonal is empty in practice
    _finish(fig, title or "Calibration on held-out points (below the diagonal: overconfident)")
    _save(fig, path)
    return fig


# --------------------------------------------------------------------------- comparison
def plot_compare(table: pd.DataFrame, path=None, *, scores=None):
    """Compare law forms: elpd with its standard error, and any extrapolation scores.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`bayeslaws.compare` table (columns ``elpd``, ``se``, ``elpd_diff``, ``dse``,
        ``weight``; more columns from ``extrapolation=``).
    path : str, optional
        Write a PNG there.
    scores : list of str, optional
        Extra numeric columns to draw, one panel each; an error bar is drawn from a column named
        ``<score>_se`` when present. Default: every numeric column beyond the LOO ones.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..compare import LOO_COLUMNS

    plt = _plt()
    missing = [c for c in ("elpd", "se", "elpd_diff", "dse", "weight") if c not in table]
    if missing:
        raise BayeslawsError(f"not a compare table: column(s) {missing} missing")
    if scores is None:
        scores = [c for c in table.columns if c not in LOO_COLUMNS and not c.endswith("_se")
                  and pd.api.types.is_numeric_dtype(table[c])]
    names = list(table.index)
    y = np.arange(len(names))[::-1]
    fig, axes = plt.subplots(1, 1 + len(scores), figsize=(6.2 + 3.3 * len(scores), 1.2 + 0.6 * len(names)),
                             squeeze=False, sharey=True)
    ax = axes[0][0]
    ax.errorbar(table["elpd"], y, xerr=table["se"], fmt="o", color="k", capsize=3,
                label="elpd ± se")
    ref = table["elpd"].iloc[0]
    ax.errorbar(ref + table["elpd_diff"].iloc[1:], y[1:] - 0.18, xerr=table["dse"].iloc[1:],
                fmt="^", color="0.5", mfc="white", capsize=3, label="difference to best ± se")
    ax.axvline(ref, color="0.6", lw=0.8, ls="--")
    ax.set_yticks(y, [f"{n}\nweight {w:.2f}" for n, w in zip(names, table["weight"])])
    ax.set_xlabel("elpd (cross-validated log score; higher is better)")
    ax.legend(fontsize=8, loc="best")
    ax.grid(True, axis="x", alpha=0.3)
    for axx, col in zip(axes[0][1:], scores):
        err = table[f"{col}_se"] if f"{col}_se" in table else None
        axx.errorbar(table[col], y, xerr=err, fmt="o", color="tab:blue", capsize=3)
        axx.set_xlabel(col)
        axx.grid(True, axis="x", alpha=0.3)
    ax.set_ylim(-0.7, len(names) - 0.3)
    fig.suptitle("Comparison of law forms", fontsize=11)
    fig.tight_layout()
    _save(fig, path)
    return fig
