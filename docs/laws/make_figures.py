"""Regenerate the figures of docs/laws/{vocab,batch-size,task,densing,bnsl,m4}.md from the bundled real data.

    PYTHONPATH=. python docs/laws/make_figures.py [vocab|batch-size|task|densing|bnsl|m4 ...]

Each figure uses a 2-chain x 500-draw fit (seed 0); the models/ specs give the 4 x 1000 numbers.
"""

from __future__ import annotations

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import bayeslaws as bl  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS = {"seed": 0, "draws": 500, "tune": 500, "chains": 2}


def vocab():
    from bayeslaws.laws.vocab import APPROACH1_LOG_K, optimal_vocab

    runs = bl.datasets.load("vocab_tao2024", fit_rows=True)
    fit = bl.laws.get("vocab").fit(runs, **SETTINGS)
    flops = np.logspace(19, 25, 13)
    nnv = np.exp(APPROACH1_LOG_K) * flops ** 0.5
    v = optimal_vocab(fit, nnv)["V_opt"].quantile([0.05, 0.5, 0.95], dim=("chain", "draw")).values
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    a.fill_between(flops, v[0], v[2], alpha=0.3, label="90% interval")
    a.plot(flops, v[1], label="posterior median")
    a.scatter([7.05e23, 7.05e21], [216_000, 60_000], color="k", marker="x", zorder=3,
              label="Tao et al. (Llama2-70B: 216K; 7B: 60K)")
    a.set(xscale="log", yscale="log", xlabel="training FLOPs C (N_nv compute-optimal)",
          ylabel="optimal vocabulary size V*", title="Compute-optimal vocabulary")
    a.legend(fontsize=8)
    last = runs.loc[runs.groupby(["params_nonvocab", "vocab_size"])["tokens"].idxmax()]
    grid_v = np.geomspace(4096, 96256, 40)
    for (nnv_i, g), color in zip(last.groupby("params_nonvocab"), plt.cm.viridis(np.linspace(0, 0.9, 6))):
        b.scatter(g["vocab_size"], g["lossu"], color=color, s=14)
        rows = {"params_nonvocab": np.full(40, nnv_i), "vocab_size": grid_v,
                "embed_dim": np.full(40, g["embed_dim"].iloc[0]),
                "tokens": np.interp(np.log(grid_v), np.log(g["vocab_size"]), g["tokens"])}
        import pandas as pd

        pred = fit.predict(pd.DataFrame(rows)).law.quantile([0.05, 0.5, 0.95], dim=("chain", "draw")).values
        b.plot(grid_v, pred[1], color=color, label=f"N_nv = {nnv_i / 1e6:.0f}M")
        b.fill_between(grid_v, pred[0], pred[2], color=color, alpha=0.25)
    b.set(xscale="log", xlabel="vocabulary size V", ylabel="unigram-normalised loss (final checkpoint)",
          title="Fit on Tao et al.'s runs (>= 2.18e17 FLOPs)")
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "vocab.png"), dpi=110)


def batch_size():
    from bayeslaws.laws.batch_size import optimal_hyperparameters

    runs = bl.datasets.load("steplaw_li2025", fit_rows=True)
    fit = bl.laws.get("batch-size").fit(runs, **SETTINGS)
    cells = runs.groupby("family", sort=False)[["params", "tokens"]].first().loc[fit.families]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    best = runs.loc[runs.groupby("family")["loss"].idxmin()].set_index("family").loc[fit.families]
    own = [optimal_hyperparameters(fit, r.params, r.tokens, family=f) for f, r in cells.iterrows()]
    lr_cell = np.array([float(o["lr_opt"].median()) for o in own])
    bs_cell = np.array([float(o["batch_size_opt"].median()) for o in own])
    d_grid = np.geomspace(3e9, 2e11, 30)
    for n, color in ((2.15e8, "C0"), (1.07e9, "C3")):
        q = optimal_hyperparameters(fit, n, d_grid)["lr_opt"].quantile([0.05, 0.5, 0.95], dim=("chain", "draw")).values
        a.fill_between(d_grid, q[0], q[2], color=color, alpha=0.25)
        a.plot(d_grid, q[1], color=color, label=f"N = {n / 1e6:.0f}M: ours (new cell, 90%)")
        a.plot(d_grid, 1.79 * n ** -0.713 * d_grid ** 0.307, color=color, ls="--",
               label=f"N = {n / 1e6:.0f}M: Li et al. 2025")
    sel = np.isin(cells["params"].values, (214663680, 1073741824))
    a.scatter(cells["tokens"][sel], lr_cell[sel], color="k", s=16, label="fitted cell optima")
    a.scatter(best["tokens"][sel], best["lr"][sel], facecolor="none", edgecolor="k", s=30,
              label="best grid run")
    a.set(xscale="log", yscale="log", xlabel="tokens D", ylabel="optimal peak learning rate",
          title="Optimal LR")
    a.legend(fontsize=7)
    q = optimal_hyperparameters(fit, 5e8, d_grid)["batch_size_opt"].quantile([0.05, 0.5, 0.95], dim=("chain", "draw")).values
    b.fill_between(d_grid, q[0], q[2], alpha=0.25, label="ours (new cell, 90%)")
    b.plot(d_grid, q[1])
    b.plot(d_grid, 0.58 * d_grid ** 0.571, "k--", label="Li et al. 2025: 0.58 D^0.571")
    b.scatter(cells["tokens"], bs_cell, color="k", s=16, label="fitted cell optima")
    b.scatter(best["tokens"], best["batch_size"], facecolor="none", edgecolor="k", s=30,
              label="best grid run")
    b.set(xscale="log", yscale="log", xlabel="tokens D", ylabel="optimal batch size (tokens)",
          title="Optimal batch size")
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "batch-size.png"), dpi=110)


