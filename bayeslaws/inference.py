"""The one sampling path of a single fit: validate, build, sample, check, wrap in a Fit.

:func:`fit_law` is what :meth:`bayeslaws.laws.Law.fit` runs (through the ``fit_law`` slot of
:mod:`bayeslaws.hooks`): numpyro NUTS through the compiled-once batched program
(:func:`bayeslaws.batch.sample_table`), nutpie or PyMC through :func:`bayeslaws.sampling.sample`;
one automatic retry at :data:`~bayeslaws.fit.RETRY_TARGET_ACCEPT` after divergences; the
convergence rule of :mod:`bayeslaws.diagnostics`. Many fits at once: :func:`bayeslaws.batch.fit_many`.
"""

from __future__ import annotations

import pandas as pd

from . import data as data_mod
from . import batch, diagnostics, hooks, laplace, parametrisation, sampling
from .errors import SpecError
from .fit import EXTRAPOLATION, RETRY_TARGET_ACCEPT, Fit
from .model import build_model, check_start

#: How :func:`fit_law` fits: NUTS (exact, the default) or the quick Laplace approximation.
METHODS = ("nuts", laplace.METHOD)


@hooks.provide("fit_law")
def fit_law(law, data, *, seed=0, draws=1000, tune=1000, chains=4, sampler="numpyro",
            target_accept=0.9, progress=False, family_column="family",
            extrapolation="backtest", dense_mass=False, float32=False, columns=None,
            family=None, loss_unit=None, scale=None, drop_missing=False,
            method="nuts") -> "Fit":
    """Fit ``law`` to ``data`` (see :meth:`bayeslaws.laws.Law.fit`)."""
    if method not in METHODS:
        raise SpecError(f"method must be one of {METHODS}, not {method!r}")
    if method == laplace.METHOD or sampler == laplace.METHOD:
        # the quick, approximate fit (a refit of a quick fit has sampler "laplace" in its config)
        return laplace.fit_laplace(law, data, seed=seed, draws=draws, chains=chains,
                                   family_column=family_column, extrapolation=extrapolation,
                                   columns=columns, family=family, loss_unit=loss_unit,
                                   scale=scale, drop_missing=drop_missing)
    if extrapolation not in EXTRAPOLATION:
        raise SpecError(f"extrapolation must be one of {EXTRAPOLATION}, not {extrapolation!r}")
    sampling.check_settings(sampler, draws=draws, tune=tune, chains=chains, float32=float32)
    law, table, source = data_mod.prepare_for_fit(
        law, data, family_column=family_column, columns=columns, family=family,
        loss_unit=loss_unit, scale=scale, drop_missing=drop_missing)
    family_column = source.family
    families = table.families
    family_idx = pd.Index(families).get_indexer(table.family)
    # partial pooling: centred or non-centred per parameter, from the data (the same model)
    forms = parametrisation.choose(law, table.x, table.y, family_idx, len(families))
    fitted_law, law = law, parametrisation.sampling_law(law, forms)
    model = None
    if sampler != "numpyro" or not batch.start_is_finite(law, table, float32=float32):
        # name bad priors or rows before the sampler fails on them; numpyro's compiled
        # log-density, finite at the start, spares this PyTensor compile (a second on a CLI fit)
        model = build_model(law, table, families, family_idx)
        check_start(model, law)
    config = {"seed": int(seed), "draws": int(draws), "tune": int(tune), "chains": int(chains),
              "sampler": sampler, "target_accept": float(target_accept),
              "family_column": family_column, "retried": False,
              "extrapolation": extrapolation, "dense_mass": bool(dense_mass),
              "float32": bool(float32), **source.to_config()}
    if forms:
        config["parametrisation"] = forms
    if sampler == "numpyro":
        # numpyro runs through the compiled-once program of bayeslaws.batch: a second fit of the
        # same law shape (other data, seed or size within its padding) does not recompile
        idata, used, report = batch.sample_table(
            law, table, seed=seed, draws=draws, tune=tune, chains=chains,
            target_accept=target_accept, progress=progress, dense_mass=dense_mass,
            float32=float32)
    else:
        idata, used, report = _sample_model(model, draws=draws, tune=tune, chains=chains,
                                            seed=seed, target_accept=target_accept,
                                            sampler=sampler, progress=progress,
                                            dense_mass=dense_mass)
    config.update(retried=used != float(target_accept), target_accept=used)
    config.update(batch.reseeded(idata))
    result = Fit(fitted_law, idata, table.frame, config, families, _fresh=True)
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
