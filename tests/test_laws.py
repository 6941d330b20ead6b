"""The scaling laws: formulas (numpy and pytensor), paper forms, limits, optimum and registry.

Fast tests only (no sampling).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytensor.tensor as pt
import pytest

import bayeslaws
from bayeslaws import SpecError
from bayeslaws.laws import from_spec, get
from bayeslaws.laws.chinchilla import D_REF, N_REF
from bayeslaws.laws.mixture import REGMIX_SOURCES
from bayeslaws.optimal import _allocation, golden_section

#: Hoffmann et al. 2022, Approach 3, and Epoch's replication (Besiroglu et al. 2024).
HOFFMANN = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
EPOCH = dict(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)
#: Kaplan et al. 2020, Table 2.
KAPLAN = dict(alpha_N=0.076, alpha_D=0.103, N_c=6.4e13, D_c=1.8e13)
CHINCHILLA_OPTIMAL_FLOPS = 5.76e23

LAW_CONFIGS = [(name, {}) for name in bayeslaws.laws.available()] + [
    ("power-law", {"input": "params"}), ("power-law", {"input": "tokens"})]
LAW_IDS = [name + "".join(f"-{v}" for v in opts.values()) for name, opts in LAW_CONFIGS]


def chinchilla_values(E, A, B, alpha, beta) -> dict:
    """Sampling-scale values of the Chinchilla law from the paper's constants."""
    return {"log_E": np.log(E), "log_A0": np.log(A / N_REF**alpha),
            "log_B0": np.log(B / D_REF**beta), "log_alpha": np.log(alpha), "log_beta": np.log(beta)}


def kaplan_values(alpha_N, alpha_D, N_c, D_c) -> dict:
    """Sampling-scale values of the Kaplan law from the paper's constants."""
    return {"log_LN0": alpha_N * np.log(N_c / N_REF), "log_LD0": alpha_D * np.log(D_c / D_REF),
            "log_alpha_N": np.log(alpha_N), "log_alpha_D": np.log(alpha_D)}


def prior_draws(law, rng, size) -> dict:
    """Draws of the sampled quantities from the default priors of the population means."""
    return {prm.sampled: rng.normal(prm.loc, prm.scale, size) for prm in law.parameters.values()}


def log_inputs(rng, size) -> dict:
    """Random log inputs over the range of real runs (and some way beyond)."""
    log_n = rng.uniform(np.log(1e6), np.log(1e12), size)
    log_d = rng.uniform(np.log(1e8), np.log(1e13), size)
    return {"params": log_n, "tokens": log_d, "flops": np.log(6.0) + log_n + log_d,
            # inputs of the catalogue laws: unique tokens (data-constrained), loss (downstream)
            "unique_tokens": rng.uniform(np.log(1e7), np.log(1e12), size),
            "loss": rng.uniform(np.log(1.5), np.log(8.0), size),
            # vocab (Tao et al.), batch size (Li et al.), task ladder (Bhagia et al.)
            "params_nonvocab": rng.uniform(np.log(3e7), np.log(1e11), size),
            "vocab_size": rng.uniform(np.log(4e3), np.log(5e5), size),
            "embed_dim": rng.uniform(np.log(512), np.log(8192), size),
            "lr": rng.uniform(np.log(1e-4), np.log(1e-2), size),
            "batch_size": rng.uniform(np.log(1e5), np.log(1e7), size),
            "task_loss": rng.uniform(np.log(0.3), np.log(3.0), size),
            # capacity gap (Zhang et al.), knowledge capacity (Allen-Zhu & Li)
            "teacher_params": rng.uniform(np.log(1e6), np.log(1e12), size),
            "exposures": rng.uniform(np.log(1.0), np.log(1e5), size),
            # learning-curve forms (bnsl, m4): examples seen, as in the Revisiting benchmark
            "seen_examples": rng.uniform(np.log(1e5), np.log(1e12), size),
            # task-direct (Pythia): the task's chance accuracy (1/50,277 to 1/2)
            "chance": rng.uniform(np.log(1e-5), np.log(0.5), size),
            # mixture (RegMix): proportions of the 17 Pile sources, on the simplex (linear inputs)
            **dict(zip(REGMIX_SOURCES, rng.dirichlet(np.ones(len(REGMIX_SOURCES)), size).T))}


