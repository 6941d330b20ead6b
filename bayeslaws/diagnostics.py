"""Convergence checks run after every fit: R-hat, bulk ESS and divergences.

Thresholds follow the design: R-hat above 1.01, bulk ESS below 100 per chain, or any divergence
raises :class:`bayeslaws.ConvergenceWarning` naming the parameters and the remedy.

Parameters are named as in the paper (:func:`describe`: ``log_E_z`` reads "E (per-family
offsets)", ``log_A0_sigma`` "spread of A0 across families"), with the sampled variable in
brackets. In a fit of one family the between-family spread ``X_sigma`` of a partially pooled
parameter is sampled from its prior and enters nothing else (the family's value is ``X_mu``;
there are no offsets ``X_z``), so it is not checked (:func:`unused`).
"""

from __future__ import annotations

import warnings

import numpy as np

from . import convergence
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


#: A chain whose mean lies this many within-chain sds from the others' (which agree among
#: themselves to within one sd) sits in another mode (:func:`second_modes`).
MODE_GAP_SD = 5.0


def second_modes(post, var_names) -> list[dict]:
    """Chains stuck in another mode: for each variable (each element of a per-family one), a
    chain whose mean lies more than :data:`MODE_GAP_SD` pooled within-chain sds from the median of
    the other chains' means while those agree among themselves (spread below one sd).

    More draws do not cure that, unlike slow mixing; naming it lets the warning say so. Returns
    ``[{"var", "element", "chain", "value", "others"}]``, the largest gap per variable first.
    """
    found = []
    for name in var_names:
        vals = np.asarray(post[name].values, dtype=float)
        if vals.ndim < 2 or vals.shape[0] < 2 or vals.shape[1] < 4:
            continue
        flat = vals.reshape(vals.shape[0], vals.shape[1], -1)
        means, sds = flat.mean(axis=1), flat.std(axis=1)
        best = None
        for j in range(flat.shape[2]):
            sd = float(np.median(sds[:, j]))
            if not sd > 0:
                continue
            for c in range(flat.shape[0]):
                others = np.delete(means[:, j], c)
                gap = abs(means[c, j] - np.median(others)) / sd
                if gap > MODE_GAP_SD and np.ptp(others) < sd and (best is None or gap > best[0]):
                    best = (gap, j, c, float(means[c, j]), float(np.median(others)))
        if best is not None:
            found.append({"var": name, "element": best[1], "chain": best[2], "value": best[3],
                          "others": best[4], "gap": best[0]})
    return sorted(found, key=lambda m: -m["gap"])


def diagnose(idata, var_names: list[str]) -> dict:
    """Return ``{"rhat": {var: max}, "ess_bulk": {var: min}, "divergences": int, "chains": int,
    "modes": [...]}`` (``modes``: :func:`second_modes`, looked for where R-hat is high).

    R-hat and ESS are ArviZ's (rank-normalised split R-hat, bulk ESS), computed by
    :mod:`bayeslaws.convergence` without importing ArviZ."""
    post = idata["posterior"].to_dataset()[list(var_names)]
    chains = post.sizes["chain"]
    # ArviZ's rank-normalised R-hat and bulk ESS, in NumPy: a fit never imports ArviZ
    rhat = _worst(convergence.rhat(post), np.nanmax)
    ess = _worst(convergence.ess(post, method="bulk"), np.nanmin)
    div = 0
    if "sample_stats" in idata.children and "diverging" in idata["sample_stats"]:
        div = int(np.asarray(idata["sample_stats"]["diverging"].values).sum())
    high = [k for k, v in rhat.items() if not v <= RHAT_MAX]
    return {"rhat": rhat, "ess_bulk": ess, "divergences": div, "chains": chains,
            "modes": second_modes(post, high) if high else []}


#: Sampled hierarchy variables: suffix -> how the parameter ``{p}`` reads.
_ROLES = {"_mu": "{p} (population mean)", "_sigma": "spread of {p} across families",
          "_z": "{p} (per-family offsets)"}
#: Model variables that are not law parameters.
_OTHER = {"sigma": "noise scale", "nu": "noise tail weight (Student-t nu)",
          "centred_w": "per-family parameters (preconditioned)"}


def _split(name: str) -> tuple[str, str]:
    """``(sampled parameter, role suffix)`` of a model variable: ``log_E_z`` -> ``(log_E, _z)``."""
    for suffix in _ROLES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def unused(names) -> set[str]:
    """Variables among ``names`` that the likelihood does not depend on.

    ``X_sigma`` (the between-family sd of a partially pooled parameter) enters the model only
    through the per-family offsets ``X_z`` or the centred per-family values ``X`` (which the
    posterior holds beside the preconditioned block ``centred_w`` they are made from); when
    neither is sampled (a fit of one family, :func:`bayeslaws.hierarchy.build_params`) it is
    drawn from its prior and affects nothing.
    """
    names = set(names)
    out = set()
    for name in names:
        base, role = _split(name)
        if role == "_sigma" and not ({f"{base}_z", base} & names):
            out.add(name)
    return out


