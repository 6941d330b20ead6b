r"""Compare fitted law forms by cross-validated predictive accuracy (PSIS-LOO, with fallbacks).

:func:`compare` ranks fits of the same rows by their expected log pointwise predictive density
(elpd), estimated with Pareto-smoothed importance sampling leave-one-out (PSIS-LOO, Vehtari et al.
2017, 2024) through ArviZ, and weighs them by stacking (Yao et al. 2018).

Scaling-law tables are small (tens to a few hundred runs) and a few runs at the edges of the grid
are often influential, so the Pareto :math:`\hat k` diagnostic of PSIS is checked for every row.
Where :math:`\hat k` exceeds the threshold the importance-sampling estimate of that row is not
trusted, and :func:`loo` falls back to

* **exact refits** of the high-:math:`\hat k` rows (``arviz.reloo``): the law is refitted without
  each such row and the row's log predictive density is computed exactly, when there are at most
  ``max_refits`` of them;
* **grouped K-fold** cross-validation (``arviz.loo_kfold``) otherwise, with folds that keep every
  run of a model size together (a fold leaves out whole sizes), for every compared fit alike so
  that the elpds stay comparable.

The log score is that of the law's likelihood: for a positive target (loss) it is the density of
:math:`\log L`, so elpds compare laws of the same target only.

The returned table is a :class:`pandas.DataFrame` indexed by fit name; more columns can be joined
beside the LOO ones through ``extrapolation=`` (e.g. leave-largest-out coverage, CRPS and absolute
relative error, one row per fit). ``table.attrs["verdict"]`` holds a plain one-line verdict and
``table.attrs["notes"]`` what was done about the diagnostics.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from .errors import BayeslawsError, ConvergenceWarning
from .progress import PROGRESS

#: Fallbacks for rows whose Pareto k is high.
FALLBACKS = ("auto", "refit", "kfold", "none")

#: Columns of the LOO part of the table, in order.
LOO_COLUMNS = ("rank", "elpd", "se", "elpd_diff", "dse", "p_worse", "p_loo", "weight", "cv",
               "k_max", "n_high_k", "diag_diff", "diag_elpd")

#: Differences in elpd smaller than this are not told apart (Sivula et al. 2025).
SMALL_DIFF = 4.0


@dataclass
class CVResult:
    """Cross-validated elpd of one fit.

    Attributes
    ----------
    elpd : arviz_stats.utils.ELPDData
        ArviZ's result, pointwise values included (``elpd_i``, ``pareto_k``).
    method : str
        How it was estimated, e.g. ``"psis-loo"``, ``"psis-loo + 2 exact refits"``,
        ``"grouped 10-fold"``.
    pareto_k : xarray.DataArray
        Pareto k of the original PSIS-LOO per row (before any refit).
    k_threshold : float
        Rows above it were not trusted to PSIS.
    notes : list of str
        What was done, and any refit that did not converge.
    """

    elpd: object
    method: str
    pareto_k: xr.DataArray
    k_threshold: float
    notes: list[str] = field(default_factory=list)

    @property
    def high_k_rows(self) -> np.ndarray:
        """Positions of the rows whose PSIS Pareto k exceeded the threshold."""
        return np.flatnonzero(self.pareto_k.values > self.k_threshold)


def pointwise_log_lik(fit, rows: pd.DataFrame) -> xr.DataArray:
    """Log likelihood of ``rows`` under each posterior draw of ``fit``, dims ``(chain, draw, row)``.

    Rows of a family the fit has not seen use population draws (as in :meth:`Fit.predict`).
    The density is that of the law's likelihood on its link scale (``log`` of a positive target).
    """
    from . import data as data_mod
    from .model import log_density

    law = fit.law
    table = data_mod.prepare(law, rows, family_column=fit.config["family_column"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unseen family: population draws, by design
        # the law alone: LOO scores interpolation (extrapolation has its own llo_* scores)
        curve = fit.predict(rows, discrepancy=False).draws[f"{law.target}_law"].values
    mu = np.log(curve) if law.positive_target else curve
    post = fit.posterior
    ll = log_density(law, table.y, mu, post)
    return xr.DataArray(ll, dims=("chain", "draw", "row"),
                        coords={"chain": post["chain"].values, "draw": post["draw"].values,
                                "row": np.arange(len(rows))})


def size_groups(fit, per_decade: int = 4) -> np.ndarray:
    """Group label of each training row by model size: bins of ``1/per_decade`` decade.

    Runs of (about) the same size fall in one group, so a grouped K-fold fold leaves out whole
    sizes. Uses ``params`` when the law has it, else its first input.
    """
    col = "params" if "params" in fit.law.inputs else fit.law.inputs[0]
    return np.floor(np.log10(fit.data[col].to_numpy(dtype=float)) * per_decade).astype(int)


def _refit_wrapper(fit, settings: dict, *, total: int | None = None, label: str = "refit",
                   progress: bool = False):
    """An ArviZ ``SamplingWrapper`` that refits ``fit.law`` without some rows.

    It counts its refits and those that raised a convergence warning (``n_refits``,
    ``n_unconverged``), which :func:`_refit_note` turns into one note. With ``progress`` each
    refit shows its sampling line, titled ``"<label>: refit k of total"``.
    """
    import arviz as az

    class _Refit(az.SamplingWrapper):
        n_refits = 0
        n_unconverged = 0

        def sel_observations(self, idx):
            mask = np.zeros(len(fit.data), dtype=bool)
            mask[np.atleast_1d(idx)] = True
            return (fit.data[~mask].reset_index(drop=True),
                    fit.data[mask].reset_index(drop=True))

        def sample(self, modified_observed_data):
            of = f" of {total}" if total else ""
            with warnings.catch_warnings(record=True) as caught, \
                    PROGRESS.titled(f"{label}: refit {self.n_refits + 1}{of}"):
                warnings.simplefilter("always", ConvergenceWarning)
                refit = fit.law.fit(modified_observed_data, progress=progress, **settings)
            self.n_refits += 1
            if any(issubclass(w.category, ConvergenceWarning) for w in caught):
                self.n_unconverged += 1
            return refit

        def get_inference_data(self, fitted_model):
            return fitted_model

        def log_likelihood__i(self, excluded_obs, idata__i):
            return pointwise_log_lik(idata__i, excluded_obs)

    return _Refit(model=fit.law, idata_orig=fit.idata)


def _refit_note(wrapper, settings: dict) -> list[str]:
    if not wrapper.n_unconverged:
        return []
    return [f"{wrapper.n_unconverged} of {wrapper.n_refits} refits ({settings['chains']} chains x "
            f"{settings['draws']} draws) warned of poor convergence; raise refit draws for "
            "firmer numbers"]


def _refit_settings(fit, refit: dict | None) -> dict:
    from .sampling import SETTINGS

    keys = (*SETTINGS, "family_column")
    settings = {k: fit.config[k] for k in keys if k in fit.config}
    settings.update(refit or {})
    return settings


def loo(fit, *, k_threshold: float | None = None, fallback: str = "auto", max_refits: int = 10,
        folds: int = 10, refit: dict | None = None, seed: int = 0, progress: bool = False,
        label: str = "compare") -> CVResult:
    """Cross-validated elpd of one fit: PSIS-LOO, with exact refits or K-fold where k is high.

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
    k_threshold : float, optional
        Pareto k above which a row's PSIS estimate is not trusted. Defaults to ArviZ's
        ``min(1 - 1/log10(S), 0.7)`` for S posterior draws.
    fallback : {"auto", "refit", "kfold", "none"}
        For high-k rows: ``"refit"`` refits the law once per such row (exact LOO for those rows);
        ``"kfold"`` replaces PSIS-LOO by grouped K-fold over model sizes; ``"auto"`` refits when
        there are at most ``max_refits`` such rows and uses K-fold otherwise; ``"none"`` keeps
        PSIS-LOO and says so in the notes.
    max_refits : int
        Most exact refits ``"auto"`` will run before switching to K-fold.
    folds : int
        K of the K-fold (capped at the number of size groups).
    refit : dict, optional
        Sampler settings of the refits (``draws``, ``tune``, ``chains``, ...); by default those of
        ``fit`` itself.
    seed : int
        Seed of the fold assignment.
    progress : bool
        Show each refit's progress line, titled ``label``.
    label : str
        What the progress line names (e.g. the fit being scored).

    Returns
    -------
    CVResult

    Raises
    ------
    BayeslawsError
        For an unknown ``fallback`` or a fit without a log likelihood.
    """
    import arviz as az

    if fallback not in FALLBACKS:
        raise BayeslawsError(f"fallback must be one of {', '.join(FALLBACKS)}, not {fallback!r}")
    result = _psis(fit, k_threshold)
    n_high = len(result.high_k_rows)
    if n_high == 0:
        return result
    what = f"{n_high} of {len(fit.data)} rows have Pareto k > {result.k_threshold:.2f}"
    if fallback == "none":
        result.notes.append(f"{what}: their PSIS-LOO terms are unreliable and left as they are")
        warnings.warn(f"{what}: PSIS-LOO may be optimistic for this fit; use fallback='auto' for "
                      "exact refits or grouped K-fold", UserWarning, stacklevel=2)
        return result
    if fallback == "refit" or (fallback == "auto" and n_high <= max_refits):
        settings = _refit_settings(fit, refit)
        wrapper = _refit_wrapper(fit, settings, total=n_high, label=f"{label}, exact LOO",
                                 progress=progress)
        result.elpd = az.reloo(wrapper, loo_orig=result.elpd, k_threshold=result.k_threshold,
                               pointwise=True)
        result.method = f"psis-loo + {n_high} exact refit{'s' if n_high > 1 else ''}"
        result.notes = [f"{what}: refitted without each of them (exact LOO for those rows)",
                        *_refit_note(wrapper, settings)]
        return result
    return kfold(fit, folds=folds, refit=refit, seed=seed, reason=what, k_result=result,
                 progress=progress, label=label)


def _psis(fit, k_threshold: float | None) -> CVResult:
    """Plain PSIS-LOO of ``fit``, pointwise, with the threshold resolved."""
    import arviz as az

    fit.log_likelihood()  # computed now if the fit has not needed it before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the high-k warning is handled by the caller, row by row
        psis = az.loo(fit.idata, pointwise=True)
    threshold = psis.good_k if k_threshold is None else float(k_threshold)
    return CVResult(psis, "psis-loo", psis.pareto_k.copy(), threshold)


def kfold(fit, *, folds: int = 10, refit: dict | None = None, seed: int = 0,
          reason: str | None = None, k_result: CVResult | None = None, progress: bool = False,
          label: str = "compare") -> CVResult:
    """Grouped K-fold elpd of one fit: each fold leaves out whole model sizes.

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
    folds : int
        Number of folds (capped at the number of size groups, see :func:`size_groups`).
    refit : dict, optional
        Sampler settings of the refits; by default those of ``fit``.
    seed : int
        Seed of the fold assignment.
    reason : str, optional
        Why K-fold was used (kept in the notes).
    k_result : CVResult, optional
        A PSIS-LOO result whose Pareto k values are kept for reporting.
    """
    import arviz as az

    if k_result is None:
        k_result = _psis(fit, None)
    groups = size_groups(fit)
    k = int(min(folds, len(np.unique(groups))))
    if k < 2:
        raise BayeslawsError("grouped K-fold needs runs of at least two model sizes")
    settings = _refit_settings(fit, refit)
    wrapper = _refit_wrapper(fit, settings, total=k, label=f"{label}, {k}-fold",
                             progress=progress)
    elpd = az.loo_kfold(fit.idata, wrapper, pointwise=True, k=k, group_by=groups, seed=seed)
    head = f"{reason}: " if reason else ""
    notes = [f"{head}grouped {k}-fold cross-validation used (folds keep each model size "
             "together)", *_refit_note(wrapper, settings)]
    return CVResult(elpd, f"grouped {k}-fold", k_result.pareto_k, k_result.k_threshold, notes)


def _check_fits(fits: dict) -> None:
    if not isinstance(fits, dict) or len(fits) < 2:
        raise BayeslawsError("compare needs a dict of at least two fits: {name: fit, ...}")
    targets = {f.law.target for f in fits.values()}
    rows = {len(f.data) for f in fits.values()}
    if len(targets) > 1 or len(rows) > 1:
        raise BayeslawsError("fits must share the target and the data rows to be compared by LOO "
                             f"(targets {sorted(targets)}, row counts {sorted(rows)})")
    first = next(iter(fits.values())).data
    target = next(iter(fits.values())).law.target
    for name, f in fits.items():
        if not np.allclose(f.data[target].to_numpy(dtype=float), first[target].to_numpy(dtype=float)):
            raise BayeslawsError(f"fit {name!r} was fitted to other rows than the first fit (the "
                                 f"{target} column differs); compare fits of the same table")


def verdict(table: pd.DataFrame) -> str:
    """One plain sentence on what a :func:`compare` table says."""
    best = table.index[0]
    w = table["weight"]
    if len(table) < 2:
        return f"only {best} was compared"
    second = table.index[1]
    diff, dse = -table.loc[second, "elpd_diff"], table.loc[second, "dse"]
    weights = ", ".join(f"{n} {w[n]:.2f}" for n in table.index)
    if diff < SMALL_DIFF or diff < 2 * dse:
        head = (f"{best} and {second} predict left-out runs about equally well (elpd difference "
                f"{diff:.1f} ± {dse:.1f}); keep both or average them")
    else:
        head = (f"{best} predicts left-out runs best: elpd higher than {second} by {diff:.1f} "
                f"± {dse:.1f}")
    return f"{head}; stacking weights {weights}."


def extrapolation_scores(fits: dict, *, holdout: float = 0.15, seed: int = 0,
                         progress: bool = False) -> pd.DataFrame:
    """Leave-largest-out scores of each fit (one refit per fit), prefixed ``llo_``.

    See :func:`bayeslaws.extrapolation.leave_largest_out`: coverage of the 50/80/90% intervals,
    CRPS of log target (x100), median absolute relative error and 90% width on the largest
    ``holdout`` share of runs, forecast from a refit on the rest.
    """
    from .extrapolation import leave_largest_out

    rows = {}
    for k, (name, fit) in enumerate(fits.items()):
        with PROGRESS.titled(f"compare: leave-largest-out {k + 1} of {len(fits)} ({name})"):
            rows[name] = leave_largest_out(fit, holdout=holdout, seed=seed, progress=progress)
    table = pd.DataFrame(rows).T
    return table.rename(columns=lambda c: f"llo_{c}")


def holdout_scores(fits: dict, rows: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    r"""Scores of each fit's forecasts of given held-out rows (no refit), prefixed ``ho_``.

    For a split that the data fixes in advance (the later part of each learning curve in the
    Revisiting benchmark, the largest models of a ladder), each fit predicts ``rows`` as it
    stands and is scored there:

    * ``ho_elpd``: the held-out log predictive density, :math:`\sum_i \log \frac1S \sum_s
      p(y_i \mid \theta_s)`, of the law's likelihood (the density of :math:`\log y` for a
      positive target, as LOO), higher is better;
    * ``ho_rmse_log``: root mean squared error of the log of the median law curve,
      :math:`\sqrt{\mathrm{mean}_i (\log \hat y_i - \log y_i)^2}`, the point error the Revisiting
      paper scores (its code averages the squared log errors);
    * ``ho_abs_rel_err``, ``ho_crps_log``, ``ho_coverage_50/80/90``, ``ho_width_90``, ``ho_rows``:
      :func:`bayeslaws.scores.score_table` of the posterior predictive (with the extrapolation
      discrepancy when the fit learned one).

    Parameters
    ----------
    fits : dict
        ``{name: Fit}``.
    rows : pandas.DataFrame
        The held-out rows, with the target and the fits' inputs (and ``family``).
    seed : int
        Seed of the predictive draws.
    """
    from .scores import score_table

    if not isinstance(rows, pd.DataFrame) or len(rows) == 0:
        raise BayeslawsError("held-out rows must be a non-empty DataFrame with the target column")
    out = {}
    for name, fit in fits.items():
        target = fit.law.target
        if target not in rows:
            raise BayeslawsError(f"held-out rows lack the target column {target!r} of fit {name!r}")
        if not fit.law.positive_target:
            raise BayeslawsError("held-out scores are defined for positive targets "
                                 f"(fit {name!r} models {target!r} in levels)")
        frame = rows.reset_index(drop=True)
        y = frame[target].to_numpy(dtype=float)
        ll = pointwise_log_lik(fit, frame).values.reshape(-1, len(frame))
        elpd_i = np.logaddexp.reduce(ll, axis=0) - np.log(ll.shape[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # beyond the data, by design
            pred = fit.predict(frame, seed=seed)
        curve = pred.draws[f"{target}_law"].values.reshape(-1, len(frame))
        samples = pred.predictive.values.reshape(-1, len(frame))
        scores = {"elpd": float(elpd_i.sum()),
                  "rmse_log": float(np.sqrt(np.mean((np.log(np.median(curve, axis=0))
                                                     - np.log(y)) ** 2)))}
        scores |= score_table(samples, y)
        out[name] = scores
    table = pd.DataFrame(out).T
    return table.rename(columns=lambda c: f"ho_{c}")


def compare(fits: dict, *, extrapolation: pd.DataFrame | bool | None = True,
            k_threshold: float | None = None, fallback: str = "auto", max_refits: int = 10,
            folds: int = 10, refit: dict | None = None, seed: int = 0,
            method: str = "stacking", holdout: pd.DataFrame | None = None,
            progress: bool = False) -> pd.DataFrame:
    """Rank fits of the same rows by cross-validated elpd, with diagnostics and stacking weights.

    Parameters
    ----------
    fits : dict
        ``{name: Fit}``; all fitted to the same rows and target.
    extrapolation : pandas.DataFrame or bool, optional
        ``True`` (default): add leave-largest-out scores (:func:`extrapolation_scores`: one refit per fit
        on all but the largest 15% of runs, scored on those; columns ``llo_*``), the test that
        matters for forecasting, which PSIS-LOO (interpolation) is not. A DataFrame: more scores
        per fit (index: the names of ``fits``), joined as extra columns beside the LOO ones.
        ``False`` or None: LOO only.
    k_threshold, fallback, max_refits, folds, refit, seed
        How high Pareto k rows are handled (see :func:`loo`). When any fit needs K-fold, every
        fit is scored by the same grouped K-fold, so that the elpds stay comparable.
    method : {"stacking", "bb-pseudo-bma", "pseudo-bma"}
        How ArviZ weighs the fits.
    holdout : pandas.DataFrame, optional
        Held-out rows fixed in advance (e.g. the later part of each learning curve): every fit
        forecasts them without a refit and the ``ho_*`` scores of :func:`holdout_scores` are
        joined (held-out elpd, RMSE of log, coverage, CRPS ...), and the verdict names the best.
    progress : bool
        Show a progress line for every refit (exact LOO, K-fold, leave-largest-out and its
        backtests), titled with the fit and the step, e.g. ``compare: kaplan, 10-fold: refit 3
        of 10``.

    Returns
    -------
    pandas.DataFrame
        One row per fit, best first. Columns: ``rank``, ``elpd``, ``se`` (its standard error),
        ``elpd_diff`` and ``dse`` (difference to the best and its standard error), ``p_worse``,
        ``p_loo`` (effective number of parameters), ``weight``, ``cv`` (how the elpd was
        estimated), ``k_max`` and ``n_high_k`` (PSIS Pareto k diagnostics before any fallback),
        ArviZ's ``diag_diff`` and ``diag_elpd``, then any ``extrapolation`` columns.
        ``attrs["verdict"]`` is a one-line verdict, ``attrs["notes"]`` the diagnostics notes.

    Raises
    ------
    BayeslawsError
        With fewer than two fits, fits of different rows or targets, or ``extrapolation`` rows that
        do not match the fit names.
    """
    import arviz as az

    _check_fits(fits)
    if fallback not in FALLBACKS:
        raise BayeslawsError(f"fallback must be one of {', '.join(FALLBACKS)}, not {fallback!r}")
    results = {name: _psis(f, k_threshold) for name, f in fits.items()}
    needs = {n: r for n, r in results.items() if len(r.high_k_rows)}
    many = any(len(r.high_k_rows) > max_refits for r in needs.values())
    if needs and (fallback == "kfold" or (fallback == "auto" and many)):
        # one estimator for all fits, so that the elpds stay comparable
        reason = "; ".join(f"{n}: {len(r.high_k_rows)} rows with Pareto k > "
                           f"{r.k_threshold:.2f}" for n, r in needs.items())
        results = {n: kfold(f, folds=folds, refit=refit, seed=seed, k_result=results[n],
                            progress=progress, label=f"compare: {n}")
                   for n, f in fits.items()}
        head = [f"{reason}: every fit scored by the same grouped K-fold cross-validation instead "
                "(folds keep each model size together)"]
        for r in results.values():
            r.notes = r.notes[1:]
    else:
        head = []
        results = {n: loo(f, k_threshold=k_threshold, fallback=fallback, max_refits=max_refits,
                          progress=progress, label=f"compare: {n}",
                          refit=refit) if n in needs else results[n]
                   for n, f in fits.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = az.compare({n: r.elpd for n, r in results.items()}, method=method, round_to="none")
    table = pd.DataFrame(index=cmp.index)
    table["rank"] = cmp["rank"].astype(int)
    for col in ("elpd", "se", "elpd_diff", "dse", "p_worse"):
        table[col] = cmp[col].astype(float)
    table["p_loo"] = cmp["p"].astype(float)
    table["weight"] = cmp["weight"].astype(float)
    table["cv"] = [results[n].method for n in table.index]
    table["k_max"] = [float(results[n].pareto_k.max()) for n in table.index]
    table["n_high_k"] = [len(results[n].high_k_rows) for n in table.index]
    table["diag_diff"] = cmp["diag_diff"].astype(str)
    table["diag_elpd"] = cmp["diag_elpd"].astype(str)
    if extrapolation is True:
        extrapolation = extrapolation_scores(fits, seed=seed, progress=progress)
    if extrapolation is not None and extrapolation is not False:
        table = join_scores(table, extrapolation)
    if holdout is not None:
        table = join_scores(table, holdout_scores(fits, holdout, seed=seed))
    notes = head + [f"{n}: {note}" for n, r in results.items() for note in r.notes]
    line = verdict(table) + _score_sentences(table)
    table.attrs = {"verdict": line, "notes": notes}
    return table


def _score_sentences(table: pd.DataFrame, name=str) -> str:
    """The held-out and leave-largest-out sentences of the verdict (empty without those
    columns); ``name`` maps a fit's index label to how the sentence names it."""
    line = ""
    if "ho_elpd" in table:
        best = table["ho_elpd"].astype(float).idxmax()
        err = ", ".join(f"{name(n)} {table.loc[n, 'ho_rmse_log']:.3g}" for n in table.index)
        line += (f" On the {int(table.loc[best, 'ho_rows'])} held-out rows, {name(best)} has the "
                 f"highest log predictive density ({table.loc[best, 'ho_elpd']:.1f}); RMSE of "
                 f"log: {err}.")
    if "llo_crps_log" in table:
        best = table["llo_crps_log"].astype(float).idxmin()
        cov = ", ".join(f"{name(n)} {table.loc[n, 'llo_coverage_90']:.0%}" for n in table.index)
        line += (f" Forecasting the largest 15% of runs from the rest, {name(best)} scores best "
                 f"(CRPS {table.loc[best, 'llo_crps_log']:.3g}); 90% intervals cover {cov}.")
    return line


