"""The persistent JAX compile cache in its default configuration (on; here in a folder of the
test's own): a fit killed (SIGKILL) while it compiles into the cache, and entries cut short as a
writer killed mid-write leaves them, do not stop later processes: the next fit succeeds without
a cache error and rewrites what it could not read, and the one after it compiles nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = str(Path(__file__).resolve().parents[1])
MISS = "/jax/compilation_cache/cache_misses"
HIT = "/jax/compilation_cache/cache_hits"

SCRIPT = textwrap.dedent("""
    import json, os, sys, warnings
    import numpy as np
    import bayeslaws as bl
    flags_at_import = os.environ["XLA_FLAGS"]
    import jax.monitoring
    events = {}
    def count(event, *_, **__):
        events[event] = events.get(event, 0) + 1
    jax.monitoring.register_event_listener(count)
    frame = bl.datasets.load("chinchilla_epoch").query("not epoch_excluded_top5_loss")
    rows = frame[frame["flops"] <= np.quantile(frame["flops"], 0.6)].reset_index(drop=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bl.laws.get("chinchilla").fit(rows, seed=0, chains=2, draws=60, tune=60,
                                      extrapolation=None)
    from jax._src import compilation_cache  # the cache object in use (JAX 0.12)
    print(json.dumps({"cache": type(compilation_cache._cache).__name__, "file": bl.__file__,
                      "misses": events.get("EVENT_MISS", 0), "hits": events.get("EVENT_HIT", 0),
                      "devices": jax.local_device_count(), "backend": jax.default_backend(),
                      "flags_kept": os.environ["XLA_FLAGS"] == flags_at_import,
                      "pymc_jax": "pymc.sampling.jax" in sys.modules,
                      "cache_warnings": [str(w.message)[:200] for w in caught
                                         if "compilation cache" in str(w.message)]}))
""").replace("EVENT_MISS", MISS).replace("EVENT_HIT", HIT)


def _entries(root: Path) -> list[Path]:
    return sorted(root.glob("*/*-cache"))


def _fit(env) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Error reading persistent compilation cache" not in out.stderr, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_killed_writer_does_not_stop_later_fits(tmp_path):
    root = tmp_path / "jax"
    env = dict(os.environ, BAYESLAWS_JAX_CACHE=str(root),
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("XLA_FLAGS", None)
    # (a) a fit killed while it compiles into the cache: as soon as its first entry lands
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while not _entries(root) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    written = _entries(root)
    assert written, "the killed fit wrote no cache entry before it was killed"
    # entries are written through a temporary name: what the killed writer left under an entry's
    # name is whole
    from jax._src.compilation_cache import decompress_executable

    for entry in written:
        decompress_executable(entry.read_bytes())
    # an entry as a writer killed mid-write leaves it where it is written in place (JAX's own
    # LRUCache.put): cut to half its length
    whole = written[0].read_bytes()
    written[0].write_bytes(whole[: len(whole) // 2])
    # (b) the next fit succeeds, with parallel CPU chains and no cache error
    first = _fit(env)
    assert first["file"].startswith(REPO), first
    assert first["cache"] == "_SafeCache" and first["cache_warnings"] == [], first
    assert first["pymc_jax"] and first["flags_kept"], first
    if first["backend"] == "cpu":
        assert first["devices"] >= 2, first  # XLA_FLAGS was set before JAX started
    assert first["misses"] > 0, first  # the cut entry (at least) was compiled and written again
    assert len(written[0].read_bytes()) > len(whole) // 2  # written again, whole
    # (c) and the one after it is served from the cache entirely
    second = _fit(env)
    assert second["cache_warnings"] == [], second
    assert second["misses"] == 0 and second["hits"] >= first["misses"], (first, second)
