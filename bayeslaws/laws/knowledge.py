r"""Knowledge capacity (Allen-Zhu & Li 2024): bits of knowledge stored against parameters and
exposures, and the capacity ratio (bits per parameter) as posterior draws.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import BayeslawsError
from .base import Law, Param

#: The exposures (training passes over each fact) at which the paper states its ratios.
HEADLINE_EXPOSURES = (100, 1000)


class Knowledge(Law):
    r"""Stored knowledge bits as a capacity ratio times parameters, saturating in exposures.

    .. math::

        \mathrm{bits}(N, e) = R(e)\, N,\qquad R(e) = R_{max}\left(1 - e^{-e/e_0}\right)

    :math:`N` is the parameter count, :math:`e` the number of exposures of each fact in training,
    and :math:`R(e)` the capacity ratio in bits per parameter. Allen-Zhu & Li 2024 measure stored
    knowledge information-theoretically on synthetic biographies and find that language models
    store **2 bits per parameter** with sufficient training (1000 exposures), linearly in
    :math:`N` (a 7B model stores 14B bits), and about 1 bit per parameter at 100 exposures
    (LAWS.md section 9 marks this last number as recalled, not verified). The paper gives no
    formula for :math:`R(e)`; the saturating exponential is the suggestion of LAWS.md section 9,
    not the paper's. Rows are models trained to capacity (data holding more knowledge than the
    model can store), where the stored bits measure the model, not the data.

    Each family is one setting (architecture, quantisation, data); :math:`R_{max}` and
    :math:`e_0` are partially pooled, so int4 (about 0.35x, LAWS.md) or another architecture is a
    family whose ratio differs. Inputs ``params`` and ``exposures``; target ``bits`` (> 0,
    modelled on the log scale). The derived ``R_100`` and ``R_1000`` are the capacity ratios at
    the paper's 100 and 1000 exposures; :func:`bits_per_param` (``fit.bits_per_param``) gives it
    at any exposures and :func:`min_params` the model size needed for a knowledge base.

    Parameters
    ----------
    R_max : saturated capacity ratio (bits per parameter).
    e0 : exposure scale of the saturation (R reaches 63% of R_max at e0 exposures).
    R_100, R_1000 : bits per parameter at 100 and 1000 exposures, derived.

    References
    ----------
    Allen-Zhu & Li 2024, "Physics of Language Models: Part 3.3, Knowledge Capacity Scaling Laws",
    arXiv:2404.05405 (ICLR 2025).
    """

    name = "knowledge"
    target = "bits"
    inputs = ("params", "exposures")
    params = (
        # not centred on the published 2: 1 bit per parameter, 95% in 0.14-7
        Param("R_max", 0.0, 1.0, family_scale=0.5, doc="saturated capacity ratio (bits/param)"),
        Param("e0", math.log(100.0), 1.5, family_scale=0.3,
              doc="exposure scale of the saturation (R = 0.63 R_max at e0)"),
    )
    derived_names = ("R_100", "R_1000")
    formula_text = "bits = R(e) N, R(e) = R_max (1 - exp(-e/e0))"
    reference = "Allen-Zhu & Li 2024, arXiv:2404.05405"
    default_noise = {"likelihood": "student_t", "sigma_scale": 0.05}

    @staticmethod
    def log_ratio(log_e, p, xp):
        """log R(e) at log exposures ``log_e``: ``log R_max + log(1 - exp(-e/e0))``."""
        return p["log_R_max"] + xp.log(-xp.expm1(-xp.exp(log_e - p["log_e0"])))

    def formula(self, x, p, xp):
        """Return log bits (see the class docstring)."""
        return x["params"] + self.log_ratio(x["exposures"], p, xp)

    def derived(self, p, xp):
        """Return the capacity ratios at 100 and 1000 exposures."""
        return {f"R_{e}": xp.exp(self.log_ratio(math.log(e), p, xp)) for e in HEADLINE_EXPOSURES}


def simulate(params=(2e7, 5e7, 1e8, 3e8), exposures=(10, 30, 100, 300, 1000, 3000), *,
             families=None, noise=0.03, seed: int = 0) -> pd.DataFrame:
    """Simulate capacity measurements from the ``knowledge`` law.

    Parameters
    ----------
    params, exposures : sequences of float
        The grid of model sizes and exposures (every pair, in every family).
    families : dict, optional
        ``{name: {"R_max": .., "e0": ..}}``; default one family ``gpt2`` with ``R_max = 2`` and
        ``e0 = 100 / log 2`` (so R(100) = 1 and R(1000) = 2.0 bits per parameter, the paper's
        headline numbers).
    noise : float
        sd of the Gaussian noise on log bits.
    seed : int
        Random seed.

    Returns
    -------
    pandas.DataFrame
        ``family``, ``params``, ``exposures``, ``bits`` and ``bits_per_param``.
    """
    rng = np.random.default_rng(seed)
    families = families or {"gpt2": {"R_max": 2.0, "e0": 100.0 / math.log(2.0)}}
    law = Knowledge()
    n, e = (a.ravel() for a in np.meshgrid(np.asarray(params, float), np.asarray(exposures, float)))
    frames = []
    for name, truth in families.items():
        bits = law.evaluate({"params": n, "exposures": e}, truth) * np.exp(rng.normal(0, noise, n.size))
        frames.append(pd.DataFrame({"family": name, "params": n, "exposures": e, "bits": bits,
                                    "bits_per_param": bits / n}))
    return pd.concat(frames, ignore_index=True)


def _draws(fit, family, seed) -> dict:
    law = fit.law
    if family is None:
        family = fit.families[0] if len(fit.families) == 1 else "population"
    if family in fit.families:
        sampled = fit.sampled_draws(family)
    elif family == "population":
        from ..hierarchy import population_draws

        sampled = population_draws(law, fit.posterior, np.random.default_rng(seed))
    else:
        raise BayeslawsError(f"family {family!r} is not in this fit; choose one of "
                             f"{fit.families + ['population']}")
    return law.natural(dict(sampled), np)


def bits_per_param(fit, exposures, *, family=None, seed: int = 0) -> xr.Dataset:
    r"""The capacity ratio :math:`R(e)` in bits per parameter at given exposures, as draws.

    Parameters
    ----------
    fit : bayeslaws.Fit
        A fit of the ``knowledge`` law.
    exposures : float or array-like
        Exposures per fact (e.g. 100, 1000: the paper reports about 1 and 2 bits per parameter).
    family : str, optional
        A fitted family, or ``"population"`` (a new setting); default the only family, or the
        population.
    seed : int
        Seed of the population draws.

    Returns
    -------
    xarray.Dataset
        ``bits_per_param``, dims ``(chain, draw, row)``, coordinate ``exposures``.
    """
    if fit.law.name != "knowledge":
        raise BayeslawsError(f"bits_per_param needs a 'knowledge' fit, not {fit.law.name!r}")
    e = np.atleast_1d(np.asarray(exposures, dtype=float))
    if not (np.isfinite(e).all() and (e > 0).all()):
        raise BayeslawsError("exposures must be positive finite numbers")
    p = _draws(fit, family, seed)
    template = p["log_R_max"]
    log_r = fit.law.log_ratio(np.log(e), {k: v.values[..., None] for k, v in p.items()}, np)
    dims = ("chain", "draw", "row")
    coords = {"chain": template["chain"].values, "draw": template["draw"].values,
              "row": np.arange(e.size), "exposures": ("row", e)}
    return xr.Dataset({"bits_per_param": (dims, np.exp(log_r))}, coords=coords)


def min_params(fit, bits, exposures, *, family=None, seed: int = 0) -> xr.DataArray:
    r"""Parameters needed to store ``bits`` of knowledge at ``exposures``: :math:`N = K / R(e)`."""
    ds = bits_per_param(fit, exposures, family=family, seed=seed)
    return (float(bits) / ds["bits_per_param"]).rename("params")


def bits_per_param_table(fit, exposures, *, prob: float = 0.9, bits=None, **kwargs) -> pd.DataFrame:
    """:func:`bits_per_param` summarised per exposure: median and equal-tailed bounds.

    With ``bits`` (a knowledge base size in bits), adds the parameters needed to store it.
    """
    from ..intervals import check_prob, describe

    prob = check_prob(prob)
    ds = bits_per_param(fit, exposures, **kwargs)
    out = pd.DataFrame({"exposures": ds["exposures"].values})
    quantities = {"bits_per_param": ds["bits_per_param"]}
    if bits is not None:
        if not (math.isfinite(bits) and bits > 0):
            raise BayeslawsError(f"bits must be a positive finite number, not {bits:g}")
        quantities["params_needed"] = float(bits) / ds["bits_per_param"]
    for q, da in quantities.items():
        s = describe(da, prob)
        for stat in ("median", "lower", "upper"):
            out[f"{q}_{stat}"] = s[stat].values
    return out


def _bits_per_param_method(fit, exposures, *, family: str | None = None, seed: int = 0,
                           prob: float | None = None):
    """``fit.bits_per_param(...)``: the draws of :func:`bits_per_param`, or with ``prob`` the
    summary table of :func:`bits_per_param_table` (median and bounds per exposure count)."""
    if prob is not None:
        return bits_per_param_table(fit, exposures, family=family, seed=seed, prob=prob)
    return bits_per_param(fit, exposures, family=family, seed=seed)


Knowledge.fit_methods = {"bits_per_param": _bits_per_param_method, "min_params": min_params}