def _namer(table: pd.DataFrame, short: dict | None):
    """Name fits by ``short`` (e.g. the law's name) where those names are unique, else by the
    table's labels."""
    short = dict(short or {})
    names = [short.get(n, n) for n in table.index]
    if len(set(names)) < len(names):
        return str
    return lambda n: str(short.get(n, n))


def plain_verdict(table: pd.DataFrame, short: dict | None = None) -> str:
    """The verdict of a :func:`compare` table in plain words, each other fit against the best.

    E.g. "chinchilla predicts left-out runs best; kaplan is worse by 12.3 ± 4.1 elpd
    (clearly)". A difference is clear when it is at least :data:`SMALL_DIFF` and twice its
    standard error (Sivula et al. 2025), as in :func:`verdict`. ``short`` names the fits
    (``{label: name}``, e.g. the law's name) where those names are unique.
    """
    name = _namer(table, short)
    best = table.index[0]
    if len(table) < 2:
        return f"only {name(best)} was compared"

    def worse(n) -> tuple[str, bool]:
        diff = max(-float(table.loc[n, "elpd_diff"]), 0.0) + 0.0  # + 0.0: never "-0.0"
        dse = float(table.loc[n, "dse"])
        clear = diff >= SMALL_DIFF and diff >= 2 * dse
        text = (f"{name(n)} is worse by {diff:.1f} ± {dse:.1f} elpd "
                f"({'clearly' if clear else 'within noise'})")
        return text, clear

    parts = [worse(n) for n in table.index[1:]]
    if parts[0][1]:
        head = f"{name(best)} predicts left-out runs best"
    else:
        head = (f"no clear winner: {name(best)} ranks first but {name(table.index[1])} predicts "
                "left-out runs about as well (keep both or average them)")
    return "; ".join([head, *(text for text, _ in parts)]) + "." + _score_sentences(table, name)


