"""Figures of fitted laws, forecasts, compute-optimal allocations, calibration and comparisons.

Every function draws with matplotlib (Agg when no display), returns the
:class:`matplotlib.figure.Figure`, and writes a PNG atomically when given ``path``. Sizes and
FLOPs use log axes as in the papers, labelled 10M / 1B / 1e21 rather than 1e+09. Bands are
equal-tailed posterior intervals: 90% (light) and 50% (dark) around the median.

========================  ===================================================================
:func:`plot_fit`          the law per family with credible bands, data on top, held-out runs
:func:`plot_forecast`     the law extended past the data to a target compute (a forecast fan)
:func:`plot_isoflop`      loss along fixed budgets (C = 6ND) with the posterior of the optimum
:func:`plot_frontier`     compute-optimal N*(C) and D*(C) with bands, published ones overlaid
:func:`plot_forest`       family-level parameters with the population (a new family) beside
:func:`plot_calibration`  nominal vs observed coverage of held-out points, a line per method
:func:`plot_compare`      elpd of law forms (and extrapolation scores) with uncertainty
:func:`plot_design`       candidate runs on the (N, D) plane by value per FLOP, proposed set
========================  ===================================================================

``fit.plot`` gives the same figures as methods: ``fit.plot.forecast(1e24)``, or
``fit.plot("frontier")``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import BayeslawsError
from .intervals import flatten

#: Bands drawn around each curve (credible bands of the law curve).
BAND_PROBS = (0.9, 0.5)
#: Opacity of the 90% and 50% bands.
BAND_ALPHA = (0.16, 0.32)
#: Figure kinds of :func:`plot` and of ``bayeslaws plot --kind``.
KINDS = ("fit", "forecast", "isoflop", "frontier", "forest", "design")
#: Axis labels of the raw columns.
LABELS = {"params": "parameters N", "tokens": "training tokens D",
          "flops": "training compute C (FLOPs)", "loss": "loss (nats/token)"}
HELD_OUT_COLOR = "crimson"


def _predict(fit, rows):
    """``fit.predict(rows)`` without ExtrapolationWarnings: a figure shows how far out it goes."""
    import warnings

    from .errors import ExtrapolationWarning

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
    exp = np.floor(np.log10(x))
    mant = x / 10**exp
    return f"1e{exp:.0f}" if np.isclose(mant, 1) else f"{mant:.0f}e{exp:.0f}"


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


def _save(fig, path) -> None:
    if path is not None:
        from .io import atomic_write

        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=130, format="png"))


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
    _save(fig, path)
    return fig


def _x_input(law, train: pd.DataFrame, fam_col: str) -> str:
    """The x axis of a fit plot: the law's input that varies most within families."""
    if len(law.inputs) == 1:
        return law.inputs[0]
    return max(law.inputs, key=lambda c: train.groupby(fam_col)[c].nunique().mean())


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
    _save(fig, path)
    return fig


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
    _save(fig, path)
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
    from . import published as pub

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
    _save(fig, path)
    return fig


