"""Load, validate and normalise tidy run tables (one row per trained model or checkpoint).

Raw units: ``params`` (count), ``tokens`` (count), ``flops`` (default ``6 * params * tokens``),
``loss`` (nats/token) and ``family`` (the grouping for pooling; absent means one family). Bad
input raises :class:`bayeslaws.DataError` naming the column, the rows and the fix; nothing is
dropped silently. Files are read by :mod:`bayeslaws.readers`; a user's column names and units
are mapped, converted and checked by :mod:`bayeslaws.mapping` before :func:`prepare`.
"""

from __future__ import annotations

import difflib
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import DataError, format_rows

#: Column names people use for the canonical ones (lower case), for "did you mean" hints.
ALIASES = {
    "params": ["n", "n_params", "num_params", "parameters", "model_size", "size", "nparams", "param_count"],
    "tokens": ["d", "n_tokens", "num_tokens", "data", "train_tokens", "dataset_size", "tokens_seen"],
    "flops": ["c", "compute", "flop", "training_flops", "train_flops", "flops_6nd"],
    "loss": ["l", "val_loss", "eval_loss", "test_loss", "final_loss", "loss_c4_val"],
    "family": ["group", "suite", "dataset", "corpus"],
}


@dataclass
class RunTable:
    """A validated run table ready for a law.

    Attributes
    ----------
    frame : pandas.DataFrame
        The table as given, plus computed columns (``flops`` when absent).
    x : dict of numpy.ndarray
        Natural logarithms of the law's inputs.
    y : numpy.ndarray or None
        The target on the law's link scale (log for positive targets); None without a target.
    family : numpy.ndarray
        Family label of each row (str); ``None`` entries when the table has no family column.
    """

    frame: pd.DataFrame
    x: dict[str, np.ndarray]
    y: np.ndarray | None
    family: np.ndarray
    has_family: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def families(self) -> list[str]:
        """Distinct families in order of first appearance."""
        return list(dict.fromkeys(self.family.tolist()))


def read_table(source, *, sep: str | None = None, sheet=None) -> pd.DataFrame:
    """Read a run table: a file path (any format of :mod:`bayeslaws.readers`), a bundled
    dataset name, or a DataFrame (returned as is).

    Parameters
    ----------
    source : str, path or pandas.DataFrame
        CSV/TSV (separator and encoding sniffed), Parquet, Excel ``.xlsx`` (``FILE.xlsx#SHEET``
        for another sheet than the first) or JSON lines; or a name of
        :func:`bayeslaws.datasets.names`.
    sep : str, optional
        Separator of delimited text (default: sniffed from ``,`` ``;`` tab ``|``).
    sheet : str or int, optional
        Excel sheet (default: the first).

    Raises
    ------
    DataError
        When the file does not exist or cannot be read (naming its format and the fix), or the
        name is unknown.
    """
    from . import datasets, readers

    if isinstance(source, pd.DataFrame):
        return source
    source = os.fspath(source) if isinstance(source, os.PathLike) else str(source)
    if os.path.exists(source) or (("#" in source) and os.path.exists(source.rsplit("#", 1)[0])):
        return readers.read(source, sep=sep, sheet=sheet)
    if source in datasets.names():
        return datasets.load(source)
    hint = difflib.get_close_matches(source, datasets.names(), n=1)
    raise DataError(f"no file or bundled dataset named {source!r}"
                    + (f"; did you mean {hint[0]!r}?" if hint else "")
                    + f" Bundled datasets: {', '.join(datasets.names())}")


def suggest_column(name: str, columns) -> str:
    """Return a ' did you mean ...?' hint for a missing column, or ''."""
    cols = [str(c) for c in columns]
    lower = {c.lower(): c for c in cols}
    for alias in ALIASES.get(name, []):
        if alias in lower:
            return _map_hint(name, lower[alias])
    close = difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=0.6)
    if close:
        return _map_hint(name, lower[close[0]])
    return ""