def task():
    from bayeslaws.laws.task import chain

    fin = bl.datasets.load("olmo_ladder_bhagia2024")
    f1 = bl.laws.get("task").fit(fin[fin["role"] == "ladder"], **SETTINGS)
    ck = bl.datasets.load("olmo_ladder_checkpoints_bhagia2024")
    f2 = bl.laws.get("task-accuracy").fit(ck, **SETTINGS)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, role, label in zip(axes, ("target_7b", "target_13b"), ("OLMo-2 7B (4T)", "OLMo-2 13B (5T)")):
        tg = fin[fin["role"] == role].reset_index(drop=True)
        c = chain(f1, f2, tg[["family", "params", "tokens"]]).interval()
        y = np.arange(len(tg))
        ax.errorbar(100 * c["accuracy_median"], y, xerr=[100 * (c["accuracy_median"] - c["accuracy_lower"]),
                    100 * (c["accuracy_upper"] - c["accuracy_median"])], fmt="o", label="chained forecast (90%)")
        ax.scatter(100 * tg["accuracy"], y, color="k", marker="x", zorder=3, label="actual")
        ax.set_yticks(y, tg["family"])
        ax.set(xlabel="5-shot accuracy (%)", title=f"{label}: fit on 190M-1.3B ladder")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "task.png"), dpi=110)


def densing():
    import pandas as pd

    data = bl.datasets.load("densing_xiao2024")
    fit = bl.laws.get("densing").fit(data, extrapolation=None, **SETTINGS)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    ax = axes[0]
    from bayeslaws.laws.densing import _reference_params

    p = _reference_params(fit, "population")
    grid = np.logspace(7.5, 12, 60)
    curves = fit.law.formula({"params": np.log(grid)[None, :]}, {k: v[:, None] for k, v in p.items()}, np)
    lo, med, hi = np.quantile(curves, [0.05, 0.5, 0.95], axis=0)
    ax.fill_between(grid, lo, hi, alpha=0.3, color="C0", label="reference (population) curve, 90%")
    ax.plot(grid, med, color="C0")
    dated = data["date"].notna()
    ax.scatter(data.loc[~dated, "params"], data.loc[~dated, "score"], s=10, color="0.6",
               label="undated models")
    sc = ax.scatter(data.loc[dated, "params"], data.loc[dated, "score"], s=16,
                    c=pd.to_datetime(data.loc[dated, "date"]).dt.year, cmap="viridis",
                    label="dated models (colour: year)")
    fig.colorbar(sc, ax=ax, label="release year")
    ax.set(xscale="log", xlabel="parameters N", ylabel="mean of MMLU, HellaSwag, WinoGrande, GSM8K",
           title="step 1: reference scaling (130 open base models)")
    ax.legend(fontsize=7, loc="upper left")
    ax = axes[1]
    trend = fit.densing_trend()
    pts = trend.points
    dates = pd.to_datetime(pts["date"])
    ax.errorbar(dates, pts["log_rho_max_median"],
                yerr=[pts["log_rho_max_median"] - pts["log_rho_max_lower"],
                      pts["log_rho_max_upper"] - pts["log_rho_max_median"]],
                fmt="o", color="k", label="ln rho_max per release (90%)")
    tt = np.linspace(pts["t"].min(), pts["t"].max(), 50)
    lines = trend.draws["B"].values[:, None] + trend.draws["A"].values[:, None] * tt[None, :]
    lo, med, hi = np.quantile(lines, [0.05, 0.5, 0.95], axis=0)
    td = pd.Timestamp("2023-01-01") + pd.to_timedelta(tt * 365.25, unit="D")
    ax.fill_between(td, lo, hi, alpha=0.3, color="C1")
    ax.plot(td, med, color="C1", label="ln rho_max = A t + B (90%)")
    v = trend.draws["doubling_months"].values
    ax.set(ylabel="ln capability density", xlabel="release date (Epoch AI)",
           title=f"step 3: doubling time {np.median(v):.1f} months "
                 f"[{np.quantile(v, 0.05):.1f}, {np.quantile(v, 0.95):.1f}] (paper: 3.3)")
    for _, r in pts.iterrows():
        fam = data.set_index("model").loc[r["models"].split(", ")[0], "family"]
        ax.annotate(fam, (pd.Timestamp(r["date"]),
                    r["log_rho_max_median"]), fontsize=6, xytext=(3, -9), textcoords="offset points")
    ax.legend(fontsize=8, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "densing.png"), dpi=110)


def learning_curves(form):
    """bnsl or m4 on the Revisiting benchmark's 5 LM curves, the held-out later parts in red."""
    from bayeslaws.examples import revisiting

    fits, _train, test = revisiting.fit_forms("LM", forms=(form,), pooling="independent",
                                              **SETTINGS)
    fits[form].plot.fit(os.path.join(HERE, f"{form}.png"), holdout=test)


if __name__ == "__main__":
    jobs = {"vocab": vocab, "batch-size": batch_size, "task": task, "densing": densing,
            "bnsl": lambda: learning_curves("bnsl"), "m4": lambda: learning_curves("m4")}
    for name in sys.argv[1:] or list(jobs):
        jobs[name]()
