"""Power law plus constant in one input (Henighan et al. 2020)."""

from __future__ import annotations

import math

from ..errors import SpecError
from .base import Law, Param

#: Reference scale of each possible input, where R0 is the reducible loss.
X_REF = {"flops": 1e20, "params": 1e9, "tokens": 2e10,
         # training examples (or tokens) seen, as in learning-curve benchmarks (Revisiting, M4)
         "seen_examples": 1e9}


class PowerLaw(Law):
    r"""Loss in one input x (``flops`` by default, or ``params`` / ``tokens``).

    .. math::

        L(x) = L_\infty + \left(\frac{x_0}{x}\right)^{\alpha}

    sampled through :math:`R_0 = (x_0/\bar x)^\alpha`, the reducible loss at a reference scale
    :math:`\bar x` (``1e20`` FLOPs, ``1e9`` parameters or ``2e10`` tokens):
    :math:`\log L = \mathrm{LSE}(\log L_\infty,\ \log R_0 - \alpha \log(x/\bar x))`.

    Parameters
    ----------
    input : {"flops", "params", "tokens", "seen_examples"}
        The single input column.

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

    def __init__(self, input: str = "flops", **kwargs):
        if input not in X_REF:
            raise SpecError(f"power-law input must be one of {sorted(X_REF)}, not {input!r}")
        self.input = input
        self.inputs = (input,)
        super().__init__(**kwargs)

    def options(self) -> dict:
        """The chosen input column."""
        return {"input": self.input}

    def formula(self, x, p, xp):
        """Return log L (see the class docstring)."""
        reducible = p["log_R0"] - p["alpha"] * (x[self.input] - math.log(X_REF[self.input]))
        return xp.logaddexp(p["log_L_inf"], reducible)

    def derived(self, p, xp):
        """Return the paper's x0."""
        return {"x0": xp.exp(math.log(X_REF[self.input]) + p["log_R0"] / p["alpha"])}
