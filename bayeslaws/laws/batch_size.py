r"""Optimal learning rate and batch size (Li et al. 2025 step law) and Kaplan's critical batch size."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import BayeslawsError
from .base import Law, Param

#: Reference scales: the sampled loss floor, LR optimum and batch optimum are their values here.
N_REF = 5e8
D_REF = 3e10

#: Pooling by default: the optimum's location varies from cell to cell around the power laws
#: (partial); each cell's best loss is its own (independent); exponents and curvatures are shared.
DEFAULT_POOLING = {"L": "independent", "eta0": "partial", "B0": "partial"}


class BatchSize(Law):
    r"""Loss over a learning-rate x batch-size grid, with the optimum a power law in N and D.

    Each (N, D) cell (the ``family``) is a valley in :math:`u = \log\eta - \log\eta^*(N, D)` and
    :math:`w = \log B - \log B^*(D)`, approximated to second order:

    .. math::

        \log L = \log L^*(N, D) + k_\eta u^2 + k_B w^2 + k_{\eta B}\, u w,

    .. math::

        \eta^*(N, D) = c_\eta N^{\alpha} D^{\beta},\qquad B^*(D) = c_B D^{\gamma},\qquad

    and :math:`L^*` each cell's best loss, the forms of Li et al. 2025 ("step law": :math:`\eta^* = 1.79 N^{-0.713} D^{0.307}`,
    :math:`B^* = 0.58 D^{0.571}` tokens). :math:`\eta^*, B^*` and :math:`L^*` are sampled at the
    reference scales :math:`\bar N = 5\cdot10^8`, :math:`\bar D = 3\cdot10^{10}` (``eta0``,
    ``B0``) and the paper's :math:`c_\eta, c_B` are derived.

    Why this model. Li et al. take each cell's best grid point and fit power laws to those optima
    (with a bootstrap). A grid minimum is quantised to the grid (factors of about 1.4 in LR and
    batch) and ignores the other runs of the cell, which carry most of the information about
    where the valley is. Here every run near the optimum informs the cell's optimum, each cell's
    optimum scatters around the power laws (``eta0``, ``B0`` partially pooled across cells;
    exponents and curvatures shared; each cell's best loss ``L`` its own, since the loss itself
    is the business of the loss laws such as ``chinchilla``), so a new (N, D) gets the power law's uncertainty plus the
    cell-to-cell scatter. The quadratic is a second-order expansion, so fits use the runs within
    2% of their cell's best loss (``near_optimum`` in the bundled data), where it fits to about
    0.2% in loss; far from the optimum the valley is not quadratic (and is asymmetric in LR).

    Parameters
    ----------
    L : the cell's best loss (independent per cell).
    eta0 : optimal peak learning rate at the reference scales; alpha, beta its exponents.
    B0 : optimal batch size (tokens) at D = 3e10; gamma its exponent in D.
    k_lr, k_bs, k_x : curvatures of log loss in log LR, log batch and their cross term.
    c_eta, c_B : the paper's coefficients, derived.

    References
    ----------
    Li et al. 2025, "Predictable Scale: Part I -- Optimal Hyperparameter Scaling Law in Large
    Language Model Pretraining", arXiv:2503.04715; data step-law/steplaw.
    Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv:2001.08361 (Eq. 1.4,
    :func:`critical_batch`).
    """

    name = "batch-size"
    target = "loss"
    inputs = ("params", "tokens", "lr", "batch_size")
    params = (
        Param("L", math.log(3.0), 0.5, doc="the cell's best loss"),
        Param("eta0", math.log(1e-3), 1.5, family_scale=0.3, doc="optimal LR at N = 5e8, D = 3e10"),
        Param("alpha", 0.0, 1.0, log=False, doc="exponent of the optimal LR in N"),
        Param("beta", 0.0, 1.0, log=False, doc="exponent of the optimal LR in D"),
        Param("B0", math.log(5e5), 1.5, family_scale=0.3, doc="optimal batch (tokens) at D = 3e10"),
        Param("gamma", 0.0, 1.0, log=False, doc="exponent of the optimal batch size in D"),
        Param("k_lr", math.log(0.01), 1.0, doc="curvature of log loss in log LR"),
        Param("k_bs", math.log(0.01), 1.0, doc="curvature of log loss in log batch size"),
        Param("k_x", 0.0, 0.01, log=False, doc="cross curvature in log LR x log batch size"),
    )
    derived_names = ("c_eta", "c_B")
    formula_text = ("log L = log L* + k_lr u^2 + k_bs w^2 + k_x u w, u = log(lr/eta*(N,D)), "
                    "w = log(B/B*(D)), eta* = c_eta N^alpha D^beta, B* = c_B D^gamma")
    reference = "Li et al. 2025, arXiv:2503.04715; Kaplan et al. 2020"
    default_noise = {"likelihood": "student_t", "sigma_scale": 0.01}

    def __init__(self, *, pooling=None, **kwargs):
        if pooling is None:
            pooling = {p.name: DEFAULT_POOLING.get(p.name, "shared") for p in type(self).params}
        super().__init__(pooling=pooling, **kwargs)

    @staticmethod
    def optimum(x, p, xp):
        """Return ``(log eta*, log B*)`` at log inputs ``x['params'], x['tokens']``."""
        ln = x["params"] - math.log(N_REF)
        ld = x["tokens"] - math.log(D_REF)
        log_eta = p["log_eta0"] + p["alpha"] * ln + p["beta"] * ld
        log_b = p["log_B0"] + p["gamma"] * ld
        return log_eta, log_b

    def formula(self, x, p, xp):
        """Return log L (see the class docstring)."""
        log_eta, log_b = self.optimum(x, p, xp)
        u = x["lr"] - log_eta
        w = x["batch_size"] - log_b
        return p["log_L"] + p["k_lr"] * u * u + p["k_bs"] * w * w + p["k_x"] * u * w

    def derived(self, p, xp):
        """Return the paper's coefficients c_eta and c_B."""
        return {"c_eta": xp.exp(p["log_eta0"] - p["alpha"] * math.log(N_REF)
                                - p["beta"] * math.log(D_REF)),
                "c_B": xp.exp(p["log_B0"] - p["gamma"] * math.log(D_REF))}


