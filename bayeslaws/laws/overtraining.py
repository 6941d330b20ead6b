"""Over-training loss law in compute and token multiplier (Gadre et al. 2024)."""

from __future__ import annotations

import math

from .base import Law, Param
from .reference import bound_references, check_reference

#: Reference compute and token multiplier where ``a0``, ``b0`` are the two reducible-loss terms.
#: ``C_REF`` is the fixed one of a law not bound to data (and of fits saved before the reference
#: followed the data); the multiplier is scale-free and stays at Chinchilla's 20.
C_REF = 1e19
M_REF = 20.0


class Overtraining(Law):
    r"""Loss in training compute :math:`C = 6ND` and token multiplier :math:`M = D/N`.

    Gadre et al. (2024, Eq. 4) start from the Chinchilla form with one tied exponent,
    :math:`L = E + A N^{-\alpha} + B D^{-\alpha}`, and substitute :math:`D = MN`,
    :math:`C = 6MN^2`:

    .. math::

        L(C, M) = E + \left(a M^{\eta} + b M^{-\eta}\right) C^{-\eta},
        \qquad \eta = \alpha / 2 .

    The reducible term is sampled at a reference point :math:`\bar C` FLOPs,
    :math:`\bar M = 20` tokens per parameter (Chinchilla-optimal), which removes the ridges
    between :math:`a, b` and :math:`\eta`. Bound to data, :math:`\bar C` outside the runs'
    range of :math:`6ND` moves to the round power of ten nearest its geometric centre (option ``c_ref``;
    :mod:`bayeslaws.laws.reference`: a reference decades from the data makes the priors of
    :math:`a_0, b_0` priors on :math:`\eta`, issue 23); before binding, and in fits saved before
    this rule, :math:`\bar C = 10^{19}`:

    .. math::

        \log L = \mathrm{LSE}\big(\log E,\
        \log a_0 + \eta(\log M/\bar M) - \eta\log(C/\bar C),\
        \log b_0 - \eta(\log M/\bar M) - \eta\log(C/\bar C)\big)

    with :math:`a = a_0 \bar M^{-\eta}\bar C^{\eta}` and :math:`b = b_0 \bar M^{\eta}\bar C^{\eta}`.
    The inputs are the usual ``params`` and ``tokens`` columns; :math:`C` and :math:`M` are
    computed from them, so the law also allocates a FLOP budget (:meth:`optimal_allocation`).

    Parameters
    ----------
    c_ref : float, optional
        The reference compute :math:`\bar C`; None (default): the fixed one, moved to the data when fitted if
        outside its range.

    Sampled and derived parameters:

    E : irreducible loss (nats/token).
    a0, b0 : the N-limited and D-limited reducible loss at :math:`\bar C, \bar M`.
    eta : compute exponent :math:`\eta = \alpha_C`.
    a, b : the paper's coefficients, derived.
    alpha : the Chinchilla-form exponent :math:`2\eta`, derived.
    A, B : the Chinchilla-form coefficients :math:`a 6^{-\eta}` and :math:`b 6^{-\eta}`, derived.
    M_opt : the compute-optimal multiplier :math:`M^* = (b/a)^{1/(2\eta)}`, derived; it does not
        depend on :math:`C` because the exponents are tied.

    References
    ----------
    Gadre et al. 2024, "Language models scale reliably with over-training and on downstream
    tasks", arXiv:2403.08540 (ICLR 2025); code `mlfoundations/scaling`.
    """

    name = "overtraining"
    inputs = ("params", "tokens")
    params = (
        Param("E", math.log(2.0), 0.5, family_scale=0.2, doc="irreducible loss"),
        Param("a0", math.log(0.5), 1.0, family_scale=0.5, doc="N-limited loss at C = c_ref, M = 20"),
        Param("b0", math.log(0.5), 1.0, family_scale=0.5, doc="D-limited loss at C = c_ref, M = 20"),
        Param("eta", math.log(0.15), 0.4, family_scale=0.15, doc="compute exponent (alpha / 2)"),
    )
    derived_names = ("a", "b", "alpha", "A", "B", "M_opt")
    formula_text = "L = E + (a M^eta + b M^-eta) C^-eta, C = 6ND, M = D/N"
    reference = "Gadre et al. 2024, arXiv:2403.08540"

    def __init__(self, c_ref: float | None = None, **kwargs):
        self.c_ref = check_reference(self.name, "c_ref", c_ref)
        #: log of the reference compute in effect
        self.log_c_ref = math.log(C_REF if self.c_ref is None else self.c_ref)
        super().__init__(**kwargs)

    def bind(self, table) -> Overtraining:
        """This law with ``c_ref`` moved to the data's round power of ten of 6ND (unless given, or the
        prior of ``a0`` or ``b0`` was overridden).
        The references are recorded as options either way (a bound law stays bound)."""
        changes = bound_references(self, table, [
            ("c_ref", self.c_ref, C_REF,
             lambda x: math.log(6.0) + x["params"] + x["tokens"], ("a0", "b0"))])
        return self.with_options(**changes) if changes else self

    def options(self) -> dict:
        """The reference compute, once bound to data (none before)."""
        return {} if self.c_ref is None else {"c_ref": self.c_ref}

    def _log_c_m(self, x):
        """``(log(C / C_ref), log(M / M_ref))`` from log params and log tokens."""
        log_c = math.log(6.0) + x["params"] + x["tokens"] - self.log_c_ref
        log_m = x["tokens"] - x["params"] - math.log(M_REF)
        return log_c, log_m

    def formula(self, x, p, xp):
        """Return log L (see the class docstring)."""
        log_c, log_m = self._log_c_m(x)
        eta = p["eta"]
        n_term = p["log_a0"] + eta * log_m - eta * log_c
        d_term = p["log_b0"] - eta * log_m - eta * log_c
        return xp.logaddexp(xp.logaddexp(n_term, d_term), p["log_E"])

    def derived(self, p, xp):
        """Return the paper's a, b, alpha, the Chinchilla-form A, B and the optimal M*."""
        eta = p["eta"]
        log_a = p["log_a0"] - eta * math.log(M_REF) + eta * self.log_c_ref
        log_b = p["log_b0"] + eta * math.log(M_REF) + eta * self.log_c_ref
        return {"a": xp.exp(log_a), "b": xp.exp(log_b), "alpha": 2.0 * eta,
                "A": xp.exp(log_a - eta * math.log(6.0)),
                "B": xp.exp(log_b - eta * math.log(6.0)),
                "M_opt": xp.exp((log_b - log_a) / (2.0 * eta))}

    def optimal_allocation(self, p, flops, xp):
        r"""Compute-optimal split of ``flops``: :math:`M^* = (b/a)^{1/(2\eta)}`,
        :math:`N^* = \sqrt{C / (6 M^*)}`, :math:`D^* = M^* N^*`. Returns ``(log N*, log D*)``."""
        log_m_opt = (p["log_b0"] - p["log_a0"]) / (2.0 * p["eta"]) + math.log(M_REF)
        log_n = 0.5 * (math.log(flops / 6.0) - log_m_opt)
        return log_n, log_n + log_m_opt

    def overtraining_penalty(self, p, flops, multiplier, xp):
        r"""Extra loss of training at multiplier :math:`M` instead of :math:`M^*` at fixed :math:`C`.

        .. math:: \Delta L = C^{-\eta}\left[a M^{\eta} + b M^{-\eta} - 2\sqrt{ab}\right]
        """
        d = self.derived(p, xp)
        eta = p["eta"]
        scale = xp.exp(-eta * math.log(flops))
        return scale * (d["a"] * multiplier ** eta + d["b"] * multiplier ** (-eta)
                        - 2.0 * xp.sqrt(d["a"] * d["b"]))
