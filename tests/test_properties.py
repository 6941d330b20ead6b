"""Property-based tests of the law formulas and of run-table validation (hypothesis).

Laws: every loss law decreases in each size input, tends to its irreducible term as the inputs
grow (Chinchilla ``E``, power law ``L_inf``, Kaplan 0), stays finite over 30 orders of magnitude
(it is evaluated in log space) and gives the same numbers in numpy and in pytensor (the formula
is written once; both namespaces must agree). Validation: a bad cell anywhere is reported with
exactly its column and row; rows are never reordered or dropped.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bayeslaws as bl
from bayeslaws.data import prepare

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None)

#: Natural-scale ranges of each parameter that cover published fits with room to spare.
RANGES = {
    "E": (0.1, 5.0), "L_inf": (0.1, 5.0), "A0": (1e-3, 10.0), "B0": (1e-3, 10.0),
    "R0": (1e-3, 10.0), "LN0": (0.5, 10.0), "LD0": (0.5, 10.0), "alpha": (0.05, 1.5),
    "beta": (0.05, 1.5), "alpha_N": (0.03, 1.0), "alpha_D": (0.03, 1.0),
}
LAWS = {
    "chinchilla": bl.laws.get("chinchilla"),
    "kaplan": bl.laws.get("kaplan"),
    "power-law-flops": bl.laws.get("power-law"),
    "power-law-params": bl.laws.get("power-law", input="params"),
    "power-law-tokens": bl.laws.get("power-law", input="tokens"),
}
#: The value each law tends to as every input grows without bound.
LIMIT = {"chinchilla": "E", "kaplan": None, "power-law-flops": "L_inf",
         "power-law-params": "L_inf", "power-law-tokens": "L_inf"}

sizes = st.floats(min_value=1e3, max_value=1e15)


def log_uniform(lo: float, hi: float):
    return st.floats(min_value=math.log(lo), max_value=math.log(hi)).map(math.exp)


@st.composite
def law_params(draw, law):
    return {p: draw(log_uniform(*RANGES[p])) for p in law.parameters}


def evaluate(law, values: dict, params: dict) -> np.ndarray:
    """The law's target at raw inputs ``values`` (a dict of equal-length arrays)."""
    return law.evaluate({k: np.asarray(v, dtype=float) for k, v in values.items()}, params)


@pytest.mark.parametrize("name", sorted(LAWS))
@SETTINGS
@given(data=st.data(), factor=st.floats(min_value=1.01, max_value=1e6))
def test_loss_decreases_in_every_input(name, data, factor):
    law = LAWS[name]
    params = data.draw(law_params(law))
    point = {k: data.draw(sizes) for k in law.inputs}
    base = evaluate(law, point, params)
    for k in law.inputs:
        bigger = evaluate(law, point | {k: point[k] * factor}, params)
        assert bigger <= base, (k, point, params)
        # strictly lower unless the input's term is already below float resolution
        if base - bigger == 0:
            assert np.isclose(bigger, evaluate(law, point | {k: 1e300}, params), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(LAWS))
@SETTINGS
@given(data=st.data())
def test_loss_tends_to_its_irreducible_term(name, data):
    law = LAWS[name]
    params = data.draw(law_params(law))
    huge = evaluate(law, {k: 1e300 for k in law.inputs}, params)
    floor = params[LIMIT[name]] if LIMIT[name] else 0.0
    assert huge >= floor * (1 - 1e-15)  # exp(log(E)) may round by one unit in the last place
    assert huge == pytest.approx(floor, rel=1e-6, abs=1e-6)
    # and never below it anywhere
    point = {k: data.draw(sizes) for k in law.inputs}
    assert evaluate(law, point, params) > floor


@SETTINGS
@given(data=st.data())
def test_chinchilla_with_infinite_params_is_the_data_limited_loss(data):
    law = LAWS["chinchilla"]
    p = data.draw(law_params(law))
    d = data.draw(sizes)
    expected = p["E"] + p["B0"] * (d / 2e10) ** -p["beta"]
    got = evaluate(law, {"params": 1e300, "tokens": d}, p)
    assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("name", sorted(LAWS))
