"""Shared by the benchmarks that fit every ``models/`` spec twice (``dense_mass.py``,
``one_family_map.py``): the spec list and one fit's line of figures."""

from __future__ import annotations

import glob
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The two slowest specs, skipped unless named.
SLOW = {"pythia_task", "olmo_ladder_task_accuracy"}


def spec_paths(argv) -> list[str]:
    """The specs named in ``argv``, else every spec in ``models/`` but :data:`SLOW`."""
    return list(argv) or [p for p in sorted(glob.glob(os.path.join(ROOT, "models", "*.yaml")))
                          if os.path.basename(p)[:-5] not in SLOW]


def figures(fit, seconds: float) -> dict:
    """Wall time, worst R-hat, smallest bulk ESS, divergences (after the automatic retry),
    whether the retry ran, and the mean leapfrog steps per draw (the load-free cost)."""
    rep = fit.diagnostics()
    return {"seconds": seconds, "rhat": max(rep["rhat"].values()),
            "ess": min(rep["ess_bulk"].values()), "div": rep["divergences"],
            "retried": fit.config["retried"],
            "steps": float(fit.idata["sample_stats"]["n_steps"].mean())}
