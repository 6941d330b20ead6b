r"""Quick approximate fits: the Laplace approximation at the posterior mode.

``law.fit(data, method="laplace")`` and ``bayeslaws fit LAW --quick`` run this instead of NUTS: a
answer in about a second (after the first compile of a law's shape), for the everyday loop of
trying laws, columns and subsets. It is an approximation and every output says so
(:func:`approximate_note`: the fit's repr, ``fit.summary()``, the CLI, report and figures).

Method. The model is the one NUTS samples (:func:`bayeslaws.batch._program`: PyMC's joint
log-density on the unconstrained space, priors' Jacobians included, translated to JAX). With
:math:`u` the unconstrained values and :math:`\log p(u \mid y)` that density,

1. the mode :math:`\hat u = \arg\max_u \log p(u \mid y)` is found by L-BFGS (scipy, JAX
   gradients) from the model's initial point and :data:`RESTARTS` - 1 starts jittered by
   uniform(-1, 1) as PyMC jitters NUTS starts, then polished by Newton steps;
2. :math:`H = -\nabla^2 \log p(\hat u \mid y)` (JAX forward-over-reverse Hessian);
3. draws :math:`u = \hat u + H^{-1/2} \varepsilon`, :math:`\varepsilon \sim N(0, I)`, are mapped
   to the constrained variables by the model's transforms, so the posterior group holds the same
   variables and dims as a NUTS fit (``chains`` x ``draws``; independent draws, so R-hat and ESS
   say nothing and ``fit.summary()`` leaves them empty) and everything downstream works.

A Hessian that is not positive definite (a saddle or a flat direction: the optimiser stopped
short, or the data do not identify a parameter) gets its eigenvalues replaced by
:math:`\max(|\lambda|, ` :data:`EIGEN_FLOOR` :math:`)`, with a :class:`LaplaceWarning` naming the
variables involved. The quality of the Gaussian is checked by Pareto-smoothed importance
sampling of the true density against it (Vehtari et al. 2024): :math:`\hat k` is stored in the
config (``fit.config["laplace"]["khat"]``) and printed with the note. It does not warn: on the
bundled tables :math:`\hat k` is above 0.7 (the Gaussian is not the posterior in its tails) even where medians and 90% widths agree with NUTS
(``benchmarks/quick.py``), so it says "approximate", which every output says anyway.

Hierarchical families. The approximation is taken on the joint space NUTS samples: population
means and log between-family scales with non-centred family offsets (or the per-family affine
maps of centred pooling, :mod:`bayeslaws.precondition`). In that space the joint mode exists (the
non-centred offsets keep the between-family scale off zero) but the posterior of a log
between-family scale with a few families is skewed and wide, and a Gaussian on it feeds every
family's parameters: on gadre_overtraining (3 families) the quick fit's family-level 90% widths
ranged from 0.3x to thousands of times NUTS' and its medians moved (``benchmarks/quick.py``). No
marginalisation is attempted: a fit of several families with pooled parameters warns
(:class:`LaplaceWarning`) and says so in its notes; use NUTS for those numbers. One family, or
``pooling="shared"``/``"independent"``, has no such scale.

Extrapolation. A quick fit's discrepancy backtests (``extrapolation="backtest"``) refit by Laplace
too (the config's sampler is ``"laplace"``, which :func:`bayeslaws.inference.fit_law` routes
here), so they are quick; their tau is an approximation of an approximation and the note says
the fit is approximate.

References
----------
Tierney & Kadane 1986, "Accurate approximations for posterior moments and marginal densities",
JASA 81(393). Vehtari, Simpson, Gelman, Yao & Gabry 2024, "Pareto smoothed importance sampling",
JMLR 25(72).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from . import batch
from . import data as data_mod
from .errors import SpecError
from .fit import EXTRAPOLATION, Fit, approximate_note
from .model import build_model, check_start

#: The method name a Laplace fit records in ``fit.config["method"]`` (and as its sampler).
METHOD = "laplace"
#: Optimiser starts: the model's initial point and jittered copies of it.
RESTARTS = 4
#: Smallest eigenvalue of the negative Hessian used (unconstrained scale: sd at most 10).
EIGEN_FLOOR = 1e-2
#: L-BFGS iterations per start, and Newton polishing steps after the best start.
MAX_ITER = 2000
NEWTON_STEPS = 5


class LaplaceWarning(UserWarning):
    """The Laplace approximation of a quick fit is doubtful (not a clean mode, or a poor fit)."""


def _functions(program):
    """Jitted potential-and-gradient, Hessian, batched potential and constrain of ``program``
    (kept with the program, so tables of the same shape reuse them)."""
    if "laplace" in program.runners:
        return program.runners["laplace"]
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    _, unravel = ravel_pytree([jnp.asarray(v) for v in program.initial])
    n_affine = program.n_affine

    def potential(v, data):
        return -program.logp(*unravel(v), *data)[0]

    def constrain(v, data):
        affine = data[len(data) - n_affine:] if n_affine else []
        return program.constrain(*unravel(v), *affine)

    fns = {"value_and_grad": jax.jit(jax.value_and_grad(potential)),
           "hessian": jax.jit(jax.hessian(potential)),
           "potentials": jax.jit(jax.vmap(potential, in_axes=(0, None))),
           "constrain": jax.jit(jax.vmap(constrain, in_axes=(0, None)))}
    program.runners["laplace"] = fns
    return fns


def _prior_only(law, n_families: int) -> dict[str, float]:
    """Unconstrained values that only their prior informs: with one family, the log
    between-family scales of pooled parameters, ``{value name: half-normal scale}``."""
    if n_families != 1:
        return {}
    return {f"{p.sampled}_sigma_log__": float(p.family_scale) for p in law.parameters.values()
            if law.pooling[p.name] in ("partial", "centred")}


def _table_data(law, program, table, n_fam: int) -> list[np.ndarray]:
    """The program's data arguments for one table, padded as :mod:`bayeslaws.batch` pads."""
    rows = batch.padded_rows(len(table.y))
    fam_idx = pd.Index(table.families).get_indexer(table.family).astype(np.int64)

    def pad(a, fill):
        out = np.full(rows, fill, dtype=a.dtype)
        out[: len(a)] = a
        return out

    data = [pad(np.asarray(table.x[n], dtype=float), float(table.x[n][0]))
            for n in program.input_names]
    mask = np.zeros(rows)
    mask[: len(table.y)] = 1.0
    data += [pad(np.asarray(table.y, dtype=float), float(table.y[0])), pad(fam_idx, 0), mask]
    if program.centred:
        data += batch.affine_data(law, table, n_fam, program)
    return data