# --------------------------------------------------------------------------- one formula, two backends
@pytest.mark.parametrize(("name", "opts"), LAW_CONFIGS, ids=LAW_IDS)
def test_numpy_and_pytensor_agree(name, opts):
    law = get(name, **opts)
    rng = np.random.default_rng(20240601)
    size = 200
    values = prior_draws(law, rng, size)
    x = log_inputs(rng, size)

    via_numpy = law.formula(x, law.natural(values, np), np)
    x_pt = {k: pt.as_tensor_variable(v) for k, v in x.items()}
    values_pt = {k: pt.as_tensor_variable(v) for k, v in values.items()}
    via_pytensor = law.formula(x_pt, law.natural(values_pt, pt), pt).eval()

    assert via_numpy.shape == (size,)
    assert np.all(np.isfinite(via_numpy))
    np.testing.assert_allclose(via_pytensor, via_numpy, rtol=1e-10, atol=0)


@pytest.mark.parametrize(("name", "opts"), LAW_CONFIGS, ids=LAW_IDS)
def test_numpy_and_pytensor_agree_on_derived(name, opts):
    law = get(name, **opts)
    values = prior_draws(law, np.random.default_rng(7), 50)
    via_numpy = law.derived(law.natural(values, np), np)
    values_pt = {k: pt.as_tensor_variable(v) for k, v in values.items()}
    via_pytensor = law.derived(law.natural(values_pt, pt), pt)
    assert set(via_numpy) == set(law.derived_names) == set(via_pytensor)
    for key in via_numpy:
        np.testing.assert_allclose(via_pytensor[key].eval(), via_numpy[key], rtol=1e-10)


@pytest.mark.parametrize(("name", "opts"), LAW_CONFIGS, ids=LAW_IDS)
def test_symbolic_parameters_broadcast_with_data(name, opts):
    """Scalar symbolic parameters (one family) against a vector of runs, as in the PyMC model."""
    law = get(name, **opts)
    rng = np.random.default_rng(3)
    values = {k: float(v[0]) for k, v in prior_draws(law, rng, 1).items()}
    x = log_inputs(rng, 30)
    scalars = {k: pt.scalar(k) for k in values}
    graph = law.formula({k: pt.as_tensor_variable(v) for k, v in x.items()},
                        law.natural(scalars, pt), pt)
    got = graph.eval({scalars[k]: np.float64(v) for k, v in values.items()})
    want = law.formula(x, law.natural(values, np), np)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_parameters_are_described():
    for name in bayeslaws.laws.available():
        law = get(name)
        assert law.param_names[: len(law.parameters)] == list(law.parameters)
        for prm in law.parameters.values():
            assert prm.scale > 0 and prm.family_scale > 0 and prm.doc
            assert prm.sampled == (f"log_{prm.name}" if prm.log else prm.name)
        assert law.formula_text and law.reference and law.name in law.describe()


# --------------------------------------------------------------------------- paper forms
def test_chinchilla_matches_paper_form():
    law = get("chinchilla")
    rng = np.random.default_rng(11)
    values = prior_draws(law, rng, 64)
    p = law.natural(values, np)
    derived = law.derived(p, np)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e11), 64))
    d = np.exp(rng.uniform(np.log(1e9), np.log(1e12), 64))
    plain = p["E"] + derived["A"] / n ** p["alpha"] + derived["B"] / d ** p["beta"]
    np.testing.assert_allclose(law.evaluate({"params": n, "tokens": d}, p), plain, rtol=1e-10)
    # the paper's constants go in and come back out
    hp = law.natural(chinchilla_values(**HOFFMANN), np)
    back = law.derived(hp, np)
    assert back["A"] == pytest.approx(HOFFMANN["A"], rel=1e-12)
    assert back["B"] == pytest.approx(HOFFMANN["B"], rel=1e-12)
    n, d = 7e10, 1.4e12  # Chinchilla itself
    want = HOFFMANN["E"] + HOFFMANN["A"] / n ** HOFFMANN["alpha"] + HOFFMANN["B"] / d ** HOFFMANN["beta"]
    assert law.evaluate({"params": n, "tokens": d}, hp) == pytest.approx(want, rel=1e-12)
    assert law.evaluate({"params": n, "tokens": d}, HOFFMANN | {"A0": np.exp(hp["log_A0"]),
                                                                 "B0": np.exp(hp["log_B0"])}) \
        == pytest.approx(want, rel=1e-12)


def test_kaplan_matches_paper_form():
    law = get("kaplan")
    rng = np.random.default_rng(12)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e11), 64))
    d = np.exp(rng.uniform(np.log(1e9), np.log(1e12), 64))
    for values in (kaplan_values(**KAPLAN), prior_draws(law, rng, 64)):
        p = law.natural(values, np)
        derived = law.derived(p, np)
        a_n, a_d = p["alpha_N"], p["alpha_D"]
        plain = ((derived["N_c"] / n) ** (a_n / a_d) + derived["D_c"] / d) ** a_d
        assert np.all(np.isfinite(plain))
        np.testing.assert_allclose(law.evaluate({"params": n, "tokens": d}, p), plain, rtol=1e-9)
    back = law.derived(law.natural(kaplan_values(**KAPLAN), np), np)
    assert back["N_c"] == pytest.approx(KAPLAN["N_c"], rel=1e-10)
    assert back["D_c"] == pytest.approx(KAPLAN["D_c"], rel=1e-10)


