"""Chinchilla loss law (Hoffmann et al. 2022, Approach 3)."""

from __future__ import annotations

import math

from .base import Law, Param

#: Reference scales that decorrelate the A-alpha and B-beta ridges (LAWS.md section 2).
N_REF = 1e9
D_REF = 2e10


class Chinchilla(Law):
    r"""Loss in parameters and training tokens with an irreducible term.

    .. math::

        L(N, D) = E + \frac{A}{N^\alpha} + \frac{B}{D^\beta}

    evaluated in log space as
    :math:`\log L = \mathrm{LSE}(\log A_0 - \alpha\log(N/\bar N),\ \log B_0 - \beta\log(D/\bar D),\
    \log E)` with :math:`A = A_0 \bar N^{\alpha}`, :math:`B = B_0 \bar D^{\beta}`,
    :math:`\bar N = 10^9`, :math:`\bar D = 2\cdot 10^{10}`. Sampling :math:`A_0, B_0` (the
    reducible loss of each term at the reference scale) instead of :math:`A, B` removes the strong
    posterior ridges between :math:`A` and :math:`\alpha` and between :math:`B` and :math:`\beta`.

    Parameters
    ----------
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
        Param("A0", math.log(0.5), 1.0, family_scale=0.5, doc="N-term loss at N = 1e9"),
        Param("B0", math.log(0.5), 1.0, family_scale=0.5, doc="D-term loss at D = 2e10"),
        Param("alpha", math.log(0.3), 0.4, family_scale=0.2, doc="exponent in N"),
        Param("beta", math.log(0.3), 0.4, family_scale=0.2, doc="exponent in D"),
    )
    derived_names = ("A", "B")
    formula_text = "L = E + A/N^alpha + B/D^beta"
    reference = "Hoffmann et al. 2022, arXiv:2203.15556"

    def formula(self, x, p, xp):
        """Return log L (see the class docstring)."""
        n_term = p["log_A0"] - p["alpha"] * (x["params"] - math.log(N_REF))
        d_term = p["log_B0"] - p["beta"] * (x["tokens"] - math.log(D_REF))
        return xp.logaddexp(xp.logaddexp(n_term, d_term), p["log_E"])

    def derived(self, p, xp):
        """Return the paper's A and B."""
        return {"A": xp.exp(p["log_A0"] + p["alpha"] * math.log(N_REF)),
                "B": xp.exp(p["log_B0"] + p["beta"] * math.log(D_REF))}

    @staticmethod
    def optimal_allocation(p, flops, xp):
        r"""Compute-optimal N and D under :math:`C = 6ND` (Hoffmann Eq. 4).

        .. math::

            N^*(C) = G (C/6)^{a},\quad D^*(C) = G^{-1} (C/6)^{b},\quad
            G = \left(\frac{\alpha A}{\beta B}\right)^{1/(\alpha+\beta)},\
            a = \frac{\beta}{\alpha+\beta},\ b = \frac{\alpha}{\alpha+\beta}

        Returns ``(log N*, log D*)``.
        """
        alpha, beta = p["alpha"], p["beta"]
        log_a = p["log_A0"] + alpha * math.log(N_REF)
        log_b = p["log_B0"] + beta * math.log(D_REF)
        log_g = (xp.log(alpha) + log_a - xp.log(beta) - log_b) / (alpha + beta)
        log_c6 = xp.log(flops / 6.0)
        log_n = log_g + beta / (alpha + beta) * log_c6
        return log_n, log_c6 - log_n
