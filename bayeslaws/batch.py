"""Many fits of one law in one compiled program: compile once, sample many.

Backtests, leave-largest-out splits, bootstrap-style studies and the inner refits of the
extrapolation model fit the *same* law to many tables. Fitting them one by one through
``pm.sample`` rebuilds, re-jaxifies and recompiles the model for every table, because PyMC bakes
the data into the graph as constants. Here the data are arguments instead:

1. The law's PyMC model is built once per structure (law spec, number of families) with symbolic
   inputs, target, family index and a row mask; its joint log-density (priors, Jacobians,
   masked likelihood) is translated to JAX (:func:`pymc.sampling.jax.get_jaxified_graph`).
2. numpyro's functional NUTS (:func:`numpyro.infer.hmc.hmc` with ``potential_fn_gen``) runs one
   chain per (table, chain) lane; the lanes are ``vmap``-ed, and on CPU sharded with ``pmap``
   over the host devices, so every core works. Each lane adapts its own step size and diagonal
   mass matrix (Stan's windowed warm-up), exactly as a single fit would. Centred programs
   (per-family affine maps, :mod:`bayeslaws.precondition`) first run a global pilot per table
   (:func:`_pilot`) for each chain's start point and initial inverse mass matrix.
3. Tables are padded to a shared row count (rounded up to a power of two, so nearby sizes reuse
   the program); padded rows have mask 0 and add nothing to the density or its gradient.

The compiled program is kept for the process (keyed by law, families, padded rows, chains, draws,
warm-up, target acceptance and batch size), and JAX's persistent cache keeps it across
processes: a second batch of the same shape does not recompile. Results are ordinary
:class:`bayeslaws.fit.Fit` objects, with the same posterior variables, ``sample_stats`` and
diagnostics as ``law.fit``.

The batched sampler targets the same posterior as ``law.fit`` but is a different program (its own
random stream), so draws differ from a single fit with the same seed; both are exact NUTS.

Reproducible whatever the batching. Table ``k`` (its position in the caller's list) has its own
random stream: NUTS keys ``split(fold_in(PRNGKey(seed), k), chains)`` and start-point jitter from
``numpy.random.default_rng([seed, 0xB47C, k])``; the padded row count of each model structure is
fixed by all the tables of the call; and on CPU the program always spans at least two XLA devices
(a one-device program compiles to different last bits; 2, 4, ... devices with any number of lanes
each agree bitwise). So a table's draws are bitwise the same fitted alone, with other tables, on
a machine with more cores, or on a Dask worker (``tests/test_batch.py``,
``tests/test_distributed.py``). On a GPU (lanes ``vmap``-ed in lockstep) this has not been
checked: the draws may depend on the number of lanes in the last bits.

Usage, here and on a cluster::

    from bayeslaws.batch import fit_many
    fits = fit_many(law, tables, seed=0, chains=4, draws=1000, tune=1000)     # this machine
    fits = fit_many(law, tables, seed=0, cluster="tcp://10.0.0.5:8786")      # a Dask cluster

With ``cluster=`` (a scheduler address or a ``distributed.Client``; ``pip install
'bayeslaws[distributed]'``) the tables go in chunks (one per worker, or ``chunk_size=`` each) to
Dask workers, each running this same sampler on its chunk, and come back as the same fits; see
:mod:`bayeslaws.cluster` (and why Dask rather than Ray) and ``docs/many-fits.md``. Start a cluster
with ``dask scheduler`` and ``dask worker tcp://HOST:8786`` on each machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import data as data_mod
from . import chees, diagnostics, precondition, sampling
from .errors import SpecError
from .fit import EXTRAPOLATION, RETRY_TARGET_ACCEPT, Fit
from .cluster import sample_on_cluster
from .model import build_model
from .progress import PROGRESS, progress_every

#: Where a dataset is padded to: the next power of two, at least this many rows.
MIN_ROWS = 16
#: Sample statistics kept per draw (names as PyMC's numpyro path writes them).
STATS = ("diverging", "n_steps", "tree_depth", "step_size", "acceptance_rate", "lp", "energy")

_PROGRAMS: dict[tuple, "_Program"] = {}
#: Samplers of :func:`fit_many`: numpyro's NUTS per chain, or ChEES-HMC per fit (:mod:`bayeslaws.chees`).
SAMPLERS = ("nuts", "chees")
#: Chains and target acceptance per sampler when the caller does not say.
DEFAULT_CHAINS = {"nuts": 4, "chees": chees.CHAINS}
DEFAULT_TARGET_ACCEPT = {"nuts": 0.9, "chees": chees.TARGET_ACCEPT}


def padded_rows(n: int) -> int:
    """Row count a table of ``n`` rows is padded to: the next power of two (at least MIN_ROWS), or
    above 1024 rows the next multiple of a sixteenth of that power (at most 12.5% padding)."""
    power = max(MIN_ROWS, 1 << max(0, int(n) - 1).bit_length())
    if power <= 1024:
        return power
    step = power // 16
    return -(-int(n) // step) * step


@dataclass
class _Program:
    """A law's structure compiled once: log-density in JAX, its start point and transforms."""

    value_names: list[str]      # transformed (unconstrained) variables, in sampler order
    value_shapes: list[tuple]
    initial: list[np.ndarray]   # the model's initial point, transformed scale
    free: list[str]             # posterior variable names (constrained), as pm.sample stores them
    free_dims: dict[str, tuple]
    input_names: list[str]
    logp: object                # jax function (*values, *inputs, y, idx, mask[, c, L]) -> log density
    constrain: object           # jax function (*values[, c, L]) -> constrained free variables
    runners: dict
    dtype: str = "float64"      # floating dtype of the values, data and log-density
    centred: list = None        # preconditioned centred parameters (two more data arguments)
    n_affine: int = 0           # data arguments of the affine maps (2, or 4 when conditioned)


