"""Validation of run tables: ``bayeslaws.data.prepare`` and ``bayeslaws.data.read_table``.

Every bad input must raise :class:`bayeslaws.DataError` naming the column, the rows and the fix;
nothing may be dropped silently. Fast tests only (no sampling).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bayeslaws
from bayeslaws import DataError
from bayeslaws.data import RunTable, prepare, read_table
from bayeslaws.mapping import to_canonical

CHINCHILLA = bayeslaws.laws.get("chinchilla")
POWER_LAW = bayeslaws.laws.get("power-law")


def runs(n: int = 6, **columns) -> pd.DataFrame:
    """A small valid run table in raw units (no unit warnings), with column overrides."""
    params = np.geomspace(7e7, 1.6e10, n)
    frame = pd.DataFrame({
        "params": params,
        "tokens": 20.0 * params,
        "loss": np.linspace(3.4, 2.1, n),
        "family": ["a", "b"] * (n // 2) + ["a"] * (n % 2),
    })
    for key, value in columns.items():
        frame[key] = value
    return frame


def prepare_quietly(law, frame, **kwargs) -> RunTable:
    """``prepare`` with every warning turned into an error (valid tables must be silent)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return prepare(law, frame, **kwargs)


def rows_named(message: str) -> list[int]:
    """The 0-based row positions that an error message lists after 'row' / 'rows' (messages
    count rows from 1, the first row under the header, and say so)."""
    match = re.search(r"\brows? ((?:\d+(?:, )?)+)", message)
    assert match, f"message does not name rows: {message}"
    assert "counted from 1 under the header" in message
    return [int(r) - 1 for r in match.group(1).split(", ") if r]


# --------------------------------------------------------------------------- valid input
def test_valid_table_gives_logs_and_families():
    frame = runs()
    table = prepare_quietly(CHINCHILLA, frame)
    assert isinstance(table, RunTable)
    np.testing.assert_array_equal(table.x["params"], np.log(frame["params"].to_numpy()))
    np.testing.assert_array_equal(table.x["tokens"], np.log(frame["tokens"].to_numpy()))
    np.testing.assert_array_equal(table.y, np.log(frame["loss"].to_numpy()))
    assert table.families == ["a", "b"]
    assert table.has_family


def test_no_family_column_means_one_family():
    table = prepare_quietly(CHINCHILLA, runs().drop(columns="family"))
    assert not table.has_family
    assert table.families == ["all"]


def test_input_frame_is_not_modified():
    frame = runs()
    before = frame.copy()
    prepare_quietly(POWER_LAW, frame)
    pd.testing.assert_frame_equal(frame, before)
    assert "flops" not in frame


# --------------------------------------------------------------------------- missing columns
@pytest.mark.parametrize("given_name", ["N", "Params", "param", "n_params", "num_params"])
def test_missing_column_suggests_closest_name(given_name):
    frame = runs().rename(columns={"params": given_name})
    with pytest.raises(DataError) as err:
        prepare(CHINCHILLA, frame)
    msg = str(err.value)
    assert err.value.column == "params"
    assert "'params'" in msg and "missing" in msg
    assert f"Did you mean {given_name!r}?" in msg
    assert err.value.rows == []


def test_missing_column_without_close_name_lists_needs():
    frame = runs().rename(columns={"params": "zzz"})
    with pytest.raises(DataError, match="'params' is missing") as err:
        prepare(CHINCHILLA, frame)
    assert err.value.column == "params"
    assert "params, tokens" in str(err.value)
    assert "Did you mean" not in str(err.value)


def test_missing_target_suggests_alias():
    frame = runs().rename(columns={"loss": "val_loss"})
    with pytest.raises(DataError) as err:
        prepare(CHINCHILLA, frame)
    assert err.value.column == "loss"
    assert "'loss'" in str(err.value) and "Did you mean 'val_loss'?" in str(err.value)


def test_missing_target_is_fine_for_prediction_grids():
    table = prepare_quietly(CHINCHILLA, runs().drop(columns="loss"), require_target=False)
    assert table.y is None


def test_missing_flops_without_params_and_tokens():
    frame = runs().drop(columns="tokens").rename(columns={"params": "x"})
    with pytest.raises(DataError, match="'flops' is missing") as err:
        prepare(POWER_LAW, frame)
    assert err.value.column == "flops"


