"""Posterior draws of a fitted law on new rows: the law curve and the posterior predictive.

A row whose family was fitted uses that family's draws; a row of an unseen family uses a new
family drawn from the population (wider, and honest about it); without a ``family`` column a
one-family fit uses its family and a multi-family fit the population.
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
        row lies (1 inside it), on the axis where it is farthest out."""
        out = self.interval(prob)
        out["extrapolation"] = 10.0 ** self.distance
        return out

    def __repr__(self) -> str:
        return f"<Prediction of {self.target} at {self.draws.sizes['row']} rows>"


def _row_families(fit, table, new_data: pd.DataFrame) -> np.ndarray:
    if table.has_family:
        return table.family
    label = fit.families[0] if len(fit.families) == 1 else POPULATION
    return np.array([label] * len(new_data), dtype=object)


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
            input_draws: dict[str, np.ndarray] | None = None) -> Prediction:
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

    Returns
    -------
    Prediction
    """
    from .mapping import for_fit

    law = fit.law
    # columns under the names the fit was given (``columns=``) are renamed and converted
    table = data_mod.prepare(law, for_fit(fit, new_data, source_form=False),
                             family_column=fit.config["family_column"], require_target=False)
    frame = new_data.reset_index(drop=True)
    row_fam = _row_families(fit, table, frame)
    rng = np.random.default_rng(seed)
    post = fit.posterior
    known = hierarchy.family_draws(law, post, fit.families)
    labels = list(fit.families)
    notes = []
    unseen = [f for f in dict.fromkeys(row_fam.tolist()) if f not in fit.families]
    extra = []
    for fam in unseen:
        extra.append(hierarchy.population_draws(law, post, rng))
        labels.append(fam)
        if fam != POPULATION:
            notes.append(f"family {fam!r} was not fitted: its rows use population draws")
    if notes:
        warnings.warn("; ".join(notes), UserWarning, stacklevel=3)
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
    sigma = post["sigma"].values[..., None]
    if law.noise["likelihood"] == "student_t":
        eps = rng.standard_t(np.broadcast_to(post["nu"].values[..., None], pure.shape))
    elif law.noise["likelihood"] == "laplace":
        eps = rng.laplace(size=pure.shape)
    else:
        eps = rng.standard_normal(pure.shape)
    # Distance of each row: inputs given as draws are placed at their median.
    d, width = _distance(fit, {k: np.median(v, axis=(0, 1)) if np.ndim(v) == 3 else v
                               for k, v in x.items()}, row_fam)
    link = pure
    if discrepancy and (d > 0).any():
        found = fit.discrepancy
        if found is not None:
            link = pure + found.draws(d, row_fam, np.random.default_rng([seed, 11]), width=width)
    far = d >= WARN_DECADES
    if far.any():
        warnings.warn(f"{far.sum()} row(s) lie up to {10 ** d.max():.3g}x beyond the fitted range "
                      f"(rows {', '.join(map(str, np.flatnonzero(far)[:8]))}); their intervals "
                      "include the extrapolation discrepancy"
                      + ("" if discrepancy and fit.config.get("extrapolation", "backtest")
                         else ", which is switched off, so they are too narrow"),
                      ExtrapolationWarning, stacklevel=3)
    noisy = link + sigma * eps
    if law.positive_target:
        with np.errstate(over="ignore"):  # far t-noise tails may overflow to inf: harmless
            link, noisy, pure = np.exp(link), np.exp(noisy), np.exp(pure)
    dims = ("chain", "draw", "row")
    coords = {"chain": post["chain"].values, "draw": post["draw"].values,
              "row": np.arange(len(frame)), "family": ("row", row_fam.astype(str)),
              "extrapolation": ("row", d)}
    ds = xr.Dataset({law.target: (dims, link), f"{law.target}_predictive": (dims, noisy),
                     f"{law.target}_law": (dims, pure)}, coords=coords)
    return Prediction(ds, frame, law.target, notes + table.notes)


def _distance(fit, x: dict, row_fam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decades beyond the fitted range per row, and the decades that range spans; a population
    row is measured against all data."""
    train = data_mod.prepare(fit.law, fit.data, family_column=fit.config["family_column"],
                             require_target=False)
    train_fam = np.asarray(train.family).astype(str)
    if not train.has_family:
        train_fam = np.full(len(train_fam), fit.families[0])
    return (extrapolation.distance(fit.law, train.x, train_fam, x, row_fam),
            extrapolation.fitted_width(fit.law, train.x, train_fam, row_fam))
