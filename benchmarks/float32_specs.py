"""Single against double precision: each ``models/`` spec fitted both ways in one process.

For every spec (default: all but the two slowest, ``pythia_task`` and
``olmo_ladder_task_accuracy``), ``law.fit`` at the spec's sampler settings, first in float64 and
then with ``float32=True``, each twice (seed N - 1 compiles, seed N is the warm fit that is timed).
Prints, per spec: the warm wall times and their ratio, worst R-hat, smallest bulk ESS and
divergences of each warm fit, and how far apart the two posteriors are: the largest
``|mean_32 - mean_64| / sd_64`` over the sampled parameters (Monte Carlo error alone gives about
``sqrt(2 / ESS)``, near 0.05 at ESS 1000), and the same for the 5% and 95% quantiles.

    python benchmarks/float32_specs.py [--seed N] [--control] [models/X.yaml ...]

``--seed N`` times and compares the fits at seed N (default 1, after a compiling fit at N - 1);
``--control`` adds the gap between two float64 fits (seeds N and N + 10): the Monte Carlo yardstick.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import pymc.sampling.jax  # noqa: E402,F401  (before JAX starts: parallel chains on CPU)

import numpy as np  # noqa: E402

from bayeslaws.spec import load_spec  # noqa: E402

SLOW = {"pythia_task", "olmo_ladder_task_accuracy"}


def _sampled(fit) -> dict[str, np.ndarray]:
    """Draws of each sampled parameter, flattened over chains and draws: ``name[i]`` -> draws."""
    post = fit.idata["posterior"]
    out = {}
    for prm in fit.law.parameters.values():
        if prm.sampled not in post:
            continue
        v = np.asarray(post[prm.sampled])
        flat = v.reshape(v.shape[0] * v.shape[1], -1)
        for j in range(flat.shape[1]):
            out[f"{prm.sampled}[{j}]"] = flat[:, j]
    if "sigma" in post:
        out["sigma"] = np.asarray(post["sigma"]).ravel()
    return out


def distance(fit64, fit32) -> tuple[float, float]:
    """Largest standardised gap between the two posteriors: of the means, of the 5/95% quantiles."""
    a, b = _sampled(fit64), _sampled(fit32)
    mean_gap, q_gap = 0.0, 0.0
    for name, x in a.items():
        sd = x.std()
        if sd == 0 or name not in b:
            continue
        y = b[name]
        mean_gap = max(mean_gap, abs(y.mean() - x.mean()) / sd)
        q_gap = max(q_gap, float(np.max(np.abs(np.quantile(y, [0.05, 0.95])
                                               - np.quantile(x, [0.05, 0.95]))) / sd))
    return mean_gap, q_gap


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("specs", nargs="*", help="spec files (default: models/*.yaml but the slowest)")
    p.add_argument("--seed", type=int, default=1, help="seed of the timed, compared fits")
    p.add_argument("--control", action="store_true", help="also the float64-vs-float64 gap")
    args = p.parse_args(argv)
    specs = args.specs or [p for p in sorted(glob.glob(os.path.join(ROOT, "models", "*.yaml")))
                           if os.path.basename(p)[:-5] not in SLOW]
    warnings.simplefilter("ignore")
    extra = " float64 vs float64 gap (mean / 5-95%) |" if args.control else ""
    print("| spec | warm float64 | warm float32 | ratio | R-hat 64 / 32 | ESS 64 / 32 "
          "| divergences 64 / 32 | mean gap (sd) | 5/95% gap (sd) |" + extra)
    print("| --- " * (10 if args.control else 9) + "|")
    for path in specs:
        name = os.path.basename(path)[:-5]
        spec = load_spec(path)
        law, data = spec.law(), spec.train_data()
        fits, secs = {}, {}
        for f32 in (False, True):
            settings = dict(spec.sampler, float32=f32)
            try:
                for seed in (args.seed - 1, args.seed):  # the first compiles; the second is timed
                    settings["seed"] = seed
                    start = time.perf_counter()
                    fits[f32] = law.fit(data, extrapolation=None, **settings)
                    secs[f32] = time.perf_counter() - start
            except Exception as exc:  # a spec that float32 cannot run is a result too
                print(f"| {name} | - | - | - | - | - | - | float32={f32}: "
                      f"{type(exc).__name__}: {str(exc)[:80]} | |", flush=True)
                break
        else:
            reps = {k: v.diagnostics() for k, v in fits.items()}
            rh = [max(reps[k]["rhat"].values()) for k in (False, True)]
            es = [min(reps[k]["ess_bulk"].values()) for k in (False, True)]
            dv = [reps[k]["divergences"] for k in (False, True)]
            gap, qgap = distance(fits[False], fits[True])
            row = (f"| {name} | {secs[False]:.1f} s | {secs[True]:.1f} s | "
                   f"{secs[False] / secs[True]:.2f} | {rh[0]:.3f} / {rh[1]:.3f} | "
                   f"{es[0]:.0f} / {es[1]:.0f} | {dv[0]} / {dv[1]} | {gap:.3f} | {qgap:.3f} |")
            if args.control:
                other = law.fit(data, extrapolation=None,
                                **dict(spec.sampler, seed=args.seed + 10))
                row += " {:.3f} / {:.3f} |".format(*distance(fits[False], other))
            print(row, flush=True)


if __name__ == "__main__":
    main()
