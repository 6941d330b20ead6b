"""Family-level parameters beside the population (a new family), as a forest plot."""

from __future__ import annotations

import numpy as np

from ..errors import BayeslawsError
from ..intervals import flatten
from .base import (
    _finish,
    _plt,
    _save,
)


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
    from .. import hierarchy

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
    _save(fig, path, fit)
    return fig
