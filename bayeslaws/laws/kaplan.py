"""Kaplan joint loss law in N and D (Kaplan et al. 2020, Eq. 1.5)."""

from __future__ import annotations

import math

from .base import Law, Param
from .reference import ParamsTokensReferences


class Kaplan(ParamsTokensReferences, Law):
    r"""Loss in parameters and tokens without an irreducible term.

    .. math::

        L(N, D) = \left[\left(\frac{N_c}{N}\right)^{\alpha_N/\alpha_D} + \frac{D_c}{D}\right]^{\alpha_D}

    sampled through :math:`L_{N0} = (N_c/\bar N)^{\alpha_N}` and
    :math:`L_{D0} = (D_c/\bar D)^{\alpha_D}`, the N-limited and D-limited losses at the reference
    scales :math:`\bar N, \bar D`, which are well identified where :math:`N_c, D_c` (around
    :math:`10^{13}`) are not. Bound to data, a reference outside the runs' range moves to the
    round power of ten nearest the geometric centre of that range (options ``n_ref``, ``d_ref``;
    :mod:`bayeslaws.laws.reference`, issue 23); before binding, and in fits saved before this
    rule, :math:`\bar N = 10^9`, :math:`\bar D = 2\cdot10^{10}`. In log space

    .. math::

        \log L = \alpha_D\,\mathrm{LSE}\!\left(\frac{\log L_{N0} - \alpha_N\log(N/\bar N)}{\alpha_D},\
        \frac{\log L_{D0} - \alpha_D\log(D/\bar D)}{\alpha_D}\right).

    Kaplan's Table 2 fit: :math:`\alpha_N = 0.076, \alpha_D = 0.103, N_c = 6.4\cdot10^{13},
    D_c = 1.8\cdot10^{13}` (non-embedding parameters, WebText2).

    References
    ----------
    Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv:2001.08361.
    """

    name = "kaplan"
    inputs = ("params", "tokens")
    params = (
        Param("LN0", math.log(2.5), 0.5, family_scale=0.2, doc="N-limited loss at the reference N (n_ref)"),
        Param("LD0", math.log(2.5), 0.5, family_scale=0.2, doc="D-limited loss at the reference D (d_ref)"),
        Param("alpha_N", math.log(0.1), 0.5, family_scale=0.2, doc="exponent in N"),
        Param("alpha_D", math.log(0.1), 0.5, family_scale=0.2, doc="exponent in D"),
    )
    derived_names = ("N_c", "D_c")
    formula_text = "L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D"
    reference = "Kaplan et al. 2020, arXiv:2001.08361"
    reference_terms = ("LN0", "LD0")

    def formula(self, x, p, xp):
        """Return log L (see the class docstring)."""
        a_n, a_d = p["alpha_N"], p["alpha_D"]
        n_term = (p["log_LN0"] - a_n * (x["params"] - self.log_n_ref)) / a_d
        d_term = (p["log_LD0"] - a_d * (x["tokens"] - self.log_d_ref)) / a_d
        return a_d * xp.logaddexp(n_term, d_term)

    def derived(self, p, xp):
        """Return the paper's N_c and D_c."""
        return {"N_c": xp.exp(self.log_n_ref + p["log_LN0"] / p["alpha_N"]),
                "D_c": xp.exp(self.log_d_ref + p["log_LD0"] / p["alpha_D"])}
