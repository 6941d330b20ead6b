"""bayeslaws: hierarchical Bayesian scaling laws for language models, with honest uncertainty.

>>> import bayeslaws as bl
>>> runs = bl.datasets.load("chinchilla_epoch", fit_rows=True)
>>> fit = bl.laws.get("chinchilla").fit(runs, seed=0)          # doctest: +SKIP
>>> fit.summary()                                               # doctest: +SKIP

``import bayeslaws`` is light (no PyMC, ArviZ, JAX or matplotlib): the public names below load
their modules on first use (a module ``__getattr__``), and the modules that fill the slots of
:mod:`bayeslaws.hooks` (``law.fit``, ``fit.predict``, ...) load when a slot is first used.
"""

# PyMC's XLA_FLAGS edit (the one importing pymc.sampling.jax makes) gives CPU chains one host
# device each; it must come before anything initialises JAX, so it comes first.
from .sampling import set_host_devices as _set_host_devices  # isort: skip

_set_host_devices()

import sys
import types

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

#: Public names loaded on first use: name -> (module, attribute or None for the module itself).
_LAZY = {
    "chain": ("bayeslaws.chain", "chain"),
    "compare": ("bayeslaws.compare", "compare"),
    "Fit": ("bayeslaws.fit", "Fit"),
    "load": ("bayeslaws.io", "load"),
    "datasets": ("bayeslaws.datasets", None),
    "hierarchy": ("bayeslaws.hierarchy", None),
    "laws": ("bayeslaws.laws", None),
}


class _Package(types.ModuleType):
    """The package's module type: importing the submodule :mod:`bayeslaws.chain` or
    :mod:`bayeslaws.compare` binds the package attribute of that name to the submodule; the
    function of that name stays there instead (as the eager ``from .chain import chain`` did)."""

    def __setattr__(self, name, value):
        if (name in ("chain", "compare") and isinstance(value, types.ModuleType)
                and value.__name__ == f"{__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    """Load a public name of :data:`_LAZY`, or a submodule (``bl.plots``, ``bl.data``), on first
    use, as the eager imports of earlier versions made them available."""
    import importlib
    import importlib.util

    if name in _LAZY:
        module, attr = _LAZY[name]
        value = importlib.import_module(module)
        if attr is not None:
            value = getattr(value, attr)
        globals()[name] = value  # later look-ups skip this function
        return value
    if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["BayeslawsError", "chain", "ClusterError", "compare", "ConvergenceWarning", "DataError", "ExtrapolationWarning", "Fit",
           "FitFileError", "SpecError", "__version__", "datasets", "laws", "load"]