def _map_hint(name: str, column: str) -> str:
    flag = ("--family " + column) if name == "family" else f"--columns {name}={column}"
    python = f"family={column!r}" if name == "family" else f"columns={{{name!r}: {column!r}}}"
    return (f" Did you mean {column!r}? Map it: {flag} (Python: {python}), or rename it to "
            f"{name!r}.")


def _numeric(frame: pd.DataFrame, col: str, *, positive: bool, what: str) -> np.ndarray:
    raw = frame[col]
    if raw.isna().all() and len(raw):
        raise DataError(f"column {col!r} is empty (every value is missing); fill it with {what}",
                        column=col, rows=list(range(len(raw))))
    values = pd.to_numeric(raw, errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy() & raw.notna().to_numpy())
    if bad.size:
        sample = raw.iloc[bad[0]]
        raise DataError(f"column {col!r} has non-numeric values in {format_rows(bad)} "
                        f"(e.g. {sample!r}); give plain numbers such as 1.3e9 ({what})",
                        column=col, rows=bad)
    arr = values.to_numpy(dtype=float)
    missing = np.flatnonzero(~np.isfinite(arr))
    if missing.size:
        raise DataError(f"column {col!r} has missing or infinite values in {format_rows(missing)}; "
                        f"fill them in or remove those rows ({what}); for a wide export with "
                        "metrics logged at other steps, --drop-missing (drop_missing=True) drops "
                        "them", column=col, rows=missing)
    if positive:
        nonpos = np.flatnonzero(arr <= 0)
        if nonpos.size:
            raise DataError(f"column {col!r} must be > 0 but is {arr[nonpos[0]]:g} in "
                            f"{format_rows(nonpos)}; fix or remove those rows ({what})",
                            column=col, rows=nonpos)
    return arr


def _warn_thin_families(law, family: np.ndarray) -> None:
    """Warn when a family has fewer runs than parameters fitted to it alone (independent pooling).

    Under partial pooling a family with one run is fine: it borrows strength from the others.
    """
    own = [n for n, how in law.pooling.items() if how == "independent"]
    if not own:
        return
    names, counts = np.unique(family.astype(str), return_counts=True)
    thin = [f"{str(n)!r} ({c} run{'s' if c != 1 else ''})" for n, c in zip(names, counts)
            if c < len(own)]
    if thin:
        warnings.warn(f"famil{'ies' if len(thin) > 1 else 'y'} {', '.join(thin)} "
                      f"{'have' if len(thin) > 1 else 'has'} fewer runs than the {len(own)} "
                      f"parameters fitted per family with independent pooling ({', '.join(own)}): "
                      "they are set mostly by the prior. Use pooling='partial' to borrow strength "
                      "from the other families, or add runs", UserWarning, stacklevel=3)


#: ``DataFrame.attrs`` flag of a table that :func:`prepare` has already checked (a fit's data,
#: and the slices of it that backtests refit): its data-quality warnings (duplicate rows, thin
#: families) were given once, when it was fitted, and are not repeated.
CHECKED = "bayeslaws_checked"


