"""Does :func:`bayeslaws.design.design` spend a FLOP budget better than habit? (issue 26)

Simulation with a known law: Epoch's Chinchilla fit (Besiroglu et al. 2024; LAWS.md section 2:
E = 1.8172, A = 482.01, B = 2085.43, alpha = 0.3478, beta = 0.3658) is the truth, with normal
noise of sd ``--noise`` on log loss. Per seed:

1. a pilot of 9 runs at 1e17, 1e18 and 1e19 FLOPs (3 sizes each: 1/3, 1 and 3 times the
   20-tokens-per-parameter size) is fitted;
2. the same extra budget ``--budget`` is spent four ways: the design's proposal (target
   ``--target`` FLOPs, default candidate grid) for quantity ``loss`` and, separately, for
   ``n_opt``, an IsoFLOP grid (3 budgets a
   half decade apart, 5 sizes each at 1/4..4 times the 20-tokens-per-parameter size, the largest
   budget set so that the 15 runs cost the budget) and a 20-tokens-per-parameter ladder (5 runs,
   compute doubling, costing the budget);
3. each pilot + new runs table is refitted, and the forecast at the target (loss at the
   compute-optimal point and N* there, :func:`bayeslaws.optimal.optimal`) is scored against
   the truth: 90% interval width (relative to the median), absolute relative error of the
   median, and coverage of the truth by the 90% interval.

All fits (pilots, refits) run in one compiled batch each (:func:`bayeslaws.batch.fit_many`),
with ``extrapolation=None`` (the truth is the law itself, so there is no discrepancy to learn).

``--validate`` also checks the estimator against real refits: for one pilot fit and a few
candidates (the top of the table, a middle one, a run already in the data), outcomes are
simulated from the posterior predictive, the law is refitted with each, and the mean posterior
variance of the log forecast is compared with the design's expected variance.

Usage::

    PYTHONPATH=. python benchmarks/design.py --seeds 20 --validate
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.batch import fit_many
from bayeslaws.design import design, expected_sd
from bayeslaws.errors import ConvergenceWarning

TRUTH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
PILOT_BUDGETS = (1e17, 1e18, 1e19)
PILOT_FACTORS = (1 / 3, 1.0, 3.0)


def true_loss(n, d):
    t = TRUTH
    return t["E"] + t["A"] / np.asarray(n) ** t["alpha"] + t["B"] / np.asarray(d) ** t["beta"]


def true_optimum(flops):
    t = TRUTH
    a = t["beta"] / (t["alpha"] + t["beta"])
    g = (t["alpha"] * t["A"] / (t["beta"] * t["B"])) ** (1 / (t["alpha"] + t["beta"]))
    n = g * (flops / 6) ** a
    d = flops / (6 * n)
    return n, float(true_loss(n, d))


def n20(c):
    """Size at 20 tokens per parameter for compute c."""
    return math.sqrt(c / 120.0)


def observe(n, d, rng, noise):
    return true_loss(n, d) * np.exp(rng.normal(0.0, noise, len(np.atleast_1d(n))))


def pilot(seed, noise):
    rng = np.random.default_rng([seed, 1])
    n = np.array([n20(c) * k for c in PILOT_BUDGETS for k in PILOT_FACTORS])
    d = np.array([c / (6 * n20(c) * k) for c in PILOT_BUDGETS for k in PILOT_FACTORS])
    return pd.DataFrame({"params": n, "tokens": d, "loss": observe(n, d, rng, noise)})


def isoflop_grid(budget):
    steps = np.array([1.0, 10 ** -0.5, 0.1])
    c_max = budget / (5 * steps.sum())
    rows = [(n20(c) * k, c / (6 * n20(c) * k)) for c in c_max * steps
            for k in (0.25, 0.5, 1.0, 2.0, 4.0)]
    return pd.DataFrame(rows, columns=["params", "tokens"])


def ladder20(budget):
    steps = 0.5 ** np.arange(5)
    c = budget / steps.sum() * steps
    n = np.sqrt(c / 120.0)
    return pd.DataFrame({"params": n, "tokens": 20 * n})


def score(fit, target):
    n_true, l_true = true_optimum(target)
    # the loss at the optimum carries the fit's extrapolation discrepancy (none with
    # extrapolation=None), as a user's forecast does
    opt = fit.optimal(target, family=fit.families[0]).draws
    loss_opt = opt["loss_opt"].values[..., 0]
    # N* with the allocation error of bayeslaws.optimal (the law-form misfit a user's forecast
    # carries, absent here where the truth is the law), and the law's posterior alone
    n_law = fit.optimal(target, family=fit.families[0], discrepancy=False).draws["N_opt"].values
    out = {}
    for name, v, truth in (("loss", loss_opt, l_true), ("n_opt", opt["N_opt"].values, n_true),
                           ("n_law", n_law, n_true)):
        v = np.asarray(v).ravel()
        lo, med, hi = np.quantile(v, [0.05, 0.5, 0.95])
        out[f"{name}_width"] = (hi - lo) / med
        out[f"{name}_error"] = abs(med / truth - 1)
        out[f"{name}_covered"] = float(lo <= truth <= hi)
        out[f"{name}_sd_log"] = float(np.std(np.log(v)))
    return out


def validate(fit, target, budget, settings, seed=0, n_outcomes=4):
    """Expected posterior variance (design) vs mean variance after real refits."""
    law = fit.law
    des = design(fit, target=target, budget=budget, seed=seed)
    table = des.table()
    picks = {"top": table.iloc[0], "middle": table.iloc[len(table) // 2]}
    data = fit.data[["params", "tokens"]].iloc[[4]]  # a run already in the data
    extra = design(fit, target=target, budget=budget, seed=seed,
                   candidates=pd.concat([data, table[["params", "tokens"]].iloc[:1]],
                                        ignore_index=True)).table()
    picks["in_data"] = extra[extra["in_data"]].iloc[0]
    rng = np.random.default_rng([seed, 99])
    post_n = fit.posterior.sizes["chain"] * fit.posterior.sizes["draw"]
    tables, labels = [], []
    for name, row in picks.items():
        new = pd.DataFrame({"params": [row["params"]], "tokens": [row["tokens"]]})
        pred = fit.predict(new, seed=int(rng.integers(1 << 30)), discrepancy=False)
        draws = pred.predictive.values.reshape(post_n)
        for y in rng.choice(draws, size=n_outcomes, replace=False):
            tables.append(pd.concat([fit.data[["params", "tokens", "loss"]],
                                     new.assign(loss=y)], ignore_index=True))
            labels.append(name)
    refits = fit_many(law, tables, seed=seed + 500, **settings)
    now = float(np.var(np.log(fit.optimal(target, family=fit.families[0]).draws["loss_opt"].values.ravel())))
    rows = []
    for name, row in picks.items():
        got = [np.var(np.log(r.optimal(target, family=r.families[0]).draws["loss_opt"].values.ravel()))
               for r, lab in zip(refits, labels) if lab == name]
        rows.append({"candidate": name, "params": float(row["params"]),
                     "tokens": float(row["tokens"]), "var_now": now,
                     "var_expected": float(row["sd_after"]) ** 2,
                     "var_refit_mean": float(np.mean(got)),
                     "var_refit_sd": float(np.std(got))})
    return pd.DataFrame(rows)


def replay(settings, *, steps=6, budget=2e21, seed=0, n_random=3):
    """Replay on Epoch's Chinchilla runs: choose among existing runs, step by step.

    Start: the runs at <= 1e19 FLOPs. Held out: the runs at >= 2e21 FLOPs (the largest). Pool:
    the runs in between up to 3e20 FLOPs. The design (target: the held-out runs' largest
    compute, quantity loss, candidates the pool) picks the first run of its proposal within the
    remaining ``budget``, the law is refitted, and so on for ``steps`` runs; random orders and
    the IsoFLOP order (the pool by increasing compute, budget by budget, as a ladder of IsoFLOP
    grids is trained) and the largest-first order (the pool by decreasing compute: as many
    FLOPs as possible) pick the same number of runs. After each step the refit forecasts the
    held-out runs (no discrepancy: ``extrapolation=None`` throughout), scored by the median
    absolute log error and the 90% coverage.
    """
    law = bl.laws.get("chinchilla")
    runs = bl.datasets.load("chinchilla_epoch", fit_rows=True)[["params", "tokens", "loss"]]
    c = 6 * runs["params"] * runs["tokens"]
    start, held = runs[c <= 1e19], runs[c >= 2e21]
    pool = runs[(c > 1e19) & (c <= 3e20)].reset_index(drop=True)
    target = float((6 * held["params"] * held["tokens"]).max())

    def scores(fit):
        pred = fit.predict(held, discrepancy=False)
        draws = pred.predictive.values.reshape(-1, len(held))
        lo, med, hi = np.quantile(draws, [0.05, 0.5, 0.95], axis=0)
        y = held["loss"].to_numpy()
        return {"error": float(np.median(np.abs(np.log(med / y)))),
                "coverage": float(np.mean((lo <= y) & (y <= hi))),
                "width": float(np.median((hi - lo) / med))}

    rows = []
    chosen, table, spent = [], start.copy(), 0.0
    fit = fit_many(law, [table], seed=seed, **settings)[0]
    rows.append({"strategy": "design", "k": 0, "flops": 0.0, **scores(fit)})
    for k in range(1, steps + 1):
        left = pool.drop(index=chosen)
        des = design(fit, target=target, budget=budget - spent, candidates=left, seed=seed)
        if not len(des.proposal):
            break
        first = des.proposal.iloc[0]
        idx = left.index[np.isclose(left["params"], first["params"])
                         & np.isclose(left["tokens"], first["tokens"])][0]
        chosen.append(idx)
        spent += float(first["flops"])
        table = pd.concat([start, pool.loc[chosen]], ignore_index=True)
        fit = fit_many(law, [table], seed=seed + k, **settings)[0]
        rows.append({"strategy": "design", "k": k, "flops": spent, **scores(fit)})
        print(f"  replay design step {k}: N={first['params']:.3g} D={first['tokens']:.3g} "
              f"({first['flops']:.3g} FLOPs)", flush=True)
    k_max = len(chosen)
    pool_c = (6 * pool["params"] * pool["tokens"]).to_numpy()
    orders = {"isoflop": list(np.argsort(pool_c, kind="stable")),
              "largest": list(np.argsort(-pool_c, kind="stable"))}
    rng = np.random.default_rng([seed, 5])
    for r in range(n_random):
        orders[f"random{r}"] = list(rng.permutation(len(pool)))
    tables, keys = [], []
    for how, order in orders.items():
        for k in range(1, k_max + 1):
            tables.append(pd.concat([start, pool.loc[order[:k]]], ignore_index=True))
            keys.append((how, k, float((6 * pool.loc[order[:k], "params"]
                                        * pool.loc[order[:k], "tokens"]).sum())))
    fits = fit_many(law, tables, seed=seed + 100, **settings)
    for (how, k, flops), f in zip(keys, fits):
        rows.append({"strategy": "random" if how.startswith("random") else how, "k": k,
                     "flops": flops, **scores(f)})
    res = pd.DataFrame(rows).groupby(["strategy", "k"]).mean().reset_index()
    return res, {"start_runs": len(start), "held_out": len(held), "pool": len(pool),
                 "target": target}


def one_run(budget):
    """The whole budget as one run at 20 tokens per parameter: the plan that reaches furthest
    toward the target (the least distance, so the least discrepancy and allocation error)."""
    n = n20(budget)
    return pd.DataFrame({"params": [n], "tokens": [20 * n]})


def reach(budget, target, grid_widths=None):
    """How far each fixed plan gets toward the target, and what that alone leaves of N*'s
    interval: relative distance u of the target's true optimum beyond the pilot plus the plan
    (:func:`bayeslaws.extrapolation.relative_distance`), the allocation error's sd there
    (:func:`bayeslaws.optimal.allocation_sd`) and its 90% relative width
    ``2 sinh(1.645 sd)``; with ``grid_widths`` (the grid's realised N* widths per seed), the
    median of that width over them: a floor of the N* width ratio of a plan that goes that far
    with the exponents known exactly."""
    from bayeslaws import extrapolation as ex
    from bayeslaws.optimal import allocation_sd

    law = bl.laws.get("chinchilla")
    n, _ = true_optimum(target)
    point = pd.DataFrame({"params": [n], "tokens": [target / (6 * n)]})
    x = bl.data.prepare(law, point, require_target=False).x
    rows = []
    for how, plan in (("isoflop", isoflop_grid(budget)), ("one_run", one_run(budget))):
        table = pd.concat([pilot(0, 0.0)[["params", "tokens"]], plan], ignore_index=True)
        tx = bl.data.prepare(law, table, require_target=False).x
        u = float(ex.relative_distance(law, tx, np.zeros(len(table), str), x,
                                       np.zeros(1, str))[0])
        sd = float(allocation_sd(u))
        width = 2 * math.sinh(1.6448536269514722 * sd)
        row = {"budget": budget, "plan": how, "u": u, "allocation_sd": sd, "width90": width}
        if grid_widths is not None:
            row["width_over_grid"] = float(np.median(width / np.asarray(grid_widths)))
        rows.append(row)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=float, default=1e21)
    ap.add_argument("--target", type=float, default=1e24)
    ap.add_argument("--noise", type=float, default=0.015)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--validate", action="store_true")
    ap.add_argument("--replay", action="store_true", help="only the replay on chinchilla_epoch")
    ap.add_argument("--min-ess", type=float, help="override bayeslaws.design.MIN_ESS (a huge "
                    "value: the Laplace update everywhere; 0: importance reweighting only)")
    ap.add_argument("--discrepancy", action="store_true",
                    help="fit with the default extrapolation discrepancy (as a user's fit has "
                    "it), so the design counts it and the loss forecast at the target carries "
                    "it; default: extrapolation=None (the truth is the law itself)")
    ap.add_argument("--reach", nargs="*", metavar="JSON",
                    help="no fits: print how far the grid and one full-budget run get toward the "
                    "target and the allocation error left there, against the grid's N* widths "
                    "in the given result files of earlier runs")
    ap.add_argument("--out", default="benchmarks/results/design.json")
    args = ap.parse_args(argv)
    if args.reach is not None:
        rows = []
        for path in args.reach or [None]:
            if path is None:
                rows += reach(args.budget, args.target)
                continue
            with open(path) as fh:
                done = json.load(fh)
            grid = [r["n_opt_width"] for r in done["rows"] if r["strategy"] == "isoflop"]
            rows += reach(done["args"]["budget"], done["args"]["target"], grid)
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        return 0
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", UserWarning)
    if args.min_ess is not None:
        import bayeslaws.design

        bayeslaws.design.MIN_ESS = args.min_ess
    settings = {"draws": args.draws, "tune": args.tune, "chains": args.chains,
                "extrapolation": "backtest" if args.discrepancy else None}
    if args.replay:
        t0 = time.time()
        res, info = replay(settings)
        pd.set_option("display.width", 200)
        print(info)
        print(res.to_string(float_format=lambda v: f"{v:.4g}"))
        print(f"total {time.time() - t0:.0f}s")
        out = args.out.replace(".json", "_replay.json")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as fh:
            json.dump({"args": vars(args), "info": info, "rows": res.to_dict("records")}, fh,
                      indent=1, default=float)
        return 0
    law = bl.laws.get("chinchilla")
    t0 = time.time()
    seeds = list(range(args.seeds))
    pilots = [pilot(s, args.noise) for s in seeds]
    pilot_fits = fit_many(law, pilots, seed=1, **settings)
    print(f"pilots fitted: {time.time() - t0:.0f}s", flush=True)
    plans, spent, expected = {}, [], []
    for s, fit in zip(seeds, pilot_fits):
        des = design(fit, target=args.target, budget=args.budget, seed=s)
        des_n = design(fit, target=args.target, budget=args.budget, seed=s, quantity="n_opt")
        plans[s] = {"design": des.proposal[["params", "tokens"]],
                    "design_n_opt": des_n.proposal[["params", "tokens"]],
                    "isoflop": isoflop_grid(args.budget), "ladder20": ladder20(args.budget),
                    "one_run": one_run(args.budget)}
        spent.append(des.spent)
        row = {"sd_now": des.sd_now, "sd_expected": des.sd_after,
               "runs": len(des.proposal), "greedy": des.greedy}
        for how in ("isoflop", "ladder20", "one_run"):  # the design's estimator on the others
            row[f"sd_expected_{how}"] = expected_sd(fit, plans[s][how], target=args.target,
                                                    seed=s)[1]
        expected.append(row)
    print(f"designs: {time.time() - t0:.0f}s", flush=True)
    tables, keys, extra, extra_keys = [], [], [], []
    for s in seeds:
        for how, runs in plans[s].items():
            # one_run came later: its own noise stream and batch, so the other plans' outcomes
            # and refits are those of the runs before it
            rng = np.random.default_rng([s, 3] if how == "one_run" else [s, 2, len(keys)])
            new = runs.assign(loss=observe(runs["params"].to_numpy(), runs["tokens"].to_numpy(),
                                           rng, args.noise))
            table = pd.concat([pilots[s], new], ignore_index=True)
            (extra if how == "one_run" else tables).append(table)
            (extra_keys if how == "one_run" else keys).append((s, how))
    refits = fit_many(law, tables, seed=2, **settings) + fit_many(law, extra, seed=3, **settings)
    tables, keys = tables + extra, keys + extra_keys
    print(f"refits: {time.time() - t0:.0f}s", flush=True)
    rows = []
    for (s, how), fit, table in zip(keys, refits, tables):
        r = score(fit, args.target)
        r.update(seed=s, strategy=how, flops=float((6 * table["params"] * table["tokens"])
                                                   .iloc[len(pilots[s]):].sum()),
                 runs=len(table) - len(pilots[s]))
        rows.append(r)
    for s, fit in zip(seeds, pilot_fits):
        r = score(fit, args.target)
        r.update(seed=s, strategy="pilot only", flops=0.0, runs=0)
        rows.append(r)
    res = pd.DataFrame(rows)
    summary = res.groupby("strategy").agg(
        runs=("runs", "mean"), flops=("flops", "mean"),
        loss_width=("loss_width", "median"), loss_error=("loss_error", "median"),
        loss_coverage=("loss_covered", "mean"), n_width=("n_opt_width", "median"),
        n_error=("n_opt_error", "median"), n_coverage=("n_opt_covered", "mean"),
        n_law_width=("n_law_width", "median"), n_law_coverage=("n_law_covered", "mean"))
    pd.set_option("display.width", 200)
    print(summary.to_string(float_format=lambda v: f"{v:.4g}"))
    iso = res[res.strategy == "isoflop"].set_index("seed")
    dsn = res[res.strategy == "design"].set_index("seed")
    dsn_n = res[res.strategy == "design_n_opt"].set_index("seed")
    ratio_l = (dsn["loss_width"] / iso["loss_width"])
    ratio_n = (dsn_n["n_opt_width"] / iso["n_opt_width"])
    ratio_nl = (dsn_n["n_law_width"] / iso["n_law_width"])
    print(f"design / isoflop 90% width, loss at target: median {ratio_l.median():.3f}, "
          f"narrower in {(ratio_l < 1).mean():.0%} of seeds; N* (design for n_opt): median {ratio_n.median():.3f}, "
          f"narrower in {(ratio_n < 1).mean():.0%}; N*, the law's posterior alone: median "
          f"{ratio_nl.median():.3f}, narrower in {(ratio_nl < 1).mean():.0%}")
    one = res[res.strategy == "one_run"].set_index("seed")
    print(f"one run / isoflop 90% width: loss {(one.loss_width / iso.loss_width).median():.3f}, "
          f"N* {(one.n_opt_width / iso.n_opt_width).median():.3f}")
    exp = pd.DataFrame(expected)
    d_sd = dsn["loss_sd_log"].to_numpy()
    print(f"design's expected sd of log loss after its runs {exp.sd_expected.median():.4f} "
          f"(median over seeds) vs realised {np.median(d_sd):.4f}; pilot {exp.sd_now.median():.4f}"
          f"; greedy used: {exp.greedy.value_counts().to_dict()}; runs {exp.runs.median():.0f}")
    for how in ("isoflop", "ladder20", "one_run"):
        got = res[res.strategy == how]["loss_sd_log"].median()
        print(f"  {how}: expected sd {exp[f'sd_expected_{how}'].median():.4f} vs realised "
              f"{got:.4f}")
    out = {"args": vars(args), "summary": summary.reset_index().to_dict("records"),
           "width_ratio_loss_median": float(ratio_l.median()),
           "width_ratio_n_median": float(ratio_n.median()),
           "expected": exp.to_dict("records"), "rows": res.to_dict("records")}
    if args.validate:
        val = validate(pilot_fits[0], args.target, args.budget, settings)
        print(val.to_string(float_format=lambda v: f"{v:.4g}"))
        out["validate"] = val.to_dict("records")
    print(f"total {time.time() - t0:.0f}s")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
