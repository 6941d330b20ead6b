"""Build ``pythia_biderman2023.csv``: zero-shot accuracies of the Pythia suite at every checkpoint.

Run from the repository root (the shared data folder holds the tidy table derived from the
source JSONs)::

    python -m bayeslaws.datasets.make_pythia /work/shared/data

Source: ``pythia_biderman2023`` (EleutherAI/pythia @ a19eecb807ec2c79a39ebf18108816e6ffffc1d5,
``evals/pythia-v1/**.json``, Apache-2.0; Biderman et al. 2023, arXiv:2304.01373).

Selected: the 0-shot rows (8 sizes 70M-12B x {standard, deduped} x 26 checkpoints with step >= 1,
9 tasks); step 0 (no tokens seen) and the 5-shot rows are dropped. Columns:

* ``family`` = the task (the law's grouping), ``suite`` (``pythia_pile`` / ``pythia_pile_deduped``),
  ``deduped``, ``model``, ``size``, ``params`` (total, official counts), ``params_nonembed``,
  ``step``, ``tokens`` (= step x 2,097,152), ``flops_6ND``;
* ``accuracy`` = the harness's ``acc`` (plain accuracy, lm-evaluation-harness's default metric),
  ``acc_stderr``, ``acc_norm`` (length-normalised,
  where the task defines it), ``acc_norm_stderr``;
* ``chance``: the accuracy of guessing uniformly among the task's answer options, from the task
  definition: 1/4 for ARC (-Easy, -Challenge), SciQ, LogiQA and MMLU (four options; a few ARC
  questions have 3 or 5), 1/2 for PIQA, WinoGrande and WSC (two options), and 1/50,277 for LAMBADA
  (open-vocabulary prediction of the last word; one over the GPT-NeoX vocabulary bounds a uniform
  guess of even a single-token word);
* ``task_loss`` = log(``ppl``) for LAMBADA: the mean cross-entropy (nats) of the last word,
  ``ppl``, ``ppl_stderr``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

CHANCE = {"arc_easy": 0.25, "arc_challenge": 0.25, "sciq": 0.25, "logiqa": 0.25,
          "mmlu_avg57": 0.25, "piqa": 0.5, "winogrande": 0.5, "wsc": 0.5,
          "lambada_openai": 1.0 / 50277}


def build(shared: Path) -> pd.DataFrame:
    raw = pd.read_csv(shared / "pythia_biderman2023" / "tidy.csv")
    raw = raw[(raw.shots == 0) & (raw.step > 0) & raw.tokens.notna()].copy()
    out = pd.DataFrame({
        "family": raw.task, "suite": raw.family, "deduped": raw.deduped.astype(bool),
        "model": raw.model, "size": raw["size"], "params": raw.params.astype("int64"),
        "params_nonembed": raw.params_nonembed.astype("int64"), "step": raw.step.astype("int64"),
        "tokens": raw.tokens.astype("int64"), "flops_6ND": raw.flops_6ND.astype(float),
        "accuracy": raw.acc, "acc_stderr": raw.acc_stderr, "acc_norm": raw.acc_norm,
        "acc_norm_stderr": raw.acc_norm_stderr, "chance": raw.task.map(CHANCE),
        "task_loss": np.log(raw.ppl), "ppl": raw.ppl, "ppl_stderr": raw.ppl_stderr,
    })
    assert out.chance.notna().all()
    out = out.sort_values(["family", "suite", "params", "step"]).reset_index(drop=True)
    for col in ("accuracy", "acc_stderr", "acc_norm", "acc_norm_stderr", "task_loss", "ppl",
                "ppl_stderr"):
        out[col] = out[col].round(6)
    out["flops_6ND"] = out.flops_6ND.map(lambda v: float(f"{v:.6e}"))
    return out


if __name__ == "__main__":
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data")
    frame = build(shared)
    dest = Path(__file__).with_name("pythia_biderman2023.csv")
    frame.to_csv(dest, index=False)
    print(f"{dest}: {len(frame)} rows, {dest.stat().st_size / 1e6:.2f} MB")
