"""Catalogue I, part b: the vocabulary law (Tao et al. 2024), the batch-size / step law (Kaplan
2020; Li et al. 2025) and the task ladder (Bhagia et al. 2024): recovery on simulated data and the
papers' numbers on their bundled real data."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws.laws.vocab import compute_optimal_flops, embed_dim_for, optimal_vocab

pytestmark = pytest.mark.slow


def _quiet_fit(law, frame, **kw):
    """A short fit for plumbing and recovery checks (short chains may warn, by design)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        return law.fit(frame, **kw)


# ---------------------------------------------------------------------------------------- vocab
VOCAB_TRUE = {"E": 5.0, "A10": 0.3, "A20": 0.05, "B0": 0.6, "alpha1": 0.4, "alpha2": 0.6}


def test_vocab_formula_matches_the_papers_form_in_its_units():
    law = bl.laws.get("vocab")
    p = {k: np.array(v) for k, v in VOCAB_TRUE.items()}
    row = {"params_nonvocab": 3e8, "vocab_size": 32768, "embed_dim": 1024, "tokens": 6e9}
    der = law.derived(law.natural({f"log_{k}": np.log(v) for k, v in VOCAB_TRUE.items()}, np), np)
    # the paper's form, with N_nv and V*d in millions and D in billions
    paper = (-5.0 + der["A1"] / 300 ** 0.4 + der["A2"] / (32.768 * 1.024) ** 0.6
             + der["B"] / 6.0 ** der["beta"])
    assert law.evaluate({k: [v] for k, v in row.items()}, p)[0] == pytest.approx(float(paper), rel=1e-12)
    assert embed_dim_for(7e10) == 8192 and embed_dim_for(7e9) == 4096
    assert compute_optimal_flops(7e10) == pytest.approx(7.05e23, rel=0.01)


def test_vocab_recovers_simulated_parameters():
    rng = np.random.default_rng(1)
    law = bl.laws.get("vocab")
    grid = [(n, v, d, n * r) for n, d in ((5e7, 512), (2e8, 1024), (8e8, 1536))
            for v in (4096, 16384, 65536) for r in (5, 20, 80)]
    frame = pd.DataFrame(grid, columns=["params_nonvocab", "vocab_size", "embed_dim", "tokens"])
    frame["lossu"] = law.evaluate(frame, VOCAB_TRUE) + rng.laplace(0, 0.01, len(frame))
    fit = _quiet_fit(law, frame, seed=2, draws=300, tune=400, chains=2)
    s = fit.summary(prob=0.99)
    for name in ("E", "alpha1", "alpha2"):
        lo, hi = s.loc[f"{name}[all]", ["lower", "upper"]]
        assert lo < VOCAB_TRUE[name] < hi, name
    assert s.loc["alpha1[all]", "median"] == pytest.approx(0.4, abs=0.03)


@pytest.fixture(scope="module")
def vocab_fit():
    runs = bl.datasets.load("vocab_tao2024", fit_rows=True)
    # one family: partial and shared pooling have the same posterior of the law's parameters
    # (the between-family sds only sample their priors), so the short test fit shares them
    return bl.laws.get("vocab", pooling="shared").fit(runs, seed=0, draws=500, tune=500, chains=2)


def test_vocab_real_fit_near_tao_2024(vocab_fit):
    assert vocab_fit.convergence == []
    s = vocab_fit.summary()
    fam = "tao2024_vocab_slimpajama"
    # Tao et al.: E = 5.5328, alpha1 = beta = 0.44661, alpha2 = 0.67074 (Approach 3)
    assert s.loc[f"E[{fam}]", "median"] == pytest.approx(5.5328, abs=0.1)
    assert s.loc[f"alpha1[{fam}]", "median"] == pytest.approx(0.44661, abs=0.03)
    lo, hi = s.loc[f"alpha2[{fam}]", ["lower", "upper"]]
    assert lo < 0.67074 < hi
    # Llama2-70B (N_nv = 70B, d = 8192) at its Approach-1 budget: "at least 216K"; 7B: ~60K
    opt = optimal_vocab(vocab_fit, [7e9, 7e10])
    v = opt["V_opt"]
    q70 = v.isel(model=1).quantile([0.05, 0.5, 0.95]).values
    q7 = v.isel(model=0).quantile([0.05, 0.5, 0.95]).values
    assert q70[0] < 216_000 < q70[2] and 1e5 < q70[1] < 4e5
    assert q7[0] < 60_000 < q7[2] and 2.5e4 < q7[1] < 1e5
    # larger models deserve larger vocabularies, draw by draw
    assert (v.isel(model=1) > v.isel(model=0)).mean() > 0.95
    # the optimum is a minimum along the budget line
    np.testing.assert_allclose(6 * (7e10 + opt["V_opt"].isel(model=1) * 8192)
                               * opt["tokens"].isel(model=1), 7.05e23, rtol=0.01)