def find_mode(fns, start: np.ndarray, data, rng: np.random.Generator, *,
              restarts: int = RESTARTS) -> tuple[np.ndarray, float, dict]:
    """Maximise the log-density: L-BFGS from ``start`` and jittered starts, Newton-polished.

    Returns the mode (flat unconstrained vector), the potential (minus log-density) there, and
    ``{"starts": n, "converged": n, "spread": largest potential gap between converged starts}``.
    """
    from scipy.optimize import minimize

    def fun(v):
        value, grad = fns["value_and_grad"](v, data)
        value, grad = float(value), np.asarray(grad, dtype=float)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e30, np.zeros_like(v)
        return value, grad

    starts = [start] + [start + rng.uniform(-1, 1, start.shape) for _ in range(restarts - 1)]
    results = []
    for s in starts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = minimize(fun, s, jac=True, method="L-BFGS-B",
                           options={"maxiter": MAX_ITER, "gtol": 1e-8, "ftol": 1e-14})
        if np.isfinite(res.fun) and res.fun < 1e29:
            results.append(res)
    if not results:
        raise SpecError("the quick (Laplace) fit found no point of finite log-density from "
                        f"{len(starts)} starts; check the law's priors and the data, or fit "
                        "with NUTS (method='nuts')")
    best = min(results, key=lambda r: r.fun)
    v, f = np.asarray(best.x, dtype=float), float(best.fun)
    for _ in range(NEWTON_STEPS):  # L-BFGS stops loose on badly scaled values: polish
        _, g = fun(v)
        h = np.asarray(fns["hessian"](v, data), dtype=float)
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or np.linalg.eigvalsh(0.5 * (h + h.T)).min() <= 0:
            break
        for t in (1.0, 0.5, 0.25):
            f_new, _ = fun(v - t * step)
            if f_new <= f:
                v, f = v - t * step, f_new
                break
        else:
            break
        if np.max(np.abs(step)) < 1e-10:
            break
    close = [r.fun for r in results if r.fun < f + 1e3]
    info = {"starts": len(starts), "converged": int(sum(bool(r.success) for r in results)),
            "spread": float(max(close) - f) if close else 0.0}
    return v, f, info


