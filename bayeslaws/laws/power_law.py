"""Power law plus constant in one input (Henighan et al. 2020)."""

from __future__ import annotations

import math

from ..errors import SpecError
from .base import Law, Param
from .reference import bound_references, check_reference

#: Reference scale of each possible input, where R0 is the reducible loss.
X_REF = {"flops": 1e20, "params": 1e9, "tokens": 2e10,
         # training examples (or tokens) seen, as in learning-curve benchmarks (Revisiting, M4)
         "seen_examples": 1e9}


class PowerLaw(Law):
    r"""Loss in one input x (``flops`` by default, or ``params`` / ``tokens``).

    .. math::

        L(x) = L_\infty + \left(\frac{x_0}{x}\right)^{\alpha}

    sampled through :math:`R_0 = (x_0/\bar x)^\alpha`, the reducible loss at a reference scale
    :math:`\bar x`: :math:`\log L = \mathrm{LSE}(\log L_\infty,\ \log R_0 - \alpha \log(x/\bar x))`.
    Bound to data, :math:`\bar x` outside the runs' range moves to the round power of ten nearest
    the geometric centre of the runs' x (option ``x_ref``; :mod:`bayeslaws.laws.reference`: a reference decades from the data
    makes the prior of :math:`R_0` a prior on :math:`\alpha`, issue 23); before binding, and in
    fits saved before this rule, ``1e20`` FLOPs, ``1e9`` parameters or ``2e10`` tokens.

    Parameters
    ----------
    input : {"flops", "params", "tokens", "seen_examples"}
        The single input column.
    x_ref : float, optional
        The reference :math:`\bar x`; None (default): the fixed one, moved to the data when fitted if
        outside its range.

    References
    ----------
    Henighan et al. 2020, "Scaling Laws for Autoregressive Generative Modeling",
    arXiv:2010.14701.
    """

    name = "power-law"
    inputs = ("flops",)
    params = (
        Param("L_inf", math.log(1.5), 0.5, family_scale=0.2, doc="irreducible loss"),
        Param("R0", math.log(1.0), 1.0, family_scale=0.5, doc="reducible loss at the reference x"),
        Param("alpha", math.log(0.1), 0.7, family_scale=0.2, doc="exponent in x"),
    )
    derived_names = ("x0",)
    formula_text = "L = L_inf + (x0/x)^alpha"
    reference = "Henighan et al. 2020, arXiv:2010.14701"

    def __init__(self, input: str = "flops", x_ref: float | None = None, **kwargs):
        if input not in X_REF:
            raise SpecError(f"power-law input must be one of {sorted(X_REF)}, not {input!r}")
        self.input = input
        self.inputs = (input,)
        self.x_ref = check_reference(self.name, "x_ref", x_ref)
        #: log of the reference x of R0 in effect
        self.log_ref = math.log(X_REF[input] if self.x_ref is None else self.x_ref)
        super().__init__(**kwargs)

    def bind(self, table) -> PowerLaw:
        """This law with ``x_ref`` moved to the data's round power of ten (unless given, or the prior
        of ``R0`` was overridden).
        The references are recorded as options either way (a bound law stays bound)."""
        changes = bound_references(self, table, [
            ("x_ref", self.x_ref, X_REF[self.input], lambda x: x[self.input], ("R0",))])
        return self.with_options(**changes) if changes else self

    def options(self) -> dict:
        """The chosen input column (and, once bound to data, the reference x of ``R0``)."""
        return {"input": self.input} | ({} if self.x_ref is None else {"x_ref": self.x_ref})

    def formula(self, x, p, xp):
        """Return log L (see the class docstring)."""
        reducible = p["log_R0"] - p["alpha"] * (x[self.input] - self.log_ref)
        return xp.logaddexp(p["log_L_inf"], reducible)

    def derived(self, p, xp):
        """Return the paper's x0."""
        return {"x0": xp.exp(self.log_ref + p["log_R0"] / p["alpha"])}
