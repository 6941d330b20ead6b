"""Build the PyMC model of a law on a run table: hierarchical priors, formula, robust likelihood.

The likelihood is Student-t on the link scale (log of a positive target) by default:
``log y ~ StudentT(nu, mu = log f(x; theta_family), sigma)``, with
``sigma ~ HalfNormal(sigma_scale)`` and ``nu ~ Gamma(2, 0.1)`` (Juarez & Steel 2010), truncated to
``nu >= nu_min`` when the law's noise sets ``nu_min`` (``nu_min: 1`` rules out tails heavier than
Cauchy, in which a chain can "explain" a misfitted curve as outliers and stick). A law may
choose ``normal`` or ``laplace`` (median regression, what a Huber fit with a tiny delta amounts to).
"""

from __future__ import annotations

import warnings

import numpy as np

from . import hierarchy, precondition


def observed_name(law) -> str:
    """Name of the observed variable (``log_loss`` for a positive ``loss`` target)."""
    return f"log_{law.target}" if law.positive_target else law.target


def build_model(law, table, families: list[str], family_idx: np.ndarray, affine=None):
    """Return the PyMC model of ``law`` for the validated ``table``.

    Parameters
    ----------
    law : bayeslaws.laws.Law
    table : bayeslaws.data.RunTable
        Must carry the target (``table.y``).
    families : list of str
        Family labels (the ``family`` coordinate).
    family_idx : numpy.ndarray
        Index into ``families`` of each row.
    affine : tuple (c, L), optional
        The per-family maps of centred parameters (:mod:`bayeslaws.precondition`); computed from
        ``table`` when it holds data, given as symbolic inputs by :mod:`bayeslaws.batch`;
        ``False``: plain centred normals.
    """
    import pymc as pm
    import pytensor.tensor as pt

    # symbolic data (``bayeslaws.batch``: one compiled program for many tables) has no row coord
    symbolic = not isinstance(table.y, np.ndarray)
    coords = {"family": list(families)} | ({} if symbolic else {"row": np.arange(len(table.y))})
    dims = None if symbolic else "row"
    with pm.Model(coords=coords) as model:
        centred = precondition.centred_names(law, len(families))
        if affine is None and centred and not symbolic:
            affine = precondition.affine_maps(law, table.x, table.y, family_idx, len(families),
                                              centred, precondition.conditioned_names(
                                                  law, len(families)) or None)
        theta = hierarchy.build_params(law, families, affine=affine or None)
        rows = {name: value[family_idx] for name, value in theta.items()}
        mu = law.formula(table.x, law.natural(rows, pt), pt)
        sigma = pm.HalfNormal("sigma", law.noise["sigma_scale"])
        if law.noise["likelihood"] == "student_t":
            nu_min = float(law.noise.get("nu_min", 0.0))
            if nu_min > 0:  # Gamma(2, 0.1) truncated below: no near-improper tails
                nu = pm.Truncated("nu", pm.Gamma.dist(2.0, 0.1), lower=nu_min)
            else:
                nu = pm.Gamma("nu", 2.0, 0.1)
            pm.StudentT(observed_name(law), nu=nu, mu=mu, sigma=sigma, observed=table.y, dims=dims)
        elif law.noise["likelihood"] == "laplace":
            pm.Laplace(observed_name(law), mu=mu, b=sigma, observed=table.y, dims=dims)
        else:
            pm.Normal(observed_name(law), mu=mu, sigma=sigma, observed=table.y, dims=dims)
    return model


def _prior_owner(law, var_name: str) -> str:
    """The user's setting behind a model variable: a parameter's prior or the noise prior."""
    for prm in law.parameters.values():
        if var_name == prm.sampled or var_name.startswith(prm.sampled + "_"):
            return (f"prior of parameter {prm.name!r} (loc={prm.loc:g}, scale={prm.scale:g}, "
                    f"family_scale={prm.family_scale:g} on the "
                    f"{'log' if prm.log else 'natural'} scale)")
    if var_name == "sigma":
        return f"noise prior sigma ~ HalfNormal({law.noise['sigma_scale']:g})"
    return f"prior of {var_name!r}"


