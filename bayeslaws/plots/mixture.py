"""A data-mixture law's loss along each source's share, with credible bands."""

from __future__ import annotations

import numpy as np

from ..errors import BayeslawsError
from ..laws.mixture import share_curves
from .base import _band_handles, _bands, _finish, _legend_below, _panels, _save, _target_label


def plot_mixture(fit, path=None, *, family: str | None = None, base=None, sources=None,
                 n_grid: int = 41):
    """A ``mixture`` fit's loss along each source's share, with 90% and 50% credible bands.

    One panel per source: its share runs from 0 to 1 while the other sources keep their
    proportions of ``base`` (default the mean fitted mixture; see
    :func:`bayeslaws.laws.mixture.share_curves`). The dotted line marks the base share, the
    shaded span the shares beyond the largest one fitted (the law extrapolates there), and the
    ticks at the bottom the fitted runs' shares.

    Parameters
    ----------
    fit : bayeslaws.Fit
        A fit of the ``mixture`` law.
    family : str, optional
        The family (validation domain) to draw; default the only one.
    base : array-like, optional
        The mixture the curves pass through.
    sources : sequence of str, optional
        The sources to draw (default all).
    """
    if fit.law.name != "mixture":
        raise BayeslawsError(f"plot kind 'mixture' needs a 'mixture' fit, not {fit.law.name!r}")
    law = fit.law
    sources = list(law.sources if sources is None else sources)
    train = fit.data
    fam_col = fit.config["family_column"]
    if family is not None and fam_col in train:
        train = train[train[fam_col].astype(str) == str(family)]
    data = train[list(law.sources)].to_numpy(dtype=float)
    b = data.mean(axis=0) if base is None else np.asarray(base, dtype=float)
    fig, axes = _panels(len(sources), width=3.4, height=2.8, sharey=True)
    grid = np.linspace(0.0, 1.0, n_grid)
    color = "C0"
    for ax, src in zip(axes, sources):
        j = law.sources.index(src)
        draws = share_curves(fit, src, grid, base=b, family=family)
        _bands(ax, grid, draws, color)
        top = data[:, j].max()
        if top < 1.0:
            ax.axvspan(top, 1.0, color="0.85", alpha=0.5, lw=0)
        ax.axvline(b[j] / b.sum(), color="0.3", ls=":", lw=1)
        ax.plot(data[:, j], np.zeros(len(data)), "|", color="0.2", ms=6,
                transform=ax.get_xaxis_transform())
        ax.set_title(src, fontsize=9)
        ax.set_xlim(0, 1)
        ax.tick_params(labelsize=8)
    for ax in axes[::min(len(sources), 3)]:
        ax.set_ylabel(_target_label(law), fontsize=8)
    handles, labels = _band_handles(color)
    rows = _legend_below(fig, handles, labels, 2)
    what = f" ({family})" if family is not None else ""
    _finish(fig, f"{law.name} ({law.form}){what}: loss along each source's share, the others in "
                 "the mean fitted proportions; grey = beyond the fitted shares", legend_rows=rows)
    _save(fig, path, fit)
    return fig
