"""The per-family affine maps of centred pooling (bayeslaws.precondition)."""

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws import data as data_mod
from bayeslaws import model as model_mod
from bayeslaws import precondition

NAMES = ["log_E", "log_A0", "log_B0", "log_alpha", "log_beta"]
TRUTH = np.log([1.8, 0.37, 0.37, 0.34, 0.35])


def _family(law, rows, seed, name="f0"):
    rng = np.random.default_rng(seed)
    x = {"params": rng.uniform(np.log(3e7), np.log(1e10), rows),
         "tokens": rng.uniform(np.log(1e9), np.log(3e11), rows)}
    mu = law.formula(x, law.natural(dict(zip(NAMES, TRUTH)), np), np)
    y = mu + 0.01 * rng.standard_normal(rows)
    return pd.DataFrame({"params": np.exp(x["params"]), "tokens": np.exp(x["tokens"]),
                         "loss": np.exp(y), "family": name})


def test_laplace_pilot_finds_the_family_and_its_ridges():
    law = bl.laws.get("chinchilla", pooling="centred")
    table = data_mod.prepare(law, _family(law, 400, 0))
    c, cov = precondition.family_laplace(law, table.x, table.y, NAMES, NAMES)
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(c - TRUTH) < 5 * sd), (c, TRUTH, sd)
    corr = cov / np.outer(sd, sd)
    # the ridges a diagonal mass matrix cannot follow (module docstring)
    assert corr[1, 3] < -0.9 and corr[2, 4] < -0.9


def test_small_family_falls_back_to_the_prior_scale():
    law = bl.laws.get("chinchilla", pooling="centred")
    frame = pd.concat([_family(law, 200, 1, "big"), _family(law, 3, 2, "tiny")])
    table = data_mod.prepare(law, frame)
    idx = pd.Index(["big", "tiny"]).get_indexer(table.family)
    free = precondition.centred_names(law, 2)
    assert free == NAMES
    c, chol = precondition.affine_maps(law, table.x, table.y, idx, 2, free)
    prms = {p.sampled: p for p in law.parameters.values()}
    np.testing.assert_allclose(c[1], [prms[n].loc for n in free])
    np.testing.assert_allclose(chol[1], np.diag([prms[n].family_scale for n in free]))
    assert np.all(np.tril(chol[0]) == chol[0]) and np.all(np.diag(chol[0]) > 0)
    # one family: its values are the population means, all mapped (prior-scale fallback)
    assert precondition.centred_names(law, 1) == NAMES
    assert precondition.mapped_names(law, 1) == [f"{n}_mu" for n in NAMES]
    assert precondition.conditioned_names(law, 1) == []
    tiny = data_mod.prepare(law, _family(law, 3, 2, "tiny"))
    c1, chol1 = precondition.affine_maps(law, tiny.x, tiny.y, np.zeros(3, int), 1, NAMES)
    np.testing.assert_allclose(chol1[0], np.diag([prms[n].scale for n in NAMES]))


def test_one_family_map_keeps_the_posterior():
    """A fit of one family samples its population means through mu = c + L w; the log-density
    at w equals the plain model's at mu (a constant Jacobian, here exactly equal), and the map
    follows the law's ridges (the pilot's covariance)."""
    law = bl.laws.get("chinchilla")  # partial pooling, Student-t noise: the default law
    table = data_mod.prepare(law, _family(law, 120, 7))
    fam = [table.families[0]]
    idx = np.zeros(len(table.y), dtype=int)
    plain = model_mod.build_model(law, table, fam, idx, affine=False)
    mapped = model_mod.build_model(law, table, fam, idx)
    assert "centred_w" in mapped.named_vars and "centred_w" not in plain.named_vars
    assert {f"{n}_mu" for n in NAMES} <= {d.name for d in mapped.deterministics}
    c, chol = precondition.affine_maps(law, table.x, table.y, idx, 1, NAMES)
    corr = chol[0] @ chol[0].T
    corr = corr / np.sqrt(np.outer(np.diag(corr), np.diag(corr)))
    assert corr[1, 3] < -0.9  # log A0 against log alpha: the ridge the map removes
    rng = np.random.default_rng(3)
    w = rng.normal(size=(1, len(NAMES)))
    mu = c[0] + chol[0] @ w[0]
    point_plain, point_mapped = plain.initial_point(), mapped.initial_point()
    for key in point_plain:
        if key in point_mapped:
            point_plain[key] = point_mapped[key] = point_plain[key] + 0.1 * rng.normal(
                size=np.shape(point_plain[key]))
    for j, name in enumerate(NAMES):
        point_plain[f"{name}_mu"] = mu[j]
    point_mapped["centred_w"] = w
    np.testing.assert_allclose(mapped.compile_logp()(point_mapped),
                               plain.compile_logp()(point_plain), rtol=1e-10)


