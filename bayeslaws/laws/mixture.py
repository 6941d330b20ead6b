r"""Data-mixture laws: validation loss as a function of the proportions of K data sources, and the
posterior of the best mixture (RegMix, Liu et al. 2024; data mixing laws, Ye et al. 2024).

Labs train many small proxy models on random mixtures of data sources, regress the validation loss
on the mixture weights and train the large model on the mixture the regression says is best. The
``mixture`` law does that regression as a Bayesian model, so the choice comes with its
uncertainty: :func:`optimal_mixture` gives draws of the best mixture, the probability that each
candidate mixture is the best, and each candidate's expected loss with an interval.

Inputs are proportions :math:`r_j \ge 0`, :math:`\sum_j r_j = 1` (columns named by ``sources``);
unlike the other laws they enter the formula as given, not as logarithms (``log_inputs = False``),
since a source may be absent (:math:`r_j = 0`). Rows are checked to lie on the simplex
(:meth:`Mixture.check_inputs`).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import BayeslawsError, DataError, SpecError, format_rows
from .base import Law, Param

#: Largest allowed distance of a row's sum of proportions from 1 (RegMix's files, rounded to three
#: decimals, sum to 1 within 0.004).
SIMPLEX_TOL = 0.01
FORMS = ("exponential", "regression")
#: Concentration multipliers of the Dirichlet candidates around the prior (RegMix samples its
#: proxies' mixtures from Dirichlet(prior x scale) with scales from 0.1 to 5).
CANDIDATE_SCALES = (0.1, 0.3, 1.0, 3.0, 5.0)
_IDENT = re.compile(r"[^0-9A-Za-z_]")
#: The 17 Pile sources of RegMix's release (the source columns of the bundled ``regmix_liu2024``),
#: the default ``sources`` of the law.
REGMIX_SOURCES = ("arxiv", "freelaw", "nih_exporter", "pubmed_central", "wikipedia_en",
                  "dm_mathematics", "github", "philpapers", "stackexchange", "enron_emails",
                  "gutenberg_pg_19", "pile_cc", "ubuntu_irc", "europarl", "hackernews",
                  "pubmed_abstracts", "uspto_backgrounds")


def _param_key(source: str) -> str:
    """A source column as it appears in parameter names (non-identifier characters -> ``_``)."""
    return _IDENT.sub("_", str(source))


def _dot(coefs, feats, xp):
    """:math:`\\sum_k c_k f_k` over many terms: plain additions in numpy; in pytensor one product
    of stacked coefficients and features summed over the last axis (a chain of additions
    would fuse into one element-wise operation of more than 32 operands, which PyTensor's
    Python mode cannot run)."""
    coefs, feats = list(coefs), list(feats)
    if xp is np:
        out = coefs[0] * feats[0]
        for c, f in zip(coefs[1:], feats[1:]):
            out = out + c * f
        return out
    c = xp.stack([xp.as_tensor_variable(v) for v in coefs], axis=-1)
    f = xp.stack([xp.as_tensor_variable(v) for v in feats], axis=-1)
    return xp.sum(c * f, axis=-1)


def _check_sources(sources) -> tuple[str, ...]:
    if sources is None:
        return REGMIX_SOURCES
    if isinstance(sources, str):
        sources = [s for s in sources.split(",")]
    sources = tuple(str(s).strip() for s in sources)
    if len(sources) < 2 or any(not s for s in sources):
        raise SpecError(f"mixture: give at least two non-empty source column names, not "
                        f"{list(sources)}")
    keys = [_param_key(s) for s in sources]
    if len(set(keys)) != len(keys):
        dup = sorted({s for s, k in zip(sources, keys) if keys.count(k) > 1})
        raise SpecError(f"mixture: source names {dup} repeat (or differ only in punctuation); "
                        "give each source once")
    return sources


class Mixture(Law):
    r"""Loss as a function of the data mixture :math:`r` (proportions of K sources).

    ``form="exponential"``: the data mixing law of Ye et al. 2024 (their Eq. 1, per validation
    domain),

    .. math::

        L(r) = c + k \exp\Big(\sum_j t_j \big(r_j - \tfrac1K\big)\Big),
        \qquad t_{\text{ref}} = 0,

    written with the exponent centred at the uniform mixture, so :math:`k` is the reducible loss
    there. Mixtures sum to one, so only differences :math:`t_i - t_j` are identified (a common
    shift of the :math:`t_j` is absorbed by :math:`k`): the exponent of the ``reference`` source
    (default the last) is fixed at 0 and :math:`t_j` is the change in log reducible loss when a
    unit share moves from the reference source to source :math:`j`. The optimum over the whole
    simplex of this form is a vertex (the source with the smallest :math:`t_j`), so it is best used
    to rank mixtures within a candidate set.

    ``form="regression"``: the flexibility RegMix needs (domains interact: a source can help or
    hurt another's value), the same law with pairwise terms in the exponent under a shrinkage
    prior,

    .. math::

        L(r) = c + k \exp\Big(\sum_j t_j \big(r_j - \tfrac1K\big)
               + \tau \sum_{i<j} z_{ij}\, r_i r_j\Big),
        \qquad z_{ij} \sim N(0, 1),\ \log\tau \sim N(\log 0.5, 1):

    log-linear in the proportions with all pairwise products (a quadratic Scheffé mixture model,
    Cornell 2002) for the reducible loss; :math:`\gamma_{ij} = \tau z_{ij}` is the interaction
    of sources :math:`i` and :math:`j` (negative: together they lower the loss more than each
    alone), shrunk towards 0 by the common scale :math:`\tau` that the data learn (a normal prior
    with a log-normal global scale; a horseshoe's per-pair scales are not implemented). With
    :math:`\tau \to 0` it is the exponential form.

    With a ``family`` column (validation domains, or model scales) every parameter is partially
    pooled across families, as in the other laws. Inputs are the ``sources`` columns (proportions,
    each row on the simplex within ``tol``); target ``loss``.

    Parameters
    ----------
    sources : sequence of str
        The source columns, e.g. ``["web", "code", "books"]`` (a comma-separated string works);
        default the 17 Pile sources of the bundled ``regmix_liu2024`` (:data:`REGMIX_SOURCES`).
    form : {"exponential", "regression"}
        The law's form (above).
    reference : str, optional
        Exponential form: the source whose exponent is fixed at 0 (default the last).
    pairs : "all", "none" or sequence of (source, source)
        Regression form: the pairwise terms (default all :math:`K(K-1)/2`).
    tol : float
        Largest allowed :math:`|\sum_j r_j - 1|` of a row.

    References
    ----------
    Liu, Zheng, Muennighoff, Zeng, Dou, Pang, Jiang, Lin 2024, "RegMix: Data Mixture as
    Regression for Language Model Pre-training", arXiv:2407.01492 (ICLR 2025).
    Ye, Liu, Sun, Zhou, Zhan, Qiu 2024, "Data Mixing Laws: Optimizing Data Mixtures by Predicting
    Language Modeling Performance", arXiv:2403.16952.
    Cornell 2002, "Experiments with Mixtures" (Scheffé polynomials), 3rd ed., Wiley.
    """

    name = "mixture"
    target = "loss"
    log_inputs = False
    formula_text = "L = c + k exp(sum_j t_j (r_j - 1/K)), sum_j r_j = 1"
    reference = "Liu et al. 2024, arXiv:2407.01492; Ye et al. 2024, arXiv:2403.16952"
    default_noise = {"likelihood": "student_t", "sigma_scale": 0.05}

    def __init__(self, *, sources=None, form: str = "exponential", pairs="all",
                 reference: str | None = None, tol: float = SIMPLEX_TOL, **kwargs):
        self.sources = _check_sources(sources)
        if form not in FORMS:
            raise SpecError(f"mixture: form must be one of {FORMS}, not {form!r}")
        if not (isinstance(tol, (int, float)) and 0 < tol < 0.5):
            raise SpecError(f"mixture: tol must be a number in (0, 0.5), not {tol!r}")
        self.form = form
        self.tol = float(tol)
        self.inputs = self.sources
        keys = {s: _param_key(s) for s in self.sources}
        self.reference = self.sources[-1] if reference is None else str(reference)
        if self.reference not in self.sources:
            raise SpecError(f"mixture: reference {reference!r} is not one of the sources "
                            f"{list(self.sources)}")
        self.pairs = () if form == "exponential" else self._check_pairs(pairs)
        self.params = (
            Param("c", math.log(2.0), 1.0, family_scale=0.3,
                  doc="irreducible loss (mixture-independent part)"),
            Param("k", math.log(1.0), 1.0, family_scale=0.5,
                  doc="reducible loss at the uniform mixture"),
        ) + tuple(Param(f"t_{keys[s]}", 0.0, 1.5, log=False, family_scale=0.5,
                        doc=f"log reducible loss per unit share of {s} (vs {self.reference})")
                  for s in self.sources if s != self.reference)
        if self.pairs:
            self.params += (Param("tau", math.log(0.5), 1.0, family_scale=0.3,
                                  doc="scale of the pairwise interactions"),)
            self.params += tuple(Param(f"z_{keys[a]}__{keys[b]}", 0.0, 1.0, log=False,
                                       family_scale=0.5,
                                       doc=f"interaction of {a} and {b} in units of tau")
                                 for a, b in self.pairs)
            self.formula_text = ("L = c + k exp(sum_j t_j (r_j - 1/K) + tau sum_{i<j} z_ij r_i "
                                 "r_j), sum_j r_j = 1")
        super().__init__(**kwargs)

    def _check_pairs(self, pairs) -> tuple[tuple[str, str], ...]:
        if pairs in ("all", None):
            return tuple(itertools.combinations(self.sources, 2))
        if pairs == "none":
            return ()
        out = []
        for pair in pairs:
            if len(pair) != 2 or pair[0] == pair[1] or not set(pair) <= set(self.sources):
                raise SpecError(f"mixture: pair {pair!r} must be two different sources of "
                                f"{list(self.sources)}")
            a, b = sorted(pair, key=self.sources.index)
            if (a, b) not in out:
                out.append((a, b))
        return tuple(out)

    # ------------------------------------------------------------------ the law
    def formula(self, x, p, xp):
        """Return log L (see the class docstring)."""
        keys = [_param_key(s) for s in self.sources]
        k_inv = 1.0 / len(self.sources)
        used = [(s, k) for s, k in zip(self.sources, keys) if s != self.reference]
        expo = _dot([p[f"t_{k}"] for _, k in used], [x[s] - k_inv for s, _ in used], xp)
        if self.pairs:
            inter = _dot([p[f"z_{_param_key(a)}__{_param_key(b)}"] for a, b in self.pairs],
                         [x[a] * x[b] for a, b in self.pairs], xp)
            expo = expo + p["tau"] * inter
        return xp.logaddexp(p["log_c"], p["log_k"] + expo)

    def check_inputs(self, x) -> None:
        """Each row must lie on the simplex: proportions >= 0 that sum to 1 within ``tol``."""
        r = np.column_stack([np.asarray(x[s], dtype=float) for s in self.sources])
        neg_rows, neg_cols = np.nonzero(r < 0)
        if neg_rows.size:
            rows = np.unique(neg_rows)
            cols = [self.sources[j] for j in np.unique(neg_cols)]
            raise DataError(f"mixture proportions must be >= 0, but {', '.join(map(repr, cols))} "
                            f"{'is' if len(cols) == 1 else 'are'} negative in {format_rows(rows)}; "
                            "give each source's share of the training data (0 for an unused "
                            "source)", column=cols[0], rows=rows)
        total = r.sum(axis=1)
        off = np.flatnonzero(np.abs(total - 1.0) > self.tol)
        if off.size:
            raise DataError(f"mixture proportions must sum to 1 in each row (within {self.tol:g}) "
                            f"over the sources {list(self.sources)}, but they sum to "
                            f"{total[off[0]]:.4g} in {format_rows(off)}; divide each row by its "
                            "sum, or add the missing sources to `sources`",
                            column=self.sources[0], rows=off)

    def options(self) -> dict:
        """``sources``, ``form``, ``pairs`` and ``tol`` (saved with a fit)."""
        out = {"sources": list(self.sources), "form": self.form, "tol": self.tol}
        if self.form == "exponential":
            out["reference"] = self.reference
        if self.form == "regression":
            full = tuple(itertools.combinations(self.sources, 2))
            out["pairs"] = ("all" if self.pairs == full else "none" if not self.pairs
                            else [list(p) for p in self.pairs])
        return out

    def fit(self, data, *, extrapolation=None, **kwargs):
        """Sample the posterior (see :meth:`bayeslaws.laws.Law.fit`).

        A mixture has no size axis to extrapolate along, so ``extrapolation`` is None (the plain
        posterior predictive); transfer to larger models is checked by the benchmark instead.
        """
        if extrapolation is not None:
            raise SpecError("the mixture law has no size axis to extrapolate along; fit it with "
                            "extrapolation=None (command line: --no-extrapolation is implied)")
        return super().fit(data, extrapolation=None, **kwargs)

    def describe(self) -> str:
        return (f"{self.name} ({self.form}): {self.formula_text} (inputs: {len(self.sources)} "
                f"source proportions; target {self.target})")


# ---------------------------------------------------------------------------- data helpers
def by_domain(frame: pd.DataFrame, domains, *, prefix: str = "loss_",
              family_column: str = "family") -> pd.DataFrame:
    """Long format for pooling across validation domains: one row per run and domain.

    ``frame`` holds one loss column per domain (``loss_<domain>``, as in the bundled
    ``regmix_liu2024``); the result has the other columns repeated, ``loss`` = that domain's loss
    and ``family`` = the domain.
    """
    domains = [domains] if isinstance(domains, str) else list(domains)
    missing = [d for d in domains if f"{prefix}{d}" not in frame]
    if missing:
        have = sorted(c.removeprefix(prefix) for c in frame if c.startswith(prefix))
        raise DataError(f"no loss column for domain(s) {missing}; columns {prefix}<domain> exist "
                        f"for {have}", column=f"{prefix}{missing[0]}")
    keep = [c for c in frame if not c.startswith(prefix) and c != "loss"]
    parts = [frame[keep].assign(loss=frame[f"{prefix}{d}"].to_numpy(), **{family_column: d})
             for d in domains]
    return pd.concat(parts, ignore_index=True)


def candidate_mixtures(sources, n: int = 2000, *, prior=None, scales=CANDIDATE_SCALES,
                       seed: int = 0) -> pd.DataFrame:
    """Random mixtures on the simplex, as RegMix draws its proxies' and its search's mixtures.

    ``n`` draws from Dirichlet(``prior`` x scale), the scales cycling through ``scales``
    (small scales give mixtures dominated by a few sources, large ones mixtures near the prior).

    Parameters
    ----------
    sources : sequence of str
    n : int
    prior : array-like, optional
        Centre of the draws (default uniform); e.g. the sources' token shares.
    seed : int
    """
    sources = _check_sources(sources)
    prior = (np.full(len(sources), 1.0 / len(sources)) if prior is None
             else np.asarray(prior, dtype=float))
    if prior.shape != (len(sources),) or not (prior > 0).all():
        raise BayeslawsError(f"prior must be {len(sources)} positive numbers (one per source)")
    prior = prior / prior.sum()
    rng = np.random.default_rng(seed)
    scale = np.resize(np.asarray(scales, dtype=float), int(n))
    alpha = np.maximum(prior[None, :] * scale[:, None] * len(sources), 1e-3)
    r = rng.gamma(alpha)
    r /= r.sum(axis=1, keepdims=True)
    return pd.DataFrame(r, columns=list(sources))


def simulate(sources=("web", "code", "books", "wiki"), n: int = 120, *, c: float = 2.0,
             k: float = 1.0, t=(-1.0, 0.5, 0.2, 0.8), noise: float = 0.01,
             seed: int = 0) -> pd.DataFrame:
    """Simulate proxy runs from the exponential form: Dirichlet mixtures and their losses.

    Returns the mixtures (one column per source) and ``loss`` = the law times log-normal noise
    of sd ``noise``.
    """
    law = Mixture(sources=sources)
    frame = candidate_mixtures(sources, n, scales=(0.3, 1.0, 3.0), seed=seed)
    t = np.asarray(t, dtype=float) - float(t[-1])  # the last source is the reference
    p = {"c": c, "k": k} | {f"t_{_param_key(s)}": v for s, v in zip(law.sources, t)}
    truth = law.evaluate(frame, p)
    rng = np.random.default_rng([seed, 1])
    return frame.assign(loss=truth * np.exp(rng.normal(0.0, noise, len(frame))))


# ---------------------------------------------------------------------------- the optimum
def _require(fit) -> Mixture:
    if fit.law.name != "mixture":
        raise BayeslawsError(f"optimal_mixture needs a 'mixture' fit, not {fit.law.name!r}")
    return fit.law


def _family(fit, family):
    if family is None:
        if len(fit.families) == 1:
            return fit.families[0]
        raise BayeslawsError(f"this fit has {len(fit.families)} families ({fit.families}); pass "
                             "family= one of them, or 'population' for a new one")
    if family != "population" and family not in fit.families:
        raise BayeslawsError(f"family {family!r} is not in this fit; choose one of "
                             f"{fit.families + ['population']}")
    return family


def _as_mixtures(law: Mixture, candidates) -> np.ndarray:
    """Candidate mixtures as an array (n, K), checked to lie on the simplex."""
    if isinstance(candidates, pd.DataFrame):
        missing = [s for s in law.sources if s not in candidates]
        if missing:
            raise DataError(f"candidate mixtures lack the source column(s) {missing}; give one "
                            f"column per source of the fit: {list(law.sources)}",
                            column=missing[0])
        r = candidates[list(law.sources)].to_numpy(dtype=float)
    else:
        r = np.atleast_2d(np.asarray(candidates, dtype=float))
        if r.shape[1] != len(law.sources):
            raise DataError(f"candidate mixtures have {r.shape[1]} columns; the fit has "
                            f"{len(law.sources)} sources {list(law.sources)}")
    if not np.isfinite(r).all():
        raise DataError("candidate mixtures have missing or infinite values")
    law.check_inputs({s: r[:, j] for j, s in enumerate(law.sources)})
    return r


def loss_draws(fit, mixtures, *, family=None, seed: int = 0, block: int = 512) -> np.ndarray:
    """The law's loss at each mixture for each posterior draw: array ``(chain, draw, n)``.

    ``mixtures`` is a DataFrame with the fit's source columns or an array (n, K); ``family`` a
    fitted family or ``"population"`` (a new one; default the only family).
    """
    law = _require(fit)
    r = _as_mixtures(law, mixtures)
    fam = _family(fit, family)
    # a fitted family's draws, or (for "population") a new family's draws from the population
    sampled = fit.sampled_draws(fam, seed=seed)
    p = law.natural({k: np.asarray(v.values)[..., None] for k, v in sampled.items()}, np)
    shape = next(iter(sampled.values())).shape
    out = np.empty((*shape, len(r)))
    for lo in range(0, len(r), block):
        rows = slice(lo, lo + block)
        x = {s: r[rows, j] for j, s in enumerate(law.sources)}
        link = law.formula(x, p, np)
        out[..., rows] = np.exp(link) if law.positive_target else link
    return out


@dataclass
class MixtureChoice:
    """The posterior of the best mixture among candidates (see :func:`optimal_mixture`).

    Attributes
    ----------
    draws : xarray.Dataset
        ``mixture_opt`` (chain, draw, source): each draw's best candidate, a point on the
        simplex; ``loss_opt`` (chain, draw): the law's loss there; ``best`` (chain, draw): its
        index.
    candidates : pandas.DataFrame
        One row per candidate: its proportions, ``p_best`` (posterior probability that it is the
        best candidate; sums to 1), ``loss_mean``, ``loss_median``, ``loss_lower``,
        ``loss_upper`` (the law's loss, equal-tailed ``prob`` interval) and ``rank`` (1 = lowest
        expected loss).
    prob : float
    """

    draws: xr.Dataset
    candidates: pd.DataFrame
    prob: float

    @property
    def sources(self) -> list[str]:
        return [str(s) for s in self.draws["source"].values]

    @property
    def best(self) -> pd.Series:
        """The candidate most probably best (highest ``p_best``)."""
        return self.candidates.loc[self.candidates["p_best"].idxmax()]

    def table(self, prob: float | None = None) -> pd.DataFrame:
        """Per source: the posterior mean, median and equal-tailed interval of its share in the
        best mixture, and its share in the most probably best candidate."""
        from ..intervals import check_prob, describe

        prob = check_prob(self.prob if prob is None else prob)
        d = describe(self.draws["mixture_opt"], prob)
        best = self.best
        return pd.DataFrame({"source": self.sources, "share_mean": d["mean"].values,
                             "share_median": d["median"].values,
                             "share_lower": d["lower"].values, "share_upper": d["upper"].values,
                             "share_in_best": [float(best[s]) for s in self.sources]})

    def top(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` candidates most probably best."""
        return self.candidates.sort_values("p_best", ascending=False).head(n)

    def __repr__(self) -> str:
        b = self.best
        return (f"<MixtureChoice over {len(self.candidates)} candidates: best p={b['p_best']:.2f},"
                f" loss {b['loss_median']:.4g} [{b['loss_lower']:.4g}, {b['loss_upper']:.4g}]>")


def optimal_mixture(fit, candidates=None, *, family=None, n_candidates: int = 2000, prior=None,
                    include_data: bool = True, noise: bool = False, prob: float = 0.9,
                    seed: int = 0) -> MixtureChoice:
    r"""The posterior of the best data mixture of a ``mixture`` fit.

    For every posterior draw the law is evaluated at each candidate mixture and the candidate
    with the lowest loss is that draw's optimum, so the optimum's draws lie on the simplex, the
    probability that a candidate is best is the share of draws in which it wins (summing to 1
    over the candidates), and each candidate's expected loss comes with an interval. RegMix
    (Liu et al. 2024) searches the same way, over Dirichlet samples, with a point regression.

    Parameters
    ----------
    fit : bayeslaws.Fit
        A fit of the ``mixture`` law.
    candidates : DataFrame or array (n, K), optional
        The mixtures to choose from (e.g. the ones that can still be trained); each row on the
        simplex. Default: ``n_candidates`` Dirichlet draws around ``prior``
        (:func:`candidate_mixtures`) plus, with ``include_data``, the fitted mixtures.
    family : str, optional
        The validation domain (family) whose loss is minimised, or ``"population"``; default the
        fit's only family.
    n_candidates : int
        Number of random candidates when ``candidates`` is None.
    prior : array-like, optional
        Centre of the random candidates; default the mean of the fitted mixtures.
    include_data : bool
        Add the fitted mixtures to the random candidates.
    noise : bool
        False (default): the best mixture by the law's expected loss. True: the probability that
        each candidate's *run* comes out best, with the fitted run-to-run scatter (the
        likelihood's noise, independent per candidate) added to each draw; the honest question
        when a few candidates will be trained and compared, since the law's own uncertainty
        says nothing of how much real runs scatter around it.
    prob : float
        Probability of the loss intervals.
    seed : int
        Seed of the random candidates and of population draws.

    Returns
    -------
    MixtureChoice
    """
    from ..intervals import check_prob

    law = _require(fit)
    prob = check_prob(prob)
    if candidates is None:
        data = fit.data[list(law.sources)].to_numpy(dtype=float)
        centre = data.mean(axis=0) if prior is None else prior
        cand = candidate_mixtures(law.sources, n_candidates, prior=np.maximum(centre, 1e-6),
                                  seed=seed)
        if include_data:
            cand = pd.concat([cand, pd.DataFrame(data, columns=list(law.sources))],
                             ignore_index=True)
    else:
        cand = candidates
    r = _as_mixtures(law, cand)
    loss = loss_draws(fit, r, family=family, seed=seed)
    chains, draws = loss.shape[:2]
    score = loss
    if noise:
        rng = np.random.default_rng([seed, 7])
        post = fit.posterior
        sigma = post["sigma"].values[..., None]
        if law.noise["likelihood"] == "student_t":
            eps = rng.standard_t(np.broadcast_to(post["nu"].values[..., None], loss.shape))
        elif law.noise["likelihood"] == "laplace":
            eps = rng.laplace(size=loss.shape)
        else:
            eps = rng.standard_normal(loss.shape)
        score = np.log(loss) + sigma * eps if law.positive_target else loss + sigma * eps
    best = score.argmin(axis=-1)
    p_best = np.bincount(best.ravel(), minlength=len(r)) / best.size
    flat = loss.reshape(-1, len(r))
    mean = flat.mean(axis=0)
    table = pd.DataFrame(r, columns=list(law.sources))
    if isinstance(cand, pd.DataFrame):
        for col in cand.columns:
            if col not in table:
                table[col] = cand[col].to_numpy()
    table = table.assign(
        p_best=p_best, loss_mean=mean, loss_median=np.median(flat, axis=0),
        loss_lower=np.quantile(flat, (1 - prob) / 2, axis=0),
        loss_upper=np.quantile(flat, (1 + prob) / 2, axis=0),
        rank=pd.Series(mean).rank(method="min").astype(int).to_numpy())
    coords = {"chain": np.arange(chains), "draw": np.arange(draws), "source": list(law.sources)}
    ds = xr.Dataset({"mixture_opt": (("chain", "draw", "source"), r[best]),
                     "loss_opt": (("chain", "draw"), np.take_along_axis(
                         loss, best[..., None], axis=-1)[..., 0]),
                     "best": (("chain", "draw"), best)}, coords=coords)
    return MixtureChoice(ds, table, prob)


def share_curves(fit, source: str, shares, *, base=None, family=None, seed: int = 0):
    r"""Loss draws along one source's share, the others keeping their proportions of ``base``.

    At share :math:`s` of ``source`` the mixture is :math:`s` for it and
    :math:`(1 - s)\, b_i / (1 - b_j)` for the others (``base`` = :math:`b`, default the mean
    fitted mixture). Returns an array ``(chain, draw, len(shares))``.
    """
    law = _require(fit)
    if source not in law.sources:
        raise BayeslawsError(f"{source!r} is not a source of this fit: {list(law.sources)}")
    j = law.sources.index(source)
    b = (fit.data[list(law.sources)].to_numpy(dtype=float).mean(axis=0) if base is None
         else _as_mixtures(law, np.asarray(base, dtype=float)[None, :])[0])
    b = b / b.sum()
    s = np.asarray(shares, dtype=float)
    rest = np.delete(b, j)
    rest = rest / rest.sum() if rest.sum() > 0 else np.full(rest.size, 1.0 / rest.size)
    r = np.empty((s.size, len(law.sources)))
    r[:, j] = s
    r[:, np.arange(len(law.sources)) != j] = (1.0 - s)[:, None] * rest[None, :]
    return loss_draws(fit, r, family=family, seed=seed)


Mixture.fit_methods = {"optimal_mixture": optimal_mixture, "loss_draws": loss_draws,
                       "share_curves": share_curves}
