r"""The capacity gap in distillation (Zhang et al. 2023): student loss against teacher size, with an
interior optimum at a teacher about 2.5 times the student, and the optimal teacher as posterior draws.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import BayeslawsError
from .base import Law, Param

#: Pooling by default: each student's best loss is its own (independent); the optimal ratio and the
#: curvature vary from student to student around a population (partial).
DEFAULT_POOLING = {"L": "independent", "r": "partial", "k": "partial"}

#: The published headline (Zhang et al. 2023, abstract): the optimal teacher is about 2.5x the
#: student, "consistently ... across different model and data scales". Used by :func:`simulate`
#: as a default truth only; never as a prior.
PUBLISHED_RATIO = 2.5


class CapacityGap(Law):
    r"""Student loss as a function of student and teacher size, with an interior optimum.

    .. math::

        \log L(N_S, N_T) = \log L^*_f + k_f \left(\log\frac{N_T}{N_S} - \log r_f\right)^2,
        \qquad N_T^* = r_f\, N_S

    The "curse of capacity gap" of Zhang et al. 2023: a distilled student's quality is
    non-monotone in the teacher's size; too small a teacher knows too little, too large a one is
    too far from the student to imitate. Each family :math:`f` is one student (its size
    :math:`N_S`, architecture and data) distilled from teachers of several sizes :math:`N_T`;
    :math:`L^*_f` is that student's loss under the best teacher, :math:`r_f` its optimal
    teacher/student ratio and :math:`k_f` the curvature of log loss in the log ratio (a second-order
    expansion around the vertex, the form LAWS.md section 8 suggests). The paper's law is that the
    optimal teacher grows linearly with the student, :math:`N_T^* \approx 2.5 N_S`: here :math:`r`
    is partially pooled across students, so its population distribution says both where the
    optimum is and how constant it is across scales (its between-student sd ``log_r_sigma``).

    Inputs ``params`` (student parameters :math:`N_S`) and ``teacher_params`` (:math:`N_T`); target
    ``loss`` (the student's loss, lower is better; for a score such as accuracy use an error rate).
    The optimal teacher for a student is :func:`optimal_teacher` (``fit.optimal_teacher``).

    Parameters
    ----------
    L : the student's loss under its optimal teacher (independent per student).
    r : the optimal teacher/student size ratio (partially pooled).
    k : curvature of log loss in log(N_T / N_S) (partially pooled).

    References
    ----------
    Zhang, Song, Wang, Yang, Wang, Zhao, Wang, Zhang 2023, "Towards the Law of Capacity Gap in
    Distilling Language Models", arXiv:2311.07052 (ACL 2025); MiniMA-3B distilled from
    LLaMA-2-7B.
    """

    name = "capacity-gap"
    target = "loss"
    inputs = ("params", "teacher_params")
    params = (
        Param("L", math.log(3.0), 1.0, family_scale=0.3, doc="the student's loss under its best teacher"),
        # not centred on the published 2.5: ratio 1 (a teacher of the student's size), 95% in 0.05-19
        Param("r", 0.0, 1.5, family_scale=0.3, doc="optimal teacher/student size ratio N_T*/N_S"),
        Param("k", math.log(0.01), 1.5, family_scale=0.5,
              doc="curvature of log loss in log(N_T/N_S)"),
    )
    formula_text = "log L = log L* + k (log(N_T/N_S) - log r)^2, N_T* = r N_S"
    reference = "Zhang et al. 2023, arXiv:2311.07052"
    default_noise = {"likelihood": "student_t", "sigma_scale": 0.02}
    #: Extrapolation backtests (:mod:`bayeslaws.extrapolation`) refit on the smaller teachers of
    #: each student and forecast its larger ones: a new student's own best loss is unknown.
    size_input = "teacher_params"

    def __init__(self, *, pooling=None, **kwargs):
        if pooling is None:
            pooling = dict(DEFAULT_POOLING)
        elif isinstance(pooling, dict):
            pooling = DEFAULT_POOLING | pooling
        super().__init__(pooling=pooling, **kwargs)

    def formula(self, x, p, xp):
        """Return log L (see the class docstring)."""
        u = x["teacher_params"] - x["params"] - p["log_r"]
        return p["log_L"] + p["k"] * u * u


def simulate(students=(1e8, 3e8, 1e9, 3e9), ratios=(1.25, 1.6, 2.0, 2.5, 3.2, 4.0, 6.0, 10.0, 20.0),
             *, r=PUBLISHED_RATIO, k=0.01, loss=None, r_sd=0.0, noise=0.002,
             seed: int = 0) -> pd.DataFrame:
    """Simulate distillation sweeps from the ``capacity-gap`` law: one family per student.

    Parameters
    ----------
    students : sequence of float
        Student sizes N_S (one family each, named ``student_<N_S>``).
    ratios : sequence of float
        Teacher/student ratios of each sweep (teachers ``N_T = ratio * N_S``).
    r, k : float
        True optimal ratio (median across students) and curvature.
    loss : sequence of float, optional
        Each student's best loss; default ``4.0 * (N_S / 1e8) ** -0.07``.
    r_sd : float
        Between-student sd of log r (0: the same optimum for every student).
    noise : float
        sd of the Gaussian noise on log loss.
    seed : int
        Random seed.

    Returns
    -------
    pandas.DataFrame
        ``family``, ``params``, ``teacher_params``, ``ratio``, ``loss`` and the truth ``r_true``.
    """
    rng = np.random.default_rng(seed)
    students = np.asarray(students, dtype=float)
    best = (4.0 * (students / 1e8) ** -0.07 if loss is None
            else np.broadcast_to(np.asarray(loss, dtype=float), students.shape))
    law = CapacityGap()
    rows = []
    for n_s, l_star in zip(students, best):
        r_f = r * math.exp(rng.normal(0.0, r_sd)) if r_sd > 0 else r
        teachers = n_s * np.asarray(ratios, dtype=float)
        truth = law.evaluate({"params": np.full(teachers.shape, n_s), "teacher_params": teachers},
                             {"L": l_star, "r": r_f, "k": k})
        for n_t, value in zip(teachers, truth):
            rows.append({"family": f"student_{n_s:.0e}".replace("+", ""), "params": n_s,
                         "teacher_params": n_t, "ratio": n_t / n_s,
                         "loss": float(value * math.exp(rng.normal(0.0, noise))), "r_true": r_f})
    return pd.DataFrame(rows)


def _ratio_draws(fit, family, seed) -> xr.DataArray:
    """Draws of log r for a fitted student, or a new student's (population) draws."""
    law = fit.law
    if family in fit.families:
        return fit.sampled_draws(family)["log_r"]
    if family not in (None, "population"):
        raise BayeslawsError(f"family {family!r} is not in this fit; choose one of "
                             f"{fit.families + ['population']}")
    if law.pooling["r"] == "independent":
        raise BayeslawsError("a new student needs partial or shared pooling of r; refit without "
                             "independent pooling of r, or pass family= a fitted student")
    if law.pooling["r"] == "shared":
        value = fit.posterior["log_r"]
        return value.isel(family=0, drop=True) if "family" in value.dims else value
    post = fit.posterior
    mu = post["log_r_mu"]
    z = xr.DataArray(np.random.default_rng(seed).standard_normal(mu.shape), dims=mu.dims,
                     coords=mu.coords)
    return mu + post["log_r_sigma"] * z


def optimal_teacher(fit, student_params, *, family=None, seed: int = 0) -> xr.Dataset:
    r"""Optimal teacher size for students of given sizes, as posterior draws.

    :math:`N_T^* = r\, N_S` (Zhang et al. 2023, whose headline is :math:`r \approx 2.5`), with
    :math:`r` the fitted student's optimal ratio (``family=``) or, for a new student (the default
    with several fitted students), a draw from the population of ratios: its posterior mean and
    the fitted between-student scatter.

    Parameters
    ----------
    fit : bayeslaws.Fit
        A fit of the ``capacity-gap`` law.
    student_params : float or array-like
        Student sizes :math:`N_S` (parameters).
    family : str, optional
        A fitted student, or ``"population"``; default the only student of a one-student fit,
        else the population.
    seed : int
        Seed of the population draws.

    Returns
    -------
    xarray.Dataset
        ``teacher_params_opt`` and ``ratio_opt``, dims ``(chain, draw, student)``, coordinate
        ``params`` (the student sizes).
    """
    if fit.law.name != "capacity-gap":
        raise BayeslawsError(f"optimal_teacher needs a 'capacity-gap' fit, not {fit.law.name!r}")
    n_s = np.atleast_1d(np.asarray(student_params, dtype=float))
    if not (np.isfinite(n_s).all() and (n_s > 0).all()):
        raise BayeslawsError("student_params must be positive finite parameter counts")
    if family is None and len(fit.families) == 1:
        family = fit.families[0]
    log_r = _ratio_draws(fit, family, seed)
    ratio = np.exp(log_r.values)[..., None] * np.ones(n_s.shape)
    dims = ("chain", "draw", "student")
    coords = {"chain": log_r["chain"].values, "draw": log_r["draw"].values,
              "student": np.arange(n_s.size), "params": ("student", n_s)}
    return xr.Dataset({"teacher_params_opt": (dims, ratio * n_s), "ratio_opt": (dims, ratio)},
                      coords=coords)


def optimal_teacher_table(fit, student_params, *, prob: float = 0.9, **kwargs) -> pd.DataFrame:
    """:func:`optimal_teacher` summarised: one row per student, median and equal-tailed bounds."""
    from ..intervals import check_prob, describe

    prob = check_prob(prob)
    ds = optimal_teacher(fit, student_params, **kwargs)
    out = pd.DataFrame({"params": ds["params"].values})
    for q in ("teacher_params_opt", "ratio_opt"):
        s = describe(ds[q], prob)
        for stat in ("median", "lower", "upper"):
            out[f"{q}_{stat}"] = s[stat].values
    return out


def teacher_ranking(fit, student_params, teacher_params, *, family=None,
                    seed: int = 0) -> pd.Series:
    """Posterior probability that each candidate teacher is the best of the candidates.

    The best candidate is the one nearest the optimum in log size (the law is symmetric in
    :math:`\\log(N_T/N_S) - \\log r`), draw by draw. E.g. for MiniMA's 3B student and LLaMA
    teachers of 7B, 13B and 70B, Zhang et al. report 7B as the best.
    """
    teachers = np.atleast_1d(np.asarray(teacher_params, dtype=float))
    ds = optimal_teacher(fit, float(student_params), family=family, seed=seed)
    log_opt = np.log(ds["teacher_params_opt"].values[..., 0]).ravel()
    dist = np.abs(np.log(teachers)[None, :] - log_opt[:, None])
    best = np.bincount(dist.argmin(axis=1), minlength=teachers.size) / log_opt.size
    return pd.Series(best, index=pd.Index(teachers, name="teacher_params"), name="p_best")


def _optimal_teacher_method(fit, student_params, *, family: str | None = None, seed: int = 0,
                            prob: float | None = None):
    """``fit.optimal_teacher(...)``: the draws of :func:`optimal_teacher`, or with ``prob`` the
    summary table of :func:`optimal_teacher_table` (median and bounds per student)."""
    if prob is not None:
        return optimal_teacher_table(fit, student_params, family=family, seed=seed, prob=prob)
    return optimal_teacher(fit, student_params, family=family, seed=seed)


CapacityGap.fit_methods = {"optimal_teacher": _optimal_teacher_method,
                           "teacher_ranking": teacher_ranking}
