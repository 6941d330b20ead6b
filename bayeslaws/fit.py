"""The :class:`Fit` result: posterior (ArviZ ``DataTree``), law, data and config.

``law.fit(data) -> Fit``; the law is left unchanged. A Fit summarises its parameters, predicts new
rows (:meth:`Fit.predict`), derives compute-optimal allocations (:meth:`Fit.optimal`) and saves
itself (:meth:`Fit.save`, read back with :func:`bayeslaws.load`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import data as data_mod
from . import diagnostics, hierarchy, sampling
from .io import versions as _versions
from .intervals import DEFAULT_PROB, SAMPLE_DIMS, check_prob
from .model import build_model, check_start, log_density, observed_name

#: Target acceptance used for the one automatic retry after divergences.
RETRY_TARGET_ACCEPT = 0.99
#: Extrapolation models: ``"backtest"`` (drift learned from inner backtests, the default) or None.
EXTRAPOLATION = ("backtest", None)
#: Draws x rows per block of the pointwise log-likelihood (see ``Fit._complete``): 128 MB.
LL_BLOCK = 2 ** 24


def fit_law(law, data, *, seed=0, draws=1000, tune=1000, chains=4, sampler="numpyro",
            target_accept=0.9, progress=False, family_column="family",
            extrapolation="backtest", dense_mass=False, float32=False) -> "Fit":
    """Fit ``law`` to ``data`` (see :meth:`bayeslaws.laws.Law.fit`)."""
    if extrapolation not in EXTRAPOLATION:
        from .errors import SpecError

        raise SpecError(f"extrapolation must be one of {EXTRAPOLATION}, not {extrapolation!r}")
    sampling.check_settings(sampler, draws=draws, tune=tune, chains=chains, float32=float32)
    table = data_mod.prepare(law, data, family_column=family_column)
    law = law.bind(table)  # data-relative default priors (bnsl's break range); else the same law
    families = table.families
    family_idx = pd.Index(families).get_indexer(table.family)
    model = build_model(law, table, families, family_idx)
    check_start(model, law)  # name bad priors or rows before the sampler fails on them
    config = {"seed": int(seed), "draws": int(draws), "tune": int(tune), "chains": int(chains),
              "sampler": sampler, "target_accept": float(target_accept),
              "family_column": family_column, "retried": False,
              "extrapolation": extrapolation, "dense_mass": bool(dense_mass),
              "float32": bool(float32)}
    if sampler == "numpyro":
        # numpyro runs through the compiled-once program of bayeslaws.batch: a second fit of the
        # same law shape (other data, seed or size within its padding) does not recompile
        from .batch import sample_table

        idata, used, report = sample_table(
            law, table, seed=seed, draws=draws, tune=tune, chains=chains,
            target_accept=target_accept, progress=progress, dense_mass=dense_mass,
            float32=float32)
    else:
        idata, used, report = _sample_model(model, draws=draws, tune=tune, chains=chains,
                                            seed=seed, target_accept=target_accept,
                                            sampler=sampler, progress=progress,
                                            dense_mass=dense_mass)
    config.update(retried=used != float(target_accept), target_accept=used)
    result = Fit(law, idata, table.frame, config, families, _fresh=True)
    result.convergence = diagnostics.warn_if_unconverged(report, stacklevel=4)
    return result


def _sample_model(model, *, target_accept: float, **settings) -> tuple:
    """nutpie or PyMC through ``pm.sample``: ``(DataTree, target_accept used, diagnostics)``,
    rerun once at :data:`RETRY_TARGET_ACCEPT` after divergences (as the batched path does)."""
    free = [v.name for v in model.free_RVs]
    idata = sampling.sample(model, target_accept=target_accept, **settings)
    report = diagnostics.diagnose(idata, free)
    if report["divergences"] and target_accept < RETRY_TARGET_ACCEPT:
        # One automatic retry with smaller steps before warning (divergences bias the posterior).
        target_accept = RETRY_TARGET_ACCEPT
        idata = sampling.sample(model, target_accept=target_accept, **settings)
        report = diagnostics.diagnose(idata, free)
    return idata, float(target_accept), report


class Fit:
    """A fitted law: the posterior and everything needed to use it.

    Attributes
    ----------
    law : bayeslaws.laws.Law
        The law that was fitted.
    idata : xarray.DataTree
        ArviZ 1.x tree with ``posterior`` (sampled variables plus the paper's parameters per
        family), ``sample_stats``, ``observed_data``, ``log_likelihood`` and ``fit_data``.
    data : pandas.DataFrame
        The training rows as validated (computed columns included).
    config : dict
        Sampler settings (seed, draws, tune, chains, sampler, target_accept, ...).
    families : list of str
        The fitted families, in order.
    """

    def __init__(self, law, idata, data: pd.DataFrame, config: dict, families: list[str], *,
                 _fresh: bool = False):
        self.law = law
        self.idata = idata
        self.data = data
        self.config = dict(config)
        self.families = list(families)
        self.convergence: list[str] = []
        #: Library versions that made the fit (recorded at fit time, kept through save and load).
        self.versions: dict[str, str] = _versions() if _fresh else {}
        if _fresh:
            self._complete()

    # ------------------------------------------------------------------ construction
    def _complete(self) -> None:
        """Add the paper's parameters per family and the pointwise log-likelihood."""
        post = self.idata["posterior"].to_dataset()
        sampled = hierarchy.family_draws(self.law, post, self.families)
        natural = hierarchy.natural_params(self.law, sampled)
        extra = {name: natural[name].transpose("chain", "draw", "family")
                 for name in self.law.param_names}
        self.idata["posterior"] = self.idata["posterior"].to_dataset().assign(extra)
        table = data_mod.prepare(self.law, self.data, family_column=self.config["family_column"])
        idx = pd.Index(self.families).get_indexer(table.family)
        from .predict import link_draws

        # in row blocks of about LL_BLOCK values: the law's intermediates for every draw and
        # row at once (several arrays of draws x rows) do not fit in memory at 100k rows
        n_draws = post.sizes["chain"] * post.sizes["draw"]
        step = max(1, LL_BLOCK // n_draws)
        ll = np.empty((post.sizes["chain"], post.sizes["draw"], len(table.y)))
        for lo in range(0, len(table.y), step):
            rows = slice(lo, lo + step)
            mu = link_draws(self.law, sampled, {k: v[rows] for k, v in table.x.items()}, idx[rows])
            ll[..., rows] = log_density(self.law, table.y[rows], mu, post)
        name = observed_name(self.law)
        self.idata["log_likelihood"] = xr.Dataset(
            {name: (("chain", "draw", "row"), ll)},
            coords={"chain": post["chain"], "draw": post["draw"], "row": np.arange(len(table.y))})

    # ------------------------------------------------------------------ accessors
    @property
    def posterior(self) -> xr.Dataset:
        """The posterior draws as an ``xarray.Dataset``."""
        return self.idata["posterior"].to_dataset()

    def sampled_draws(self, family: str | None = None, *, seed: int = 0) -> dict[str, xr.DataArray]:
        """Sampling-scale draws for a fitted family, or a new family's draws when not fitted."""
        if family is not None and family not in self.families:
            return hierarchy.population_draws(self.law, self.posterior, np.random.default_rng(seed))
        draws = hierarchy.family_draws(self.law, self.posterior, self.families)
        if family is None:
            return draws
        return {k: v.sel(family=family, drop=True) for k, v in draws.items()}

    def params(self, *, population: bool | None = None, seed: int = 0) -> xr.Dataset:
        """The paper's parameters per family (dims chain, draw, family).

        Parameters
        ----------
        population : bool, optional
            Append a ``population`` entry: draws of a new family's parameters. Defaults to True
            when more than one family was fitted and pooling allows it.
        """
        post = self.posterior
        ds = post[self.law.param_names]
        if population is None:
            population = len(self.families) > 1
        if population and hierarchy.has_population(self.law):
            pop = hierarchy.natural_params(
                self.law, hierarchy.population_draws(self.law, post, np.random.default_rng(seed)))
            pop_ds = xr.Dataset({n: pop[n].expand_dims(family=["population"], axis=-1)
                                 for n in self.law.param_names})
            ds = xr.concat([ds, pop_ds], dim="family")
        return ds

    def summary(self, prob: float = DEFAULT_PROB, *, population: bool | None = None) -> pd.DataFrame:
        """Parameter table: mean, sd, median, equal-tailed ``prob`` interval, R-hat and ESS.

        Rows are ``param[family]`` for the paper's parameters (and ``param[population]``, a new
        family's distribution, when several families were fitted), then the between-family
        standard deviations on the sampling scale and the noise parameters ``sigma`` and ``nu``.
        """
        import arviz as az

        prob = check_prob(prob)
        ds = self.params(population=population)
        post = self.posterior
        extra = [f"{p.sampled}_sigma" for n, p in self.law.parameters.items()
                 if self.law.pooling[n] in hierarchy.POPULATION and len(self.families) > 1]
        extra += [v for v in ("sigma", "nu") if v in post]
        ds = ds.assign({v: post[v] for v in extra})
        lo, hi = (1 - prob) / 2, (1 + prob) / 2
        rhat, ess_b, ess_t = az.rhat(ds), az.ess(ds, method="bulk"), az.ess(ds, method="tail")
        rows = []
        for name, da in ds.data_vars.items():
            others = [d for d in da.dims if d not in SAMPLE_DIMS]
            labels = [None] if not others else list(da[others[0]].values)
            for lab in labels:
                sel = {others[0]: lab} if others else {}
                v = da.sel(sel).values.ravel()
                rows.append({
                    "parameter": name if lab is None else f"{name}[{lab}]",
                    "mean": v.mean(), "sd": v.std(ddof=1), "median": np.median(v),
                    "lower": np.quantile(v, lo), "upper": np.quantile(v, hi),
                    "r_hat": float(rhat[name].sel(sel)), "ess_bulk": float(ess_b[name].sel(sel)),
                    "ess_tail": float(ess_t[name].sel(sel)),
                })
        return pd.DataFrame(rows).set_index("parameter")

    def diagnostics(self) -> dict:
        """Convergence report: worst R-hat and bulk ESS per sampled variable, divergences."""
        free = [v for v in self.posterior.data_vars if v not in self.law.param_names]
        return diagnostics.diagnose(self.idata, free)

    @property
    def discrepancy(self):
        """The extrapolation discrepancy (:class:`bayeslaws.extrapolation.Discrepancy`), or None.

        Learned on first use from leave-future-out backtests inside the training data (a few
        short refits) and kept in the fit (and in its saved file); None when the fit was made
        with ``extrapolation=None``.
        """
        from .extrapolation import Discrepancy

        if "extrapolation" in self.idata.children:
            return Discrepancy.from_dataset(self.idata["extrapolation"].to_dataset())
        if self.config.get("extrapolation", "backtest") is None:
            return None
        found = Discrepancy.learn(self)
        self.idata["extrapolation"] = found.to_dataset()
        return found

    # ------------------------------------------------------------------ uses
    def predict(self, new_data, *, seed: int = 0, discrepancy: bool = True, input_draws=None):
        """Posterior draws of the law and of new observations at each row of ``new_data``.

        See :func:`bayeslaws.predict.predict`; to feed another fit's forecasts in as an input
        (loss into a downstream-error law), use :func:`bayeslaws.chain`.
        """
        from .predict import predict

        return predict(self, new_data, seed=seed, discrepancy=discrepancy,
                       input_draws=input_draws)

    def optimal(self, flops, *, family: str | None = None, seed: int = 0, inputs=None):
        """Compute-optimal N*, D*, D*/N* and loss at a budget, as posterior draws.

        See :func:`bayeslaws.optimal.optimal`.
        """
        from .optimal import optimal

        return optimal(self, flops, family=family, seed=seed, inputs=inputs)

    def design(self, *, target, budget, candidates=None, quantity: str = "loss",
               family: str | None = None, seed: int = 0, **kwargs):
        """Rank candidate runs by expected variance reduction of a forecast per FLOP, and
        propose a set within ``budget`` (greedy sequential selection).

        See :func:`bayeslaws.design.design`.
        """
        from .design import design

        return design(self, target=target, budget=budget, candidates=candidates,
                      quantity=quantity, family=family, seed=seed, **kwargs)

    # catalogue c: the derived quantities of the capacity-gap and knowledge laws
    def optimal_teacher(self, student_params, *, family: str | None = None, seed: int = 0,
                        prob: float | None = None):
        """Optimal teacher size N_T* = r N_S and ratio r of a ``capacity-gap`` fit, as draws.

        See :func:`bayeslaws.laws.capacity_gap.optimal_teacher`; with ``prob``, the summary
        table (median and equal-tailed bounds per student) instead of the draws.
        """
        from .laws import capacity_gap

        if prob is not None:
            return capacity_gap.optimal_teacher_table(self, student_params, family=family,
                                                      seed=seed, prob=prob)
        return capacity_gap.optimal_teacher(self, student_params, family=family, seed=seed)

    def bits_per_param(self, exposures, *, family: str | None = None, seed: int = 0,
                       prob: float | None = None):
        """Capacity ratio R(e) (bits per parameter) of a ``knowledge`` fit, as draws.

        See :func:`bayeslaws.laws.knowledge.bits_per_param`; with ``prob``, the summary table
        (median and equal-tailed bounds per exposure count) instead of the draws.
        """
        from .laws import knowledge

        if prob is not None:
            return knowledge.bits_per_param_table(self, exposures, family=family, seed=seed,
                                                  prob=prob)
        return knowledge.bits_per_param(self, exposures, family=family, seed=seed)

    def density(self, data=None, *, reference: str = "population", prob: float = DEFAULT_PROB):
        """Effective parameter size and capability density per model (``densing`` fits).

        See :func:`bayeslaws.laws.densing.density_table`; the draws themselves come from
        :func:`bayeslaws.laws.densing.effective_params` and :func:`~bayeslaws.laws.densing.density`.
        """
        from .laws.densing import density_table

        return density_table(self, data, reference=reference, prob=prob)

    def densing_trend(self, data=None, **kwargs):
        """The densing law ln(rho_max) = A t + B and its doubling time, as posterior draws
        (``densing`` fits; see :func:`bayeslaws.laws.densing.densing_trend`)."""
        from .laws.densing import densing_trend

        return densing_trend(self, data, **kwargs)

    @property
    def plot(self):
        """Figures of this fit: ``fit.plot.forecast(1e24)`` or ``fit.plot("frontier")``.

        See :class:`bayeslaws.plots.FitPlots`.
        """
        from .plots import FitPlots

        return FitPlots(self)

    def save(self, path) -> None:
        """Write the fit to a netCDF file atomically (see :func:`bayeslaws.io.save`)."""
        from .io import save

        save(self, path)

    def __repr__(self) -> str:
        c = self.config
        return (f"<Fit {self.law.name}: {len(self.data)} runs, {len(self.families)} "
                f"famil{'y' if len(self.families) == 1 else 'ies'}, {c['chains']} chains x "
                f"{c['draws']} draws>")
