"""Derive the small loss tables of the extrapolation benchmark from the shared raw data.

Run from the repository root with the shared data beside it (``../shared/data``); the outputs are
committed, so the benchmark itself needs only this folder. Provenance: ``README.md`` here.
"""

from __future__ import annotations

import os

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


if __name__ == "__main__":
    for name, make in [("datablations", datablations), ("porian", porian),
                       ("olmo_ladder", olmo_ladder), ("opt", opt)]:
        frame = make().sort_values(["params", "tokens"]).reset_index(drop=True)
        frame.to_csv(os.path.join(HERE, f"{name}.csv"), index=False)
        print(name, len(frame))
