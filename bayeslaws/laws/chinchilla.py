"""Chinchilla loss law (Hoffmann et al. 2022, Approach 3)."""

from __future__ import annotations

import math

from .base import Law, Param

# N_REF, D_REF: the fixed reference scales (LLM scale) of a law not bound to data and of every
# fit saved before the references followed the data (kept importable from here).
from .reference import D_REF, N_REF, ParamsTokensReferences  # noqa: F401


class Chinchilla(ParamsTokensReferences, Law):
    r"""Loss in parameters and training tokens with an irreducible term.

    .. math::

        L(N, D) = E + \frac{A}{N^\alpha} + \frac{B}{D^\beta}

    evaluated in log space as
    :math:`\log L = \mathrm{LSE}(\log A_0 - \alpha\log(N/\bar N),\ \log B_0 - \beta\log(D/\bar D),\
    \log E)` with :math:`A = A_0 \bar N^{\alpha}`, :math:`B = B_0 \bar D^{\beta}`. Sampling
    :math:`A_0, B_0` (the reducible loss of each term at the reference scale) instead of
    :math:`A, B` removes the strong posterior ridges between :math:`A` and :math:`\alpha` and
    between :math:`B` and :math:`\beta`.

    The reference scales follow the data (:mod:`bayeslaws.laws.reference`): bound to a run table,
    a reference outside the fitted runs' range of N (or D) moves to the round power of ten
    nearest the geometric centre of that range,
    :math:`\bar N = 10^{\mathrm{round}((\log_{10}N_{\min} + \log_{10}N_{\max})/2)}`, so the priors
    on :math:`A_0, B_0` speak about losses the data see. A fixed LLM-scale reference three to five
    decades from small-scale runs turns the prior of :math:`A_0` into a prior on :math:`\alpha`
    (about :math:`0.1 \pm 0.12`) and biased small-scale fits (issue 23). Data around it, unbound
    laws and fits saved before this rule keep :math:`\bar N = 10^9`, :math:`\bar D = 2\cdot 10^{10}`.

    Parameters
    ----------
    n_ref, d_ref : float, optional
        Reference scales :math:`\bar N, \bar D`; None (default): :math:`10^9` and
        :math:`2\cdot10^{10}`, moved to the data when fitted if outside its range (:meth:`bind`).

    Sampled and derived parameters:

    E : irreducible loss (nats/token).
    A0, B0 : loss from finite N (at :math:`\bar N`) and finite D (at :math:`\bar D`).
    alpha, beta : exponents in N and D.
    A, B : the paper's constants, derived.

    References
    ----------
    Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", arXiv:2203.15556.
    Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt", arXiv:2404.10102.
    """

    name = "chinchilla"
    inputs = ("params", "tokens")
    params = (
        Param("E", math.log(1.5), 0.5, family_scale=0.2, doc="irreducible loss"),
        Param("A0", math.log(0.5), 1.0, family_scale=0.5, doc="N-term loss at the reference N (n_ref)"),
        Param("B0", math.log(0.5), 1.0, family_scale=0.5, doc="D-term loss at the reference D (d_ref)"),
        Param("alpha", math.log(0.3), 0.4, family_scale=0.2, doc="exponent in N"),
        Param("beta", math.log(0.3), 0.4, family_scale=0.2, doc="exponent in D"),
    )
    derived_names = ("A", "B")
    formula_text = "L = E + A/N^alpha + B/D^beta"
    reference = "Hoffmann et al. 2022, arXiv:2203.15556"

    def formula(self, x, p, xp):
        """Return log L (see the class docstring)."""
        n_term = p["log_A0"] - p["alpha"] * (x["params"] - self.log_n_ref)
        d_term = p["log_B0"] - p["beta"] * (x["tokens"] - self.log_d_ref)
        return xp.logaddexp(xp.logaddexp(n_term, d_term), p["log_E"])

    def derived(self, p, xp):
        """Return the paper's A and B: :math:`A = A_0 \bar N^\alpha`, :math:`B = B_0 \bar D^\beta`."""
        return {"A": xp.exp(p["log_A0"] + p["alpha"] * self.log_n_ref),
                "B": xp.exp(p["log_B0"] + p["beta"] * self.log_d_ref)}

    def optimal_allocation(self, p, flops, xp):
        r"""Compute-optimal N and D under :math:`C = 6ND` (Hoffmann Eq. 4).

        .. math::

            N^*(C) = G (C/6)^{a},\quad D^*(C) = G^{-1} (C/6)^{b},\quad
            G = \left(\frac{\alpha A}{\beta B}\right)^{1/(\alpha+\beta)},\
            a = \frac{\beta}{\alpha+\beta},\ b = \frac{\alpha}{\alpha+\beta}

        Returns ``(log N*, log D*)``.
        """
        alpha, beta = p["alpha"], p["beta"]
        log_a = p["log_A0"] + alpha * self.log_n_ref
        log_b = p["log_B0"] + beta * self.log_d_ref
        log_g = (xp.log(alpha) + log_a - xp.log(beta) - log_b) / (alpha + beta)
        log_c6 = xp.log(flops / 6.0)
        log_n = log_g + beta / (alpha + beta) * log_c6
        return log_n, log_c6 - log_n
