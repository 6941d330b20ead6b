"""Compile once, sample many: a second fit of the same law shape (``law.fit`` or ``fit_many``) compiles nothing, in the
same process (the program cache) and in a new process (JAX's persistent cache, which hits because
the data are arguments of the program, not constants baked into it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import bayeslaws as bl
from bayeslaws import batch

pytestmark = pytest.mark.slow

#: JAX's events for XLA compiling a program (tracing is not a compile), and the persistent cache's
#: look-ups (a program served from it still emits a compile-duration event: its retrieval).
COMPILE = "/jax/core/compile/backend_compile_duration"
MISS = "/jax/compilation_cache/cache_misses"
HIT = "/jax/compilation_cache/cache_hits"


def lower(q):
    frame = bl.datasets.load("chinchilla_epoch").query("not epoch_excluded_top5_loss")
    return frame[frame["flops"] <= np.quantile(frame["flops"], q)].reset_index(drop=True)


def test_second_fit_of_the_same_shape_compiles_nothing_in_process():
    import jax.monitoring

    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, duration, **_: compiles.append(event) if event == COMPILE else None)
    law = bl.laws.get("chinchilla")
    first, second = lower(0.6), lower(0.7)  # different runs, both padded to 256 rows
    assert len(first) != len(second)
    assert batch.padded_rows(len(first)) == batch.padded_rows(len(second))
    kw = dict(chains=2, draws=60, tune=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        law.fit(first, seed=0, extrapolation=None, **kw)
        before = len(compiles)
        fit = law.fit(second, seed=1, extrapolation=None, **kw)  # law.fit: the numpyro default
        after_fit = len(compiles)
        batch.fit_many(law, [second], seed=2, **kw)  # one table: the same program as law.fit
    assert before > 0
    assert after_fit == before, f"{after_fit - before} XLA compiles in the second law.fit"
    assert len(compiles) == before, f"{len(compiles) - before} XLA compiles in fit_many"
    assert len(fit.data) == len(second)


SCRIPT = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    import bayeslaws as bl
    from bayeslaws import batch
    import jax.monitoring
    events = {}
    def count(event, *_, **__):
        events[event] = events.get(event, 0) + 1
    jax.monitoring.register_event_listener(count)
    frame = bl.datasets.load("chinchilla_epoch").query("not epoch_excluded_top5_loss")
    q = float(sys.argv[1])
    rows = frame[frame["flops"] <= np.quantile(frame["flops"], q)].reset_index(drop=True)
    warnings.simplefilter("ignore")
    bl.laws.get("chinchilla").fit(rows, seed=0, chains=2, draws=60, tune=60,
                                  extrapolation=None)
    print(json.dumps({"misses": events.get("%s", 0), "hits": events.get("%s", 0),
                      "rows": len(rows)}))
""" % (MISS, HIT))


def test_a_new_process_reuses_the_compiled_program(tmp_path):
    env = dict(os.environ, BAYESLAWS_JAX_CACHE=str(tmp_path / "jax"))
    runs = []
    for q in ("0.6", "0.7"):  # different data of the same shape, each in a fresh process
        out = subprocess.run([sys.executable, "-c", SCRIPT, q], env=env, capture_output=True,
                             text=True, timeout=600)
        assert out.returncode == 0, out.stderr[-2000:]
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert runs[0]["rows"] != runs[1]["rows"]
    assert runs[0]["misses"] > 0 and runs[0]["hits"] == 0
    # every program of the second process, the sampler included, comes from the persistent cache
    assert runs[1]["misses"] == 0 and runs[1]["hits"] == runs[0]["misses"], runs
