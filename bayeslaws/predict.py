"""Posterior draws of a fitted law on new rows: the law curve and the posterior predictive.

A row whose family was fitted uses that family's draws; a row of an unseen family uses a new
family drawn from the population (wider, and honest about it); without a ``family`` column a
one-family fit uses its family and a multi-family fit the population. Rows without a fitted family
are named in one warning and marked in ``family_source``; a name one typo away from a fitted
family is an error. Every row's draws come from streams keyed by the row (:mod:`bayeslaws.streams`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from . import data as data_mod
from . import extrapolation, hierarchy, hooks
from .errors import ExtrapolationWarning
from .intervals import DEFAULT_PROB, describe
from .model import link_draws  # noqa: F401  (re-exported: bayeslaws.predict.link_draws)

POPULATION = "population"
#: Forecasts this many decades or more beyond the fitted range get an ExtrapolationWarning.
WARN_DECADES = 1.0


class Prediction:
    """Draws at each requested row, with interval summaries.

    Attributes
    ----------
    draws : xarray.Dataset
        ``<target>`` (the curve: the law plus the extrapolation discrepancy beyond the fitted
        range), ``<target>_predictive`` (with observation noise too) and ``<target>_law`` (the
        law alone), dims ``(chain, draw, row)``, row order as given; coordinates ``family`` and
        ``extrapolation`` (decades beyond the fitted range, 0 inside) per row.
    frame : pandas.DataFrame
        The rows as given.
    target : str
    """

    def __init__(self, draws: xr.Dataset, frame: pd.DataFrame, target: str, notes: list[str]):
        self.draws = draws
        self.frame = frame
        self.target = target
        self.notes = notes

    @property
    def distance(self) -> np.ndarray:
        """Decades by which each row lies beyond the fitted range of its family (0 inside)."""
        return self.draws["extrapolation"].values

    @property
    def law(self) -> xr.DataArray:
        """Draws of the law curve."""
        return self.draws[self.target]

    @property
    def predictive(self) -> xr.DataArray:
        """Posterior predictive draws (observation noise included)."""
        return self.draws[f"{self.target}_predictive"]

    def interval(self, prob: float = DEFAULT_PROB) -> pd.DataFrame:
        """Input columns unchanged, then ``<target>_mean`` (law curve), ``_median``, ``_lower``,
        ``_upper`` (median and equal-tailed ``prob`` bounds of the posterior predictive)."""
        t = self.target
        pred = describe(self.predictive, prob)
        out = self.frame.copy()
        out[f"{t}_mean"] = self.law.mean(("chain", "draw")).values
        out[f"{t}_median"] = pred["median"].values
        out[f"{t}_lower"] = pred["lower"].values
        out[f"{t}_upper"] = pred["upper"].values
        return out

    def summary(self, prob: float = DEFAULT_PROB) -> pd.DataFrame:
        """:meth:`interval` plus ``extrapolation``: how many times beyond the fitted range each
        row lies (1 inside it), on the axis where it is farthest out; ``compute_multiple``: the
        row's compute (its size axis) over the largest fitted run's of its family
        (:func:`bayeslaws.extrapolation.size_multiple`; the scale by which
        ``docs/calibration.md`` reports the coverage and error to expect); and ``family_source``: how
        the row's family was found (``fitted``; ``the fit's only family``; or population draws
        for a ``new family``, ``no family column``, ``family missing``, or ``population`` asked
        for by name)."""
        out = self.interval(prob)
        out["extrapolation"] = 10.0 ** self.distance
        if "compute_multiple" in self.draws.coords:
            out["compute_multiple"] = self.draws["compute_multiple"].values
        if "family_source" in self.draws.coords:
            out["family_source"] = self.draws["family_source"].values
        return out

    def __repr__(self) -> str:
        return f"<Prediction of {self.target} at {self.draws.sizes['row']} rows>"


#: How a row's family was found (``family_source`` of :meth:`Prediction.summary`).
FITTED, ONLY_FAMILY = "fitted", "the fit's only family"
NEW_FAMILY, NO_COLUMN, MISSING = "new family", "no family column", "family missing"
#: A row that asks for the population by name: a new family, as requested (no warning).
ASKED = "population"


def _close_family(name: str, families: list[str]) -> str | None:
    """The fitted family that ``name`` is probably a misspelling of, or None."""
    import difflib

    def norm(s: str) -> str:
        return "".join(ch for ch in s.lower() if ch.isalnum())

    for fam in families:  # case, spaces, dashes or underscores differ
        if norm(fam) == norm(name):
            return fam
    close = difflib.get_close_matches(name, families, n=1, cutoff=0.8)
    return close[0] if close else None


def _row_families(fit, frame: pd.DataFrame, column: str, new_families) -> tuple:
    """Each row's family label and how it was found (:data:`FITTED` ... :data:`MISSING`).

    Raises
    ------
    DataError
        A family name that was not fitted but is close to a fitted one (a typo, most likely),
        unless it is declared in ``new_families``.
    """
    from .errors import DataError, format_rows

    n = len(frame)
    if column not in frame:
        if len(fit.families) == 1:
            return np.array([fit.families[0]] * n, dtype=object), np.array([ONLY_FAMILY] * n,
                                                                            dtype=object)
        return (np.array([POPULATION] * n, dtype=object), np.array([NO_COLUMN] * n, dtype=object))
    values = frame[column]
    missing = values.isna().to_numpy()
    names = values.astype(str).to_numpy(dtype=object)
    names[missing] = POPULATION
    source = np.where(missing, MISSING, FITTED).astype(object)
    declared = {str(f) for f in (new_families or ())}
    for name in dict.fromkeys(names[~missing].tolist()):
        if name in fit.families:
            continue
        if name == POPULATION:
            source[names == name] = ASKED
            continue
        close = None if name in declared else _close_family(name, fit.families)
        rows = np.flatnonzero(names == name)
        if close is not None:
            raise DataError(
                f"family {name!r} in {format_rows(rows)} was not fitted; did you mean {close!r}? "
                f"Fix the name, or, if it is a new family, declare it: "
                f"new_families=[{name!r}] (command line: --new-family {name})",
                column=column, rows=rows)
        source[rows] = NEW_FAMILY
    return names, source


def _population_note(source: np.ndarray, names: np.ndarray, column: str, fit) -> str | None:
    """One warning naming the rows that get population draws (a new family's), and why."""
    from .errors import format_rows

    parts = []
    rows = np.flatnonzero(source == NO_COLUMN)
    if rows.size:
        parts.append(f"there is no {column!r} column, so all {rows.size} rows get forecasts for a "
                     f"new family drawn from the population (wider); add the column "
                     f"({', '.join(fit.families[:4])}{', ...' if len(fit.families) > 4 else ''}) "
                     "to forecast a fitted family")
    rows = np.flatnonzero(source == MISSING)
    if rows.size:
        parts.append(f"{format_rows(rows)} {'have' if rows.size > 1 else 'has'} no {column!r} "
                     "value: population (new-family) forecasts")
    new = np.flatnonzero(source == NEW_FAMILY)
    if new.size:
        fams = list(dict.fromkeys(names[new].tolist()))
        parts.append(f"famil{'ies' if len(fams) > 1 else 'y'} "
                     f"{', '.join(map(repr, fams[:5]))} {'were' if len(fams) > 1 else 'was'} not "
                     f"fitted: {format_rows(new)} {'get' if new.size > 1 else 'gets'} population draws "
                     "(a new family, wider)")
    return "; ".join(parts) or None


def _log_input_draws(law, name: str, values, shape: tuple[int, int, int]) -> np.ndarray:
    """Validate per-draw input values and return their logarithm."""
    from .errors import DataError, SpecError

    if name not in law.inputs:
        raise SpecError(f"input_draws: {name!r} is not an input of law {law.name!r} "
                        f"(inputs: {', '.join(law.inputs)})")
    arr = np.asarray(values, dtype=float)
    if arr.shape != shape:
        raise SpecError(f"input_draws[{name!r}] has shape {arr.shape}; expected (chain, draw, row) "
                        f"= {shape}, the fit's chains and draws by the rows to predict")
    if not np.isfinite(arr).all() or (arr <= 0).any():
        raise DataError(f"input_draws[{name!r}] must be finite and > 0 (the law takes its log)",
                        column=name)
    return np.log(arr)


@hooks.provide("predict")
def predict(fit, new_data: pd.DataFrame, *, seed: int = 0, discrepancy: bool = True,
            input_draws: dict[str, np.ndarray] | None = None,
            new_families=None) -> Prediction:
    """Predict ``fit``'s target at the rows of ``new_data``.

    Rows beyond the fitted range of their family get the extrapolation discrepancy of
    :mod:`bayeslaws.extrapolation` (a drift that grows with the distance beyond the data,
    measured in widths of the fitted range, its rate learned from backtests inside the training
    data), so their intervals widen honestly; rows 10x or more beyond it also raise an
    :class:`~bayeslaws.ExtrapolationWarning`.

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
    new_data : pandas.DataFrame
        The law's input columns (``flops`` is computed from params and tokens when absent);
        optional ``family``; any other columns are carried through unchanged. Columns under
        the names mapped at fit time (``law.fit(..., columns=...)``) are read and converted as
        then; a column under bayeslaws' own name is taken in raw units (nats, counts).
    seed : int
        Seed of the new-family and observation-noise draws.
    discrepancy : bool
        Include the extrapolation discrepancy (default). False gives the plain posterior
        predictive, which understates the error of forecasts far from the data.
    input_draws : dict, optional
        ``{input: array (chain, draw, row)}``: per-draw values of an input (raw units) that replace
        the column's single value, e.g. loss draws of a fitted loss law feeding a downstream law
        (see :func:`bayeslaws.chain`). The shape must match this fit's chains and draws.
    new_families : list of str, optional
        Family names that are meant to be new (forecast with population draws) although they are
        close to a fitted name; without this a near-miss such as ``'c4_orignal'`` is an error
        naming the fitted ``'c4_original'``.

    A row's draws depend on ``seed``, the fit and the row alone (its inputs and family), not on
    the other rows asked for; rows of one family share one discrepancy path, so forecasts at 10x
    and 100x stay correlated within a request. Rows without a fitted family (a new name, an empty
    family cell, or no family column in a multi-family fit) get population draws, are named in
    one warning, and are marked in ``family_source`` (:meth:`Prediction.summary`).

    Returns
    -------
    Prediction
    """
    from .mapping import for_fit
    from .streams import keyed_rng, row_keys, stable_key

    law = fit.law
    column = fit.config["family_column"]
    # columns under the names the fit was given (``columns=``) are renamed and converted
    canonical = for_fit(fit, new_data, source_form=False)
    row_fam, family_source = _row_families(fit, canonical.reset_index(drop=True), column,
                                           new_families)
    if column in canonical:  # missing families were named above: prepare() would refuse them
        canonical = canonical.reset_index(drop=True).assign(**{column: row_fam})
    table = data_mod.prepare(law, canonical, family_column=column, require_target=False)
    frame = new_data.reset_index(drop=True)
    post = fit.posterior
    known = hierarchy.family_draws(law, post, fit.families)
    labels = list(fit.families)
    notes = []
    note = _population_note(family_source, row_fam, column, fit)
    if note:
        notes.append(note)
        warnings.warn(note, UserWarning, stacklevel=3)
    unseen = [f for f in dict.fromkeys(row_fam.tolist()) if f not in fit.families]
    # a new family's parameters: keyed by the seed and its name, whatever else is asked
    extra = [hierarchy.new_family_draws(law, post, seed, f) for f in unseen]
    labels += unseen
    if extra:
        known = {k: xr.concat([v] + [e[k].expand_dims(family=[lab], axis=-1)
                                     for e, lab in zip(extra, unseen)], dim="family")
                 for k, v in known.items()}
    idx = pd.Index(labels).get_indexer(row_fam)
    x = dict(table.x)
    for name, values in (input_draws or {}).items():
        x[name] = _log_input_draws(law, name, values, (post.sizes["chain"], post.sizes["draw"],
                                                       len(frame)))
    pure = link_draws(law, known, x, idx)
    # Each row's noise comes from its own stream, keyed by the seed and the row (its inputs and
    # family), so a row's forecast does not depend on the other rows asked for.
    keys = row_keys([np.broadcast_to(v, pure.shape).reshape(-1, pure.shape[-1])[0]
                     if np.ndim(v) == 3 else v for v in x.values()], row_fam)
    sigma = post["sigma"].values
    eps = np.empty(pure.shape)
    nu = post["nu"].values if law.noise["likelihood"] == "student_t" else None
    for r, key in enumerate(keys):
        rng = keyed_rng(seed, stable_key("noise"), int(key))
        if nu is not None:
            eps[..., r] = rng.standard_t(nu)
        elif law.noise["likelihood"] == "laplace":
            eps[..., r] = rng.laplace(size=sigma.shape)
        else:
            eps[..., r] = rng.standard_normal(sigma.shape)
    sigma = sigma[..., None]
    # Distance of each row: inputs given as draws are placed at their median.
    d, width, multiple = extrapolation.fit_distance(fit, {k: np.median(v, axis=(0, 1)) if np.ndim(v) == 3
                                         else v for k, v in x.items()}, row_fam)
    link = pure
    if discrepancy and (d > 0).any():
        found = fit.discrepancy
        if found is not None:
            link = pure + found.draws(d, row_fam, stable_key("discrepancy", seed), width=width,
                                      keys=keys)
    far = d >= WARN_DECADES
    if far.any():
        from .errors import format_rows

        off = not (discrepancy and fit.config.get("extrapolation", "backtest"))
        warnings.warn(f"{format_rows(np.flatnonzero(far))} lie up to {10 ** d.max():.3g}x beyond "
                      "the fitted range (in compute or a scale input of the law); "
                      + ("the extrapolation discrepancy is switched off, so their intervals are "
                         "too narrow" if off else
                         "their intervals include the extrapolation discrepancy"),
                      ExtrapolationWarning, stacklevel=3)
    noisy = link + sigma * eps
    if law.positive_target:
        with np.errstate(over="ignore"):  # far t-noise tails may overflow to inf: harmless
            link, noisy, pure = np.exp(link), np.exp(noisy), np.exp(pure)
    dims = ("chain", "draw", "row")
    coords = {"chain": post["chain"].values, "draw": post["draw"].values,
              "row": np.arange(len(frame)), "family": ("row", row_fam.astype(str)),
              "extrapolation": ("row", d), "compute_multiple": ("row", multiple),
              "family_source": ("row", family_source.astype(str))}
    ds = xr.Dataset({law.target: (dims, link), f"{law.target}_predictive": (dims, noisy),
                     f"{law.target}_law": (dims, pure)}, coords=coords)
    return Prediction(ds, frame, law.target, notes + table.notes)


