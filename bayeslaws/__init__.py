"""bayeslaws: hierarchical Bayesian scaling laws for language models, with honest uncertainty.

>>> import bayeslaws as bl
>>> runs = bl.datasets.load("chinchilla_epoch", fit_rows=True)
>>> fit = bl.laws.get("chinchilla").fit(runs, seed=0)          # doctest: +SKIP
>>> fit.summary()                                               # doctest: +SKIP
"""

# PyMC's JAX module sets XLA_FLAGS so that CPU chains run in parallel; it must be imported
# before anything initialises JAX.
import pymc.sampling.jax  # noqa: F401  isort: skip

from . import datasets, hierarchy, laws
from .chain import chain
from .compare import compare
from ._version import __version__
from .errors import (
    BayeslawsError,
    ClusterError,
    ConvergenceWarning,
    DataError,
    ExtrapolationWarning,
    FitFileError,
    SpecError,
)
from .fit import Fit
from .io import load

# The modules that fill the slots of bayeslaws.hooks (law.fit, fit.predict, fit.optimal,
# fit.discrepancy, fit.design, fit.plot, fit.save): importing bayeslaws makes every Fit method work.
from . import design, extrapolation, inference, optimal, plots, predict  # noqa: E402,F401  isort: skip

__all__ = ["BayeslawsError", "chain", "ClusterError", "compare", "ConvergenceWarning", "DataError", "ExtrapolationWarning", "Fit",
           "FitFileError", "SpecError", "__version__", "datasets", "laws", "load"]