def check_start(model, law) -> None:
    """Check that the log-density is finite at the model's initial point, before sampling.

    Every prior term is evaluated at its starting value and the likelihood row by row, so a bad
    prior (a negative or zero scale, a NaN location) or rows where the law cannot be evaluated are
    named instead of surfacing as a sampler failure.

    Parameters
    ----------
    model : pymc.Model
        Built by :func:`build_model`; its observed variable has one entry per run (dim ``row``).
    law : bayeslaws.laws.Law

    Raises
    ------
    SpecError
        When a prior's log-density is not finite: names the parameter, its prior and the fix.
    DataError
        When the likelihood is not finite at some rows: names the rows and the fix.
    """
    from .errors import DataError, SpecError, format_rows

    rvs = list(model.basic_RVs)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # constant folding of a bad prior
        fn = model.compile_fn(model.logp(vars=rvs, sum=False), mode="FAST_COMPILE", point_fn=True)
        values = fn(model.initial_point())
    observed = {rv.name for rv in model.observed_RVs}
    bad_priors = [rv.name for rv, v in zip(rvs, values)
                  if rv.name not in observed and not np.all(np.isfinite(v))]
    if bad_priors:
        owners = list(dict.fromkeys(_prior_owner(law, n) for n in bad_priors))
        raise SpecError(f"{law.name}: the log-density is not finite at the starting point of "
                        f"{', '.join(bad_priors)}: check the {'; the '.join(owners)}. Every scale "
                        "must be a positive finite number and every loc finite")
    for rv, v in zip(rvs, values):
        if rv.name in observed:
            rows = np.flatnonzero(~np.isfinite(np.asarray(v)))
            if rows.size:
                raise DataError(f"{law.name} cannot be evaluated at {format_rows(rows)} (the "
                                f"log-likelihood there is {np.asarray(v)[rows[0]]} at the prior's "
                                f"centre): check the inputs ({', '.join(law.inputs)}) and target "
                                f"{law.target!r} of those rows against the law's domain, or "
                                "remove them", column=law.target, rows=rows)


def link_draws(law, sampled: dict, x: dict[str, np.ndarray],
               family_idx: np.ndarray) -> np.ndarray:
    """Law on the link scale, shape ``(chain, draw, row)``.

    Parameters
    ----------
    sampled : dict
        Sampling-scale draws with dims ``(chain, draw, family)``.
    x : dict
        Log inputs per row.
    family_idx : numpy.ndarray
        Index along ``family`` of each row.
    """
    rows = {k: v.values[:, :, family_idx] for k, v in sampled.items()}
    return np.asarray(law.formula(x, law.natural(rows, np), np))


def log_density(law, y, mu, posterior) -> np.ndarray:
    """Pointwise log-likelihood of ``y`` (link scale) under each draw: the same likelihood as
    :func:`build_model`, evaluated in numpy on posterior draws.

    ``mu`` has shape ``(chain, draw, row)``; ``posterior`` holds ``sigma`` (and ``nu``). The
    terms that depend on a draw alone (log-gamma of ``nu``, ``log sigma``) are computed once per
    draw, not once per row: at 100k rows that is most of the work scipy's ``logpdf`` would do.
    """
    from scipy.special import gammaln

    sigma = posterior["sigma"].values[..., None]
    z = (np.asarray(y) - mu) / sigma
    if law.noise["likelihood"] == "student_t":
        nu = posterior["nu"].values[..., None]
        const = (gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
                 - np.log(sigma))
        return const - (nu + 1) / 2 * np.log1p(z * z / nu)
    if law.noise["likelihood"] == "laplace":
        return -np.log(2 * sigma) - np.abs(z)
    return -0.5 * np.log(2 * np.pi) - np.log(sigma) - 0.5 * z * z
