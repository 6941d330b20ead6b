r"""Densing law (Xiao et al. 2024): capability density of LLMs and its exponential growth.

Three steps, each a posterior:

1. :class:`Densing` (``densing``): the reference scaling of benchmark score with parameters, the
   paper's two steps (size -> loss -> score) with the loss unobserved.
2. :func:`effective_params` and :func:`density`: each model's effective parameter size
   :math:`\hat N`, the size a reference model needs to reach its score, by inverting the reference
   curve at every posterior draw, and its density :math:`\rho = \hat N / N`.
3. :func:`densing_trend`: :math:`\ln\rho_{\max}(t) = A t + B` over release dates, one exact
   Bayesian regression per posterior draw of step 1, so the uncertainty of :math:`\hat N` reaches
   the doubling time :math:`\ln 2 / A`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import BayeslawsError, DataError
from ..intervals import DEFAULT_PROB, describe
from .base import Law, Param

#: Time origin of the trend (t in years since this date).
T0 = pd.Timestamp("2023-01-01")
#: Days per year and per month used to express rates.
DAYS_PER_YEAR = 365.25
#: Published doubling times of the maximum density (months): arXiv:2412.04315 v1/v2 (Fig. 1,
#: ~100 days) and the Nature Machine Intelligence version (Feb 2023 - Apr 2025).
PUBLISHED_DOUBLING_MONTHS = {"arxiv": 3.3, "journal": 3.5}

#: Default pooling: the curve's location varies by family (recipe), its shape is shared.
DEFAULT_POOLING = {"d": "shared", "c": "shared", "Nh": "partial", "alpha": "shared",
                   "k": "shared"}


class Densing(Law):
    r"""Reference scaling of the average benchmark score with model size (Xiao et al. 2024).

    The paper's two steps, loss :math:`L(N) = E + a N^{-\alpha}` at the reference recipe's data
    and score :math:`S = d + c\,\sigma(-\gamma (L - l))`, have no observed loss here, so they are
    written as one curve in :math:`N` (exactly the same family of functions):

    .. math::

        S(N) = d + c\,\sigma\!\big(\kappa\,[1 - (N/N_h)^{-\alpha}]\big),
        \qquad \sigma(z) = 1/(1 + e^{-z}),

    with :math:`N_h` the size where the loss-like term crosses the sigmoid's midpoint
    (:math:`a N_h^{-\alpha} = l - E`) and :math:`\kappa = \gamma (l - E)`. It is sampled
    through :math:`k = \kappa\alpha`, the slope of the sigmoid's argument in :math:`\ln N` at
    :math:`N_h`: as :math:`\alpha \to 0` at fixed :math:`k` the curve tends to a logistic in
    :math:`\ln N`, a smooth limit, where :math:`(\alpha, \kappa)` would be a long ridge. The score rises from
    the chance level :math:`d` at small :math:`N` towards :math:`d + c\,\sigma(\kappa)` (the loss
    floor caps it). The target ``score`` is a mean accuracy, modelled on its natural scale
    (``positive_target = False``, Student-t noise) as in :class:`TaskAccuracy`.

    **Reference.** The paper trains its own reference series (0.005B-0.8B, one recipe). Public
    data has none that covers the scores of recent models, so every family (a training recipe)
    is a reference series here: the curve's shape (:math:`d, c, \alpha, \kappa`) is shared and its
    location :math:`N_h` partially pooled across families. The within-family size ladders pin the
    shape over the whole score range; :func:`effective_params` inverts the population (typical
    recipe) curve by default or a named family's. With a shared shape the reference only shifts
    every :math:`\ln\rho` by one constant, so the densing trend's slope does not depend on it.

    Parameters
    ----------
    d : score floor (chance level of the benchmark mix; 0.25 for MMLU, HellaSwag, WinoGrande,
        GSM8K).
    c : score range of the sigmoid.
    Nh : size at the sigmoid midpoint (per family; the family's inverse density).
    alpha : exponent of the loss-like power law in :math:`N`.
    k : slope of the sigmoid's argument in :math:`\ln N` at :math:`N_h`.
    kappa : the paper's steepness in the loss-like term, :math:`k/\alpha`, derived.
    ceiling : the score as :math:`N \to \infty`, :math:`d + c\,\sigma(\kappa)`, derived.

    References
    ----------
    Xiao et al. 2024, "Densing Law of LLMs", arXiv:2412.04315 (Nature Machine Intelligence 2025).
    """

    name = "densing"
    target = "score"
    inputs = ("params",)
    positive_target = False
    params = (
        Param("d", math.log(0.25), 0.15, doc="score floor (chance level)"),
        Param("c", math.log(0.65), 0.3, doc="score range of the sigmoid"),
        Param("Nh", math.log(1e10), 2.5, family_scale=1.5, doc="size at the sigmoid midpoint"),
        Param("alpha", math.log(0.2), 1.0, doc="exponent of the loss-like term in N"),
        Param("k", math.log(0.5), 0.7, doc="slope in ln N at the midpoint (kappa alpha)"),
    )
    derived_names = ("kappa", "ceiling")
    formula_text = "score = d + c sigmoid(kappa (1 - (N/Nh)^-alpha))"
    reference = "Xiao et al. 2024, arXiv:2412.04315"
    default_noise = {"likelihood": "student_t", "sigma_scale": 0.05}

    def __init__(self, *, pooling=None, **kwargs):
        super().__init__(pooling=DEFAULT_POOLING if pooling is None else pooling, **kwargs)

    def formula(self, x, p, xp):
        """Return the score (natural scale; see the class docstring)."""
        u = xp.exp(-p["alpha"] * (x["params"] - p["log_Nh"]))
        z = (p["k"] / p["alpha"]) * (1.0 - u)
        return p["d"] + p["c"] * xp.exp(-xp.logaddexp(0.0, -z))

    def derived(self, p, xp):
        """Return the paper's steepness ``kappa = k / alpha`` and the ceiling ``d + c sigmoid(kappa)``."""
        kappa = p["k"] / p["alpha"]
        return {"kappa": kappa, "ceiling": p["d"] + p["c"] * xp.exp(-xp.logaddexp(0.0, -kappa))}

    def inverse(self, score, p) -> np.ndarray:
        r"""Log size :math:`\ln N` at which the curve reaches ``score`` (numpy, broadcasting).

        :math:`\ln N = \ln N_h - \ln(1 - \mathrm{logit}((S-d)/c)/\kappa)/\alpha`; ``-inf`` at or
        below the floor :math:`d`, ``+inf`` at or above the ceiling :math:`d + c\sigma(\kappa)`.
        """
        score = np.asarray(score, dtype=float)
        y = (score - p["d"]) / p["c"]
        with np.errstate(divide="ignore", invalid="ignore"):
            logit = np.log(y) - np.log1p(-y)
            u = 1.0 - logit * p["alpha"] / p["k"]
            log_n = p["log_Nh"] - np.log(u) / p["alpha"]
        log_n = np.where(y <= 0, -np.inf, log_n)
        return np.where((y >= 1) | (u <= 0), np.inf, log_n)


# --------------------------------------------------------------------------- step 2: N_eff, rho
def _check_fit(fit) -> None:
    if fit.law.name != "densing":
        raise BayeslawsError(f"effective parameters and density need a 'densing' fit, not "
                             f"{fit.law.name!r}")


def _reference_params(fit, reference: str) -> dict[str, np.ndarray]:
    """Natural-scale parameters of the reference curve, flattened to ``(sample,)``."""
    from .. import hierarchy

    law = fit.law
    post = fit.posterior
    if reference == "population":
        sampled = {}
        for prm in law.parameters.values():
            name, how = prm.sampled, law.pooling[prm.name]
            if how == "independent":
                raise BayeslawsError(f"parameter {prm.name!r} uses independent pooling, so there "
                                     "is no population curve; give reference=<a fitted family>")
            if how in hierarchy.POPULATION:
                sampled[name] = post[f"{name}_mu"]
            else:
                v = post[name]
                sampled[name] = v.isel(family=0, drop=True) if "family" in v.dims else v
    else:
        if reference not in fit.families:
            raise BayeslawsError(f"reference {reference!r} is not a fitted family; choose "
                                 f"'population' or one of {fit.families}")
        draws = hierarchy.family_draws(law, post, fit.families)
        sampled = {k: v.sel(family=reference, drop=True) for k, v in draws.items()}
    flat = {k: v.transpose("chain", "draw").values.reshape(-1) for k, v in sampled.items()}
    return law.natural(flat, np)


def effective_params(fit, data: pd.DataFrame | None = None, *,
                     reference: str = "population") -> xr.DataArray:
    r"""Posterior draws of each model's effective parameter size :math:`\hat N` (log scale).

    For draw :math:`s` of the reference curve :math:`S_s(N)`, :math:`\ln\hat N_{m,s} =
    S_s^{-1}(S_m)` at model :math:`m`'s measured score, as in the paper (which inverts its
    reference curves at each target's score). Scores above the draw's ceiling give ``+inf`` and
    scores at or below the floor ``-inf``; :func:`densing_trend` reports how often that happens.

    Parameters
    ----------
    fit : bayeslaws.Fit
        A ``densing`` fit.
    data : pandas.DataFrame, optional
        Rows with ``score`` (and ``params`` for :func:`density`); default the fitted rows.
    reference : str
        ``"population"`` (the typical family's curve, the default) or a fitted family.

    Returns
    -------
    xarray.DataArray
        ``log_N_eff`` with dims ``(chain, draw, row)``.
    """
    _check_fit(fit)
    rows = (fit.data if data is None else data).reset_index(drop=True)
    if "score" not in rows:
        raise DataError("column 'score' is missing: the measured average benchmark score of each "
                        "model, whose effective size is wanted", column="score")
    p = _reference_params(fit, reference)
    p = {k: v[:, None] for k, v in p.items()}
    log_n = fit.law.inverse(rows["score"].to_numpy(float)[None, :], p)
    shape = (fit.posterior.sizes["chain"], fit.posterior.sizes["draw"], len(rows))
    return xr.DataArray(log_n.reshape(shape), dims=("chain", "draw", "row"),
                        coords={"chain": fit.posterior["chain"].values,
                                "draw": fit.posterior["draw"].values,
                                "row": np.arange(len(rows))}, name="log_N_eff")


def density(fit, data: pd.DataFrame | None = None, *,
            reference: str = "population") -> xr.DataArray:
    r"""Posterior draws of the log capability density :math:`\ln\rho = \ln\hat N - \ln N`.

    See :func:`effective_params`; ``data`` needs ``params`` and ``score``. Dims
    ``(chain, draw, row)``.
    """
    rows = (fit.data if data is None else data).reset_index(drop=True)
    if "params" not in rows:
        raise DataError("column 'params' is missing: the parameter count of each model",
                        column="params")
    out = effective_params(fit, rows, reference=reference) - np.log(rows["params"].to_numpy(float))
    return out.rename("log_density")


def density_table(fit, data: pd.DataFrame | None = None, *, reference: str = "population",
                  prob: float = DEFAULT_PROB) -> pd.DataFrame:
    """Per model: median and bounds of the effective size (``N_eff``) and of the density ``rho``."""
    rows = (fit.data if data is None else data).reset_index(drop=True)
    log_neff = effective_params(fit, rows, reference=reference)
    log_rho = log_neff - np.log(rows["params"].to_numpy(float))
    keep = [c for c in ("model", "family", "params", "score", "date") if c in rows]
    out = rows[keep].copy()
    for name, da in (("N_eff", log_neff), ("rho", log_rho)):
        # a score at or beyond the floor/ceiling of a draw gives -inf/+inf: keep those as
        # 0/inf in the bounds rather than NaN from interpolating between infinities
        d = describe(da.clip(-1e300, 1e300), prob)
        for stat in ("median", "lower", "upper"):
            with np.errstate(over="ignore"):
                out[f"{name}_{stat}"] = np.exp(d[stat].values)
    return out


# --------------------------------------------------------------------------- step 3: the trend
class DensingTrend:
    r"""Posterior draws of :math:`\ln\rho_{\max}(t) = A t + B` and the doubling time.

    Attributes
    ----------
    draws : xarray.Dataset
        ``A`` (per year), ``B`` (:math:`\ln\rho_{\max}` at :data:`T0`), ``sigma`` (scatter about
        the line), ``A_per_day``, ``doubling_months`` (:math:`12 \ln 2 / A`), dims ``sample``.
    points : pandas.DataFrame
        One row per release: date, ``t`` (years since :data:`T0`), the models, and the median
        and bounds of :math:`\ln\rho_{\max}`.
    infinite_share : float
        Share of (draw, model) pairs whose score lay outside the reference curve's range
        (``+inf`` or ``-inf`` effective size); such draws are dropped from the trend.
    """

    def __init__(self, draws: xr.Dataset, points: pd.DataFrame, infinite_share: float,
                 settings: dict):
        self.draws = draws
        self.points = points
        self.infinite_share = infinite_share
        self.settings = settings

    def table(self, prob: float = DEFAULT_PROB) -> pd.DataFrame:
        """Median, equal-tailed bounds, mean and sd of each quantity, plus the published numbers."""
        lo, hi = (1 - prob) / 2, (1 + prob) / 2
        rows = []
        for name in ("doubling_months", "A", "A_per_day", "B", "sigma"):
            v = self.draws[name].values
            rows.append({"quantity": name, "median": np.median(v), "lower": np.quantile(v, lo),
                         "upper": np.quantile(v, hi), "mean": v.mean(), "sd": v.std(ddof=1)})
        out = pd.DataFrame(rows).set_index("quantity")
        out["published"] = np.nan
        out.loc["doubling_months", "published"] = PUBLISHED_DOUBLING_MONTHS["arxiv"]
        return out

    def __repr__(self) -> str:
        v = self.draws["doubling_months"].values
        return (f"<DensingTrend: doubling time {np.median(v):.2f} months "
                f"[{np.quantile(v, 0.05):.2f}, {np.quantile(v, 0.95):.2f}] over "
                f"{len(self.points)} releases>")


def _years(dates) -> np.ndarray:
    return ((pd.to_datetime(dates) - T0) / pd.Timedelta(days=1)).to_numpy(float) / DAYS_PER_YEAR


def densing_trend(fit, data: pd.DataFrame | None = None, *, since: str | None = "2023-01-01",
                  until: str | None = None, frontier: str = "release-max",
                  reference: str = "population", seed: int = 0) -> DensingTrend:
    r"""The densing law :math:`\ln\rho_{\max}(t) = A t + B` as posterior draws.

    For each posterior draw :math:`s` of the reference curve, the log densities
    :math:`\ln\rho_{m,s}` of the dated models are computed (:func:`density`); the models released
    on one date (one release, e.g. Llama 2's 7B/13B/70B) give :math:`\ln\rho_{\max}` at that date
    as their maximum (``frontier="release-max"``; ``"all"`` keeps every model). The line is then
    drawn from its exact posterior given those points: Bayesian linear regression with the
    reference prior :math:`p(A, B, \sigma) \propto 1/\sigma`, i.e.
    :math:`\sigma^2 \sim (n-2)s^2/\chi^2_{n-2}` and :math:`(B, A) \sim N(\hat\beta,
    \sigma^2 (X^\top X)^{-1})`. One line per draw, so the draws of :math:`A` mix the regression's
    uncertainty with that of every :math:`\hat N` (and of their correlation through the shared
    reference curve): the uncertainty of the effective sizes reaches the doubling time
    :math:`12\ln 2/A` months.

    Parameters
    ----------
    fit : bayeslaws.Fit
        A ``densing`` fit.
    data : pandas.DataFrame, optional
        Models with ``params``, ``score`` and ``date`` (release); default the fitted rows.
        Rows without a date are skipped.
    since, until : str, optional
        Release-date window (inclusive); the default starts at 2023-01-01, the paper's window
        (its models start with Llama-1, Feb 2023).
    frontier : {"release-max", "all"}
    reference : str
        Reference curve (see :func:`effective_params`); it shifts :math:`B` only.
    seed : int
        Seed of the regression draws.
    """
    _check_fit(fit)
    if frontier not in ("release-max", "all"):
        raise BayeslawsError(f"frontier must be 'release-max' or 'all', not {frontier!r}")
    rows = (fit.data if data is None else data).reset_index(drop=True)
    if "date" not in rows:
        raise DataError("column 'date' is missing: the release date of each model (YYYY-MM-DD)",
                        column="date")
    dates = pd.to_datetime(rows["date"], errors="coerce")
    keep = dates.notna()
    if since is not None:
        keep &= dates >= pd.Timestamp(since)
    if until is not None:
        keep &= dates <= pd.Timestamp(until)
    rows, dates = rows[keep].reset_index(drop=True), dates[keep].reset_index(drop=True)
    log_rho = density(fit, rows, reference=reference)
    flat = log_rho.transpose("chain", "draw", "row").values.reshape(-1, len(rows))  # (S, m)
    if frontier == "release-max":
        groups = pd.Index(dates.unique()).sort_values()
        ys = np.stack([flat[:, (dates == g).to_numpy()].max(axis=1) for g in groups], axis=1)
        names = [", ".join(rows.loc[(dates == g).to_numpy(), "model"].astype(str))
                 if "model" in rows else "" for g in groups]
        t = _years(groups)
    else:
        groups = dates
        ys = flat
        names = list(rows["model"].astype(str)) if "model" in rows else [""] * len(rows)
        t = _years(dates)
    n = len(t)
    if n < 3 or len(np.unique(t)) < 2:
        raise DataError(f"the densing trend needs at least 3 points on 2 or more dates in the "
                        f"window; found {n}", column="date")
    finite = np.isfinite(flat).all(axis=1) & np.isfinite(ys).all(axis=1)
    infinite_share = float(1.0 - np.isfinite(flat).mean())
    if not finite.any():
        raise BayeslawsError("every posterior draw puts some model outside the reference curve's "
                             "score range; choose another reference or window")
    y = ys[finite]
    X = np.column_stack([np.ones(n), t])
    xtx_inv = np.linalg.inv(X.T @ X)
    beta_hat = y @ X @ xtx_inv  # (S, 2): (X'X)^-1 X' y per draw
    resid = y - beta_hat @ X.T
    s2 = (resid ** 2).sum(axis=1) / (n - 2)
    rng = np.random.default_rng(seed)
    sigma2 = (n - 2) * s2 / rng.chisquare(n - 2, size=len(y))
    chol = np.linalg.cholesky(xtx_inv)
    beta = beta_hat + np.sqrt(sigma2)[:, None] * (rng.standard_normal((len(y), 2)) @ chol.T)
    B, A = beta[:, 0], beta[:, 1]
    with np.errstate(divide="ignore"):
        doubling = 12.0 * math.log(2.0) / A
    draws = xr.Dataset({"A": ("sample", A), "B": ("sample", B), "sigma": ("sample", np.sqrt(sigma2)),
                        "A_per_day": ("sample", A / DAYS_PER_YEAR),
                        "doubling_months": ("sample", doubling)})
    q = np.quantile(ys[finite], [0.05, 0.5, 0.95], axis=0)
    points = pd.DataFrame({"date": pd.DatetimeIndex(groups).strftime("%Y-%m-%d"), "t": t,
                           "models": names, "log_rho_max_median": q[1],
                           "log_rho_max_lower": q[0], "log_rho_max_upper": q[2]})
    settings = {"since": since, "until": until, "frontier": frontier, "reference": reference,
                "seed": seed, "draws_used": int(finite.sum()), "draws_total": int(len(flat))}
    return DensingTrend(draws, points, infinite_share, settings)


Densing.fit_methods = {"density": density_table, "densing_trend": densing_trend,
                       "effective_params": effective_params}