def _structure_key(law, n_families: int, input_names, dtype: str = "float64") -> str:
    return json.dumps([law.spec(), n_families, list(input_names), dtype], sort_keys=True,
                      default=str)


def _program(law, n_families: int, input_names: Sequence[str], *,
             float32: bool = False) -> _Program:
    """Build (or reuse) the JAX log-density of ``law`` with data as arguments.

    With ``float32`` the model is built with PyTensor's ``floatX = float32``: parameters, data
    and every per-row operation are single precision (the log-density's final sums are
    accumulated in float64 by PyTensor and cast back).
    """
    dtype = "float32" if float32 else "float64"
    key = _structure_key(law, n_families, input_names, dtype)
    if key in _PROGRAMS:
        return _PROGRAMS[key]
    sampling.ensure_jax()
    import pytensor
    import pytensor.tensor as pt
    from pymc.sampling.jax import get_jaxified_graph

    families = [f"family_{i}" for i in range(n_families)]
    with pytensor.config.change_flags(floatX=dtype):
        x = {name: pt.vector(f"x_{name}", dtype=dtype) for name in input_names}
        y = pt.vector("y", dtype=dtype)
        idx = pt.vector("family_idx", dtype="int64")
        mask = pt.vector("mask", dtype=dtype)
        table = data_mod.RunTable(frame=pd.DataFrame(), x=x, y=y, family=np.array([]))
        # centred parameters: each table's per-family affine maps are arguments too
        centred = precondition.centred_names(law, n_families)
        affine = ([pt.matrix("affine_c", dtype=dtype), pt.tensor3("affine_L", dtype=dtype)]
                  if centred else [])
        if centred and precondition.conditioned_names(law, n_families):
            affine += [pt.tensor3("affine_B", dtype=dtype), pt.matrix("affine_a", dtype=dtype)]
        model = build_model(law, table, families, idx, affine=affine or None)
        observed = model.observed_RVs
        prior_terms = model.logp(vars=list(model.free_RVs) + list(model.potentials), sum=False)
        (lik,) = model.logp(vars=observed, sum=False)
        total = pt.sum([pt.sum(t) for t in prior_terms]) + pt.sum(mask * lik)
        inputs = list(model.value_vars) + list(x.values()) + [y, idx, mask] + affine
        logp = get_jaxified_graph(inputs=inputs, outputs=[pt.cast(total, dtype)])
        free = [rv.name for rv in model.free_RVs] + precondition.mapped_names(law, n_families)
        constrained = [v for v in model.unobserved_value_vars if v.name in free]
        constrain = get_jaxified_graph(inputs=list(model.value_vars) + affine,
                                       outputs=constrained)
        point = model.initial_point()
    program = _Program(
        value_names=[v.name for v in model.value_vars],
        value_shapes=[tuple(point[v.name].shape) for v in model.value_vars],
        initial=[np.asarray(point[v.name], dtype=float) for v in model.value_vars],
        free=[v.name for v in constrained],
        free_dims={name: tuple(model.named_vars_to_dims.get(name, ())) for name in free},
        input_names=list(input_names), logp=logp, constrain=constrain, runners={},
        dtype=dtype, centred=centred, n_affine=len(affine))
    _PROGRAMS[key] = program
    return program


def start_is_finite(law, table, *, float32: bool = False) -> bool:
    """Whether the log-density that NUTS samples is finite at the model's initial point on
    ``table``: the quick first half of :func:`bayeslaws.model.check_start`.

    Evaluates the compiled program's joint log-density (priors, Jacobians, every row's
    likelihood) once, jitted (cached on disk by JAX's compile cache like the sampler), instead
    of compiling a PyTensor function of every term. A finite sum means every term is finite, so
    the full check, which names the bad prior or rows, is needed only when this says False.
    Returns False, leaving the decision to the full check, for a float32 program or a centred
    one (whose start point is the affine maps', not the model's initial point).
    """
    if float32:
        return False
    n_fam = len(table.families)
    program = _program(law, n_fam, sorted(table.x))
    if program.centred and n_fam > 1:
        return False
    sampling.enable_compilation_cache()
    import jax

    if "start" not in program.runners:
        program.runners["start"] = jax.jit(program.logp)
    # padded as the sampler pads (copies of row 0, mask 0), so tables of one padded size share
    # the compiled check; a bad row 0 makes a padded row NaN too, and the full check names it
    n, rows = len(table.y), padded_rows(len(table.y))

    def pad(a):
        return np.concatenate([a, np.repeat(a[:1], rows - n)])

    fam_idx = pd.Index(table.families).get_indexer(table.family).astype(np.int64)
    data = [pad(np.asarray(table.x[name], dtype=float)) for name in program.input_names]
    data += [pad(np.asarray(table.y, dtype=float)), pad(fam_idx),
             np.concatenate([np.ones(n), np.zeros(rows - n)])]
    if program.centred:  # one family: mu = c + L w, at w = 0 the pilot's centre
        data += affine_data(law, table, n_fam, program)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        (value,) = program.runners["start"](*program.initial, *data)
    return bool(np.isfinite(np.asarray(value)))


