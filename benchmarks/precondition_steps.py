"""Centred pooling with and without the per-family affine maps (``bayeslaws.precondition``).

One simulated hierarchical Chinchilla problem (``many_fits.simulate_big``: ``ROWS`` runs in
``FAMILIES`` families), fitted through ``law.fit`` with ``pooling="centred"`` and the same
seed and settings: once as the package does it (each family's centred parameters through
``theta_f = c_f + L_f w_f`` from a Laplace pilot), once with the maps switched off (plain centred
normals, the code before the maps), and once with the maps but without the global pilot's start
point and initial inverse mass matrix (``bayeslaws.batch._pilot``). The posterior is the same;
reported are the leapfrog steps per draw, tree depth, step size, wall time and convergence of
each.

    python benchmarks/precondition_steps.py [ROWS FAMILIES] [--chains 2 --tune 300 --draws 200]
        [--skip-plain]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import pymc.sampling.jax  # noqa: E402,F401  (before JAX: parallel chains on CPU)

import bayeslaws as bl  # noqa: E402
from bayeslaws import batch, precondition  # noqa: E402
from many_fits import simulate_big  # noqa: E402


def run(law, frame, maps: bool, pilot: bool = True, **kw) -> dict:
    names, iterations = precondition.centred_names, batch.PILOT_ITERATIONS
    batch._PROGRAMS.clear()  # the compiled program's key does not say whether maps are used
    if not maps:
        precondition.centred_names = lambda law, n: []
    if not pilot:
        batch.PILOT_ITERATIONS = 0
    try:
        t0 = time.perf_counter()
        fit = law.fit(frame, seed=0, extrapolation=None, **kw)
        seconds = time.perf_counter() - t0
    finally:
        precondition.centred_names, batch.PILOT_ITERATIONS = names, iterations
        batch._PROGRAMS.clear()
    stats = fit.idata["sample_stats"].to_dataset()
    d = fit.diagnostics()
    return {"maps": maps, "pilot": pilot and maps, "seconds": round(seconds, 1),
            "steps_per_draw": float(stats["n_steps"].mean()),
            "tree_depth": float(stats["tree_depth"].mean()),
            "step_size": float(stats["step_size"].mean()),
            "max_rhat": max(d["rhat"].values()), "min_ess_bulk": min(d["ess_bulk"].values()),
            "divergences": d["divergences"]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("size", nargs="*", type=int, default=[20000, 200])
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--skip-plain", action="store_true", help="skip the slow run without maps")
    args = ap.parse_args(argv)
    rows, families = args.size
    law = bl.laws.get("chinchilla", pooling="centred")
    frame, _ = simulate_big(law, rows, families)
    warnings.simplefilter("ignore")
    print(f"# {platform.machine()}, {os.cpu_count()} cpus; {rows} rows, {families} families, "
          f"{args.chains} chains x ({args.tune} + {args.draws})", flush=True)
    kw = dict(chains=args.chains, tune=args.tune, draws=args.draws)
    # maps off (the code before the maps), maps without and with the global pilot
    runs = [(True, False), (True, True)] if args.skip_plain else [(False, False), (True, False),
                                                                   (True, True)]
    for maps, pilot in runs:
        print(run(law, frame, maps, pilot, **kw), flush=True)


if __name__ == "__main__":
    main()
