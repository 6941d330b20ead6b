"""Many fits on a Dask cluster: :func:`bayeslaws.batch.fit_many` with ``cluster=``.

The tables of a ``fit_many`` call are split into chunks (by default one per worker, or
``chunk_size`` tables each); each chunk is one Dask task that runs the local batched sampler
(:func:`bayeslaws.batch._sample_tables`: one compiled program per model structure, every core of
the worker) and sends back, per table, the posterior DataTree, the target acceptance it ended with
and its diagnostics. The ``Fit`` objects are built here, in the order of the user's list. The law
travels as its spec (:meth:`bayeslaws.laws.Law.spec`, rebuilt by
:func:`bayeslaws.laws.from_spec`), with its class so that a law registered or defined only in the
calling process (:func:`bayeslaws.laws.register`, :func:`bayeslaws.laws.define`) is known on the
workers too.

Results are identical to a local run: table ``k`` samples from its own random stream (derived
from ``(seed, k)``), its rows are padded to a count fixed by the whole call, and the CPU sampler
runs each (table, chain) lane as the same compiled loop body whatever the batch around it, so a
table's draws do not depend on which chunk or worker fitted it (``tests/test_distributed.py``
checks bitwise equality). Workers must run the same versions of bayeslaws, JAX and PyMC on the
same kind of machine; a GPU worker's draws differ from a CPU worker's in the last bits.

Why Dask (``dask.distributed``) and not Ray: the work is a handful of coarse, independent tasks
(each one compiled JAX program over many lanes) whose arguments and results are small numpy
arrays, so neither an actor model, a shared object store nor Ray's scheduler buys anything here.
``distributed`` is pure Python (a ``pip install`` of a few MB against Ray's ~60 MB of native
wheels that lag new Python releases), a scheduler and workers start with two commands
(``dask scheduler``, ``dask worker tcp://HOST:8786``) or from HPC batch systems through
``dask-jobqueue``, and ``distributed.LocalCluster`` starts a real multi-process cluster inside a
test in seconds. Worker processes import :mod:`bayeslaws` (hence its ``XLA_FLAGS`` edit,
:func:`bayeslaws.sampling.set_host_devices`) before JAX is initialised, so each worker's XLA
sees one host device per core as a local run does.
"""

from __future__ import annotations

import math
import os
import warnings

from . import laws, sampling
from .errors import ClusterError, SpecError

#: Seconds to wait for a scheduler to answer (and, once connected, for a first worker).
CONNECT_TIMEOUT = 10.0

INSTALL_HINT = "pip install 'bayeslaws[distributed]'"


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "fit_many(cluster=...) runs the fits on a Dask cluster and needs Dask's distributed "
            f"scheduler, which is not installed: {INSTALL_HINT} (or pip install "
            "'dask[distributed]'). Leave cluster=None to fit here.") from exc
    return distributed


def connect(cluster):
    """``(client, owned)`` for ``cluster``: an address (a new client, ``owned``) or a Client."""
    distributed = _distributed()
    if isinstance(cluster, distributed.Client):
        return cluster, False
    if not isinstance(cluster, str):
        raise SpecError("cluster must be None, a Dask scheduler address such as "
                        f"'tcp://host:8786', or a distributed.Client, not {type(cluster).__name__}")
    try:
        client = distributed.Client(cluster, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"no Dask scheduler answers at {cluster!r} ({type(exc).__name__}: {exc}). Start one "
            "with `dask scheduler` (it prints its address, e.g. tcp://HOST:8786) and workers with "
            "`dask worker tcp://HOST:8786` on each machine, then pass that address; or leave "
            "cluster=None to fit here.") from None
    return client, True


def sample_on_cluster(law, tables, rows: dict[int, int], settings: dict, *, cluster, runner,
                      chunk_size: int | None = None, indices=None) -> list[tuple]:
    """What ``runner`` (the local batched sampler, :func:`bayeslaws.batch._sample_tables`)
    returns for all ``tables`` (at positions ``indices`` of the caller's list, default 0, 1,
    ...), computed in chunks on the Dask cluster ``cluster``. ``runner`` must be a module-level
    function: Dask sends it by reference and each worker imports it."""
    spec = law.spec()
    try:
        laws.from_spec(spec)
    except Exception as exc:  # the spec must round-trip to travel
        raise SpecError(f"law {law.name!r} cannot be rebuilt from its spec, so it cannot be "
                        f"sent to a cluster: {exc}") from exc
    client, owned = connect(cluster)
    try:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except TimeoutError:
            raise ClusterError(
                f"the Dask scheduler at {client.scheduler.address!r} has no workers; start them "
                f"with `dask worker {client.scheduler.address}`") from None
        _check_workers(client)
        n = len(tables)
        indices = list(range(n)) if indices is None else list(indices)
        if chunk_size is None:
            workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
            chunk_size = math.ceil(n / workers)
        chunks = [list(range(i, min(i + int(chunk_size), n))) for i in range(0, n, int(chunk_size))]
        futures = [client.submit(run_chunk, runner, spec, type(law), [tables[i] for i in chunk],
                                 [indices[i] for i in chunk], rows, settings, pure=False)
                   for chunk in chunks]
        parts = client.gather(futures)
    finally:
        if owned:
            client.close()
    return [result for part in parts for result in part]


def _check_workers(client) -> None:
    """Warn when a worker's JAX cannot reproduce a local run (one XLA host device: JAX was set up
    before :mod:`bayeslaws` was imported there, so a lane compiles to other last bits)."""
    sampling.ensure_jax()
    import jax

    if jax.default_backend() != "cpu" or jax.local_device_count() < 2:
        return
    single = [w for w, info in client.run(worker_info).items()
              if info["backend"] == "cpu" and info["devices"] < 2]
    if single:
        warnings.warn(
            f"Dask worker(s) {', '.join(single)} see a single XLA host device (JAX was initialised "
            "there before bayeslaws); their fits are valid but not bitwise identical to a local "
            "run. Start the workers with XLA_FLAGS=--xla_force_host_platform_device_count=8 (or "
            "import bayeslaws before anything imports JAX).", RuntimeWarning, stacklevel=4)


def _law(spec: dict, cls):
    """The law of ``spec`` on a worker, registering ``cls`` if the worker does not know it."""
    if laws._REGISTRY.get(cls.name) is not cls:
        laws.register(cls)
    return laws.from_spec(spec)


def run_chunk(runner, spec: dict, cls, tables, indices, rows, settings) -> list[tuple]:
    """A Dask task: fit one chunk of prepared tables with ``runner``, the local batched sampler."""
    return runner(_law(spec, cls), tables, indices, rows, **settings)


def worker_info() -> dict:
    """What a worker's JAX sees (run it with ``client.run(worker_info)``): backend, devices."""
    sampling.ensure_jax()
    import jax

    return {"backend": jax.default_backend(), "devices": jax.local_device_count(),
            "cpus": os.cpu_count(), "xla_flags": os.environ.get("XLA_FLAGS", "")}
