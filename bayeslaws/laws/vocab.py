r"""Vocabulary scaling law (Tao et al. 2024) and the compute-optimal vocabulary size."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import BayeslawsError
from .base import Law, Param

#: Reference scales (non-vocabulary params, vocabulary params V*d, tokens) that decorrelate the
#: coefficient-exponent ridges; the sampled A10, A20, B0 are each term's loss at these scales.
NNV_REF = 1e8
NV_REF = 1e7
D_REF = 1e10

#: Units of the paper's fit (``approach3_isoloss.py``): N_nv in millions, N_v = V*d in millions
#: (V in thousands times d in thousands), D in billions of tokens. The derived A1, A2, B use them.
PAPER_UNITS = {"params_nonvocab": 1e6, "params_vocab": 1e6, "tokens": 1e9}

#: Approach 1 of Tao et al. (IsoFLOP fit, ``optimal_Nv_predict.py``): N_nv_opt = exp(-2.48465) C^0.5,
#: used only to pick the FLOP budget that goes with a given N_nv, as the paper does.
APPROACH1_LOG_K = -2.48465


def embed_dim_for(params_nonvocab: float) -> float:
    """The paper's embedding width for a model with ``params_nonvocab`` non-vocabulary parameters.

    The step table of ``utils.py::Nnv_to_d`` in sail-sg/scaling-with-vocab (512 up to 50M, ...,
    8192 for 50B-100B, as in Llama2-70B).
    """
    bounds = [(5e7, 512), (2e8, 768), (5e8, 1024), (1e9, 1536), (2e9, 2048), (5e9, 3200),
              (1e10, 4096), (2e10, 5120), (5e10, 6048), (1e11, 8192), (2e11, 12288),
              (5e11, 16384), (1e12, 20480)]
    for upper, d in bounds:
        if params_nonvocab <= upper:
            return float(d)
    return 24576.0


def compute_optimal_flops(params_nonvocab: float) -> float:
    """FLOPs for which ``params_nonvocab`` is compute-optimal by Tao et al.'s Approach 1.

    :math:`C = (N_{nv} / e^{-2.48465})^2`, i.e. :math:`N_{nv}^{opt} = 0.0834 C^{0.5}`.
    """
    return float((params_nonvocab / math.exp(APPROACH1_LOG_K)) ** 2)


class Vocab(Law):
    r"""Unigram-normalised loss in non-vocabulary parameters, vocabulary parameters and tokens.

    .. math::

        \mathcal{L}_u(N_{nv}, N_v, D) = -E + \frac{A_1}{N_{nv}^{\alpha_1}}
            + \frac{A_2}{N_v^{\alpha_2}} + \frac{B}{D^{\beta}},\qquad
        N_v = V d,\quad \alpha_1 = \beta

    (Tao et al. 2024, Approach 3, with the paper's constraint :math:`\alpha_1 = \beta`).
    :math:`\mathcal{L}_u` is the unigram-normalised loss, usually negative (0 is the unigram
    model), so the target is modelled in levels (``positive_target = False``). :math:`N_{nv}` is
    the non-vocabulary parameter count, :math:`V` the vocabulary size, :math:`d` the embedding
    width and :math:`D` the training tokens. Each reducible term is sampled as its value at a
    reference scale (:math:`A_{10}` at :math:`N_{nv} = 10^8`, :math:`A_{20}` at
    :math:`N_v = 10^7`, :math:`B_0` at :math:`D = 10^{10}`), which removes the coefficient-exponent
    ridges; the paper's :math:`A_1, A_2, B` are derived in the paper's units (:math:`N_{nv}` and
    :math:`N_v` in millions, :math:`D` in billions of tokens).

    Tao et al. fit on runs with at least 2.18e17 FLOPs by Huber loss (delta 1e-3) and report
    :math:`A_1 = 1.8314, A_2 = 0.19584, B = 2.1241, E = 5.5328, \alpha_1 = \beta = 0.44661,
    \alpha_2 = 0.67074`. The compute-optimal vocabulary (:func:`optimal_vocab`) solves
    :math:`\partial\mathcal{L}_u/\partial V = 0` along :math:`C = 6 (N_{nv} + V d) D`.

    Parameters
    ----------
    E : minus the loss floor (``lossu -> -E``).
    A10, A20, B0 : the N_nv, N_v and D terms at the reference scales.
    alpha1 : exponent of N_nv and of D (``beta``, tied as in the paper).
    alpha2 : exponent of N_v.
    A1, A2, B, beta : the paper's constants, derived.

    References
    ----------
    Tao, Liu, Dou, Wan, Shen, Lin, Wong 2024, "Scaling Laws with Vocabulary: Larger Models Deserve
    Larger Vocabularies", NeurIPS 2024, arXiv:2407.13623; code and data sail-sg/scaling-with-vocab.
    """

    name = "vocab"
    target = "lossu"
    positive_target = False
    inputs = ("params_nonvocab", "vocab_size", "embed_dim", "tokens")
    params = (
        Param("E", math.log(7.0), 0.5, family_scale=0.2, doc="minus the loss floor"),
        Param("A10", math.log(0.5), 1.0, family_scale=0.5, doc="N_nv term at N_nv = 1e8"),
        Param("A20", math.log(0.1), 1.5, family_scale=0.5, doc="N_v term at V*d = 1e7"),
        Param("B0", math.log(0.5), 1.0, family_scale=0.5, doc="D term at D = 1e10 tokens"),
        Param("alpha1", math.log(0.3), 0.5, family_scale=0.2, doc="exponent of N_nv and D (= beta)"),
        Param("alpha2", math.log(0.5), 0.5, family_scale=0.2, doc="exponent of N_v = V*d"),
    )
    derived_names = ("A1", "A2", "B", "beta")
    formula_text = "Lu = -E + A1/Nnv^alpha1 + A2/(V*d)^alpha2 + B/D^beta, beta = alpha1"
    reference = "Tao et al. 2024, arXiv:2407.13623"
    default_noise = {"likelihood": "laplace", "sigma_scale": 0.1}

    def formula(self, x, p, xp):
        """Return the unigram-normalised loss (see the class docstring)."""
        a1, a2 = p["alpha1"], p["alpha2"]
        n_term = xp.exp(p["log_A10"] - a1 * (x["params_nonvocab"] - math.log(NNV_REF)))
        v_term = xp.exp(p["log_A20"]
                        - a2 * (x["vocab_size"] + x["embed_dim"] - math.log(NV_REF)))
        d_term = xp.exp(p["log_B0"] - a1 * (x["tokens"] - math.log(D_REF)))
        return n_term + v_term + d_term - p["E"]

    def derived(self, p, xp):
        """Return the paper's A1, A2, B (in its units) and beta (= alpha1)."""
        a1, a2 = p["alpha1"], p["alpha2"]
        u = PAPER_UNITS
        return {
            "A1": xp.exp(p["log_A10"] + a1 * math.log(NNV_REF / u["params_nonvocab"])),
            "A2": xp.exp(p["log_A20"] + a2 * math.log(NV_REF / u["params_vocab"])),
            "B": xp.exp(p["log_B0"] + a1 * math.log(D_REF / u["tokens"])),
            "beta": a1,
        }


def _law_along_budget(law, p, log_v, log_nnv, log_d_embed, log_c):
    """Lu at vocabulary log_v on the budget line C = 6 (N_nv + V d) D (tokens follow)."""
    log_params = np.logaddexp(log_nnv, log_v + log_d_embed)
    x = {"params_nonvocab": log_nnv + 0 * log_v, "vocab_size": log_v,
         "embed_dim": log_d_embed + 0 * log_v, "tokens": log_c - math.log(6.0) - log_params}
    return law.formula(x, p, np)


def optimal_vocab(fit, params_nonvocab, *, flops=None, embed_dim=None, family=None,
                  seed: int = 0) -> xr.Dataset:
    r"""Compute-optimal vocabulary size as posterior draws (Tao et al. 2024, Approach 3).

    For each posterior draw, minimises :math:`\mathcal{L}_u(N_{nv}, V d, D)` over :math:`V` along
    the budget :math:`C = 6 (N_{nv} + V d) D` by golden-section search in :math:`\log V` on
    :math:`[10^3, 10^7]` (the root of :math:`\partial\mathcal{L}_u/\partial V = 0`).

    Parameters
    ----------
    fit : bayeslaws.Fit
        A fit of the ``vocab`` law.
    params_nonvocab : float or array-like
        Non-vocabulary parameters :math:`N_{nv}` (one or several models).
    flops : float or array-like, optional
        Training budgets, one per :math:`N_{nv}`; by default the budget for which
        :math:`N_{nv}` is compute-optimal by the paper's Approach 1,
        :math:`C = (N_{nv}/0.0834)^2` (:func:`compute_optimal_flops`), the paper's convention
        (e.g. 7.05e23 FLOPs for Llama2-70B's 70B non-vocabulary parameters).
    embed_dim : float or array-like, optional
        Embedding width d; by default the paper's table (:func:`embed_dim_for`, 8192 at 70B).
    family : str, optional
        A fitted family or ``"population"``; default the only family, or the population.
    seed : int
        Seed of population draws.

    Returns
    -------
    xarray.Dataset
        ``V_opt``, ``params_vocab_opt`` (V d), ``tokens`` and ``lossu`` at the optimum, dims
        ``(chain, draw, model)``, with coordinates ``params_nonvocab``, ``flops``, ``embed_dim``.
    """
    if fit.law.name != "vocab":
        raise BayeslawsError(f"optimal_vocab needs a fit of the 'vocab' law, not {fit.law.name!r}")
    nnv = np.atleast_1d(np.asarray(params_nonvocab, dtype=float))
    if not (np.isfinite(nnv).all() and (nnv > 0).all()):
        raise BayeslawsError("params_nonvocab must be positive finite parameter counts")
    c = (np.array([compute_optimal_flops(n) for n in nnv]) if flops is None
         else np.broadcast_to(np.asarray(flops, dtype=float), nnv.shape).copy())
    d = (np.array([embed_dim_for(n) for n in nnv]) if embed_dim is None
         else np.broadcast_to(np.asarray(embed_dim, dtype=float), nnv.shape).copy())
    if not ((c > 0).all() and np.isfinite(c).all() and (d > 0).all()):
        raise BayeslawsError("flops and embed_dim must be positive finite numbers")
    if family is None:
        family = fit.families[0] if len(fit.families) == 1 else "population"
    if family in fit.families:
        sampled = fit.sampled_draws(family)
    elif family == "population":
        from ..hierarchy import population_draws

        sampled = population_draws(fit.law, fit.posterior, np.random.default_rng(seed))
    else:
        raise BayeslawsError(f"family {family!r} is not in this fit; choose one of "
                             f"{fit.families + ['population']}")
    law = fit.law
    p = law.natural({k: v.values[..., None] for k, v in sampled.items()}, np)
    shape = np.broadcast(*p.values(), nnv).shape
    args = (np.log(nnv), np.log(d), np.log(c))
    from ..numerics import golden_section

    log_v = golden_section(lambda lv: _law_along_budget(law, p, lv, *args),
                           np.full(shape, math.log(1e3)), np.full(shape, math.log(1e7)))
    lossu = _law_along_budget(law, p, log_v, *args)
    log_params = np.logaddexp(args[0], log_v + args[1])
    tokens = np.exp(args[2] - math.log(6.0) - log_params)
    template = next(iter(sampled.values()))
    dims = ("chain", "draw", "model")
    coords = {"chain": template["chain"].values, "draw": template["draw"].values,
              "model": np.arange(nnv.size), "params_nonvocab": ("model", nnv),
              "flops": ("model", c), "embed_dim": ("model", d)}
    return xr.Dataset({"V_opt": (dims, np.exp(log_v)), "params_vocab_opt": (dims, np.exp(log_v) * d),
                       "tokens": (dims, tokens), "lossu": (dims, lossu)}, coords=coords)


def optimal_vocab_table(fit, params_nonvocab, *, prob: float = 0.9, **kwargs) -> pd.DataFrame:
    """:func:`optimal_vocab` summarised: one row per model, median and equal-tailed bounds."""
    from ..intervals import describe

    ds = optimal_vocab(fit, params_nonvocab, **kwargs)
    out = pd.DataFrame({"params_nonvocab": ds["params_nonvocab"].values,
                        "embed_dim": ds["embed_dim"].values, "flops": ds["flops"].values})
    for q in ("V_opt", "tokens"):
        s = describe(ds[q], prob)
        for stat in ("median", "lower", "upper"):
            out[f"{q}_{stat}"] = s[stat].values
    return out


Vocab.fit_methods = {"optimal_vocab": optimal_vocab}
