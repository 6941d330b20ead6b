r"""Compute-optimal allocation as posterior draws.

For a budget :math:`C = 6ND`, the optimum minimises the law along the budget line:
:math:`N^*(C) = \arg\min_N L(N, C/(6N))`, :math:`D^* = C/(6N^*)`. Chinchilla has a closed form
(Hoffmann et al. 2022, Eq. 4); other laws of N and D are minimised numerically per draw by
golden-section search in :math:`\log N` (the loss is unimodal along the budget line for
Chinchilla- and Kaplan-type laws).

The loss at the optimum carries the extrapolation discrepancy that ``predict`` adds to a forecast
(:mod:`bayeslaws.extrapolation`): a budget beyond the fitted compute is a forecast, and its loss
interval is the one ``predict`` gives at (N*, D*). That discrepancy is a function of the distance
beyond the fitted range, which along a budget line beyond the data is the compute's excess, so it
lifts the whole line alike and moves no argmin.

N* and D* carry an *allocation error* of their own, the law's form placing the optimum off the
measured one (the Chinchilla form fitted to a whole surface against the vertices of the IsoFLOP
sweeps, Hoffmann et al.'s approach 3 against approach 2):

.. math::

    \log N^*_{\text{measured}} = \log N^*_{\text{law}} + \epsilon, \quad
    \epsilon \sim \mathcal N\big(0,\ k_0^2 + k_1^2\, u\big), \qquad
    \log D^* = \log(C/6) - \log N^*,

with :math:`u = d / W` the distance of the budget beyond the family's fitted compute in widths
of that range (:func:`bayeslaws.extrapolation.relative_distance`). :data:`ALLOCATION_ERROR`
holds :math:`(k_0, k_1)`, learned on the held-out IsoFLOP minima of three studies
(``benchmarks/optimal_calibration.py``); the error is zero-mean because the studies disagree in
sign (the law puts N* about 20% too low on Porian et al.'s recipes and 40% too high on Hoffmann
et al.'s runs).
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
#: ``(k0, k1)`` of the allocation error of log N*, sd = sqrt(k0^2 + k1^2 u) with u the distance
#: beyond the fitted compute in widths of it: maximum likelihood on 77 held-out and 123 fitted
#: IsoFLOP minima of Porian et al. (2024, 8 recipes), Hoffmann et al. (2022, via Epoch) and
#: Muennighoff et al. (2023) (``benchmarks/optimal_calibration.py``, form ``floor + walk``).
#: Learned on two studies and scored on the third, its 90% intervals covered 86-100% of the
#: third's held-out minima, where the law's posterior alone covered 20-55%
#: (``docs/calibration.md``).
ALLOCATION_ERROR = (0.132, 0.433)


def allocation_sd(u) -> np.ndarray:
    r"""Sd of the allocation error of :math:`\log N^*` at relative distance ``u`` (0 inside the
    fitted range): :math:`\sqrt{k_0^2 + k_1^2 u}` with :data:`ALLOCATION_ERROR`."""
    k0, k1 = ALLOCATION_ERROR
    return np.sqrt(k0 ** 2 + k1 ** 2 * np.maximum(np.asarray(u, dtype=float), 0.0))


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


def _median_optimum(fit, log_n, log_d, labels, inputs):
    """Each family's median optimum as a row of the law's log inputs, and its distance beyond
    the family's fitted range: ``(x, decades, width in decades)``."""
    log_n, log_d = np.median(log_n, axis=(0, 1)), np.median(log_d, axis=(0, 1))
    given = {"params": log_n, "tokens": log_d, "flops": log_n + log_d + math.log(6.0)}
    given.update({k: np.full(len(labels), math.log(v)) for k, v in (inputs or {}).items()})
    x = {k: given[k] for k in fit.law.inputs}
    d, width, _ = extrapolation.fit_distance(fit, x, np.asarray(labels).astype(str))
    return x, d, width


def _discrepancy(fit, x, d, width, labels, seed) -> np.ndarray | float:
    """Discrepancy draws ``(chain, draw, family)`` at each family's median optimum ``x``, as
    :func:`bayeslaws.predict.predict` draws them for that row (0 inside the fitted range)."""
    from .streams import row_keys, stable_key

    found = fit.discrepancy
    if found is None or not (d > 0).any():
        return 0.0
    fam = np.asarray(labels).astype(str)
    keys = row_keys(list(x.values()), fam)
    return found.draws(d, fam, stable_key("discrepancy", seed), width=width, keys=keys)


def _allocation_error(shape, d, width, labels, seed) -> np.ndarray:
    """Draws ``(chain, draw, family)`` of the allocation error of log N* (:func:`allocation_sd`).

    One standard normal per draw and family, keyed by the seed and the family's name alone, so
    a family's error is the same draw at every budget: its N*(C) frontier stays one smooth
    curve per draw, widening with the distance."""
    from .streams import keyed_rng, stable_key

    z = np.stack([keyed_rng(seed, stable_key("allocation", str(f))).standard_normal(shape[:2])
                  for f in labels], axis=-1)
    return z * allocation_sd(d / width)[None, None, :]


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
        the fitted range (drawn as ``predict`` draws it for a row at the median optimum), and
        the allocation error (:func:`allocation_sd`) to N* and D*. False, or a fit made with
        ``extrapolation=None``: the law's posterior alone.

    Raises
    ------
    BayeslawsError
        For a non-positive or non-finite budget, or an unknown family.

    Notes
    -----
    N* and D* are the law's posterior plus the allocation error (module docstring): on held-out
    IsoFLOP minima of three studies, 2-90x beyond the fitted budgets, the posterior alone covered
    20-55% at 90% (N* off by a factor 1.2-1.4), with the allocation error 86-100%, learned
    without the study scored (``benchmarks/optimal_calibration.py``, ``docs/calibration.md``).
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
        x, d, width = _median_optimum(fit, log_n, log_d, labels, inputs)
        link = link + _discrepancy(fit, x, d, width, labels, seed)
        shift = _allocation_error(log_n.shape, d, width, labels, seed)
        log_n, log_d = log_n + shift, log_d - shift
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
