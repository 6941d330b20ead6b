"""Fuzzing the two doors users walk through: the CSV loader and the command line.

Random bytes or malformed CSV must give :class:`bayeslaws.DataError` (or a valid table), never
another exception; random argument lists must exit 0 or 2, never 1 (an internal error) nor a
traceback. Heavy work is stubbed: ``fit`` returns the committed tiny fit instead of sampling,
``compare`` returns a stub table (it may refit) and ``demo`` does nothing, so every other path (parsing, loading, validation, prediction,
saving) runs for real.
"""

from __future__ import annotations

import importlib
import os
import string
import tempfile
import warnings

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayeslaws as bl
from bayeslaws.data import prepare, read_table

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "tiny_fit_v1.nc")
SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
LAWS = [bl.laws.get("chinchilla"), bl.laws.get("power-law")]


def load_and_validate(payload: bytes) -> None:
    """Write ``payload`` to a CSV file, read it and validate it for every law."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "runs.csv")
        with open(path, "wb") as fh:
            fh.write(payload)
        try:
            frame = read_table(path)
        except bl.DataError as exc:
            assert path in str(exc)
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # unit heuristics, duplicates
            for law in LAWS:
                try:
                    table = prepare(law, frame)
                except bl.DataError as exc:
                    assert str(exc) and "\n" not in str(exc)
                else:
                    assert len(table.y) == len(frame)


@SETTINGS
@given(payload=st.binary(max_size=400))
def test_random_bytes_give_data_error_or_a_table(payload):
    load_and_validate(payload)


CELLS = st.sampled_from(["1e9", "2e10", "3.1", "0", "-5", "nan", "NaN", "inf", "-inf", "", "abc",
                         "1,5", '"7e9"', '"x', "1e400", "0x10", "  2.5 ", "True", "\t", "é",
                         "1e-400"])
HEADERS = st.sampled_from(["params", "tokens", "loss", "flops", "family", "N", "D", "Params",
                           "", "params", "a b", '"loss"', "unnamed"])


@st.composite
def malformed_csv(draw):
    header = draw(st.lists(HEADERS, min_size=0, max_size=6))
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=7), max_size=6))
    sep = draw(st.sampled_from([",", ";", "\t", ", "]))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(sep.join(r) for r in [header, *rows])
    return text.encode(draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), errors="replace")


@SETTINGS
@given(payload=malformed_csv())
def test_malformed_csv_gives_data_error_or_a_table(payload):
    load_and_validate(payload)


# --------------------------------------------------------------------------- command line
TOKENS = st.sampled_from([
    "fit", "predict", "optimal", "compare", "plot", "demo", "laws", "datasets", "report",
    "chinchilla", "kaplan", "power-law", "chinchila", "chinchilla_epoch", "gadre_overtraining",
    FIXTURE, "missing.nc", "runs.csv", "bad.csv", "out.nc", "out.csv", "fig.png", "nodir/x.nc",
    "--data", "--out", "--draws", "--tune", "--chains", "--seed", "--sampler", "--prob",
    "--flops", "--family", "--input", "--pooling", "--all-rows", "--quiet", "--target-accept",
    "--params", "--tokens", "--embed-dim",
    "--debug", "-x", "--", "numpyro", "blackjax", "partial", "independent", "flops", "params",
    "0", "1", "-1", "2", "0.9", "1.5", "nan", "inf", "-inf", "1e24", "1e-30", "4294967296",
    "a", "b", "population", "", " ", "é",
])


OPTIONS = {
    "fit": ["--data", "--out", "--draws", "--tune", "--chains", "--seed", "--sampler", "--input",
            "--pooling", "--target-accept", "--all-rows", "--quiet"],
    "predict": ["--data", "--out", "--prob", "--seed"],
    "optimal": ["--flops", "--family", "--prob", "--out", "--params", "--tokens", "--embed-dim"],
    "compare": [], "plot": ["--out"], "demo": ["--out", "--draws", "--seed"],
    "laws": [], "datasets": [],
}
VALID = [
    ["fit", "chinchilla", "--data", "runs.csv", "--out", "out.nc"],
    ["fit", "power-law", "--data", "chinchilla_epoch", "--out", "out.nc", "--input", "params"],
    ["fit", FIXTURE, "--out", "out.nc"],
    ["predict", FIXTURE, "--data", "runs.csv", "--out", "out.csv"],
    ["optimal", FIXTURE, "--flops", "1e24"],
    ["plot", FIXTURE, "--out", "fig.png"],
    ["compare", FIXTURE, FIXTURE],
    ["demo", "--out", "demo"],
    ["laws"],
]


@st.composite
def command_lines(draw):
    """A valid command line, with some tokens replaced and some options added."""
    argv = list(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(0, 2))):
        argv[draw(st.integers(0, len(argv) - 1))] = draw(TOKENS)
    for _ in range(draw(st.integers(0, 3))):
        argv += [draw(st.sampled_from(OPTIONS.get(argv[0], ["--out"]) or ["--out"])), draw(TOKENS)]
    return argv


@pytest.fixture
def stubbed(monkeypatch, tmp_path):
    """Stub sampling, comparison and the demo; give the fuzz a folder with a good and a bad CSV."""
    import bayeslaws.demo
    import bayeslaws.fit

    fit = bl.load(FIXTURE)
    monkeypatch.setattr(bayeslaws.inference, "fit_law", lambda *a, **k: fit)
    monkeypatch.setattr(bayeslaws.demo, "run", lambda *a, **k: None)
    # comparison may refit (sample) for rows with high Pareto k: a stub table instead
    table = pd.DataFrame({"rank": [0, 1], "elpd": [0.0, -1.0], "se": [1.0, 1.0],
                          "elpd_diff": [0.0, 1.0], "dse": [0.0, 1.0], "p_worse": [0.0, 0.5],
                          "p_loo": [5.0, 5.0], "weight": [1.0, 0.0], "cv": ["psis-loo"] * 2,
                          "k_max": [0.1, 0.1], "n_high_k": [0, 0], "diag_diff": ["", ""],
                          "diag_elpd": ["", ""]}, index=["stub", "stub2"])
    table.attrs.update(notes=[], verdict="stub")
    module = importlib.import_module("bayeslaws.compare")  # bl.compare is the function
    monkeypatch.setattr(module, "compare", lambda *a, **k: table)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs.csv").write_text("params,tokens,family\n1e9,2e10,a\n3e9,6e10,new\n")
    (tmp_path / "bad.csv").write_text("params,tokens\nabc,2e10\n")
    return tmp_path


@SETTINGS
@given(argv=st.one_of(command_lines(),
                      st.lists(st.one_of(TOKENS, st.text(string.printable, max_size=6)),
                               max_size=8)))
def test_random_argv_exits_0_or_2_without_traceback(stubbed, argv, capsys):
    from bayeslaws.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = main(argv)
        except SystemExit as exc:  # --help prints and exits 0
            code = exc.code
    err = capsys.readouterr().err
    assert code in (0, 2), (argv, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1, err
