"""The :class:`Fit` result: posterior (ArviZ ``DataTree``), law, data and config.

``law.fit(data) -> Fit``; the law is left unchanged. A Fit summarises its parameters, predicts new
rows (:meth:`Fit.predict`), derives compute-optimal allocations (:meth:`Fit.optimal`) and saves
itself (:meth:`Fit.save`, read back with :func:`bayeslaws.load`).

Layer: the generic result. It stands on the laws, the data and the model (for the pointwise
log-likelihood) and knows no law in particular: a law's own derived quantities
(``fit.optimal_teacher``, ``fit.bits_per_param``, ``fit.density`` ...) come from the law's
:attr:`~bayeslaws.laws.Law.fit_methods`. The uses that live in layers above it (forecasts,
allocations, the extrapolation discrepancy, figures, saving) are reached through the slots of
:mod:`bayeslaws.hooks`, which those modules fill when ``bayeslaws`` is imported.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from . import data as data_mod
from . import convergence, diagnostics, hierarchy, hooks
from ._version import versions as _versions
from .intervals import DEFAULT_PROB, SAMPLE_DIMS, check_prob
from .laws.registry import _REGISTRY
from .model import link_draws, log_density, observed_name

#: Target acceptance used for the one automatic retry after divergences.
RETRY_TARGET_ACCEPT = 0.99
#: Extrapolation models: ``"backtest"`` (drift learned from inner backtests, the default) or None.
EXTRAPOLATION = ("backtest", None)
#: Draws x rows per block of the pointwise log-likelihood (see ``Fit._complete``): 128 MB.
LL_BLOCK = 2 ** 24


def approximate_note(fit) -> str | None:
    """One line saying that ``fit`` is approximate (a quick Laplace fit,
    :mod:`bayeslaws.laplace`), or None for a sampled (NUTS) fit: the label the repr, summary,
    CLI, report and figures of a quick fit carry."""
    if fit.config.get("method") != "laplace":
        return None
    k = (fit.config.get("laplace") or {}).get("khat")
    k = f", Pareto k {k:.2f}" if isinstance(k, (int, float)) else ""
    if (fit.config.get("laplace") or {}).get("hierarchical"):
        k += "; several pooled families: family-level intervals unreliable"
    return (f"approximate (Laplace) fit: a Gaussian at the posterior mode, not NUTS{k}; "
            "intervals can be too narrow or misplaced for skewed posteriors (between-family "
            "scales, sparse data); refit without --quick (method='nuts') for final numbers")


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
        """Add the paper's parameters per family (the pointwise log-likelihood waits until
        something asks for it: :meth:`log_likelihood`)."""
        post = self.idata["posterior"].to_dataset()
        sampled = hierarchy.family_draws(self.law, post, self.families)
        natural = hierarchy.natural_params(self.law, sampled)
        extra = {name: natural[name].transpose("chain", "draw", "family")
                 for name in self.law.param_names}
        self.idata["posterior"] = post.assign(extra)

    def log_likelihood(self) -> xr.Dataset:
        """Pointwise log-likelihood of the training rows under each draw, dims
        ``(chain, draw, row)``: what PSIS-LOO, :func:`bayeslaws.compare` and the report use.

        Computed on first use, in row blocks of about :data:`LL_BLOCK` values (the law's
        intermediates for every draw and row at once do not fit in memory at 100k rows), and
        kept in ``idata["log_likelihood"]``; a fit that never needs it never pays for it (4,000
        draws x 100,000 rows are 3.2 GB). :meth:`save` writes it only when asked to.
        """
        if "log_likelihood" not in self.idata.children:
            post = self.idata["posterior"].to_dataset()
            sampled = hierarchy.family_draws(self.law, post, self.families)
            with warnings.catch_warnings():  # prepare warned when the data were fitted
                warnings.simplefilter("ignore", UserWarning)
                table = data_mod.prepare(self.law, self.data,
                                         family_column=self.config["family_column"])
            idx = pd.Index(self.families).get_indexer(table.family)
            n_draws = post.sizes["chain"] * post.sizes["draw"]
            step = max(1, LL_BLOCK // n_draws)
            ll = np.empty((post.sizes["chain"], post.sizes["draw"], len(table.y)))
            for lo in range(0, len(table.y), step):
                rows = slice(lo, lo + step)
                mu = link_draws(self.law, sampled, {k: v[rows] for k, v in table.x.items()},
                                idx[rows])
                ll[..., rows] = log_density(self.law, table.y[rows], mu, post)
            self.idata["log_likelihood"] = xr.Dataset(
                {observed_name(self.law): (("chain", "draw", "row"), ll)},
                coords={"chain": post["chain"], "draw": post["draw"],
                        "row": np.arange(len(table.y))})
        return self.idata["log_likelihood"].to_dataset()

    # ------------------------------------------------------------------ accessors
    @property
    def posterior(self) -> xr.Dataset:
        """The posterior draws as an ``xarray.Dataset``."""
        return self.idata["posterior"].to_dataset()

    def sampled_draws(self, family: str | None = None, *, seed: int = 0) -> dict[str, xr.DataArray]:
        """Sampling-scale draws for a fitted family, or a new family's draws when not fitted."""
        if family is not None and family not in self.families:
            return hierarchy.new_family_draws(self.law, self.posterior, seed)
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
                self.law, hierarchy.new_family_draws(self.law, post, seed))
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
        prob = check_prob(prob)
        ds = self.params(population=population)
        post = self.posterior
        extra = [f"{p.sampled}_sigma" for n, p in self.law.parameters.items()
                 if self.law.pooling[n] in hierarchy.POPULATION and len(self.families) > 1]
        extra += [v for v in ("sigma", "nu") if v in post]
        ds = ds.assign({v: post[v] for v in extra})
        lo, hi = (1 - prob) / 2, (1 + prob) / 2
        # ArviZ's R-hat, bulk and tail ESS (NumPy, bayeslaws.convergence: no ArviZ import)
        rhat, ess_b = convergence.rhat(ds), convergence.ess(ds, method="bulk")
        ess_t = convergence.ess(ds, method="tail")
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
        table = pd.DataFrame(rows).set_index("parameter")
        note = approximate_note(self)
        if note:  # independent Gaussian draws: R-hat and ESS say nothing; label every row
            table[["r_hat", "ess_bulk", "ess_tail"]] = np.nan
            table["method"] = "laplace"
            table.attrs["note"] = note
        return table

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
        return hooks.require("discrepancy")(self)

    # ------------------------------------------------------------------ uses
    def predict(self, new_data, *, seed: int = 0, discrepancy: bool = True, input_draws=None,
                new_families=None):
        """Posterior draws of the law and of new observations at each row of ``new_data``.

        See :func:`bayeslaws.predict.predict`; to feed another fit's forecasts in as an input
        (loss into a downstream-error law), use :func:`bayeslaws.chain`.
        """
        return hooks.require("predict")(self, new_data, seed=seed, discrepancy=discrepancy,
                                        input_draws=input_draws, new_families=new_families)

    def optimal(self, flops, *, family: str | None = None, seed: int = 0, inputs=None,
                discrepancy: bool = True):
        """Compute-optimal N*, D*, D*/N* and loss at a budget, as posterior draws (the loss
        with the extrapolation discrepancy beyond the data, as ``predict``).

        See :func:`bayeslaws.optimal.optimal`.
        """
        return hooks.require("optimal")(self, flops, family=family, seed=seed, inputs=inputs,
                                        discrepancy=discrepancy)

    def design(self, *, target, budget, candidates=None, quantity: str = "loss",
               family: str | None = None, seed: int = 0, **kwargs):
        """Rank candidate runs by expected variance reduction of a forecast per FLOP, and
        propose a set within ``budget`` (greedy sequential selection).

        See :func:`bayeslaws.design.design`.
        """
        return hooks.require("design")(self, target=target, budget=budget,
                                       candidates=candidates, quantity=quantity, family=family,
                                       seed=seed, **kwargs)

    # ------------------------------------------------------------------ a law's own quantities
    def __getattr__(self, name: str):
        """A quantity the fitted law derives (:attr:`bayeslaws.laws.Law.fit_methods`), e.g.
        ``fit.optimal_teacher(1e9)`` of a capacity-gap fit or ``fit.density()`` of a densing
        fit, bound to this fit."""
        if name.startswith("__") or "law" not in self.__dict__:
            raise AttributeError(name)
        methods = type(self.law).fit_methods
        if name in methods:
            return functools.partial(methods[name], self)
        owners = sorted(law for law, cls in _REGISTRY.items() if name in cls.fit_methods)
        hint = (f"; it belongs to fits of {', '.join(owners)}" if owners else "")
        have = f" (this {self.law.name} fit has: {', '.join(methods)})" if methods else ""
        raise AttributeError(f"{type(self).__name__!s} of law {self.law.name!r} has no "
                             f"attribute {name!r}{hint}{have}")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(type(self.law).fit_methods))

    @property
    def plot(self):
        """Figures of this fit: ``fit.plot.forecast(1e24)`` or ``fit.plot("frontier")``.

        See :class:`bayeslaws.plots.FitPlots`.
        """
        return hooks.require("plots")(self)

    def save(self, path, *, log_likelihood: bool = False) -> None:
        """Write the fit to a netCDF file atomically (see :func:`bayeslaws.io.save`).

        ``log_likelihood=True`` also writes the pointwise log-likelihood (draws x rows; by
        default it is left out and recomputed, identically, when a loaded fit needs it).
        """
        hooks.require("save")(self, path, log_likelihood=log_likelihood)

    def __repr__(self) -> str:
        c = self.config
        return (f"<Fit {self.law.name}: {len(self.data)} runs, {len(self.families)} "
                f"famil{'y' if len(self.families) == 1 else 'ies'}, {c['chains']} chains x "
                f"{c['draws']} draws"
                + (" (approximate: Laplace)" if approximate_note(self) else "") + ">")

