"""Per-lane cost of the batched sampler on this machine: lanes one after another vs vmapped.

One Chinchilla fit's program (Epoch's 240 runs, one family), one chain per lane, 300 warm-up +
300 draws; each configuration is compiled, then timed on a second call with new keys.

    python benchmarks/batch_lanes.py DENSE VECTORIZED LANES...   e.g.  0 0 1 4   /   0 1 1 4 16
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

import bayeslaws as bl  # noqa: E402
from bayeslaws import batch  # noqa: E402
from bayeslaws import data as data_mod  # noqa: E402


def main(dense: bool, vectorized: bool, lane_counts: list[int]) -> None:
    frame = bl.datasets.load("chinchilla_epoch").query("not epoch_excluded_top5_loss")
    law = bl.laws.get("chinchilla")
    table = data_mod.prepare(law, frame)
    names = sorted(table.x)
    program = batch._program(law, 1, names)
    rows = batch.padded_rows(len(table.y))

    def pad(a):
        out = np.full(rows, a[0])
        out[: len(a)] = a
        return out

    mask = np.zeros(rows)
    mask[: len(table.y)] = 1
    base = [pad(table.x[n]) for n in names] + [pad(table.y), np.zeros(rows, np.int64), mask]
    for lanes in lane_counts:
        run = batch._runner(program, chains=1, draws=300, tune=300, target_accept=0.9,
                            lanes=lanes, shards=1, dense_mass=dense, vectorized=vectorized)
        data = [np.repeat(a[None], lanes, 0) for a in base]
        rng = np.random.default_rng(0)
        z0 = [v[None] + rng.uniform(-1, 1, (lanes, *v.shape)) for v in program.initial]
        t0 = time.perf_counter()
        jax.block_until_ready(run(jax.random.split(jax.random.PRNGKey(0), lanes), z0, data))
        t1 = time.perf_counter()
        out = run(jax.random.split(jax.random.PRNGKey(1), lanes), z0, data)
        jax.block_until_ready(out)
        t2 = time.perf_counter()
        steps = np.asarray(out[1][1])
        print(f"dense={dense} vectorized={vectorized} lanes {lanes}: first {t1 - t0:.1f} s, "
              f"second {t2 - t1:.2f} s, per lane {(t2 - t1) / lanes:.3f} s, mean leapfrog steps "
              f"{steps.mean():.1f}, mean of the per-iteration max {steps.max(0).mean():.1f}",
              flush=True)


if __name__ == "__main__":
    main(bool(int(sys.argv[1])), bool(int(sys.argv[2])), [int(a) for a in sys.argv[3:]])
