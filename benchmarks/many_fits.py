"""Many fits at once: the batched runner (``bayeslaws.batch.fit_many``) against one fit at a time.

Workload: ``--fits K`` leave-largest-out fits of one law on one bundled dataset (default: the
Chinchilla law on Epoch's 240 runs), fit ``k`` keeping the runs below the compute quantile
``q_k`` (evenly spaced from 0.5 to 0.9), each at ``--chains`` x ``--draws`` (+ ``--tune``). The
same fits are made twice in one process:

* ``sequential``: ``law.fit(...)`` per split (one call per split; since law.fit runs numpyro through
  the same compiled-once program, the difference is the batching of lanes, not compilation);
* ``batched``: one ``fit_many`` call (one compiled program; CPU: lanes one after another on each
  core; GPU: all lanes vectorized).

Reported: wall time of each (first = with compilation, as a user's first call; ``--repeat`` adds
a second, warm batched call with new splits of the same shape), the ratio, how many fits
converged (R-hat <= 1.01, bulk ESS >= 400 for every sampled variable, no divergences), and the
agreement of the two posteriors: the largest |difference of posterior medians| / posterior sd
over the law's parameters and splits (Monte Carlo error alone gives about 0.05-0.1 at these
draw counts).

``--big ROWS FAMILIES`` adds one simulated hierarchical Chinchilla problem (population values near
Epoch's fit, family offsets from the prior's family scales, Student-t noise on log loss), fitted
by ``law.fit(..., progress=True)`` (the path a user takes for one big fit); the parameter
recovery is reported.

    python benchmarks/many_fits.py --fits 50 [--law chinchilla --dataset chinchilla_epoch]
        [--chains 4 --draws 500 --tune 500] [--dense-mass] [--skip-sequential] [--big 100000 200]
        [--big-pooling partial|centred] [--big-dense-mass] [--big-only] [--float32] [--out CSV]
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

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import bayeslaws as bl  # noqa: E402
from bayeslaws import batch, diagnostics  # noqa: E402

RHAT_MAX, ESS_MIN = 1.01, 400


def splits(frame: pd.DataFrame, k: int, offset: float = 0.0) -> list[pd.DataFrame]:
    """``k`` leave-largest-out training sets: runs below evenly spaced compute quantiles."""
    flops = 6.0 * frame["params"] * frame["tokens"] if "flops" not in frame else frame["flops"]
    qs = np.linspace(0.5, 0.9, k) + offset
    return [frame[flops <= np.quantile(flops, min(q, 0.95))].reset_index(drop=True) for q in qs]


def converged(fit) -> bool:
    report = diagnostics.diagnose(fit.idata, list(fit.idata["posterior"].data_vars))
    sampled = [v for v in report["rhat"] if v in fit.idata["posterior"].data_vars]
    return (report["divergences"] == 0
            and all(report["rhat"][v] <= RHAT_MAX for v in sampled)
            and all(report["ess_bulk"][v] >= ESS_MIN for v in sampled))


def agreement(a_fits, b_fits, law) -> float:
    """Largest |median_a - median_b| / sd_a over the law's parameters (all families)."""
    worst = 0.0
    for a, b in zip(a_fits, b_fits):
        for name in law.param_names:
            da, db = a.posterior[name], b.posterior[name]
            sd = float(da.std(("chain", "draw")).min())
            diff = np.abs(da.median(("chain", "draw")) - db.median(("chain", "draw"))).max()
            worst = max(worst, float(diff) / max(sd, 1e-12))
    return worst