#: The parameters that place the optimum (the best loss L is not needed for it).
OPTIMUM_PARAMS = ("eta0", "alpha", "beta", "B0", "gamma")


def _optimum_draws(fit, family, seed) -> dict:
    """Paper-scale draws of the optimum's parameters for a fitted cell or a new one."""
    from ..hierarchy import population_draws

    law = fit.law
    if family in fit.families:
        sampled = fit.sampled_draws(family)
    elif family in (None, "population"):
        keep = {n: law.pooling[n] for n in OPTIMUM_PARAMS}
        if "independent" in keep.values():
            raise BayeslawsError("a new (N, D) needs partial or shared pooling of "
                                 f"{', '.join(OPTIMUM_PARAMS)}; refit without independent pooling")
        sub = law.with_options(pooling={n: keep.get(n, "shared") for n in law.pooling})
        post = fit.posterior
        sampled = population_draws(sub, post.assign({"log_L": post["log_L"].isel(family=0)}),
                                   np.random.default_rng(seed))
    else:
        raise BayeslawsError(f"family {family!r} is not in this fit; choose one of "
                             f"{fit.families + ['population']}")
    return sampled


def optimal_hyperparameters(fit, params, tokens, *, family=None, seed: int = 0) -> xr.Dataset:
    r"""Optimal peak learning rate and batch size for new (N, D), as posterior draws.

    A new (N, D) cell gets population draws: the power laws
    :math:`\eta^* = c_\eta N^\alpha D^\beta`, :math:`B^* = c_B D^\gamma` with their posterior
    uncertainty plus the fitted cell-to-cell scatter of the optimum.

    Parameters
    ----------
    fit : bayeslaws.Fit
        A fit of the ``batch-size`` law.
    params, tokens : float or array-like
        Model sizes and training tokens (broadcast against each other).
    family : str, optional
        A fitted cell instead of a new one.

    Returns
    -------
    xarray.Dataset
        ``lr_opt`` and ``batch_size_opt`` (tokens), dims ``(chain, draw, row)``.
    """
    if fit.law.name != "batch-size":
        raise BayeslawsError(f"optimal_hyperparameters needs a 'batch-size' fit, not {fit.law.name!r}")
    n, d = np.broadcast_arrays(np.atleast_1d(np.asarray(params, dtype=float)),
                               np.atleast_1d(np.asarray(tokens, dtype=float)))
    if not ((n > 0).all() and (d > 0).all() and np.isfinite(n).all() and np.isfinite(d).all()):
        raise BayeslawsError("params and tokens must be positive finite counts")
    sampled = _optimum_draws(fit, family, seed)
    p = fit.law.natural({k: v.values[..., None] for k, v in sampled.items()}, np)
    log_eta, log_b = fit.law.optimum({"params": np.log(n), "tokens": np.log(d)}, p, np)
    template = next(iter(sampled.values()))
    dims = ("chain", "draw", "row")
    shape = template.shape + n.shape
    coords = {"chain": template["chain"].values, "draw": template["draw"].values,
              "row": np.arange(n.size), "params": ("row", n), "tokens": ("row", d)}
    return xr.Dataset({"lr_opt": (dims, np.broadcast_to(np.exp(log_eta), shape)),
                       "batch_size_opt": (dims, np.broadcast_to(np.exp(log_b), shape))},
                      coords=coords)


