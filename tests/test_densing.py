"""The densing law (Xiao et al. 2024): the reference curve, the inversion to effective parameter
size, the densing trend's doubling time on simulated release dates, and the bundled real data
compared with the paper's doubling time."""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws.cli import main
from conftest import REPO
from bayeslaws.laws import densing as dz

pytestmark = pytest.mark.slow

TRUE = {"d": 0.25, "c": 0.7, "Nh": 1e10, "alpha": 0.1, "k": 0.6}
#: simulated densing law: ln(rho) grows by A per year (doubling every 4 months)
SIM_DOUBLING_MONTHS = 4.0
SIM_A = 12 * math.log(2) / SIM_DOUBLING_MONTHS


def _quiet_fit(law, frame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        return law.fit(frame, extrapolation=None, **kw)


def test_inverse_is_exact_on_a_known_curve():
    law = bl.laws.get("densing")
    p = law.natural({f"log_{k}": np.log(v) for k, v in TRUE.items()}, np)
    sizes = np.array([3e7, 1e8, 1e9, 1e10, 7e10, 1e12])
    score = law.evaluate({"params": sizes}, TRUE)
    assert np.all(np.diff(score) > 0) and score[0] > TRUE["d"]
    np.testing.assert_allclose(law.inverse(score, p), np.log(sizes), rtol=1e-10)
    # at the midpoint N = Nh the score is d + c/2, and the inverse gives Nh back
    assert law.evaluate({"params": [1e10]}, TRUE)[0] == pytest.approx(0.25 + 0.35)
    ceiling = law.derived(p, np)["ceiling"]
    assert ceiling == pytest.approx(0.25 + 0.7 / (1 + math.exp(-0.6 / 0.1)))
    assert law.inverse(np.array([0.2, ceiling + 1e-6]), p).tolist() == [-np.inf, np.inf]


def _simulated_releases(rng):
    """Ten families (releases) 2023-2025, four sizes each: each family's curve is the reference
    curve shifted by its density, ln rho_f = A t_f + B + scatter (same for all its sizes)."""
    law = bl.laws.get("densing")
    rows = []
    for f in range(10):
        date = pd.Timestamp("2023-02-01") + pd.Timedelta(days=int(75 * f + rng.integers(0, 20)))
        t = (date - dz.T0).days / dz.DAYS_PER_YEAR
        log_rho = SIM_A * t - 1.0 + rng.normal(0, 0.15)
        nh = TRUE["Nh"] * math.exp(-log_rho)
        for n in (5e8, 2e9, 8e9, 3e10):
            s = law.evaluate({"params": [n]}, TRUE | {"Nh": nh})[0]
            rows.append({"model": f"fam{f}-{n:.0e}", "family": f"fam{f}", "params": n,
                         "score": s + rng.normal(0, 0.008), "date": date.strftime("%Y-%m-%d"),
                         "log_rho_true": log_rho})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def simulated():
    frame = _simulated_releases(np.random.default_rng(3))
    fit = _quiet_fit(bl.laws.get("densing"), frame, seed=1, draws=400, tune=500, chains=2)
    return frame, fit


def test_recovers_simulated_shape(simulated):
    _, fit = simulated
    s = fit.summary(prob=0.98)
    for name in ("d", "c", "k"):
        lo, hi = s.loc[f"{name}[fam0]", ["lower", "upper"]]
        assert lo < TRUE[name] < hi, name
    assert s.loc["k[fam0]", "median"] == pytest.approx(TRUE["k"], rel=0.2)
    assert fit.diagnostics()["divergences"] == 0


def test_density_of_simulated_models(simulated):
    frame, fit = simulated
    # every family's density relative to fam0's curve is known exactly: rho_f / rho_0
    log_rho = dz.density(fit, reference="fam0").median(("chain", "draw")).values
    truth = frame["log_rho_true"] - frame["log_rho_true"].iloc[0]
    # a model's own curve is its family's, so ln rho = ln(Nh_0 / Nh_f) up to noise
    np.testing.assert_allclose(log_rho - np.log(1.0), truth, atol=0.5)
    assert np.corrcoef(log_rho, truth)[0, 1] > 0.98
    table = fit.density(reference="fam0")
    assert list(table.columns[-6:]) == ["N_eff_median", "N_eff_lower", "N_eff_upper",
                                        "rho_median", "rho_lower", "rho_upper"]
    assert (table["N_eff_lower"] <= table["N_eff_median"]).all()


def test_recovers_simulated_doubling_time(simulated):
    _, fit = simulated
    trend = fit.densing_trend(since="2023-01-01")
    assert len(trend.points) == 10
    v = trend.draws["doubling_months"].values
    assert np.quantile(v, 0.02) < SIM_DOUBLING_MONTHS < np.quantile(v, 0.98)
    assert np.median(v) == pytest.approx(SIM_DOUBLING_MONTHS, rel=0.15)
    # the reference shifts B, not A
    other = fit.densing_trend(reference="fam0")
    if other.settings["draws_used"] == trend.settings["draws_used"]:
        np.testing.assert_allclose(other.draws["A"].values, trend.draws["A"].values, rtol=1e-9)
    assert np.median(other.draws["A"]) == pytest.approx(np.median(trend.draws["A"]), rel=0.01)
    assert trend.infinite_share < 0.01


def test_uncertainty_of_N_eff_reaches_the_doubling_time(simulated):
    """The spread of A mixes over draws of the reference curve: it is wider than the spread of
    one regression at the posterior median of ln rho (what ignoring N_eff's uncertainty gives)."""
    _, fit = simulated
    trend = fit.densing_trend()
    pts = trend.points
    X = np.column_stack([np.ones(len(pts)), pts["t"]])
    y = pts["log_rho_max_median"].to_numpy()
    beta, res, *_ = np.linalg.lstsq(X, y, rcond=None)
    s2 = float(res[0]) / (len(y) - 2)
    sd_plugin = math.sqrt(s2 * np.linalg.inv(X.T @ X)[1, 1] * (len(y) - 2) / (len(y) - 4))
    assert trend.draws["A"].std() > sd_plugin


# ------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def real_fit(tmp_path_factory):
    # The spec through the CLI at its own settings (4 x 1000): its dense mass matrix (the shared
    # shape and the pooled locations trade off linearly) is what makes the family offsets mix.
    path = tmp_path_factory.mktemp("densing") / "densing.nc"
    spec = os.path.join(REPO, "models", "densing_xiao2024.yaml")
    assert main(["fit", spec, "--out", str(path), "--quiet", "--no-extrapolation"]) == 0
    return bl.load(path)


def test_bundled_dataset_provenance():
    data = bl.datasets.load("densing_xiao2024")
    assert len(data) == 130 and data["family"].nunique() == 39
    dated = data.dropna(subset=["date"])
    assert len(dated) == 54 and dated["date"].nunique() == 16
    assert data["score"].between(0.24, 0.9).all()
    assert not data["family"].isin(["Mixtral", "CodeLlama", "StarCoder"]).any()
    row = data.set_index("model").loc["meta-llama/Llama-2-7b-hf"]
    assert row["date"] == "2023-07-18" and row["score"] == pytest.approx(
        (row["mmlu"] + row["hellaswag"] + row["winogrande"] + row["gsm8k"]) / 4, abs=1e-6)


def test_real_data_converges(real_fit):
    import arviz as az

    diag = real_fit.diagnostics()
    assert diag["divergences"] == 0 and real_fit.config["dense_mass"] is True
    assert max(diag["rhat"].values()) <= 1.01, diag["rhat"]
    assert min(diag["ess_bulk"].values()) >= 400, diag["ess_bulk"]
    # the headline: draws of the trend's slope, one per posterior draw, keep the chain order
    trend = real_fit.densing_trend()
    assert trend.settings["draws_used"] == trend.settings["draws_total"] == 4000
    slope = trend.draws["A"].values.reshape(4, 1000)
    assert float(az.rhat(slope)) <= 1.01
    s = real_fit.summary()
    # the floor is the chance level of the benchmark mix (0.25)
    assert s.loc["d[population]", "median"] == pytest.approx(0.25, abs=0.03)


def test_real_data_doubling_time_matches_the_paper(real_fit):
    """Published: 3.3 months (arXiv:2412.04315), 3.5 (Nature MI). Tolerance: the paper's value
    lies in our 90% interval and our median is within 25% of it; a wrong time unit (days, years),
    log base or sign would miss by a factor of 2.3 or more."""
    trend = real_fit.densing_trend()
    table = trend.table()
    med, lo, hi = table.loc["doubling_months", ["median", "lower", "upper"]]
    published = dz.PUBLISHED_DOUBLING_MONTHS["arxiv"]
    assert lo < published < hi
    assert med == pytest.approx(published, rel=0.25)
    assert table.loc["A_per_day", "median"] == pytest.approx(0.007, rel=0.25)
    assert len(trend.points) == 11 and trend.infinite_share < 0.01
    # since 2019 (GPT-2 ... ) the density grew more slowly: the paper's acceleration after 2023
    slow = real_fit.densing_trend(since=None)
    assert np.median(slow.draws["doubling_months"]) > med


def test_cli_prints_density_and_trend(real_fit, tmp_path, capsys):
    path = tmp_path / "densing.nc"
    real_fit.save(path)
    out_csv = tmp_path / "rho.csv"
    assert main(["optimal", str(path), "--out", str(out_csv)]) == 0
    out = capsys.readouterr().out
    assert "doubling_months" in out and "Qwen/Qwen2.5-72B" in out
    table = pd.read_csv(out_csv)
    assert {"N_eff_median", "rho_lower", "rho_upper"} <= set(table.columns)
    assert main(["optimal", str(path), "--flops", "1e23"]) == 2
