"""Competing learning-curve forms (bnsl, m4) and a user's own law (bl.laws.define).

Real sampling, kept short (2 chains x 300-400 draws): recovery of BNSL and M4 on simulated
curves, the Revisiting comparison on its NMT curves, and the declarative custom law (Seager et
al.'s mass-radius relation) through pooling, prediction, plots, comparison and save/load.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws import SpecError, cli
from bayeslaws.examples import exoplanets, revisiting
from bayeslaws.laws.m4 import solve_log_share

pytestmark = pytest.mark.slow

SHORT = {"draws": 400, "tune": 400, "chains": 2, "extrapolation": None}


@pytest.fixture(scope="module", autouse=True)
def _restore_registry():
    """Laws defined here are unregistered afterwards (other tests iterate the registry)."""
    saved = dict(bl.laws._REGISTRY)
    yield
    bl.laws._REGISTRY.clear()
    bl.laws._REGISTRY.update(saved)


def _quiet_fit(law, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        return law.fit(data, **(SHORT | kw))


def _simulate(law, truth, x, noise, seed):
    rng = np.random.default_rng(seed)
    y = law.evaluate({law.inputs[0]: x}, truth) * np.exp(rng.normal(0.0, noise, len(x)))
    return pd.DataFrame({law.inputs[0]: x, law.target: y})


def _check_recovery(fit, truth, tol):
    summ = fit.summary(0.9)
    for name, rel in tol.items():
        row = summ.loc[f"{name}[all]"]
        assert row["lower"] <= truth[name] <= row["upper"], (name, truth[name], row.to_dict())
        assert abs(row["median"] / truth[name] - 1) < rel, (name, truth[name], row["median"])


# --------------------------------------------------------------------------- bnsl and m4 laws
def test_bnsl_recovers_a_break():
    law = bl.laws.get("bnsl")
    truth = {"a": 0.25, "b0": 0.5, "c0": 0.05, "c1": 0.5, "d1": 1e8, "f1": 0.5}
    x = np.geomspace(1e5, 1e12, 40)
    fit = _quiet_fit(law, _simulate(law, truth, x, 0.005, seed=1), seed=1)
    _check_recovery(fit, truth, {"a": 0.1, "c1": 0.25, "d1": 1.0, "c0": 0.6})
    # the paper's b is derived from b0, the curve's reducible part at the reference x (1e9 here):
    # b = b0 xref^c0 (1 + (xref/d1)^(1/f1))^(c1 f1)
    b = fit.summary().loc["b[all]", "median"]
    assert b == pytest.approx(0.5 * 1e9 ** 0.05 * (1 + (1e9 / 1e8) ** 2) ** 0.25, rel=0.3)


def test_bnsl_breaks_option_and_limits():
    two = bl.laws.get("bnsl", breaks=2)
    assert two.param_names[:9] == ["a", "b0", "c0", "c1", "d1", "f1", "c2", "d2", "f2"]
    assert bl.laws.from_spec(two.spec()) == two
    with pytest.raises(SpecError, match="breaks"):
        bl.laws.get("bnsl", breaks=0)
    # far before the break the slope is -c0, far after it -(c0 + c1); the limit is a
    law = bl.laws.get("bnsl")
    p = {"a": 1e-12, "b0": 1.0, "c0": 0.1, "c1": 0.3, "d1": 1e9, "f1": 0.2}
    x = np.array([1e3, 1e4, 1e14, 1e15])
    y = law.evaluate({"seen_examples": x}, p)
    assert np.log10(y[1] / y[0]) == pytest.approx(-0.1, abs=1e-3)
    assert np.log10(y[3] / y[2]) == pytest.approx(-0.4, abs=1e-3)


def test_bnsl_break_prior_follows_the_fitted_range():
    """Bound to its data, bnsl centres the break prior in the fitted log-x range (two sds of
    span/6 either side), keeps slope changes positive, and round-trips the range in its spec."""
    from bayeslaws.data import prepare

    law = bl.laws.get("bnsl", priors={"a": (0.0, 0.5)})
    x = np.geomspace(1e6, 1e10, 12)
    bound = law.bind(prepare(law, pd.DataFrame({"seen_examples": x, "loss": 1 + 1 / np.log(x)})))
    assert bound.options()["x_range"] == pytest.approx([1e6, 1e10])
    d1, c1 = bound.parameters["d1"], bound.parameters["c1"]
    assert d1.loc == pytest.approx(math.log(1e8)) and d1.scale == pytest.approx(math.log(1e4) / 6)
    assert c1.log  # positive: a flattening is the limit a's job (a and c1 would trade off)
    assert bound.parameters["a"].loc == 0.0  # the user's prior survives binding
    assert bl.laws.from_spec(bound.spec()) == bound and bound.bind(None) is bound
    with pytest.raises(SpecError, match="x_range"):
        bl.laws.get("bnsl", x_range=[10, 1])
    with pytest.raises(SpecError, match="nu_min"):
        bl.laws.get("bnsl", noise={"nu_min": -1})
    # evaluation does not depend on the reference x of b0, nor on what b0 is (the whole curve's
    # reducible part there, or segment 1's), once the paper's b is fixed
    p = {"a": 0.2, "c0": 0.1, "c1": 0.3, "d1": 1e8, "f1": 0.5}

    def b0(x_ref):  # b x^-c0 (1 + (x/d1)^(1/f1))^(-c1 f1) with b = 2
        return 2.0 * x_ref ** -0.1 * (1 + (x_ref / 1e8) ** 2) ** -0.15

    y_free = law.evaluate({"seen_examples": x}, p | {"b0": b0(1e9)})
    y_bound = bound.evaluate({"seen_examples": x}, p | {"b0": b0(1e8)})
    segment1 = bl.laws.get("bnsl", b0_at="segment1")
    y_segment1 = segment1.evaluate({"seen_examples": x}, p | {"b0": 2.0 * 1e9 ** -0.1})
    np.testing.assert_allclose(y_free, y_bound, rtol=1e-10)
    np.testing.assert_allclose(y_free, y_segment1, rtol=1e-10)
    # at the reference x the curve is a + b0
    assert law.evaluate({"seen_examples": [1e9]}, p | {"b0": 0.3})[0] == pytest.approx(0.5)


def test_bnsl_fits_saved_before_b0_at_read_as_segment1():
    """A fit saved before ``b0_at`` existed (segment-1 b0) is read back with that meaning; one
    saved now keeps the option it was fitted with."""
    from bayeslaws import io

    old = {"law": "bnsl", "options": {"input": "seen_examples", "breaks": 1}}
    assert bl.laws.from_spec(io._with_legacy_options(old)).b0_at == "segment1"
    now = bl.laws.get("bnsl").spec()
    assert now["options"]["b0_at"] == "curve"
    assert bl.laws.from_spec(io._with_legacy_options(now)).b0_at == "curve"
    assert io._with_legacy_options({"law": "chinchilla", "options": {}})["options"] == {}
    with pytest.raises(SpecError, match="b0_at"):
        bl.laws.get("bnsl", b0_at="centre")


def test_m4_solves_its_implicit_form():
    law = bl.laws.get("m4")
    # k0 = beta delta^alpha at the reference x (1e9 before the law is bound to data)
    p = {"eps_inf": 0.3, "delta": 0.6, "k0": 0.6 ** 1.7, "c": 0.5, "alpha": 1.7}
    x = np.geomspace(1e3, 1e15, 50)
    eps = law.evaluate({"seen_examples": x}, p)
    lhs = (eps - 0.3) / (0.9 - eps) ** 1.7
    rhs = 1.0 * (x / 1e9) ** -0.5
    np.testing.assert_allclose(lhs, rhs, rtol=1e-8)
    assert np.all(np.diff(eps) < 0) and eps.max() < 0.9 and eps.min() > 0.3
    # alpha -> 0 is the pure power law M2; alpha = 1 has the closed form u = g / (1 + g)
    lu = solve_log_share(np.array([-2.0, 0.0, 3.0]), 1.0, np)
    np.testing.assert_allclose(np.exp(lu), [1 / (1 + np.e**2), 0.5, np.e**3 / (1 + np.e**3)])


def test_m4_recovers_a_sigmoid_curve():
    law = bl.laws.get("m4")
    truth = {"eps_inf": 0.3, "delta": 0.6, "k0": 0.6, "c": 0.5, "alpha": 1.0}  # beta0 = 1
    x = np.geomspace(1e4, 1e14, 40)  # both ends of the sigmoid seen: NUTS trees stay short
    fit = _quiet_fit(law, _simulate(law, truth, x, 0.01, seed=2), seed=2, draws=300, tune=300)
    _check_recovery(fit, truth, {"eps_inf": 0.1, "c": 0.3, "alpha": 0.6})
    eps0 = fit.summary(0.9).loc["eps_0[all]"]
    assert eps0["lower"] <= 0.9 <= eps0["upper"]


# --------------------------------------------------------------------------- the Revisiting benchmark
@pytest.fixture(scope="module")
def nmt_comparison():
    return revisiting.comparison("NMT", draws=300, tune=300, chains=2, pooling="independent")


def test_revisiting_dataset_split():
    runs = bl.datasets.load("revisiting_alabdulmohsin2022")
    assert len(runs) == 712 and runs["family"].nunique() == 20
    assert len(bl.datasets.load("revisiting_alabdulmohsin2022", fit_rows=True)) == 370
    for _fam, curve in runs.groupby("family"):  # the held-out rows are each curve's later part
        fitted = curve.loc[curve.train_split_is_1 == 1, "seen_examples"]
        held = curve.loc[curve.train_split_is_1 == 0, "seen_examples"]
        assert held.empty or held.min() > fitted.max()


def test_revisiting_nmt_comparison(nmt_comparison):
    table, fits = nmt_comparison
    assert set(table.index) == {"power-law", "bnsl", "m4"}
    assert (table["ho_rows"] == 5).all()
    # reported in docs/laws/competing-forms.md (each curve on its own, 4 x 1000 draws there,
    # all fits converged; 2 x 300 here): the plain power law extrapolates the NMT curves worst,
    # by a wide margin in log error (0.087 vs 0.016 for bnsl and 0.027 for m4), and bnsl best
    rmse = table["ho_rmse_log"].astype(float)
    assert rmse.idxmax() == "power-law" and rmse.idxmin() == "bnsl"
    assert rmse["power-law"] > 2 * max(rmse["bnsl"], rmse["m4"])
    # 0.087 in the docs' run; 0.059 here since the power law's reference moved to the data
    # (bayeslaws.laws.reference, 2026-12): the prior no longer pulls its exponent
    assert rmse["power-law"] == pytest.approx(0.07, abs=0.025)
    assert rmse["bnsl"] == pytest.approx(0.016, abs=0.008)
    assert table["ho_elpd"].astype(float).idxmin() == "power-law"
    assert table["ho_elpd"].astype(float).idxmax() == "bnsl"
    # the fitted bnsl carries its break range (the NMT curves' examples seen) in its spec
    lo, hi = fits["bnsl"].law.options()["x_range"]
    assert lo == pytest.approx(5e5, rel=1e-9) and hi == pytest.approx(2.56e8, rel=1e-9)
    assert "held-out rows" in table.attrs["verdict"]


def test_compare_cli_scores_held_out_rows(nmt_comparison, tmp_path, capsys):
    _table, fits = nmt_comparison
    paths = []
    for name in ("power-law", "m4"):
        paths.append(str(tmp_path / f"{name}.nc"))
        fits[name].save(paths[-1])
    _train, test = revisiting.split("NMT")
    test.to_csv(tmp_path / "held.csv", index=False)
    code = cli.main(["compare", *paths, "--holdout", str(tmp_path / "held.csv"), "--fallback",
                     "none", "--no-extrapolation", "--out", str(tmp_path / "cmp.csv")])
    assert code == 0
    out = pd.read_csv(tmp_path / "cmp.csv", index_col=0)
    assert {"ho_elpd", "ho_rmse_log", "ho_coverage_90"} <= set(out.columns)
    # rows are labelled by law and file
    assert out.loc["power-law (power-law.nc)", "ho_rmse_log"] > out.loc["m4 (m4.nc)", "ho_rmse_log"]
    assert "held-out rows" in capsys.readouterr().out


# --------------------------------------------------------------------------- a user's own law
@pytest.fixture(scope="module")
def seager_fits():
    law = exoplanets.seager_law()()
    planets = exoplanets.simulate(seed=0)
    power = bl.laws.define(
        "radius-power", target="radius", inputs=("mass",),
        params={"k1": (-0.2, 0.3), "s": dict(loc=math.log(0.3), scale=0.5, log=True)},
        formula=lambda x, p, xp: math.log(10) * p["k1"] + p["s"] * x["mass"],
        formula_text="log10 Rs = k1 + s log10 Ms", reference="a plain power law")
    return _quiet_fit(law, planets, seed=0), _quiet_fit(power(), planets, seed=0), planets


def test_define_registers_a_working_law(seager_fits):
    fit, _power, _planets = seager_fits
    law = bl.laws.get("seager")
    assert law == fit.law and bl.laws.from_spec(law.spec()) == law
    assert set(law.pooling.values()) == {"partial"}
    assert law.param_names == ["k1", "k2", "k3", "M_max"]
    assert "seager" in bl.laws.available()


def test_seager_example_recovers_table4(seager_fits):
    fit, _power, _planets = seager_fits
    rec = exoplanets.recovery(fit)
    inside = (rec["lower"] <= rec["truth"]) & (rec["truth"] <= rec["upper"])
    assert inside.mean() >= 11 / 12, rec  # 12 constants; a 90% interval may miss one
    k1 = rec[rec.param == "k1"]
    assert np.all(np.abs(k1["median"] - k1["truth"]) < 0.002)
    k3 = rec[rec.param == "k3"].set_index("family")["median"]
    assert k3["MgSiO3"] > k3["SiC"]  # the per-family differences are resolved, not pooled away
    # radius of a 5 Earth-mass planet (LAWS.md section 13, derived from Table 4)
    r5 = exoplanets.radius_at(fit, 5.0).set_index("family")["radius_earth_median"]
    np.testing.assert_allclose(r5[["Fe", "MgSiO3", "H2O", "SiC"]], [1.24, 1.64, 2.21, 1.65],
                               atol=0.02)


def test_custom_law_pooling_predict_plot_compare_and_io(seager_fits, tmp_path):
    fit, power, planets = seager_fits
    # a composition never fitted gets the population's draws: wider than a fitted family's
    rows = pd.DataFrame({"family": ["Fe", "MgSiO3_C_mix"], "mass": [0.5, 0.5]})
    with pytest.warns(UserWarning):
        iv = fit.predict(rows).interval(0.9)
    width = (iv["radius_upper"] - iv["radius_lower"]).to_numpy()
    assert width[1] > 1.3 * width[0]
    # plots
    fit.plot.fit(tmp_path / "fit.png")
    fit.plot.forest(tmp_path / "forest.png")
    assert (tmp_path / "fit.png").stat().st_size > 10_000
    assert (tmp_path / "forest.png").stat().st_size > 10_000
    # comparison: the Seager form beats a plain power law on its own data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = bl.compare({"seager": fit, "power": power}, fallback="none", extrapolation=False,
                           holdout=planets.iloc[::10])
    assert table.index[0] == "seager" and table.loc["power", "elpd_diff"] < -20
    assert table["ho_rmse_log"].idxmin() == "seager"
    # save and load (the law is registered in this process)
    fit.save(tmp_path / "seager.nc")
    back = bl.load(tmp_path / "seager.nc")
    assert back.law == fit.law
    np.testing.assert_allclose(back.predict(rows.iloc[:1]).interval()["radius_median"],
                               fit.predict(rows.iloc[:1]).interval()["radius_median"])


def test_define_rejects_bad_formulas_and_names():
    kw = {"target": "y", "inputs": ("x",), "params": {"k": (0.0, 1.0)}, "formula_text": "y = k",
          "reference": "none"}
    with pytest.raises(SpecError, match="xp.exp"):
        bl.laws.define("bad-math", formula=lambda x, p, xp: math.exp(p["k"]) * x["x"], **kw)
    with pytest.raises(SpecError, match="kebab case"):
        bl.laws.define("Bad Name", formula=lambda x, p, xp: p["k"] * x["x"], **kw)
    with pytest.raises(SpecError, match="already registered"):
        bl.laws.define("chinchilla", formula=lambda x, p, xp: p["k"] * x["x"], **kw)
    with pytest.raises(SpecError, match="loc and scale"):
        bl.laws.define("bad-prior", formula=lambda x, p, xp: p["k"] * x["x"],
                       **(kw | {"params": {"k": {"mean": 0.0}}}))
    # redefining a defined law (a notebook cell run twice) is fine
    first = bl.laws.define("twice", formula=lambda x, p, xp: p["k"] * x["x"], **kw)
    second = bl.laws.define("twice", formula=lambda x, p, xp: p["k"] * x["x"], **kw)
    assert bl.laws._REGISTRY["twice"] is second is not first


def test_model_specs_use_the_benchmark_split():
    import os

    from bayeslaws.spec import load_spec

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name, law in (("revisiting_m4", "m4"), ("revisiting_bnsl", "bnsl")):
        spec = load_spec(os.path.join(repo, "models", f"{name}.yaml"))
        assert spec.law().name == law and spec.law().inputs == ("seen_examples",)
        assert len(spec.train_data()) == 132 and len(spec.holdout_data()) == 97
        assert spec.published == {}  # LAWS.md 12d/12i hold no verified numbers to compare with
