r"""Partial pooling of law parameters across families, and population draws for new families.

For a parameter :math:`\theta` on its sampling scale (``log`` of positive quantities):

* ``partial`` (default), non-centred:
  :math:`\theta_f = \mu_\theta + \sigma_\theta z_f`, :math:`z_f \sim N(0, 1)`,
  :math:`\mu_\theta \sim N(m, s)`, :math:`\sigma_\theta \sim \mathrm{HalfNormal}(\tau)`.
  With one family there is nothing to pool: :math:`\theta_1 = \mu_\theta` (the non-hierarchical
  model, free of funnels), and :math:`\sigma_\theta` keeps its prior, so a new family is still
  drawn honestly wide. The means are sampled through the affine map of a Laplace pilot of the
  family, :math:`\mu = c + L w` (:mod:`bayeslaws.precondition`): the law's form makes them
  strongly correlated, which NUTS with a diagonal mass matrix follows only in long trajectories.
  A fit samples each ``partial`` parameter in the form that suits its data: centred where
  every family's own runs pin it far more tightly than families differ, non-centred otherwise
  (:mod:`bayeslaws.parametrisation`; ``fit.config["parametrisation"]``). The posterior holds
  either ``{name}_z`` or the centred ``{name}`` per family; :func:`family_draws` reads both.
* ``centred``: the same population, centred:
  :math:`\theta_f \sim N(\mu_\theta, \sigma_\theta)`. The two are one model; they differ in
  how NUTS mixes (Papaspiliopoulos, Roberts & Sköld 2007; Betancourt & Girolami 2015). The
  non-centred form suits families the data inform weakly (a few runs each: the offsets then follow
  their prior and no funnel forms); the centred form suits families with many runs each, whose
  data pin :math:`\theta_f` so tightly that, non-centred, :math:`\mu_\theta` and every offset
  move together (``benchmarks/all_tables.py``: hundreds of runs per group). With data at hand,
  each family's centred parameters are sampled through the affine map of
  :mod:`bayeslaws.precondition` (:math:`\theta_f = c_f + L_f w_f`, the same posterior).
* ``shared``: one :math:`\theta \sim N(m, s)` for every family.
* ``independent``: :math:`\theta_f \sim N(m, s)` per family, no population, so no new families.

The same structure is written twice on purpose, once as PyMC variables and once as numpy
operations on posterior draws; :func:`family_draws` mirrors :func:`build_params` exactly.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .errors import SpecError

#: Pooling modes with a population (mean and between-family sd), from which new families are drawn.
POPULATION = ("partial", "centred")


def build_params(law, families: list[str], affine=None) -> dict:
    r"""Create the PyMC variables of ``law``'s parameters; call inside a model with a ``family`` dim.

    Parameters
    ----------
    law : bayeslaws.laws.Law
    families : list of str
    affine : tuple (c, L) or (c, L, B, a), optional
        Centres (families x centred parameters) and lower Cholesky factors (families x k x k)
        of :mod:`bayeslaws.precondition`, arrays or symbolic tensors; with ``B, a`` the map is
        conditioned on the ``partial`` (non-centred) parameters,
        :math:`\theta_f = c_f + B_f(\eta_f - a_f) + L_f w_f`
        (:func:`bayeslaws.precondition.affine_maps`). Given, the centred
        parameters (in the order of :func:`bayeslaws.precondition.centred_names`) are sampled
        as :math:`\theta_f = c_f + L_f w_f` (the same posterior, better geometry); without it
        they are plain centred normals.

    Returns
    -------
    dict
        ``{sampled_name: tensor of shape (n_families,)}`` on the sampling scale.
    """
    import pymc as pm
    import pytensor.tensor as pt

    n = len(families)
    out = {}
    centred = {}  # sampled name -> (mu, sigma), for the preconditioned centred block
    single = {}  # one family with a map: sampled name -> parameter, mu = c + L w
    for prm in law.parameters.values():
        name, how = prm.sampled, law.pooling[prm.name]
        if how == "shared":
            out[name] = pm.Normal(name, prm.loc, prm.scale) * pt.ones(n)
        elif how == "independent":
            out[name] = pm.Normal(name, prm.loc, prm.scale, dims="family")
        else:
            if n == 1 and affine is not None:
                pm.HalfNormal(f"{name}_sigma", prm.family_scale)  # prior alone: new families
                single[name] = prm  # the family's value is mu, sampled through the map below
                continue
            mu = pm.Normal(f"{name}_mu", prm.loc, prm.scale)
            sigma = pm.HalfNormal(f"{name}_sigma", prm.family_scale)
            if n == 1:
                out[name] = mu * pt.ones(1)
            elif how == "centred" and affine is not None:
                centred[name] = (mu, sigma)
            elif how == "centred":
                out[name] = pm.Normal(name, mu, sigma, dims="family")
            else:
                z = pm.Normal(f"{name}_z", 0.0, 1.0, dims="family")
                out[name] = mu + sigma * z
    if single:
        # one family: mu = c + L w (a constant Jacobian, so with the prior N(loc, scale) kept on
        # mu itself the posterior is that of sampling mu directly; only the geometry changes)
        c, chol = (pt.as_tensor(a) for a in affine[:2])
        pm.modelcontext(None).add_coord("centred_param", list(single))
        w = pm.Flat("centred_w", dims=("family", "centred_param"))
        theta = c + (chol * w[:, None, :]).sum(axis=-1)
        for j, (name, prm) in enumerate(single.items()):
            mu = pm.Deterministic(f"{name}_mu", theta[0, j])
            pm.Potential(f"{name}_mu_prior", -0.5 * ((mu - prm.loc) / prm.scale) ** 2
                         - np.log(prm.scale) - 0.5 * np.log(2 * np.pi))
            out[name] = mu * pt.ones(1)
    if centred:
        c, chol = (pt.as_tensor(a) for a in affine[:2])
        pm.modelcontext(None).add_coord("centred_param", list(centred))
        # theta_f = c_f + L_f w_f has a constant Jacobian, so the population prior on theta_f
        # below is the whole prior: the posterior is plain centred pooling's
        w = pm.Flat("centred_w", dims=("family", "centred_param"))
        theta = c + (chol * w[:, None, :]).sum(axis=-1)
        if len(affine) == 4:  # + B_f (eta_f - a_f): conditioned on the non-centred parameters
            slope, centre = (pt.as_tensor(a) for a in affine[2:])
            cond = [p.sampled for p in law.parameters.values()
                    if law.pooling[p.name] == "partial"]
            eta = pt.stack([out[name] for name in cond], axis=1)
            theta = theta + (slope * (eta - centre)[:, None, :]).sum(axis=-1)
        for j, (name, (mu, sigma)) in enumerate(centred.items()):
            out[name] = pm.Deterministic(name, theta[:, j], dims="family")
            pm.Potential(f"{name}_population",  # log N(theta_f | mu, sigma), summed
                         pt.sum(-0.5 * ((out[name] - mu) / sigma) ** 2 - pt.log(sigma))
                         - 0.5 * n * np.log(2 * np.pi))
    return out


def family_draws(law, posterior: xr.Dataset, families: list[str]) -> dict[str, xr.DataArray]:
    """Sampling-scale parameter draws per family, dims ``(chain, draw, family)``."""
    fam = xr.DataArray(list(families), dims="family", name="family")
    ones = xr.ones_like(fam, dtype=float).assign_coords(family=fam)
    out = {}
    for prm in law.parameters.values():
        name, how = prm.sampled, law.pooling[prm.name]
        if how == "shared":
            out[name] = posterior[name] * ones
        elif len(families) == 1 and how in POPULATION:
            out[name] = posterior[f"{name}_mu"] * ones
        elif how in ("independent", "centred") or f"{name}_z" not in posterior:
            # partial pooling sampled centred (bayeslaws.parametrisation): the values themselves
            out[name] = posterior[name].assign_coords(family=fam)
        else:
            out[name] = (posterior[f"{name}_mu"]
                         + posterior[f"{name}_sigma"] * posterior[f"{name}_z"].assign_coords(family=fam))
    return {k: v.transpose("chain", "draw", "family") for k, v in out.items()}


def population_draws(law, posterior: xr.Dataset, rng: np.random.Generator) -> dict[str, xr.DataArray]:
    """Draws of a new, unseen family's parameters from the population, dims ``(chain, draw)``.

    Raises
    ------
    SpecError
        When a parameter uses ``independent`` pooling (there is no population to draw from).
    """
    out = {}
    for prm in law.parameters.values():
        name, how = prm.sampled, law.pooling[prm.name]
        if how == "independent":
            raise SpecError(f"parameter {prm.name!r} uses independent pooling, so there is no "
                            "population to draw a new family from; predict a fitted family, or "
                            "refit with pooling='partial'")
        if how == "shared":
            # a parameter sampled on its own scale (log=False) shares its name with the paper's
            # per-family copy that Fit adds to the posterior; every family holds the same value
            value = posterior[name]
            out[name] = value.isel(family=0, drop=True) if "family" in value.dims else value
        else:
            mu = posterior[f"{name}_mu"]
            z = xr.DataArray(rng.standard_normal(mu.shape), dims=mu.dims, coords=mu.coords)
            out[name] = mu + posterior[f"{name}_sigma"] * z
    return out


def new_family_draws(law, posterior: xr.Dataset, seed: int,
                     name: str = "population") -> dict[str, xr.DataArray]:
    """:func:`population_draws` for a new family called ``name``, from a stream keyed by
    ``seed`` and the name: the same draws in a forecast, an optimum or a plot, whatever else is
    asked at the same time."""
    from .streams import keyed_rng, stable_key

    return population_draws(law, posterior, keyed_rng(seed, stable_key("population", name)))


def natural_params(law, sampled: dict[str, xr.DataArray]) -> dict[str, xr.DataArray]:
    """Paper-scale parameters (``E``, ``alpha``, ... and derived ``A``, ``B``) from sampled draws."""
    p = law.natural(sampled, np)
    p.update(law.derived(p, np))
    return p


def has_population(law) -> bool:
    """Whether new families can be drawn (no parameter uses independent pooling)."""
    return all(how != "independent" for how in law.pooling.values())