def optimal_hyperparameters_table(fit, params, tokens, *, prob: float = 0.9, **kwargs) -> pd.DataFrame:
    """:func:`optimal_hyperparameters` summarised: median and equal-tailed bounds per row."""
    from ..intervals import describe

    ds = optimal_hyperparameters(fit, params, tokens, **kwargs)
    out = pd.DataFrame({"params": ds["params"].values, "tokens": ds["tokens"].values})
    for q in ("lr_opt", "batch_size_opt"):
        s = describe(ds[q], prob)
        for stat in ("median", "lower", "upper"):
            out[f"{q}_{stat}"] = s[stat].values
    return out


def critical_batch(fit) -> xr.Dataset:
    r"""Kaplan's critical batch size :math:`B_{crit}(L) = B_*/L^{1/\alpha_B}` from a step-law fit.

    Reading each fitted cell's optimal batch size as the critical batch at the loss the cell
    reaches (:math:`B^*(D)` against the cell's best loss :math:`L^*`), a least-squares line of
    :math:`\log B^*` on :math:`\log L^*` across the cells, draw by draw, gives
    :math:`-1/\alpha_B` and :math:`\log B_*` as posterior draws. Kaplan et al. 2020 report
    :math:`B_* \approx 2\cdot10^8` tokens and :math:`\alpha_B \approx 0.21` (WebText2, loss in
    nats; :math:`B_*` depends on the tokenizer and data, the exponent transfers better).

    Returns
    -------
    xarray.Dataset
        ``alpha_B`` and ``B_star`` (tokens), dims ``(chain, draw)``.
    """
    if fit.law.name != "batch-size":
        raise BayeslawsError(f"critical_batch needs a 'batch-size' fit, not {fit.law.name!r}")
    if len(fit.families) < 3:
        raise BayeslawsError("critical_batch needs a fit with at least 3 (N, D) cells")
    cells = fit.data.groupby(fit.config["family_column"], sort=False)[["params", "tokens"]].first()
    cells = cells.loc[fit.families]
    sampled = fit.sampled_draws()
    p = fit.law.natural({k: v.values for k, v in sampled.items()}, np)
    x = {"params": np.log(cells["params"].to_numpy(float)),
         "tokens": np.log(cells["tokens"].to_numpy(float))}
    _, log_b = fit.law.optimum(x, p, np)
    log_l = p["log_L"]
    log_l = np.broadcast_to(log_l, np.broadcast(log_l, log_b).shape)
    log_b = np.broadcast_to(log_b, log_l.shape)
    lc = log_l - log_l.mean(-1, keepdims=True)
    slope = (lc * (log_b - log_b.mean(-1, keepdims=True))).sum(-1) / (lc * lc).sum(-1)
    intercept = log_b.mean(-1) - slope * log_l.mean(-1)
    template = next(iter(sampled.values()))
    dims = ("chain", "draw")
    coords = {"chain": template["chain"].values, "draw": template["draw"].values}
    return xr.Dataset({"alpha_B": (dims, -1.0 / slope), "B_star": (dims, np.exp(intercept))},
                      coords=coords)


BatchSize.fit_methods = {"optimal_hyperparameters": optimal_hyperparameters,
                         "critical_batch": critical_batch}