# --------------------------------------------------------------------------- bad values
def test_strings_in_numeric_column():
    frame = runs()
    frame["params"] = frame["params"].astype(object)
    frame.loc[1, "params"] = "1.3B"
    frame.loc[4, "params"] = "n/a"
    with pytest.raises(DataError) as err:
        prepare(CHINCHILLA, frame)
    msg = str(err.value)
    assert err.value.column == "params"
    assert err.value.rows == [1, 4]
    assert "'params'" in msg and "non-numeric" in msg
    assert rows_named(msg) == [1, 4]
    assert "'1.3B'" in msg  # shows an example of the bad value


def test_numeric_strings_are_accepted():
    frame = runs()
    frame["tokens"] = [repr(float(v)) for v in frame["tokens"]]
    table = prepare_quietly(CHINCHILLA, frame)
    np.testing.assert_allclose(table.x["tokens"], np.log(runs()["tokens"].to_numpy()), rtol=1e-12)


@pytest.mark.parametrize("column", ["params", "tokens", "loss"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf(column, bad):
    frame = runs()
    frame.loc[2, column] = bad
    frame.loc[5, column] = bad
    with pytest.raises(DataError) as err:
        prepare(CHINCHILLA, frame)
    msg = str(err.value)
    assert err.value.column == column
    assert err.value.rows == [2, 5]
    assert f"{column!r}" in msg and "missing or infinite" in msg
    assert rows_named(msg) == [2, 5]


def test_all_missing_column():
    frame = runs(loss=np.nan)
    with pytest.raises(DataError, match="'loss' is empty") as err:
        prepare(CHINCHILLA, frame)
    assert err.value.column == "loss"
    assert err.value.rows == list(range(len(frame)))


@pytest.mark.parametrize("column", ["params", "tokens"])
@pytest.mark.parametrize("bad", [0.0, -1.0, -3e9])
def test_zero_and_negative_sizes(column, bad):
    frame = runs()
    frame.loc[3, column] = bad
    with pytest.raises(DataError) as err:
        prepare(CHINCHILLA, frame)
    msg = str(err.value)
    assert err.value.column == column
    assert err.value.rows == [3]
    assert f"{column!r} must be > 0" in msg
    assert f"{bad:g}" in msg
    assert rows_named(msg) == [3]


def test_non_positive_flops_for_power_law():
    frame = runs()
    frame["flops"] = 6.0 * frame["params"] * frame["tokens"]
    frame.loc[0, "flops"] = 0.0
    with pytest.raises(DataError) as err:
        prepare(POWER_LAW, frame)
    assert err.value.column == "flops"
    assert err.value.rows == [0]
    assert rows_named(str(err.value)) == [0]


@pytest.mark.parametrize("bad", [0.0, -0.5])
def test_target_outside_domain(bad):
    frame = runs()
    frame.loc[1, "loss"] = bad
    frame.loc[4, "loss"] = bad
    with pytest.raises(DataError) as err:
        prepare(CHINCHILLA, frame)
    msg = str(err.value)
    assert err.value.column == "loss"
    assert err.value.rows == [1, 4]
    assert "'loss' must be > 0" in msg and "log scale" in msg
    assert rows_named(msg) == [1, 4]


def test_rows_are_positions_not_index_labels():
    frame = runs()
    frame.index = [10, 20, 30, 40, 50, 60]
    frame.loc[40, "tokens"] = -5.0
    with pytest.raises(DataError) as err:
        prepare(CHINCHILLA, frame)
    assert err.value.rows == [3]


def test_many_bad_rows_are_summarised():
    frame = runs(20)
    frame.loc[:, "loss"] = -1.0
    with pytest.raises(DataError) as err:
        prepare(CHINCHILLA, frame)
    assert err.value.rows == list(range(20))
    assert "(and 12 more; counted from 1 under the header)" in str(err.value)


# --------------------------------------------------------------------------- table-level errors
def test_empty_table():
    frame = runs().iloc[:0]
    with pytest.raises(DataError, match="empty") as err:
        prepare(CHINCHILLA, frame)
    assert err.value.rows == []


@pytest.mark.parametrize("data", [{"params": [1e9], "tokens": [2e10], "loss": [2.0]},
                                  [[1e9, 2e10, 2.0]], np.ones((3, 3)), "runs.csv", None])
def test_non_dataframe_input(data):
    with pytest.raises(DataError, match="expected a pandas DataFrame") as err:
        prepare(CHINCHILLA, data)
    assert type(data).__name__ in str(err.value)


def test_missing_family_values():
    frame = runs()
    frame["family"] = frame["family"].astype(object)
    frame.loc[0, "family"] = None
    frame.loc[3, "family"] = np.nan
    with pytest.raises(DataError) as err:
        prepare(CHINCHILLA, frame)
    msg = str(err.value)
    assert err.value.column == "family"
    assert err.value.rows == [0, 3]
    assert "'family' has missing values" in msg
    assert rows_named(msg) == [0, 3]


def test_custom_family_column():
    frame = runs().rename(columns={"family": "suite"})
    table = prepare_quietly(CHINCHILLA, frame, family_column="suite")
    assert table.families == ["a", "b"]
    frame.loc[2, "suite"] = None
    with pytest.raises(DataError) as err:
        prepare(CHINCHILLA, frame, family_column="suite")
    assert err.value.column == "suite" and err.value.rows == [2]


# --------------------------------------------------------------------------- duplicates
def test_exact_duplicate_rows_warn_with_rows():
    frame = runs()
    frame = pd.concat([frame, frame.iloc[[1]], frame.iloc[[4]]], ignore_index=True)
    with pytest.warns(UserWarning, match="exact duplicates") as record:
        table = prepare(CHINCHILLA, frame)
    msgs = [str(w.message) for w in record if "duplicate" in str(w.message)]
    assert len(msgs) == 1
    assert rows_named(msgs[0]) == [1, 4, 6, 7]
    assert len(table.frame) == 8  # nothing dropped


def test_seed_replicates_do_not_warn():
    frame = runs()
    replicate = frame.iloc[[1, 4]].copy()
    replicate["loss"] = replicate["loss"] + 0.01  # same model, another seed
    frame = pd.concat([frame, replicate], ignore_index=True)
    table = prepare_quietly(CHINCHILLA, frame)
    assert len(table.frame) == 8


def test_duplicates_do_not_warn_for_prediction_grids():
    frame = runs().drop(columns="loss")
    frame = pd.concat([frame, frame], ignore_index=True)
    prepare_quietly(CHINCHILLA, frame, require_target=False)


# --------------------------------------------------------------------------- flops
def test_flops_computed_as_6nd_when_law_needs_flops():
    frame = runs()
    table = prepare_quietly(POWER_LAW, frame)
    expected = 6.0 * frame["params"].to_numpy() * frame["tokens"].to_numpy()
    np.testing.assert_allclose(table.frame["flops"].to_numpy(), expected, rtol=1e-15)
    np.testing.assert_allclose(table.x["flops"], np.log(expected), rtol=1e-15)
    assert list(table.x) == ["flops"]
    assert any("6 * params * tokens" in note for note in table.notes)


def test_given_flops_are_used_as_given():
    frame = runs()
    frame["flops"] = 8.0 * frame["params"] * frame["tokens"]
    table = prepare_quietly(POWER_LAW, frame)
    np.testing.assert_array_equal(table.frame["flops"], frame["flops"])
    assert table.notes == []


def test_flops_not_added_when_law_does_not_need_it():
    table = prepare_quietly(CHINCHILLA, runs())
    assert "flops" not in table.frame


def test_bad_params_when_computing_flops():
    frame = runs()
    frame.loc[2, "tokens"] = -1.0
    with pytest.raises(DataError) as err:
        prepare(POWER_LAW, frame)
    assert err.value.column == "tokens" and err.value.rows == [2]


# --------------------------------------------------------------------------- read_table
def test_unknown_dataset_name_suggests():
    with pytest.raises(DataError) as err:
        read_table("chinchila_epoch")
    msg = str(err.value)
    assert "did you mean 'chinchilla_epoch'?" in msg
    for name in bayeslaws.datasets.names():
        assert name in msg


def test_unknown_dataset_load_suggests():
    with pytest.raises(DataError, match="did you mean 'gadre_overtraining'"):
        bayeslaws.datasets.load("gadre_overtrainin")


def test_read_table_bundled_name_and_frame():
    frame = read_table("chinchilla_epoch")
    assert len(frame) == 245
    assert read_table(frame) is frame


def test_read_table_csv_path(tmp_path):
    path = tmp_path / "runs.csv"
    runs().to_csv(path, index=False)
    pd.testing.assert_frame_equal(read_table(path), runs())


@pytest.mark.parametrize("content", [
    b'params,tokens,loss\n1e9,2e10,2.1\n2e9,4e10,2.0,7,8\n',  # ragged rows
    b"",  # empty file
    b"\xff\xfe\x00\x81\x9f\x00params\x00\n\x92\x93\n",  # not text
])
def test_unparseable_csv(tmp_path, content):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match="not a readable CSV") as err:
        read_table(str(path))
    assert str(path) in str(err.value)


# --------------------------------------------------------------------------- unit heuristics
# (bayeslaws.mapping: they stop a fit with the flag that fixes it; prepare itself does not check)
@pytest.mark.parametrize("law", ["chinchilla", "kaplan"])
def test_params_in_millions_stop(law):
    frame = runs(3, params=[125.0, 350.0, 1300.0])
    with pytest.raises(DataError, match=r"millions or billions.*--scale params=1e6"):
        to_canonical(bayeslaws.laws.get(law), frame)


def test_tokens_in_billions_stop():
    frame = runs(3, tokens=[2.5, 7.0, 26.0])
    with pytest.raises(DataError, match=r"'tokens'.*millions or billions.*--scale tokens=1e9"):
        to_canonical(CHINCHILLA, frame)


def test_mixed_param_units_stop_with_rows():
    frame = runs(4, params=[1.25e8, 3.5e8, 1.3, 6.7])
    with pytest.raises(DataError, match="mixes") as err:
        to_canonical(CHINCHILLA, frame)
    assert rows_named(str(err.value)) == [2, 3]


def test_raw_counts_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        to_canonical(CHINCHILLA, runs(3, params=[1.25e8, 3.5e8, 1.3e9]))
    prepare_quietly(CHINCHILLA, runs(3, params=[1.25e8, 3.5e8, 1.3e9]))


@pytest.mark.parametrize("name", bayeslaws.datasets.names())
@pytest.mark.parametrize("law", [("chinchilla", {}), ("kaplan", {}), ("power-law", {}),
                                 ("power-law", {"input": "params"}),
                                 ("power-law", {"input": "tokens"})],
                         ids=lambda v: v[0] + "".join(f"-{x}" for x in v[1].values()))
@pytest.mark.parametrize("fit_rows", [False, True])
def test_bundled_datasets_do_not_warn(name, law, fit_rows):
    frame = bayeslaws.datasets.load(name, fit_rows=fit_rows)
    spec = bayeslaws.laws.get(law[0], **law[1])
    needed = [spec.target, *(c for c in spec.inputs if c != "flops")]
    if "flops" in spec.inputs and "flops" not in frame:
        needed += ["params", "tokens"]  # flops = 6 N D needs both
    if not set(needed) <= set(frame.columns):
        pytest.skip(f"{name} is not a table for {law[0]} (no {sorted(set(needed) - set(frame.columns))})")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = prepare(spec, to_canonical(spec, frame))
    assert len(table.frame) == len(frame)
    assert np.all(np.isfinite(table.y))


# --------------------------------------------------------------------------- properties
positive = st.floats(min_value=1e-6, max_value=1e15, allow_nan=False, allow_infinity=False)


@st.composite
def positive_frames(draw):
    n = draw(st.integers(min_value=1, max_value=12))
    cols = {c: draw(st.lists(positive, min_size=n, max_size=n)) for c in ("params", "tokens", "loss")}
    return pd.DataFrame(cols)


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(frame=positive_frames())
def test_any_positive_finite_frame_validates(frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unit heuristics, duplicates
        table = prepare(CHINCHILLA, frame)
    np.testing.assert_array_equal(table.x["params"], np.log(frame["params"].to_numpy()))
    np.testing.assert_array_equal(table.x["tokens"], np.log(frame["tokens"].to_numpy()))
    np.testing.assert_array_equal(table.y, np.log(frame["loss"].to_numpy()))
    assert len(table.family) == len(frame)


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(frame=positive_frames(), data=st.data())
def test_one_non_positive_size_is_reported_exactly(frame, data):
    column = data.draw(st.sampled_from(["params", "tokens"]))
    row = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    bad = data.draw(st.one_of(st.just(0.0), st.just(-0.0),
                              st.floats(max_value=-1e-300, min_value=-1e15)))
    frame = frame.copy()
    frame.loc[row, column] = bad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(DataError) as err:
            prepare(CHINCHILLA, frame)
    assert err.value.column == column
    assert err.value.rows == [row]
    assert rows_named(str(err.value)) == [row]


@pytest.mark.parametrize("columns", [["params", "params", "tokens", "loss"],
                                     ["params", "tokens", "loss", "loss"]])
def test_duplicate_column_names_raise_data_error(columns):
    frame = pd.DataFrame([[1e9, 1.1e9, 2e10, 2.0], [2e9, 2.1e9, 4e10, 1.9]], columns=columns)
    dup = columns[1] if columns[0] == columns[1] else columns[-1]
    with pytest.raises(DataError) as err:
        prepare(CHINCHILLA, frame)
    assert err.value.column == dup
    assert repr(dup) in str(err.value)