def prepare(law, data, *, family_column: str = "family", require_target: bool = True) -> RunTable:
    """Validate a run table for ``law`` and return a :class:`RunTable`.

    Parameters
    ----------
    law : bayeslaws.laws.Law
        The law whose inputs and target the table must provide.
    data : pandas.DataFrame
        The runs.
    family_column : str
        Column that groups runs into families.
    require_target : bool
        Whether the target column must be present (False for prediction grids).

    Raises
    ------
    DataError
        Naming the column, the rows and the fix.

    Notes
    -----
    The returned frame carries the :data:`CHECKED` flag in its ``attrs``; a table that carries
    it (a fit's data, checked when it was fitted) is validated again but not warned about again.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame of runs, got {type(data).__name__}; "
                        "use bayeslaws.datasets.load(name) or pandas.read_csv(path)")
    if len(data) == 0:
        raise DataError("the run table is empty (0 rows); give at least one run per family")
    frame = data.reset_index(drop=True).copy()
    frame.columns = [str(c) for c in frame.columns]
    repeated = frame.columns[frame.columns.duplicated()].unique().tolist()
    if repeated:
        raise DataError(f"column {repeated[0]!r} appears more than once; give each column a "
                        "unique name", column=repeated[0])
    notes: list[str] = []

    needed = list(law.required_columns())
    if "flops" in needed and "flops" not in frame:
        if "params" in frame and "tokens" in frame:
            p = _numeric(frame, "params", positive=True, what="raw parameter counts")
            d = _numeric(frame, "tokens", positive=True, what="raw token counts")
            frame["flops"] = 6.0 * p * d
            notes.append("flops computed as 6 * params * tokens")
        else:
            raise DataError("column 'flops' is missing; add it, or give 'params' and 'tokens' so "
                            "that flops = 6 * params * tokens can be computed" +
                            suggest_column("flops", frame.columns), column="flops")
    for col in needed:
        if col not in frame:
            raise DataError(f"column {col!r} is missing; law {law.name!r} needs "
                            f"{', '.join(needed)}.{suggest_column(col, frame.columns)}",
                            column=col)
    x = {}
    log_inputs = getattr(law, "log_inputs", True)
    for col in needed:
        if not log_inputs:  # linear inputs (mixture proportions), checked by the law below
            x[col] = _numeric(frame, col, positive=False, what=f"an input of {law.name}")
            continue
        # every input enters the law as a logarithm, so it must be > 0
        x[col] = np.log(_numeric(frame, col, positive=True, what=f"an input of {law.name}"))
    if not log_inputs:
        law.check_inputs(x)

    y = None
    if law.target in frame:
        target = _numeric(frame, law.target, positive=law.positive_target,
                          what=f"the target of {law.name}"
                          + (", modelled on the log scale" if law.positive_target else ""))
        y = np.log(target) if law.positive_target else target
    elif require_target:
        raise DataError(f"column {law.target!r} (the target of law {law.name!r}) is missing."
                        f"{suggest_column(law.target, frame.columns)}", column=law.target)

    has_family = family_column in frame
    if has_family:
        fam = frame[family_column]
        missing = np.flatnonzero(fam.isna().to_numpy())
        if missing.size:
            raise DataError(f"column {family_column!r} has missing values in "
                            f"{format_rows(missing)}; name the family of every run, or drop the "
                            "column to treat all runs as one family", column=family_column,
                            rows=missing)
        family = fam.astype(str).to_numpy(dtype=object)
    else:
        family = np.array(["all"] * len(frame), dtype=object)

    if require_target and not data.attrs.get(CHECKED):
        _warn_thin_families(law, family)
        dup = np.flatnonzero(frame.duplicated(keep=False).to_numpy())
        if dup.size:
            warnings.warn(f"{format_rows(dup)} are exact duplicates of another row (every column "
                          "equal); they count as separate runs. Drop them if they were entered "
                          "twice", UserWarning, stacklevel=2)
    if require_target:
        frame.attrs[CHECKED] = True
    return RunTable(frame=frame, x=x, y=y, family=family, has_family=has_family, notes=notes)


def prepare_for_fit(law, data, *, family_column: str = "family", columns=None, family=None,
                    loss_unit=None, scale=None, drop_missing=False):
    """A user's table as a fit starts from it, shared by every way of fitting (NUTS, Laplace).

    The columns and units are mapped to bayeslaws' own (:func:`bayeslaws.mapping.to_canonical`),
    the table is validated (:func:`prepare`) and the law is bound to it
    (:meth:`bayeslaws.laws.Law.bind`: data-relative default priors, e.g. bnsl's break range).

    Returns
    -------
    law : bayeslaws.laws.Law
        The bound law (the same law where binding changes nothing).
    table : RunTable
    source : bayeslaws.mapping.Source
        The mapping, stored in the fit's config (``source.to_config()``); ``source.family`` is the
        family column.
    """
    from . import mapping

    source = mapping.source(columns, family=family,
                            family_column=None if family_column == "family" else family_column,
                            loss_unit=loss_unit, scale=scale, drop_missing=drop_missing)
    data = mapping.to_canonical(law, data, source)
    table = prepare(law, data, family_column=source.family)
    return law.bind(table), table, source
