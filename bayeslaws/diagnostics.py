"""Convergence checks run after every fit: R-hat, bulk ESS and divergences.

Thresholds follow the design: R-hat above 1.01, bulk ESS below 100 per chain, or any divergence
raises :class:`bayeslaws.ConvergenceWarning` naming the parameters and the remedy.
"""

from __future__ import annotations

import warnings

import numpy as np

from .errors import ConvergenceWarning

#: Largest acceptable split R-hat.
RHAT_MAX = 1.01
#: Smallest acceptable bulk ESS per chain.
ESS_PER_CHAIN_MIN = 100


def _worst(ds, reduce):
    out = {}
    for name, da in ds.data_vars.items():
        vals = np.asarray(da.values, dtype=float)
        if vals.size:
            out[name] = float(reduce(vals))
    return out


def diagnose(idata, var_names: list[str]) -> dict:
    """Return ``{"rhat": {var: max}, "ess_bulk": {var: min}, "divergences": int, "chains": int}``."""
    import arviz as az  # imported here: `import bayeslaws` stays light

    post = idata["posterior"].to_dataset()[list(var_names)]
    chains = post.sizes["chain"]
    rhat = _worst(az.rhat(post), np.nanmax)
    ess = _worst(az.ess(post, method="bulk"), np.nanmin)
    div = 0
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"]:
        div = int(np.asarray(idata["sample_stats"]["diverging"].values).sum())
    return {"rhat": rhat, "ess_bulk": ess, "divergences": div, "chains": chains}


def problems(report: dict) -> list[str]:
    """Human-readable convergence problems in a :func:`diagnose` report (empty when fine)."""
    out = []
    bad_rhat = {k: v for k, v in report["rhat"].items() if not v <= RHAT_MAX}
    min_ess = ESS_PER_CHAIN_MIN * report["chains"]
    bad_ess = {k: v for k, v in report["ess_bulk"].items() if not v >= min_ess}
    if bad_rhat:
        out.append("R-hat > %.2f for %s" % (RHAT_MAX, ", ".join(f"{k} ({v:.3f})" for k, v in bad_rhat.items())))
    if bad_ess:
        out.append("bulk ESS < %d for %s" % (min_ess, ", ".join(f"{k} ({v:.0f})" for k, v in bad_ess.items())))
    if report["divergences"]:
        out.append(f"{report['divergences']} divergent transitions")
    return out


def warn_if_unconverged(report: dict, *, stacklevel: int = 3) -> list[str]:
    """Issue a :class:`ConvergenceWarning` when :func:`problems` finds any; return them."""
    found = problems(report)
    if found:
        warnings.warn("the posterior may not be trustworthy: " + "; ".join(found) +
                      ". Remedy: more draws/tune (--draws, --tune), more chains, a higher "
                      "target_accept, a dense mass matrix (--dense-mass) where parameters trade "
                      "off, tighter priors, or shared pooling for the parameters named.",
                      ConvergenceWarning, stacklevel=stacklevel)
    return found
