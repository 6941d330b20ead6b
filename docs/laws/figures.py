"""Regenerate the figures of the catalogue pages in docs/laws/ from the bundled data.

Run from the repository root: ``python docs/laws/figures.py [overtraining|downstream|data-constrained]``.
Each fit uses its ``models/`` spec at the spec's sampler settings.
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
from bayeslaws.plots import plot_fit  # noqa: E402
from bayeslaws.spec import load_spec  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def spec_fit(name):
    spec = load_spec(os.path.join(ROOT, "models", f"{name}.yaml"))
    return spec, spec.law().fit(spec.train_data(), **spec.sampler)


def rpj_targets(frame):
    keep = (frame["family"] == "rpj") & (((frame["arch"] == "open_lm_1b")
                                          & (frame["tokens_per_param"] == 640))
                                         | (frame["arch"] == "open_lm_7b"))
    return frame[keep].sort_values("params").reset_index(drop=True)


def overtraining():
    spec, fit = spec_fit("gadre_overtraining")
    held = spec.holdout_data()
    plot_fit(fit, os.path.join(HERE, "overtraining.png"),
             holdout=held[held["tokens_per_param"].isin([20, 320, 640])])
    return fit


def downstream(loss_fit=None):
    loss_fit = loss_fit or spec_fit("gadre_overtraining")[1]
    spec, fit = spec_fit("gadre_downstream")
    train, held = spec.train_data(), spec.holdout_data()
    grid = np.linspace(2.2, 6.2, 80)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), sharey=True)
    for ax, fam in zip(axes, fit.families):
        rows = pd.DataFrame({"loss": grid, "family": fam})
        draws = fit.predict(rows).law
        lo, med, hi = (draws.quantile(q, ("chain", "draw")).values for q in (0.05, 0.5, 0.95))
        ax.fill_between(grid, lo, hi, alpha=0.25, color="C0", label="90% band (law)")
        ax.plot(grid, med, color="C0", label="median")
        h = held[held["family"] == fam]
        ax.scatter(h["loss"], h["error"], facecolors="none", edgecolors="C3", s=22,
                   label="held out")
        t = train[train["family"] == fam]
        ax.scatter(t["loss"], t["error"], color="k", s=22, zorder=3, label="fitted")
        if fam == "rpj":
            targets = rpj_targets(bl.datasets.load("gadre_downstream"))
            iv = bl.chain(loss_fit, fit).predict(targets).interval()
            ax.errorbar(iv["loss_median"], iv["error_median"],
                        xerr=[iv["loss_median"] - iv["loss_lower"], iv["loss_upper"] - iv["loss_median"]],
                        yerr=[iv["error_median"] - iv["error_lower"], iv["error_upper"] - iv["error_median"]],
                        fmt="D", color="C2", ms=5, capsize=3, zorder=4,
                        label="chained forecast (1.4B M=640, 6.9B M=20), 90%")
            ax.scatter(targets["loss"], targets["error"], marker="*", s=120, color="C3",
                       zorder=5, label="their measured values")
        ax.set_title(fam)
        ax.set_xlabel("C4 validation loss (nats/token)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("average top-1 error, 17 tasks")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle("downstream: Err = eps - k exp(-gamma L), Gadre et al. fitting set (18 runs)")
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "downstream.png"), dpi=110)


def data_constrained():
    spec, fit = spec_fit("muennighoff_data_constrained")
    train, held = spec.train_data(), spec.holdout_data()
    fam = fit.families[0]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    # left: loss against epochs for fixed (N, U) groups with at least 4 runs
    ax = axes[0]
    data = pd.concat([train.assign(split="fit"), held.assign(split="held out")])
    groups = data.groupby(["params", "unique_tokens"]).size()
    groups = groups[groups >= 5].sort_index().index[:6]
    for i, (n, u) in enumerate(groups):
        g = data[(data["params"] == n) & (data["unique_tokens"] == u)].sort_values("epochs")
        epochs = np.geomspace(1, max(g["epochs"].max(), 2) * 1.3, 60)
        rows = pd.DataFrame({"params": n, "tokens": u * epochs, "unique_tokens": u, "family": fam})
        draws = fit.predict(rows).law
        lo, med, hi = (draws.quantile(q, ("chain", "draw")).values for q in (0.05, 0.5, 0.95))
        c = f"C{i}"
        ax.fill_between(epochs, lo, hi, color=c, alpha=0.2)
        ax.plot(epochs, med, color=c, label=f"N={n / 1e6:.0f}M, U={u / 1e9:.2g}B")
        for split, face in (("fit", c), ("held out", "none")):
            s = g[g["split"] == split]
            ax.scatter(s["epochs"], s["loss"], facecolors=face, edgecolors=c, s=22)
    ax.set_xscale("log")
    ax.set_xlabel("epochs D/U")
    ax.set_ylabel("C4 validation loss (nats/token)")
    ax.set_title("loss vs repetition (filled: fitted, open: held out)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    # right: effective data D'/U vs epochs, posterior of R_D*
    ax = axes[1]
    epochs = np.geomspace(1, 1000, 100)
    rd = fit.posterior["R_D_star"].sel(family=fam).values.ravel()
    eff = 1 + rd[:, None] * (1 - np.exp(-(epochs[None, :] - 1) / rd[:, None]))
    lo, med, hi = np.quantile(eff, [0.05, 0.5, 0.95], axis=0)
    ax.fill_between(epochs, lo, hi, alpha=0.3, color="C0", label="posterior 90%")
    ax.plot(epochs, med, color="C0", label="posterior median")
    pub = 1 + 15.387756 * (1 - np.exp(-(epochs - 1) / 15.387756))
    ax.plot(epochs, pub, "k--", label="Muennighoff et al. (R_D* = 15.4)")
    ax.plot(epochs, epochs, ":", color="grey", label="unique data (D' = D)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("epochs D/U")
    ax.set_ylabel("effective data D'/U")
    ax.set_title("value of repeated tokens")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.suptitle("data-constrained: L = E + A/N'^alpha + B/D'^alpha (Muennighoff et al. 2023)")
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "data_constrained.png"), dpi=110)


if __name__ == "__main__":
    which = sys.argv[1:] or ["overtraining", "downstream", "data-constrained"]
    loss_fit = None
    if "overtraining" in which:
        loss_fit = overtraining()
    if "downstream" in which:
        downstream(loss_fit)
    if "data-constrained" in which:
        data_constrained()