def _runner(program: _Program, *, chains: int, draws: int, tune: int, target_accept: float,
            lanes: int, shards: int, dense_mass: bool = False, vectorized: bool | None = None):
    """The jitted sampler for ``lanes`` (table x chain) lanes split over ``shards`` devices."""
    sampling.ensure_jax()
    import jax

    if vectorized is None:
        vectorized = jax.default_backend() != "cpu"
    key = (chains, draws, tune, float(target_accept), lanes, shards, dense_mass, vectorized)
    if key in program.runners:
        return program.runners[key]
    import jax.numpy as jnp
    from numpyro.infer.hmc import hmc

    n_values = len(program.value_names)
    n_affine = program.n_affine

    def potential_fn_gen(data):
        def potential(z):
            return -program.logp(*z, *data)[0]
        return potential

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")
    every = progress_every(tune, draws)

    def tick(i):
        # a host callback every `every` iterations feeds the progress line (PROGRESS); it is
        # always compiled in, so showing progress or not runs the same program (same draws)
        jax.lax.cond((i + 1) % every == 0, lambda: jax.debug.callback(PROGRESS.tick),
                     lambda: None)

    def one_lane(rng_key, z0, data, imm=None):
        state = init_kernel(list(z0), num_warmup=tune, target_accept_prob=target_accept,
                            dense_mass=dense_mass, model_args=(data,), rng_key=rng_key,
                            inverse_mass_matrix=imm)

        def warm(s, i):
            tick(i)
            return sample_kernel(s, model_args=(data,)), None

        def keep(s, i):
            tick(tune + i)
            s = sample_kernel(s, model_args=(data,))
            return s, (s.z, s.diverging, s.num_steps, s.adapt_state.step_size, s.accept_prob,
                       s.potential_energy, s.energy)

        state, _ = jax.lax.scan(warm, state, jnp.arange(tune))
        _, out = jax.lax.scan(keep, state, jnp.arange(draws))
        values = out[0]
        affine = data[len(data) - n_affine:] if n_affine else []
        constrained = jax.vmap(lambda *v: program.constrain(*v, *affine))(*values[:n_values])
        return constrained, out[1:]

    if vectorized:
        # GPU: all lanes in lockstep; each leapfrog step evaluates every lane at once
        batched = jax.vmap(one_lane)
    else:
        # CPU: lanes one after another on each core; lockstep would make every lane wait for
        # the longest trajectory of the batch (measured 1.3-2x slower per lane on 2 cores)
        def batched(keys, z0, data, *imm):
            return jax.lax.map(lambda args: one_lane(*args), (keys, z0, data, *imm))
    pmapped = shards > 1
    compiled = jax.pmap(batched) if pmapped else jax.jit(batched)

    def split(a):
        a = np.asarray(a)
        return a.reshape((shards, lanes) + a.shape[1:]) if pmapped else a

    def merge(a):
        a = np.asarray(a)
        return a.reshape((shards * lanes,) + a.shape[2:]) if pmapped else a

    def run(keys, z0, data, imm=None):
        """Lanes in, lanes out: ``shards * lanes`` keys, start points, data rows and (centred
        programs) initial diagonal inverse mass matrices."""
        extra = [] if imm is None else [split(imm)]
        with _precision(program.dtype):
            constrained, stats = compiled(split(keys), [split(v) for v in z0],
                                          [split(a) for a in data], *extra)
            return [merge(c) for c in constrained], [merge(s) for s in stats]

    run.vectorized = vectorized
    program.runners[key] = run
    return run


def _chees_runner(program: _Program, *, chains: int, draws: int, tune: int,
                  target_accept: float, units: int, shards: int, dense_mass: bool = False,
                  vectorized: bool | None = None):
    """The jitted ChEES-HMC sampler (:mod:`bayeslaws.chees`) for ``units`` fits per device over
    ``shards`` devices, each fit an ensemble of ``chains`` chains.

    Takes and returns the lanes of :func:`_runner` (``shards * units * chains`` keys, start points,
    data rows, initial inverse mass matrices; lanes of one fit are consecutive), so the data,
    start points and pilot of :func:`_sample_group` serve both samplers. Returns one more array:
    the warm-up's leapfrog steps per fit. On CPU the fits of a device run one after another
    (``lax.map``); on a GPU they are ``vmap``-ed, and each iteration's leapfrog loop runs for the
    longest of the fits' trajectories, the shorter ones masked (their chains all take the same
    number of steps, so no lane waits for another lane of its own fit).
    """
    sampling.ensure_jax()
    import jax

    if vectorized is None:
        vectorized = jax.default_backend() != "cpu"
    key = ("chees", chains, draws, tune, float(target_accept), units, shards, dense_mass,
           vectorized)
    if key in program.runners:
        return program.runners[key]
    import jax.numpy as jnp

    n_values = len(program.value_names)
    n_affine = program.n_affine
    sizes = [int(np.prod(s, dtype=int)) for s in program.value_shapes]
    bounds = np.cumsum([0] + sizes)

    def unflatten(x):
        return [x[..., bounds[j]:bounds[j + 1]].reshape(x.shape[:-1] + program.value_shapes[j])
                for j in range(n_values)]

    def potential(x, data):
        return -program.logp(*unflatten(x), *data)[0]

    every = progress_every(tune, draws)

    def tick(i):
        # as in _runner: one host callback every `every` iterations of a fit (not of a chain:
        # the chains of a fit move together), compiled in whether progress is shown or not
        jax.lax.cond((i + 1) % every == 0, lambda: jax.debug.callback(PROGRESS.tick),
                     lambda: None)

    run_fit = chees.make_sampler(potential, chains=chains, draws=draws, tune=tune,
                                 target_accept=target_accept, dense=dense_mass, tick=tick)

    def one_fit(rng_key, x0, data, imm):
        positions, stats, warm_steps = run_fit(rng_key, x0, data, imm)
        positions = jnp.swapaxes(positions, 0, 1)                       # (chains, draws, d)
        affine = data[len(data) - n_affine:] if n_affine else []
        flat = positions.reshape((chains * draws, -1))
        constrained = jax.vmap(lambda x: program.constrain(*unflatten(x), *affine))(flat)
        constrained = [c.reshape((chains, draws) + c.shape[1:]) for c in constrained]
        return constrained, [jnp.swapaxes(s, 0, 1) for s in stats], warm_steps

    if vectorized:
        batched = jax.vmap(one_fit)
    else:
        def batched(keys, x0, data, imm):
            return jax.lax.map(lambda args: one_fit(*args), (keys, x0, data, imm))
    pmapped = shards > 1
    compiled = jax.pmap(batched) if pmapped else jax.jit(batched)

    def split(a, per_lane=False):
        # lanes -> (shards, units[, chains], ...); per-fit arrays take the fit's first lane
        a = np.asarray(a)
        a = a.reshape((shards * units, chains) + a.shape[1:])
        if not per_lane:
            a = a[:, 0]
        return a.reshape((shards, units) + a.shape[1:]) if pmapped else a

    def merge(a):
        a = np.asarray(a)  # (shards, units, chains, draws, ...) or (units, chains, draws, ...)
        lead = 3 if pmapped else 2
        return a.reshape((int(np.prod(a.shape[:lead])),) + a.shape[lead:])

    def run(keys, z0, data, imm=None):
        """Lanes in, lanes out (as :func:`_runner`), plus warm-up leapfrog steps per fit."""
        x0 = np.concatenate([np.asarray(v).reshape(len(v), -1) for v in z0], axis=1)
        if imm is None:
            imm = np.ones_like(x0)
        with _precision(program.dtype):
            constrained, stats, warm = compiled(split(keys), split(x0, per_lane=True),
                                                [split(a) for a in data], split(imm))
            constrained = [merge(c) for c in constrained]
            stats = [merge(s) for s in stats]
            return constrained, stats, np.asarray(warm).reshape(-1)

    run.vectorized = vectorized
    program.runners[key] = run
    return run