@SETTINGS
@given(data=st.data())
def test_law_is_finite_over_thirty_orders_of_magnitude(name, data):
    law = LAWS[name]
    params = data.draw(law_params(law))
    point = {k: data.draw(st.floats(min_value=1.0, max_value=1e30)) for k in law.inputs}
    value = evaluate(law, point, params)
    assert np.isfinite(value) and value > 0


@functools.cache
def compiled(name):
    """The law's formula compiled by pytensor, taking log inputs and parameters as vectors."""
    import pytensor
    import pytensor.tensor as pt

    law = LAWS[name]
    x = {k: pt.dvector(k) for k in law.inputs}
    sampled = {p.sampled: pt.dvector(p.sampled) for p in law.parameters.values()}
    out = law.formula(x, law.natural(sampled, pt), pt)
    return pytensor.function([*x.values(), *sampled.values()], out, mode="FAST_COMPILE")


@pytest.mark.parametrize("name", sorted(LAWS))
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(data=st.data(), n=st.integers(min_value=1, max_value=6))
def test_numpy_and_pytensor_agree(name, data, n):
    law = LAWS[name]
    x = {k: np.log(np.array(data.draw(st.lists(sizes, min_size=n, max_size=n))))
         for k in law.inputs}
    sampled = {}
    for prm in law.parameters.values():
        values = np.array(data.draw(st.lists(log_uniform(*RANGES[prm.name]), min_size=n,
                                             max_size=n)))
        sampled[prm.sampled] = np.log(values) if prm.log else values
    via_numpy = law.formula(x, law.natural(sampled, np), np)
    via_pytensor = compiled(name)(*x.values(), *sampled.values())
    np.testing.assert_allclose(via_pytensor, via_numpy, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- validation
CHINCHILLA = LAWS["chinchilla"]


@st.composite
def run_tables(draw, min_rows=1):
    n = draw(st.integers(min_value=min_rows, max_value=10))
    col = st.lists(st.floats(min_value=1e6, max_value=1e13), min_size=n, max_size=n)
    return pd.DataFrame({"params": draw(col), "tokens": draw(col),
                         "loss": draw(st.lists(st.floats(min_value=1.5, max_value=5.0),
                                               min_size=n, max_size=n)),
                         "family": draw(st.lists(st.sampled_from(["a", "b"]), min_size=n,
                                                 max_size=n))})


def quiet_prepare(frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return prepare(CHINCHILLA, frame)


@SETTINGS
@given(frame=run_tables(), data=st.data())
def test_one_bad_cell_is_reported_with_its_column_and_row(frame, data):
    column = data.draw(st.sampled_from(["params", "tokens", "loss"]))
    row = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    bad = data.draw(st.sampled_from(["1.3B", "n/a", "?", "7e9 ", float("nan"), float("inf"),
                                     -float("inf"), None, "1e9,5"]))
    frame = frame.astype({column: object})
    frame.loc[row, column] = bad
    if bad == "7e9 ":  # padded numbers are numbers
        quiet_prepare(frame)
        return
    with pytest.raises(bl.DataError) as err:
        quiet_prepare(frame)
    assert err.value.column == column
    assert err.value.rows == [row]
    assert repr(column) in str(err.value) and f"row {row + 1} " in str(err.value)


@SETTINGS
@given(frame=run_tables(min_rows=2), seed=st.integers(0, 2**32 - 1))
def test_rows_keep_their_order_and_count(frame, seed):
    shuffled = frame.sample(frac=1.0, random_state=seed % 2**31)
    table = quiet_prepare(shuffled)
    np.testing.assert_array_equal(table.x["params"], np.log(shuffled["params"].to_numpy()))
    np.testing.assert_array_equal(table.y, np.log(shuffled["loss"].to_numpy()))
    assert table.family.tolist() == shuffled["family"].tolist()


@SETTINGS
@given(frame=run_tables(), data=st.data())
def test_duplicate_warning_fires_exactly_for_exact_duplicates(frame, data):
    if data.draw(st.booleans()):
        frame = pd.concat([frame, frame.iloc[[data.draw(st.integers(0, len(frame) - 1))]]],
                          ignore_index=True)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        prepare(CHINCHILLA, frame)
    warned = any("exact duplicates" in str(w.message) for w in record)
    assert warned == bool(frame.duplicated().any())