def describe(name: str, names=()) -> str:
    """A model variable as the paper names it, the sampled name in brackets.

    ``log_E_z`` -> ``"E (per-family offsets) [log_E_z]"``, ``log_A0_sigma`` -> ``"spread of A0
    across families [log_A0_sigma]"``, ``sigma`` -> ``"noise scale [sigma]"``. ``names`` (all
    variables of the fit) tells a fit of one family, where ``X_mu`` is the family's value itself.
    """
    if name in _OTHER:
        return f"{_OTHER[name]} [{name}]"
    base, role = _split(name)
    param = base[4:] if base.startswith("log_") and len(base) > 4 else base
    if not role:
        return param if param == name else f"{param} [{name}]"
    if role == "_mu" and f"{base}_sigma" in unused(names):
        return f"{param} [{name}]"  # one family: the mean is the family's value
    return f"{_ROLES[role].format(p=param)} [{name}]"


def problems(report: dict) -> list[str]:
    """Human-readable convergence problems in a :func:`diagnose` report (empty when fine).

    Parameters are named by :func:`describe`; variables the likelihood does not depend on
    (:func:`unused`: the between-family spreads of a one-family fit) are not checked.
    """
    out = []
    names = set(report["rhat"]) | set(report["ess_bulk"])
    skip = unused(names)
    bad_rhat = {k: v for k, v in report["rhat"].items() if not v <= RHAT_MAX and k not in skip}
    min_ess = ESS_PER_CHAIN_MIN * report["chains"]
    bad_ess = {k: v for k, v in report["ess_bulk"].items() if not v >= min_ess and k not in skip}
    if bad_rhat:
        out.append("R-hat > %.2f for %s" % (RHAT_MAX, ", ".join(
            f"{describe(k, names)} = {v:.3f}" for k, v in bad_rhat.items())))
    if bad_ess:
        out.append("bulk ESS < %d for %s" % (min_ess, ", ".join(
            f"{describe(k, names)} = {v:.0f}" for k, v in bad_ess.items())))
    if report["divergences"]:
        out.append(f"{report['divergences']} divergent transitions")
    return out


def _natural(name: str, value: float) -> tuple[str, float]:
    """A sampled value on the paper's scale where that is a plain exp: ``log_beta`` 0.07."""
    base, role = _split(name)
    if base.startswith("log_") and role in ("", "_mu"):
        return base[4:], float(np.exp(value))
    return name, value


def mode_note(modes: list[dict], names=()) -> str | None:
    """The second mode in words, with what to do about it (None when there is none)."""
    if not modes:
        return None
    m = modes[0]
    what, value = _natural(m["var"], m["value"])
    _, others = _natural(m["var"], m["others"])
    where = "" if m["element"] == 0 else f" (element {m['element']})"
    more = f" (and {len(modes) - 1} more variable{'s' if len(modes) > 2 else ''})" \
        if len(modes) > 1 else ""
    return (f"chain {m['chain'] + 1} sits in a second mode: {what}{where} = {value:.3g} there, "
            f"{others:.3g} in the other chains{more} ({describe(m['var'], names)}). More draws "
            "will not join the two: rerun with another --seed and more --chains to see how often "
            "it appears, narrow the prior that allows it, or check whether the law fits the data "
            "two ways (e.g. an exponent trading against its coefficient)")


def warn_if_unconverged(report: dict, *, stacklevel: int = 3) -> list[str]:
    """Issue a :class:`ConvergenceWarning` when :func:`problems` finds any; return them. A chain
    in a second mode (:func:`second_modes`) is named as such, with its own remedy."""
    found = problems(report)
    if found:
        names = set(report["rhat"]) | set(report["ess_bulk"])
        modes = mode_note([m for m in report.get("modes", []) if m["var"] not in unused(names)],
                          names)
        remedy = (f". {modes}." if modes else
                  ". Remedy: more draws/tune (--draws, --tune), more chains, a higher "
                  "target_accept, a dense mass matrix (--dense-mass) where parameters trade "
                  "off, tighter priors, or shared pooling for the parameters named.")
        warnings.warn("the posterior may not be trustworthy: " + "; ".join(found) + remedy,
                      ConvergenceWarning, stacklevel=stacklevel)
    return found
