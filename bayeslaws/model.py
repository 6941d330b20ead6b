"""Build the PyMC model of a law on a run table: hierarchical priors, formula, robust likelihood.

The likelihood is Student-t on the link scale (log of a positive target) by default:
``log y ~ StudentT(nu, mu = log f(x; theta_family), sigma)``, with
``sigma ~ HalfNormal(sigma_scale)`` and ``nu ~ Gamma(2, 0.1)`` (Juarez & Steel 2010). A law may
choose ``normal`` or ``laplace`` (median regression, what a Huber fit with a tiny delta amounts to).
"""

from __future__ import annotations

import numpy as np

from . import hierarchy


def observed_name(law) -> str:
    """Name of the observed variable (``log_loss`` for a positive ``loss`` target)."""
    return f"log_{law.target}" if law.positive_target else law.target


def build_model(law, table, families: list[str], family_idx: np.ndarray):
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
    """
    import pymc as pm
    import pytensor.tensor as pt

    coords = {"family": list(families), "row": np.arange(len(table.y))}
    with pm.Model(coords=coords) as model:
        theta = hierarchy.build_params(law, families)
        rows = {name: value[family_idx] for name, value in theta.items()}
        mu = law.formula(table.x, law.natural(rows, pt), pt)
        sigma = pm.HalfNormal("sigma", law.noise["sigma_scale"])
        if law.noise["likelihood"] == "student_t":
            nu = pm.Gamma("nu", 2.0, 0.1)
            pm.StudentT(observed_name(law), nu=nu, mu=mu, sigma=sigma, observed=table.y, dims="row")
        elif law.noise["likelihood"] == "laplace":
            pm.Laplace(observed_name(law), mu=mu, b=sigma, observed=table.y, dims="row")
        else:
            pm.Normal(observed_name(law), mu=mu, sigma=sigma, observed=table.y, dims="row")
    return model
