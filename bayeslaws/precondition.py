r"""Per-family affine preconditioning of centred pooling, from a Laplace pilot of each family.

With centred pooling (:mod:`bayeslaws.hierarchy`) and hundreds of runs per family, each family's
parameters are pinned by its own data along directions that the law's form makes strongly
correlated: on a simulated Chinchilla family of 500 runs, corr(log A0, log alpha) is -0.985 and
corr(log B0, log beta) -0.983. NUTS with a diagonal mass matrix must then take steps as small as
the narrowest of these ridges in every one of the families (383 leapfrog steps per draw at 200
families), and a dense mass matrix over all families' parameters (about a thousand dimensions)
cannot be estimated from a warm-up's draws. The fix is the block-diagonal mass matrix the problem
has, written as a change of variables:

.. math::

    \theta_f = c_f + L_f w_f,

with a free :math:`w_f` per family, the centre :math:`c_f` and the Cholesky factor :math:`L_f`
of the covariance of a Laplace (Gauss-Newton) approximation to the family's posterior under the
law's wide prior, and the population prior :math:`\theta_f \sim N(\mu_\theta, \sigma_\theta)`
kept on :math:`\theta_f` itself. The Jacobian is constant, so the posterior is exactly that of
plain centred pooling; only the geometry NUTS sees changes (a well-fitted family's :math:`w_f`
is close to a standard normal). A poor pilot costs speed, never correctness.

Reference: the block structure of hierarchical posteriors with informative groups,
Papaspiliopoulos, Roberts & Sköld 2007, "A general framework for the parametrization of
hierarchical models", Statistical Science 22(1); preconditioning NUTS by an affine map, Hoffman
et al. 2019, "NeuTra-lizing bad geometry in Hamiltonian Monte Carlo using neural transport"
(the linear case).
"""

from __future__ import annotations

import warnings

import numpy as np

#: Fewest runs per sampled parameter for a family's pilot; fewer: the prior's diagonal scale.
MIN_ROWS_PER_PARAM = 2
#: The same for a fit of one family, whose whole posterior the map shapes: with fewer runs the
#: posterior is too far from Gaussian for a linear map (simulated 15-run Chinchilla tables mixed
#: worse with it: R-hat 1.03-1.07 at 4 x 500 against 1.004 without), with 20-80 of Epoch's runs
#: it mixes as well as without in 4-5x fewer leapfrog steps.
MIN_ROWS_PER_PARAM_ONE_FAMILY = 8


def centred_names(law, n_families: int) -> list[str]:
    r"""Sampled names of the parameters sampled through the affine map, in the law's order.

    With several families: the parameters with centred pooling. With one family: every pooled
    parameter (``partial`` or ``centred``), whose one value is its population mean
    :math:`\mu_\theta` (:func:`bayeslaws.hierarchy.build_params`); the map
    :math:`\mu = c + L w` then undoes the correlations the law's form puts between them
    (corr(log A0, log alpha) about -0.98 on Epoch's Chinchilla runs), which a diagonal mass
    matrix cannot: NUTS took 123 leapfrog steps per draw on that fit without the map.
    """
    pooled = ("partial", "centred") if n_families < 2 else ("centred",)
    return [p.sampled for p in law.parameters.values() if law.pooling[p.name] in pooled]


def mapped_names(law, n_families: int) -> list[str]:
    """Names of the values the affine map produces, as the posterior holds them: the centred
    per-family parameters, or with one family the population means ``{name}_mu``."""
    names = centred_names(law, n_families)
    return [f"{n}_mu" for n in names] if n_families < 2 else names


def conditioned_names(law, n_families: int) -> list[str]:
    """Sampled names of the ``partial`` (non-centred) parameters that the centred block is
    conditioned on (:func:`affine_maps` with ``conditioned``): none when no parameter is centred
    or there is one family."""
    if n_families < 2 or not centred_names(law, n_families):
        return []
    return [p.sampled for p in law.parameters.values() if law.pooling[p.name] == "partial"]


