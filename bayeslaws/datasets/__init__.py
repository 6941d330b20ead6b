"""Bundled public scaling-law datasets: ``bayeslaws.datasets.load(name)``.

Each CSV is a tidy table copied from public repositories; source, commit and license of each are
in ``README.md`` beside this file and in :data:`CATALOGUE`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from ..errors import DataError


@dataclass(frozen=True)
class Dataset:
    """Metadata of a bundled dataset."""

    name: str
    target: str
    source: str
    license: str
    description: str
    #: pandas query selecting the rows fits use by default ("" = all rows).
    fit_query: str = ""
    fit_query_reason: str = ""


CATALOGUE: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="chinchilla_epoch",
            target="loss",
            source="epoch-research/analyzing-chinchilla@92258837425e (Besiroglu et al. 2024, "
                   "digitised from Hoffmann et al. 2022 Fig. 4)",
            license="none stated",
            description="245 Chinchilla training runs: final loss vs params and tokens",
            fit_query="not epoch_excluded_top5_loss",
            fit_query_reason="Epoch's 240 runs: the 5 highest-loss points they exclude are left out",
        ),
        Dataset(
            name="gadre_overtraining",
            target="loss",
            source="mlfoundations/scaling@a003c4913793 (Gadre et al. 2024)",
            license="MIT",
            description="104 open_lm models on 3 corpora (family), 11M-6.9B params, 5-640 "
                        "tokens/param; loss = C4 validation loss",
        ),
        Dataset(
            name="gadre_downstream",
            target="error",
            source="mlfoundations/scaling@a003c4913793 (Gadre et al. 2024)",
            license="MIT",
            description="the same 104 models: error = average top-1 error on the paper's 17-task "
                        "split (err_avg46: all 46 tasks) vs loss = C4 validation loss",
        ),
        Dataset(
            name="datablations_muennighoff2023",
            target="loss",
            source="huggingface/datablations@13701315b163 (Muennighoff et al. 2023)",
            license="Apache-2.0",
            description="229 final runs on C4, 7M-8.7B params, 1-9000 epochs of repeated data; "
                        "loss = final C4 validation loss, unique_tokens = unique data",
        ),
        Dataset(
            name="vocab_tao2024",
            target="lossu",
            source="sail-sg/scaling-with-vocab@6701cc202af8 (Tao et al. 2024)",
            license="none stated",
            description="60 runs x 20 checkpoints: unigram-normalised loss vs non-vocabulary "
                        "params (33M-1.13B), vocabulary size (4K-96K), embedding width, tokens",
            fit_query="flops >= 2.18e17",
            fit_query_reason="the paper's Approach-3 fit uses the 1,054 points with >= 2.18e17 FLOPs",
        ),
        Dataset(
            name="steplaw_li2025",
            target="loss",
            source="step-law/steplaw@32a8f4cc5024 (Li et al. 2025)",
            license="none stated",
            description="1,911 dense runs in 17 (N, D) cells (family), 215M-1.07B params, 4B-100B "
                        "tokens, each over a learning-rate x batch-size grid; loss = smoothed "
                        "final training loss",
            fit_query="near_optimum",
            fit_query_reason="the 947 runs within 2% of their cell's best loss, where the "
                             "batch-size law's quadratic valley holds",
        ),
        Dataset(
            name="olmo_ladder_bhagia2024",
            target="task_loss",
            source="allenai/OLMo-ladder@67a3f440f787 (Bhagia et al. 2024)",
            license="Apache-2.0",
            description="final checkpoints, 7 tasks (family): task loss (bpb) and 5-shot accuracy "
                        "of the ladder (190M-1.3B x 1-10xC), the 3B runs and OLMo-2 7B and 13B",
            fit_query="role == 'ladder'",
            fit_query_reason="the paper's fit set: the 16 ladder runs (190M-1.3B at 1, 2, 5, "
                             "10 x Chinchilla) per task; 3B, 7B and 13B rows are held out",
        ),
        Dataset(
            name="olmo_ladder_checkpoints_bhagia2024",
            target="accuracy",
            source="allenai/OLMo-ladder@67a3f440f787 (Bhagia et al. 2024)",
            license="Apache-2.0",
            description="8 checkpoints per ladder run (the last 80% of training), 7 tasks "
                        "(family): task loss (bpb) and accuracy, for step 2 of the ladder",
        ),
        Dataset(
            name="pythia_biderman2023",
            target="accuracy",
            source="EleutherAI/pythia@a19eecb807ec (Biderman et al. 2023), evals/pythia-v1/**.json "
                   "via a tidy table; built by bayeslaws/datasets/make_pythia.py",
            license="Apache-2.0",
            description="0-shot accuracy (acc; acc_norm kept) of 9 tasks (family) for the 16 Pythia "
                        "models (70M-12B x standard/deduped Pile) at 26 checkpoints (2M-300B "
                        "tokens); chance = the task's guessing accuracy; LAMBADA also ppl and "
                        "task_loss = log ppl (nats)",
            fit_query="params < 3e9",
            fit_query_reason="the curators' split: fit on sizes <= 2.8B; 6.9B and 12B are "
                             "held out",
        ),
        # catalogue c: published claims transcribed from the papers (no run-level data exists
        # in the reference notes, so these are checks for fits, not tables to fit)
        Dataset(
            name="capacity_gap_zhang2023",
            target="best_teacher",
            source="transcribed from Zhang et al. 2023 (arXiv:2311.07052): abstract and the "
                   "MiniMA large-scale check as quoted by a secondary summary (the paper's table "
                   "or figure not identified)",
            license="facts quoted from the paper (no data license); transcription CC0",
            description="published claims only, not runs: the ~2.5x optimal teacher/student "
                        "ratio [ABS] and, for the 3B MiniMA student, which of the 7B/13B/70B "
                        "LLaMA teachers was best (7B) [2ND]",
        ),
        Dataset(
            name="knowledge_allenzhu2024",
            target="bits_per_param",
            source="transcribed from Allen-Zhu & Li 2024 (arXiv:2404.05405): the abstract; the "
                   "100-exposure and int4 figures are recalled or secondary (see the tag column)",
            license="facts quoted from the paper (no data license); transcription CC0",
            description="published claims only, not runs: 2 bits/param at 1000 exposures and "
                        "14B bits for 7B [ABS]; ~1 bit/param at 100 exposures [MEM, unverified]; "
                        "~0.7 at int4 [2ND]",
        ),
        Dataset(
            name="densing_xiao2024",
            target="score",
            source="ryoungj/ObsScaling@4d6e1e43fd26 (Ruan et al. 2024) + nightingal3/"
                   "llm-pretraining-behaviours@5404713b2a8d (Liu et al. 2025) scores; Epoch AI "
                   "Notable AI Models (2025-02-24) release dates",
            license="Apache-2.0 (scores, Ruan et al.); none stated (Liu et al.); CC-BY 4.0 "
                    "(Epoch AI)",
            description="130 open dense base models (39 families): score = mean of MMLU, "
                        "HellaSwag, WinoGrande, GSM8K (Open LLM Leaderboard v1) vs params; "
                        "release date for the 54 models of 16 releases matched to Epoch",
        ),
        Dataset(
            name="revisiting_alabdulmohsin2022",
            target="loss",
            source="IBM/ColPret@16f23bbe0542 aggregated_eval/revisiting_lang.csv (= google-research/"
                   "google-research@9853680c revisiting_neural_scaling_laws/data/benchmark.lang.csv; "
                   "Alabdulmohsin et al. 2022)",
            license="MIT (ColPret); Apache-2.0 (google-research)",
            description="20 language learning curves (family): 5 NMT architectures (log-perplexity), "
                        "5 LM sizes (normalised log-loss), 10 BIG-bench tasks x shots (preferred "
                        "metric) vs seen_examples; the later part of each curve is held out",
            fit_query="train_split_is_1 == 1",
            fit_query_reason="the benchmark's own split: the first part of each curve is fitted, "
                             "the later part (train_split_is_1 == 0, 342 rows) is the "
                             "extrapolation test",
        ),
        Dataset(
            name="regmix_liu2024",
            target="loss",
            source="sail-sg/regmix@b004d3a3f398 data/*.csv (Liu et al. 2024, RegMix, "
                   "arXiv:2407.01492)",
            license="MIT",
            description="1,088 runs on random mixtures of 17 Pile sources: 512 + 256 1M-param "
                        "proxies, 256 60M and 64 1B check runs; loss = Pile-CC validation loss, "
                        "loss_<domain> for 13 Pile domains",
            fit_query="scale == '1M' and split == 'train'",
            fit_query_reason="the paper's regression set: the 512 1M-parameter proxies (the 256 "
                             "other 1M, 256 60M and 64 1B runs are its checks)",
        ),
    )
}


def names() -> list[str]:
    """Names of the bundled datasets."""
    return sorted(CATALOGUE)


def load(name: str, *, fit_rows: bool = False) -> pd.DataFrame:
    """Load a bundled dataset as a tidy DataFrame.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    fit_rows : bool
        Apply the dataset's default fit selection (e.g. Epoch's 240 of the 245 Chinchilla runs).

    Raises
    ------
    DataError
        For an unknown name (with the closest known one).
    """
    if name not in CATALOGUE:
        hint = difflib.get_close_matches(name, names(), n=1)
        raise DataError(f"unknown dataset {name!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                        + f" Bundled datasets: {', '.join(names())}")
    with resources.files(__name__).joinpath(f"{name}.csv").open("r") as fh:
        frame = pd.read_csv(fh)
    if fit_rows and CATALOGUE[name].fit_query:
        frame = frame.query(CATALOGUE[name].fit_query).reset_index(drop=True)
    return frame


def table() -> pd.DataFrame:
    """One row per dataset: name, rows, families, target, source."""
    rows = []
    for name in names():
        meta = CATALOGUE[name]
        frame = load(name)
        fams = frame["family"].nunique() if "family" in frame else 1
        rows.append({"name": name, "rows": len(frame), "families": fams, "target": meta.target,
                     "source": meta.source})
    return pd.DataFrame(rows)