#: Iterations of the BFGS pilot over the global values of a centred program (see :func:`_pilot`;
#: 0 switches the pilot off, for ``benchmarks/precondition_steps.py``).
PILOT_ITERATIONS = 100
#: Rounds of the pilot: BFGS, rescaled by the curvature at the start of each round.
PILOT_ROUNDS = 2


def _pilot(program: _Program):
    r"""The jitted global pilot of a centred program: ``(data, z) -> (z*, imm)``.

    With the per-family maps (:mod:`bayeslaws.precondition`) each ``centred_w`` is close to a
    standard normal, but the global values (population means and scales, the noise scale) are
    not: with many rows the log noise scale is pinned to about :math:`1/\sqrt{2n}`. Started from
    the model's initial point with an identity mass matrix, NUTS must then step that finely in
    every direction until its first mass-matrix window closes (about 40% of the wall time of a
    20k-row fit). The pilot maximises the log-density over the global values with every
    ``centred_w`` at 0 (BFGS in curvature-scaled coordinates, :data:`PILOT_ROUNDS` rounds of at
    most :data:`PILOT_ITERATIONS` steps) and returns that point and the
    inverse of the log-density's Hessian diagonal there (1 for ``centred_w``): a start point and
    an initial diagonal inverse mass matrix. The warm-up adapts both as usual; the posterior is
    unchanged.
    """
    if "pilot" in program.runners:
        return program.runners["pilot"]
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree
    from jax.scipy.optimize import minimize

    w_at = program.value_names.index("centred_w")
    glob = [np.asarray(v) for j, v in enumerate(program.initial) if j != w_at]
    _, unravel = ravel_pytree([jnp.asarray(v) for v in glob])
    w_shape = program.value_shapes[w_at]

    def values(v, w):
        out = list(unravel(v))
        out.insert(w_at, w)
        return out

    def potential(v, w, data):
        return -program.logp(*values(v, w), *data)[0]

    grad = jax.grad(potential)

    def curvature(v, w, data):
        """Diagonal of the potential's Hessian at v (one Hessian-vector product per value)."""
        def hvp(e):
            return jax.jvp(lambda u: grad(u, w, data), (v,), (e,))[1]
        return jnp.diagonal(jax.vmap(hvp)(jnp.eye(v.size, dtype=v.dtype)))

    def pilot(data, z):
        v, _ = ravel_pytree([z[j] for j in range(len(z)) if j != w_at])
        w0 = jnp.zeros(w_shape, v.dtype)
        best = potential(v, w0, data)
        # BFGS in coordinates scaled by the curvature (the values' scales differ by orders of
        # magnitude: BFGS from an identity Hessian stalls), rescaled once on the way
        for _ in range(PILOT_ROUNDS):
            h = curvature(v, w0, data)
            s = jnp.where(jnp.isfinite(h) & (jnp.abs(h) > 1e-8), jnp.abs(h), 1.0) ** -0.5
            res = minimize(lambda u, s=s, v=v: potential(v + s * u, w0, data),
                           jnp.zeros_like(v), method="BFGS",
                           options={"maxiter": PILOT_ITERATIONS})
            step = v + s * res.x
            ok = jnp.isfinite(res.fun) & jnp.all(jnp.isfinite(step)) & (res.fun < best)
            v, best = jnp.where(ok, step, v), jnp.where(ok, res.fun, best)
        h = curvature(v, w0, data)
        inv = jnp.where(jnp.isfinite(h) & (h > 0), 1.0 / jnp.maximum(h, 1e-12), 1.0)
        inv = jnp.clip(inv, 1e-10, 1e2)
        z_star, imm = values(v, w0), values(inv, jnp.ones(w_shape, v.dtype))
        return z_star, jnp.concatenate([jnp.ravel(a) for a in imm])

    program.runners["pilot"] = jax.jit(pilot)
    return program.runners["pilot"]


@contextlib.contextmanager
def _precision(dtype: str):
    """Trace and run a float32 program with JAX's 64-bit mode off (PyMC turns it on for the
    process): numpyro's NUTS then keeps its tree state in single precision too, and constants
    that PyTensor's JAX translation writes as float64 become float32."""
    if dtype != "float32":
        yield
        return
    import jax

    with jax.enable_x64(False), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Explicitly requested dtype.*")
        yield


def _shards(lanes: int) -> int:
    """Devices to split lanes over: every CPU core (JAX host devices), one GPU.

    On CPU at least two whenever JAX has two host devices, even for one lane or one core: XLA
    compiles a one-device program differently from a multi-device one (a lane's gradient then
    differs in the last bits, and NUTS trajectories amplify that), while programs over 2, 4, ...
    devices with any number of lanes per device give a lane bitwise the same draws. So a table's
    draws do not depend on the size of its batch or on the machine's core count.
    """
    sampling.ensure_jax()
    import jax

    if jax.default_backend() != "cpu":
        return 1
    devices = jax.local_device_count()
    if devices < 2:
        return 1
    return max(2, min(devices, os.cpu_count() or 1, lanes))


