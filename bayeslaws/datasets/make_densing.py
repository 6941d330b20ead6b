"""Build ``densing_xiao2024.csv``: open base models, their average benchmark score and release date.

Run from the repository root (the shared data folder holds byte-checked copies of the sources)::

    python -m bayeslaws.datasets.make_densing /work/shared/data

Sources (see ``README.md`` beside this file):

* ``obsscaling_ruan2024`` (ryoungj/ObsScaling @ 4d6e1e43fd26, Apache-2.0): Open LLM Leaderboard v1
  scores of 148 base models, with ``params`` and ``family``;
* ``notjustscaling_liu2025`` (nightingal3/llm-pretraining-behaviours @ 5404713b2a8d): the same
  leaderboard's scores for base models the first source lacks (Qwen2.5, Yi-9B), identical to the
  first source where both have a model (checked for 40 shared models);
* ``epoch_notable_models`` (Epoch AI "Notable AI Models", snapshot 2025-02-24, CC-BY 4.0): the
  release dates, by the explicit name match in :data:`RELEASES`.

The score is the mean of four benchmarks every model has: MMLU (5-shot), HellaSwag (10-shot,
acc_norm), WinoGrande (5-shot) and GSM8K (5-shot). TruthfulQA is left out (it does not grow with
scale), ARC-C, HumanEval and XWinograd are missing for some models. Excluded: mixture-of-experts
models (their parameter counts in the sources mix total and active parameters), code-specialised
models (their general-benchmark score is not their capability) and instruction-tuned models.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

#: Benchmarks averaged into ``score``: name in obsscaling -> (benchmark, setting, metric) in
#: notjustscaling. Chance levels 0.25, 0.25, 0.5, 0 (mean 0.25).
BENCHMARKS = {
    "MMLU": ("mmlu_avg57_hendrycksTest_naming", "5-shot", "accuracy"),
    "HellaSwag": ("hellaswag", "10-shot", "acc_norm"),
    "Winograd": ("winogrande", "5-shot", "accuracy"),
    "GSM8K": ("gsm8k", "5-shot", "accuracy"),
}
#: notjustscaling names MMLU two ways; the 5-shot mmlu naming is the fallback.
MMLU_FALLBACK = ("mmlu_avg57_mmlu_naming", "5-shot", "accuracy")

#: Models taken from notjustscaling_liu2025 (not in obsscaling_ruan2024): name -> family.
EXTRA_MODELS = {
    "Qwen/Qwen2.5-3B": "Qwen2.5",
    "Qwen/Qwen2.5-14B": "Qwen2.5",
    "Qwen/Qwen2.5-32B": "Qwen2.5",
    "Qwen/Qwen2.5-72B": "Qwen2.5",
    "01-ai/Yi-9B": "Yi-9B",
}

#: Left out: mixture-of-experts (inconsistent parameter counts) and code-specialised models.
EXCLUDED_FAMILIES = {
    "Mixtral": "mixture of experts", "DeepSeek-V2": "mixture of experts",
    "DeepSeek-MoE": "mixture of experts", "DeepSeek-Coder-V2": "mixture of experts",
    "Jamba": "mixture of experts (hybrid)",
    "Codegen": "code model", "StarCoder": "code model", "StarCoder2": "code model",
    "CodeLlama": "code model", "DeepSeek-Coder": "code model",
}
EXCLUDED_MODELS = {"Qwen/Qwen2-57B-A14B": "mixture of experts"}

#: Release dates from Epoch AI's Notable AI Models (the ``model`` and ``date`` columns of its
#: language rows). Epoch lists one entry per release (usually the flagship size); the sibling
#: sizes listed here were released the same day (our match, from the release announcements).
#: Models of a family released on another day (Qwen-7B/14B, Qwen1.5-32B/110B, Falcon-rw-1b,
#: Yi-9B ...) get no date rather than a wrong one.
RELEASES = {
    "GPT-2 (1.5B)": ["openai-community/gpt2", "openai-community/gpt2-medium",
                     "openai-community/gpt2-large", "openai-community/gpt2-xl"],
    "XGLM-7.5B": ["facebook/xglm-564M", "facebook/xglm-1.7B", "facebook/xglm-4.5B",
                  "facebook/xglm-7.5B"],
    "GPT-NeoX-20B": ["EleutherAI/gpt-neox-20b"],
    "OPT-175B": ["facebook/opt-125m", "facebook/opt-350m", "facebook/opt-1.3b", "facebook/opt-2.7b",
                 "facebook/opt-6.7b", "facebook/opt-13b", "facebook/opt-30b", "facebook/opt-66b"],
    "BLOOM-176B": ["bigscience/bloom-560m", "bigscience/bloom-1b1", "bigscience/bloom-3b",
                   "bigscience/bloom-7b1", "bigscience/bloom"],
    "LLaMA-65B": ["huggyllama/llama-7b", "huggyllama/llama-13b", "huggyllama/llama-30b",
                  "huggyllama/llama-65b"],
    "Falcon-40B": ["tiiuae/falcon-7b", "tiiuae/falcon-40b"],
    "Llama 2-70B": ["meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-13b-hf",
                    "meta-llama/Llama-2-70b-hf"],
    "Falcon-180B": ["tiiuae/falcon-180B"],
    "Yi-34B": ["01-ai/Yi-6B", "01-ai/Yi-34B"],
    "Qwen-72B": ["Qwen/Qwen-72B"],
    "Qwen1.5-72B": ["Qwen/Qwen1.5-0.5B", "Qwen/Qwen1.5-1.8B", "Qwen/Qwen1.5-4B", "Qwen/Qwen1.5-7B",
                    "Qwen/Qwen1.5-14B", "Qwen/Qwen1.5-72B"],
    "Llama 3-70B": ["meta-llama/Meta-Llama-3-8B", "meta-llama/Meta-Llama-3-70B"],
    "Qwen2-72B": ["Qwen/Qwen2-0.5B", "Qwen/Qwen2-1.5B", "Qwen/Qwen2-7B", "Qwen/Qwen2-72B"],
    "Llama 3.1-405B": ["meta-llama/Meta-Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-70B",
                       "meta-llama/Meta-Llama-3.1-405B-FP8"],
    "Qwen2.5-72B": ["Qwen/Qwen2.5-3B", "Qwen/Qwen2.5-14B", "Qwen/Qwen2.5-32B", "Qwen/Qwen2.5-72B"],
}


def _obsscaling(root: Path) -> pd.DataFrame:
    o = pd.read_csv(root / "obsscaling_ruan2024" / "tidy.csv")
    scores = o[o.benchmark.isin(BENCHMARKS)].pivot_table(index="model", columns="benchmark",
                                                         values="score")
    meta = o.groupby("model")[["family", "params", "tokens"]].first()
    out = meta.join(scores).reset_index()
    out["source"] = "obsscaling_ruan2024"
    return out


def _notjustscaling(root: Path) -> pd.DataFrame:
    n = pd.read_csv(root / "notjustscaling_liu2025" / "tidy.csv")
    n = n[n.model.isin(EXTRA_MODELS)]
    key = list(zip(n.benchmark, n.setting, n.metric))
    rows = []
    for model, grp in n.assign(key=key).groupby("model"):
        vals = dict(zip(grp.key, grp.value))
        row = {"model": model, "family": EXTRA_MODELS[model], "params": grp.params.iloc[0],
               "tokens": grp.tokens.iloc[0], "source": "notjustscaling_liu2025"}
        for name, k in BENCHMARKS.items():
            row[name] = vals.get(k, vals.get(MMLU_FALLBACK) if name == "MMLU" else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def _dates(root: Path) -> pd.DataFrame:
    e = pd.read_csv(root / "epoch_notable_models" / "tidy.csv")
    rows = []
    for entry, models in RELEASES.items():
        hit = e[e.model == entry]
        if len(hit) != 1:
            raise SystemExit(f"Epoch entry {entry!r} matched {len(hit)} rows")
        for m in models:
            rows.append({"model": m, "date": hit.date.iloc[0], "date_source": f"Epoch: {entry}"})
    return pd.DataFrame(rows)


def build(root) -> pd.DataFrame:
    """The tidy table (one row per model), sorted by family and size."""
    root = Path(root)
    table = pd.concat([_obsscaling(root), _notjustscaling(root)], ignore_index=True)
    table = table[~table.family.isin(EXCLUDED_FAMILIES) & ~table.model.isin(EXCLUDED_MODELS)]
    missing = table[list(BENCHMARKS)].isna().any(axis=1)
    if missing.any():
        raise SystemExit(f"missing scores: {list(table.model[missing])}")
    dates = _dates(root)
    unknown = set(dates.model) - set(table.model)
    if unknown:
        raise SystemExit(f"dated models not in the score table: {sorted(unknown)}")
    table = table.merge(dates, on="model", how="left")
    # btlm-3b-8k-base is listed with 627 T tokens; it was trained on 627 B (Cerebras' model card).
    table.loc[table.model == "cerebras/btlm-3b-8k-base", "tokens"] = 6.27e11
    # open_llama_7b_v2 is listed at 13B parameters; it is a 7B model (its model card).
    table.loc[table.model == "openlm-research/open_llama_7b_v2", "params"] = 7e9
    table["score"] = table[list(BENCHMARKS)].mean(axis=1).round(6)
    table = table.rename(columns={"MMLU": "mmlu", "HellaSwag": "hellaswag",
                                  "Winograd": "winogrande", "GSM8K": "gsm8k"})
    cols = ["model", "family", "params", "tokens", "score", "mmlu", "hellaswag", "winogrande",
            "gsm8k", "date", "date_source", "source"]
    return table[cols].sort_values(["family", "params", "model"]).reset_index(drop=True)


def main(argv=None) -> None:
    root = (argv or sys.argv[1:] or ["/work/shared/data"])[0]
    table = build(root)
    out = Path(__file__).with_name("densing_xiao2024.csv")
    table.to_csv(out, index=False, float_format="%.6g")
    print(f"wrote {out}: {len(table)} models, {table.date.notna().sum()} with release dates, "
          f"{table.family.nunique()} families")


if __name__ == "__main__":
    main()
