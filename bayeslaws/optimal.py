r"""Compute-optimal allocation as posterior draws.

For a budget :math:`C = 6ND`, the optimum minimises the law along the budget line:
:math:`N^*(C) = \arg\min_N L(N, C/(6N))`, :math:`D^* = C/(6N^*)`. Chinchilla has a closed form
(Hoffmann et al. 2022, Eq. 4); other laws of N and D are minimised numerically per draw by
golden-section search in :math:`\log N` (the loss is unimodal along the budget line for
Chinchilla- and Kaplan-type laws).

The loss at the optimum carries the extrapolation discrepancy that ``predict`` adds to a forecast
(:mod:`bayeslaws.extrapolation`): a budget beyond the fitted compute is a forecast, and its loss
interval is the one ``predict`` gives at (N*, D*). N* and D* are left as the law puts them: the
discrepancy is a function of the distance beyond the fitted range, which along a budget line
beyond the data is the compute's excess (larger than the excess in N or in D near the optimum),
so it shifts the whole line alike and moves no argmin. Errors of the allocation itself (an
exponent of N off against that of D) are not in that model; the calibration corpus has too few
held-out IsoFLOP minima to learn them (``docs/calibration.md``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from . import extrapolation, hierarchy, hooks
from .errors import BayeslawsError, SpecError
from .intervals import DEFAULT_PROB, describe
from .numerics import golden_section  # noqa: F401  (also used by the vocab law)

QUANTITIES = ("N_opt", "D_opt", "tokens_per_param", "loss_opt")


def _allocation(law, p: dict[str, np.ndarray], flops: float, inputs: dict | None = None):
    """Return ``(log N*, log D*, link-scale law at the optimum)`` per draw.

    ``inputs`` fixes the law's other inputs (e.g. ``unique_tokens`` of ``data-constrained``)
    along the budget line.
    """
    inputs = dict(inputs or {})
    extra = [c for c in law.inputs if c not in ("params", "tokens", "flops")]
    if not {"params", "tokens"} <= set(law.inputs):
        raise SpecError(f"law {law.name!r} has inputs {', '.join(law.inputs)}: a compute-optimal "
                        "split of FLOPs into params and tokens needs a law of params and tokens "
                        "(e.g. chinchilla or kaplan)")
    missing = [c for c in extra if c not in inputs]
    if missing:
        raise SpecError(f"law {law.name!r} also depends on {', '.join(missing)}: give its value "
                        f"along the budget line, e.g. inputs={{{missing[0]!r}: 25e9}} (CLI: "
                        f"--{missing[0].replace('_', '-')})")
    unknown = [c for c in inputs if c not in extra]
    if unknown:
        raise SpecError(f"law {law.name!r} has no fixed input {unknown[0]!r}; its inputs besides "
                        f"params and tokens are: {', '.join(extra) or 'none'}")
    for name, value in inputs.items():
        if not (np.isfinite(value) and value > 0):
            raise BayeslawsError(f"{name} must be a positive finite number, not {value!r}")
    log_c6 = math.log(flops / 6.0)

    def link(log_n):
        x = {"params": log_n, "tokens": log_c6 - log_n, "flops": np.full_like(log_n, math.log(flops))}
        x.update({k: np.full_like(log_n, math.log(v)) for k, v in inputs.items()})
        return law.formula(x, p, np)

    if hasattr(law, "optimal_allocation") and not extra:
        log_n, log_d = law.optimal_allocation(p, flops, np)
    else:
        shape = np.broadcast(*p.values()).shape
        # bracket: at least 1 parameter and 1 token per parameter-count range of the budget
        log_n = golden_section(link, np.zeros(shape), np.full(shape, log_c6))
        log_d = log_c6 - log_n
    return log_n, log_d, link(log_n)


def _discrepancy(fit, log_n, log_d, labels, inputs, seed) -> np.ndarray | float:
    """Discrepancy draws ``(chain, draw, family)`` at each family's median optimum, as
    :func:`bayeslaws.predict.predict` draws them for that row (0 inside the fitted range)."""
    from .streams import row_keys, stable_key

    log_n, log_d = np.median(log_n, axis=(0, 1)), np.median(log_d, axis=(0, 1))
    given = {"params": log_n, "tokens": log_d, "flops": log_n + log_d + math.log(6.0)}
    given.update({k: np.full(len(labels), math.log(v)) for k, v in (inputs or {}).items()})
    x = {k: given[k] for k in fit.law.inputs}
    fam = np.asarray(labels).astype(str)
    d, width, _ = extrapolation.fit_distance(fit, x, fam)
    if not (d > 0).any():
        return 0.0
    found = fit.discrepancy
    if found is None:
        return 0.0
    keys = row_keys(list(x.values()), fam)
    return found.draws(d, fam, stable_key("discrepancy", seed), width=width, keys=keys)


class Optimum:
    """Draws of N*, D*, D*/N* and the loss at a compute budget, per family and population.

    Attributes
    ----------
    draws : xarray.Dataset
        ``N_opt``, ``D_opt``, ``tokens_per_param``, ``loss_opt`` with dims
        ``(chain, draw, family)``.
    flops : float
    """

    def __init__(self, draws: xr.Dataset, flops: float):
        self.draws = draws
        self.flops = flops

    def table(self, prob: float = DEFAULT_PROB) -> pd.DataFrame:
        """One row per family: median, lower and upper of each quantity."""
        cols = {}
        for q in QUANTITIES:
            d = describe(self.draws[q], prob)
            for stat in ("median", "lower", "upper"):
                cols[f"{q}_{stat}"] = d[stat].values
        out = pd.DataFrame(cols, index=pd.Index(self.draws["family"].values, name="family"))
        out.insert(0, "flops", self.flops)
        return out

    def __repr__(self) -> str:
        return f"<Optimum at C={self.flops:.3g} FLOPs for {list(self.draws['family'].values)}>"


@hooks.provide("optimal")
def optimal(fit, flops, *, family: str | None = None, seed: int = 0,
            inputs: dict | None = None, discrepancy: bool = True) -> Optimum:
    """Compute-optimal allocation of ``flops`` for each family and a new (population) family.

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
    flops : float
        Training budget C in FLOPs (C = 6ND).
    family : str, optional
        Only this family (a fitted one, or ``"population"``).
    seed : int
        Seed of the population draws.
    inputs : dict, optional
        Values of the law's inputs other than params and tokens, held fixed along the budget
        line (e.g. ``{"unique_tokens": 25e9}`` for ``data-constrained``).
    discrepancy : bool
        Add the fit's extrapolation discrepancy to ``loss_opt`` where the optimum lies beyond
        the fitted range (drawn as ``predict`` draws it for a row at the median optimum).
        False: the law's curve alone.

    Raises
    ------
    BayeslawsError
        For a non-positive or non-finite budget, or an unknown family.

    Notes
    -----
    N* and D* carry the law's posterior alone: the discrepancy lifts a whole budget line alike
    and moves no optimum. An error of the allocation itself is outside the model, and on
    held-out IsoFLOP minima (Porian et al.'s recipes, 2-32x beyond the fitted budgets) these
    90% intervals covered 50-57%, with N* about 20% off (``benchmarks/optimal_calibration.py``,
    ``docs/calibration.md``).
    """
    try:
        flops = float(flops)
    except (TypeError, ValueError):
        raise BayeslawsError(f"flops must be a number, not {flops!r}") from None
    if not (np.isfinite(flops) and flops > 0):
        raise BayeslawsError(f"flops must be a positive finite number of FLOPs, not {flops:g}")
    law = fit.law
    post = fit.posterior
    draws = hierarchy.family_draws(law, post, fit.families)
    labels = list(fit.families)
    if hierarchy.has_population(law):
        pop = hierarchy.new_family_draws(law, post, seed)
        draws = {k: xr.concat([v, pop[k].expand_dims(family=["population"], axis=-1)], "family")
                 for k, v in draws.items()}
        labels.append("population")
    if family is not None:
        if family not in labels:
            raise BayeslawsError(f"family {family!r} is not in this fit; choose one of {labels}")
        draws = {k: v.sel(family=[family]) for k, v in draws.items()}
        labels = [family]
    p = law.natural({k: v.values for k, v in draws.items()}, np)
    log_n, log_d, link = _allocation(law, p, flops, inputs)
    if discrepancy and fit.config.get("extrapolation", "backtest") is not None:
        link = link + _discrepancy(fit, log_n, log_d, labels, inputs, seed)
    loss = np.exp(link) if law.positive_target else link
    template = next(iter(draws.values()))
    dims = ("chain", "draw", "family")
    coords = {"chain": template["chain"].values, "draw": template["draw"].values, "family": labels}
    ds = xr.Dataset({"N_opt": (dims, np.exp(log_n)), "D_opt": (dims, np.exp(log_d)),
                     "tokens_per_param": (dims, np.exp(log_d - log_n)), "loss_opt": (dims, loss)},
                    coords=coords)
    return Optimum(ds, flops)


def frontier_inputs(fit, budgets, family: str, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Each posterior draw's compute-optimal N* and D* at every budget, ready to be forecast:
    ``{"params": (chain, draw, budget), "tokens": (chain, draw, budget)}`` for
    ``fit.predict(rows, input_draws=...)``, one row per budget (the forecast along the fitted
    frontier of ``bayeslaws predict --frontier``, the forecast figure and the report).

    Raises
    ------
    BayeslawsError
        From :func:`optimal`, e.g. for a law that is not a law of params and tokens.
    """
    opts = [optimal(fit, c, family=family, seed=seed) for c in budgets]
    return {"params": np.stack([o.draws["N_opt"].values[..., 0] for o in opts], axis=-1),
            "tokens": np.stack([o.draws["D_opt"].values[..., 0] for o in opts], axis=-1)}
