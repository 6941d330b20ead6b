"""The M4 learning-curve law of Alabdulmohsin, Neyshabur and Zhai 2022 ("Revisiting")."""

from __future__ import annotations

import math

import numpy as np

from ..errors import SpecError
from .base import Law, Param
from .power_law import X_REF

#: Newton steps of the solve for the excess loss (8 reach machine precision for log g in
#: [-40, 40] and alpha in [0.005, 20]; 12 leave a margin).
NEWTON_STEPS = 12


def _softplus(z, xp):
    return xp.logaddexp(0.0, z)


def _stop_gradient(z, xp):
    """``z`` with no gradient flowing back through it (pytensor); numpy has no gradients."""
    if xp is np:
        return z
    from pytensor.gradient import zero_grad

    return zero_grad(z)


def solve_log_share(log_g, alpha, xp, steps: int = NEWTON_STEPS):
    r"""Solve :math:`u / (1-u)^\alpha = g` for :math:`u \in (0, 1)`; return :math:`\log u`.

    Written in the logit :math:`t = \log\frac{u}{1-u}`, the equation is
    :math:`h(t) = t - (1-\alpha)\,\mathrm{softplus}(t) - \log g = 0`, with
    :math:`h'(t) = \sigma(-t) + \alpha\,\sigma(t) > 0`. :math:`h` is concave for
    :math:`\alpha < 1` and convex for :math:`\alpha > 1`, so Newton's method converges
    monotonically from a start on the right side of the root:
    :math:`t_0 = \min(\log g, \log g/\alpha)` when :math:`\alpha < 1` (then :math:`h(t_0) \le 0`)
    and :math:`\max(\log g, \log g/\alpha)` otherwise (:math:`h(t_0) \ge 0`); for :math:`\alpha = 1`
    the start is the root. A fixed number of steps keeps one graph for numpy and pytensor; the
    first ``steps - 1`` run without gradients (one ``scan`` in pytensor) and the gradient flows
    through the last step only, which at the root is the implicit-function gradient. Everything
    is in softplus form, so no step overflows for any :math:`\log g` or :math:`\alpha > 0`.
    """
    def newton_step(t, log_g, alpha):
        sp_pos = _softplus(t, xp)
        sp_neg = _softplus(-t, xp)
        h = t - (1.0 - alpha) * sp_pos - log_g
        slope = xp.exp(-sp_pos) + alpha * xp.exp(-sp_neg)  # sigma(-t) + alpha sigma(t)
        return t - h / slope

    # The iterations run on gradient-stopped inputs; one last step with gradients attached gives,
    # at the root, exactly the implicit-function gradient dt/dθ = -(dh/dθ) / h'(t) (the step's
    # derivative in t vanishes there). Back-propagating through every step instead made XLA
    # compile the NUTS loop for over a minute.
    g0, a0 = _stop_gradient(log_g, xp), _stop_gradient(alpha, xp)
    lo = xp.minimum(g0, g0 / a0)
    hi = xp.maximum(g0, g0 / a0)
    t = xp.where(a0 < 1.0, lo, hi)
    if xp is np:
        for _ in range(steps - 1):
            t = newton_step(t, g0, a0)
    else:  # one loop body for XLA to compile, not steps - 1 unrolled copies of it
        import pytensor

        t = pytensor.scan(lambda t_, g_, a_: newton_step(t_, g_, a_), outputs_info=[t],
                          non_sequences=[g0, a0], n_steps=steps - 1, return_updates=False)[-1]
    t = newton_step(t, log_g, alpha)
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
    always exceeds the limit), ``k0`` :math:`= \beta\,\delta^{\alpha}\,\bar x^{-c}`, ``c`` and
    ``alpha``; ``eps_0``, ``beta`` and ``beta0`` (:math:`\beta \bar x^{-c}`) are derived. Then
    :math:`g = k_0 (x/\bar x)^{-c} / \delta`.

    Why ``k0`` and not the paper's :math:`\beta`: while the excess share :math:`u` is small (a
    curve seen only in its power-law regime, like the Revisiting LM curves, which start at 0.999
    of their first loss and fall 14% at most), :math:`u \approx g`, so the data fix
    :math:`\varepsilon_x - \varepsilon_\infty \approx k_0 (x/\bar x)^{-c}` and say little about
    :math:`\delta` and :math:`\alpha` apart. Sampling :math:`\beta` makes
    :math:`(\beta, \delta, \alpha)` a curved ridge that NUTS crosses only with maximal trees
    (R-hat 1.08 and bulk ESS 55 at 4 x 1000 on LM); with ``k0`` the well-determined excess is one
    coordinate and the weakly determined shape parameters keep their priors' spread. The
    reference :math:`\bar x` is the geometric centre of the fitted inputs (``x_ref``, set when the
    law is bound to its data), so ``k0`` and ``c`` are nearly uncorrelated.

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
        Param("k0", math.log(0.1), 1.5, family_scale=0.5,
              doc="excess loss beta delta^alpha x^-c at the reference x (power-law regime)"),
        Param("c", math.log(0.3), 1.0, family_scale=0.3, doc="power-law exponent (positive)"),
        Param("alpha", math.log(0.5), 1.0, family_scale=0.3,
              doc="shape: 0 = power law, larger = sigmoid in log x"),
    )
    derived_names = ("eps_0", "beta", "beta0")
    formula_text = "(L - eps_inf) / (eps_0 - L)^alpha = beta x^-c"
    reference = "Alabdulmohsin et al. 2022, arXiv:2209.06640"

    def __init__(self, input: str = "seen_examples", x_ref: float | None = None, **kwargs):
        if input not in X_REF:
            raise SpecError(f"m4 input must be one of {sorted(X_REF)}, not {input!r}")
        if x_ref is not None and not (isinstance(x_ref, (int, float)) and 0 < x_ref < math.inf):
            raise SpecError(f"m4 x_ref must be a positive number of {input}, not {x_ref!r}")
        self.input = input
        self.inputs = (input,)
        self.x_ref = None if x_ref is None else float(x_ref)
        #: log of the reference x of k0: the geometric centre of the fitted range once bound
        self.log_ref = math.log(X_REF[input] if x_ref is None else x_ref)
        super().__init__(**kwargs)

    def bind(self, table) -> "M4":
        """This law with ``x_ref`` at the geometric centre of the fitted input, unless given."""
        if self.x_ref is not None:
            return self
        lx = np.asarray(table.x[self.input], dtype=float)
        return self.with_options(x_ref=float(np.exp(0.5 * (lx.min() + lx.max()))))

    def options(self) -> dict:
        """The chosen input column (and, once bound to data, the reference x of ``k0``)."""
        return {"input": self.input} | ({} if self.x_ref is None else {"x_ref": self.x_ref})

    def formula(self, x, p, xp):
        """Return log L (see the class docstring)."""
        alpha = p["alpha"]
        log_g = p["log_k0"] - p["c"] * (x[self.input] - self.log_ref) - p["log_delta"]
        log_u = solve_log_share(log_g, alpha, xp)
        return xp.logaddexp(p["log_eps_inf"], p["log_delta"] + log_u)

    def derived(self, p, xp):
        """Return the paper's eps_0 and beta, and beta0 (beta x^-c at the reference x)."""
        log_beta0 = p["log_k0"] - p["alpha"] * p["log_delta"]
        return {"eps_0": p["eps_inf"] + p["delta"],
                "beta": xp.exp(log_beta0 + p["c"] * self.log_ref),
                "beta0": xp.exp(log_beta0)}
