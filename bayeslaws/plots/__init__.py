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
:func:`plot_mixture`      a mixture law's loss along each source's share, with credible bands
:func:`plot_design`       candidate runs on the (N, D) plane by value per FLOP, proposed set
========================  ===================================================================

``fit.plot`` gives the same figures as methods: ``fit.plot.forecast(1e24)``, or
``fit.plot("frontier")``.
"""

from __future__ import annotations

from .. import hooks
from ..errors import BayeslawsError
from .design import plot_design
from .allocation import default_budgets, plot_frontier, plot_isoflop
from .base import BAND_ALPHA, BAND_PROBS, HELD_OUT_COLOR, LABELS, flops_label, human
from .evaluation import plot_calibration, plot_compare
from .fit import plot_fit
from .forecast import plot_forecast
from .forest import plot_forest
from .mixture import plot_mixture

#: Figure kinds of :func:`plot` and of ``bayeslaws plot --kind``.
KINDS = ("fit", "forecast", "isoflop", "frontier", "forest", "mixture", "design")


def plot(fit, kind: str = "fit", path=None, **kwargs):
    """Draw figure ``kind`` (one of :data:`KINDS`) of ``fit``; see the functions above."""
    funcs = {"fit": plot_fit, "forecast": plot_forecast, "isoflop": plot_isoflop,
             "frontier": plot_frontier, "forest": plot_forest, "mixture": plot_mixture,
             "design": plot_design}
    if kind not in funcs:
        raise BayeslawsError(f"unknown plot kind {kind!r}; choose one of {', '.join(KINDS)}")
    return funcs[kind](fit, path=path, **kwargs)


@hooks.provide("plots")
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

    def mixture(self, path=None, **kwargs):
        """See :func:`plot_mixture`."""
        return plot_mixture(self._fit, path, **kwargs)

    def design(self, path=None, **kwargs):
        """See :func:`plot_design`."""
        return plot_design(self._fit, path, **kwargs)


__all__ = ["BAND_ALPHA", "BAND_PROBS", "FitPlots", "HELD_OUT_COLOR", "KINDS", "LABELS",
           "default_budgets", "flops_label", "human", "plot", "plot_calibration", "plot_compare",
           "plot_fit", "plot_forecast", "plot_forest", "plot_frontier", "plot_isoflop",
           "plot_mixture", "plot_design"]
