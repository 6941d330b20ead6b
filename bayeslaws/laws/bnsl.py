"""Broken neural scaling law (Caballero et al. 2022), with one break by default."""

from __future__ import annotations

import math

import numpy as np

from ..errors import SpecError
from .base import Law, Param
from .power_law import X_REF


def _softplus(z, xp):
    """``log(1 + e^z)``, stable for large ``|z|`` in numpy and pytensor."""
    return xp.logaddexp(0.0, z)


class BNSL(Law):
    r"""Broken neural scaling law: a power law whose log-log slope changes smoothly at breaks.

    .. math::

        y = a + b\,x^{-c_0} \prod_{i=1}^{n}
            \left(1 + \left(\frac{x}{d_i}\right)^{1/f_i}\right)^{-c_i f_i}

    (Caballero et al. 2022, Eq. 1). Segment 1 falls with log-log slope :math:`-c_0`; after break
    :math:`i` (at :math:`x = d_i`, sharpness :math:`f_i`, smaller is sharper) the slope is
    :math:`-(c_0 + \dots + c_i)`. Evaluated in log space, :math:`\log y =
    \mathrm{LSE}(\log a,\ r(x))`, with the log of the reducible part :math:`y - a` written around
    a reference scale :math:`\bar x` (the centre of the fitted range),

    .. math::

        r(x) = \log b_0 - c_0 \log\frac{x}{\bar x}
        - \sum_i c_i f_i \Big[\mathrm{softplus}\Big(\frac{\log x - \log d_i}{f_i}\Big)
          - \mathrm{softplus}\Big(\frac{\log \bar x - \log d_i}{f_i}\Big)\Big],

    so :math:`b_0` is the curve's reducible part at :math:`\bar x` (breaks included) and
    :math:`\log b = \log b_0 + c_0 \log\bar x + \sum_i c_i f_i\,
    \mathrm{softplus}((\log\bar x - \log d_i)/f_i)`. Every term stays finite for any :math:`x`.

    Parameters
    ----------
    input : {"seen_examples", "tokens", "params", "flops"}
        The single input column (default ``seen_examples``, the Revisiting benchmark's).
    breaks : int
        Number of breaks :math:`n` (1 by default; the paper warns that extra breaks make
        extrapolation fragile, so keep it small).
    x_range : [low, high], optional
        The fitted input range (x units) that the default priors of the breaks refer to. Left
        out, :meth:`bind` sets it from the data at fit time, and the fitted law keeps it.
    b0_at : {"curve", "segment1"}
        What ``b0`` is: the whole curve's reducible part at :math:`\bar x` (``"curve"``, the
        default) or the segment-1 power law :math:`b\,\bar x^{-c_0}` there, the break terms
        left out (``"segment1"``: the parametrisation of bayeslaws before 2026-11-27, which fits
        saved then are read back with). Both are the same law; they differ in the prior on
        ``b0`` and in how well NUTS mixes (see Notes).

    Notes
    -----
    Sampled parameters: ``a`` (limit), ``b0``, ``c0``, and per break ``c<i>``, ``d<i>`` and
    ``f<i>``, all positive (log scale). ``b`` is derived.

    **Identifiability (why these defaults).** A short learning curve (the Revisiting LM curves
    cover 1.5 decades) is bent by two things that this form can both express: the limit ``a``
    (a flattening) and a break. With the paper's unconstrained ``c_i`` and a break anywhere on
    the x axis, the posterior had separate modes (a flattening break at one end with a low limit,
    a steepening one with a high limit, a break before the data where only ``c0 + c1`` is seen,
    one after it where ``c1``, ``f1`` are prior only): R-hat 1.8 to 3.1. Hence

    * ``c_i > 0`` (log-normal, median 0.2): breaks steepen the slope; flattening is the limit's
      job. A curve that flattens at a break and then keeps falling needs ``a`` near 0 and is
      still expressible with two breaks.
    * The break location is a prior on the log-x scale relative to the fitted range:
      :math:`\log d_i \sim N(\log x_{lo} + S\,i/(n+1),\ S/(6n))`, :math:`S` the range's width
      in log x (at least one decade), so 95% of the prior mass lies in the middle two thirds of
      the data: a break the data cannot place is not extrapolated from.
    * The sharpness is a width in log x, :math:`\log f_i \sim N(\log(S/(8n)), 0.5)`: a break
      spans about an eighth of the range, not all of it (a break as wide as the range is the
      limit's curvature again).
    * ``b0`` is the curve's reducible part at the centre of the fitted range (:math:`10^9` for
      ``seen_examples`` before binding), where the data pin it whatever the break does. The
      earlier reference, the segment-1 power law at the centre, is an extrapolation of segment 1
      past the break whenever the break lies before the centre, so ``b0``, ``c0`` and ``d1``
      traded off along a curved ridge (posterior correlation of ``log b0`` and ``log c0`` -0.94
      on an 11-point curve). On the Revisiting LM curves (``models/revisiting_bnsl.yaml``,
      4 x 1000, ``benchmarks/bnsl_reference.py``) the earlier reference gave max R-hat
      1.030-1.091 at seeds 0-3; this one 1.004-1.006, bulk ESS 437-1046, no divergences.
    * Student-t noise with ``nu >= 1`` (``noise={"nu_min": 1}``): with tails heavier than Cauchy
      a chain settled where every curve was misfitted and "explained" it as outliers (nu 0.5).

    These make NMT, BB and LM converge at 4 x 1000 with each curve on its own.

    References
    ----------
    Caballero, Gupta, Rish, Krueger 2022, "Broken Neural Scaling Laws", arXiv:2210.14891
    (ICLR 2023).
    """

    name = "bnsl"
    inputs = ("seen_examples",)
    params = ()
    derived_names = ("b",)
    formula_text = "y = a + b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)"
    reference = "Caballero et al. 2022, arXiv:2210.14891"
    #: Student-t degrees of freedom kept >= 1 (see the class docstring)
    default_noise = {"likelihood": "student_t", "sigma_scale": 0.05, "nu_min": 1.0}

    legacy_options = {"b0_at": "segment1"}  # fits saved before the option existed

    def __init__(self, input: str = "seen_examples", breaks: int = 1,
                 x_range: tuple[float, float] | list | None = None, b0_at: str = "curve",
                 **kwargs):
        if input not in X_REF:
            raise SpecError(f"bnsl input must be one of {sorted(X_REF)}, not {input!r}")
        if not isinstance(breaks, int) or isinstance(breaks, bool) or not 1 <= breaks <= 3:
            raise SpecError(f"bnsl breaks must be 1, 2 or 3, not {breaks!r}")
        if x_range is not None:
            try:
                lo, hi = (float(v) for v in x_range)
            except (TypeError, ValueError):
                raise SpecError(f"bnsl x_range must be [low, high] in {input} units, "
                                f"not {x_range!r}") from None
            if not 0 < lo < hi < math.inf:
                raise SpecError(f"bnsl x_range must satisfy 0 < low < high, not {x_range!r}")
            x_range = (lo, hi)
        if b0_at not in ("curve", "segment1"):
            raise SpecError(f"bnsl b0_at must be 'curve' or 'segment1', not {b0_at!r}")
        self.b0_at = b0_at
        self.input = input
        self.inputs = (input,)
        self.breaks = breaks
        self.x_range = x_range
        if x_range is None:  # not yet bound to data: breaks spread around the reference decade
            log_lo = math.log(X_REF[input]) - 3.0 * math.log(10.0)
            log_hi = math.log(X_REF[input]) + 3.0 * math.log(10.0)
        else:
            log_lo, log_hi = math.log(x_range[0]), math.log(x_range[1])
        span = max(log_hi - log_lo, math.log(10.0))  # at least one decade
        #: log of the reference x of b0: the centre of the fitted range (X_REF before binding)
        self.log_ref = (math.log(X_REF[input]) if x_range is None else 0.5 * (log_lo + log_hi))
        params = [
            Param("a", math.log(0.5), 1.0, family_scale=0.3, doc="limit (unimprovable value)"),
            Param("b0", math.log(0.5), 1.0, family_scale=0.5,
                  doc=("reducible part y - a at the reference x" if b0_at == "curve"
                       else "segment-1 power law b x^-c0 at the reference x")),
            Param("c0", math.log(0.1), 1.0, family_scale=0.3, doc="initial log-log slope"),
        ]
        for i in range(1, breaks + 1):
            # break i centred at the i-th of breaks + 1 equal parts of the fitted log-x range,
            # three prior sds to either side of it (the data must show a break to place it)
            loc = log_lo + span * i / (breaks + 1)
            params += [
                Param(f"c{i}", math.log(0.2), 0.75, family_scale=0.3,
                      doc=f"steepening of the log-log slope at break {i} (positive)"),
                Param(f"d{i}", loc, span / (6.0 * breaks), family_scale=0.3,
                      doc=f"location of break {i} (x units)"),
                Param(f"f{i}", math.log(span / (8.0 * breaks)), 0.5, family_scale=0.3,
                      doc=f"sharpness of break {i}: width in log x (smaller is sharper)"),
            ]
        self.params = tuple(params)
        super().__init__(**kwargs)

    def bind(self, table) -> "BNSL":
        """This law with ``x_range`` set to the fitted input range, unless it was given."""
        if self.x_range is not None:
            return self
        lx = np.asarray(table.x[self.input], dtype=float)
        return self.with_options(x_range=[float(np.exp(lx.min())), float(np.exp(lx.max()))])

    def options(self) -> dict:
        """The input column, the number of breaks, what ``b0`` is and (once bound to data) the
        fitted x range."""
        opts = {"input": self.input, "breaks": self.breaks, "b0_at": self.b0_at}
        if self.x_range is not None:
            opts["x_range"] = list(self.x_range)
        return opts

    def _break_terms(self, lx, p, xp):
        """``sum_i c_i f_i softplus((lx - log d_i) / f_i)``: how far the breaks bend log y."""
        total = 0.0
        for i in range(1, self.breaks + 1):
            f = p[f"f{i}"]
            total = total + p[f"c{i}"] * f * _softplus((lx - p[f"log_d{i}"]) / f, xp)
        return total

    def _log_b(self, p, xp):
        """Log of the paper's ``b`` from ``b0`` (see ``b0_at``)."""
        log_b = p["log_b0"] + p["c0"] * self.log_ref
        if self.b0_at == "curve":
            log_b = log_b + self._break_terms(self.log_ref, p, xp)
        return log_b

    def formula(self, x, p, xp):
        """Return log y (see the class docstring)."""
        lx = x[self.input]
        # centred on the reference x: no large terms that cancel (single precision keeps digits)
        reducible = p["log_b0"] - p["c0"] * (lx - self.log_ref) - self._break_terms(lx, p, xp)
        if self.b0_at == "curve":
            reducible = reducible + self._break_terms(self.log_ref, p, xp)
        return xp.logaddexp(p["log_a"], reducible)

    def derived(self, p, xp):
        """Return the paper's b (the segment-1 coefficient)."""
        return {"b": xp.exp(self._log_b(p, xp))}
