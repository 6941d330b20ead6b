"""Derive the small loss tables of the extrapolation benchmark from the shared raw data.

Run from the repository root with the shared data beside it (``../shared/data``); the outputs are
committed, so the benchmark itself needs only this folder. Provenance: ``README.md`` here.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
HERE = os.path.dirname(os.path.abspath(__file__))


def datablations() -> pd.DataFrame:
    d = pd.read_csv(os.path.join(SHARED, "datablations_muennighoff2023", "tidy.csv"))
    d = d[d.epochs <= 4].rename(columns={"val_loss": "loss"})
    return d[["family", "params", "tokens", "unique_tokens", "epochs", "loss"]]


def porian() -> pd.DataFrame:
    p = pd.read_csv(os.path.join(SHARED, "porian2024", "tidy.csv"))
    p = p[(p.param_count == "standard") & (p.loss_source == "val")]
    p = p.assign(family=p.dataset + "|" + p.hparams + "|" + p.warmup + "|" + p.decay)
    return p[["family", "flops_budget", "params", "tokens", "loss"]]


def olmo_ladder() -> pd.DataFrame:
    o = pd.read_csv(os.path.join(SHARED, "olmo_ladder_bhagia2024", "tidy.csv"))
    final = o.sort_values("step").groupby("run").tail(1)
    keep = (final.run_kind == "ladder") | final.run.isin(["peteish7_eval_anneal",
                                                            "peteish13_eval_final"])
    final = final[keep].rename(columns={"params_nonembed": "params", "c4_loss": "loss"})
    return final[["run", "size", "chinchilla_multiplier", "params", "tokens", "loss"]]


def opt() -> pd.DataFrame:
    h = pd.read_csv(os.path.join(SHARED, "hitchhiker_colpret_choshen2024", "tidy.csv"))
    h = h[h.family == "opt"].rename(columns={"value": "loss"})
    return h[["model", "params", "tokens", "loss"]]


def datablations_oscar() -> pd.DataFrame:
    """Datablations' OSCAR training curves (2.8B, 4.2B, 8.7B at 1-44 planned epochs), every
    fourth logged point of each curve (the curves are logged every few steps; neighbours add
    nothing to a fit but time)."""
    h = pd.read_csv(os.path.join(SHARED, "hitchhiker_colpret_choshen2024", "tidy.csv"))
    h = h[h.family == "datablations_oscar"].rename(columns={"value": "loss"})
    h = h.sort_values(["model", "tokens"])
    h = h[h.groupby("model").cumcount() % 4 == 0]
    return h[["family", "model", "params", "tokens", "unique_tokens", "epochs_planned", "loss"]]


def steplaw_moe() -> pd.DataFrame:
    """Li et al.'s MoE runs: the best smoothed final loss of each (active params, tokens) cell
    over its learning-rate x batch-size grid (the loss at tuned hyperparameters)."""
    s = pd.read_csv(os.path.join(SHARED, "steplaw_li2025", "tidy.csv"))
    s = s[s.arch == "moe"]
    best = (s.groupby(["params_active", "tokens"], as_index=False)["loss_smooth"].min()
            .rename(columns={"params_active": "params", "loss_smooth": "loss"}))
    return best.assign(family="steplaw_moe")


#: Tokens per optimiser step of OLMo-1B and OLMo-7B (2,048 sequences of 2,048 tokens).
OLMO1_TOKENS_PER_STEP = 2048 * 2048


def olmo1() -> pd.DataFrame:
    """OLMo-1B, OLMo-7B and OLMo-7B-Twin-2T checkpoints: C4 validation loss against tokens seen
    (1B: the ``v2-small-c4_en`` loss; 7B: log of the ``c4_en`` perplexity)."""
    o = pd.read_csv(os.path.join(SHARED, "hitchhiker_colpret_choshen2024", "aggregated_eval",
                                 "olmo.csv"))
    o = o.assign(family=o.model_name.str.strip())
    loss = o["v2-small-c4_en-validation/CrossEntropyLoss"].fillna(
        np.log(o["c4_en-validation/Perplexity"]))
    params = o.num_params.str.strip().map({"1B": 1.18e9, "7B": 6.89e9})
    out = pd.DataFrame({"family": o.family, "params": params,
                        "tokens": o.Step * OLMO1_TOKENS_PER_STEP, "loss": loss})
    out = out.dropna()
    out = out.sort_values(["family", "tokens"])
    out = out[out.groupby("family").cumcount() % 5 == 0]
    return out.assign(flops=6 * out.params * out.tokens)


if __name__ == "__main__":
    for name, make in [("datablations", datablations), ("porian", porian),
                       ("olmo_ladder", olmo_ladder), ("opt", opt),
                       ("datablations_oscar", datablations_oscar),
                       ("steplaw_moe", steplaw_moe), ("olmo1", olmo1)]:
        frame = make().sort_values(["params", "tokens"]).reset_index(drop=True)
        frame.to_csv(os.path.join(HERE, f"{name}.csv"), index=False)
        print(name, len(frame))
