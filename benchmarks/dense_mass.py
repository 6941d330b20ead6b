"""Dense against diagonal mass matrix: each ``models/`` spec fitted both ways in one process.

For every spec (default: all but the two slowest, ``pythia_task`` and
``olmo_ladder_task_accuracy``), ``law.fit`` at the spec's sampler settings with
``dense_mass=False`` and then ``True``; prints wall time, worst R-hat, smallest bulk ESS,
divergences (after the automatic retry), whether the retry ran, and the mean number of leapfrog
steps per iteration (the cost, independent of machine load).

    BAYESLAWS_JAX_CACHE=off python benchmarks/dense_mass.py [models/X.yaml ...]
"""

from __future__ import annotations

import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import pymc.sampling.jax  # noqa: E402,F401  (before JAX starts: parallel chains on CPU)

from bayeslaws.spec import load_spec  # noqa: E402
from spec_runs import figures, spec_paths  # noqa: E402


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    specs = spec_paths(argv)
    warnings.simplefilter("ignore")
    for path in specs:
        name = os.path.basename(path)[:-5]
        spec = load_spec(path)
        law, data = spec.law(), spec.train_data()
        for dense in (False, True):
            settings = dict(spec.sampler, dense_mass=dense)
            start = time.perf_counter()
            fit = law.fit(data, extrapolation=None, **settings)
            f = figures(fit, time.perf_counter() - start)
            print(f"{name} dense={dense} {f['seconds']:.1f}s rhat={f['rhat']:.3f} "
                  f"ess={f['ess']:.0f} div={f['div']} retried={f['retried']} "
                  f"steps={f['steps']:.1f}", flush=True)


if __name__ == "__main__":
    main()
