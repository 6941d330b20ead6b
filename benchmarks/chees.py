"""ChEES-HMC against NUTS on the batched many-fits workload (issue 24, item 3).

The ``--fits K`` leave-largest-out fits of ``benchmarks/many_fits.py`` (Chinchilla law on Epoch's
runs, table ``k`` keeping the runs below compute quantile ``q_k``, 0.5 to 0.9), fitted twice in
one process by :func:`bayeslaws.batch.fit_many`: NUTS (``--nuts-chains`` x ``--nuts-draws``) and
ChEES-HMC (``--chees-chains`` x ``--chees-draws``), both after ``--tune`` warm-up and with the
same ``--dense-mass`` setting. Reported per sampler: wall time (compile included, as a first
call), gradient evaluations (kept draws: leapfrog steps of every chain; ChEES also its warm-up;
NUTS's warm-up steps are not recorded by numpyro's batched path), fits converged by the package's
rule (R-hat <= 1.01, bulk ESS >= 100 per chain, no divergences), max R-hat, min bulk ESS, and
the agreement of the posteriors: the largest |mean_ChEES - mean_NUTS| / sd_NUTS over the law's
parameters (log scale) and fits. Time ratios are meaningful within one run only (shared cores).

    python benchmarks/chees.py --fits 50 [--dense-mass] [--tune 400] [--out CSV]
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

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import bayeslaws as bl  # noqa: E402
from bayeslaws import batch  # noqa: E402
from many_fits import splits  # noqa: E402

PARAMS = ("E", "A0", "B0", "alpha", "beta")


def summary(fits) -> dict:
    rhat, ess, conv, grads = [], [], 0, 0
    for f in fits:
        d = f.diagnostics()
        rhat.append(max(d["rhat"].values()))
        ess.append(min(d["ess_bulk"].values()))
        conv += not f.convergence
        ss = f.idata["sample_stats"]
        grads += int(ss["n_steps"].values.sum())
        grads += int(ss.attrs.get("warmup_n_steps", 0)) * ss.sizes["chain"]
    return {"converged": conv, "max_rhat": max(rhat), "min_ess_bulk": min(ess),
            "gradient_evals": grads}


def agreement(a_fits, b_fits) -> float:
    worst = 0.0
    for a, b in zip(a_fits, b_fits):
        for name in PARAMS:
            x = np.log(np.asarray(a.posterior[name]).ravel())
            y = np.log(np.asarray(b.posterior[name]).ravel())
            worst = max(worst, abs(x.mean() - y.mean()) / y.std())
    return worst


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fits", type=int, default=50)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--nuts-chains", type=int, default=4)
    ap.add_argument("--nuts-draws", type=int, default=1000)
    ap.add_argument("--chees-chains", type=int, default=16)
    ap.add_argument("--chees-draws", type=int, default=400)
    ap.add_argument("--dense-mass", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "chees.csv"))
    args = ap.parse_args(argv)
    import jax

    law = bl.laws.get("chinchilla")
    frame = bl.datasets.load("chinchilla_epoch")
    frame = frame.query(bl.datasets.CATALOGUE["chinchilla_epoch"].fit_query).reset_index(drop=True)
    sets = splits(frame, args.fits)
    device = f"{jax.default_backend()} x{jax.local_device_count()}"
    print(f"# {platform.node()}, {os.cpu_count()} cores, JAX {jax.__version__} on {device}; "
          f"{args.fits} fits, tune {args.tune}{', dense mass' if args.dense_mass else ''}",
          flush=True)
    warnings.simplefilter("ignore", bl.ConvergenceWarning)
    rows, fits = [], {}
    for sampler, chains, draws in (("chees", args.chees_chains, args.chees_draws),
                                   ("nuts", args.nuts_chains, args.nuts_draws)):
        t0 = time.perf_counter()
        fits[sampler] = batch.fit_many(law, sets, seed=0, sampler=sampler, chains=chains,
                                       draws=draws, tune=args.tune, dense_mass=args.dense_mass,
                                       progress=True)
        row = {"device": device, "sampler": sampler, "fits": len(sets), "chains": chains,
               "draws": draws, "tune": args.tune, "dense_mass": args.dense_mass,
               "seconds": time.perf_counter() - t0, **summary(fits[sampler])}
        rows.append(row)
        print(f"{sampler}: {row['seconds']:.1f} s, {row['converged']}/{len(sets)} converged, "
              f"max R-hat {row['max_rhat']:.4f}, min bulk ESS {row['min_ess_bulk']:.0f}, "
              f"{row['gradient_evals']:.3g} gradient evaluations", flush=True)
    worst = agreement(fits["chees"], fits["nuts"])
    rows[0]["worst_mean_diff_sd"] = worst
    print(f"ChEES / NUTS time = {rows[0]['seconds'] / rows[1]['seconds']:.2f}; worst |mean "
          f"difference| / NUTS sd over parameters (log scale) and fits = {worst:.3f}", flush=True)
    table = pd.DataFrame(rows)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    table.to_csv(tmp, index=False)
    os.replace(tmp, args.out)
    print(table.round(4).to_string(index=False))


if __name__ == "__main__":
    main()