def brief_table(table: pd.DataFrame) -> pd.DataFrame:
    """A compact, readable view of a :func:`compare` table (what ``bayeslaws compare`` prints
    by default): rank from 1, elpd and its difference to the best as "value ± se", the stacking
    weight, how the elpd was estimated and how many rows PSIS did not trust, then the
    leave-largest-out and held-out scores when present. The full table is unchanged."""
    out = pd.DataFrame(index=table.index)
    out["rank"] = table["rank"].astype(int) + 1
    out["elpd"] = [f"{e:.1f} ± {s:.1f}" for e, s in zip(table["elpd"], table["se"])]
    out["vs best"] = ["best" if i == 0 else f"{min(d, 0.0) + 0.0:.1f} ± {s:.1f}"
                      for i, (d, s) in enumerate(zip(table["elpd_diff"], table["dse"]))]
    out["weight"] = [f"{w:.2f}" for w in table["weight"]]
    checks = []
    for method, high in zip(table["cv"], table["n_high_k"]):
        if int(high) == 0:
            checks.append(f"{method}, all rows ok")
        elif method == "psis-loo":
            checks.append(f"psis-loo, {int(high)} rows unreliable (Pareto k)")
        else:
            checks.append(f"{method} ({int(high)} high-k rows)")
    out["estimated by"] = checks
    if "llo_coverage_90" in table:
        out["largest 15%: 90% cover"] = [f"{v:.0%}" for v in table["llo_coverage_90"].astype(float)]
        out["CRPS"] = [f"{v:.3g}" for v in table["llo_crps_log"].astype(float)]
    if "ho_elpd" in table:
        out["held-out elpd"] = [f"{v:.1f}" for v in table["ho_elpd"].astype(float)]
        out["held-out RMSE(log)"] = [f"{v:.3g}" for v in table["ho_rmse_log"].astype(float)]
    return out


def join_scores(table: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Join more per-fit scores (index: fit names) beside the LOO columns of a compare table.

    Raises
    ------
    BayeslawsError
        When the index of ``scores`` is not the set of compared fits, or a column name clashes.
    """
    if not isinstance(scores, pd.DataFrame):
        raise BayeslawsError("extrapolation scores must be a DataFrame indexed by fit name")
    missing = sorted(set(table.index) - set(scores.index))
    extra = sorted(set(scores.index) - set(table.index))
    if missing or extra:
        raise BayeslawsError(f"extrapolation scores must have one row per compared fit; missing "
                             f"{missing}, unknown {extra}")
    clash = sorted(set(scores.columns) & set(table.columns))
    if clash:
        raise BayeslawsError(f"extrapolation columns {clash} clash with the LOO columns; rename "
                             "them")
    attrs = dict(table.attrs)
    out = table.join(scores, how="left")
    out.attrs = attrs
    return out
