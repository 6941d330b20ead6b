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
from . import hierarchy
from .intervals import DEFAULT_PROB, describe

POPULATION = "population"


def link_draws(law, sampled: dict[str, xr.DataArray], x: dict[str, np.ndarray],
               family_idx: np.ndarray) -> np.ndarray:
    """Law on the link scale, shape ``(chain, draw, row)``.

    Parameters
    ----------
    sampled : dict
        Sampling-scale draws with dims ``(chain, draw, family)``.
    x : dict
        Log inputs per row.
    family_idx : numpy.ndarray
        Index along ``family`` of each row.
    """
    rows = {k: v.values[:, :, family_idx] for k, v in sampled.items()}
    return np.asarray(law.formula(x, law.natural(rows, np), np))


class Prediction:
    """Draws at each requested row, with interval summaries.

    Attributes
    ----------
    draws : xarray.Dataset
        ``<target>`` (the law curve) and ``<target>_predictive`` (with observation noise), dims
        ``(chain, draw, row)``, row order as given; coordinate ``family`` per row.
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

    def __repr__(self) -> str:
        return f"<Prediction of {self.target} at {self.draws.sizes['row']} rows>"


def _row_families(fit, table, new_data: pd.DataFrame) -> np.ndarray:
    if table.has_family:
        return table.family
    label = fit.families[0] if len(fit.families) == 1 else POPULATION
    return np.array([label] * len(new_data), dtype=object)


def predict(fit, new_data: pd.DataFrame, *, seed: int = 0) -> Prediction:
    """Predict ``fit``'s target at the rows of ``new_data``.

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
    new_data : pandas.DataFrame
        The law's input columns (``flops`` is computed from params and tokens when absent);
        optional ``family``; any other columns are carried through unchanged.
    seed : int
        Seed of the new-family and observation-noise draws.

    Returns
    -------
    Prediction
    """
    law = fit.law
    table = data_mod.prepare(law, new_data, family_column=fit.config["family_column"],
                             require_target=False)
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
    link = link_draws(law, known, table.x, idx)
    sigma = post["sigma"].values[..., None]
    if law.noise["likelihood"] == "student_t":
        eps = rng.standard_t(np.broadcast_to(post["nu"].values[..., None], link.shape))
    elif law.noise["likelihood"] == "laplace":
        eps = rng.laplace(size=link.shape)
    else:
        eps = rng.standard_normal(link.shape)
    noisy = link + sigma * eps
    if law.positive_target:
        link, noisy = np.exp(link), np.exp(noisy)
    dims = ("chain", "draw", "row")
    coords = {"chain": post["chain"].values, "draw": post["draw"].values,
              "row": np.arange(len(frame)), "family": ("row", row_fam.astype(str))}
    ds = xr.Dataset({law.target: (dims, link), f"{law.target}_predictive": (dims, noisy)},
                    coords=coords)
    return Prediction(ds, frame, law.target, notes + table.notes)
