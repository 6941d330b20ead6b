"""One hierarchical fit over every bundled loss table at once.

The Chinchilla law ``L = E + A N^-alpha + B D^-beta``, partially pooled, on every loss-vs-(N, D)
table in the repository, each (dataset, family) pair one group:

* ``chinchilla_epoch`` (Epoch's 240 runs), ``gadre_overtraining`` (3 corpora),
  ``datablations_muennighoff2023`` (single-epoch runs only: the law has no repetition term);
* the OLMo ladder: the final LM loss of the ladder runs (``benchmarks/data/olmo_ladder.csv``) and
  the task losses of every intermediate checkpoint (``olmo_ladder_checkpoints_bhagia2024``, one
  group per task: the ladder's own step 1 fits this form to task loss);
* the OPT training curves of the Hitchhiker collection (``benchmarks/data/opt.csv``, one group);
* Porian et al.'s runs (``benchmarks/data/porian.csv``, one group per recipe);
* the step-law runs at near-optimal learning rate and batch size (``steplaw_li2025``).

Reported: rows, groups, wall time of the fit (numpyro's progress bar on stderr), peak resident
memory, convergence (R-hat <= 1.01, bulk ESS >= 400, divergences) and the population exponents.

    python benchmarks/all_tables.py [--chains 4 --draws 1000 --tune 1000] [--independent E]
        [--pooling partial|centred] [--dense-mass] [--out CSV]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import bayeslaws as bl  # noqa: E402
from bayeslaws import diagnostics  # noqa: E402


def tables() -> pd.DataFrame:
    """Every loss table as (params, tokens, loss, family = dataset/family)."""
    parts = []

    def add(name, frame, family=None):
        frame = frame.copy()
        fam = frame["family"].astype(str) if family is None else family
        frame["family"] = name + "/" + (fam if isinstance(fam, str) else fam.to_numpy())
        parts.append(frame[["params", "tokens", "loss", "family"]])

    epoch = bl.datasets.load("chinchilla_epoch").query("not epoch_excluded_top5_loss")
    add("chinchilla_epoch", epoch)
    add("gadre_overtraining", bl.datasets.load("gadre_overtraining"))
    add("datablations", bl.datasets.load("datablations_muennighoff2023").query("epochs <= 1"))
    add("olmo_ladder", pd.read_csv(os.path.join(HERE, "data", "olmo_ladder.csv")), "lm_loss")
    ckpt = bl.datasets.load("olmo_ladder_checkpoints_bhagia2024").rename(
        columns={"task_loss": "loss"})
    add("olmo_ladder_checkpoints", ckpt)
    add("opt", pd.read_csv(os.path.join(HERE, "data", "opt.csv")), "opt")
    add("porian", pd.read_csv(os.path.join(HERE, "data", "porian.csv")))
    step = bl.datasets.load("steplaw_li2025")
    add("steplaw", step[step["near_optimum"].astype(bool)], "steplaw")
    return pd.concat(parts, ignore_index=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--independent", nargs="*", default=[], metavar="PARAM",
                    help="law parameters fitted per group without pooling (e.g. E: each "
                         "dataset's loss is measured on its own validation text)")
    ap.add_argument("--pooling", choices=["partial", "centred"], default="partial",
                    help="pooling of the other parameters: partial (non-centred, the default) or "
                         "centred (the same model; for groups of hundreds of runs each)")
    ap.add_argument("--dense-mass", action="store_true",
                    help="adapt a dense mass matrix (per-group correlations such as B0-beta)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "all_tables.csv"))
    args = ap.parse_args(argv)

    data = tables()
    groups = data["family"].nunique()
    print(f"{len(data)} rows, {groups} groups; "
          + ", ".join(f"{k} {v}" for k, v in data["family"].str.split("/").str[0]
                      .value_counts(sort=False).items()), flush=True)
    names = list(bl.laws.get("chinchilla").parameters)
    law = bl.laws.get("chinchilla", pooling={p: "independent" if p in args.independent
                                             else args.pooling for p in names})
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        fit = law.fit(data, chains=args.chains, draws=args.draws, tune=args.tune, seed=0,
                      extrapolation=None, progress=True, dense_mass=args.dense_mass)
    seconds = time.perf_counter() - t0
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    report = diagnostics.diagnose(fit.idata, list(fit.idata["posterior"].data_vars))
    sampled = [v for v in report["rhat"]]
    rhat = max(report["rhat"][v] for v in sampled)
    ess = min(report["ess_bulk"][v] for v in sampled)
    post = fit.posterior
    pop = {p: float(np.exp(post[f"log_{p}_mu"].median())) if f"log_{p}_mu" in post else np.nan
           for p in ("alpha", "beta")}
    row = {"rows": len(data), "groups": groups, "chains": args.chains, "draws": args.draws,
           "pooling": args.pooling, "independent": " ".join(args.independent),
           "dense_mass": args.dense_mass,
           "seconds": round(seconds, 1), "peak_rss_gb": round(rss_gb, 2),
           "max_rhat": round(rhat, 4), "min_ess_bulk": round(ess), "divergences":
           report["divergences"], "alpha_population": round(pop["alpha"], 3),
           "beta_population": round(pop["beta"], 3)}
    print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    worst = sorted(report["rhat"], key=lambda v: -report["rhat"][v])[:5]
    print("largest R-hat: " + ", ".join(f"{v} {report['rhat'][v]:.3f} (ESS "
                                        f"{report['ess_bulk'][v]:.0f})" for v in worst))
    # the groups behind the slowest per-group variables
    import arviz as az

    per_group = []
    for v in worst:
        da = fit.idata["posterior"][v]
        if "family" in da.dims:
            r = az.rhat(da.to_dataset(name=v))[v]
            per_group += [(float(r.sel(family=f)), v, str(f)) for f in da["family"].values]
    if per_group:
        print("slowest groups: " + ", ".join(f"{v}[{f}] {r:.3f}" for r, v, f in
                                             sorted(per_group, reverse=True)[:5]))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    pd.DataFrame([row]).to_csv(tmp, index=False)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
