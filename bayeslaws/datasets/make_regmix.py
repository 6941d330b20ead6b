"""Build ``regmix_liu2024.csv``: RegMix's proxy runs, their data mixtures and Pile validation losses.

Run from the repository root with the files of ``data/`` of the authors' release
(``sail-sg/regmix`` @ b004d3a3f398, MIT) in one folder::

    python -m bayeslaws.datasets.make_regmix FOLDER

Source files (Liu et al. 2024, "RegMix: Data Mixture as Regression for Language Model
Pre-training", arXiv:2407.01492):

* ``train_mixture_1m.csv``, ``train_pile_loss_1m.csv``: the 512 1M-parameter proxies (1B tokens
  each) that the paper fits its regression on;
* ``test_mixture_1m.csv`` (= ``test_mixture_60m.csv``, byte-identical), ``test_pile_loss_1m.csv``,
  ``test_pile_loss_60m.csv``: 256 other mixtures, each trained at 1M and at 60M parameters (1B
  tokens);
* ``test_mixture_1B.csv``, ``test_pile_loss_1B.csv``: 64 mixtures trained at 1B parameters on
  25B tokens (none of them among the 256).

One row per run (1,088): ``run``, ``scale`` (1M, 60M, 1B), ``params`` and ``tokens`` (nominal),
``split`` (``train``: the 512 proxies; ``test``: the rest), ``mixture`` (the row's ``index`` in its
source file; the 1M and 60M test runs of one mixture share it), the 17 training sources'
proportions as given (three decimals; rows sum to 1 within 0.004) under short names, ``loss`` =
the Pile-CC validation loss (the paper's regression target) and ``loss_<domain>`` for each of the
13 Pile validation domains the release has (``loss_pile_cc`` repeats ``loss``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

PREFIX_SOURCE = "train_the_pile_"
PREFIX_LOSS = ("metric/the_pile_", "_val_loss")
#: (scale, split, mixture file, loss file, params, tokens)
FILES = (
    ("1M", "train", "train_mixture_1m.csv", "train_pile_loss_1m.csv", 1e6, 1e9),
    ("1M", "test", "test_mixture_1m.csv", "test_pile_loss_1m.csv", 1e6, 1e9),
    ("60M", "test", "test_mixture_60m.csv", "test_pile_loss_60m.csv", 6e7, 1e9),
    ("1B", "test", "test_mixture_1B.csv", "test_pile_loss_1B.csv", 1e9, 2.5e10),
)


def build(folder) -> pd.DataFrame:
    """The tidy table from the release's ``data/`` folder."""
    folder = Path(folder)
    parts = []
    for scale, split, mix_file, loss_file, params, tokens in FILES:
        mix = pd.read_csv(folder / mix_file)
        loss = pd.read_csv(folder / loss_file)
        if not (mix["index"].to_numpy() == loss["index"].to_numpy()).all():
            raise SystemExit(f"{mix_file} and {loss_file} list different mixtures")
        mix = mix.rename(columns=lambda c: c.removeprefix(PREFIX_SOURCE))
        loss = loss.rename(columns=lambda c: "loss_" + c.removeprefix(PREFIX_LOSS[0])
                           .removesuffix(PREFIX_LOSS[1]) if c != "index" else c)
        frame = mix.merge(loss, on="index").rename(columns={"index": "mixture"})
        frame.insert(0, "run", [f"{scale}-{split}-{i:03d}" for i in frame["mixture"]])
        frame.insert(1, "scale", scale)
        frame.insert(2, "params", params)
        frame.insert(3, "tokens", tokens)
        frame.insert(4, "split", split)
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    out.insert(out.columns.get_loc("loss_arxiv"), "loss", out["loss_pile_cc"])
    losses = [c for c in out if c.startswith("loss")]
    out[losses] = out[losses].round(5)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    table = build(sys.argv[1])
    target = Path(__file__).with_name("regmix_liu2024.csv")
    table.to_csv(target, index=False, float_format="%.6g")
    print(f"wrote {target} ({len(table)} rows)")
