"""Dense against diagonal mass matrix: each ``models/`` spec fitted both ways in one process.

For every spec (default: all but the two slowest, ``pythia_task`` and
``olmo_ladder_task_accuracy``), ``law.fit`` at the spec's sampler settings with
``dense_mass=False`` and then ``True``; prints wall time, worst R-hat, smallest bulk ESS,
divergences (after the automatic retry), whether the retry ran, and the mean number of leapfrog
steps per iteration (the cost, independent of machine load).

    BAYESLAWS_JAX_CACHE=off python benchmarks/dense_mass.py [models/X.yaml ...]
"""

from __future__ import annotations

import glob
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import pymc.sampling.jax  # noqa: E402,F401  (before JAX starts: parallel chains on CPU)

from bayeslaws.spec import load_spec  # noqa: E402

SLOW = {"pythia_task", "olmo_ladder_task_accuracy"}


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    specs = argv or [p for p in sorted(glob.glob(os.path.join(ROOT, "models", "*.yaml")))
                     if os.path.basename(p)[:-5] not in SLOW]
    warnings.simplefilter("ignore")
    for path in specs:
        name = os.path.basename(path)[:-5]
        spec = load_spec(path)
        law, data = spec.law(), spec.train_data()
        for dense in (False, True):
            settings = dict(spec.sampler, dense_mass=dense)
            start = time.perf_counter()
            fit = law.fit(data, extrapolation=None, **settings)
            sec = time.perf_counter() - start
            rep = fit.diagnostics()
            steps = float(fit.idata["sample_stats"]["n_steps"].mean())
            print(f"{name} dense={dense} {sec:.1f}s rhat={max(rep['rhat'].values()):.3f} "
                  f"ess={min(rep['ess_bulk'].values()):.0f} div={rep['divergences']} "
                  f"retried={fit.config['retried']} steps={steps:.1f}", flush=True)


if __name__ == "__main__":
    main()