def simulate_big(law, rows: int, families: int, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """A hierarchical Chinchilla problem with known population and family values."""
    rng = np.random.default_rng(seed)
    truth = {"log_E": np.log(1.8), "log_A0": np.log(0.37), "log_B0": np.log(0.37),
             "log_alpha": np.log(0.34), "log_beta": np.log(0.35)}
    fam_sd = {k: 0.5 * law.parameters[k[4:]].family_scale for k in truth}
    fam = rng.integers(0, families, rows)
    theta = {k: v + fam_sd[k] * rng.standard_normal(families) for k, v in truth.items()}
    log_n = rng.uniform(np.log(3e7), np.log(1e10), rows)
    log_d = rng.uniform(np.log(1e9), np.log(3e11), rows)
    x = {"params": log_n, "tokens": log_d}
    mu = law.formula(x, law.natural({k: v[fam] for k, v in theta.items()}, np), np)
    y = mu + 0.01 * rng.standard_t(5.0, rows)
    frame = pd.DataFrame({"params": np.exp(log_n), "tokens": np.exp(log_d), "loss": np.exp(y),
                          "family": [f"f{i:03d}" for i in fam]})
    return frame, truth


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--law", default="chinchilla")
    ap.add_argument("--dataset", default="chinchilla_epoch")
    ap.add_argument("--fits", type=int, default=10)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--dense-mass", action="store_true",
                    help="adapt a dense mass matrix (models/chinchilla_epoch.yaml's setting)")
    ap.add_argument("--skip-sequential", action="store_true")
    ap.add_argument("--sequential-fits", type=int, default=None,
                    help="time only this many sequential fits and scale to --fits")
    ap.add_argument("--repeat", action="store_true", help="a second, warm batched call")
    ap.add_argument("--big", nargs=2, type=int, metavar=("ROWS", "FAMILIES"))
    ap.add_argument("--big-pooling", choices=["partial", "centred"], default="partial",
                    help="pooling of the big problem (centred suits its hundreds of rows per "
                         "family; partial, non-centred, is the package default)")
    ap.add_argument("--big-dense-mass", action="store_true",
                    help="a dense mass matrix for the big problem too (cheap on a GPU, where a "
                         "matrix-vector product over ~1,000 dimensions costs little)")
    ap.add_argument("--big-only", action="store_true", help="skip the many-fits part")
    ap.add_argument("--float32", action="store_true", help="sample in float32 (GPU option)")
    ap.add_argument("--sampler", choices=["nuts", "chees"], default="nuts",
                    help="the batched sampler (fit_many's sampler=; chees: ChEES-HMC ensembles, "
                         "--chains then counts chains per fit, e.g. 16)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "many_fits.csv"))
    args = ap.parse_args(argv)

    import jax

    law = bl.laws.get(args.law)
    frame = bl.datasets.load(args.dataset)
    query = bl.datasets.CATALOGUE[args.dataset].fit_query
    if query:
        frame = frame.query(query).reset_index(drop=True)
    sets = splits(frame, args.fits)
    kw = dict(chains=args.chains, draws=args.draws, tune=args.tune, dense_mass=args.dense_mass,
              float32=args.float32)
    device = f"{jax.default_backend()} x{jax.local_device_count()}"
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} "
          f"cores, JAX {jax.__version__} on {device}; {args.fits} fits of {args.law} on "
          f"{args.dataset} ({min(len(s) for s in sets)}-{max(len(s) for s in sets)} rows), "
          f"{args.chains} chains x {args.draws} draws + {args.tune} warm-up"
          f"{', dense mass' if args.dense_mass else ''}{', float32' if args.float32 else ''}"
          f", sampler {args.sampler}",
          flush=True)
    rows = []
    warnings.simplefilter("ignore", bl.ConvergenceWarning)
    if args.big_only:
        args.skip_sequential, args.repeat = True, False

    if not args.big_only:
        t0 = time.perf_counter()
        fits_b = batch.fit_many(law, sets, seed=0, progress=True, sampler=args.sampler, **kw)
        t_batch = time.perf_counter() - t0
        rows.append({"method": f"batched {args.sampler} (first call)", "fits": len(sets), "seconds": t_batch,
                     "converged": sum(map(converged, fits_b))})
        print(f"batched: {t_batch:.1f} s, {rows[-1]['converged']}/{len(sets)} converged",
              flush=True)
    if args.repeat:
        again = splits(frame, args.fits, offset=0.01)
        t0 = time.perf_counter()
        fits_r = batch.fit_many(law, again, seed=1, progress=True, sampler=args.sampler, **kw)
        t_warm = time.perf_counter() - t0
        rows.append({"method": "batched (warm)", "fits": len(again), "seconds": t_warm,
                     "converged": sum(map(converged, fits_r))})
        print(f"batched warm: {t_warm:.1f} s", flush=True)

    if not args.skip_sequential:
        n_seq = min(args.sequential_fits or len(sets), len(sets))
        t0 = time.perf_counter()
        fits_s = [law.fit(s, seed=0, extrapolation=None, **kw) for s in sets[:n_seq]]
        t_seq = (time.perf_counter() - t0) * len(sets) / n_seq
        rows.append({"method": "sequential law.fit" + ("" if n_seq == len(sets)
                                                       else f" ({n_seq} timed, scaled)"),
                     "fits": len(sets), "seconds": t_seq,
                     "converged": sum(map(converged, fits_s)) * len(sets) // n_seq})
        worst = agreement(fits_s, fits_b[:n_seq], law)
        print(f"sequential: {t_seq:.1f} s; batched / sequential time = {t_batch / t_seq:.2f}; "
              f"worst |median diff| / sd over parameters = {worst:.2f}", flush=True)
        for r in rows:
            r["ratio_to_sequential"] = r["seconds"] / t_seq
        rows[0]["worst_median_diff_sd"] = worst

    if args.big:
        n_rows, n_fam = args.big
        big, truth = simulate_big(law, n_rows, n_fam)
        t0 = time.perf_counter()
        # the path a user takes for one big fit (bayeslaws' progress line shows the sampling);
        # a diagonal mass matrix unless --big-dense-mass: on a CPU a dense one over ~1,000
        # dimensions costs more than it saves
        big_law = law.with_options(pooling=args.big_pooling)
        fit = big_law.fit(big, seed=0, extrapolation=None, progress=True,
                          **{**kw, "dense_mass": args.big_dense_mass})
        t_big = time.perf_counter() - t0
        post = fit.posterior
        rec = {k: float(np.exp(post[f"{k}_mu"].median())) for k in truth}
        ok = converged(fit)
        stats = fit.idata["sample_stats"].to_dataset()
        d = fit.diagnostics()
        print(f"big: max R-hat {max(d['rhat'].values()):.3f}, min bulk ESS "
              f"{min(d['ess_bulk'].values()):.0f}, {d['divergences']} divergences, "
              f"{float(stats['n_steps'].mean()):.0f} leapfrog steps per draw; slowest: "
              + ", ".join(f"{k} {v:.3f}" for k, v in
                          sorted(d["rhat"].items(), key=lambda kv: -kv[1])[:3]), flush=True)
        print(f"big: {n_rows} rows, {n_fam} families: {t_big:.1f} s, converged {ok}; population "
              "medians " + ", ".join(f"{k[4:]} {rec[k]:.4g} (true {np.exp(v):.4g})"
                                     for k, v in truth.items()), flush=True)
        rows.append({"method": f"big simulated ({n_rows} rows, {n_fam} families, "
                               f"{args.big_pooling} pooling"
                               f"{', dense mass' if args.big_dense_mass else ''}"
                               f"{', float32' if args.float32 else ''})", "fits": 1,
                     "seconds": t_big, "converged": int(ok)})

    table = pd.DataFrame(rows)
    table.insert(0, "device", device)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    table.to_csv(tmp, index=False)
    os.replace(tmp, args.out)
    print(table.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
