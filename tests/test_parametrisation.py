"""The automatic centred / non-centred choice of partial pooling (bayeslaws.parametrisation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws import data as data_mod
from bayeslaws import model as model_mod
from bayeslaws import parametrisation, precondition


def isoflop(n_families: int, budgets: int, sizes: int, *, noise: float = 0.01, seed: int = 0,
            log_spread: float = 0.3) -> pd.DataFrame:
    """IsoFLOP sweeps of Chinchilla families (Hoffmann et al.'s fit): E 1.7-2.0 nats apart,
    A and B log-normal with sd ``log_spread``, exponents within ~0.01; 1e17-1e20 FLOPs."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(n_families):
        e = 1.7 + 0.3 * f / max(n_families - 1, 1)
        a = 406.4 * np.exp(rng.normal(0, log_spread))
        b = 410.7 * np.exp(rng.normal(0, log_spread))
        alpha, beta = 0.34 + rng.normal(0, 0.01), 0.28 + rng.normal(0, 0.01)
        g = (alpha * a / (beta * b)) ** (1 / (alpha + beta))
        for c in np.geomspace(1e17, 1e20, budgets):
            for n in g * (c / 6) ** (beta / (alpha + beta)) * np.geomspace(0.15, 6.0, sizes):
                d = c / (6 * n)
                loss = (e + a / n ** alpha + b / d ** beta) * np.exp(rng.normal(0, noise))
                rows.append({"family": f"corpus{f}", "params": n, "tokens": d, "loss": loss})
    return pd.DataFrame(rows)


def choice(frame, law=None, **kw):
    law = law or bl.laws.get("chinchilla")
    law, table, _ = data_mod.prepare_for_fit(law, frame)
    idx = pd.Index(table.families).get_indexer(table.family)
    return parametrisation.choose(law, table.x, table.y, idx, len(table.families), **kw)


def test_many_rows_per_family_centres_the_well_informed_spread_parameters():
    """~90 runs per family, A and B spread across corpora: A0 and B0 centred, the shared-ish
    exponents stay non-centred."""
    picked = choice(isoflop(6, 6, 15))
    assert picked["A0"] == picked["B0"] == "centred"
    assert picked["alpha"] == "noncentred"
    assert set(picked) == {"E", "A0", "B0", "alpha", "beta"}


def test_few_rows_per_family_stays_non_centred():
    """Fewer runs per family than two per parameter: no pilot, so the non-centred default."""
    assert set(choice(isoflop(6, 3, 3)).values()) == {"noncentred"}


def test_bundled_gadre_stays_non_centred(monkeypatch):
    """Gadre et al.'s three corpora (~35 runs each): non-centred, the form that converges there
    (benchmarks/RESULTS.md, 'Default pooling on a multi-family table')."""
    runs = bl.datasets.load("gadre_overtraining", fit_rows=True)
    assert set(choice(runs).values()) == {"noncentred"}


def test_switch_off_and_bad_value(monkeypatch):
    monkeypatch.setenv("BAYESLAWS_PARAMETRISATION", "noncentred")
    assert set(choice(isoflop(6, 6, 15)).values()) == {"noncentred"}
    monkeypatch.setenv("BAYESLAWS_PARAMETRISATION", "sideways")
    with pytest.raises(bl.errors.SpecError, match="BAYESLAWS_PARAMETRISATION"):
        choice(isoflop(6, 6, 15))


def test_two_families_and_explicit_pooling_are_left_alone():
    """Too few families to estimate the spread; explicit shared/centred pooling is not touched."""
    assert set(choice(isoflop(2, 6, 15)).values()) == {"noncentred"}
    law = bl.laws.get("chinchilla", pooling={"alpha": "shared", "E": "centred"})
    picked = choice(isoflop(6, 6, 15), law=law)
    assert "alpha" not in picked and "E" not in picked


def test_conditional_map_keeps_the_mixed_density():
    """theta_c = c + B (eta - a) + L w has a constant Jacobian: log p of the mapped mixed model
    equals that of the plain mixed model (centred normals beside non-centred offsets)."""
    frame = isoflop(3, 4, 8)
    law = bl.laws.get("chinchilla", pooling={"A0": "centred", "B0": "centred"})
    table = data_mod.prepare(law, frame)
    families = sorted(frame["family"].unique())
    idx = pd.Index(families).get_indexer(table.family)
    plain = model_mod.build_model(law, table, families, idx, affine=False)
    mapped = model_mod.build_model(law, table, families, idx)
    free = precondition.centred_names(law, 3)
    cond = precondition.conditioned_names(law, 3)
    assert free == ["log_A0", "log_B0"] and cond == ["log_E", "log_alpha", "log_beta"]
    c, chol, slope, centre = precondition.affine_maps(law, table.x, table.y, idx, 3, free, cond)
    assert np.abs(slope).max() > 0.1  # A0 follows alpha along the ridge
    rng = np.random.default_rng(3)
    point = plain.initial_point()
    for key in point:
        point[key] = point[key] + 0.1 * rng.normal(size=np.shape(point[key]))
    # eta_f from the non-centred variables (sampling-scale transforms: sigma is log-transformed)
    eta = np.stack([point[f"{n}_mu"] + np.exp(point[f"{n}_sigma_log__"]) * point[f"{n}_z"]
                    for n in cond], axis=1)
    w = rng.normal(size=(3, 2))
    theta = c + np.einsum("fij,fj->fi", chol, w) + np.einsum("fij,fj->fi", slope, eta - centre)
    mpoint = {k: v for k, v in point.items() if k not in free}
    mpoint["centred_w"] = w
    for j, name in enumerate(free):
        point[name] = theta[:, j]
    np.testing.assert_allclose(mapped.compile_logp(mode="FAST_COMPILE")(mpoint),
                               plain.compile_logp(mode="FAST_COMPILE")(point),
                               rtol=1e-10)


@pytest.mark.slow
def test_new_default_converges_on_many_rows_per_family(tmp_path):
    """Six corpora of 15 IsoFLOP runs (A and B far apart): the chosen (mixed) form converges
    without divergences, the choice is recorded, and a saved fit reads back per-family values of
    the centred parameters."""
    import warnings

    frame = isoflop(6, 3, 5)
    with warnings.catch_warnings(record=True) as caught:  # asserted below, with the numbers
        warnings.simplefilter("always", bl.ConvergenceWarning)
        fit = bl.laws.get("chinchilla").fit(frame, draws=500, tune=500, chains=4, seed=0,
                                            extrapolation=None)
    assert not caught, [str(w.message) for w in caught]
    assert fit.config["parametrisation"]["A0"] == "centred"
    assert fit.law.pooling["A0"] == "partial"  # the model the user asked for
    d = fit.diagnostics()
    assert max(d["rhat"].values()) <= 1.01, d["rhat"]
    assert d["divergences"] == 0
    s = fit.summary()
    assert s.loc["A0[corpus0]", "r_hat"] <= 1.01 and "A0[population]" in s.index
    row = pd.DataFrame({"params": [7e9], "tokens": [1.4e11], "family": ["corpus1"]})
    pred = fit.predict(row, discrepancy=False).interval()
    fit.save(tmp_path / "mixed.nc")
    again = bl.load(tmp_path / "mixed.nc").predict(row, discrepancy=False).interval()
    np.testing.assert_allclose(again["loss_mean"], pred["loss_mean"])
