"""Post-processing of one big fit, without sampling: what ``law.fit`` does after the sampler.

Builds the 100k-row, 200-family hierarchical Chinchilla problem of ``benchmarks/many_fits.py``
(``simulate_big``) and a posterior of the sampler's exact structure (partial pooling: ``*_mu``,
``*_sigma``, ``*_z`` per family, ``sigma``, ``nu``; 4 chains x 1000 draws, values near the truth),
then times in one run:

* ``Fit(...)``: what ``law.fit`` now does after sampling (the paper's parameters per family; the
  pointwise log-likelihood waits until LOO, compare or the report asks for it);
* ``+ log_likelihood()``: the pointwise log-likelihood of every draw and row (4,000 x 100,000,
  3.2 GB), which ``Fit`` used to compute eagerly on every fit (the baseline);
* ``diagnose``: the convergence rule (R-hat, ESS, divergences) over every sampled variable;
* ``save``: writing the fit, without and with the log-likelihood.

    python benchmarks/postprocess.py [--rows 100000] [--families 200] [--draws 1000]

Figures in ``benchmarks/RESULTS.md`` ("Post-processing of a big fit").
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

import numpy as np
import xarray as xr

sys.path.insert(0, os.path.dirname(__file__))

import bayeslaws as bl  # noqa: E402
from bayeslaws import diagnostics  # noqa: E402
from many_fits import simulate_big  # noqa: E402


def synthetic_posterior(law, truth: dict, families: list[str], chains: int, draws: int,
                        seed: int = 0) -> xr.DataTree:
    """Draws shaped as the batched sampler returns them for partial pooling (non-centred)."""
    rng = np.random.default_rng(seed)
    shape = (chains, draws)
    post = {}
    for prm in law.parameters.values():
        name = prm.sampled
        post[f"{name}_mu"] = (("chain", "draw"), truth[name] + 0.01 * rng.standard_normal(shape))
        post[f"{name}_sigma"] = (("chain", "draw"),
                                 0.5 * prm.family_scale * np.exp(0.1 * rng.standard_normal(shape)))
        post[f"{name}_z"] = (("chain", "draw", "family"),
                             rng.standard_normal(shape + (len(families),)))
    post["sigma"] = (("chain", "draw"), 0.01 * np.exp(0.05 * rng.standard_normal(shape)))
    post["nu"] = (("chain", "draw"), 5.0 * np.exp(0.1 * rng.standard_normal(shape)))
    coords = {"chain": np.arange(chains), "draw": np.arange(draws), "family": families}
    stats = {"diverging": (("chain", "draw"), np.zeros(shape, dtype=bool)),
             "lp": (("chain", "draw"), rng.standard_normal(shape))}
    return xr.DataTree.from_dict({
        "posterior": xr.Dataset(post, coords=coords),
        "sample_stats": xr.Dataset(stats, coords={"chain": coords["chain"],
                                                  "draw": coords["draw"]})})


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--families", type=int, default=200)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    args = ap.parse_args(argv)

    law = bl.laws.get("chinchilla")
    frame, truth = simulate_big(law, args.rows, args.families)
    families = sorted(frame["family"].unique())
    tree = synthetic_posterior(law, truth, families, args.chains, args.draws)
    config = {"seed": 0, "draws": args.draws, "tune": args.draws, "chains": args.chains,
              "sampler": "numpyro", "target_accept": 0.9, "family_column": "family",
              "retried": False, "extrapolation": None, "dense_mass": False, "float32": False}
    print(f"{platform.node()}: {os.cpu_count()} CPUs; {args.rows} rows, {args.families} "
          f"families, {args.chains} x {args.draws} draws")
    times = {}
    t0 = time.perf_counter()
    fit = bl.Fit(law, tree.copy(), frame, config, families, _fresh=True)
    times["Fit (now: parameters per family)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = diagnostics.diagnose(fit.idata, [v for v in tree["posterior"].data_vars])
    times["diagnose (R-hat, ESS, divergences)"] = time.perf_counter() - t0
    folder = tempfile.mkdtemp()
    t0 = time.perf_counter()
    fit.save(os.path.join(folder, "lean.nc"))
    times["save without log-likelihood"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ll = fit.log_likelihood()
    times["log_likelihood() (before: in every Fit)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit.save(os.path.join(folder, "full.nc"), log_likelihood=True)
    times["save with log-likelihood"] = time.perf_counter() - t0
    sizes = {name: os.path.getsize(os.path.join(folder, name)) / 1e6
             for name in ("lean.nc", "full.nc")}
    now = times["Fit (now: parameters per family)"]
    before = now + times["log_likelihood() (before: in every Fit)"]
    print(f"{'step':45s} {'seconds':>8s}")
    for step, sec in times.items():
        print(f"{step:45s} {sec:8.2f}")
    print(f"post-processing in law.fit: {before:.2f} s before -> {now:.2f} s now "
          f"({before / now:.0f}x); log-likelihood {ll[next(iter(ll.data_vars))].nbytes / 1e9:.1f}"
          f" GB; files {sizes['lean.nc']:.0f} MB lean, {sizes['full.nc']:.0f} MB with it; max "
          f"R-hat of the synthetic draws {max(report['rhat'].values()):.3f}")


if __name__ == "__main__":
    main()
