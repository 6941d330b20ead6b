"""What every figure shares: style, log axes labelled 10M / 1B / 1e21, credible bands, saving.

Bands are equal-tailed posterior intervals: 90% (light) and 50% (dark) around the median;
figures are written as PNG atomically (:func:`bayeslaws.files.atomic_write`).
"""

from __future__ import annotations

import numpy as np

from ..files import atomic_write
from ..intervals import flatten

BAND_PROBS = (0.9, 0.5)
#: Opacity of the 90% and 50% bands.
BAND_ALPHA = (0.16, 0.32)
#: Axis labels of the raw columns.
LABELS = {"params": "parameters N", "tokens": "training tokens D",
          "flops": "training compute C (FLOPs)", "loss": "loss (nats/token)"}
HELD_OUT_COLOR = "crimson"


def _predict(fit, rows):
    """``fit.predict(rows)`` without ExtrapolationWarnings: a figure shows how far out it goes."""
    import warnings

    from ..errors import ExtrapolationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        return fit.predict(rows)


def human(x: float, _pos=None) -> str:
    """Format a count as 10M, 1.4B, 2T (and larger values as 3e+15)."""
    if abs(x) >= 1e15:
        return f"{x:.0e}".replace("e+", "e")
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= scale:
            v = x / scale
            return f"{v:.0f}{unit}" if v >= 10 or v == int(v) else f"{v:.1f}{unit}"
    return f"{x:g}"


def flops_label(x: float, _pos=None) -> str:
    """Format a FLOP count as 1e21."""
    if x <= 0:
        return ""
    # round the mantissa first, so 9.7e22 reads 1e23 (not 10e22)
    mant, exp = f"{x:.0e}".split("e")
    return f"{mant}e{int(exp)}"


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _format_axis(axis, kind: str) -> None:
    """Log-scaled axis with human tick labels: ``count``, ``flops`` or ``value``."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if kind == "count":
        axis.set_major_formatter(FuncFormatter(human))
        axis.set_minor_formatter(NullFormatter())
    elif kind == "flops":
        axis.set_major_locator(LogLocator(base=10, numticks=12))
        axis.set_major_formatter(FuncFormatter(flops_label))
        axis.set_minor_formatter(NullFormatter())
    else:  # a loss-like value on a log axis that spans less than a decade or two
        axis.set_minor_locator(LogLocator(base=10, subs=(1.2, 1.4, 1.6, 1.8, 2, 2.5, 3, 3.5, 4, 5,
                                                         6, 7, 8, 9)))
        axis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.3g}"))
        axis.set_minor_formatter(FuncFormatter(lambda v, _p: f"{v:.2g}"))


def _axis_kind(column: str, values=None) -> str:
    """``flops``, ``count`` (sizes, or any column spanning more than 1.5 decades) or ``value``."""
    if column == "flops":
        return "flops"
    if column in ("params", "tokens"):
        return "count"
    if values is not None and np.ptp(np.log10(np.asarray(values, dtype=float))) > 1.5:
        return "count"  # decade ticks, no crowded minor labels (e.g. a user law's mass input)
    return "value"


def _target_label(law) -> str:
    return LABELS.get(law.target, law.target)


def _save(fig, path, fit=None) -> None:
    """Label the figure of a quick fit approximate (:func:`_mark_approximate`); write a PNG."""
    if fit is not None:
        _mark_approximate(fig, fit)
    if path is not None:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=130, format="png"))


def _mark_approximate(fig, fit) -> None:
    """Prefix the title of a quick (Laplace) fit's figure (its suptitle, else its first panel's)
    with "[approximate]" and write the label in its bottom-right corner
    (:func:`bayeslaws.fit.approximate_note`). Figures of NUTS fits are left alone."""
    from ..fit import approximate_note

    if approximate_note(fit) is None or getattr(fig, "_bayeslaws_approx", False):
        return
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    if title:  # a slightly smaller font keeps the longer title on the figure
        fig.suptitle(f"[approximate] {title}", fontsize=10, color="firebrick")
    elif fig.axes and fig.axes[0].get_title():  # one-panel figures title their axes
        ax = fig.axes[0]
        ax.set_title(f"[approximate] {ax.get_title()}", color="firebrick")
    fig.text(0.995, 0.005, "approximate (Laplace) fit, not NUTS", ha="right", va="bottom",
             fontsize=8, color="firebrick")
    fig._bayeslaws_approx = True


def _quantiles(draws, probs=BAND_PROBS) -> dict:
    """Median and band bounds of draws with dims ``(chain, draw, ...)`` over chain and draw."""
    flat = flatten(draws) if hasattr(draws, "dims") else np.asarray(draws).reshape(-1, *np.shape(draws)[2:])
    qs = {"median": np.quantile(flat, 0.5, axis=0)}
    for p in probs:
        qs[p] = (np.quantile(flat, (1 - p) / 2, axis=0), np.quantile(flat, (1 + p) / 2, axis=0))
    return qs


def _bands(ax, x, draws, color, label=None, lw=1.4, ls="-", probs=BAND_PROBS) -> dict:
    """Median line and 90%/50% bands of ``draws`` along ``x``; returns the quantiles."""
    qs = _quantiles(draws, probs)
    for p, alpha in zip(probs, BAND_ALPHA):
        ax.fill_between(x, qs[p][0], qs[p][1], color=color, alpha=alpha, lw=0)
    ax.plot(x, qs["median"], color=color, lw=lw, ls=ls, label=label)
    return qs


def _panels(n: int, width: float = 5.0, height: float = 4.2, sharey=True):
    plt = _plt()
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(width * ncols, 8.0), height * nrows + 0.9),
                             squeeze=False, sharey=sharey)
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _finish(fig, title: str, *, legend_rows: int = 0) -> None:
    """Suptitle and a tight layout that leaves room for a legend below the panels."""
    height = fig.get_figheight()
    fig.suptitle(title, fontsize=11)
    bottom = 0.0 if not legend_rows else min((0.12 + 0.2 * legend_rows) / height, 0.4)
    fig.tight_layout(rect=(0, bottom, 1, 1 - 0.35 / height))


def _legend_below(fig, handles, labels, ncol: int) -> int:
    """A legend under the panels; returns its number of rows."""
    if not handles:
        return 0
    ncol = max(1, min(ncol, len(handles), int(fig.get_figwidth() / 2.1)))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8.5, frameon=False,
               bbox_to_anchor=(0.5, 0.01))
    return int(np.ceil(len(handles) / ncol))


def _band_handles(color="0.4"):
    from matplotlib.patches import Patch

    return ([Patch(color=color, alpha=BAND_ALPHA[0] + 0.05), Patch(color=color, alpha=BAND_ALPHA[1] + 0.1)],
            ["90% credible band", "50% credible band"])


def _frames(fit, holdout):
    fam_col = fit.config["family_column"]
    train = fit.data.copy()
    if fam_col not in train:
        train[fam_col] = fit.families[0]
    held = holdout.copy().reset_index(drop=True) if holdout is not None and len(holdout) else None
    if held is not None and fam_col not in held:
        held[fam_col] = fit.families[0]
    for frame in (train, held):
        if frame is not None and "flops" not in frame and {"params", "tokens"} <= set(frame):
            frame["flops"] = 6.0 * frame["params"] * frame["tokens"]
    return train, held, fam_col


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


def _held_out_handle():
    from matplotlib.lines import Line2D

    return Line2D([], [], marker="o", ls="", mfc="none", mec=HELD_OUT_COLOR, mew=1.3,
                  label="held out")