def fit_many(law, datasets: Sequence[pd.DataFrame], *, seed: int = 0, draws: int = 1000,
             tune: int = 1000, chains: int | None = None, target_accept: float | None = None,
             family_column: str = "family", extrapolation: str | None = None,
             progress: bool = False, cluster=None, chunk_size: int | None = None,
             dense_mass: bool = False, float32: bool = False, sampler: str = "nuts") -> list:
    """Fit ``law`` to each table in ``datasets`` in one compiled, batched program (NUTS or
    ChEES-HMC).

    Parameters
    ----------
    law : bayeslaws.laws.Law
    datasets : sequence of pandas.DataFrame
        Run tables, each as :meth:`bayeslaws.laws.Law.fit` takes it. Tables with different
        numbers of families run as separate batches (the hierarchy differs); rows may differ.
    seed : int
        Master seed. Table ``k`` (its position in ``datasets``) draws from its own stream,
        derived from ``(seed, k)``: its draws do not depend on the other tables of the call, on
        how they are batched, or on whether the call runs locally or on a cluster.
    draws, tune, chains : int
        Kept draws, warm-up steps and chains per table (default chains: 4 for NUTS,
        :data:`bayeslaws.chees.CHAINS` for ChEES, whose warm-up learns from the ensemble).
    target_accept : float, optional
        Target acceptance: NUTS's mean (default 0.9), or ChEES's harmonic mean over the chains
        (default :data:`bayeslaws.chees.TARGET_ACCEPT`, 0.651); tables with divergences are
        rerun once at 0.99, as in ``fit``.
    extrapolation : {"backtest", None}
        Stored in each fit's config (see :meth:`bayeslaws.laws.Law.fit`); None by default since
        batched fits are mostly the backtests themselves.
    progress : bool
        Print one line per compiled batch (tables, lanes, seconds).
    cluster : None, str or distributed.Client
        None (default): run here. A Dask scheduler address (``"tcp://host:8786"``) or a
        :class:`distributed.Client`: split the tables into chunks, fit each chunk on a Dask
        worker with this same batched sampler, and gather the results here (needs
        ``pip install 'bayeslaws[distributed]'``). The fits are identical to a local run.
    chunk_size : int, optional
        Tables per Dask task (with ``cluster``); default: the tables split evenly over the
        cluster's workers.
    dense_mass : bool
        Adapt a dense mass matrix per chain (see :func:`bayeslaws.sampling.sample`).
    float32 : bool
        Single precision (see :meth:`bayeslaws.laws.Law.fit`).
    sampler : {"nuts", "chees"}
        ``"nuts"`` (default): numpyro's NUTS, each chain adapting its own step size and mass
        matrix. ``"chees"``: ChEES-HMC (:mod:`bayeslaws.chees`): each fit's chains share one
        step size, trajectory length and preconditioner adapted from the ensemble, and take the
        same number of leapfrog steps per iteration (suited to a GPU, where NUTS lanes wait for
        the longest trajectory). Same log-density, start points, pilot and convergence rule;
        the sampler is recorded in each fit's config (``"chees-batched"``).

    Returns
    -------
    list of bayeslaws.fit.Fit
        In the order of ``datasets``.

    Raises
    ------
    SpecError
        Bad settings, or a table without the target column.
    ClusterError
        ``cluster`` is an address no Dask scheduler answers at.
    ImportError
        ``cluster`` is given but Dask's ``distributed`` is not installed.
    """
    if extrapolation not in EXTRAPOLATION:
        raise SpecError(f"extrapolation must be one of {EXTRAPOLATION}, not {extrapolation!r}")
    if sampler not in SAMPLERS:
        raise SpecError(f"sampler must be one of {SAMPLERS}, not {sampler!r}: 'nuts' (numpyro's "
                        "NUTS, the default) or 'chees' (ChEES-HMC ensembles, for a GPU)")
    chains = DEFAULT_CHAINS[sampler] if chains is None else chains
    target_accept = DEFAULT_TARGET_ACCEPT[sampler] if target_accept is None else target_accept
    for name, value in (("draws", draws), ("tune", tune), ("chains", chains)):
        if int(value) < 1:
            raise SpecError(f"{name} must be a positive integer, not {value}")
    if chunk_size is not None and int(chunk_size) < 1:
        raise SpecError(f"chunk_size must be a positive integer, not {chunk_size}")
    if len(datasets) == 0:
        return []
    tables = [data_mod.prepare(law, d, family_column=family_column) for d in datasets]
    for i, t in enumerate(tables):
        if t.y is None:
            raise SpecError(f"table {i} has no target column {law.target!r} to fit")
    # the padded row count of each model structure is fixed by the whole call, so that a table's
    # program (and so its draws) does not depend on which tables share its batch or chunk
    rows: dict[int, int] = {}
    for t in tables:
        n_fam = len(t.families)
        rows[n_fam] = max(rows.get(n_fam, MIN_ROWS), padded_rows(len(t.y)))
    settings = {"seed": int(seed), "draws": int(draws), "tune": int(tune), "chains": int(chains),
                "target_accept": float(target_accept), "progress": bool(progress),
                "dense_mass": bool(dense_mass), "float32": bool(float32)}
    if sampler != "nuts":  # (NUTS settings stay as they were: older Dask workers take them)
        settings["sampler"] = sampler
    # the law each table is fitted with, as law.fit binds it (bnsl's default break range follows
    # the table's input range); tables whose bound laws differ run as separate programs
    bound = [law.bind(t) for t in tables]
    by_law: dict[str, list[int]] = {}
    for i, b in enumerate(bound):
        by_law.setdefault(json.dumps(b.spec(), sort_keys=True, default=str), []).append(i)
    results: list = [None] * len(tables)
    for members in by_law.values():
        sub = [tables[i] for i in members]
        if cluster is None:
            part = _sample_tables(bound[members[0]], sub, members, rows, **settings)
        else:
            # the workers run this module's _sample_tables on their chunks (passed by reference,
            # so bayeslaws.cluster never imports the batch layer above it)
            part = sample_on_cluster(bound[members[0]], sub, rows, settings, cluster=cluster,
                                     chunk_size=chunk_size, indices=members,
                                     runner=_sample_tables)
        for i, result in zip(members, part):
            results[i] = result
    config = {"seed": int(seed), "draws": int(draws), "tune": int(tune), "chains": int(chains),
              "sampler": sampling.BATCHED_CHEES if sampler == "chees" else sampling.BATCHED,
              "target_accept": float(target_accept),
              "family_column": family_column, "retried": False, "extrapolation": extrapolation,
              "dense_mass": bool(dense_mass), "float32": bool(float32)}
    fits: list = []
    for table, fitted_law, (idata, used_accept, report) in zip(tables, bound, results):
        cfg = dict(config)
        if used_accept != float(target_accept):
            cfg.update(retried=True, target_accept=used_accept)
        cfg.update(reseeded(idata))
        fit = Fit(fitted_law, idata, table.frame, cfg, table.families, _fresh=True)
        with warnings.catch_warnings():
            fit.convergence = diagnostics.warn_if_unconverged(report, stacklevel=3)
        fits.append(fit)
    return fits