@pytest.mark.parametrize("input_", ["flops", "params", "tokens"])
def test_power_law_matches_paper_form(input_):
    law = get("power-law", input=input_)
    assert law.inputs == (input_,) and law.options() == {"input": input_}
    rng = np.random.default_rng(13)
    p = law.natural(prior_draws(law, rng, 64), np)
    x0 = law.derived(p, np)["x0"]
    x = np.exp(rng.uniform(np.log(1e7), np.log(1e24), 64))
    plain = p["L_inf"] + (x0 / x) ** p["alpha"]
    np.testing.assert_allclose(law.evaluate({input_: x}, p), plain, rtol=1e-9)


def test_power_law_default_input_is_flops():
    assert get("power-law").inputs == ("flops",)
    assert get("power-law").required_columns() == ("flops",)


@pytest.mark.parametrize("bad", ["loss", "FLOPs", "compute", "", "N"])
def test_power_law_invalid_input(bad):
    with pytest.raises(SpecError, match="power-law input"):
        get("power-law", input=bad)


# --------------------------------------------------------------------------- shape of the laws
def _values_for(name, rng):
    law = get(name)
    if name == "chinchilla":
        sets = [chinchilla_values(**HOFFMANN), chinchilla_values(**EPOCH)]
    elif name == "kaplan":
        sets = [kaplan_values(**KAPLAN)]
    else:
        sets = []
    draws = prior_draws(law, rng, 5)
    sets += [{k: v[i] for k, v in draws.items()} for i in range(5)]
    return law, sets


@pytest.mark.parametrize("name", ["chinchilla", "kaplan"])
def test_loss_strictly_decreases_in_n_and_d(name):
    law, sets = _values_for(name, np.random.default_rng(21))
    grid = np.geomspace(1e7, 1e11, 60)
    for values in sets:
        p = law.natural(values, np)
        for fixed in (1e9, 1e11):
            in_n = law.evaluate({"params": grid, "tokens": np.full_like(grid, fixed * 20)}, p)
            in_d = law.evaluate({"params": np.full_like(grid, fixed), "tokens": grid * 20}, p)
            assert np.all(np.diff(in_n) < 0), (values, fixed)
            assert np.all(np.diff(in_d) < 0), (values, fixed)
            assert np.all(in_n > 0) and np.all(in_d > 0)


@pytest.mark.parametrize("input_", ["flops", "params", "tokens"])
def test_power_law_strictly_decreases_to_l_inf(input_):
    law = get("power-law", input=input_)
    _, sets = _values_for("power-law", np.random.default_rng(22))
    for values in sets:
        p = law.natural(values, np)
        loss = law.evaluate({input_: np.geomspace(1e6, 1e22, 40)}, p)
        assert np.all(np.diff(loss) < 0)
        assert np.all(loss > p["L_inf"])


def test_chinchilla_tends_to_e():
    law, sets = _values_for("chinchilla", np.random.default_rng(23))
    sizes = np.array([1e10, 1e15, 1e20, 1e25, 1e30])
    for values in sets[:2]:  # published fits: E is reached to 1e-6 at 1e30
        p = law.natural(values, np)
        loss = law.evaluate({"params": sizes, "tokens": sizes}, p)
        gap = loss - p["E"]
        assert np.all(gap > 0) and np.all(np.diff(gap) < 0)
        assert loss[-1] == pytest.approx(p["E"], rel=1e-6)
    for values in sets[2:]:  # prior draws: the gap still shrinks towards E
        p = law.natural(values, np)
        loss = law.evaluate({"params": sizes, "tokens": sizes}, p)
        assert np.all(np.diff(loss - p["E"]) < 0)
        assert loss[-1] == pytest.approx(p["E"], rel=1e-2)


def test_kaplan_tends_to_zero():
    law = get("kaplan")
    p = law.natural(kaplan_values(**KAPLAN), np)
    sizes = np.array([1e10, 1e20, 1e30, 1e60])
    loss = law.evaluate({"params": sizes, "tokens": sizes}, p)
    assert np.all(np.diff(loss) < 0) and np.all(loss > 0)
    assert loss[-1] < 0.05


