"""The version of bayeslaws, and of the libraries that shape a fit (recorded in every fit)."""

from importlib import metadata

__version__ = "0.1.0"


def versions() -> dict[str, str]:
    """Versions of bayeslaws and of the libraries that shape a fit."""
    out = {"bayeslaws": __version__}
    for pkg in ("pymc", "pytensor", "arviz", "jax", "numpyro", "xarray", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
