"""The data-mixture law (RegMix, Ye et al.): simplex inputs, recovery, the optimal mixture, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import pytest

import bayeslaws as bl
from bayeslaws import DataError, SpecError
from bayeslaws.cli import main
from bayeslaws.laws import mixture as mx

SOURCES = ["web", "code", "books", "wiki"]
#: The truth of :func:`bayeslaws.laws.mixture.simulate`'s defaults, relative to the last source.
TRUE_T = {"web": -1.8, "code": -0.3, "books": -0.6}


# ------------------------------------------------------------------------------------ inputs
def test_simplex_rows_are_checked_with_rows_named():
    law = bl.laws.get("mixture", sources=SOURCES)
    good = mx.simulate(n=6, seed=1)
    bl.data.prepare(law, good)  # passes
    neg = good.copy()
    neg.loc[3, "code"] = -0.1
    with pytest.raises(DataError, match=r"'code' is negative in row 4 .*0 for an unused") as exc:
        bl.data.prepare(law, neg)
    assert list(exc.value.rows) == [3]
    off = good.copy()
    off.loc[[1, 4], "web"] += 0.2
    with pytest.raises(DataError, match=r"sum to 1 .*rows 2, 5 .*divide each row by its sum"):
        bl.data.prepare(law, off)
    with pytest.raises(DataError, match="column 'wiki' is missing"):
        bl.data.prepare(law, good.drop(columns="wiki"))
    # within the tolerance (RegMix's rows are rounded to three decimals) is fine; zeros too
    ok = good.copy()
    ok.loc[0, SOURCES] = [0.0, 0.5, 0.5, 0.004]
    assert bl.data.prepare(law, ok).x["web"][0] == 0.0


def test_bad_options_raise_spec_errors():
    with pytest.raises(SpecError, match="form must be one of"):
        bl.laws.get("mixture", sources=SOURCES, form="quadratic")
    with pytest.raises(SpecError, match="at least two"):
        bl.laws.get("mixture", sources=["web"])
    with pytest.raises(SpecError, match="reference 'x'"):
        bl.laws.get("mixture", sources=SOURCES, reference="x")
    with pytest.raises(SpecError, match="pair"):
        bl.laws.get("mixture", sources=SOURCES, form="regression", pairs=[("web", "web")])
    with pytest.raises(SpecError, match="no size axis"):
        bl.laws.get("mixture", sources=SOURCES).fit(mx.simulate(n=6), extrapolation="backtest")


def test_forms_match_their_formulas_on_both_backends():
    rng = np.random.default_rng(0)
    r = rng.dirichlet(np.ones(4), 25)
    data = dict(zip(SOURCES, r.T))
    exp_law = bl.laws.get("mixture", sources=SOURCES)
    t = np.array([-1.0, 0.5, 0.2, 0.0])
    p = {"c": 2.0, "k": 0.7} | {f"t_{s}": v for s, v in zip(SOURCES[:3], t[:3])}
    want = 2.0 + 0.7 * np.exp((r - 0.25) @ t)
    np.testing.assert_allclose(exp_law.evaluate(data, p), want, rtol=1e-12)

    reg = bl.laws.get("mixture", sources=SOURCES, form="regression")
    assert len(reg.pairs) == 6 and reg.options()["pairs"] == "all"
    values = {prm.sampled: rng.normal(prm.loc, 0.3) for prm in reg.parameters.values()}
    nat = reg.natural(values, np)
    t = np.array([nat[f"t_{s}"] for s in SOURCES[:3]] + [0.0])
    inter = sum(nat[f"z_{a}__{c}"] * r[:, SOURCES.index(a)] * r[:, SOURCES.index(c)]
                for a, c in reg.pairs)
    want = np.log(nat["c"] + nat["k"] * np.exp((r - 0.25) @ t + nat["tau"] * inter))
    np.testing.assert_allclose(reg.formula(data, nat, np), want, rtol=1e-12)
    xs = {k: pt.as_tensor_variable(v) for k, v in data.items()}
    got = reg.formula(xs, reg.natural({k: pt.as_tensor_variable(v) for k, v in values.items()},
                                      pt), pt).eval()
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # the spec round-trips (saved fits rebuild the same law)
    assert bl.laws.from_spec(reg.spec()) == reg
    some = bl.laws.get("mixture", sources=SOURCES, form="regression", pairs=[["code", "web"]])
    assert some.pairs == (("web", "code"),) and bl.laws.from_spec(some.spec()) == some


def test_by_domain_and_candidates():
    frame = bl.datasets.load("regmix_liu2024", fit_rows=True).head(5)
    long = mx.by_domain(frame, ["pile_cc", "github"])
    assert len(long) == 10 and set(long["family"]) == {"pile_cc", "github"}
    np.testing.assert_allclose(long["loss"].iloc[:5], frame["loss_pile_cc"])
    with pytest.raises(DataError, match="no loss column for domain"):
        mx.by_domain(frame, ["nope"])
    cand = mx.candidate_mixtures(SOURCES, 50, seed=3)
    np.testing.assert_allclose(cand.sum(axis=1), 1.0)
    assert (cand.to_numpy() >= 0).all() and list(cand.columns) == SOURCES


def test_bundled_regmix_dataset():
    d = bl.datasets.load("regmix_liu2024")
    assert d.groupby(["scale", "split"]).size().to_dict() == {
        ("1B", "test"): 64, ("1M", "test"): 256, ("1M", "train"): 512, ("60M", "test"): 256}
    law = bl.laws.get("mixture")  # default sources: RegMix's 17 Pile sources
    table = bl.data.prepare(law, bl.datasets.load("regmix_liu2024", fit_rows=True))
    assert len(table.y) == 512
    np.testing.assert_allclose(d["loss"], d["loss_pile_cc"])


# ------------------------------------------------------------------------------------ fits
@pytest.fixture(scope="module")
def exp_fit():
    data = mx.simulate(n=120, seed=0)
    law = bl.laws.get("mixture", sources=SOURCES, pooling="shared")
    return law.fit(data, draws=400, tune=400, chains=2, seed=2, dense_mass=True)


@pytest.mark.slow
def test_exponential_form_recovers_known_parameters(exp_fit):
    s = exp_fit.summary(0.9)
    for name, value in TRUE_T.items():
        row = s.loc[f"t_{name}[all]"]
        assert row["lower"] < value < row["upper"], (name, row)
        assert row["upper"] - row["lower"] < 0.5
    for name, value in (("c", 2.0), ("k", 1.0)):
        row = s.loc[f"{name}[all]"]
        assert row["lower"] < value < row["upper"], (name, row)
    assert s.loc["sigma", "median"] == pytest.approx(0.01, rel=0.3)


@pytest.mark.slow
def test_optimal_mixture_draws_and_probabilities(exp_fit):
    cand = pd.DataFrame([[0.70, 0.10, 0.10, 0.10],  # most web: the lowest t, the best
                         [0.25, 0.25, 0.25, 0.25],
                         [0.10, 0.10, 0.10, 0.70],
                         [0.50, 0.00, 0.50, 0.00]], columns=SOURCES).assign(name=list("abcd"))
    choice = exp_fit.optimal_mixture(cand, prob=0.8)
    c = choice.candidates
    assert c["p_best"].sum() == pytest.approx(1.0)
    assert choice.best["name"] == "a" and c["p_best"].iloc[0] > 0.95
    assert list(c["rank"]) == [1, 3, 4, 2]
    assert (c["loss_lower"] < c["loss_median"]).all() and (c["loss_median"] < c["loss_upper"]).all()
    # the truth's loss at the best candidate lies in its interval
    t = np.array([-1.8, -0.3, -0.6, 0.0])
    true_best = 2.0 + np.exp((np.array([0.7, 0.1, 0.1, 0.1]) - 0.25) @ t)
    assert c["loss_lower"].iloc[0] < true_best < c["loss_upper"].iloc[0]
    # two near-identical candidates: the law picks one; the runs' noise makes it a coin flip
    twins = pd.DataFrame([[0.70, 0.10, 0.10, 0.10], [0.699, 0.101, 0.10, 0.10]], columns=SOURCES)
    assert exp_fit.optimal_mixture(twins).candidates["p_best"].max() > 0.9
    noisy = exp_fit.optimal_mixture(twins, noise=True).candidates["p_best"]
    assert noisy.sum() == pytest.approx(1.0) and 0.3 < noisy.iloc[0] < 0.7
    assert exp_fit.optimal_mixture(cand, noise=True).best["name"] == "a"
    # default candidates: random mixtures plus the fitted ones; draws on the simplex
    free = mx.optimal_mixture(exp_fit, n_candidates=200, seed=1)
    opt = free.draws["mixture_opt"].values
    assert opt.shape == (2, 400, 4) and len(free.candidates) == 200 + 120
    np.testing.assert_allclose(opt.sum(axis=-1), 1.0)
    assert (opt >= 0).all() and free.candidates["p_best"].sum() == pytest.approx(1.0)
    assert free.table()["share_median"].iloc[0] > 0.5  # web dominates the optimum
    with pytest.raises(DataError, match="lack the source column"):
        exp_fit.optimal_mixture(cand.drop(columns="wiki"))
    with pytest.raises(DataError, match="sum to 1"):
        exp_fit.optimal_mixture(cand.assign(web=0.9))


@pytest.mark.slow
def test_cli_optimal_mixture_and_plot(exp_fit, tmp_path, capsys):
    path = tmp_path / "mix.nc"
    exp_fit.save(path)
    out = tmp_path / "cand.csv"
    cand = tmp_path / "in.csv"
    pd.DataFrame([[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]], columns=SOURCES).to_csv(
        cand, index=False)
    assert main(["optimal", str(path), "--mixture", "--candidates", str(cand), "--out",
                 str(out)]) == 0
    printed = capsys.readouterr().out
    assert "p_best" in printed and "share_median" in printed
    table = pd.read_csv(out)
    assert table["p_best"].sum() == pytest.approx(1.0) and table["p_best"].iloc[0] > 0.95
    png = tmp_path / "mix.png"
    assert main(["plot", str(path), "--kind", "mixture", "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000
    assert main(["optimal", str(path), "--mixture", "--flops", "1e20"]) == 2
    assert "does not apply to a mixture fit" in capsys.readouterr().err


def test_laws_listing_keeps_the_mixture_row_short(capsys):
    assert main(["laws"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith("mixture"))
    assert "(17 inputs)" in row and "pile_cc" not in row.lower()
