r"""Centred or non-centred: how each partially pooled parameter is sampled, chosen from the data.

``partial`` pooling (:mod:`bayeslaws.hierarchy`) is one model,
:math:`\theta_f \sim N(\mu_\theta, \sigma_\theta)`, that NUTS can sample in two ways: non-centred,
:math:`\theta_f = \mu_\theta + \sigma_\theta z_f`, or centred, :math:`\theta_f` itself (through
the per-family affine map of :mod:`bayeslaws.precondition`). The posterior is the same; the
geometry is not. For the normal hierarchy :math:`\hat\theta_f \sim N(\theta_f, s_f^2)`,
:math:`\theta_f \sim N(\mu, \sigma^2)`, the centred Gibbs sampler converges at rate
:math:`s^2/(s^2+\sigma^2)` and the non-centred one at :math:`\sigma^2/(s^2+\sigma^2)`
(Papaspiliopoulos, Roberts & Sköld 2007): centred is the better form when a family's own rows pin
its value more tightly (:math:`s_f`) than families differ (:math:`\sigma`), non-centred when the
data inform each family weakly. In HMC the wrong choice shows as a funnel (centred, weak data:
divergences) or as a narrow ridge along which :math:`\mu_\theta` and every :math:`z_f` must move
together (non-centred, strong data: long trajectories, slow mixing, high R-hat); Betancourt &
Girolami 2015, "Hamiltonian Monte Carlo for hierarchical models".

The rule (:func:`choose`), per parameter :math:`p` with ``partial`` pooling, from the Laplace
pilot of each family alone (:func:`bayeslaws.precondition.family_laplace`, the fit the centred
form already uses for its affine map):

* :math:`d_p = \overline{s^2_{f,p}}`, the mean over families of the pilot variance of
  :math:`\theta_{f,p}` (what a family's rows leave unknown);
* :math:`v_p`, the variance across families of the pilot centres :math:`c_{f,p}`; under the model
  :math:`E[v_p] = \sigma_p^2 + d_p`, so :math:`\hat\sigma_p^2 = \max(v_p - d_p, 0)`;
* centred when :math:`d_p < \hat\sigma_p^2 / R` (:data:`RATIO`, i.e. the centred rate
  :math:`s^2/(s^2+\sigma^2)` below :math:`1/(1+R)`), every family has a pilot and there are at
  least :data:`MIN_FAMILIES` families; non-centred otherwise.

Non-centred stays the default whenever the evidence is not clear: families too small for a pilot
(fewer than :data:`~bayeslaws.precondition.MIN_ROWS_PER_PARAM` runs per parameter), a pilot that
fails, or too few families to estimate the spread. ``BAYESLAWS_PARAMETRISATION=noncentred``
turns the rule off (``partial`` is then always non-centred, the behaviour before the rule;
``benchmarks/many_rows_convergence.py --old``).
"""

from __future__ import annotations

import os

import numpy as np

from . import precondition
from .errors import SpecError

#: Centred when the between-family variance exceeds RATIO times a family's data variance.
RATIO = 4.0
#: Fewest families for which the between-family spread is estimated (else non-centred).
MIN_FAMILIES = 3
#: Values of ``BAYESLAWS_PARAMETRISATION``: the rule (default) or always non-centred.
MODES = ("auto", "noncentred")


def mode() -> str:
    """``BAYESLAWS_PARAMETRISATION``: ``auto`` (default) or ``noncentred``.

    Raises
    ------
    SpecError
        When the variable holds something else.
    """
    value = os.environ.get("BAYESLAWS_PARAMETRISATION", "").strip().lower() or "auto"
    if value not in MODES:
        raise SpecError(f"BAYESLAWS_PARAMETRISATION={value!r} is not one of {', '.join(MODES)}; "
                        "unset it for the automatic choice")
    return value


def information(law, x: dict, y: np.ndarray, family_idx: np.ndarray,
                n_families: int) -> dict[str, dict]:
    r"""Per ``partial`` parameter: ``{"data_var": d_p, "spread_var": sigma_hat_p^2,
    "pilots": families with a pilot}`` (see the module docstring).

    Parameters
    ----------
    law : bayeslaws.laws.Law
    x : dict
        Log inputs per row.
    y : numpy.ndarray
        Target on the link scale per row.
    family_idx : numpy.ndarray
        Index of each row's family.
    n_families : int
    """
    names = [p.sampled for p in law.parameters.values()]
    partial = {p.sampled: p.name for p in law.parameters.values()
               if law.pooling[p.name] == "partial"}
    if not partial or n_families < 2:
        return {}
    centres, variances = [], []
    family_idx = np.asarray(family_idx)
    for f in range(n_families):
        rows = family_idx == f
        if rows.sum() < precondition.MIN_ROWS_PER_PARAM * len(names):
            continue
        found = precondition.family_laplace(law, {k: np.asarray(v)[rows] for k, v in x.items()},
                                            np.asarray(y)[rows], names, names)
        if found is None:
            continue
        centres.append(found[0])
        variances.append(np.diag(found[1]))
    out = {}
    for j, name in enumerate(names):
        if name not in partial:
            continue
        if len(centres) >= 2:
            c = np.array([row[j] for row in centres])
            d = float(np.mean([row[j] for row in variances]))
            spread = max(float(np.var(c, ddof=1)) - d, 0.0)
        else:
            d, spread = float("nan"), float("nan")
        out[partial[name]] = {"data_var": d, "spread_var": spread, "pilots": len(centres)}
    return out


def choose(law, x: dict, y: np.ndarray, family_idx: np.ndarray,
           n_families: int) -> dict[str, str]:
    """``{parameter: "centred" | "noncentred"}`` for each parameter with ``partial`` pooling.

    Centred where every family's pilot pins the parameter at least :data:`RATIO` times more
    tightly (in variance) than families differ, with at least :data:`MIN_FAMILIES` families;
    non-centred otherwise, and always when ``BAYESLAWS_PARAMETRISATION=noncentred`` or there is
    one family. Parameters and arguments as in :func:`information`.
    """
    partial = [n for n, how in law.pooling.items() if how == "partial"]
    if mode() == "noncentred" or n_families < MIN_FAMILIES:
        return {n: "noncentred" for n in partial}
    info = information(law, x, y, family_idx, n_families)
    out = {}
    for n in partial:
        i = info.get(n)
        ok = (i is not None and i["pilots"] == n_families and np.isfinite(i["data_var"])
              and i["spread_var"] > RATIO * i["data_var"])
        out[n] = "centred" if ok else "noncentred"
    return out


def sampling_law(law, choice: dict[str, str]):
    """The law that is sampled: ``law`` with the parameters ``choice`` marks centred switched to
    ``centred`` pooling (the same model, another parametrisation); ``law`` itself when none is."""
    centred = {n: "centred" for n, how in choice.items() if how == "centred"}
    return law.with_options(pooling=centred) if centred else law