def test_evaluate_accepts_dataframe_and_scalars():
    import pandas as pd

    law = get("chinchilla")
    p = law.natural(chinchilla_values(**HOFFMANN), np)
    frame = pd.DataFrame({"params": [1e9, 7e10], "tokens": [2e10, 1.4e12]})
    np.testing.assert_allclose(law.evaluate(frame, p),
                               [law.evaluate({"params": n, "tokens": d}, p)
                                for n, d in zip(frame["params"], frame["tokens"])], rtol=1e-14)


# --------------------------------------------------------------------------- compute-optimal
def _numeric_optimum(law, p, flops):
    log_c6 = math.log(flops / 6.0)
    shape = np.broadcast(*p.values()).shape

    def link(log_n):
        return law.formula({"params": log_n, "tokens": log_c6 - log_n}, p, np)

    return golden_section(link, np.zeros(shape), np.full(shape, log_c6), iters=200)


@pytest.mark.parametrize("flops", [1e18, 1e21, CHINCHILLA_OPTIMAL_FLOPS, 1e26])
def test_chinchilla_closed_form_matches_numeric_minimum(flops):
    law = get("chinchilla")
    rng = np.random.default_rng(31)
    for values in (chinchilla_values(**HOFFMANN), chinchilla_values(**EPOCH)):
        p = law.natural({k: np.atleast_1d(v) for k, v in values.items()}, np)
        log_n, log_d, link = _allocation(law, p, flops)
        assert log_n == pytest.approx(_numeric_optimum(law, p, flops), abs=1e-6)
        assert np.exp(log_n + log_d) * 6 == pytest.approx(flops, rel=1e-12)
    # prior draws whose optimum lies inside the bracket [1, C/6] parameters
    draws = prior_draws(law, rng, 200)
    p = law.natural(draws, np)
    log_n, log_d, link = _allocation(law, p, flops)
    log_c6 = math.log(flops / 6.0)
    inside = (log_n > 1.0) & (log_d > 1.0)
    assert inside.sum() > 20
    numeric = _numeric_optimum(law, p, flops)
    np.testing.assert_allclose(log_n[inside], numeric[inside], atol=1e-6, rtol=0)
    np.testing.assert_allclose(log_n + log_d, log_c6, rtol=1e-14)
    # the link value returned is the law at the optimum, and no neighbour on the budget line is lower
    at = law.formula({"params": log_n, "tokens": log_d}, p, np)
    np.testing.assert_allclose(link, at, rtol=1e-14)
    for step in (-1e-2, 1e-2):
        nb = law.formula({"params": log_n + step, "tokens": log_d - step}, p, np)
        assert np.all(nb >= at)


def test_hoffmann_optimum_at_chinchilla_budget():
    law = get("chinchilla")
    p = law.natural(chinchilla_values(**HOFFMANN), np)
    log_n, log_d, link = _allocation(law, p, CHINCHILLA_OPTIMAL_FLOPS)
    n_opt, tpp = float(np.exp(log_n)), float(np.exp(log_d - log_n))
    assert n_opt == pytest.approx(3.2e10, rel=0.03)
    assert tpp == pytest.approx(92.6, rel=0.02)
    assert float(np.exp(link)) == pytest.approx(
        HOFFMANN["E"] + HOFFMANN["A"] / n_opt ** HOFFMANN["alpha"]
        + HOFFMANN["B"] / (n_opt * tpp) ** HOFFMANN["beta"], rel=1e-10)


def test_epoch_optimum_at_chinchilla_budget():
    law = get("chinchilla")
    p = law.natural(chinchilla_values(**EPOCH), np)
    log_n, log_d, _ = _allocation(law, p, CHINCHILLA_OPTIMAL_FLOPS)
    assert float(np.exp(log_d - log_n)) == pytest.approx(18.4, rel=0.05)


def test_chinchilla_optimum_exponents():
    """N* grows as C^(beta/(alpha+beta)) (Hoffmann Eq. 4)."""
    law = get("chinchilla")
    p = law.natural(chinchilla_values(**HOFFMANN), np)
    n1, _, _ = _allocation(law, p, 1e20)
    n2, _, _ = _allocation(law, p, 1e24)
    slope = (n2 - n1) / math.log(1e4)
    a, b = HOFFMANN["alpha"], HOFFMANN["beta"]
    assert slope == pytest.approx(b / (a + b), rel=1e-12)


