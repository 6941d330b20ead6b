"""Regenerate the figures of docs/laws/{capacity-gap,knowledge}.md.

    PYTHONPATH=. python docs/laws/make_figures_c.py [capacity-gap|knowledge ...]

Both figures show fits of SIMULATED data (the models/ specs' tables, models/data/, at the specs'
4 x 1000 settings): the reference notes hold no run-level data for these papers, only headline
claims (bayeslaws/datasets/*_zhang2023.csv, *_allenzhu2024.csv), which are drawn as markers.
"""

from __future__ import annotations

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import bayeslaws as bl  # noqa: E402
from bayeslaws.spec import load_spec  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
Q = [0.05, 0.5, 0.95]


def _spec_fit(name):
    spec = load_spec(os.path.join(ROOT, "models", f"{name}.yaml"))
    return spec.law().fit(spec.train_data(), extrapolation=None, **spec.sampler), spec.train_data()


def capacity_gap():
    from bayeslaws.laws.capacity_gap import optimal_teacher

    fit, runs = _spec_fit("capacity_gap_zhang2023")
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.3))
    grid = np.geomspace(1.1, 25, 60)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(fit.families)))
    for fam, color in zip(fit.families, colors):
        g = runs[runs.family == fam]
        n_s = g["params"].iloc[0]
        rows = pd.DataFrame({"family": fam, "params": n_s, "teacher_params": n_s * grid})
        q = fit.predict(rows).law.quantile(Q, dim=("chain", "draw")).values
        best = q[1].min()
        a.plot(grid, q[1] / best, color=color, label=f"student {n_s:.0e}")
        a.fill_between(grid, q[0] / best, q[2] / best, color=color, alpha=0.25)
        a.scatter(g["ratio"], g["loss"] / best, color=color, s=12)
    a.axvline(2.5, color="k", ls="--", lw=1, label="Zhang et al.: N_T* ~ 2.5 N_S [ABS]")
    a.set(xscale="log", xlabel="teacher / student size N_T/N_S",
          ylabel="student loss / its best (simulated)", title="Curse of capacity gap (simulated sweeps)")
    a.legend(fontsize=7)
    students = np.array([runs[runs.family == f]["params"].iloc[0] for f in fit.families])
    own = [optimal_teacher(fit, n, family=f)["ratio_opt"].quantile(Q).values
           for n, f in zip(students, fit.families)]
    own = np.array(own)
    b.errorbar(students, own[:, 1], yerr=[own[:, 1] - own[:, 0], own[:, 2] - own[:, 1]], fmt="o",
               label="each student's optimal ratio (90%)")
    pop = optimal_teacher(fit, 1e9)["ratio_opt"].quantile(Q).values
    b.axhspan(pop[0], pop[2], alpha=0.2, label=f"new student: {pop[1]:.2f} [{pop[0]:.2f}, {pop[2]:.2f}]")
    b.axhline(2.5, color="k", ls="--", lw=1, label="published 2.5x [ABS]")
    b.scatter([3e9], [7 / 3], color="k", marker="x", zorder=3,
              label="MiniMA: 3B student, 7B best of 7/13/70B [2ND]")
    b.set(xscale="log", xlabel="student parameters N_S", ylabel="optimal ratio N_T*/N_S",
          title="Optimal teacher ratio (posterior)")
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "capacity-gap.png"), dpi=110)


def knowledge():
    from bayeslaws.laws.knowledge import bits_per_param

    fit, runs = _spec_fit("knowledge_allenzhu2024")
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.3))
    grid = np.geomspace(5, 5000, 60)
    for fam, color in zip(fit.families, ("C0", "C1", "C2")):
        q = bits_per_param(fit, grid, family=fam)["bits_per_param"].quantile(Q, dim=("chain", "draw")).values
        a.plot(grid, q[1], color=color, label=fam)
        a.fill_between(grid, q[0], q[2], color=color, alpha=0.25)
        g = runs[runs.family == fam]
        a.scatter(g["exposures"], g["bits_per_param"], color=color, s=10)
    a.scatter([1000], [2.0], color="k", marker="x", s=60, zorder=3, label="2 bits/param at 1000 [ABS]")
    a.scatter([100], [1.0], facecolor="none", edgecolor="k", s=60, zorder=3,
              label="~1 at 100 [MEM, unverified]")
    a.axhline(0.7, color="k", ls=":", lw=1, label="int4 ~0.7 [2ND]")
    a.set(xscale="log", xlabel="exposures per fact", ylabel="bits per parameter",
          title="Capacity ratio R(e) (simulated measurements)")
    a.legend(fontsize=7)
    for fam, color in zip(fit.families, ("C0", "C1", "C2")):
        v = bits_per_param(fit, 1000, family=fam)["bits_per_param"].values.ravel()
        b.hist(v, bins=50, color=color, alpha=0.6, density=True, label=fam)
    b.axvline(2.0, color="k", ls="--", lw=1, label="published 2 [ABS]")
    b.axvline(0.7, color="k", ls=":", lw=1, label="int4 0.7 [2ND]")
    b.set(xlabel="bits per parameter at 1000 exposures", ylabel="posterior density",
          title="R(1000) by setting")
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "knowledge.png"), dpi=110)


if __name__ == "__main__":
    jobs = {"capacity-gap": capacity_gap, "knowledge": knowledge}
    for name in sys.argv[1:] or list(jobs):
        jobs[name]()