def affine_data(law, table, n_fam: int, program, pilot: bool = True) -> list[np.ndarray]:
    """The affine-map arguments of a centred ``program`` for one table
    (:func:`bayeslaws.precondition.affine_maps`; four when conditioned on non-centred
    parameters; ``pilot=False``: the prior's maps)."""
    idx = pd.Index(table.families).get_indexer(table.family)
    cond = precondition.conditioned_names(law, n_fam) if program.n_affine == 4 else None
    maps = precondition.affine_maps(law, table.x, table.y, idx, n_fam, program.centred, cond,
                                    pilot=pilot)
    return [np.asarray(m, dtype=float) for m in maps]


def sample_table(law, table, *, seed: int, draws: int, tune: int, chains: int,
                 target_accept: float, progress: bool = False, dense_mass: bool = False,
                 float32: bool = False) -> tuple:
    """One prepared table through the compiled-once program: the numpyro path of ``law.fit``.

    ``law`` is the law bound to ``table`` (:meth:`bayeslaws.laws.Law.bind`). A later fit of the
    same law structure and padded size in this process reuses the compiled program (no model
    rebuild, no translation to JAX, no XLA compile); a fresh process reads it from JAX's
    persistent cache. Returns ``(DataTree, target_accept used, diagnostics report)``; divergent
    fits are rerun once at :data:`~bayeslaws.fit.RETRY_TARGET_ACCEPT`.
    """
    rows = {len(table.families): padded_rows(len(table.y))}
    (result,) = _sample_tables(law, [table], [0], rows, seed=seed, draws=draws, tune=tune,
                               chains=chains, target_accept=target_accept, progress=progress,
                               dense_mass=dense_mass, float32=float32)
    return result


def _sample_tables(law, tables, indices: Sequence[int], rows: dict[int, int], *, seed: int,
                   draws: int, tune: int, chains: int, target_accept: float,
                   progress: bool = False, dense_mass: bool = False,
                   float32: bool = False, sampler: str = "nuts") -> list[tuple]:
    """Sample prepared tables (``indices``: their positions in the caller's list; ``rows``: the
    padded row count per number of families). Tables with divergences are rerun once at
    :data:`~bayeslaws.fit.RETRY_TARGET_ACCEPT`.

    Returns one ``(DataTree, target_accept used, diagnostics report)`` per table, in order. This is
    what a Dask worker runs on its chunk (:mod:`bayeslaws.distributed`).
    """
    sampling.enable_compilation_cache()
    out: list = [None] * len(tables)
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(tables):
        groups.setdefault(len(t.families), []).append(i)
    kw = dict(seed=seed, draws=draws, tune=tune, chains=chains, progress=progress,
              dense_mass=dense_mass, float32=float32, sampler=sampler)
    for n_fam, members in groups.items():
        def rerun(ks, js, accept, pilot, **over):
            """Sample members ``ks[j]`` for ``j`` in ``js`` again (``over``: changed settings)."""
            return _sample_group(law, [tables[members[ks[j]]] for j in js], n_fam,
                                 indices=[indices[members[ks[j]]] for j in js],
                                 rows=rows[n_fam], target_accept=accept, pilot=pilot,
                                 **(kw | over))

        def run(ks, pilot=True):
            """Sample members ``ks``; rerun those with divergences at the retry target, and
            those with a chain in a second mode from a fresh random stream."""
            idatas = rerun(ks, range(len(ks)), target_accept, pilot)
            reports = [diagnostics.diagnose(idata, _free(law, idata)) for idata in idatas]
            accepts = [float(target_accept)] * len(ks)
            retry = [j for j, r in enumerate(reports) if r["divergences"]]
            if retry and target_accept < RETRY_TARGET_ACCEPT:
                for j, idata in zip(retry, rerun(ks, retry, RETRY_TARGET_ACCEPT, pilot)):
                    idatas[j] = idata
                    reports[j] = diagnostics.diagnose(idata, _free(law, idata))
                    accepts[j] = float(RETRY_TARGET_ACCEPT)
            # A chain that sits in a second mode (diagnostics.second_modes) is most often a
            # chain that started badly and never left (seen: alpha ~ 3e-4 and sigma ~ 0 in one
            # chain of four on a table where the other three and every other seed agree). More
            # draws do not help; a rerun from another random stream does. A mode with real
            # posterior mass can turn up again in the rerun, and then the warning names it. The
            # run with fewer problems is kept (ties: the first).
            stuck = [j for j, r in enumerate(reports) if r["modes"] and diagnostics.problems(r)]
            for accept in sorted({accepts[j] for j in stuck}):
                js = [j for j in stuck if accepts[j] == accept]
                for j, idata in zip(js, rerun(ks, js, accept, pilot, seed=seed + RESEED)):
                    report = diagnostics.diagnose(idata, _free(law, idata))
                    if _worse(reports[j], report):
                        idata["sample_stats"].attrs["reseeded"] = int(seed + RESEED)
                        idatas[j], reports[j] = idata, report
            return list(zip(idatas, accepts, reports))

        done = run(list(range(len(members))))
        if n_fam == 1 and precondition.centred_names(law, 1):
            # One family through the Laplace pilot's map (bayeslaws.precondition): where the
            # posterior is far from Gaussian the map can serve NUTS worse than the plain
            # geometry (the task law on Pythia's LAMBADA runs: R-hat 1.032, bulk ESS 125), so a
            # fit that fails the rule is rerun with the prior's map, and the better one is kept.
            program = _program(law, 1, sorted(tables[members[0]].x), float32=bool(float32))
            redo = [k for k, (_, _, r) in enumerate(done) if diagnostics.problems(r)
                    and _piloted(law, tables[members[k]], program)]
            if redo:
                for k, again in zip(redo, run(redo, pilot=False)):
                    if _worse(done[k][2], again[2]):
                        again[0]["sample_stats"].attrs["one_family_map"] = "prior (rerun)"
                        done[k] = again
        for k, i in enumerate(members):
            out[i] = done[k]
    return out