def gaussian(h: np.ndarray, names: list[str]) -> tuple[np.ndarray, int, list[str]]:
    r"""The factor :math:`A` with :math:`A A^\top = H^{-1}`, eigenvalues floored.

    Returns ``(A, number of floored eigenvalues, names of the values they load on)``;
    ``names`` labels each coordinate of the flat vector.
    """
    h = 0.5 * (h + h.T)
    lam, q = np.linalg.eigh(h)
    bad = ~np.isfinite(lam) | (lam < EIGEN_FLOOR)
    involved: list[str] = []
    if bad.any():
        load = np.abs(q[:, bad]).max(axis=1)
        involved = list(dict.fromkeys(names[i] for i in np.argsort(-load)[: 3 * int(bad.sum())]
                                      if load[i] > 0.3))
        lam = np.where(bad, np.maximum(np.abs(np.nan_to_num(lam)), EIGEN_FLOOR), lam)
    return q / np.sqrt(lam), int(bad.sum()), involved


def fit_laplace(law, data, *, seed: int = 0, draws: int = 1000, chains: int = 4,
                family_column: str = "family", extrapolation: str | None = "backtest",
                columns=None, family=None, loss_unit=None, scale=None,
                drop_missing: bool = False, restarts: int = RESTARTS) -> Fit:
    """A quick, approximate fit of ``law`` to ``data``: the Laplace approximation at the mode.

    Parameters as :meth:`bayeslaws.laws.Law.fit` (``draws`` x ``chains`` independent draws of
    the Gaussian); NUTS settings do not apply. ``restarts``: optimiser starts.

    Returns
    -------
    bayeslaws.fit.Fit
        With ``config["method"] == "laplace"`` and ``config["laplace"]``: Pareto ``khat``,
        ``floored`` eigenvalues, optimiser ``starts``/``converged``/``spread``, the log-density at
        the mode ``lp_mode``. :func:`approximate_note` gives the label it carries.

    Raises
    ------
    SpecError
        Bad settings, or no finite starting point.
    """
    from arviz_stats.base import array_stats

    import xarray as xr

    if extrapolation not in EXTRAPOLATION:
        raise SpecError(f"extrapolation must be one of {EXTRAPOLATION}, not {extrapolation!r}")
    for name, value in (("draws", draws), ("chains", chains), ("restarts", restarts)):
        if int(value) < 1:
            raise SpecError(f"{name} must be a positive integer, not {value}")
    law, table, source = data_mod.prepare_for_fit(
        law, data, family_column=family_column, columns=columns, family=family,
        loss_unit=loss_unit, scale=scale, drop_missing=drop_missing)
    family_column = source.family
    families = table.families
    family_idx = pd.Index(families).get_indexer(table.family)
    program = batch._program(law, len(families), sorted(table.x))
    fns = _functions(program)
    args = _table_data(law, program, table, len(families))
    rng = np.random.default_rng([int(seed), 0x1A9C])
    start = np.concatenate([np.ravel(v) for v in program.initial])
    with np.errstate(all="ignore"):  # the potential at the start, compiled for the mode anyway
        finite = np.isfinite(float(fns["value_and_grad"](start, args)[0]))
    if (program.centred and len(families) > 1) or not finite:  # name bad priors or rows
        check_start(build_model(law, table, families, family_idx), law)
    mode, f_mode, info = find_mode(fns, start, args, rng, restarts=int(restarts))
    labels = [name for name, shape in zip(program.value_names, program.value_shapes)
              for _ in range(int(np.prod(shape, dtype=int)))]
    # a one-family fit's between-family scales are prior alone (nothing in the likelihood): drawn
    # exactly from their half-normal priors rather than from a Gaussian of their skewed log
    scales = _prior_only(law, len(families))
    exact = np.array([lab in scales for lab in labels])
    h = np.asarray(fns["hessian"](mode, args))[np.ix_(~exact, ~exact)]
    factor, floored, involved = gaussian(h, [lab for lab, e in zip(labels, exact) if not e])

    n = int(chains) * int(draws)
    eps = rng.standard_normal((n, int((~exact).sum())))
    u = np.repeat(mode[None], n, axis=0)
    u[:, ~exact] += eps @ factor.T
    log_q = -0.5 * np.sum(eps * eps, axis=1)  # up to a constant
    for j in np.flatnonzero(exact):
        s = scales[labels[j]]
        sig = np.abs(rng.normal(0.0, s, n))
        u[:, j] = np.log(sig)
        log_q += -0.5 * (sig / s) ** 2 + u[:, j]  # half-normal on the log scale, up to a constant
    potential = np.asarray(fns["potentials"](u, args), dtype=float)
    log_w = -potential - log_q  # log p - log q, up to a constant
    log_w = np.where(np.isfinite(log_w), log_w, -np.inf)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        # arviz_stats' psislw takes a log-likelihood and smooths the ratios of its negation
        # (LOO's 1/p), so the importance log weights go in negated.
        khat = float(array_stats.psislw(-log_w)[1])
    constrained = fns["constrain"](u, args)

    coords = {"chain": np.arange(int(chains)), "draw": np.arange(int(draws)),
              "family": list(families), "centred_param": list(program.centred or [])}
    post = {}
    for name, values in zip(program.free, constrained):
        values = np.asarray(values, dtype=np.float64)
        dims = ("chain", "draw") + program.free_dims.get(name, ())
        post[name] = (dims, values.reshape((int(chains), int(draws)) + values.shape[1:]))
    used = {"chain", "draw"} | {d for nm in program.free for d in program.free_dims.get(nm, ())}
    coords = {k: v for k, v in coords.items() if k in used}
    lp = (("chain", "draw"), (-potential).reshape(int(chains), int(draws)))
    idata = xr.DataTree.from_dict({
        "posterior": xr.Dataset(post, coords=coords),
        "sample_stats": xr.Dataset({"lp": lp}, coords={"chain": coords["chain"],
                                                        "draw": coords["draw"]})})

    config = {"seed": int(seed), "draws": int(draws), "tune": 0, "chains": int(chains),
              "sampler": METHOD, "method": METHOD, "target_accept": 0.9,
              "family_column": family_column, "retried": False, "extrapolation": extrapolation,
              "dense_mass": False, "float32": False, **source.to_config(),
              "laplace": {"khat": round(khat, 3), "floored": floored, "lp_mode": -f_mode,
                          **info}}
    result = Fit(law, idata, table.frame, config, families, _fresh=True)
    notes = []
    if floored:
        notes.append(f"the Hessian at the mode is not positive definite in {floored} "
                     f"direction(s) (values {', '.join(involved) or '?'}): no clean mode; their "
                     f"curvature was floored at {EIGEN_FLOOR:g}, so those intervals are "
                     "arbitrary; fit with NUTS")
    pooled = [p.name for p in law.parameters.values()
              if law.pooling[p.name] in ("partial", "centred")]
    if len(families) > 1 and pooled:
        notes.append(f"{len(families)} families with pooled parameters ({', '.join(pooled)}): "
                     "a Gaussian at the joint mode of a hierarchical model misrepresents the "
                     "between-family scales, and with them the family-level intervals (0.3x to "
                     "far wider than NUTS' on gadre_overtraining, benchmarks/quick.py); use NUTS "
                     "for these numbers")
    if not np.isfinite(khat):
        khat = float("inf")
    if info["converged"] == 0:
        notes.append("the optimiser did not report convergence from any start: the mode may be "
                     "off; fit with NUTS")
    result.config["laplace"]["hierarchical"] = bool(len(families) > 1 and pooled)
    result.config["laplace"]["khat"] = round(khat, 3) if np.isfinite(khat) else None
    for note in notes:
        warnings.warn(f"{law.name} quick fit: {note}", LaplaceWarning, stacklevel=4)
    result.convergence = notes
    return result


__all__ = ["LaplaceWarning", "METHOD", "approximate_note", "find_mode",
           "fit_laplace", "gaussian"]
