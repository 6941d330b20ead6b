"""The extrapolation discrepancy: distance, the drift likelihood, the tau posterior, the draws,
and its use in forecasts of a real fit."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import bayeslaws as bl
from bayeslaws import extrapolation as ex
from bayeslaws import scores


def test_distance_is_decades_beyond_each_family_range():
    law = bl.laws.get("chinchilla")
    train = {"params": np.log([1e8, 1e9]), "tokens": np.log([1e9, 1e10])}
    fam_train = np.array(["a", "a"])
    new = {"params": np.log([1e9, 1e10, 1e8, 1e7]), "tokens": np.log([1e10, 1e10, 1e9, 1e9])}
    d = ex.distance(law, train, fam_train, new, np.array(["a", "a", "a", "b"]))
    # inside; 10x beyond in N (and compute); inside; 10x below in N for an unseen family.
    np.testing.assert_allclose(d, [0.0, 1.0, 0.0, 1.0], atol=1e-12)
    assert ex.describe_distance(1.0) == "10x beyond the fitted range"
    assert ex.describe_distance(0.0) == "inside the fitted range"


def test_relative_distance_is_in_widths_of_the_fitted_range():
    law = bl.laws.get("chinchilla")
    # family a spans 2 decades of compute (1e17 .. 1e19); family b one run (width floored)
    train = {"params": np.log([1e8, 1e9, 1e9]), "tokens": np.log([1e9, 1e10, 1e10])}
    fam_train = np.array(["a", "a", "b"])
    new = {"params": np.log([1e10, 1e10, 1e10]), "tokens": np.log([1e10, 1e10, 1e10])}
    fam = np.array(["a", "b", "c"])
    np.testing.assert_allclose(ex.fitted_width(law, train, fam_train, fam),
                               [2.0, ex.WIDTH_MIN, 2.0])  # c: unseen, measured against all
    np.testing.assert_allclose(ex.relative_distance(law, train, fam_train, new, fam),
                               [0.5, 1.0 / ex.WIDTH_MIN, 0.5])


def test_compute_axis_catches_joint_extrapolation():
    law = bl.laws.get("chinchilla")
    train = {"params": np.log([1e8, 1e9]), "tokens": np.log([1e10, 1e9])}
    new = {"params": np.log([1e9]), "tokens": np.log([1e10])}  # each input seen, compute not
    d = ex.distance(law, train, np.array(["a", "a"]), new, np.array(["a"]))
    np.testing.assert_allclose(d, [1.0])


def test_drift_loglik_matches_dense_multivariate_normal():
    rng = np.random.default_rng(0)
    groups = [(rng.normal(0, 0.02, 6), rng.uniform(0.004, 0.01, 6), np.sort(rng.uniform(0, 2, 6)))
              for _ in range(3)]
    tau = np.array([0.001, 0.02, 0.3])
    dense = [sum(stats.multivariate_normal(np.zeros(len(r)),
                                           np.diag(s**2) + t**2 * ex.kernel(d, d)).logpdf(r)
                 for r, s, d in groups) for t in tau]
    np.testing.assert_allclose(ex.drift_loglik(groups, tau), dense, rtol=1e-9)


def test_drift_loglik_takes_a_joint_predictive_covariance():
    rng = np.random.default_rng(5)
    r, s, d = rng.normal(0, 0.02, 6), rng.uniform(0.004, 0.01, 6), np.sort(rng.uniform(0, 2, 6))
    a = rng.normal(size=(6, 6)) * 0.005
    cov = a @ a.T + np.diag(s**2)
    tau = np.array([0.001, 0.02, 0.3])
    dense = [stats.multivariate_normal(np.zeros(6), cov + t**2 * math.exp(0.6)
                                       * ex.kernel(d, d)).logpdf(r) for t in tau]
    np.testing.assert_allclose(ex.drift_loglik([(r, cov, d, 1.0)], tau, gamma=0.3), dense,
                               rtol=1e-9)
    # a diagonal covariance is the same as the vector of sds
    np.testing.assert_allclose(ex.drift_loglik([(r, np.diag(s**2), d)], tau),
                               ex.drift_loglik([(r, s, d)], tau), rtol=1e-12)


def test_predictive_cov_counts_a_shared_parameter_error_once():
    rng = np.random.default_rng(6)
    rows, draws = 12, 4000
    x = np.linspace(0.0, 1.0, rows)
    # law-curve draws: a shared offset (sd 0.004) and slope error (sd 0.003) per draw
    curve = (rng.normal(0, 0.004, draws)[:, None]
             + rng.normal(0, 0.003, draws)[:, None] * x[None, :])
    curve[:3] = 5.0  # a few far draws must not dominate (winsorised)
    sd = np.full(rows, 0.006)  # predictive sd: the curve's plus noise
    cov = ex.predictive_cov(curve, sd)
    np.testing.assert_allclose(np.diag(cov), sd**2, rtol=1e-6)
    true = 0.004**2 + 0.003**2 * np.outer(x, x)
    off = ~np.eye(rows, dtype=bool)
    np.testing.assert_allclose(cov[off], true[off], rtol=0.15)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    # residuals that share one parameter error and have no drift: with the joint covariance
    # the tau posterior stays at small values; counted as independent rows (diagonal) the
    # shared offset of all rows is read as drift
    d = np.linspace(0.05, 1.0, rows)
    r = 0.008 + rng.normal(0, np.sqrt(sd**2 - np.diag(true)))  # a 2-sd parameter offset
    g_joint, g_diag = [(r, cov, d)], [(r, sd, d)]
    grid = np.linspace(0.0002, 0.05, 250)
    best_joint = grid[np.argmax(ex.drift_loglik(g_joint, grid))]
    best_diag = grid[np.argmax(ex.drift_loglik(g_diag, grid))]
    assert best_joint < 0.002, best_joint
    assert best_diag > 0.004, best_diag


def _simulate_groups(tau, n_groups, rng, rows=8):
    groups = []
    for _ in range(n_groups):
        d = np.sort(rng.uniform(0.05, 1.5, rows))
        s = np.full(rows, 0.005)
        cov = np.diag(s**2) + tau**2 * ex.kernel(d, d)
        groups.append((rng.multivariate_normal(np.zeros(rows), cov), s, d))
    return groups


def test_tau_posterior_recovers_the_drift_rate():
    rng = np.random.default_rng(1)
    truth = 0.03
    grid, dens = ex.tau_posterior(_simulate_groups(truth, 60, rng), weight=1.0)
    draws = ex.tau_draws(grid, dens, (4000,), np.random.default_rng(2))
    lo, med, hi = np.quantile(draws, [0.05, 0.5, 0.95])
    assert lo < truth < hi
    assert abs(med / truth - 1) < 0.25
    # Without data the posterior is the prior: log-normal(mu, sd).
    grid, dens = ex.tau_posterior([], prior=(math.log(0.02), 0.5))
    draws = ex.tau_draws(grid, dens, (20000,), np.random.default_rng(3))
    assert abs(np.median(np.log(draws)) - math.log(0.02)) < 0.03
    assert abs(np.std(np.log(draws)) - 0.5) < 0.03


def test_population_prior_finds_the_common_rate():
    rng = np.random.default_rng(4)
    by_dataset = {f"ds{i}": _simulate_groups(0.02, 8, rng) for i in range(6)}
    mu, sd = ex.population_prior(by_dataset)
    assert abs(mu - math.log(0.02)) < 0.35
    assert sd == pytest.approx(ex.SD_FLOOR, abs=0.2)


def test_discrepancy_draws_follow_the_kernel_and_vanish_inside():
    tau = xr.DataArray(np.full((4, 5000), 0.02), dims=("chain", "draw"))
    disc = ex.Discrepancy(tau, folds=0, groups=0)
    d = np.array([0.0, 0.5, 2.0, 0.5])
    fam = np.array(["a", "a", "a", "b"])
    draws = disc.draws(d, fam, np.random.default_rng(0), width=np.ones(4)).reshape(-1, 4)
    assert np.all(draws[:, 0] == 0)
    np.testing.assert_allclose(draws.std(axis=0)[1:],
                               0.02 * np.sqrt([0.5 + 0.25, 2.0 + 4.0, 0.5 + 0.25]), rtol=0.05)
    corr = np.corrcoef(draws[:, 1:].T)
    expected = (0.5 + 1.0) / math.sqrt(0.75 * 6.0)  # same family: shared path
    assert corr[0, 1] == pytest.approx(expected, abs=0.03)
    assert abs(corr[0, 2]) < 0.05  # other family: independent


def test_discrepancy_distance_unit_is_stored_and_old_files_keep_decades():
    tau = xr.DataArray(np.full((2, 20000), 0.02), dims=("chain", "draw"))
    disc = ex.Discrepancy(tau, folds=3, groups=3)
    d, fam = np.array([2.0]), np.array(["a"])
    with pytest.raises(ValueError, match="width"):
        disc.draws(d, fam, np.random.default_rng(0))
    # two decades beyond a range four decades wide: half a width
    sd = disc.draws(d, fam, np.random.default_rng(0), width=np.array([4.0])).std()
    assert sd == pytest.approx(0.02 * math.sqrt(0.5 + 0.25), rel=0.03)
    back = ex.Discrepancy.from_dataset(disc.to_dataset())
    assert back.relative and back.to_dataset().attrs["distance"] == "relative"
    old = disc.to_dataset()
    del old.attrs["distance"]  # a fit saved before the relative distance: tau per decade
    legacy = ex.Discrepancy.from_dataset(old)
    assert not legacy.relative
    sd = legacy.draws(d, fam, np.random.default_rng(0)).std()
    assert sd == pytest.approx(0.02 * math.sqrt(2.0 + 4.0), rel=0.03)
    assert "per decade" in repr(legacy) and "per fitted width" in repr(disc)


def test_crps_matches_the_normal_closed_form_and_points_score_abs_error():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, (40000, 1))
    z = 0.7
    closed = z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi)
    assert scores.crps(x, np.array([z]))[0] == pytest.approx(closed, rel=0.02)
    assert scores.crps(np.array([[2.0, 3.0]]), np.array([2.5, 2.5])) == pytest.approx([0.5, 0.5])
    table = scores.score_table(np.exp(rng.normal(0, 1, (4000, 500))), np.exp(rng.normal(0, 1, 500)))
    assert table["coverage_90"] == pytest.approx(0.9, abs=0.04)
    assert table["coverage_50"] == pytest.approx(0.5, abs=0.06)


@pytest.mark.slow
def test_group_pit_scores_each_family_once():
    """One shared shift per family: its PIT is the normal CDF of the observed shift, however
    many rows the family has, and row noise averages out of the family mean."""
    rng = np.random.default_rng(0)
    n_draws, rows = 20000, np.array(["a"] * 30 + ["b"] * 3)
    shift = rng.standard_normal((n_draws, 1))  # one drift per draw, shared by all rows
    samples = np.exp(0.1 * shift + 0.001 * rng.standard_normal((n_draws, rows.size)))
    y = np.exp(np.where(rows == "a", 0.1 * 1.2816, -0.1 * 0.6745))  # the 90th and 25th pct
    pit = scores.group_pit(samples, y, rows)
    assert list(pit.index) == ["a", "b"]
    np.testing.assert_allclose(pit.values, [0.90, 0.25], atol=0.01)
    # a point forecast (one sample) scores 0 or 1, ties 1/2
    point = scores.group_pit(np.ones((1, 3)), np.array([1.0, 2.0, 0.5]), ["x", "y", "z"])
    assert point.tolist() == [0.5, 1.0, 0.0]


def test_forecasts_beyond_the_data_widen_and_inside_do_not(chinchilla_fit):
    runs = bl.datasets.load("chinchilla_epoch", fit_rows=True)
    inside = runs.head(3)
    far = runs.tail(1).assign(params=runs.params.max() * 30, tokens=runs.tokens.max() * 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", bl.ExtrapolationWarning)
        a = chinchilla_fit.predict(inside).interval()
        b = chinchilla_fit.predict(inside, discrepancy=False).interval()
    np.testing.assert_allclose(a.loss_upper, b.loss_upper)
    with pytest.warns(bl.ExtrapolationWarning, match="beyond the fitted range"):
        wide = chinchilla_fit.predict(far)
    with pytest.warns(bl.ExtrapolationWarning, match="switched off"):
        narrow = chinchilla_fit.predict(far, discrepancy=False)
    w = wide.interval().iloc[0]
    n = narrow.interval().iloc[0]
    assert (w.loss_upper - w.loss_lower) > 1.5 * (n.loss_upper - n.loss_lower)
    # Farthest out on the compute axis: 30 N_max x 30 D_max against the largest fitted N x D.
    factor = 900 * runs.params.max() * runs.tokens.max() / (runs.params * runs.tokens).max()
    assert wide.summary()["extrapolation"].iloc[0] == pytest.approx(factor, rel=1e-6)
    disc = chinchilla_fit.discrepancy
    assert disc.folds == 0  # the population prior alone (OWN_WEIGHT = 0): no backtest ran
    s = disc.summary()
    # tau = tau0 (sigma / SIGMA_REF) ** NOISE_POWER: the prior's median times the noise scale.
    sigma = float(chinchilla_fit.posterior["sigma"].median())
    assert ex.noise_scale(chinchilla_fit) == pytest.approx((sigma / ex.SIGMA_REF) ** 0.5)
    assert s["median"] == pytest.approx(math.exp(ex.TAU_PRIOR[0]) * ex.noise_scale(chinchilla_fit),
                                        rel=0.05)
    assert 0 < s["lower"] < s["median"] < s["upper"] < ex.TAU_MAX
    # The learned discrepancy travels with the saved fit.
    chinchilla_fit.save("fit.nc")
    again = bl.load("fit.nc").discrepancy
    np.testing.assert_array_equal(again.tau.values, disc.tau.values)


def test_drift_follows_the_noise_of_the_fit():
    """A fit four times noisier drifts twice as fast (NOISE_POWER = 0.5); no sigma: scale 1."""
    from types import SimpleNamespace

    def fake(sigma):
        post = xr.Dataset({"sigma": (("chain", "draw"), np.full((2, 50), sigma))},
                          coords={"chain": [0, 1], "draw": np.arange(50)})
        return SimpleNamespace(posterior=post, config={"seed": 3})

    quiet, noisy = fake(0.0025), fake(0.01)
    assert ex.noise_scale(noisy) == pytest.approx(1.0)
    assert ex.noise_scale(noisy) == pytest.approx(2 * ex.noise_scale(quiet))
    a = ex.Discrepancy.from_groups(quiet, [], 0).tau.values
    b = ex.Discrepancy.from_groups(noisy, [], 0).tau.values
    np.testing.assert_allclose(b, 2 * a)  # same seed, same draws of tau0
    no_sigma = SimpleNamespace(posterior=quiet.posterior.drop_vars("sigma"), config={"seed": 3})
    assert ex.noise_scale(no_sigma) == 1.0


def test_optimal_loss_carries_the_discrepancy_of_predict(chinchilla_fit):
    """Beyond the data, the loss at the compute optimum has predict's interval at (N*, D*);
    inside, the loss is the law's."""
    fam = chinchilla_fit.families[0]
    far = chinchilla_fit.optimal(1e24, family=fam).draws
    plain = chinchilla_fit.optimal(1e24, family=fam, discrepancy=False).draws

    def width(v):
        lo, med, hi = np.quantile(np.ravel(v), [0.05, 0.5, 0.95])
        return (hi - lo) / med

    row = pd.DataFrame({"params": [float(far.N_opt.median())],
                        "tokens": [float(far.D_opt.median())]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ExtrapolationWarning)
        pred = chinchilla_fit.predict(row)
    assert width(far.loss_opt.values) > 3 * width(plain.loss_opt.values)
    assert width(far.loss_opt.values) == pytest.approx(width(pred.law.values), rel=0.1)
    inside = chinchilla_fit.optimal(1e20).draws
    np.testing.assert_array_equal(inside.loss_opt.values,
                                  chinchilla_fit.optimal(1e20, discrepancy=False).draws
                                  .loss_opt.values)


def test_size_multiple_is_compute_over_the_largest_fitted_run_of_the_family():
    law = bl.laws.get("chinchilla")
    # family a: largest run 1e9 params x 1e10 tokens; family b: 1e8 x 1e9
    train = {"params": np.log([1e8, 1e9, 1e8]), "tokens": np.log([1e9, 1e10, 1e9])}
    fam_train = np.array(["a", "a", "b"])
    new = {"params": np.log([1e10, 1e8, 1e9, 1e10]), "tokens": np.log([1e10, 1e9, 1e10, 1e11])}
    fam = np.array(["a", "a", "b", "c"])
    m = ex.size_multiple(law, train, fam_train, new, fam)
    # 10x the compute of a's largest; inside a (1/100); 100x b's largest; c (unseen): 100x all
    np.testing.assert_allclose(m, [10.0, 0.01, 100.0, 100.0], rtol=1e-12)


def test_own_backtests_are_tempered_by_their_weight():
    rng = np.random.default_rng(4)
    groups = _simulate_groups(0.2, 30, rng)  # a fit whose own backtests drift fast
    prior = (math.log(0.02), 0.5)

    def median(w):
        grid, dens = ex.tau_posterior(groups, prior=prior, weight=w)
        return float(np.median(ex.tau_draws(grid, dens, (20000,), np.random.default_rng(5))))

    # weight 0 is the prior; the weight moves tau monotonically toward the backtests' 0.2
    assert median(0.0) == pytest.approx(0.02, rel=0.05)
    assert median(0.0) < median(0.25) < median(1.0)
    assert median(1.0) > 0.1


def test_optimal_n_star_carries_the_allocation_error(chinchilla_fit):
    """N* gets a zero-mean normal error of log N* with sd sqrt(k0^2 + k1^2 u): the floor inside
    the data, growing with the distance beyond it; D* = C / 6N* still holds draw by draw, the
    draws repeat for a seed, and a family's error is one draw at every budget."""
    from bayeslaws import optimal as opt_mod

    fam = chinchilla_fit.families[0]

    def log_n(flops, **kw):
        return np.log(chinchilla_fit.optimal(flops, family=fam, **kw).draws.N_opt.values.ravel())

    for flops in (1e20, 1e24):  # inside the fitted compute (<= 1.3e22), and far beyond it
        shipped, plain = log_n(flops), log_n(flops, discrepancy=False)
        med = np.exp(np.median(plain))
        x = {"params": np.log([med]), "tokens": np.log([flops / 6 / med])}
        d, width, _ = ex.fit_distance(chinchilla_fit, x, np.array([fam]))
        sd = float(opt_mod.allocation_sd(d / width)[0])
        expected = np.sqrt(np.var(plain) + sd ** 2)
        assert np.std(shipped) == pytest.approx(expected, rel=0.08)
        assert abs(np.median(shipped) - np.median(plain)) < 0.1 * sd
    assert float(opt_mod.allocation_sd(0.0)) == pytest.approx(opt_mod.ALLOCATION_ERROR[0])
    assert opt_mod.allocation_sd(1.0) > opt_mod.allocation_sd(0.2) > opt_mod.allocation_sd(0.0)
    far = chinchilla_fit.optimal(1e24, family=fam).draws
    np.testing.assert_allclose((6 * far.N_opt * far.D_opt).values, 1e24, rtol=1e-9)
    np.testing.assert_array_equal(far.N_opt.values,
                                  chinchilla_fit.optimal(1e24, family=fam).draws.N_opt.values)
    # the same standard normal per draw at 1e23 and 1e24: the frontier is one curve per draw
    shift = [log_n(c) - log_n(c, discrepancy=False) for c in (1e23, 1e24)]
    assert np.corrcoef(*shift)[0, 1] > 0.99


def test_largest_size_is_the_largest_runs_flops():
    """6ND for a law of N and D (its size axis is log ND), the input itself for a law of C."""
    chin, power = bl.laws.get("chinchilla"), bl.laws.get("power-law")
    x = {"params": np.log([1e8, 1e9]), "tokens": np.log([2e10, 1e10])}
    assert ex.largest_size(chin, x) == pytest.approx(6e19, rel=1e-12)
    assert ex.largest_size(chin, x, np.array([True, False])) == pytest.approx(1.2e19, rel=1e-12)
    name = power.inputs[0]
    assert ex.largest_size(power, {name: np.log([3.0, 7.0])}) == pytest.approx(7.0, rel=1e-12)
