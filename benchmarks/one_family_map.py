"""One-family fits with and without the affine map of their population means (issue 24).

A fit of one family samples the law's parameters (the population means) through
:math:`\\mu = c + L w`, ``c`` and ``L`` from a Laplace pilot of the table
(:mod:`bayeslaws.precondition`). For every ``models/`` spec whose training table has one family
(default: all but the two slowest), ``law.fit`` at the spec's sampler settings runs twice in one
process: with the map (the default), and with the pilot switched off
(``precondition.MIN_ROWS_PER_PARAM_ONE_FAMILY`` above the table's size), which leaves the
prior's diagonal map :math:`\\mu = m + \\mathrm{diag}(s) w`, the geometry NUTS saw before the map
(a diagonal rescaling, which the adapted diagonal mass matrix absorbs). Prints wall time, worst
R-hat, smallest bulk ESS, divergences and the mean number of leapfrog steps per draw (the cost,
independent of machine load).

    BAYESLAWS_JAX_CACHE=off python benchmarks/one_family_map.py [models/X.yaml ...]
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

from bayeslaws import data as data_mod  # noqa: E402
from bayeslaws import precondition  # noqa: E402
from bayeslaws.spec import load_spec  # noqa: E402
from spec_runs import figures, spec_paths  # noqa: E402


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    specs = spec_paths(argv)
    warnings.simplefilter("ignore")
    default = precondition.MIN_ROWS_PER_PARAM_ONE_FAMILY
    print("spec | rows | map | seconds | max R-hat | min bulk ESS | divergences | steps/draw")
    for path in specs:
        name = os.path.basename(path)[:-5]
        spec = load_spec(path)
        law, data = spec.law(), spec.train_data()
        table = data_mod.prepare(law, data)
        if len(table.families) != 1:
            continue
        for mapped in (True, False):
            precondition.MIN_ROWS_PER_PARAM_ONE_FAMILY = default if mapped else 10**12
            start = time.perf_counter()
            fit = law.fit(data, extrapolation=None, **spec.sampler)
            f = figures(fit, time.perf_counter() - start)
            print(f"{name} | {len(table.y)} | {'pilot' if mapped else 'prior'} | "
                  f"{f['seconds']:.1f} | {f['rhat']:.3f} | {f['ess']:.0f} | {f['div']} | "
                  f"{f['steps']:.1f}", flush=True)
    precondition.MIN_ROWS_PER_PARAM_ONE_FAMILY = default


if __name__ == "__main__":
    main()