def family_laplace(law, x: dict[str, np.ndarray], y: np.ndarray, names: list[str],
                   free: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    r"""Laplace approximation of one family's posterior under the law's own prior.

    Maximises :math:`-\tfrac12\sum_i (y_i - f(x_i;\theta))^2/s^2
    - \tfrac12\sum_p (\theta_p - m_p)^2 / v_p^2` over all sampled parameters ``names``
    (prior ``loc`` :math:`m`, ``scale`` :math:`v`; :math:`s` the residual sd, re-estimated once)
    and returns the centre and covariance of the ``free`` subset, or None when the fit fails.
    """
    from scipy.optimize import least_squares

    prms = {p.sampled: p for p in law.parameters.values()}
    loc = np.array([prms[n].loc for n in names])
    scale = np.array([prms[n].scale for n in names])

    def predict(theta):
        with np.errstate(all="ignore"):
            return law.formula(x, law.natural(dict(zip(names, theta)), np), np)

    s = float(law.noise["sigma_scale"])
    theta = loc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for _ in range(2):  # fit, then again with the residual sd it found
                def residuals(t, s=s):
                    r = (y - predict(t)) / s
                    return np.concatenate([np.where(np.isfinite(r), r, 1e6), (t - loc) / scale])
                res = least_squares(residuals, theta, method="trf", x_scale=scale)
                theta = res.x
                s = max(float(np.sqrt(np.mean((y - predict(theta)) ** 2))), 1e-4)
    except Exception:  # noqa: BLE001 -- a pilot that fails costs speed, never the fit
        return None
    precision = res.jac.T @ res.jac  # Gauss-Newton: data rows / s and the prior's rows
    try:
        cov = np.linalg.inv(precision)
    except np.linalg.LinAlgError:
        return None
    keep = [names.index(n) for n in free]
    c, cov = theta[keep], cov[np.ix_(keep, keep)]
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(cov))):
        return None
    return c, cov


def affine_maps(law, x: dict[str, np.ndarray], y: np.ndarray, family_idx: np.ndarray,
                n_families: int, free: list[str], conditioned: list[str] | None = None,
                pilot: bool = True) -> tuple:
    r"""Centres ``c`` (families x free) and lower Cholesky factors ``L`` (families x free x free)
    of :math:`\theta_f = c_f + L_f w_f`, one Laplace pilot per family (:func:`family_laplace`).

    A family with too few runs, or whose pilot fails, gets the prior's location and a diagonal
    of its ``family_scale``: the plain centred geometry (with one family, the prior's own
    ``scale``: the geometry of sampling the means directly). ``pilot=False`` gives every family
    that fallback (:mod:`bayeslaws.batch` reruns a one-family fit so when the map did not serve
    it).

    With ``conditioned`` (the non-centred parameters :math:`\eta` sampled beside the centred
    block, :func:`conditioned_names`), returns ``(c, L, B, a)`` of the conditional map

    .. math::

        \theta_f = c_f + B_f(\eta_f - a_f) + L_f w_f,\quad
        B_f = \Sigma_{\theta\eta}\Sigma_{\eta\eta}^{-1},\quad
        L_f L_f^T = \Sigma_{\theta\theta} - B_f\Sigma_{\eta\theta},

    the pilot's Gaussian of :math:`\theta_f` given :math:`\eta_f` (``a_f`` the pilot's centre of
    :math:`\eta_f`). A family's centred :math:`\log A_0` then follows its non-centred
    :math:`\alpha` along the ridge between them. :math:`\eta` does not depend on :math:`w`, so
    the Jacobian is still the constant :math:`|L_f|` and the posterior is unchanged.
    """
    prms = {p.sampled: p for p in law.parameters.values()}
    names = [p.sampled for p in law.parameters.values()]
    cond = list(conditioned or [])
    fallback_c = np.array([prms[n].loc for n in free])
    # a family without a usable pilot keeps its prior's geometry: the population prior of
    # centred pooling, or with one family the prior of the population mean itself
    fallback_l = np.diag([prms[n].scale if n_families < 2 else prms[n].family_scale
                          for n in free])
    c = np.tile(fallback_c, (n_families, 1))
    chol = np.tile(fallback_l, (n_families, 1, 1))
    slope = np.zeros((n_families, len(free), len(cond)))
    centre = np.tile(np.array([prms[n].loc for n in cond], dtype=float), (n_families, 1))
    family_idx = np.asarray(family_idx)
    for f in range(n_families):
        rows = family_idx == f
        need = MIN_ROWS_PER_PARAM if n_families > 1 else MIN_ROWS_PER_PARAM_ONE_FAMILY
        if not pilot or rows.sum() < need * len(names):
            continue
        found = family_laplace(law, {k: np.asarray(v)[rows] for k, v in x.items()},
                               np.asarray(y)[rows], names, free + cond)
        if found is None:
            continue
        k = len(free)
        mean, cov = found
        try:
            if cond:
                b = np.linalg.solve(cov[k:, k:], cov[k:, :k]).T  # Sigma_te Sigma_ee^-1
                cov_c = cov[:k, :k] - b @ cov[k:, :k]
            else:
                b, cov_c = np.zeros((k, 0)), cov
            chol[f] = np.linalg.cholesky(cov_c)
        except np.linalg.LinAlgError:
            continue
        c[f], slope[f], centre[f] = mean[:k], b, mean[k:]
    if conditioned is None:
        return c, chol
    return c, chol, slope, centre
