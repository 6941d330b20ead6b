"""Save and load fits as netCDF (h5netcdf), with the law spec, config, data and versions inside.

Layer: above the :class:`~bayeslaws.fit.Fit` result (``load`` builds one); ``Fit.save`` reaches
:func:`save` through :mod:`bayeslaws.hooks`.

A file is written whole: to a temporary file beside the target, then renamed over it, so an
interrupted or failed save never leaves a partial file nor destroys an earlier result.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import sys
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from . import hooks
from ._version import versions
from .errors import FitFileError, SpecError
from .files import atomic_write, remove_pending  # noqa: F401  (re-exported: bayeslaws.io.atomic_write)
from .fit import Fit
from .laws import from_spec, registered
from .plugins import missing_law_message, origin

#: Marker and format version written into every fit file.
FORMAT = "bayeslaws-fit"
FORMAT_VERSION = 1
#: Groups without which a file cannot be a fit; every other group and attribute is optional.
REQUIRED_GROUPS = ("posterior", "fit_data")
#: Config entries assumed when a file (from an older version) does not record them.
DEFAULT_CONFIG = {"family_column": "family", "retried": False}


def _variable_names(columns) -> list[str]:
    """netCDF variable names of the columns: the name itself, or ``column_<i>`` for names that
    a DataTree cannot hold (``/``, as in a tracking tool's ``eval/loss``)."""
    return [c if "/" not in c and c != "row" else f"column_{i}" for i, c in enumerate(columns)]


def _frame_to_dataset(frame: pd.DataFrame) -> xr.Dataset:
    data = {}
    columns = [str(c) for c in frame.columns]
    names = _variable_names(columns)
    for col, var in zip(frame.columns, names):
        values = frame[col]
        if values.dtype.kind in "biuf":
            data[var] = ("row", values.to_numpy())
        elif values.dtype.kind == "b" or str(values.dtype) == "bool":
            data[var] = ("row", values.to_numpy(dtype=bool))
        else:
            data[var] = ("row", values.astype(str).to_numpy(dtype=object))
    ds = xr.Dataset(data, coords={"row": np.arange(len(frame))})
    ds.attrs["columns"] = json.dumps(columns)
    if names != columns:
        ds.attrs["column_variables"] = json.dumps(names)
    return ds


def _dataset_to_frame(ds: xr.Dataset) -> pd.DataFrame:
    cols = json.loads(ds.attrs["columns"])
    names = json.loads(ds.attrs.get("column_variables", ds.attrs["columns"]))
    out = {}
    for col, var in zip(cols, names):
        values = ds[var].values
        out[col] = values.astype(str) if values.dtype.kind in "OSU" else values
    frame = pd.DataFrame(out, columns=cols)
    frame.attrs["bayeslaws_canonical"] = True  # a fit's data: bayeslaws' columns and units
    frame.attrs["bayeslaws_checked"] = True  # ... warned about when it was fitted (data.CHECKED)
    return frame


def checksum(tree) -> str:
    """SHA-256 of every numeric variable of every group (posterior, sample stats, data, ...).

    Variables in group and name order, with their dtype and shape; stored in the file's
    attributes so that :func:`load` detects damaged bytes that HDF5 itself reads back silently.
    """
    digest = hashlib.sha256()
    for group in sorted(tree.children):
        ds = tree[group].to_dataset()
        for name in sorted(ds.data_vars):
            values = np.asarray(ds[name].values)
            if values.dtype.kind in "biuf":
                values = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
                digest.update(f"{group}/{name}:{values.dtype.str}:{values.shape};".encode())
                digest.update(values.tobytes())
    return digest.hexdigest()


@hooks.provide("save")
def save(fit, path, *, log_likelihood: bool = False) -> None:
    """Write ``fit`` to ``path`` (netCDF4/HDF5) atomically.

    The root attributes hold the format marker, the law spec and where the law was defined
    (``law_origin``: its module and file, :func:`bayeslaws.plugins.origin`), the sampler
    config, the families,
    the convergence notes, the library versions of the fit and a :func:`checksum`; ``fit_data``
    holds the training table. The pointwise log-likelihood (draws x rows: gigabytes for a big
    fit) is written only with ``log_likelihood=True``; a loaded fit recomputes it, identically,
    when it is needed (:meth:`bayeslaws.fit.Fit.log_likelihood`). A fit made in this process
    with ``extrapolation="backtest"`` (the default) learns its extrapolation discrepancy first, if
    nothing has asked for it yet, so the file forecasts beyond its data without rerunning them.
    """
    path = os.fspath(path)
    if (fit.config.get("extrapolation", "backtest") and getattr(fit, "source", None) is None
            and "extrapolation" not in fit.idata.children):
        # A fit made in this process learns its extrapolation discrepancy before it is written,
        # so that a loaded fit never reruns the backtests behind the user's back.
        try:
            fit.discrepancy  # noqa: B018  (learned and stored in fit.idata)
        except Exception as exc:  # noqa: BLE001  a failed calibration must not lose the fit
            warnings.warn(f"the extrapolation discrepancy could not be learned "
                          f"({type(exc).__name__}: {exc}); the fit is saved without it and a "
                          "loaded fit will try again", UserWarning, stacklevel=3)
    if log_likelihood:
        fit.log_likelihood()  # computed now if the fit has not needed it before
    tree = fit.idata.copy()
    if not log_likelihood and "log_likelihood" in tree.children:
        del tree["log_likelihood"]
    tree["fit_data"] = _frame_to_dataset(fit.data)
    tree.attrs = {
        "bayeslaws_format": FORMAT,
        "bayeslaws_format_version": FORMAT_VERSION,
        "law": json.dumps(fit.law.spec()),
        "law_origin": json.dumps(origin(type(fit.law))),
        "config": json.dumps(fit.config),
        "families": json.dumps(fit.families),
        "convergence": json.dumps(fit.convergence),
        "versions": json.dumps(getattr(fit, "versions", None) or versions()),
    }
    tree.attrs["checksum"] = checksum(tree)
    atomic_write(path, lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf"))


@contextlib.contextmanager
def _quiet_half_open_files():
    """Silence the finaliser of h5netcdf files left half-open by a failed read.

    Opening a damaged file leaves an h5netcdf ``File`` whose ``__del__`` fails with
    ``AttributeError`` and would print an 'Exception ignored' traceback; other unraisable
    errors still reach the usual hook.
    """
    hook = sys.unraisablehook

    def quiet(unraisable):
        if not (isinstance(unraisable.exc_value, AttributeError)
                and "h5netcdf" in getattr(unraisable.object, "__module__", "")):
            hook(unraisable)

    sys.unraisablehook = quiet
    try:
        yield
        gc.collect()
    finally:
        sys.unraisablehook = hook


def _families(attrs, tree, data: pd.DataFrame, family_column: str) -> list[str]:
    """Fitted families: recorded, else the posterior's ``family`` coordinate, else the data's."""
    if "families" in attrs:
        return list(json.loads(attrs["families"]))
    post = tree["posterior"]
    if "family" in post.coords:
        return [str(f) for f in post["family"].values]
    if family_column in data:
        return list(dict.fromkeys(data[family_column].astype(str)))
    return ["all"]


def _with_legacy_options(spec: dict) -> dict:
    """The saved law spec, with the options it predates set to what was fitted then."""
    cls = registered(spec.get("law", ""))
    legacy = getattr(cls, "legacy_options", {})
    if legacy:
        spec = dict(spec, options=legacy | dict(spec.get("options") or {}))
    return spec


def _law_name(attrs) -> str | None:
    try:
        return str(json.loads(attrs["law"])["law"])
    except (KeyError, ValueError, TypeError):
        return None


def _law_origin(attrs) -> dict | None:
    """Where the fitted law was defined (:func:`bayeslaws.plugins.origin`), if recorded."""
    try:
        found = json.loads(attrs["law_origin"])
        return found if isinstance(found, dict) else None
    except (KeyError, ValueError, TypeError):
        return None


def load(path):
    """Read a fit written by :func:`save` (or :meth:`bayeslaws.fit.Fit.save`).

    Raises
    ------
    FitFileError
        When the file is missing, unreadable, truncated, damaged (checksum mismatch), not a
        bayeslaws fit, lacks the law or the ``posterior`` / ``fit_data`` groups, or was written
        by a newer format version; or when its law is not registered in this process (a
        user's law: the message names the file or module recorded as the law's origin and says
        to import it first or pass ``--plugin`` on the command line; it is never imported
        silently).

    Notes
    -----
    Files of older versions keep loading: every other attribute is optional (config entries
    default to :data:`DEFAULT_CONFIG` and the posterior's sizes, families to the posterior's
    ``family`` coordinate, convergence notes and versions to empty; no checksum, no check).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FitFileError(f"no such fit file: {path}")
    failure = None
    with _quiet_half_open_files():
        try:
            with xr.open_datatree(path, engine="h5netcdf") as tree:
                tree = tree.load()
        except Exception as exc:  # h5py raises many types for damaged files
            failure = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if failure is not None:
        raise FitFileError(f"{path} is not a readable fit file (netCDF/HDF5): {failure}; "
                           "write fits with `bayeslaws fit ... --out FIT.nc` or Fit.save")
    attrs = tree.attrs
    if attrs.get("bayeslaws_format") != FORMAT:
        raise FitFileError(f"{path} is a netCDF file but not a bayeslaws fit (no "
                           f"'bayeslaws_format' attribute); give a file written by Fit.save")
    try:
        version = int(attrs.get("bayeslaws_format_version", 0))
    except (TypeError, ValueError):
        raise FitFileError(f"{path}: damaged bayeslaws fit (format version "
                           f"{attrs.get('bayeslaws_format_version')!r}); refit and save "
                           "again") from None
    if version > FORMAT_VERSION:
        raise FitFileError(f"{path} was written by a newer bayeslaws (format {version}, this one "
                           f"reads up to {FORMAT_VERSION}); upgrade bayeslaws to read it")
    missing = [g for g in REQUIRED_GROUPS if g not in tree.children]
    if missing or "law" not in attrs:
        what = f"group(s) {', '.join(missing)}" if missing else "the 'law' attribute"
        raise FitFileError(f"{path}: damaged bayeslaws fit ({what} missing); refit and save again")
    if "checksum" in attrs and attrs["checksum"] != checksum(tree):
        raise FitFileError(f"{path}: damaged bayeslaws fit (its posterior or data no longer match "
                           "the checksum written with them); use an intact copy, or refit")
    try:
        law = from_spec(_with_legacy_options(json.loads(attrs["law"])))
        data = _dataset_to_frame(tree["fit_data"].to_dataset())
        config = DEFAULT_CONFIG | json.loads(attrs.get("config", "{}"))
        families = _families(attrs, tree, data, config["family_column"])
        convergence = list(json.loads(attrs.get("convergence", "[]")))
        recorded = dict(json.loads(attrs.get("versions", "{}")))
    except SpecError as exc:
        name = _law_name(attrs)
        if name and registered(name) is None:
            raise FitFileError(f"{path}: {missing_law_message(name, _law_origin(attrs))}") from None
        raise FitFileError(f"{path}: the fitted law cannot be rebuilt here ({exc}); use the "
                           "bayeslaws version (and plugins) that wrote it") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise FitFileError(f"{path}: damaged bayeslaws fit ({type(exc).__name__}: {exc}); "
                           "refit and save again") from None
    post = tree["posterior"]
    config.setdefault("chains", int(post.sizes.get("chain", 0)))
    config.setdefault("draws", int(post.sizes.get("draw", 0)))
    idata = tree.copy()
    del idata["fit_data"]
    idata.attrs = {}
    fit = Fit(law, idata, data, config, families)
    fit.source = path  # where it was read from (a loaded fit lacking a discrepancy says so)
    fit.convergence = convergence
    fit.versions = recorded
    fit.law_origin = _law_origin(attrs)
    return fit