#: Offset of the seed of the one rerun of a fit with a chain in a second mode (any fixed number
#: gives another random stream; the rerun is as reproducible as the fit).
RESEED = 7919


def reseeded(idata) -> dict:
    """``{"reseeded": seed}`` for a fit whose draws come from the rerun after a chain sat in a
    second mode (the seed of that rerun), else ``{}``: what a fit's config records."""
    seed = idata["sample_stats"].attrs.get("reseeded") if "sample_stats" in idata.children \
        else None
    return {} if seed is None else {"reseeded": int(seed)}


def _piloted(law, table, program) -> bool:
    """Whether a one-family ``table`` was sampled through its pilot's map rather than the
    prior's (too few runs, or a failed pilot, give the prior's: a rerun would repeat the fit)."""
    mapped = affine_data(law, table, 1, program)
    prior = affine_data(law, table, 1, program, pilot=False)
    return any(not np.array_equal(a, b) for a, b in zip(mapped, prior))


def _worse(first: dict, second: dict) -> bool:
    """Whether diagnostics report ``first`` is worse than ``second``: more problems, then a
    larger worst R-hat."""
    a, b = len(diagnostics.problems(first)), len(diagnostics.problems(second))
    if a != b:
        return a > b
    return max(first["rhat"].values(), default=1.0) > max(second["rhat"].values(), default=1.0)


def _free(law, idata) -> list[str]:
    return list(idata["posterior"].data_vars)


