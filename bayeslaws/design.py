r"""Plan the next training runs: which runs buy the most certainty about a forecast, per FLOP.

Given a fit and a *target* (a compute budget :math:`C_T` far beyond the data, or a model size and
token count), :func:`design` ranks candidate runs :math:`(N, D)` by how much training them is
expected to shrink the posterior variance of one quantity :math:`Q` at the target, per FLOP
they cost (:math:`6ND`), and proposes a set of runs that fits a FLOP budget.

Quantities (on the log scale, so variances are relative):

* ``loss``: :math:`Q = \log L` at the compute-optimal point of :math:`C_T` (each draw's own
  optimum, :func:`bayeslaws.optimal.optimal`), or at a given :math:`(N, D)`;
* ``n_opt``, ``d_opt``: :math:`Q = \log N^*(C_T)` or :math:`\log D^*(C_T)`.

The method (preposterior analysis). Let :math:`\theta_s`, :math:`s = 1..S`, be posterior draws
(thinned to at most ``max_draws``) and :math:`f_c(\theta)` the law at candidate :math:`c` on the
link scale. For outcome :math:`m = 1..M` a generating draw :math:`s_m` is picked and the
candidate's result simulated from the posterior predictive,
:math:`y_c^{(m)} = f_c(\theta_{s_m}) + \sigma_{s_m}\varepsilon_{mc}` (the law's own noise:
normal, Student-t or Laplace). The posterior after observing it is the current one reweighted
by the likelihood (importance reweighting of the draws; the generating draw itself is left out
so a very informative run does not count its own draw as evidence),

.. math::

    w_s^{(m)} \propto \prod_{c \in A} p\big(y_c^{(m)} \mid f_c(\theta_s), \sigma_s\big),
    \qquad V_\theta^{(m)}(A) = \mathrm{Var}_{w^{(m)}}(Q),

for a set :math:`A` of runs (outcomes of one set are simulated jointly from one draw, with
common random numbers across candidates, so the ranking is smooth and reproducible for a seed).
The expectation over outcomes is a geometric mean (with the discrepancy term below added per
outcome), :math:`V(A) = \exp\frac1M\sum_m \log V^{(m)}(A)`: the
expected information gain about :math:`Q` under a normal approximation,
:math:`\tfrac12 \mathrm{E}\log(V_0/V)`, which a few implausible draws cannot dominate.
When the effective sample size :math:`1/\sum_s w_s^2` of an outcome falls below
:data:`MIN_ESS` (a run so informative that few draws survive), that outcome's variance comes
from a local Laplace update at its generating draw instead (:class:`_Laplace`: the Fisher
information of the fitted and the new runs at that draw plus the prior precision, and the
gradient of :math:`Q`). Collapse happens where the posterior is concentrated, which is where a
local linearisation is accurate. The table reports the median ESS and the share of outcomes
that used the Laplace update (``linearised``). Validated against real refits in
``benchmarks/design.py --validate`` (expected variances within 10% of the refits', slightly
pessimistic; ``benchmarks/RESULTS.md``).

The extrapolation discrepancy counts explicitly. A forecast beyond the fitted range carries the
extra variance of :mod:`bayeslaws.extrapolation`, :math:`\tau^2 (u + u^2)` with
:math:`u = d / W` (distance beyond the fitted range in widths of it). Adding runs moves the
edge of the fitted range and widens it, so the target's :math:`u` shrinks; the variance after
adding :math:`A` and outcome :math:`m` is

.. math::

    V^{(m)}(A) = V_\theta^{(m)}(A) + \mathrm{E}[\tau^2]\,\big(u_A + u_A^2\big),

with :math:`u_A` recomputed with the runs of :math:`A` as part of the target family's fitted
range. That term is the loss's; for ``n_opt``/``d_opt`` it is the allocation error of
:func:`bayeslaws.optimal.allocation_sd`, :math:`k_0^2 + k_1^2 u_A`, whose floor :math:`k_0^2`
no run removes. A fit made with ``extrapolation=None`` has neither term.

The value of a candidate is its expected variance reduction :math:`1 - V(\{c\})/V(\emptyset)`;
the table ranks by value per FLOP, :math:`(1 - V(\{c\})/V(\emptyset)) / 6N_cD_c`.

The proposal starts as greedy sequential selection: starting from the empty set, add the affordable
candidate with the largest marginal reduction per FLOP given the runs already chosen (their
outcomes simulated jointly), until the budget is spent, no candidate is affordable, the marginal
reduction falls below :data:`MIN_GAIN` of :math:`V(\emptyset)` or ``max_runs`` are chosen. The
same greedy is run a second time by marginal reduction alone (ignoring cost), and the set with
the smaller :math:`V` is proposed: the better of the two is the cost-aware greedy of Leskovec et
al. (2007) and Krause & Guestrin (2005), within a constant factor of the best set when the
variance reduction is submodular; ratio greedy alone can waste a budget that one large run would
use better. The greedy set is then improved by exchanges (Fedorov 1972; Cook & Nachtsheim 1980):
each chosen run in turn is replaced by the affordable candidate that lowers :math:`V` most, freed
budget is refilled greedily, and passes repeat until no swap gains :data:`MIN_GAIN`
(``Design.greedy`` then ends in ``+exchange``). Greedy keeps its first, largest run even where
a smaller one plus runs at another D/N would pin the law better.

References
----------
Chaloner & Verdinelli 1995, "Bayesian experimental design: a review", Statistical Science 10(3).
Fedorov 1972, "Theory of optimal experiments", Academic Press.
Cook & Nachtsheim 1980, "A comparison of algorithms for constructing exact D-optimal designs",
Technometrics 22(3).
Krause & Guestrin 2005, "A note on the budgeted maximization of submodular functions", CMU-CALD-05-103.
Leskovec et al. 2007, "Cost-effective outbreak detection in networks", KDD.
Kennedy & O'Hagan 2001, "Bayesian calibration of computer models", JRSS B 63(3).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from . import data as data_mod
from . import extrapolation, hierarchy, hooks
from .errors import BayeslawsError, SpecError
from .intervals import DEFAULT_PROB, check_prob
from .optimal import _allocation, allocation_sd

#: Quantities :func:`design` can target.
QUANTITIES = ("loss", "n_opt", "d_opt")
#: Passes of the exchange step after the greedy proposal (0: greedy alone).
EXCHANGE_PASSES = 3
#: Simulated outcomes per candidate (common random numbers across candidates).
OUTCOMES = 64
#: Posterior draws used (thinned evenly when the fit has more).
MAX_DRAWS = 800
#: Below this effective sample size an outcome uses the linearised update.
MIN_ESS = 30.0
#: Greedy selection stops when the marginal reduction is below this share of the current variance.
MIN_GAIN = 0.002
#: Most runs a proposal holds.
MAX_RUNS = 16
#: Points per axis of the default candidate grid.
GRID = 14
#: Tokens per parameter kept in the default grid.
RATIO_RANGE = (0.5, 2000.0)
#: Relative tolerance within which a candidate counts as a run already in the data.
SAME_RUN = 0.02


class DesignError(BayeslawsError, ValueError):
    """A design request that cannot be answered (no affordable candidate, a target inside the
    data, a quantity the law has no meaning for)."""


class Design:
    """Candidate runs ranked by expected variance reduction per FLOP, and a proposed set.

    Attributes
    ----------
    candidates : pandas.DataFrame
        Every candidate within the budget with its value (see :meth:`table`).
    proposal : pandas.DataFrame
        The proposed runs in the order the greedy chose them: ``params``, ``tokens``,
        ``family``, ``flops``, ``cumulative_flops``, ``sd_after`` and ``width90_after`` (expected
        posterior sd and 90% width of the quantity, log scale, after the runs so far) and
        ``reduction`` (expected share of the variance removed so far).
    target, budget, quantity, family
        As requested (``target`` in FLOPs, or an ``(N, D)`` pair).
    sd_now, width90_now : float
        Posterior sd and 90% interval width of the quantity now (log scale; a width of 0.05 is
        about a 5% interval), the discrepancy included.
    sd_after : float
        Expected sd after the proposed runs.
    greedy : str
        Which greedy gave the proposal: ``"per_flop"`` or ``"gain"``.
    notes : list of str
    """

    def __init__(self, candidates, proposal, *, target, budget, quantity, family, sd_now,
                 width90_now, sd_after, greedy, notes, existing, target_point, prob):
        self.candidates = candidates
        self.proposal = proposal
        self.target = target
        self.budget = budget
        self.quantity = quantity
        self.family = family
        self.sd_now = sd_now
        self.width90_now = width90_now
        self.sd_after = sd_after
        self.greedy = greedy
        self.notes = notes
        self.existing = existing
        self.target_point = target_point
        self.prob = prob

    def table(self) -> pd.DataFrame:
        """Candidates ranked by value per FLOP (rank 1 best).

        Columns: ``rank``, ``params``, ``tokens``, ``family``, ``flops`` (6ND), ``reduction``
        (expected share of the quantity's posterior variance the run alone removes),
        ``value_per_flop`` (reduction / flops), ``sd_after`` and ``width90_after`` (expected
        posterior sd and ``prob`` interval width of the log quantity after the run),
        ``distance_after`` (decades the target would lie beyond the fitted range),
        ``ess`` (median effective sample size of the reweighted draws), ``linearised`` (share of
        outcomes that used the linearised update), ``in_data`` (the run is already in the fit's
        data) and ``proposed`` (in :attr:`proposal`).
        """
        return self.candidates.copy()

    @property
    def spent(self) -> float:
        """FLOPs of the proposed runs."""
        return float(self.proposal["flops"].sum()) if len(self.proposal) else 0.0

    def __repr__(self) -> str:
        t = (f"C={self.target:.3g} FLOPs" if np.isscalar(self.target)
             else f"(N={self.target[0]:.3g}, D={self.target[1]:.3g})")
        return (f"<Design for {self.quantity} at {t}: {len(self.candidates)} candidates, "
                f"{len(self.proposal)} proposed ({self.spent:.3g} of {self.budget:.3g} FLOPs), "
                f"sd {self.sd_now:.4f} -> {self.sd_after:.4f}>")


# --------------------------------------------------------------------------------- helpers
def _positive(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise DesignError(f"{name} must be a positive number of FLOPs, not {value!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise DesignError(f"{name} must be a positive finite number of FLOPs, not {value:g}")
    return value


def _thin(n: int, max_draws: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, max_draws)).round().astype(int))


def _stack(da, keep) -> np.ndarray:
    """(chain, draw[, family]) -> (sample[, family]) thinned to ``keep``."""
    v = np.asarray(da.values, dtype=float)
    v = v.reshape((v.shape[0] * v.shape[1],) + v.shape[2:])
    return v[keep]


def _logpdf(law, y, mu, sigma, nu):
    from scipy import stats

    if law.noise["likelihood"] == "student_t":
        return stats.t.logpdf(y, df=nu, loc=mu, scale=sigma)
    if law.noise["likelihood"] == "laplace":
        return stats.laplace.logpdf(y, loc=mu, scale=sigma)
    return -0.5 * ((y - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * math.log(2 * math.pi)


def _noise(law, rng, shape, nu):
    if law.noise["likelihood"] == "student_t":
        return rng.standard_t(np.broadcast_to(nu, shape))
    if law.noise["likelihood"] == "laplace":
        return rng.laplace(size=shape)
    return rng.standard_normal(shape)


def _default_grid(train_n, train_d, n_target, d_target, budget, family, n_grid=GRID):
    n_lo, n_hi = sorted((float(np.min(train_n)), float(n_target)))
    d_lo, d_hi = sorted((float(np.min(train_d)), float(d_target)))
    nn, dd = np.meshgrid(np.geomspace(n_lo, n_hi, n_grid), np.geomspace(d_lo, d_hi, n_grid))
    n, d = nn.ravel(), dd.ravel()
    ratio = d / n
    # from the data's range up: no run below the smallest fitted compute (such runs only
    # widen the fitted range downward, which the discrepancy model would count as a longer
    # lever arm; whether tiny runs follow the law is what nobody knows)
    c_min = float(np.min(6.0 * np.asarray(train_n) * np.asarray(train_d)))
    keep = (ratio >= RATIO_RANGE[0]) & (ratio <= RATIO_RANGE[1]) & (6.0 * n * d >= c_min)
    return pd.DataFrame({"params": n[keep], "tokens": d[keep], "family": family})


class _Range:
    """The fitted range of the target's family, and the target's relative distance from it
    once extra runs join the fit (mirrors :func:`bayeslaws.extrapolation.relative_distance`)."""

    def __init__(self, law, train_x, train_fam, target_x, family, relative):
        self.law = law
        self.axes = extrapolation.scale_axes(law, train_x)
        self.size = extrapolation.size_axis(law, train_x)
        self.fam = np.asarray(train_fam).astype(str)
        self.target = {k: float(v[0]) for k, v in extrapolation.scale_axes(law, target_x).items()}
        self.family = family
        self.relative = relative

    def u(self, extra_x: dict | None = None, extra_fam=None) -> tuple[float, float]:
        """(relative distance u, distance in decades) of the target with ``extra`` rows fitted."""
        axes, size, fam = self.axes, self.size, self.fam
        if extra_x is not None and len(extra_fam):
            ex = extrapolation.scale_axes(self.law, extra_x)
            axes = {k: np.concatenate([v, ex[k]]) for k, v in axes.items()}
            size = np.concatenate([size, extrapolation.size_axis(self.law, extra_x)])
            fam = np.concatenate([fam, np.asarray(extra_fam).astype(str)])
        ref = fam == self.family
        if not ref.any():
            ref = np.ones(len(fam), dtype=bool)
        d = 0.0
        for name, value in self.target.items():
            lo, hi = axes[name][ref].min(), axes[name][ref].max()
            d = max(d, max(value - hi, lo - value, 0.0) / extrapolation.DECADE)
        width = max((size[ref].max() - size[ref].min()) / extrapolation.DECADE,
                    extrapolation.WIDTH_MIN)
        return (d / width if self.relative else d), d


class _Laplace:
    r"""The local linearised (Laplace) update at each outcome's generating draw.

    With :math:`\theta^*` the draw an outcome was simulated from (on the sampling scale, the
    target family's parameters), the posterior after the fitted runs and a set :math:`A` of new
    runs is approximated by a normal with precision

    .. math:: \Lambda_A = \mathrm{diag}(1/s^2) + w\,J_{\text{fit}}^\top J_{\text{fit}}/\sigma^{*2}
              + w\,J_A^\top J_A/\sigma^{*2},

    :math:`J` the gradients of the law (link scale) in :math:`\theta` at the runs (forward
    differences), :math:`s` the prior sd of each parameter (with several families: the
    population sd at :math:`\theta^*`, so other families' runs count through it), :math:`w`
    the Fisher information of the noise per unit variance (:math:`(\nu+1)/(\nu+3)` for
    Student-t, 1 otherwise); the quantity's variance is :math:`g^\top \Lambda_A^{-1} g`,
    :math:`g = \partial Q/\partial\theta`. Used where importance reweighting collapses, which is
    where the posterior is concentrated and a local linearisation is accurate. Candidates of
    other families add nothing here.
    """

    STEP = 1e-4

    def __init__(self, law, fit, sampled, gen, quantity, flops, point, inputs, train_x, cand_x,
                 own, sigma, nu, n_families):
        names = [prm.sampled for prm in law.parameters.values()]
        theta = np.stack([np.asarray(sampled[n], dtype=float)[gen] for n in names], axis=1)
        m, k = theta.shape
        post = fit.posterior

        def link(th, x):
            p = law.natural({n: th[:, i][:, None] for i, n in enumerate(names)}, np)
            xx = {key: np.asarray(v)[None, :] for key, v in x.items()}
            return np.broadcast_to(np.asarray(law.formula(xx, p, np), dtype=float),
                                   (th.shape[0], len(next(iter(x.values())))))

        def qty(th):
            p = law.natural({n: th[:, i] for i, n in enumerate(names)}, np)
            if point is None:
                log_n, log_d, lk = _allocation(law, p, flops, inputs)
                return np.asarray({"loss": lk, "n_opt": log_n, "d_opt": log_d}[quantity], float)
            x = {"params": np.full(th.shape[0], math.log(point[0])),
                 "tokens": np.full(th.shape[0], math.log(point[1]))}
            x.update({key: np.full(th.shape[0], math.log(v)) for key, v in inputs.items()})
            return np.asarray(law.formula(x, p, np), dtype=float)

        def grad(f):
            base = f(theta)
            out = []
            for i in range(k):
                th = theta.copy()
                th[:, i] += self.STEP
                out.append((f(th) - base) / self.STEP)
            return np.stack(out, axis=-1)  # (m, ..., k)

        self.g = grad(qty)                                   # (m, k)
        j_fit = grad(lambda th: link(th, train_x)) if len(train_x["params"]) else np.zeros((m, 0, k))
        jc = grad(lambda th: link(th, cand_x))               # (m, C, k)
        self.jc = np.where(np.asarray(own)[None, :, None], jc, 0.0)
        w = (nu[gen] + 1) / (nu[gen] + 3) if law.noise["likelihood"] == "student_t" else 1.0
        self.w = np.broadcast_to(w / sigma[gen] ** 2, (m,)).astype(float)
        prior = np.empty((m, k))
        for i, prm in enumerate(law.parameters.values()):
            key = f"{prm.sampled}_sigma"
            if n_families > 1 and key in post and law.pooling[prm.name] in hierarchy.POPULATION:
                prior[:, i] = np.asarray(post[key].values, dtype=float).ravel()[
                    np.linspace(0, post[key].size - 1, len(sampled[prm.sampled])).round()
                    .astype(int)][gen]
            else:
                prior[:, i] = prm.scale
        lam = np.zeros((m, k, k))
        lam[:, np.arange(k), np.arange(k)] = 1.0 / prior ** 2
        lam += self.w[:, None, None] * np.einsum("mri,mrj->mij", j_fit, j_fit)
        self.lam0 = lam

    def variance(self, chosen: list[int], cols: np.ndarray) -> np.ndarray:
        """Variance of the quantity after ``chosen`` plus each of ``cols``: (m, len(cols))."""
        lam = self.lam0.copy()
        if chosen:
            ja = self.jc[:, chosen, :]
            lam += self.w[:, None, None] * np.einsum("mri,mrj->mij", ja, ja)
        cov = np.linalg.inv(lam)
        u = np.einsum("mij,mj->mi", cov, self.g)
        base = np.einsum("mi,mi->m", self.g, u)
        jc = self.jc[:, cols, :]
        ju = np.einsum("mci,mi->mc", jc, u)
        jpj = np.einsum("mci,mij,mcj->mc", jc, cov, jc)
        out = base[:, None] - self.w[:, None] * ju ** 2 / (1.0 + self.w[:, None] * jpj)
        return np.maximum(out, 0.0)


# --------------------------------------------------------------------------------- main
@hooks.provide("design")
def design(fit, *, target, budget, candidates: pd.DataFrame | None = None,
           quantity: str = "loss", family: str | None = None, seed: int = 0,
           outcomes: int = OUTCOMES, max_draws: int = MAX_DRAWS, max_runs: int = MAX_RUNS,
           prob: float = DEFAULT_PROB, inputs: dict | None = None, exchanges: bool = True,
           _fixed: bool = False):
    r"""Rank candidate runs by expected variance reduction of a forecast per FLOP; propose a set.

    See the module docstring for the method: outcomes simulated from the posterior predictive,
    importance reweighting of the posterior draws (linearised update where the effective sample
    size collapses), the extrapolation discrepancy shrinking as runs approach the target, and a
    greedy sequential selection within the budget (the better of a per-FLOP and a plain-gain
    greedy).

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
        A fit of a law of ``params`` and ``tokens`` (Chinchilla, over-training, custom laws).
    target : float or (float, float)
        Target compute :math:`C_T` in FLOPs (the quantity is taken at its compute-optimal point),
        or ``(N, D)``: loss at that model size and token count (``quantity="loss"`` only).
    budget : float
        FLOPs available for new runs (each costs :math:`6ND`).
    candidates : pandas.DataFrame, optional
        Runs to choose from: ``params``, ``tokens``, optional ``family`` (default: the target's
        family) and the law's other inputs. Default: a log grid of :data:`GRID` x :data:`GRID`
        values of N from the smallest fitted model to :math:`N^*(C_T)` and of D from the
        smallest fitted token count to :math:`D^*(C_T)`, at 0.5 to 2,000 tokens per parameter
        and no less compute than the smallest fitted run. Candidates above the budget are
        dropped.
    quantity : {"loss", "n_opt", "d_opt"}
    family : str, optional
        The family whose forecast matters: a fitted family, or a new name (its parameters are
        drawn from the population; its first runs are then worth the most). Required when the
        fit has several families.
    seed : int
        Seed of the simulated outcomes (the ranking is deterministic for a seed).
    outcomes : int
        Simulated outcomes per candidate.
    max_draws : int
        Posterior draws used (evenly thinned).
    max_runs : int
        Most runs in the proposal.
    prob : float
        Probability of the reported interval widths (Gaussian approximation:
        :math:`2 z_{(1+p)/2}\,\mathrm{sd}`).
    inputs : dict, optional
        Values of the law's inputs besides params and tokens (as in
        :func:`bayeslaws.optimal.optimal`); also filled into candidates that lack them.
    exchanges : bool
        Improve the greedy proposal by exchanges (swap one run for another, refill freed budget;
        at most :data:`EXCHANGE_PASSES` passes), keeping it only when the expected variance falls.

    Returns
    -------
    Design

    Raises
    ------
    DesignError
        No candidate within the budget, a target inside the fitted range, a bad quantity or
        target, several families and no ``family``.
    SpecError
        A law without params and tokens inputs.
    """
    from scipy import stats

    law = fit.law
    if not {"params", "tokens"} <= set(law.inputs):
        raise SpecError(f"law {law.name!r} has inputs {', '.join(law.inputs)}: designing runs by "
                        "FLOPs (6ND) needs a law of params and tokens (e.g. chinchilla)")
    if quantity not in QUANTITIES:
        raise DesignError(f"quantity must be one of {', '.join(QUANTITIES)}, not {quantity!r}")
    prob = check_prob(prob)
    z = float(stats.norm.ppf(0.5 + prob / 2))
    budget = _positive("budget", budget)
    inputs = dict(inputs or {})
    extra_inputs = [c for c in law.inputs if c not in ("params", "tokens", "flops")]
    cfg = fit.config
    fam_col = cfg.get("family_column", "family")

    # --- target family
    if family is None:
        if len(fit.families) > 1:
            raise DesignError(f"the fit has {len(fit.families)} families; say whose forecast "
                              f"matters with family= (--family): one of {fit.families} or a new "
                              "name")
        family = fit.families[0]
    family = str(family)

    # --- target
    if np.ndim(target) == 0:
        flops_t = _positive("target", target)
        point = None
    else:
        try:
            n_t, d_t = (float(v) for v in target)
        except (TypeError, ValueError):
            raise DesignError(f"target must be FLOPs or an (N, D) pair, not {target!r}") from None
        if quantity != "loss":
            raise DesignError(f"quantity {quantity!r} is defined at a compute budget: give the "
                              "target in FLOPs, not an (N, D) pair")
        _positive("target N", n_t), _positive("target D", d_t)
        point = (n_t, d_t)
        flops_t = 6.0 * n_t * d_t

    # --- posterior draws, thinned, per family label
    post = fit.posterior
    n_all = post.sizes["chain"] * post.sizes["draw"]
    keep = _thin(n_all, int(max_draws))
    known = hierarchy.family_draws(law, post, fit.families)
    sampled = {fam: {k: _stack(v.sel(family=fam), keep) for k, v in known.items()}
               for fam in fit.families}
    rng_pop = np.random.default_rng([seed, 0xD5])

    def draws_of(label: str) -> dict:
        if label not in sampled:
            pop = hierarchy.population_draws(law, post, rng_pop)
            sampled[label] = {k: _stack(v, keep) for k, v in pop.items()}
        return sampled[label]

    p_t = law.natural(draws_of(family), np)
    sigma = _stack(post["sigma"], keep)
    nu = _stack(post["nu"], keep) if "nu" in post else np.full_like(sigma, np.inf)
    n_draws = len(sigma)

    if point is None:
        log_n, log_d, link = _allocation(law, p_t, flops_t, inputs)
        q = {"loss": link, "n_opt": log_n, "d_opt": log_d}[quantity]
        n_t, d_t = float(np.exp(np.median(log_n))), float(np.exp(np.median(log_d)))
    else:
        x = {"params": np.full(n_draws, math.log(n_t)), "tokens": np.full(n_draws, math.log(d_t))}
        x.update({k: np.full(n_draws, math.log(v)) for k, v in inputs.items()})
        q = np.asarray(law.formula(x, p_t, np), dtype=float)
    q = np.asarray(q, dtype=float)
    if not np.isfinite(q).all():
        raise DesignError(f"the {quantity} at the target is not finite under some posterior draws")
    var_q = float(np.var(q))

    # --- training range and the target's distance
    train = data_mod.prepare(law, fit.data, family_column=fam_col, require_target=False)
    train_fam = (np.asarray(train.family).astype(str) if train.has_family
                 else np.full(len(train.y), fit.families[0]))
    tx = {"params": np.array([math.log(n_t)]), "tokens": np.array([math.log(d_t)])}
    tx.update({k: np.array([math.log(inputs[k])]) for k in extra_inputs if k in inputs})
    disc = fit.discrepancy if quantity == "loss" else None
    relative = bool(disc.relative) if disc is not None else True
    rng_of = _Range(law, train.x, train_fam, tx, family, relative)
    u_now, d_now = rng_of.u()
    ref = train_fam == family
    if not ref.any():
        ref = np.ones(len(train_fam), dtype=bool)
    c_max = extrapolation.largest_size(law, train.x, ref)  # FLOPs (6ND) for a law of N and D
    if d_now <= 0 or flops_t <= c_max * (1 + 1e-9) and point is None:
        where = (f"C = {flops_t:.3g} FLOPs" if point is None
                 else f"(N, D) = ({n_t:.3g}, {d_t:.3g})")
        raise DesignError(f"the target {where} lies inside the fitted range of {family!r} "
                          f"(largest run {c_max:.3g} FLOPs): design plans runs for a forecast "
                          "beyond the data; give a larger target")
    tau2 = float(np.mean(disc.tau.values ** 2)) if disc is not None else 0.0

    # N* and D* carry the allocation error of bayeslaws.optimal instead, which also shrinks
    # as runs approach the target (and has a floor that no run removes)
    alloc = (quantity in ("n_opt", "d_opt") and point is None
             and fit.config.get("extrapolation", "backtest") is not None)
    by_distance = quantity == "loss" or alloc

    def extra_var(u):
        u = np.asarray(u, dtype=float)
        return allocation_sd(u) ** 2 if alloc else tau2 * (u + u * u)

    v_now = var_q + float(extra_var(u_now))

    # --- candidates
    if candidates is None:
        cand = _default_grid(np.exp(train.x["params"][ref]), np.exp(train.x["tokens"][ref]),
                             n_t, d_t, budget, family)
        for k in extra_inputs:
            if k not in inputs:
                raise SpecError(f"law {law.name!r} also depends on {k}: give its value with "
                                f"inputs={{{k!r}: ...}}")
            cand[k] = inputs[k]
    else:
        if not isinstance(candidates, pd.DataFrame):
            raise DesignError("candidates must be a DataFrame with columns params and tokens "
                              "(optional family)")
        cand = candidates.reset_index(drop=True).copy()
        for col in ("params", "tokens"):
            if col not in cand:
                raise DesignError(f"candidates lack the column {col!r}; give params and tokens "
                                  "per candidate run (optional family)")
        if fam_col != "family" and fam_col in cand and "family" not in cand:
            cand["family"] = cand[fam_col]
        if "family" not in cand:
            cand["family"] = family
        for k in extra_inputs:
            if k not in cand:
                if k not in inputs:
                    raise DesignError(f"candidates lack {k!r}, an input of law {law.name!r}: "
                                      f"add the column or pass inputs={{{k!r}: ...}}")
                cand[k] = inputs[k]
    cand["family"] = cand["family"].astype(str)
    checked = data_mod.prepare(law, cand[["params", "tokens", "family"] + extra_inputs],
                               require_target=False)
    cand["flops"] = 6.0 * cand["params"].astype(float) * cand["tokens"].astype(float)
    affordable = cand["flops"] <= budget
    if not affordable.any():
        raise DesignError(f"no candidate fits the budget of {budget:.3g} FLOPs (the cheapest "
                          f"costs {cand['flops'].min():.3g} = 6ND): raise --budget or give "
                          "smaller candidates")
    cand = cand[affordable].reset_index(drop=True)
    cx = {k: np.asarray(v)[affordable.to_numpy()] for k, v in checked.x.items()}
    cfam = cand["family"].to_numpy(str)
    n_cand = len(cand)

    # --- the law at each candidate per draw: F (draws, candidates)
    F = np.empty((n_draws, n_cand))
    for label in np.unique(cfam):
        cols = np.flatnonzero(cfam == label)
        p = law.natural({k: v[:, None] for k, v in draws_of(label).items()}, np)
        xc = {k: v[cols][None, :] for k, v in cx.items()}
        F[:, cols] = np.broadcast_to(np.asarray(law.formula(xc, p, np), dtype=float),
                                     (n_draws, len(cols)))
    bad = ~np.isfinite(F)
    if bad.any():
        F = np.where(bad, np.nanmedian(np.where(bad, np.nan, F), axis=0)[None, :], F)

    # --- simulated outcomes (common random numbers) and their log-likelihoods L (M, S, C)
    rng = np.random.default_rng(seed)
    m_out = int(outcomes)
    gen = rng.integers(n_draws, size=m_out)
    eps = _noise(law, rng, (m_out, n_cand), nu[gen][:, None])
    Y = F[gen] + sigma[gen][:, None] * eps
    L = _logpdf(law, Y[:, None, :], F[None, :, :], sigma[None, :, None],
                nu[None, :, None]).astype(float)
    L[np.arange(m_out), gen, :] = -np.inf  # leave the generating draw out
    lap = _Laplace(law, fit, draws_of(family), gen, quantity, flops_t, point, inputs,
                   {k: v[ref] for k, v in train.x.items()}, cx, cfam == family, sigma, nu,
                   len(fit.families))

    # in-data flags
    tr_n, tr_d = np.exp(train.x["params"]), np.exp(train.x["tokens"])
    in_data = np.zeros(n_cand, dtype=bool)
    for i in range(n_cand):
        same = ((np.abs(tr_n / cand["params"].iloc[i] - 1) < SAME_RUN)
                & (np.abs(tr_d / cand["tokens"].iloc[i] - 1) < SAME_RUN) & (train_fam == cfam[i]))
        in_data[i] = bool(same.any())

    def expected(base: np.ndarray, chosen: list[int], cols: np.ndarray, extra=0.0):
        """Geometric mean over outcomes of the variance after chosen + each of ``cols`` (plus
        ``extra``, the discrepancy term per column); median ess and linearised share."""
        logw = base[:, :, None] + L[:, :, cols]
        logw = logw - logw.max(axis=1, keepdims=True)
        w = np.exp(logw)
        w /= w.sum(axis=1, keepdims=True)
        mean = np.einsum("msc,s->mc", w, q)
        var = np.einsum("msc,s->mc", w, q * q) - mean ** 2
        ess = 1.0 / np.sum(w * w, axis=1)
        low = ess < MIN_ESS
        if low.any():
            var = np.where(low, lap.variance(chosen, cols), np.maximum(var, 0.0))
        total = np.maximum(var + np.asarray(extra)[None, ...], 1e-300)
        return np.exp(np.log(total).mean(axis=0)), np.median(ess, axis=0), low.mean(axis=0)

    def dist_after(chosen: list[int], cols: np.ndarray):
        us, ds = np.empty(len(cols)), np.empty(len(cols))
        for j, c in enumerate(cols):
            idx = chosen + [int(c)]
            us[j], ds[j] = rng_of.u({k: v[idx] for k, v in cx.items()}, cfam[idx])
        return us, ds

    base0 = np.zeros((m_out, n_draws))
    base0[np.arange(m_out), gen] = -np.inf
    all_cols = np.arange(n_cand)
    u1, d1 = dist_after([], all_cols) if by_distance else (np.zeros(n_cand), np.zeros(n_cand))
    v1, ess, lin_share = expected(base0, [], all_cols, extra_var(u1))
    reduction = 1.0 - v1 / v_now

    if _fixed:  # the expected variance after all candidates together (see expected_sd)
        base = base0.copy()
        for c in range(n_cand - 1):
            base = base + L[:, :, c]
        us = (dist_after(list(range(n_cand - 1)), np.array([n_cand - 1]))[0]
              if by_distance else np.zeros(1))
        vt, _, _ = expected(base, list(range(n_cand - 1)), np.array([n_cand - 1]),
                            extra_var(us))
        return math.sqrt(v_now), math.sqrt(float(vt[0]))

    # --- greedy proposals
    def greedy(per_flop: bool):
        chosen, spent, base, v_cur = [], 0.0, base0.copy(), v_now
        path = []
        flops = cand["flops"].to_numpy(float)
        while len(chosen) < max_runs:
            cols = np.array([c for c in all_cols if c not in chosen and spent + flops[c] <= budget])
            if not len(cols):
                break
            us = dist_after(chosen, cols)[0] if by_distance else np.zeros(len(cols))
            v, _, _ = expected(base, chosen, cols, extra_var(us))
            gain = v_cur - v
            score = gain / flops[cols] if per_flop else gain
            best = int(np.argmax(score))
            if gain[best] < MIN_GAIN * v_now:
                break
            c = int(cols[best])
            chosen.append(c)
            spent += flops[c]
            v_cur = float(v[best])
            base = base + L[:, :, c]
            path.append((c, spent, v_cur))
        return chosen, path, v_cur

    def v_of(chosen: list[int]) -> float:
        """Expected variance after the set ``chosen`` (outcomes simulated jointly)."""
        if not chosen:
            return v_now
        base = base0 + L[:, :, chosen[:-1]].sum(axis=2)
        us = (dist_after(chosen[:-1], np.array(chosen[-1:]))[0] if by_distance
              else np.zeros(1))
        return float(expected(base, chosen[:-1], np.array(chosen[-1:]),
                              extra_var(us))[0][0])

    def exchange(chosen: list[int], v_cur: float):
        """Fedorov-style exchange (Fedorov 1972; Cook & Nachtsheim 1980): replace one chosen run
        by the affordable candidate that lowers the expected variance most, then refill any
        budget freed, until no swap gains :data:`MIN_GAIN`. Greedy alone keeps its first,
        largest run even when two smaller ones, or one at another D/N, would serve better."""
        for _ in range(EXCHANGE_PASSES):
            improved = False
            for i in range(len(chosen)):
                rest = chosen[:i] + chosen[i + 1:]
                col, v = best_addition(rest, exclude=chosen)
                if col is not None and v < v_cur - MIN_GAIN * v_now:
                    chosen, v_cur, improved = rest[:i] + [col] + rest[i:], v, True
            chosen, v_cur = refill(chosen, v_cur)
            if not improved:
                break
        return chosen, v_cur

    def best_addition(given: list[int], exclude: list[int]):
        """The affordable candidate (not in ``exclude``) whose addition to ``given`` leaves the
        smallest expected variance, and that variance; ``(None, inf)`` when none fits."""
        flops = cand["flops"].to_numpy(float)
        left = budget - float(flops[given].sum())
        cols = np.array([c for c in all_cols if c not in exclude and flops[c] <= left])
        if not len(cols):
            return None, math.inf
        base = base0 + (L[:, :, given].sum(axis=2) if given else 0.0)
        us = dist_after(given, cols)[0] if by_distance else np.zeros(len(cols))
        v, _, _ = expected(base, given, cols, extra_var(us))
        best = int(np.argmin(v))
        return int(cols[best]), float(v[best])

    def refill(chosen: list[int], v_cur: float):
        """Greedy additions (by marginal reduction) while budget and gains remain."""
        while len(chosen) < max_runs:
            col, v = best_addition(chosen, exclude=chosen)
            if col is None or v_cur - v < MIN_GAIN * v_now:
                break
            chosen, v_cur = chosen + [col], v
        return chosen, v_cur

    def ordered_path(chosen: list[int]):
        """The chosen set in greedy order (largest marginal reduction first), with the
        cumulative FLOPs and expected variance after each run."""
        left, done, path, spent = list(chosen), [], [], 0.0
        while left:
            vs = [v_of(done + [c]) for c in left]
            c = left.pop(int(np.argmin(vs)))
            done.append(c)
            spent += float(cand["flops"].iloc[c])
            path.append((c, spent, min(vs)))
        return path

    runs = {name: greedy(flag) for name, flag in (("per_flop", True), ("gain", False))}
    pick = min(runs, key=lambda k: (runs[k][2], k != "per_flop"))
    chosen, path, v_end = runs[pick]
    if exchanges and chosen:
        swapped, v_swap = exchange(list(chosen), v_end)
        if v_swap < v_end:
            chosen, v_end, pick = swapped, v_swap, f"{pick}+exchange"
            path = ordered_path(chosen)

    table = cand.copy()
    table["reduction"] = reduction
    table["value_per_flop"] = reduction / table["flops"]
    table["sd_after"] = np.sqrt(v1)
    wname = f"width{round(prob * 100)}_after"
    table[wname] = 2 * z * np.sqrt(v1)
    table["distance_after"] = d1
    table["ess"] = ess
    table["linearised"] = lin_share
    table["in_data"] = in_data
    table["proposed"] = np.isin(np.arange(n_cand), chosen)
    order = np.lexsort((np.arange(n_cand), -table["value_per_flop"].to_numpy()))
    table = table.iloc[order].reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, n_cand + 1))

    prop = cand.iloc[[c for c, _, _ in path]].reset_index(drop=True).copy()
    prop["cumulative_flops"] = [s for _, s, _ in path]
    prop["sd_after"] = [math.sqrt(v) for _, _, v in path]
    prop[wname] = 2 * z * prop["sd_after"]
    prop["reduction"] = [1 - v / v_now for _, _, v in path]
    prop.insert(0, "order", np.arange(1, len(prop) + 1))

    notes = []
    if disc is None and quantity == "loss":
        notes.append("the fit has no extrapolation discrepancy (extrapolation=None): runs "
                     "nearer the target are valued for the parameters alone")
    if float(np.mean(lin_share)) > 0.5:
        notes.append("most simulated outcomes collapsed the importance weights: values come "
                     "from the linearised update")
    if not len(prop):
        notes.append("no candidate reduces the variance by more than "
                     f"{MIN_GAIN:.1%}: nothing proposed")
    fixed_share = float(extra_var(u_now)) / v_now
    if fixed_share > 0.5 and 1 - v_end / v_now < 0.1:
        what = "extrapolation discrepancy" if quantity == "loss" else "allocation error of N*"
        notes.append(f"{fixed_share:.0%} of the {quantity} variance now is the {what}, which "
                     f"only runs beyond the largest fitted one ({c_max:.3g} FLOPs) reduce; the "
                     f"proposal removes {1 - v_end / v_now:.1%} of the variance")
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return Design(table, prop, target=flops_t if point is None else point, budget=budget,
                  quantity=quantity, family=family, sd_now=math.sqrt(v_now),
                  width90_now=2 * z * math.sqrt(v_now), sd_after=math.sqrt(v_end), greedy=pick,
                  notes=notes, existing=fit.data, target_point=(n_t, d_t, flops_t), prob=prob)


def expected_sd(fit, runs: pd.DataFrame, *, target, quantity: str = "loss",
                family: str | None = None, seed: int = 0, **kwargs) -> tuple[float, float]:
    """Posterior sd of the log quantity now, and its expected value after all ``runs`` together.

    The same estimator as :func:`design` (simulated outcomes of the runs, jointly; importance
    reweighting with the linearised fallback; discrepancy distance), for a set chosen by other
    means (an IsoFLOP grid, a ladder), so that plans can be compared before any is trained.
    """
    runs = runs.reset_index(drop=True)
    budget = float((6.0 * runs["params"] * runs["tokens"]).sum()) * (1 + 1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return design(fit, target=target, budget=budget, candidates=runs, quantity=quantity,
                      family=family, seed=seed, _fixed=True, **kwargs)