def test_kaplan_numeric_optimum_is_a_minimum():
    law = get("kaplan")
    rng = np.random.default_rng(41)
    p = law.natural(prior_draws(law, rng, 50), np)
    log_n, log_d, link = _allocation(law, p, 1e22)
    assert log_n.shape == (50,)
    np.testing.assert_allclose(log_n + log_d, math.log(1e22 / 6), rtol=1e-14)
    for step in (-1e-2, 1e-2):
        nb = law.formula({"params": log_n + step, "tokens": log_d - step}, p, np)
        assert np.all(nb >= link - 1e-12)


def test_golden_section_finds_known_minimum():
    centre = np.array([-3.0, 0.5, 7.25])
    got = golden_section(lambda z: (z - centre) ** 2, np.full(3, -10.0), np.full(3, 10.0))
    np.testing.assert_allclose(got, centre, atol=1e-7)


def test_allocation_needs_params_and_tokens():
    law = get("power-law")
    with pytest.raises(SpecError, match="params and tokens"):
        _allocation(law, law.natural(prior_draws(law, np.random.default_rng(0), 3), np), 1e21)


# --------------------------------------------------------------------------- registry and specs
def test_available_laws():
    assert {"chinchilla", "kaplan", "power-law"} <= set(bayeslaws.laws.available())
    assert bayeslaws.laws.available() == sorted(bayeslaws.laws.available())


@pytest.mark.parametrize("spelling", ["chinchilla", "Chinchilla", " CHINCHILLA "])
def test_get_normalises_names(spelling):
    assert isinstance(get(spelling), bayeslaws.laws.Chinchilla)
    assert isinstance(get("power_law"), bayeslaws.laws.PowerLaw)


def test_unknown_law_suggests():
    with pytest.raises(SpecError, match="chinchilla") as err:
        get("Chinchila")
    assert "did you mean 'chinchilla'?" in str(err.value)
    with pytest.raises(SpecError, match="Known laws"):
        get("gompertz")


def test_unknown_option_is_spec_error():
    with pytest.raises(SpecError, match="chinchilla"):
        get("chinchilla", input="params")


@pytest.mark.parametrize(("name", "opts"), LAW_CONFIGS, ids=LAW_IDS)
def test_spec_round_trip_defaults(name, opts):
    law = get(name, **opts)
    spec = law.spec()
    assert json.loads(json.dumps(spec)) == spec
    again = from_spec(json.loads(json.dumps(spec)))
    assert again == law and again is not law
    assert again.inputs == law.inputs and again.parameters == law.parameters


def test_spec_round_trip_with_overrides():
    law = get("chinchilla", priors={"E": (0.4, 0.1), "alpha": {"loc": -1.0, "scale": 0.2,
                                                                "family_scale": 0.05}},
              pooling={"E": "shared", "beta": "independent"},
              noise={"likelihood": "normal", "sigma_scale": 0.02})
    assert law.parameters["E"].loc == 0.4 and law.parameters["E"].scale == 0.1
    assert law.parameters["alpha"].family_scale == 0.05
    assert law.parameters["B0"] == type(law).params[2]
    assert law.pooling == {"E": "shared", "A0": "partial", "B0": "partial", "alpha": "partial",
                           "beta": "independent"}
    spec = json.loads(json.dumps(law.spec()))
    assert set(spec["priors"]) == {"E", "alpha"}
    again = from_spec(spec)
    assert again == law
    assert again.parameters == law.parameters
    assert again.pooling == law.pooling
    assert again.noise == {"likelihood": "normal", "sigma_scale": 0.02}
    assert again != get("chinchilla")

    pl = get("power-law", input="tokens", pooling="shared", priors={"alpha": (-2.0, 0.3)})
    again = from_spec(json.loads(json.dumps(pl.spec())))
    assert again == pl and again.input == "tokens"
    assert set(again.pooling.values()) == {"shared"}
    assert again.parameters["alpha"].loc == -2.0


def test_with_options_returns_new_law():
    law = get("power-law", input="params")
    other = law.with_options(pooling={"alpha": "shared"}, input="tokens")
    assert other.input == "tokens" and other.pooling["alpha"] == "shared"
    assert law.input == "params" and law.pooling["alpha"] == "partial"


@pytest.mark.parametrize("pooling", ["full", "none", "Partial", {"E": "hierarchical"},
                                     {"gamma": "shared"}])
def test_invalid_pooling(pooling):
    with pytest.raises(SpecError, match="pooling"):
        get("chinchilla", pooling=pooling)


@pytest.mark.parametrize("priors", [{"gamma": (0.0, 1.0)}, {"E": {"mean": 0.0}}])
def test_invalid_priors(priors):
    with pytest.raises(SpecError):
        get("chinchilla", priors=priors)


def test_invalid_noise():
    with pytest.raises(SpecError, match="likelihood"):
        get("kaplan", noise={"likelihood": "cauchy"})
