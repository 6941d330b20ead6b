"""The M4 learning-curve law of Alabdulmohsin, Neyshabur and Zhai 2022 ("Revisiting")."""

from __future__ import annotations

import math

from ..errors import SpecError
from .base import Law, Param
from .power_law import X_REF

#: Newton steps of the solve for the excess loss (8 reach machine precision for log g in
#: [-40, 40] and alpha in [0.005, 20]; 12 leave a margin).
NEWTON_STEPS = 12


def _softplus(z, xp):
    return xp.logaddexp(0.0, z)


def solve_log_share(log_g, alpha, xp, steps: int = NEWTON_STEPS):
    r"""Solve :math:`u / (1-u)^\alpha = g` for :math:`u \in (0, 1)`; return :math:`\log u`.

    Written in the logit :math:`t = \log\frac{u}{1-u}`, the equation is
    :math:`h(t) = t - (1-\alpha)\,\mathrm{softplus}(t) - \log g = 0`, with
    :math:`h'(t) = \sigma(-t) + \alpha\,\sigma(t) > 0`. :math:`h` is concave for
    :math:`\alpha < 1` and convex for :math:`\alpha > 1`, so Newton's method converges
    monotonically from a start on the right side of the root:
    :math:`t_0 = \min(\log g, \log g/\alpha)` when :math:`\alpha < 1` (then :math:`h(t_0) \le 0`)
    and :math:`\max(\log g, \log g/\alpha)` otherwise (:math:`h(t_0) \ge 0`); for :math:`\alpha = 1`
    the start is the root. A fixed number of steps keeps one graph for numpy and pytensor, and
    gradients flow through the unrolled steps. Everything is in softplus form, so no step
    overflows for any :math:`\log g` or :math:`\alpha > 0`.
    """
    lo = xp.minimum(log_g, log_g / alpha)
    hi = xp.maximum(log_g, log_g / alpha)
    t = xp.where(alpha < 1.0, lo, hi)
    for _ in range(steps):
        sp_pos = _softplus(t, xp)
        sp_neg = _softplus(-t, xp)
        h = t - (1.0 - alpha) * sp_pos - log_g
        slope = xp.exp(-sp_pos) + alpha * xp.exp(-sp_neg)  # sigma(-t) + alpha sigma(t)
        t = t - h / slope
    return -_softplus(-t, xp)


class M4(Law):
    r"""Learning curve with a saturating start and a power-law tail (estimator M4).

    .. math::

        \frac{\varepsilon_x - \varepsilon_\infty}{(\varepsilon_0 - \varepsilon_x)^{\alpha}}
        = \beta\, x^{-c}

    (Alabdulmohsin et al. 2022; the authors' code writes the exponent as :math:`c < 0`, here
    :math:`c > 0`). :math:`\varepsilon_x` is the loss or error after :math:`x` examples,
    :math:`\varepsilon_\infty` its limit, :math:`\varepsilon_0` the random-guess value, and
    :math:`\alpha \ge 0` moves from a pure power law (:math:`\alpha = 0`, "M2") to a sigmoid in
    :math:`\log x`. The form is implicit; with :math:`\delta = \varepsilon_0 - \varepsilon_\infty`
    and :math:`u = (\varepsilon_x - \varepsilon_\infty)/\delta \in (0, 1)` it reads
    :math:`u/(1-u)^\alpha = g`, :math:`g = \beta x^{-c} \delta^{\alpha-1}`, solved by a fixed
    number of monotone Newton steps (:func:`solve_log_share`; the paper's code grid-searches),
    and then

    .. math::

        \log \varepsilon_x = \mathrm{LSE}(\log\varepsilon_\infty,\ \log\delta + \log u).

    Sampled: ``eps_inf``, ``delta`` (so :math:`\varepsilon_0 = \varepsilon_\infty + \delta`
    always exceeds the limit), ``beta0`` (:math:`\beta \bar x^{-c}`, the right-hand side at the
    reference scale :math:`\bar x`), ``c`` and ``alpha``; ``eps_0`` and ``beta`` are derived.

    Parameters
    ----------
    input : {"seen_examples", "tokens", "params", "flops"}
        The single input column (default ``seen_examples``, the Revisiting benchmark's).

    References
    ----------
    Alabdulmohsin, Neyshabur, Zhai 2022, "Revisiting Neural Scaling Laws in Language and Vision",
    NeurIPS 2022, arXiv:2209.06640; code google-research/google-research
    ``revisiting_neural_scaling_laws/methods/m4.py``.
    """

    name = "m4"
    inputs = ("seen_examples",)
    params = (
        Param("eps_inf", math.log(0.5), 1.0, family_scale=0.3, doc="limit of the loss"),
        Param("delta", math.log(0.5), 1.0, family_scale=0.3,
              doc="eps_0 - eps_inf: random-guess loss above the limit"),
        Param("beta0", math.log(0.5), 1.5, family_scale=0.5,
              doc="beta x^-c at the reference x"),
        Param("c", math.log(0.3), 1.0, family_scale=0.3, doc="power-law exponent (positive)"),
        Param("alpha", math.log(0.5), 1.0, family_scale=0.3,
              doc="shape: 0 = power law, larger = sigmoid in log x"),
    )
    derived_names = ("eps_0", "beta")
    formula_text = "(L - eps_inf) / (eps_0 - L)^alpha = beta x^-c"
    reference = "Alabdulmohsin et al. 2022, arXiv:2209.06640"

    def __init__(self, input: str = "seen_examples", **kwargs):
        if input not in X_REF:
            raise SpecError(f"m4 input must be one of {sorted(X_REF)}, not {input!r}")
        self.input = input
        self.inputs = (input,)
        super().__init__(**kwargs)

    def options(self) -> dict:
        """The chosen input column."""
        return {"input": self.input}

    def formula(self, x, p, xp):
        """Return log L (see the class docstring)."""
        alpha = p["alpha"]
        log_g = (p["log_beta0"] - p["c"] * (x[self.input] - math.log(X_REF[self.input]))
                 + (alpha - 1.0) * p["log_delta"])
        log_u = solve_log_share(log_g, alpha, xp)
        return xp.logaddexp(p["log_eps_inf"], p["log_delta"] + log_u)

    def derived(self, p, xp):
        """Return the paper's eps_0 and beta."""
        return {"eps_0": p["eps_inf"] + p["delta"],
                "beta": xp.exp(p["log_beta0"] + p["c"] * math.log(X_REF[self.input]))}