def test_preconditioned_density_is_the_centred_density():
    """log p(w) of the mapped model equals log p(theta) of plain centred pooling at
    theta = c + L w: the same posterior up to a constant Jacobian (here exactly equal)."""
    law = bl.laws.get("chinchilla", pooling="centred")
    frame = pd.concat([_family(law, 60, 3, "a"), _family(law, 80, 4, "b")])
    table = data_mod.prepare(law, frame)
    families = ["a", "b"]
    idx = pd.Index(families).get_indexer(table.family)
    plain = model_mod.build_model(law, table, families, idx, affine=False)
    mapped = model_mod.build_model(law, table, families, idx)
    assert "centred_w" in mapped.named_vars and "centred_w" not in plain.named_vars
    c, chol = precondition.affine_maps(law, table.x, table.y, idx, 2, NAMES)
    rng = np.random.default_rng(5)
    w = rng.normal(size=(2, len(NAMES)))
    theta = c + np.einsum("fij,fj->fi", chol, w)
    point_plain = plain.initial_point()
    point_mapped = mapped.initial_point()
    for key in point_plain:
        if key in point_mapped:
            point_plain[key] = point_mapped[key] = point_plain[key] + 0.1 * rng.normal(
                size=np.shape(point_plain[key]))
    for j, name in enumerate(NAMES):
        point_plain[name] = theta[:, j]
    point_mapped["centred_w"] = w
    lp_plain = plain.compile_logp()(point_plain)
    lp_mapped = mapped.compile_logp()(point_mapped)
    np.testing.assert_allclose(lp_mapped, lp_plain, rtol=1e-10)


def test_global_pilot_starts_at_the_noise_scale_with_its_curvature():
    """bayeslaws.batch._pilot: with every centred_w at 0 it finds the global values (noise
    scale, population means) and an initial inverse mass of about the posterior variance:
    var(log sigma) ~ 1/(2n) for n rows, 1 for each centred_w."""
    import pymc.sampling.jax  # noqa: F401  (before JAX touches the CPU devices)

    from bayeslaws import batch

    law = bl.laws.get("chinchilla", pooling="centred", noise={"likelihood": "normal"})
    families = ["a", "b", "c"]
    frame = pd.concat([_family(law, 400, 10 + k, f) for k, f in enumerate(families)])
    table = data_mod.prepare(law, frame)
    idx = pd.Index(families).get_indexer(table.family).astype(np.int64)
    program = batch._program(law, 3, sorted(table.x))
    c, chol = precondition.affine_maps(law, table.x, table.y, idx, 3, program.centred)
    data = ([np.asarray(table.x[n], float) for n in sorted(table.x)]
            + [np.asarray(table.y, float), idx, np.ones(len(table.y)), c, chol])
    z, imm = batch._pilot(program)(data, [np.asarray(v) for v in program.initial])
    names = program.value_names
    sizes = [int(np.prod(s, dtype=int)) for s in program.value_shapes]
    at = dict(zip(names, np.split(np.asarray(imm), np.cumsum(sizes)[:-1])))
    start = dict(zip(names, [np.asarray(v) for v in z]))
    n = len(table.y)
    assert abs(np.exp(start["sigma_log__"]) / 0.01 - 1) < 0.1
    assert 0.5 < at["sigma_log__"][0] * 2 * n < 2.0
    np.testing.assert_allclose(at["centred_w"], 1.0)
    np.testing.assert_allclose(start["centred_w"], 0.0)
    # population means start near the truth (three families drawn at it)
    for j, name in enumerate(NAMES):
        assert abs(start[f"{name}_mu"] - TRUTH[j]) < 0.2, name


def test_a_one_family_fit_the_map_does_not_serve_is_rerun_without_it():
    """The task law on Pythia's LAMBADA runs (one family, default pooling): through the Laplace
    map NUTS mixes badly (R-hat 1.03, bulk ESS 125 at seed 0), so the fit is rerun with the
    prior's map and converges; the rerun is recorded in the sample stats."""
    import warnings
    from pathlib import Path

    from bayeslaws.spec import load_spec

    spec = Path(__file__).resolve().parents[1] / "models" / "pythia_lambada_ppl.yaml"
    data = load_spec(str(spec)).train_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", bl.ConvergenceWarning)
        fit = bl.laws.get("task").fit(data, extrapolation=None, seed=0)
    assert fit.convergence == []
    assert fit.idata["sample_stats"].attrs.get("one_family_map") == "prior (rerun)"
