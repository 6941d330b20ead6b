"""The one place that runs the sampler: numpyro NUTS by default (GPU when JAX sees one), nutpie, or
PyMC's own NUTS.

Chains run in parallel on CPU (one XLA host device per chain: ``import bayeslaws`` makes PyMC's
``XLA_FLAGS`` edit, :func:`set_host_devices`, before anything touches JAX, and every JAX path
calls :func:`ensure_jax` first) and vectorized on a GPU. A persistent JAX compilation cache in the
user cache directory is on by default (``BAYESLAWS_JAX_CACHE=off`` disables it, a path moves
it); it is safe to delete, and a writer killed mid-write leaves nothing that later processes
fail on (:class:`_SafeCache`). ``BAYESLAWS_CHAIN_METHOD`` (``parallel``, ``vectorized`` or
``sequential``) overrides numpyro's chain method (used by ``benchmarks/speed.py`` to time both).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import sys
import warnings

from .errors import SpecError

SAMPLERS = ("numpyro", "nutpie", "pymc")
#: The sampler settings of :meth:`bayeslaws.laws.Law.fit` (a spec's ``sampler`` mapping, the CLI's
#: ``fit`` flags, and what refits of a fit inherit).
SETTINGS = ("draws", "tune", "chains", "seed", "sampler", "target_accept", "dense_mass", "float32")
#: The sampler name a batched fit (:func:`bayeslaws.batch.fit_many`) records in its config.
BATCHED = "numpyro-batched"
#: ... and one sampled by ChEES-HMC (``fit_many(sampler="chees")``, :mod:`bayeslaws.chees`).
BATCHED_CHEES = "chees-batched"


def single_sampler(name: str) -> str:
    """The :func:`sample` sampler that refits a fit made with sampler ``name`` one at a time."""
    return "numpyro" if name in (BATCHED, BATCHED_CHEES) else name


#: numpyro chain methods that ``BAYESLAWS_CHAIN_METHOD`` may force.
CHAIN_METHODS = ("parallel", "vectorized", "sequential")
_CACHE_READY = False

#: XLA's host-device flag and the count ``pymc.sampling.jax`` gives it on import (PyMC 6).
_HOST_FLAG = "--xla_force_host_platform_device_count="
HOST_DEVICES = 100
_FLAGS_SET: str | None = None


def set_host_devices() -> None:
    """Give XLA :data:`HOST_DEVICES` CPU devices through ``XLA_FLAGS``, the very edit that
    importing ``pymc.sampling.jax`` makes, without importing PyMC (seconds) or JAX.

    ``import bayeslaws`` calls it first thing, so CPU chains run in parallel (one device per
    chain) unless JAX was initialised before :mod:`bayeslaws` was imported. Only the first call
    of a process edits the variable.
    """
    global _FLAGS_SET
    if _FLAGS_SET is not None:
        return
    if "pymc.sampling.jax" not in sys.modules:  # else PyMC has made the edit already
        os.environ["XLA_FLAGS"] = with_host_devices(os.getenv("XLA_FLAGS", ""))
    _FLAGS_SET = os.environ.get("XLA_FLAGS", "")


def with_host_devices(flags: str) -> str:
    """``XLA_FLAGS`` value ``flags`` as importing ``pymc.sampling.jax`` rewrites it: its host
    device flag replaced by one of :data:`HOST_DEVICES` devices, put first.

    The code of pymc/sampling/jax.py (PyMC 6), verbatim, quirks included (its pattern removes a
    host-device flag only when whitespace follows it); tests/test_lazy_import.py checks that the
    two agree.
    """
    kept = re.sub(_HOST_FLAG + r".+\s", "", flags).split()
    return " ".join([f"{_HOST_FLAG}{HOST_DEVICES}", *kept])


def ensure_jax() -> None:
    """Call before any code that touches JAX or numpyro: sets the host devices
    (:func:`set_host_devices`) and imports ``pymc.sampling.jax`` (PyMC's JAX dispatch), keeping
    ``XLA_FLAGS`` as :func:`set_host_devices` left it (PyMC's module repeats its edit on import;
    one value keeps the compile cache's folder and child processes' flags stable)."""
    if "pymc.sampling.jax" in sys.modules and _FLAGS_SET is not None:
        return
    set_host_devices()
    flags = os.environ.get("XLA_FLAGS")
    import pymc.sampling.jax  # noqa: F401

    if flags == _FLAGS_SET:
        os.environ["XLA_FLAGS"] = flags


def cache_dir() -> str | None:
    """Directory of the persistent JAX compilation cache, or None when disabled."""
    value = os.environ.get("BAYESLAWS_JAX_CACHE", "")
    if value.lower() in ("0", "off", "false", "no"):
        return None
    if value:
        return value
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bayeslaws", "jax")


def enable_compilation_cache() -> None:
    """Turn on JAX's persistent compilation cache (once per process)."""
    global _CACHE_READY
    ensure_jax()
    if _CACHE_READY:
        return
    _CACHE_READY = True
    path = cache_dir()
    if path is None:
        return
    import hashlib

    import jax

    # One sub-folder per JAX version and XLA flag set (the flags carry the host device count):
    # processes set up differently never read each other's executables.
    flags = hashlib.sha1(os.environ.get("XLA_FLAGS", "").encode()).hexdigest()[:10]
    path = os.path.join(path, f"jax-{jax.__version__}-{flags}")
    try:
        os.makedirs(path, exist_ok=True)
        _remove_stale_temporaries(path)
        _guard_cache_entries()
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    except OSError:  # a read-only home must not stop a fit
        pass


#: Suffix of JAX's cache entries (``jax._src.lru_cache``) and of an entry being written here.
_ENTRY_SUFFIX = "-cache"
_TEMP_SUFFIX = ".partial"


def _remove_stale_temporaries(path: str, age_s: float = 3600.0) -> None:
    """Delete entries-in-writing left by killed writers (older than ``age_s``: a live writer's is
    seconds old)."""
    import time

    now = time.time()
    for name in os.listdir(path):
        if name.endswith(_TEMP_SUFFIX):
            with contextlib.suppress(OSError):
                if now - os.stat(os.path.join(path, name)).st_mtime > age_s:
                    os.remove(os.path.join(path, name))


class _SafeCache:
    """JAX's file cache (``jax._src.lru_cache.LRUCache``, no eviction) with two guards against
    a writer killed mid-write: an entry is written under a temporary name and renamed into place
    (readers see a whole entry or none), and an entry that does not decompress (one cut short by
    a killed writer of an earlier version) is deleted and reported a miss, so that it is
    compiled and written again instead of failing to read in every later process."""

    def __init__(self, base):
        self._base = base

    @property
    def _path(self):
        return self._base._path

    def _file(self, key: str):
        return self._base.path / f"{key}{_ENTRY_SUFFIX}"

    def get(self, key: str):
        from jax._src import compilation_cache

        value = self._base.get(key)
        if value is None:
            return None
        try:
            compilation_cache.decompress_executable(value)
        except Exception:  # noqa: BLE001  any unreadable entry: drop it, compile again
            with contextlib.suppress(OSError):
                self._file(key).unlink()
            return None
        return value

    def put(self, key: str, value: bytes) -> None:
        final = self._file(key)
        if final.exists():
            return
        temp = final.with_name(f"{final.name}.{os.getpid()}{_TEMP_SUFFIX}")
        try:
            temp.write_bytes(value)
            os.replace(temp, final)
        finally:
            with contextlib.suppress(OSError):
                temp.unlink()

    def clear(self):
        return self._base.clear()


def _guard_cache_entries() -> None:
    """Make JAX's file cache a :class:`_SafeCache` (once per process; JAX 0.12's private
    ``compilation_cache.get_file_cache``; left as it is where that differs, or where eviction,
    ``jax_compilation_cache_max_size``, is on)."""
    try:
        from jax._src import compilation_cache, lru_cache
    except ImportError:
        return
    make = getattr(compilation_cache, "get_file_cache", None)
    if make is None or getattr(make, "_bayeslaws", False):
        return

    def get_file_cache(path):
        made = make(path)
        if made is not None and type(made[0]) is lru_cache.LRUCache \
                and not made[0].eviction_enabled and made[0]._is_local:
            return _SafeCache(made[0]), made[1]
        return made

    get_file_cache._bayeslaws = True
    compilation_cache.get_file_cache = get_file_cache


def forced_chain_method() -> str | None:
    """The chain method forced by ``BAYESLAWS_CHAIN_METHOD``, or None when it is unset.

    Raises
    ------
    SpecError
        When the variable is set to something other than :data:`CHAIN_METHODS`.
    """
    forced = os.environ.get("BAYESLAWS_CHAIN_METHOD", "").strip().lower()
    if forced and forced not in CHAIN_METHODS:
        raise SpecError(f"BAYESLAWS_CHAIN_METHOD={forced!r} is not one of "
                        f"{', '.join(CHAIN_METHODS)}")
    return forced or None


def chain_method(chains: int) -> str:
    """numpyro's chain method: ``vectorized`` on a GPU or with fewer devices than chains, else
    ``parallel``; the environment variable ``BAYESLAWS_CHAIN_METHOD`` overrides the choice.

    Raises
    ------
    SpecError
        When ``BAYESLAWS_CHAIN_METHOD`` is set to something other than :data:`CHAIN_METHODS`.
    """
    forced = forced_chain_method()
    if forced:
        return forced
    ensure_jax()
    import jax

    if jax.default_backend() != "cpu" or jax.local_device_count() < chains:
        return "vectorized"
    return "parallel"


@contextlib.contextmanager
def _quiet(progress: bool):
    """Silence PyMC's log records and known-harmless warnings unless progress is shown."""
    logger = logging.getLogger("pymc")
    level = logger.level
    if not progress:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*There are not enough devices.*")
            warnings.filterwarnings("ignore", category=FutureWarning, module="pymc")
            yield
    finally:
        logger.setLevel(level)


def check_settings(sampler: str, *, draws: int, tune: int, chains: int,
                   float32: bool = False) -> None:
    """Raise :class:`SpecError` naming a bad sampler name, count or precision before any work
    starts."""
    if sampler not in SAMPLERS:
        hint = " (blackjax is broken through PyMC 6.4, pymc#8367)" if sampler == "blackjax" else ""
        raise SpecError(f"unknown sampler {sampler!r}{hint}; choose one of {', '.join(SAMPLERS)}")
    if sampler == "nutpie" and importlib.util.find_spec("nutpie") is None:
        raise SpecError("sampler 'nutpie' is not installed; pip install 'bayeslaws[nutpie]'")
    for name, value in (("draws", draws), ("tune", tune), ("chains", chains)):
        if int(value) < 1:
            raise SpecError(f"{name} must be a positive integer, not {value}")
    if float32 and sampler != "numpyro":
        raise SpecError(f"float32 runs with the numpyro sampler only, not {sampler!r}; drop "
                        "float32 (or --float32) or use sampler='numpyro'")


def sample(model, *, draws: int, tune: int, chains: int, seed: int, target_accept: float,
           sampler: str = "numpyro", progress: bool = False, dense_mass: bool = False):
    """Sample the free variables of ``model`` with NUTS and return an ArviZ ``DataTree``.

    Parameters
    ----------
    model : pymc.Model
    draws, tune, chains : int
        Kept draws and warm-up steps per chain, and the number of chains.
    seed : int
        Master seed; the same seed gives identical draws across processes on one machine.
    target_accept : float
        NUTS target acceptance probability.
    sampler : {"numpyro", "nutpie", "pymc"}
    progress : bool
        Show a progress bar.
    dense_mass : bool
        Adapt a dense mass matrix (the posterior's correlations) instead of a diagonal one:
        numpyro's ``dense_mass``, PyMC's ``jitter+adapt_full``, nutpie's low-rank modified mass
        matrix. Worth it for a few dozen parameters that trade off linearly; costly for
        hundreds.
    """
    ensure_jax()
    import pymc as pm

    check_settings(sampler, draws=draws, tune=tune, chains=chains)
    free = [v.name for v in model.free_RVs]
    kwargs = dict(draws=int(draws), tune=int(tune), chains=int(chains), random_seed=int(seed),
                  progressbar=progress, var_names=free, nuts_sampler=sampler)
    if sampler == "numpyro":
        enable_compilation_cache()
        kwargs["nuts"] = {"chain_method": chain_method(chains), "target_accept": target_accept,
                          "dense_mass": bool(dense_mass)}
    elif sampler == "nutpie":
        kwargs["nuts"] = {"target_accept": target_accept}
        if dense_mass:
            kwargs["nuts"]["low_rank_modified_mass_matrix"] = True
    else:
        kwargs.update(target_accept=target_accept, cores=min(chains, os.cpu_count() or 1),
                      compute_convergence_checks=False)
        if dense_mass:
            kwargs["init"] = "jitter+adapt_full"
    with _quiet(progress), model:
        return pm.sample(**kwargs)
