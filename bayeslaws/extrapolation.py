r"""Extrapolation discrepancy: how much a law's error grows beyond the range it was fitted on.

A law fitted on small models is usually used far above them, and there its error is not the
interpolation noise it learned: a slightly wrong exponent or a missing term makes the error grow
with the distance from the data. On Epoch's Chinchilla runs the learned noise is about 0.4% in log
loss, the extrapolation error about 0.9%, so plain 90% intervals cover only 61% of the largest
runs (``../shared/reference/CALIBRATION.md``).

The model. On the link scale (log of a positive target) the true curve at a row is

.. math::

    \log L_{\text{true}}(x) = \log L(x;\theta_f) + \delta_f(u(x)),
    \qquad \delta_f \sim \mathrm{GP}\big(0,\ \tau^2 [\min(u, u') + u\, u']\big),
    \qquad u = d / W_f,

where :math:`d(x) \ge 0` is the distance, in decades, of the row beyond the fitted range of its
family (:func:`distance`: the largest excess over the fitted maximum, or shortfall below the
fitted minimum, over the law's scale axes and compute) and :math:`W_f` the decades of compute
(the size axis) that the family's fitted runs span, at least :data:`WIDTH_MIN`
(:func:`relative_distance`). Measuring the distance in widths of the fitted range is the lever
arm of a fit: the error of an exponent fitted over :math:`W` decades shrinks like :math:`1/W`,
so one decade beyond a three-decade fit is a shorter step than one decade beyond a one-decade
fit, and the inner backtests (refits on part of the range, narrower than the final fit) transfer
to the final fit at the right scale. The kernel (:func:`kernel`) is a
Brownian motion along the distance (errors appear as soon as a forecast leaves the data) plus a
random linear drift (a wrong exponent: the error grows in proportion to the distance far out).
Inside the fitted range :math:`d = 0` and nothing changes; beyond it the interval widens, and the
forecasts of one family share one path, so errors at 10x and 100x are correlated.

Learning :math:`\tau` (since 2026-12). A fit's :math:`\tau = \tau_0 (\sigma/\sigma_{ref})^{1/2}`
follows its noise :math:`\sigma` (:func:`noise_scale`: smooth curves extrapolate better; on
Epoch's runs, sigma 0.0037, tau is about 0.029 per width) and the population of the field:
:math:`\tau_0` has a log-normal prior (:data:`TAU_PRIOR`, tau0 about 0.047 per width) learned by
empirical Bayes
from the *realised* forecast errors of the calibration corpus (``benchmarks/calibration.py``:
20 splits of 12 sets of public runs from 9 papers, each split's held-out larger runs against its
final fit, with the residual model below), with the spread across sources fixed at
:data:`SD_FLOOR`. A fit's own inner backtests (below) can update it through a tempered
likelihood (:func:`tau_posterior`, weight :data:`OWN_WEIGHT`), but leave-one-source-out over the
corpus chose weight 0: at any positive weight the mean CRPS was worse (2.13-2.15 against 1.79),
because a few strongly correlated refits on the smaller runs decide :math:`\tau` alone, far too
wide where they happen to extrapolate badly and too narrow where they happen to extrapolate
well (``docs/calibration.md``). So by default no backtest runs.

The inner backtests (leave-future-out inside the training data, Bürkner, Gabry & Vehtari 2020),
used when :data:`OWN_WEIGHT` > 0 and by the benchmarks. The training rows are cut at compute quantiles (:data:`FRACTIONS`); the law is
refitted on each lower part and predicts the upper part. For fold :math:`k` and family
:math:`f`, the residuals :math:`r = y - m` against the refit's predictive median :math:`m` (with
joint predictive covariance :math:`\Sigma`) follow the marginal of the model,
:math:`r \sim N(0, \Sigma + \tau^2 K(d, d))`, so the residuals of one fold count as one look at
the discrepancy, not as many independent points. :math:`\Sigma` (:func:`predictive_cov`) is the
refit's parameter uncertainty, which moves all rows of a family together, plus independent
noise: with only its diagonal, an exponent error of the refit that its own posterior already
allows would be read as drift, and counted again on top of the final fit's parameter
uncertainty (on the bundled backtests the joint covariance raises the log evidence of the same
residuals from 1436.9 to 2071.7 and lowers the population tau from 0.040 to 0.032). Folds and
families pool into one :math:`\tau` per fit, with the population prior above (until 2026-12 it
was learned by :func:`population_prior` from the inner backtests themselves, and the backtests
entered at full weight). The one-dimensional posterior is computed on a grid and its draws are
paired with the posterior draws of the fit.

Why this kernel: on the inner backtests (training rows only) of six datasets the marginal
likelihood of Brownian motion alone (2072.4) and Brownian motion plus drift (2071.7) are equal
and far above a drift alone (1934.4): errors already appear just past the edge of the data. The
two agree within the short distances the backtests probe; the drift term is kept because
exponent errors grow linearly further out, where being too wide is the lesser failure.

Why widths rather than decades: the inner backtests cannot tell the two apart (evidence 2071.7
against 2072.4 with plain decades), since their fitted widths vary little; on the held-out
runs of the extrapolation benchmark, where the final fits span 1.04 to 2 times the widths of
the backtest refits, widths narrowed the 90% intervals (9% against 11% of the loss) and
improved the CRPS on six of seven splits while they still covered 94%
(``benchmarks/RESULTS.md``).

References
----------
Kennedy & O'Hagan 2001, "Bayesian calibration of computer models", JRSS B 63(3).
Bürkner, Gabry & Vehtari 2020, "Approximate leave-future-out cross-validation for Bayesian time
series models", J. Stat. Comput. Simul. 90(14).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from . import data as data_mod
from . import batch, hierarchy, hooks, inference
from .errors import BayeslawsError, ConvergenceWarning
from .progress import PROGRESS
from .scores import score_table
from .sampling import single_sampler

#: Compute quantiles at which the training rows are cut for the inner backtests.
FRACTIONS = (0.5, 0.65, 0.8)
#: Log-normal prior ``(mu, sd)`` of log tau0, the drift rate of a fit whose noise is
#: :data:`SIGMA_REF` (tau: link-scale sd per width of the fitted range, see
#: :func:`relative_distance`; a fit's tau is tau0 times :func:`noise_scale`): tau0 about 0.047,
#: learned by empirical Bayes from the realised forecast errors of the calibration corpus (20
#: splits of 12 sets of public runs from 9 papers, ``benchmarks/calibration.py``: the held-out
#: larger runs against each split's final fit), with the spread across sources fixed at
#: :data:`SD_FLOOR` (candidate ``outer-tight w=0 x sigma^0.5`` in
#: ``benchmarks/results/calibration_prior.json``).
TAU_PRIOR = (-3.060, 0.5)
#: Noise of the fit at which tau equals tau0 (link scale: 1% of the loss).
SIGMA_REF = 0.01
#: Power of the fit's noise that scales its drift: tau = tau0 (sigma / SIGMA_REF) ** NOISE_POWER.
#: 0.5 since 2026-12: on the calibration corpus's leave-one-source-out table it had the best mean
#: CRPS and held its coverage at every distance (90% intervals: 0.91 at 1-3x, 0.95 at 3-30x, 0.87
#: beyond 30x, against 0.95, 0.90 and 0.71 with no noise scaling), with 90% intervals half as
#: wide at 1-3x (``docs/calibration.md``): smooth curves (a small sigma) extrapolate better.
NOISE_POWER = 0.5
#: Weight of a fit's own inner backtests in its tau posterior (a tempered likelihood,
#: :func:`tau_posterior`). 0 since 2026-12: on the calibration corpus's leave-one-source-out
#: table, a fit's own backtests at any weight (0.25, 0.5, 1) worsened the mean CRPS (2.13-2.15
#: against 1.79; ``docs/calibration.md``), because a few strongly correlated refits on the
#: smaller runs set tau alone: far too wide where they happen to extrapolate badly (OLMo-1
#: curves: CRPS 5.98 against 0.67), too narrow where they happen to extrapolate well.
OWN_WEIGHT = 0.0
#: Smallest between-dataset sd of log tau in the empirical-Bayes population prior.
SD_FLOOR = 0.5
#: Upper end of the tau grid (an error of 50% per decade is far beyond any law worth using).
TAU_MAX = 0.5
#: Sampler settings of the backtest refits (enough for a predictive mean and sd).
FOLD_SAMPLING = {"draws": 500, "tune": 500}
#: Fewest rows a backtest refit may use, per sampled parameter of the law.
MIN_ROWS_PER_PARAM = 3
#: Smallest fitted width (decades) that distances are measured against (see
#: :func:`relative_distance`): a family fitted at nearly one size does not make every step
#: beyond it an infinitely long one.
WIDTH_MIN = 1.0
DECADE = math.log(10.0)


def scale_axes(law, x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Log-scale axes along which a row can lie outside the fitted range.

    The law's inputs, plus compute (``log N + log D``) when the law takes both params and tokens.
    """
    axes = {name: np.asarray(x[name], dtype=float) for name in law.inputs}
    if "params" in axes and "tokens" in axes:
        axes["compute"] = axes["params"] + axes["tokens"]
    return axes


