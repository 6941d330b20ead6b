r"""Data-relative reference scales of the laws' reducible-loss priors.

Several laws sample each reducible term through its value at a reference scale instead of
the paper's coefficient: Chinchilla's :math:`A_0 = A\bar N^{-\alpha}` (the N-term loss at
:math:`\bar N`), and likewise ``B0``, Kaplan's ``LN0``/``LD0``, the power law's ``R0``, the
over-training law's ``a0``/``b0``. That removes the ridge between a coefficient and its exponent,
and lets the prior of ``A0`` (log-normal around 0.5 nats) talk about a loss one can picture.

The prior is only weakly informative *near the reference*. With a fixed LLM-scale reference
(:math:`\bar N = 10^9`) and runs at :math:`N \sim 10^4`–:math:`5\cdot10^6`, the prior on the
N-term's loss three to five decades away from the data becomes a prior on the exponent:
:math:`\log A_0 = \log A(N_{data}) - \alpha \log(\bar N / N_{data})`, so
:math:`\alpha \approx (\log A(N_{data}) - \log A_0)/\log(\bar N / N_{data})`, which the default
prior of ``A0`` pulls to about :math:`0.1 \pm 0.12`. An independent benchmark of synthetic
IsoFLOP tables (issue 23) found exactly that: at small scale the 90% intervals covered
:math:`\alpha` in 24 of 36 tables (3 of 12 at noise sd 0.2), median :math:`\hat\alpha = 0.291`
against a true 0.25; with the reference scales moved to the data the bias went away.

The rule here: when a law is bound to a run table (:meth:`bayeslaws.laws.Law.bind`, called by
:func:`bayeslaws.data.prepare_for_fit`), each reference scale without a value given stays at the
law's fixed (LLM-scale) reference if that lies within the fitted runs' range of the input, and
otherwise becomes the round power of ten nearest the geometric centre of that range,

.. math::

    \bar x = \begin{cases} x_{\mathrm{fixed}} & x_{\min} \le x_{\mathrm{fixed}} \le x_{\max} \\
    10^{\,\mathrm{round}\left(\frac{1}{2}\left(\log_{10} x_{\min} + \log_{10} x_{\max}\right)\right)}
    & \text{otherwise,} \end{cases}

and the reference is stored as a law option (``n_ref``, ``d_ref``, ``c_ref``, ``x_ref``), so
the fitted law, saved with the fit, rebuilds the same formula. A reference inside the data is
as good a place for the prior as the centre (the prior speaks about a loss the data see), so fits
at LLM scale are exactly what they were; only data away from it move. A law that is never bound,
and every fit saved before this rule (whose law spec has no such option), keeps the fixed
reference, so old files load and predict as before. Where the prior of a reference-level
parameter was overridden (``priors={"A0": ...}``), that prior was stated at the documented fixed
reference, so binding keeps the fixed reference for it.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SpecError


def data_reference(log_values, fixed: float | None = None) -> float:
    """The reference scale of an input for a table (the rule of this module).

    Parameters
    ----------
    log_values : array-like
        Natural logs of the input's values (as :class:`bayeslaws.data.RunTable` holds them).
    fixed : float, optional
        The law's fixed reference, kept when it lies within the values' range.

    Returns
    -------
    float
        ``fixed`` when :math:`x_{\\min} \\le` ``fixed`` :math:`\\le x_{\\max}`, else
        :math:`10^{\\mathrm{round}((\\log_{10} x_{\\min} + \\log_{10} x_{\\max})/2)}`.
    """
    lx = np.asarray(log_values, dtype=float)
    lx = lx[np.isfinite(lx)]
    lo, hi = float(lx.min()), float(lx.max())
    if fixed is not None and lo <= math.log(fixed) <= hi:
        return float(fixed)
    return float(10.0 ** math.floor(0.5 * (lo + hi) / math.log(10.0) + 0.5))  # half up


def check_reference(law_name: str, option: str, value) -> float | None:
    """Validate a reference-scale option: None (not yet bound) or a positive finite number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise SpecError(f"{law_name}: {option} must be a positive number (a reference scale), "
                        f"not {value!r}")
    return float(value)


def prior_overridden(law, name: str) -> bool:
    """Whether the prior of parameter ``name`` differs from the law's default."""
    default = {p.name: p for p in type(law).params} if type(law).params else {}
    if name not in default:  # laws that build their params per instance
        return False
    return law.parameters[name] != default[name]


def bound_references(law, table, specs) -> dict:
    """The options that bind ``law``'s reference scales to ``table``.

    Parameters
    ----------
    law : Law
    table : bayeslaws.data.RunTable
        Its ``x`` holds the natural logs of the inputs.
    specs : iterable of (option, current value, fixed reference, function of table.x giving
        log values, names of the parameters stated at the reference)
        One entry per reference scale.

    Returns
    -------
    dict
        ``{option: value}`` for every reference not yet set: the data's (:func:`data_reference`),
        or the fixed one where a prior of a parameter stated at it was overridden. Every
        reference is recorded, moved or not, so that a bound law binds to nothing else: the
        calibration backtests' refits on the smaller runs (:mod:`bayeslaws.extrapolation`,
        which refit ``fit.law``) keep the main fit's references and so measure the drift of the
        model that was fitted.
    """
    changes = {}
    for option, current, fixed, log_values, at_ref in specs:
        if current is not None:
            continue
        if any(prior_overridden(law, n) for n in at_ref):
            changes[option] = float(fixed)
        else:
            changes[option] = data_reference(log_values(table.x), fixed)
    return changes


#: Fixed reference scales of the (N, D) laws: where their term priors sit unless the data lie
#: elsewhere (Hoffmann-scale runs: 1e9 parameters, 2e10 tokens).
N_REF = 1e9
D_REF = 2e10


class ParamsTokensReferences:
    """Mixin of the laws with a reference model size and token count (Chinchilla, Kaplan,
    data-constrained): the ``n_ref``, ``d_ref`` options, their binding to the data
    (:func:`bound_references`) and ``log_n_ref``, ``log_d_ref``, the natural logs in effect.

    ``reference_terms`` names the sampled parameters whose priors are stated at each reference
    (a term whose prior was overridden keeps the fixed reference).
    """

    reference_terms: tuple[str, str] = ("A0", "B0")

    def __init__(self, n_ref: float | None = None, d_ref: float | None = None, **kwargs):
        self.n_ref = check_reference(self.name, "n_ref", n_ref)
        self.d_ref = check_reference(self.name, "d_ref", d_ref)
        #: natural logs of the reference scales in effect
        self.log_n_ref = math.log(N_REF if self.n_ref is None else self.n_ref)
        self.log_d_ref = math.log(D_REF if self.d_ref is None else self.d_ref)
        super().__init__(**kwargs)

    def bind(self, table):
        """This law with ``n_ref``, ``d_ref`` moved to the data's round powers of ten where the
        fixed ones lie outside the runs' range (unless given; a reference whose term's prior was
        overridden stays fixed). The references are recorded as options either way (a bound law
        stays bound)."""
        n_term, d_term = self.reference_terms
        changes = bound_references(self, table, [
            ("n_ref", self.n_ref, N_REF, lambda x: x["params"], (n_term,)),
            ("d_ref", self.d_ref, D_REF, lambda x: x["tokens"], (d_term,))])
        return self.with_options(**changes) if changes else self

    def options(self) -> dict:
        """The reference scales, once bound to data (none before)."""
        return {k: v for k, v in (("n_ref", self.n_ref), ("d_ref", self.d_ref)) if v is not None}
