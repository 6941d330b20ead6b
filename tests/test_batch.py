"""Many fits in one compiled program (bayeslaws.batch): same density, same posterior, same Fit."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws import batch
from bayeslaws import data as data_mod
from bayeslaws.model import build_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chinchilla():
    frame = bl.datasets.load("chinchilla_epoch").query("not epoch_excluded_top5_loss")
    return frame.reset_index(drop=True)


def lower(frame, q):
    """The runs below the ``q`` compute quantile (a leave-largest-out training set)."""
    flops = frame["flops"] if "flops" in frame else 6.0 * frame["params"] * frame["tokens"]
    return frame[flops <= np.quantile(flops, q)].reset_index(drop=True)


def test_padded_rows():
    assert [batch.padded_rows(n) for n in (1, 16, 17, 200, 256, 257)] == [16, 16, 32, 256, 256, 512]
    # above 1024 rows: the next multiple of 1/16 of the power of two (at most 12.5% padding)
    assert [batch.padded_rows(n) for n in (1024, 1025, 1100, 100_000)] == [1024, 1152, 1152, 106496]
    for n in (1025, 3000, 70_000, 100_000):
        assert n <= batch.padded_rows(n) <= 1.125 * n


def test_float32_gives_the_same_posterior(chinchilla):
    """float32=True runs a single-precision program (JAX's 64-bit mode off for it) that samples
    the same posterior as float64 within Monte Carlo error; draws are stored as float64."""
    law = bl.laws.get("chinchilla")
    data = lower(chinchilla, 0.7)
    kw = dict(seed=0, chains=2, draws=400, tune=400, extrapolation=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        double = law.fit(data, **kw)
        single = law.fit(data, float32=True, **kw)
    assert single.config["float32"] is True and double.config["float32"] is False
    assert batch._program(law, 1, sorted(double.law.inputs), float32=True).dtype == "float32"
    assert single.posterior["alpha"].dtype == np.float64
    assert not np.array_equal(single.posterior["alpha"].values, double.posterior["alpha"].values)
    p64, p32 = double.params(population=False), single.params(population=False)
    for name in ("E", "A", "B", "alpha", "beta"):
        sd = float(np.log(p64[name]).std())
        gap = abs(float(np.log(p64[name]).median()) - float(np.log(p32[name]).median()))
        assert gap < 0.35 * sd, (name, gap, sd)
    with pytest.raises(bl.SpecError, match="numpyro"):
        law.fit(data, sampler="pymc", float32=True)


def test_law_fit_shows_progress_without_changing_the_draws(chinchilla, capsys):
    """law.fit's numpyro path draws a progress line from inside the compiled program; the program
    (and so every draw) is the same with and without it."""
    law = bl.laws.get("chinchilla")
    data = lower(chinchilla, 0.5)
    kw = dict(seed=3, chains=2, draws=40, tune=40, extrapolation=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        quiet = law.fit(data, progress=False, **kw)
        assert capsys.readouterr().err == ""
        shown = law.fit(data, progress=True, **kw)
    err = capsys.readouterr().err
    assert "bayeslaws: sampling 2 chains (40 warm-up + 40 draws)" in err
    assert err.rstrip().endswith("s") and "100%" in err.split("\r")[-1]
    for name in quiet.posterior.data_vars:
        np.testing.assert_array_equal(quiet.posterior[name].values, shown.posterior[name].values)
    assert quiet.config["sampler"] == "numpyro"


@pytest.mark.parametrize("name", ["chinchilla", "vocab"])
def test_masked_density_equals_the_pymc_model(name, chinchilla):
    """The batched log-density with padded, masked rows is PyMC's joint log-density."""
    law = bl.laws.get(name)
    frame = (lower(chinchilla, 0.5) if name == "chinchilla"
             else bl.datasets.load("vocab_tao2024").head(40))
    table = data_mod.prepare(law, frame)
    fams = table.families
    idx = pd.Index(fams).get_indexer(table.family)
    model = build_model(law, table, fams, idx)
    logp = model.compile_logp()
    program = batch._program(law, len(fams), sorted(table.x))
    rows = batch.padded_rows(len(table.y) + 5)  # at least 5 padded rows
    pad = rows - len(table.y)
    data = [np.concatenate([table.x[k], np.full(pad, 3.0)]) for k in sorted(table.x)]
    data += [np.concatenate([table.y, np.full(pad, -1.0)]),
             np.concatenate([idx, np.zeros(pad, int)]).astype(np.int64),
             np.concatenate([np.ones(len(table.y)), np.zeros(pad)])]
    if program.centred:  # one family: the affine map's arguments (the model computed the same)
        data += batch.affine_data(law, table, len(fams), program)
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = {k: np.asarray(v) + rng.normal(0, 0.3, np.shape(v))
                 for k, v in model.initial_point().items()}
        values = [point[n] for n in program.value_names]
        got = float(program.logp(*values, *data)[0])
        np.testing.assert_allclose(got, logp(point), rtol=1e-9)


def test_fit_many_matches_single_fits(chinchilla):
    law = bl.laws.get("chinchilla")
    sets = [lower(chinchilla, 0.6), lower(chinchilla, 0.85)]
    kw = dict(chains=4, draws=400, tune=400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        fits = batch.fit_many(law, sets, seed=3, **kw)
        single = law.fit(sets[1], seed=3, extrapolation=None, **kw)
    assert [len(f.data) for f in fits] == [len(s) for s in sets]
    for fit in fits:
        assert fit.config["sampler"] == "numpyro-batched"
        stats = fit.idata["sample_stats"]
        assert stats["diverging"].shape == (4, 400) and int(stats["diverging"].sum()) == 0
        assert set(single.posterior.data_vars) == set(fit.posterior.data_vars)
        report = fit.diagnostics()
        assert max(report["rhat"].values()) < 1.02
    # same posterior as the one-at-a-time fit: medians within Monte Carlo error
    for name in ("E", "alpha", "beta", "A", "B"):
        a, b = single.posterior[name], fits[1].posterior[name]
        sd = float(a.std())
        assert abs(float(a.median()) - float(b.median())) < 0.3 * sd, name
        assert float(b.std()) == pytest.approx(sd, rel=0.25)
    # the batched fits are ordinary Fits: they predict and the splits differ as they should
    top = chinchilla.nlargest(5, "flops")
    pred = fits[1].predict(top, discrepancy=False).interval(0.9)
    assert np.all(pred["loss_lower"] < pred["loss_upper"])
    assert fits[0].posterior["E"].std() > fits[1].posterior["E"].std()


def test_fit_many_groups_by_family_count_and_keeps_order():
    law = bl.laws.get("power-law", input="params")
    rng = np.random.default_rng(1)

    def table(families):
        n = np.geomspace(1e7, 1e10, 8)
        rows = [{"params": v, "loss": 1.7 + 30.0 * v ** -0.25 * np.exp(0.01 * rng.normal()),
                 "family": f} for f in families for v in n]
        return pd.DataFrame(rows)

    sets = [table(["a", "b"]), table(["c"]), table(["d", "e"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        fits = batch.fit_many(law, sets, seed=0, chains=2, draws=150, tune=150)
    assert [f.families for f in fits] == [["a", "b"], ["c"], ["d", "e"]]
    assert all(f.posterior["alpha"].sizes["family"] == len(f.families) for f in fits)


def test_fit_many_rejects_bad_settings():
    law = bl.laws.get("chinchilla")
    assert batch.fit_many(law, []) == []
    with pytest.raises(bl.SpecError, match="draws"):
        batch.fit_many(law, [pd.DataFrame({"params": [1e8], "tokens": [1e9], "loss": [3.0]})],
                       draws=0)


@pytest.mark.parametrize("other_batch", ["alone", "more shards"])
def test_draws_do_not_depend_on_the_batch(chinchilla, monkeypatch, other_batch):
    """Table k's draws depend on (seed, k) and the call's row padding only: fitted with others or
    alone, split over 2 XLA devices or more, its draws are bitwise the same."""
    law = bl.laws.get("chinchilla")
    tables = [data_mod.prepare(law, lower(chinchilla, q)) for q in (0.4, 0.6, 0.8)]
    rows = {1: max(batch.padded_rows(len(t.y)) for t in tables)}
    kw = dict(seed=5, draws=100, tune=100, chains=2, target_accept=0.9)
    together = batch._sample_tables(law, tables, [0, 1, 2], rows, **kw)  # 2 shards x 3 lanes
    if other_batch == "alone":  # 2 shards x 1 lane
        alone = batch._sample_tables(law, [tables[1]], [1], rows, **kw)
    else:  # 4 shards x 1 lane (a bigger machine), and an idle padding lane on each of two
        monkeypatch.setattr(batch, "_shards", lambda lanes: 4)
        alone = batch._sample_tables(law, [tables[1]], [1], rows, **kw)
    a, b = together[1][0], alone[0][0]
    for group in ("posterior", "sample_stats"):
        for name in a[group].data_vars:
            assert np.array_equal(a[group][name].values, b[group][name].values), (group, name)
    # the same table under another index draws from another stream
    moved = batch._sample_tables(law, [tables[1]], [0], rows, **kw)
    assert not np.array_equal(moved[0][0]["posterior"]["log_E_mu"].values,
                              b["posterior"]["log_E_mu"].values)


def test_a_chain_stuck_in_a_second_mode_is_rerun_from_another_stream():
    # On this simulated table, stream (seed 0, table 0) leaves chain 3 of 4 at alpha ~ 3e-4
    # with sigma ~ 0 (R-hat 1.62 at 300 draws, named as a second mode) while the other chains
    # agree with the truth; the rerun from seed + RESEED converges.
    from conftest import simulate_chinchilla

    frame, truth = simulate_chinchilla(1)
    law = bl.laws.get("chinchilla")
    (fit,) = batch.fit_many(law, [frame], seed=0, draws=300, tune=300, chains=4)
    assert fit.config["reseeded"] == batch.RESEED
    assert fit.convergence == []
    assert max(fit.diagnostics()["rhat"].values()) <= 1.01
    alpha = np.exp(fit.posterior["log_alpha_mu"].mean("draw").values)  # per chain
    assert np.all(np.abs(alpha - np.exp(truth["population"]["log_alpha"][0])) < 0.1)
    # a fit with no chain in a second mode is not rerun and records nothing (at 300 draws this
    # one is short of the R-hat rule, 1.012, which more draws cure)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        (other,) = batch.fit_many(law, [frame], seed=1, draws=300, tune=300, chains=4)
    assert "reseeded" not in other.config
    assert max(other.diagnostics()["rhat"].values()) < 1.05
