"""Pythia task scaling (docs/laws/task.md, "Pythia"): forecast table and figure from real data.

    PYTHONPATH=. python docs/laws/make_pythia.py [FIT.nc [PPL.nc]]

FIT.nc and PPL.nc are saved fits of ``models/pythia_task.yaml`` and
``models/pythia_lambada_ppl.yaml`` (``bayeslaws fit SPEC --out FIT.nc --no-extrapolation``,
4 chains x 1000 draws); without them the specs are fitted here at their own settings. Prints the per-model and per-task Markdown tables (median forecast of the
held-out 6.9B and 12B final checkpoints vs actual, 90% interval, coverage) and writes
``docs/laws/pythia.png``. Forecasts are the plain posterior predictive (no backtest widening).
"""

from __future__ import annotations

import os
import sys
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import bayeslaws as bl  # noqa: E402
from bayeslaws.spec import load_spec  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "..", "..", "models", "pythia_task.yaml")
PPL_SPEC = os.path.join(HERE, "..", "..", "models", "pythia_lambada_ppl.yaml")
FINAL = 143_000
NAMES = {"arc_easy": "ARC-Easy", "arc_challenge": "ARC-Challenge", "lambada_openai": "LAMBADA",
         "piqa": "PIQA", "sciq": "SciQ", "winogrande": "WinoGrande"}


def main(argv):
    spec = load_spec(SPEC)
    train, held = spec.train_data(), spec.holdout_data().reset_index(drop=True)
    if argv:
        fit = bl.load(argv[0])
    else:
        fit = spec.law().fit(train, extrapolation=None, **spec.sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ExtrapolationWarning)
        iv = fit.predict(held).interval(0.9)
    tab = held[["family", "suite", "size", "params", "accuracy"]].copy()
    for c in ("median", "lower", "upper"):
        tab[c] = iv[f"accuracy_{c}"].values
    tab["error"] = tab["median"] - tab["accuracy"]
    tab["inside"] = (tab.lower < tab.accuracy) & (tab.accuracy < tab.upper)
    print("| task | model | actual | forecast (median) | 90% interval | error (points) | inside |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in tab.sort_values(["family", "suite", "params"]).itertuples():
        model = f"{r.size}{'-deduped' if r.suite.endswith('deduped') else ''}"
        print(f"| {NAMES[r.family]} | {model} | {100 * r.accuracy:.1f} | {100 * r.median:.1f} | "
              f"{100 * r.lower:.1f}-{100 * r.upper:.1f} | {100 * r.error:+.1f} | "
              f"{'yes' if r.inside else '**no**'} |")
    print()
    print("| task | mean abs. error (points) | max abs. error | coverage (90%) | "
          "2.8B-final as forecast: mean abs. error |")
    print("| --- | --- | --- | --- | --- |")
    last = train[(train.params == train.params.max()) & (train.step == FINAL)]
    naive = tab.merge(last[["family", "suite", "accuracy"]], on=["family", "suite"], suffixes=("", "_28"))
    naive["nerr"] = (naive.accuracy_28 - naive.accuracy).abs()
    for fam, g in tab.groupby("family"):
        n = naive[naive.family == fam]
        print(f"| {NAMES[fam]} | {100 * g.error.abs().mean():.1f} | {100 * g.error.abs().max():.1f} | "
              f"{g.inside.sum()}/{len(g)} | {100 * n.nerr.mean():.1f} |")
    print(f"| all | {100 * tab.error.abs().mean():.1f} | {100 * tab.error.abs().max():.1f} | "
          f"{tab.inside.sum()}/{len(tab)} | {100 * naive.nerr.mean():.1f} |")

    # figure: final-checkpoint accuracy vs params per task, with the fitted curve and band
    fams = list(NAMES)
    fig, axes = plt.subplots(2, 3, figsize=(12, 7), sharex=True)
    grid = np.geomspace(5e7, 2e10, 40)
    tokens = float(held.tokens.iloc[0])
    for ax, fam in zip(axes.flat, fams):
        chance = float(train[train.family == fam].chance.iloc[0])
        new = pd.DataFrame({"family": fam, "params": grid, "tokens": tokens, "chance": chance})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bl.ExtrapolationWarning)
            p = fit.predict(new).interval(0.9)
        ax.fill_between(grid, p.accuracy_lower, p.accuracy_upper, alpha=0.25, label="90% interval")
        ax.plot(grid, p.accuracy_median, label="posterior median")
        tr = train[(train.family == fam) & (train.step == FINAL)]
        ho = held[held.family == fam]
        for frame, marker, label in ((tr, "o", "fitted (<= 2.8B)"), (ho, "s", "held out (6.9B, 12B)")):
            for dd, color in ((False, "k"), (True, "tab:red")):
                g = frame[frame.deduped == dd]
                ax.scatter(g.params, g.accuracy, marker=marker, s=22, color=color,
                           facecolors="none" if marker == "s" else color,
                           label=f"{label}, {'deduped' if dd else 'standard'}")
        if chance > 0.01:
            ax.axhline(chance, color="grey", lw=0.8, ls=":", label="chance")
        ax.axvline(3e9, color="grey", lw=0.6, ls="--")
        ax.set(xscale="log", title=NAMES[fam])
    for ax in axes[1]:
        ax.set_xlabel("parameters N (final checkpoint, 300B tokens)")
    for ax in axes[:, 0]:
        ax.set_ylabel("0-shot accuracy")
    axes[0, 0].legend(fontsize=6.5, loc="upper left")
    fig.suptitle("Pythia: task-direct law fitted on 70M-2.8B (14 checkpoints each), "
                 "6.9B and 12B held out")
    fig.tight_layout()
    fig.savefig(os.path.join(HERE, "pythia.png"), dpi=110)
    lambada_ppl(argv[1] if len(argv) > 1 else None)


def lambada_ppl(path):
    """LAMBADA perplexity of the held-out models from the ``task`` law on ln(ppl)."""
    spec = load_spec(PPL_SPEC)
    held = spec.holdout_data().reset_index(drop=True)
    fit = bl.load(path) if path else spec.law().fit(spec.train_data(), extrapolation=None,
                                                   **spec.sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ExtrapolationWarning)
        iv = fit.predict(held).interval(0.9)
    print()
    print("| model | actual ppl | forecast (median) | 90% interval | inside |")
    print("| --- | --- | --- | --- | --- |")
    inside = 0
    for i, r in held.sort_values(["suite", "params"]).iterrows():
        lo, med, hi = (float(np.exp(iv.loc[i, f"task_loss_{c}"])) for c in ("lower", "median", "upper"))
        ok = lo < r.ppl < hi
        inside += ok
        model = f"{r['size']}{'-deduped' if r.deduped else ''}"
        print(f"| {model} | {r.ppl:.2f} | {med:.2f} | {lo:.2f}-{hi:.2f} | {'yes' if ok else '**no**'} |")
    print(f"coverage {inside}/{len(held)}")


if __name__ == "__main__":
    main(sys.argv[1:])
