"""Save and load fits as netCDF (h5netcdf), with the law spec, config, data and versions inside.

A file is written whole: to a temporary file beside the target, then renamed over it, so an
interrupted or failed save never leaves a partial file nor destroys an earlier result.
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib import metadata

import numpy as np
import pandas as pd
import xarray as xr

from ._version import __version__
from .errors import FitFileError

#: Marker and format version written into every fit file.
FORMAT = "bayeslaws-fit"
FORMAT_VERSION = 1


def versions() -> dict[str, str]:
    """Versions of bayeslaws and of the libraries that shape a fit."""
    out = {"bayeslaws": __version__}
    for pkg in ("pymc", "pytensor", "arviz", "jax", "numpyro", "xarray", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _frame_to_dataset(frame: pd.DataFrame) -> xr.Dataset:
    data = {}
    for col in frame.columns:
        values = frame[col]
        if values.dtype.kind in "biuf":
            data[col] = ("row", values.to_numpy())
        elif values.dtype.kind == "b" or str(values.dtype) == "bool":
            data[col] = ("row", values.to_numpy(dtype=bool))
        else:
            data[col] = ("row", values.astype(str).to_numpy(dtype=object))
    ds = xr.Dataset(data, coords={"row": np.arange(len(frame))})
    ds.attrs["columns"] = json.dumps([str(c) for c in frame.columns])
    return ds


def _dataset_to_frame(ds: xr.Dataset) -> pd.DataFrame:
    cols = json.loads(ds.attrs["columns"])
    out = {}
    for col in cols:
        values = ds[col].values
        out[col] = values.astype(str) if values.dtype.kind in "OSU" else values
    return pd.DataFrame(out, columns=cols)


def save(fit, path) -> None:
    """Write ``fit`` to ``path`` (netCDF4/HDF5) atomically.

    The root attributes hold the format marker, the law spec, the sampler config, the families,
    the convergence notes and the library versions; ``fit_data`` holds the training table.
    """
    path = os.fspath(path)
    tree = fit.idata.copy()
    tree["fit_data"] = _frame_to_dataset(fit.data)
    tree.attrs = {
        "bayeslaws_format": FORMAT,
        "bayeslaws_format_version": FORMAT_VERSION,
        "law": json.dumps(fit.law.spec()),
        "config": json.dumps(fit.config),
        "families": json.dumps(fit.families),
        "convergence": json.dumps(fit.convergence),
        "versions": json.dumps(versions()),
    }
    atomic_write(path, lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf"))


def atomic_write(path, write) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    A failure or Ctrl-C leaves no partial file and keeps whatever ``path`` held before.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FitFileError(f"cannot write {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(suffix=".tmp", prefix=".bayeslaws-", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path):
    """Read a fit written by :func:`save` (or :meth:`bayeslaws.fit.Fit.save`).

    Raises
    ------
    FitFileError
        When the file is missing, unreadable, truncated, not a bayeslaws fit, or written by a
        newer format version.
    """
    from .fit import Fit
    from .laws import from_spec

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FitFileError(f"no such fit file: {path}")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            tree = tree.load()
    except Exception as exc:  # h5py raises many types for damaged files
        raise FitFileError(f"{path} is not a readable fit file (netCDF/HDF5): "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; "
                           "write fits with `bayeslaws fit ... --out FIT.nc` or Fit.save") from None
    attrs = tree.attrs
    if attrs.get("bayeslaws_format") != FORMAT:
        raise FitFileError(f"{path} is a netCDF file but not a bayeslaws fit (no "
                           f"'bayeslaws_format' attribute); give a file written by Fit.save")
    version = int(attrs.get("bayeslaws_format_version", 0))
    if version > FORMAT_VERSION:
        raise FitFileError(f"{path} was written by a newer bayeslaws (format {version}, this one "
                           f"reads up to {FORMAT_VERSION}); upgrade bayeslaws to read it")
    try:
        law = from_spec(json.loads(attrs["law"]))
        config = json.loads(attrs["config"])
        families = json.loads(attrs["families"])
        data = _dataset_to_frame(tree["fit_data"].to_dataset())
    except (KeyError, ValueError) as exc:
        raise FitFileError(f"{path}: damaged bayeslaws fit ({exc}); refit and save again") from None
    idata = tree.copy()
    del idata["fit_data"]
    idata.attrs = {}
    fit = Fit(law, idata, data, config, families)
    fit.convergence = json.loads(attrs.get("convergence", "[]"))
    fit.versions = json.loads(attrs.get("versions", "{}"))
    return fit