# --------------------------------------------------------------------------- parameters
def plot_forest(fit, path=None, *, params=None):
    """Forest of family-level parameters, with the population (a new family's draws) beside them.

    Each parameter gets a panel; each family a row with its median, 50% (thick) and 90% (thin)
    intervals. The ``population`` row is the distribution of a new family's parameter (the
    partial-pooling population), shaded across the panel as its 90% interval.

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
    path : str, optional
        Write a PNG there.
    params : list of str, optional
        Paper names of the parameters (default: the law's sampled parameters).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    law = fit.law
    params = list(params) if params is not None else list(law.parameters)
    unknown = [p for p in params if p not in law.param_names]
    if unknown:
        raise BayeslawsError(f"unknown parameter(s) {unknown} of {law.name}; choose from "
                             f"{law.param_names}")
    from . import hierarchy

    has_pop = hierarchy.has_population(law)
    ds = fit.params(population=has_pop)
    labels = [str(f) for f in ds["family"].values]
    ncols = min(len(params), 3)
    nrows = int(np.ceil(len(params) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.3 * ncols, (0.32 * len(labels) + 1.0) * nrows + 0.5),
                             squeeze=False, sharey=True)
    flat = axes.ravel()
    ypos = np.arange(len(labels))[::-1]
    for ax, name in zip(flat, params):
        for y, fam in zip(ypos, labels):
            v = flatten(ds[name].sel(family=fam))
            q5, q25, q50, q75, q95 = np.quantile(v, [0.05, 0.25, 0.5, 0.75, 0.95])
            pop = fam == "population"
            color = "0.35" if pop else "tab:blue"
            if pop:
                ax.axvspan(q5, q95, color="0.94", zorder=0)
                ax.axhline(y + 0.5, color="0.6", lw=0.6)
            ax.plot([q5, q95], [y, y], color=color, lw=1.2)
            ax.plot([q25, q75], [y, y], color=color, lw=4, solid_capstyle="butt")
            ax.plot([q50], [y], marker="D" if pop else "o", color="white", mec=color, ms=6, mew=1.5)
        prm = law.parameters.get(name)
        if prm is not None and getattr(prm, "positive", True) and (ds[name] > 0).all():
            lo, hi = np.quantile(flatten(ds[name]), [0.01, 0.99])
            if hi / lo > 30:
                ax.set_xscale("log")
        ax.set_title(name, fontsize=11)
        ax.grid(True, axis="x", alpha=0.3)
    for ax in flat[len(params):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_yticks(ypos, labels)
    note = " (shaded: population, i.e. a new family, 90%)" if has_pop and len(fit.families) > 1 else ""
    _finish(fig, f"{law.name} parameters: median, 50% and 90% intervals{note}")
    _save(fig, path)
    return fig


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
    from .compare import LOO_COLUMNS

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


# --------------------------------------------------------------------------- design
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
        from .design import design as make_design

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
    _save(fig, path)
    return fig


# --------------------------------------------------------------------------- dispatch
def plot(fit, kind: str = "fit", path=None, **kwargs):
    """Draw figure ``kind`` (one of :data:`KINDS`) of ``fit``; see the functions above."""
    funcs = {"fit": plot_fit, "forecast": plot_forecast, "isoflop": plot_isoflop,
             "frontier": plot_frontier, "forest": plot_forest, "design": plot_design}
    if kind not in funcs:
        raise BayeslawsError(f"unknown plot kind {kind!r}; choose one of {', '.join(KINDS)}")
    return funcs[kind](fit, path=path, **kwargs)


class FitPlots:
    """The figures of one fit, as ``fit.plot.<kind>(...)`` or ``fit.plot(kind, ...)``."""

    def __init__(self, fit):
        self._fit = fit

    def __call__(self, kind: str = "fit", path=None, **kwargs):
        """Draw figure ``kind``; see :func:`plot`."""
        return plot(self._fit, kind, path, **kwargs)

    def fit(self, path=None, **kwargs):
        """See :func:`plot_fit`."""
        return plot_fit(self._fit, path, **kwargs)

    def forecast(self, target=None, path=None, **kwargs):
        """See :func:`plot_forecast`."""
        return plot_forecast(self._fit, target, path, **kwargs)

    def isoflop(self, budgets=None, path=None, **kwargs):
        """See :func:`plot_isoflop`."""
        return plot_isoflop(self._fit, budgets, path, **kwargs)

    def frontier(self, path=None, **kwargs):
        """See :func:`plot_frontier`."""
        return plot_frontier(self._fit, path, **kwargs)

    def forest(self, path=None, **kwargs):
        """See :func:`plot_forest`."""
        return plot_forest(self._fit, path, **kwargs)

    def design(self, path=None, **kwargs):
        """See :func:`plot_design`."""
        return plot_design(self._fit, path, **kwargs)