def _size_name(law, axes: dict) -> str:
    own = getattr(law, "size_input", None)  # a law may name its own axis (capacity-gap: teacher)
    if own in axes:
        return own
    for name in ("compute", "flops", "params", "tokens"):
        if name in axes:
            return name
    return next(iter(axes))


def size_axis(law, x: dict[str, np.ndarray]) -> np.ndarray:
    """The log axis that orders runs from small to large: compute, else the first input."""
    axes = scale_axes(law, x)
    return axes[_size_name(law, axes)]


def largest_size(law, x: dict[str, np.ndarray], rows: np.ndarray | None = None) -> float:
    r"""The largest run of ``x`` (``rows`` of it) on the size axis, in the axis's own units: FLOPs
    :math:`C = 6ND` where the axis is compute (whose log is :math:`\log N + \log D`), else the
    input itself."""
    axes = scale_axes(law, x)
    name = _size_name(law, axes)
    size = axes[name] if rows is None else axes[name][rows]
    return float(np.exp(size.max())) * (6.0 if name == "compute" else 1.0)


def _families(train_family, family):
    """Yield ``(rows, ref)`` per family of ``family``: its rows, and the fitted rows it is measured
    against (its own, or all fitted rows for a family that was not fitted)."""
    train_family = np.asarray(train_family).astype(str)
    family = np.asarray(family).astype(str)
    for fam in np.unique(family):
        ref = train_family == fam
        yield family == fam, (ref if ref.any() else np.ones(len(train_family), dtype=bool))


