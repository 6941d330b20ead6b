"""Data-constrained loss law with repeated tokens and excess parameters (Muennighoff et al. 2023)."""

from __future__ import annotations

import math

from .base import Law, Param
from .reference import ParamsTokensReferences


class DataConstrained(ParamsTokensReferences, Law):
    r"""Chinchilla loss in *effective* parameters and data when unique data run out.

    With :math:`U_D` unique tokens, :math:`D` tokens seen and :math:`N` parameters:

    .. math::

        R_D &= \max(D / U_D - 1,\ 0), \qquad
        D' = U_D + U_D R_D^* \left(1 - e^{-R_D / R_D^*}\right) \\
        U_N &= \min\big(N,\ N_{\mathrm{opt}}(U_D)\big), \qquad R_N = N / U_N - 1, \qquad
        N' = U_N + U_N R_N^* \left(1 - e^{-R_N / R_N^*}\right) \\
        L &= E + \frac{A}{N'^{\alpha}} + \frac{B}{D'^{\alpha}}

    :math:`R_D^*` is the number of repeated epochs after which repeated data has lost
    :math:`1 - 1/e` of its value (at most :math:`1 + R_D^*` times the unique data is ever
    "seen"); :math:`R_N^*` is the same for parameters in excess of :math:`N_{\mathrm{opt}}(U_D)`,
    the Chinchilla-optimal size for :math:`U_D` tokens,
    :math:`N_{\mathrm{opt}}(D) = G^{2} D` with :math:`G = (A/B)^{1/(2\alpha)}` (the law's own
    allocation; tied exponents as in the authors' C4 fit). Unique tokens above :math:`D` count as
    :math:`D` (:math:`U_D \leftarrow \min(U_D, D)`), as in the authors' allocation search.

    As in :class:`~bayeslaws.laws.Chinchilla`, :math:`A` and :math:`B` are sampled through
    :math:`A_0 = A\bar N^{-\alpha}`, :math:`B_0 = B\bar D^{-\alpha}` at reference scales that, when
    fitted, move to the round powers of ten nearest the geometric centres of the runs' N and D
    if the fixed ones lie outside the data ( options ``n_ref``, ``d_ref``; :mod:`bayeslaws.laws.reference`: a fixed LLM-scale
    reference biases small-scale fits, issue 23), :math:`\bar N = 10^9`,
    :math:`\bar D = 2\cdot 10^{10}` before binding and in fits saved before this rule; the law is
    evaluated in log space.

    Parameters
    ----------
    E : irreducible loss (nats/token).
    A0, B0 : N-term and D-term loss at the reference scales.
    alpha : exponent of both terms (tied, :math:`\alpha = \beta`).
    R_D_star, R_N_star : repetition half-lives of data and of excess parameters
        (:math:`R_D^*`, :math:`R_N^*`).
    A, B : the paper's coefficients, derived.

    Inputs are ``params``, ``tokens`` (total tokens seen) and ``unique_tokens``.

    References
    ----------
    Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", arXiv:2305.16264
    (NeurIPS 2023); code and fitted C4 coefficients in `huggingface/datablations`.
    """

    name = "data-constrained"
    inputs = ("params", "tokens", "unique_tokens")
    params = (
        Param("E", math.log(1.8), 0.5, family_scale=0.2, doc="irreducible loss"),
        Param("A0", math.log(0.5), 1.0, family_scale=0.5, doc="N-term loss at N' = n_ref"),
        Param("B0", math.log(0.5), 1.0, family_scale=0.5, doc="D-term loss at D' = d_ref"),
        Param("alpha", math.log(0.3), 0.4, family_scale=0.2, doc="exponent of N' and D'"),
        Param("R_D_star", math.log(8.0), 1.0, family_scale=0.3,
              doc="repeated epochs at which data value decays by 1/e"),
        Param("R_N_star", math.log(8.0), 1.0, family_scale=0.3,
              doc="excess-parameter factor at which their value decays by 1/e"),
    )
    derived_names = ("A", "B")
    formula_text = "L = E + A/N'^alpha + B/D'^alpha (effective N', D' with R_N*, R_D*)"
    reference = "Muennighoff et al. 2023, arXiv:2305.16264"

    @staticmethod
    def _effective(log_unique, log_total, r_star, xp):
        """``log(U + U R* (1 - exp(-R / R*)))`` with ``R = max(total/unique - 1, 0)``."""
        repeats = xp.maximum(xp.exp(log_total - log_unique) - 1.0, 0.0)
        return log_unique + xp.log1p(r_star * (1.0 - xp.exp(-repeats / r_star)))

    def formula(self, x, p, xp):
        """Return log L (see the class docstring)."""
        alpha = p["alpha"]
        log_u_d = xp.minimum(x["unique_tokens"], x["tokens"])
        log_d_eff = self._effective(log_u_d, x["tokens"], p["R_D_star"], xp)
        # N_opt(U_D) = G^2 U_D with log G^2 = (log A - log B) / alpha
        log_g2 = (p["log_A0"] - p["log_B0"]) / alpha + self.log_n_ref - self.log_d_ref
        log_u_n = xp.minimum(x["params"], log_u_d + log_g2)
        log_n_eff = self._effective(log_u_n, x["params"], p["R_N_star"], xp)
        n_term = p["log_A0"] - alpha * (log_n_eff - self.log_n_ref)
        d_term = p["log_B0"] - alpha * (log_d_eff - self.log_d_ref)
        return xp.logaddexp(xp.logaddexp(n_term, d_term), p["log_E"])

    def derived(self, p, xp):
        """Return the paper's A and B."""
        return {"A": xp.exp(p["log_A0"] + p["alpha"] * self.log_n_ref),
                "B": xp.exp(p["log_B0"] + p["alpha"] * self.log_d_ref)}