def _sample_group(law, tables, n_fam: int, *, indices, rows: int, seed, draws, tune, chains,
                  target_accept, progress, dense_mass=False, float32=False,
                  sampler="nuts", pilot: bool = True) -> list:
    """Sample tables that share a model structure; returns one DataTree per table.

    ``indices`` are the tables' positions in the caller's list and ``rows`` the padded row count
    fixed for the whole call: table ``k``'s random stream (NUTS key, start-point jitter) depends on
    ``seed`` and ``k`` only, so its draws do not depend on which other tables share its batch.
    """
    sampling.ensure_jax()
    import jax

    input_names = sorted(tables[0].x)
    program = _program(law, n_fam, input_names, float32=bool(float32))
    if rows < max(len(t.y) for t in tables):
        raise ValueError(f"rows={rows} is fewer than the largest table's rows")
    n_tab = len(tables)
    lanes = n_tab * chains
    forced = sampling.forced_chain_method()  # BAYESLAWS_CHAIN_METHOD, for benchmarks/speed.py
    vectorized = True if forced == "vectorized" else None
    ensemble = sampler == "chees"  # ChEES: a fit's chains move together, so shard fits
    units = n_tab if ensemble else lanes
    shards = 1 if forced in ("vectorized", "sequential") else _shards(units)
    per_shard = -(-units // shards)
    total = per_shard * shards * (chains if ensemble else 1)

    # data per lane: each table's arrays padded to `rows` (copies of row 0, mask 0)
    def pad(a, fill):
        out = np.full(rows, fill, dtype=a.dtype)
        out[: len(a)] = a
        return out

    cols = {name: [] for name in input_names}
    ys, idxs, masks = [], [], []
    for t in tables:
        fam_idx = pd.Index(t.families).get_indexer(t.family).astype(np.int64)
        for name in input_names:
            cols[name].append(pad(np.asarray(t.x[name], dtype=float), float(t.x[name][0])))
        ys.append(pad(np.asarray(t.y, dtype=float), float(t.y[0])))
        idxs.append(pad(fam_idx, 0))
        mask = np.zeros(rows)
        mask[: len(t.y)] = 1.0
        masks.append(mask)
    per_table = [np.stack(cols[name]) for name in input_names] + [np.stack(ys), np.stack(idxs),
                                                                  np.stack(masks)]
    if program.centred:  # each table's own pilot (bayeslaws.precondition), from its real rows
        maps = [affine_data(law, t, n_fam, program, pilot=pilot) for t in tables]
        per_table += [np.stack([m[j] for m in maps]) for j in range(program.n_affine)]
    # extra lanes (to fill the last shard) repeat the last lane; their draws are dropped
    lane_of = np.minimum(np.arange(total), lanes - 1)
    if ensemble:  # extra fits repeat the last table's lanes whole
        fit_of = np.minimum(np.arange(per_shard * shards), n_tab - 1)
        lane_of = (fit_of[:, None] * chains + np.arange(chains)).ravel()
    data = [a[lane_of // chains] for a in per_table]
    if program.dtype == "float32":  # 32-bit throughout (JAX's 64-bit mode is off for it)
        data = [a.astype(np.int32 if a.dtype.kind == "i" else np.float32) for a in data]

    # per-table random streams: NUTS keys from fold_in(PRNGKey(seed), k), and start points =
    # the model's initial point with PyMC's uniform(-1, 1) jitter from a Generator seeded (seed, k)
    keys = np.concatenate([np.asarray(jax.random.split(
        jax.random.fold_in(jax.random.PRNGKey(int(seed)), int(k)), chains)) for k in indices])
    jitter = [[] for _ in program.initial]
    for k in indices:
        rng = np.random.default_rng([int(seed), 0xB47C, int(k)])
        for j, v in enumerate(program.initial):
            jitter[j].append(v[None] + rng.uniform(-1, 1, (chains, *v.shape)))
    keys = keys[lane_of]
    imm = None
    if program.centred and PILOT_ITERATIONS > 0:
        # each table's global pilot (start point, initial inverse mass); the chains start at
        # the pilot point plus the same uniform(-1, 1) jitter scaled by sqrt(inverse mass)
        pilot = _pilot(program)
        starts, imms = [], []
        with _precision(program.dtype):
            for k in range(n_tab):
                lane = [a[k * chains] for a in data]
                z_star, inv = pilot(lane, [np.asarray(v, program.dtype) for v in program.initial])
                starts.append([np.asarray(v, dtype=float) for v in z_star])
                imms.append(np.asarray(inv, dtype=float))
        offset = 0
        for j, v in enumerate(program.initial):
            size = int(np.prod(v.shape, dtype=int))
            for t_pos in range(n_tab):
                u = jitter[j][t_pos] - v[None]  # the uniform(-1, 1) draws
                scale = np.sqrt(imms[t_pos][offset:offset + size]).reshape(v.shape)
                jitter[j][t_pos] = starts[t_pos][j][None] + scale[None] * u
            offset += size
        imm = np.stack(imms)[lane_of // chains].astype(program.dtype)
    z0 = [np.concatenate(parts)[lane_of].astype(program.dtype) for parts in jitter]

    if ensemble:
        run = _chees_runner(program, chains=chains, draws=draws, tune=tune,
                            target_accept=target_accept, units=per_shard, shards=shards,
                            dense_mass=bool(dense_mass), vectorized=vectorized)
    else:
        run = _runner(program, chains=chains, draws=draws, tune=tune,
                      target_accept=target_accept, lanes=per_shard, shards=shards,
                      dense_mass=bool(dense_mass), vectorized=vectorized)

    start = time.perf_counter()
    if progress:
        what = f"{chains} chains" if n_tab == 1 else f"{n_tab} tables x {chains} chains"
        # ticks that arrive: one per tick-iteration of each serial unit (a NUTS lane, a ChEES
        # fit) per device; a vmap-ed batch ticks once (its tick depends on no batched value)
        serial = 1 if run.vectorized else per_shard
        PROGRESS.start(f"bayeslaws: sampling {what} ({tune} warm-up + {draws} draws"
                       f"{', ChEES-HMC' if ensemble else ''})",
                       shards * serial * ((tune + draws) // progress_every(tune, draws)))
    warm = None
    try:
        if ensemble:
            constrained, stats, warm = run(keys, z0, data, imm)
        else:
            constrained, stats = run(keys, z0, data, imm)
    finally:
        PROGRESS.stop()
    if progress and n_tab > 1 and PROGRESS.title is None:
        print(f"bayeslaws.batch: {n_tab} tables x {chains} chains, {rows} rows, {shards} shard(s): "
              f"{time.perf_counter() - start:.1f} s", flush=True)
    out = [_to_datatree(program, constrained, stats, t, k, chains, draws, tables[k].families)
           for k, t in enumerate(tables)]
    if warm is not None:  # ChEES: the warm-up's leapfrog steps per chain (gradient evaluations)
        for k, tree in enumerate(out):
            tree["sample_stats"].attrs["warmup_n_steps"] = int(warm[k])
    return out


def _to_datatree(program, constrained, stats, table, k: int, chains: int, draws: int, families):
    """One table's draws as the DataTree ``pm.sample`` would return (posterior, sample_stats)."""
    import xarray as xr

    lanes = slice(k * chains, (k + 1) * chains)
    coords = {"chain": np.arange(chains), "draw": np.arange(draws), "family": list(families),
              "centred_param": list(program.centred or [])}
    post = {}
    for name, values in zip(program.free, constrained):
        dims = ("chain", "draw") + program.free_dims.get(name, ())
        post[name] = (dims, np.asarray(values[lanes], dtype=np.float64))  # float32 too
    div, n_steps, step_size, accept, potential, energy = (s[lanes] for s in stats)
    sample_stats = {
        "diverging": (("chain", "draw"), div.astype(bool)),
        "n_steps": (("chain", "draw"), n_steps.astype(int)),
        "tree_depth": (("chain", "draw"), (np.log2(np.maximum(n_steps, 1)).astype(int) + 1)),
        "step_size": (("chain", "draw"), step_size.astype(np.float64)),
        "acceptance_rate": (("chain", "draw"), accept.astype(np.float64)),
        "lp": (("chain", "draw"), -potential.astype(np.float64)),
        "energy": (("chain", "draw"), energy.astype(np.float64)),
    }
    used = {"chain", "draw"} | {d for name in program.free for d in program.free_dims.get(name, ())}
    coords = {key: value for key, value in coords.items() if key in used}
    return xr.DataTree.from_dict({
        "posterior": xr.Dataset(post, coords=coords),
        "sample_stats": xr.Dataset(sample_stats, coords={"chain": coords["chain"],
                                                         "draw": coords["draw"]}),
    })