def distance(law, train_x: dict, train_family: np.ndarray, x: dict, family: np.ndarray) -> np.ndarray:
    r"""Decades by which each row lies outside the fitted range of its family.

    .. math::

        d = \max_a \max\big(0,\ x_a - \max_{\text{fit}} x_a,\ \min_{\text{fit}} x_a - x_a\big)
        / \ln 10

    over the scale axes :math:`a` (:func:`scale_axes`); a family that was not fitted is measured
    against all fitted rows.
    """
    out = np.zeros(len(family))
    if not getattr(law, "log_inputs", True):
        return out  # linear inputs (mixture proportions): no scale axis to extrapolate along
    train = scale_axes(law, train_x)
    new = scale_axes(law, x)
    for rows, ref in _families(train_family, family):
        for name, values in new.items():
            lo, hi = train[name][ref].min(), train[name][ref].max()
            excess = np.maximum(np.maximum(values[rows] - hi, lo - values[rows]), 0.0)
            out[rows] = np.maximum(out[rows], excess / DECADE)
    return out


def fitted_width(law, train_x: dict, train_family: np.ndarray, family: np.ndarray) -> np.ndarray:
    """Decades of the size axis (:func:`size_axis`) spanned by the fitted rows of each row's
    family (all fitted rows for a family that was not fitted), at least :data:`WIDTH_MIN`."""
    size = size_axis(law, train_x) / DECADE
    out = np.zeros(len(family))
    for rows, ref in _families(train_family, family):
        out[rows] = size[ref].max() - size[ref].min()
    return np.maximum(out, WIDTH_MIN)


def size_multiple(law, train_x: dict, train_family: np.ndarray, x: dict,
                  family: np.ndarray) -> np.ndarray:
    r"""How many times each row's size exceeds the largest fitted run of its family.

    .. math:: m = \exp\big(s(x) - \max_{\text{fit}} s\big)

    on the size axis :math:`s` of :func:`size_axis` (log compute :math:`6ND` when the law takes
    params and tokens): the *compute multiple* of a forecast, 10 for a run with ten times the
    compute of the largest fitted one, below 1 for a run inside (or below) the fitted range. A
    family that was not fitted is measured against all fitted runs. The calibration tables in
    ``docs/calibration.md`` are read by this number.
    """
    train = size_axis(law, train_x)
    new = size_axis(law, x)
    out = np.ones(len(family))
    for rows, ref in _families(train_family, family):
        out[rows] = np.exp(new[rows] - train[ref].max())
    return out


def relative_distance(law, train_x: dict, train_family: np.ndarray, x: dict,
                      family: np.ndarray) -> np.ndarray:
    r"""Distance beyond the fitted range in units of the fitted range's width: :math:`d / W`.

    :math:`d` is :func:`distance` (decades), :math:`W` the decades of the size axis the family's
    fitted rows span (:func:`fitted_width`). This is the axis of the discrepancy: a law fitted
    over three decades and used one decade beyond them is on firmer ground than one fitted over
    one decade (the lever arm of an exponent estimate grows with the fitted range).
    """
    d = distance(law, train_x, train_family, x, family)
    return d / fitted_width(law, train_x, train_family, family)


