"""Summaries of posterior draws: mean, median and equal-tailed intervals (default prob 0.9)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .errors import BayeslawsError

#: The credible-interval probability used everywhere in bayeslaws (not ArviZ's 0.89).
DEFAULT_PROB = 0.9
SAMPLE_DIMS = ("chain", "draw")


def check_prob(prob: float) -> float:
    """Return ``prob`` as a float in (0, 1) or raise a clear error."""
    try:
        prob = float(prob)
    except (TypeError, ValueError):
        raise BayeslawsError(f"interval probability must be a number in (0, 1), not {prob!r}") from None
    if not 0.0 < prob < 1.0:
        raise BayeslawsError(f"interval probability must lie strictly between 0 and 1, not {prob:g}"
                             " (e.g. 0.9 for a 90% interval)")
    return prob


def equal_tailed(da: xr.DataArray, prob: float = DEFAULT_PROB) -> tuple[xr.DataArray, xr.DataArray]:
    """Lower and upper bounds of the equal-tailed ``prob`` interval over chain and draw."""
    prob = check_prob(prob)
    q = da.quantile([(1 - prob) / 2, (1 + prob) / 2], dim=SAMPLE_DIMS)
    return q.isel(quantile=0, drop=True), q.isel(quantile=1, drop=True)


def describe(da: xr.DataArray, prob: float = DEFAULT_PROB) -> dict[str, xr.DataArray]:
    """``{"mean", "median", "lower", "upper"}`` of draws over chain and draw."""
    lower, upper = equal_tailed(da, prob)
    return {"mean": da.mean(SAMPLE_DIMS), "median": da.median(SAMPLE_DIMS),
            "lower": lower, "upper": upper}


def flatten(da: xr.DataArray) -> np.ndarray:
    """Stack chain and draw into one leading axis."""
    return da.stack(sample=SAMPLE_DIMS).transpose("sample", ...).values