def fit_distance(fit, x: dict, family: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For rows ``x`` (log inputs) of ``family`` against ``fit``'s data: the decades beyond the
    fitted range (:func:`distance`), the decades that range spans (:func:`fitted_width`) and the
    compute multiple (:func:`size_multiple`); a family that was not fitted (``population``) is
    measured against all data."""
    train = data_mod.prepare(fit.law, fit.data, family_column=fit.config["family_column"],
                             require_target=False)
    train_fam = np.asarray(train.family).astype(str)
    if not train.has_family:
        train_fam = np.full(len(train_fam), fit.families[0])
    family = np.asarray(family).astype(str)
    return (distance(fit.law, train.x, train_fam, x, family),
            fitted_width(fit.law, train.x, train_fam, family),
            size_multiple(fit.law, train.x, train_fam, x, family))


def describe_distance(d: float) -> str:
    """Plain words for a distance in decades: ``'12.6x beyond the fitted range'``."""
    if d <= 0:
        return "inside the fitted range"
    return f"{10 ** d:.3g}x beyond the fitted range"


# --------------------------------------------------------------------------------- tau posterior
def kernel(d_a: np.ndarray, d_b: np.ndarray) -> np.ndarray:
    r"""Discrepancy covariance per unit :math:`\tau^2`: :math:`\min(d_a, d_b) + d_a d_b`.

    A Brownian motion along the distance (variance :math:`\tau^2 d`: errors appear as soon as a
    forecast leaves the data) plus a random linear drift (variance :math:`\tau^2 d^2`: a wrong
    exponent, dominant far out). Both start at zero at the edge of the fitted range.
    """
    d_a, d_b = np.asarray(d_a, dtype=float), np.asarray(d_b, dtype=float)
    return np.minimum(d_a[:, None], d_b[None, :]) + d_a[:, None] * d_b[None, :]


def drift_loglik(groups: list[tuple], tau: np.ndarray, gamma: float = 0.0) -> np.ndarray:
    r"""Log-likelihood of each ``tau`` given backtest residuals, summed over groups.

    Each group is ``(r, S, d)`` or ``(r, S, d, g)``: residuals, the refit's predictive spread and
    distances of one fold and family, and ``g``, the decades by which the fold's largest fitted
    run of that family lies below the full fit's (:func:`backtest_residuals`; 0 when absent).
    ``S`` is either the joint predictive covariance :math:`\Sigma` of the rows (a matrix: the
    refit's parameter uncertainty is shared by the rows, see :func:`predictive_cov`) or their
    predictive sds (a vector, :math:`\Sigma = \mathrm{diag}(S^2)`);
    :math:`r \sim N(0, \Sigma + \tau^2 e^{2\gamma g} K(d))` with :func:`kernel` ``K``. With
    :math:`\gamma > 0` a refit on smaller runs drifts faster than the full fit, and ``tau`` is the
    full fit's rate; the package uses :math:`\gamma = 0`, which the bundled backtests' evidence
    supports (``benchmarks/RESULTS.md``). One eigendecomposition of the whitened kernel
    :math:`L^{-1} K L^{-T}` (:math:`\Sigma = L L^T`) per group makes every grid value cheap.
    """
    from scipy.linalg import solve_triangular

    tau2 = np.asarray(tau, dtype=float)[:, None] ** 2
    total = np.zeros(len(tau2))
    for r, s, d, *rest in groups:
        gap = float(rest[0]) if rest else 0.0
        k = kernel(d, d) * math.exp(2.0 * gamma * gap)
        s = np.asarray(s, dtype=float)
        if s.ndim == 1:
            white, kw, logdet = r / s, k / np.outer(s, s), 2 * np.sum(np.log(s))
        else:
            chol = np.linalg.cholesky(s)
            white = solve_triangular(chol, r, lower=True)
            kw = solve_triangular(chol, solve_triangular(chol, k, lower=True).T, lower=True)
            logdet = 2 * np.sum(np.log(np.diag(chol)))
        lam, vec = np.linalg.eigh(0.5 * (kw + kw.T))
        lam = np.clip(lam, 0.0, None)
        proj = (vec.T @ white) ** 2
        scale = 1.0 + tau2 * lam[None, :]
        total += -0.5 * (np.sum(proj[None, :] / scale + np.log(scale), axis=1)
                         + logdet + len(r) * math.log(2 * math.pi))
    return total


def predictive_cov(law_link: np.ndarray, sd: np.ndarray, clip: float = 0.025) -> np.ndarray:
    r"""Joint predictive covariance of a refit at some rows: shared curve plus own noise.

    .. math:: \Sigma = \mathrm{Cov}(\log L(x_i; \theta), \log L(x_j; \theta))
              + \mathrm{diag}\big(\max(s_i^2 - \mathrm{Var}_i,\ 10^{-4} s_i^2)\big)

    The first term, over the posterior draws of the law curve, is the parameter uncertainty: an
    error in an exponent moves every row of a family together, so it must not be counted as
    independent per row (as a diagonal :math:`s^2` would: a shared offset of many rows would
    then look like drift). The second tops the diagonal up to the predictive variance
    :math:`s_i^2` (half the central 68% range, robust to Student-t tails), which adds the
    observation noise. Draws are winsorised at the ``clip`` and ``1 - clip`` quantiles of each
    row first, so a few far draws (an unseen family's population draws) do not dominate.

    Parameters
    ----------
    law_link : numpy.ndarray
        Link-scale draws of the law curve (no noise), ``(n_draws, n_rows)``.
    sd : numpy.ndarray
        Predictive sds of the rows, ``(n_rows,)``.
    """
    law_link = np.array(law_link, dtype=float)
    finite = np.isfinite(law_link)
    if not finite.all():  # a non-positive law draw on a log link: stand in the row's median
        med = np.nanmedian(np.where(finite, law_link, np.nan), axis=0)
        law_link = np.where(finite, law_link, med[None, :])
    lo, hi = np.quantile(law_link, [clip, 1.0 - clip], axis=0)
    cov = np.atleast_2d(np.cov(np.clip(law_link, lo, hi), rowvar=False))
    sd2 = np.asarray(sd, dtype=float) ** 2
    return cov + np.diag(np.maximum(sd2 - np.diag(cov), 1e-4 * sd2))


def noise_scale(fit) -> float:
    r"""The factor :math:`(\sigma / \sigma_{ref})^{p}` by which a fit's drift rate follows its
    noise (:data:`SIGMA_REF`, :data:`NOISE_POWER`), with :math:`\sigma` the posterior median of
    the likelihood's scale (link scale); 1 for a fit without one."""
    if "sigma" not in fit.posterior or not NOISE_POWER:
        return 1.0
    return float((float(fit.posterior["sigma"].median()) / SIGMA_REF) ** NOISE_POWER)


def tau_posterior(groups, *, prior=None, weight: float | None = None, size: int = 2001,
                  scale: float = 1.0):
    r"""Grid posterior of the unit drift rate: ``(grid, density)`` with the density normalised.

    .. math:: p(\tau_0 \mid r) \propto \mathrm{LogNormal}(\tau_0; \mu, s)\,
              p(r \mid \tau = c\,\tau_0)^{w}

    ``prior`` is ``(mu, sd)`` of a log-normal on tau0 (default :data:`TAU_PRIOR`); ``scale``
    :math:`c` is the fit's :func:`noise_scale` (tau = c tau0); ``weight`` :math:`w` tempers the
    backtests' likelihood (default :data:`OWN_WEIGHT`): a fit's few inner backtests are
    strongly correlated looks at the smaller runs, so at full weight they decide tau alone
    (see :data:`OWN_WEIGHT`).
    """
    mu, sd = prior or TAU_PRIOR
    weight = OWN_WEIGHT if weight is None else float(weight)
    grid = np.linspace(TAU_MAX / size, TAU_MAX, size)
    logp = -0.5 * ((np.log(grid) - mu) / sd) ** 2 - np.log(grid)
    if groups and weight > 0:
        logp = logp + weight * drift_loglik(groups, grid * scale)
    p = np.exp(logp - logp.max())
    p /= np.trapezoid(p, grid)
    return grid, p


def tau_draws(grid: np.ndarray, density: np.ndarray, shape: tuple[int, ...],
              rng: np.random.Generator) -> np.ndarray:
    """Inverse-CDF draws of tau from a grid density."""
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    return np.interp(rng.uniform(size=shape), cdf, grid)


def population_prior(groups_by_dataset: dict, *, sd_floor: float = SD_FLOOR,
                     gamma: float = 0.0) -> tuple[float, float]:
    r"""Empirical-Bayes population prior of :math:`\log\tau` across datasets.

    Each dataset :math:`j` has its own drift rate, :math:`\log\tau_j \sim N(\mu, s)`; the
    marginal likelihood :math:`\prod_j \int p(r_j \mid \tau_j)\, N(\log\tau_j; \mu, s)\,
    d\log\tau_j` of the datasets' backtest residuals is maximised over a grid of
    :math:`(\mu, s)`, with :math:`s \ge` ``sd_floor`` (a handful of datasets cannot pin down
    their spread); ``gamma`` as in :func:`drift_loglik`. Returns ``(mu, s)``, usable as
    ``prior`` of :func:`tau_posterior`.
    """
    log_tau = np.linspace(math.log(1e-4), math.log(TAU_MAX), 600)
    step = log_tau[1] - log_tau[0]
    lls = [drift_loglik(g, np.exp(log_tau), gamma) for g in groups_by_dataset.values() if g]
    best, arg = -np.inf, TAU_PRIOR
    for mu in np.linspace(math.log(1e-3), math.log(0.2), 160):
        for sd in np.linspace(sd_floor, 2.0, 60):
            logn = -0.5 * ((log_tau - mu) / sd) ** 2 - math.log(sd * math.sqrt(2 * math.pi))
            total = sum(np.logaddexp.reduce(ll + logn) + math.log(step) for ll in lls)
            if total > best:
                best, arg = total, (float(mu), float(sd))
    return arg


# --------------------------------------------------------------------------------- backtests
def backtest_splits(law, table, fractions=FRACTIONS) -> list[np.ndarray]:
    """Boolean masks of the rows each inner refit uses (rows below a compute quantile).

    Folds with too few rows to fit (fewer than :data:`MIN_ROWS_PER_PARAM` per parameter), or with
    nothing left to predict, are skipped; duplicates of an earlier fold are dropped.
    """
    size = size_axis(law, table.x)
    n_min = MIN_ROWS_PER_PARAM * len(law.parameters)
    masks, seen = [], set()
    for frac in fractions:
        cut = np.quantile(size, frac)
        mask = size <= cut
        key = int(mask.sum())
        if key < n_min or key == len(size) or key in seen:
            continue
        seen.add(key)
        masks.append(mask)
    return masks


def _scale_gap(size: np.ndarray, family: np.ndarray, mask: np.ndarray, fam: str) -> float:
    """Decades by which the largest run of ``fam`` fitted under ``mask`` lies below the largest
    run of ``fam`` in all the data (over all families for a family the fold did not fit)."""
    own = family == fam
    fold = own & mask
    if not fold.any():
        own, fold = np.ones(len(size), dtype=bool), mask
    return float(size[own].max() - size[fold].max())


def backtest_residuals(law, frame: pd.DataFrame, *, family_column: str = "family", seed: int = 0,
                       sampler: str = "numpyro", chains: int = 4, fractions=FRACTIONS,
                       dense_mass: bool = False, batched: bool = True, float32: bool = False,
                       progress: bool = False):
    """Refit ``law`` on the lower part of ``frame`` at each fold and score the upper part.

    With numpyro (``batched=True``, the default) the folds' refits run as one compiled program
    (:func:`bayeslaws.batch.fit_many`); otherwise one :meth:`~bayeslaws.laws.Law.fit` per fold.

    Returns
    -------
    groups : list of (r, S, d, g)
        Per fold and family: link-scale residuals of the held-out rows against the refit's
        predictive median, their joint predictive covariance (:func:`predictive_cov`: the
        refit's parameter uncertainty, shared by the rows, plus noise), the distances beyond
        the refit's range in
        widths of that range (:func:`relative_distance`), and the decades by which the refit's
        largest run of the family lies below the full data's (:func:`drift_loglik`).
    folds : int
        Number of folds run.
    """
    table = data_mod.prepare(law, frame, family_column=family_column)
    frame = table.frame.reset_index(drop=True)
    size = size_axis(law, table.x) / DECADE
    groups = []
    masks = backtest_splits(law, table, fractions)
    folds = []  # (training mask, held-out mask) of the folds that have rows to score
    for mask in masks:
        out = ~mask
        if not hierarchy.has_population(law):
            # no population to draw an unseen family from: score only the refit's families
            out &= np.isin(table.family, np.unique(table.family[mask]))
        if out.any():
            folds.append((mask, out))
    with warnings.catch_warnings():
        # A short refit on part of the data is a measuring device; its sampler notes are
        # not the user's business (the main fit is checked in full).
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        trains = [frame[mask] for mask, _ in folds]
        if batched and single_sampler(sampler) == "numpyro":  # one compiled program
            with PROGRESS.titled(f"calibration backtests, {len(trains)} refits on the smaller "
                                 "runs"):
                subs = batch.fit_many(law, trains, seed=seed + 1000, chains=chains,
                                      family_column=family_column, dense_mass=dense_mass,
                                      float32=float32, progress=progress, **FOLD_SAMPLING)
        else:
            subs = [inference.fit_law(law, train, seed=seed + 1000 * (k + 1), chains=chains,
                            sampler=single_sampler(sampler), family_column=family_column,
                            extrapolation=None, dense_mass=dense_mass, float32=float32,
                            **FOLD_SAMPLING) for k, train in enumerate(trains)]
    for (mask, out), sub in zip(folds, subs):
        held = frame[out]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            pred = sub.predict(held, seed=seed, discrepancy=False)
        link = pred.predictive.values.reshape(-1, len(held))
        curve = pred.law.values.reshape(-1, len(held))
        if law.positive_target:
            with np.errstate(divide="ignore", invalid="ignore"):
                link, curve = np.log(link), np.log(curve)
        # Median and half the central 68% range: the sd of a normal predictive, and robust
        # to the far tails a Student-t noise with small nu produces.
        q16, m, q84 = np.quantile(link, [0.16, 0.5, 0.84], axis=0)
        s = 0.5 * (q84 - q16)
        y = table.y[out]
        fam_train = table.family[mask].astype(str)
        fam_held = table.family[out].astype(str)
        d = relative_distance(law, {n: v[mask] for n, v in table.x.items()}, fam_train,
                              {n: v[out] for n, v in table.x.items()}, fam_held)
        for fam in np.unique(fam_held):
            rows = (fam_held == fam) & (d > 0)
            if rows.any():
                cov = predictive_cov(curve[:, rows], np.maximum(s[rows], 1e-9))
                r = y[rows] - m[rows]
                if not (np.isfinite(r).all() and np.isfinite(cov).all()):
                    # a refit whose draws broke down (non-finite forecasts) measures nothing
                    warnings.warn(f"a calibration backtest of family {fam!r} gave non-finite "
                                  "forecasts and is left out of the discrepancy",
                                  UserWarning, stacklevel=2)
                    continue
                groups.append((r, cov, d[rows],
                               _scale_gap(size, table.family.astype(str), mask, fam)))
    return groups, len(masks)


#: The discrepancy path's grid (:func:`_path_grid`): steps of 1/32 up to 2 (widths of the
#: fitted range), then 3% apart; drawn in blocks of 64 steps, each from its own keyed stream.
PATH_STEP, PATH_LINEAR_END, PATH_RATIO, PATH_BLOCK = 1.0 / 32, 2.0, 1.03, 64


def _path_grid(upto: float) -> np.ndarray:
    """The fixed distances at which a family's discrepancy path is drawn, from 0 to past
    ``upto``: the same points for every request, so a row's draws never depend on the others."""
    n_lin = int(round(PATH_LINEAR_END / PATH_STEP))
    if upto <= PATH_LINEAR_END:
        n = max(1, math.ceil(upto / PATH_STEP - 1e-9))
        return np.arange(n + 1) * PATH_STEP
    n_geo = max(1, math.ceil(math.log(upto / PATH_LINEAR_END) / math.log(PATH_RATIO) - 1e-9))
    return np.concatenate([np.arange(n_lin + 1) * PATH_STEP,
                           PATH_LINEAR_END * PATH_RATIO ** np.arange(1, n_geo + 1)])


class Discrepancy:
    """The fitted extrapolation discrepancy of a :class:`~bayeslaws.fit.Fit`.

    Attributes
    ----------
    tau : xarray.DataArray
        Posterior draws of the drift rate (link scale per width of the fitted range, see
        :func:`relative_distance`), dims ``(chain, draw)`` like the fit's posterior, so draw
        ``i`` of tau pairs with draw ``i`` of the law's parameters.
    folds : int
        Backtest folds that informed tau (0: the prior alone).
    groups : int
        Fold x family groups (independent looks at the drift).
    relative : bool
        Whether distances are measured in widths of the fitted range (True, every new fit) or
        in plain decades (fit files saved before that change: their tau is per decade and is
        used as such).
    """

    def __init__(self, tau: xr.DataArray, folds: int, groups: int, relative: bool = True):
        self.tau = tau
        self.folds = int(folds)
        self.groups = int(groups)
        self.relative = bool(relative)

    @classmethod
    def learn(cls, fit, *, prior=None, fractions=FRACTIONS, weight: float | None = None,
              progress: bool = False) -> "Discrepancy":
        """The tau posterior of ``fit``: the population prior, updated by the fit's own inner
        backtests at ``weight`` (default :data:`OWN_WEIGHT`; at 0, the default since 2026-12,
        no backtest runs and tau follows the prior alone)."""
        weight = OWN_WEIGHT if weight is None else float(weight)
        if weight <= 0:
            return cls.from_groups(fit, [], 0, prior=prior, weight=0.0)
        cfg = fit.config
        groups, folds = backtest_residuals(
            fit.law, fit.data, family_column=cfg["family_column"], seed=cfg["seed"],
            sampler=cfg["sampler"], chains=cfg["chains"], fractions=fractions,
            dense_mass=cfg.get("dense_mass", False), float32=cfg.get("float32", False),
            progress=progress)
        return cls.from_groups(fit, groups, folds, prior=prior, weight=weight)

    @classmethod
    def from_groups(cls, fit, groups, folds: int, *, prior=None,
                    weight: float | None = None) -> "Discrepancy":
        """The tau posterior from backtest ``groups`` (:func:`backtest_residuals`) at ``weight``
        (:func:`tau_posterior`) times the fit's :func:`noise_scale`, its draws shaped like
        ``fit``'s posterior and seeded by the fit's seed."""
        scale = noise_scale(fit)
        grid, dens = tau_posterior(groups, prior=prior, weight=weight, scale=scale)
        post = fit.posterior
        shape = (post.sizes["chain"], post.sizes["draw"])
        rng = np.random.default_rng([fit.config["seed"], 7])
        tau = xr.DataArray(scale * tau_draws(grid, dens, shape, rng), dims=("chain", "draw"),
                           coords={"chain": post["chain"].values, "draw": post["draw"].values},
                           name="tau")
        return cls(tau, folds, len(groups))

    def to_dataset(self) -> xr.Dataset:
        """The ``extrapolation`` group stored in the fit's DataTree."""
        ds = self.tau.to_dataset(name="tau")
        unit = "widths of the fitted range" if self.relative else "decades"
        ds.attrs = {"folds": self.folds, "groups": self.groups,
                    "model": f"brownian motion + linear drift in {unit} beyond the fitted range",
                    "distance": "relative" if self.relative else "decades"}
        return ds

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> "Discrepancy":
        # Files written before the relative distance have no "distance" attribute.
        return cls(ds["tau"], ds.attrs.get("folds", 0), ds.attrs.get("groups", 0),
                   relative=ds.attrs.get("distance", "decades") == "relative")

    def draws(self, d: np.ndarray, family: np.ndarray, seed, width: np.ndarray | None = None,
              keys: np.ndarray | None = None) -> np.ndarray:
        """Discrepancy draws on the link scale, shape ``(chain, draw, row)``.

        ``d`` is each row's distance in decades beyond its family's fitted range
        (:func:`distance`) and ``width`` the decades that range spans (:func:`fitted_width`;
        required when :attr:`relative`). Rows of one family share one path of the process
        (:func:`kernel`), so forecasts at 10x and 100x are correlated; rows inside the fitted
        range get zero.

        A row's draws depend on ``seed`` (an int, or a generator that gives one), its family,
        its distance and its ``keys`` entry (default: derived from the distance), never on the
        other rows asked for: the path is drawn on a fixed grid of distances
        (:func:`_path_grid`) from streams keyed by the seed and the family, and a row between two
        grid points is placed on the Brownian bridge between them with its own keyed normal.
        The marginal of every row and the covariance of rows in different grid cells are exactly
        :func:`kernel`'s; two rows within one grid cell (1/32 of a width apart, or 3% of the
        distance far out) are slightly less correlated than the kernel says.
        """
        from .streams import keyed_rng, row_keys, stable_key

        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(2**62))
        tau = self.tau.values
        d = np.asarray(d, dtype=float)
        if self.relative:
            if width is None:
                raise ValueError("this discrepancy measures distance in widths of the fitted "
                                 "range: pass width= (extrapolation.fitted_width)")
            d = d / np.asarray(width, dtype=float)  # fitted_width: already >= WIDTH_MIN
        family = np.asarray(family).astype(str)
        if keys is None:
            keys = row_keys([d], family)
        out = np.zeros(tau.shape + (len(d),))
        for fam in np.unique(family):
            rows = np.flatnonzero((family == fam) & (d > 0))
            if not len(rows):
                continue
            fam_key = stable_key("family", fam)
            grid = _path_grid(d[rows].max())
            step = np.diff(grid)
            blocks = -(-len(step) // PATH_BLOCK)
            z = np.concatenate([keyed_rng(seed, fam_key, 1, b).standard_normal(
                tau.shape + (PATH_BLOCK,)) for b in range(blocks)], axis=-1)[..., :len(step)]
            path = np.concatenate([np.zeros(tau.shape + (1,)),
                                   np.cumsum(z * np.sqrt(step), axis=-1)], axis=-1)
            slope = keyed_rng(seed, fam_key, 0).standard_normal(tau.shape)
            for r in rows:
                k = min(int(np.searchsorted(grid, d[r], side="left")) - 1, len(step) - 1)
                lo, hi = grid[k], grid[k + 1]
                frac = (d[r] - lo) / (hi - lo)
                bridge = math.sqrt(max((d[r] - lo) * (hi - d[r]) / (hi - lo), 0.0))
                w = path[..., k] + frac * (path[..., k + 1] - path[..., k])
                if bridge > 0:
                    w = w + bridge * keyed_rng(seed, fam_key, 2, int(keys[r])).standard_normal(
                        tau.shape)
                out[..., r] = tau * (w + slope * d[r])
        return out

    def summary(self, prob: float = 0.9) -> dict:
        """Median and equal-tailed interval of tau (per width of the fitted range, or per decade
        for fits saved before the relative distance)."""
        v = self.tau.values.ravel()
        lo, hi = np.quantile(v, [(1 - prob) / 2, (1 + prob) / 2])
        return {"median": float(np.median(v)), "lower": float(lo), "upper": float(hi),
                "folds": self.folds, "groups": self.groups}

    def __repr__(self) -> str:
        s = self.summary()
        unit = "fitted width" if self.relative else "decade"
        return (f"<Discrepancy: tau {s['median']:.4f} per {unit} [{s['lower']:.4f}, "
                f"{s['upper']:.4f}] from {self.folds} folds, {self.groups} groups>")


# --------------------------------------------------------------------------------- scoring
#: Share of the largest runs (by compute) held out by :func:`leave_largest_out`.
@hooks.provide("discrepancy")
def fit_discrepancy(fit, *, progress: bool = False) -> "Discrepancy | None":
    """``fit.discrepancy``: the fit's stored discrepancy, else learned now and stored in it
    (None for a fit made with ``extrapolation=None``).

    A fit loaded from a file that holds none (saved by an older bayeslaws) learns it with a
    warning that says so and how to keep it; ``progress`` shows the backtests' progress line.
    """
    if "extrapolation" in fit.idata.children:
        return Discrepancy.from_dataset(fit.idata["extrapolation"].to_dataset())
    if fit.config.get("extrapolation", "backtest") is None:
        return None
    source = getattr(fit, "source", None)
    if source is not None and OWN_WEIGHT > 0:
        warnings.warn(f"{source} holds no extrapolation discrepancy (saved by an older "
                      "bayeslaws): learning it now from backtests on the smaller runs, which "
                      "takes about as long as the fit did; save the fit again to keep it",
                      UserWarning, stacklevel=4)
    found = Discrepancy.learn(fit, progress=progress)
    fit.idata["extrapolation"] = found.to_dataset()
    return found


HOLDOUT = 0.15


def leave_largest_out(fit, *, holdout: float = HOLDOUT, seed: int = 0,
                      progress: bool = False) -> dict[str, float]:
    """Refit ``fit``'s law on its smaller runs and score the forecasts of the largest ones.

    The rows above the ``1 - holdout`` quantile of compute (:func:`size_axis`) are held out;
    the law is refitted on the rest with the fit's settings, the extrapolation discrepancy is
    learned inside that part as usual, and the held-out rows are scored with
    :func:`bayeslaws.scores.score_table` (coverage of the 50/80/90% intervals, CRPS of the log
    target, median absolute relative error, relative width of the 90% interval).

    Returns
    -------
    dict
        The scores, plus ``rows`` held out and ``max_factor`` (how far beyond the refit's range
        the farthest held-out row lies).
    """
    if not 0.0 < holdout < 1.0:
        raise BayeslawsError(f"holdout must lie strictly between 0 and 1, not {holdout}")
    law, cfg = fit.law, fit.config
    table = data_mod.prepare(law, fit.data, family_column=cfg["family_column"])
    size = size_axis(law, table.x)
    keep = size <= np.quantile(size, 1.0 - holdout)
    if keep.all() or keep.sum() < MIN_ROWS_PER_PARAM * len(law.parameters):
        raise BayeslawsError(f"too few runs ({len(size)}) to hold out the largest {holdout:.0%} "
                             "and refit on the rest")
    frame = table.frame.reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        with PROGRESS.titled("refit on the smaller runs"):
            sub = inference.fit_law(law, frame[keep], seed=cfg["seed"] + 17, draws=cfg["draws"],
                                    tune=cfg["tune"], chains=cfg["chains"],
                                    sampler=single_sampler(cfg["sampler"]),
                                    family_column=cfg["family_column"],
                                    extrapolation=cfg.get("extrapolation", "backtest"),
                                    dense_mass=cfg.get("dense_mass", False),
                                    float32=cfg.get("float32", False), progress=progress)
        fit_discrepancy(sub, progress=progress)  # the refit's own backtests, with their line
        pred = sub.predict(frame[~keep], seed=seed)
    samples = pred.predictive.values.reshape(-1, int((~keep).sum()))
    y = frame.loc[~keep, law.target].to_numpy(float)
    if not law.positive_target:  # score on the natural scale: shift to keep ratios defined
        raise BayeslawsError("leave-largest-out scores are defined for positive targets")
    out = score_table(samples, y)
    out["max_factor"] = float(10 ** pred.distance.max())
    return out
