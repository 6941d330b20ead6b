"""Users' own tables: readers of real file formats, column mapping, units, messages that name the
fix, and a round trip with mapped names through fit, save, load and predict (Python and CLI).

Everything but the round trip runs without sampling; the round trip fits a small simulated
two-family table twice (CLI and Python) with short chains.
"""

from __future__ import annotations

import math
import os
import re
import sys
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import simulate_chinchilla

import bayeslaws as bl
import bayeslaws.spec
from bayeslaws import DataError, SpecError
from bayeslaws.cli import main
from bayeslaws.data import read_table
from bayeslaws.mapping import source, to_canonical

CHINCHILLA = bl.laws.get("chinchilla")
MAP = "params=model_size,tokens=n_tokens,loss=eval/loss"


def export(seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A tracking tool's wide export of simulated runs: sizes in raw params and billions of
    tokens, losses in bits under ``eval/loss`` beside other metrics; and the truth in nats."""
    truth, _ = simulate_chinchilla(seed=seed, n_families=2)
    wide = pd.DataFrame({
        "Name": [f"run-{i}" for i in range(len(truth))],
        "arch": truth["family"],
        "model_size": truth["params"],
        "n_tokens": truth["tokens"] / 1e9,
        "_step": np.arange(len(truth)) * 100,
        "train/loss": truth["loss"] / math.log(2) + 0.05,
        "eval/loss": truth["loss"] / math.log(2),
    })
    return wide, truth


def cli(argv, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)  # short chains, by design
        code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, [line for line in captured.err.splitlines() if line]


# --------------------------------------------------------------------------- readers
@pytest.mark.parametrize("name, write", [
    ("semi.csv", lambda f, p: f.to_csv(p, sep=";", index=False, decimal=",")),
    ("tab.tsv", lambda f, p: f.to_csv(p, sep="\t", index=False)),
    ("tab.txt", lambda f, p: f.to_csv(p, sep="\t", index=False)),
    ("pipe.csv", lambda f, p: f.to_csv(p, sep="|", index=False)),
    ("u16.csv", lambda f, p: f.to_csv(p, index=False, encoding="utf-16")),
    ("bom.csv", lambda f, p: f.to_csv(p, index=False, encoding="utf-8-sig")),
    ("latin1.csv", lambda f, p: f.rename(columns={"Name": "Modèle"}).to_csv(
        p, sep=";", index=False, encoding="latin-1")),
    ("runs.jsonl", lambda f, p: f.to_json(p, orient="records", lines=True, double_precision=15)),
    ("runs.ndjson", lambda f, p: f.to_json(p, orient="records", lines=True, double_precision=15)),
    ("runs.csv.gz", lambda f, p: f.to_csv(p, index=False, compression="gzip")),
])
def test_readers_give_the_same_numbers(name, write):
    wide, _ = export()
    write(wide, name)
    frame = read_table(name)
    assert frame.shape == wide.shape
    np.testing.assert_allclose(frame["eval/loss"], wide["eval/loss"], rtol=1e-12)
    np.testing.assert_allclose(frame["n_tokens"], wide["n_tokens"], rtol=1e-12)
    assert list(frame["arch"]) == list(wide["arch"])


def test_parquet_reads_with_pyarrow():
    pytest.importorskip("pyarrow")
    wide, _ = export()
    wide.to_parquet("runs.parquet")
    os.replace("runs.parquet", "runs.data")  # the content decides, not the extension
    pd.testing.assert_frame_equal(read_table("runs.data"), wide, check_dtype=False)


def test_excel_reads_with_openpyxl_and_names_sheets():
    pytest.importorskip("openpyxl")
    wide, _ = export()
    with pd.ExcelWriter("runs.xlsx") as xl:
        pd.DataFrame().to_excel(xl, sheet_name="notes")
        wide.to_excel(xl, sheet_name="runs", index=False)
    with pytest.raises(DataError, match=r"sheet 'notes' .*openpyxl.*other sheets: runs.*#SHEET"):
        read_table("runs.xlsx")
    frame = read_table("runs.xlsx#runs")
    np.testing.assert_allclose(frame["eval/loss"], wide["eval/loss"], rtol=1e-12)


def _fake_xlsx(path):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")


def test_missing_optional_readers_name_the_extra(monkeypatch):
    _fake_xlsx("runs.xlsx")
    with open("runs.parquet", "wb") as fh:
        fh.write(b"PAR1" + b"\0" * 16 + b"PAR1")
    for mod in ("openpyxl", "pyarrow", "fastparquet"):
        monkeypatch.setitem(sys.modules, mod, None)  # import raises ImportError
    with pytest.raises(DataError, match=r"Excel workbook.*pip install 'bayeslaws\[excel\]'"):
        read_table("runs.xlsx")
    with pytest.raises(DataError, match=r"Parquet file.*pip install 'bayeslaws\[parquet\]'"):
        read_table("runs.parquet")


# --------------------------------------------------------------------------- units, mapping
def test_units_convert_exactly():
    wide, truth = export()
    src = source(MAP, family="arch", scale="tokens=1e9", loss_unit="bits")
    frame = to_canonical(CHINCHILLA, wide, src)
    np.testing.assert_allclose(frame["loss"], truth["loss"], rtol=1e-12)
    np.testing.assert_allclose(frame["tokens"], truth["tokens"], rtol=1e-12)
    assert "loss" not in wide and "train/loss" in frame  # other metrics carried, input untouched
    ppl = wide.assign(ppl=np.exp(truth["loss"]))
    frame = to_canonical(CHINCHILLA, ppl, source("params=model_size,tokens=n_tokens,loss=ppl",
                                                  scale={"tokens": 1e9}, loss_unit="perplexity"))
    np.testing.assert_allclose(frame["loss"], truth["loss"], rtol=1e-12)


def test_family_column_alias_and_conflict():
    assert source(family_column="arch").family == "arch"
    assert source({"family": "arch"}).family == "arch"
    with pytest.raises(SpecError, match="give it once"):
        source({"family": "arch"}, family="suite")


@pytest.mark.parametrize("name", bl.datasets.names())
@pytest.mark.parametrize("fit_rows", [False, True])
def test_unit_checks_never_fire_on_bundled_data(name, fit_rows):
    frame = bl.datasets.load(name, fit_rows=fit_rows)
    checked = 0
    for law_name in bl.laws.available():
        law = bl.laws.get(law_name)
        used = set(law.required_columns()) | {law.target}
        if "flops" in used and "flops" not in frame:
            used |= {"params", "tokens"}
        used.discard("flops")
        if not used <= set(frame.columns):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = to_canonical(law, frame)
        checked += 1
        for col in ("params", "tokens", "loss"):
            if col in frame:
                np.testing.assert_array_equal(out[col].to_numpy(), frame[col].to_numpy())
    if {"params", "tokens"} <= set(frame.columns) and "loss" in frame:
        assert checked >= 3, f"only {checked} laws checked on {name}"


def test_python_fit_stops_before_sampling_on_units_and_accepts_a_declared_unit():
    wide, _ = export()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(DataError, match=r"--scale tokens=1e9 \(Python: scale=\{'tokens': 1e9\}\)"):
            CHINCHILLA.fit(wide, columns=MAP, family="arch", loss_unit="bits")
    assert not [w for w in record if "millions" in str(w.message)]  # an error, not a warning
    # declared: the same values are accepted (raw counts that look small)
    frame = to_canonical(CHINCHILLA, wide, source(MAP, family="arch", scale={"tokens": 1},
                                                 loss_unit="bits"))
    np.testing.assert_array_equal(frame["tokens"], wide["n_tokens"])


def test_one_column_frame_in_python_names_the_separator():
    wide, _ = export()
    wide.to_csv("semi.csv", sep=";", index=False)
    with pytest.raises(DataError, match=r"single column .*semicolon.*read_table\(path\)"):
        CHINCHILLA.fit(pd.read_csv("semi.csv"))


def test_spec_yaml_maps_columns_and_units(monkeypatch, capsys):
    wide, _ = export()
    wide.to_csv("wide.csv", sep=";", index=False)
    with open("mine.yaml", "w") as fh:
        fh.write("law: chinchilla\ndata: wide.csv\ncolumns: {params: model_size, tokens: "
                 "n_tokens, loss: eval/loss, family: arch}\nloss_unit: bits\n"
                 "scale: {tokens: 1e9}\nfilter: model_size > 0\n")
    spec = bl.spec.load_spec("mine.yaml")
    assert spec.source().columns == {"params": "model_size", "tokens": "n_tokens",
                                     "loss": "eval/loss"}
    seen = []

    def record(self, data, **kw):
        seen.append((data, kw))
        raise RuntimeError("stop before sampling")

    monkeypatch.setattr(bl.laws.base.Law, "fit", record)
    assert cli(["fit", "mine.yaml", "--out", "x.nc", "--quiet"], capsys)[0] == 1
    data, kw = seen[0]
    assert kw["family"] == "arch" and kw["loss_unit"] == "bits" and kw["scale"] == {"tokens": 1e9}
    assert len(data) == len(wide) and not os.path.exists("x.nc")
    with open("bad.yaml", "w") as fh:
        fh.write("law: chinchilla\ndata: wide.csv\nloss_unit: decibels\n")
    with pytest.raises(SpecError, match="bad.yaml: loss unit 'decibels'"):
        bl.spec.load_spec("bad.yaml")


# --------------------------------------------------------------------------- CLI messages
def _files(kind):
    wide, _ = export()
    if kind == "ragged":
        wide.to_csv("runs.csv", sep=";", index=False)
        with open("runs.csv", "a") as fh:
            fh.write("x;y\n" * 5)  # uneven rows: the separator cannot be sniffed
    elif kind == "xlsx":
        _fake_xlsx("runs.csv")  # a workbook saved under a CSV name
    elif kind == "fit":
        with open("runs.csv", "wb") as fh:
            fh.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    elif kind == "ppl":
        wide.assign(**{"eval/loss": 2 ** wide["eval/loss"] * 3}).to_csv("runs.csv", index=False)
    elif kind == "bits-name":
        wide.rename(columns={"eval/loss": "eval/bits_per_token"}).to_csv("runs.csv", index=False)
    elif kind == "mixed":
        wide.assign(n_tokens=np.where(np.arange(len(wide)) < 3, wide["n_tokens"],
                                      wide["n_tokens"] * 1e9)).to_csv("runs.csv", index=False)
    elif kind == "missing":
        wide.assign(**{"eval/loss": wide["eval/loss"].where(np.arange(len(wide)) % 4 > 0)}
                    ).to_csv("runs.csv", index=False)
    else:
        wide.to_csv("runs.csv", index=False)


FIT = ["fit", "chinchilla", "--data", "runs.csv", "--out", "x.nc", "--quiet"]
UNITS = ["--columns", MAP, "--family", "arch", "--loss-unit", "bits"]


@pytest.mark.parametrize("kind, extra, needle", [
    ("ragged", UNITS, "--sep ';'"),
    ("xlsx", UNITS, "Excel workbook"),
    ("fit", UNITS, "HDF5/netCDF file (a saved bayeslaws fit?)"),
    ("plain", UNITS, "--scale tokens=1e9 (Python: scale={'tokens': 1e9})"),
    ("ppl", ["--columns", MAP, "--family", "arch", "--scale", "tokens=1e9"],
     "is it a perplexity? Give --loss-unit perplexity"),
    ("bits-name", ["--columns", "params=model_size,tokens=n_tokens,loss=eval/bits_per_token",
                   "--family", "arch", "--scale", "tokens=1e9"], "--loss-unit bits"),
    ("mixed", UNITS, "mixes values below 100 in rows 1, 2, 3 ("),
    ("missing", UNITS + ["--scale", "tokens=1e9"], "--drop-missing"),
    ("plain", ["--columns", "params=modelsize", "--family", "arch"],
     "--columns params=modelsize: the data has no column 'modelsize'. Did you mean 'model_size'?"),
    ("plain", ["--columns", "params=model_size,tokens"], "'tokens' is not name=value"),
    ("plain", ["--columns", "parms=model_size"], "law 'chinchilla' has no column 'parms'"),
    ("plain", ["--columns", MAP, "--family", "archh"], "--family archh: the data has no column"),
    ("plain", [], "column 'params' is missing"),
    ("plain", UNITS + ["--scale", "tokens=-1"], "positive finite factor"),
    ("plain", UNITS + ["--sep", "::"], "one character"),
])
def test_cli_messages_name_the_fix(kind, extra, needle, capsys):
    _files(kind)
    code, _, err = cli(FIT + extra, capsys)
    assert code == 2, err
    assert len(err) == 1, err
    assert needle in err[0]
    assert not os.path.exists("x.nc")


def test_help_and_listings_are_true_to_the_package(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "500")
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    for name in bl.laws.available():
        assert re.search(rf"[ (,]{re.escape(name)}[,;]", text), name
    for flag in ("--columns", "--family", "--loss-unit", "--scale", "--sep", "--drop-missing"):
        assert flag in text
    code, out, _ = cli(["datasets"], capsys)
    assert code == 0 and "knowledge_allenzhu2024" in out
    assert "shared/" not in out and "LAWS.md" not in out
    for name in bl.datasets.names():
        meta = bl.datasets.CATALOGUE[name]
        assert "shared" not in (meta.fit_query_reason or "") + meta.source


# --------------------------------------------------------------------------- round trip
@pytest.fixture(scope="module")
def cli_fit(tmp_path_factory):
    """The wide export as a ';'-separated file with decimal commas and some empty eval/loss
    cells, fitted on the command line under its own names and units."""
    folder = tmp_path_factory.mktemp("userdata")
    wide, truth = export()
    wide = wide.assign(**{"eval/loss": wide["eval/loss"].where(np.arange(len(wide)) != 5)})
    wide.to_csv(folder / "export.csv", sep=";", index=False, decimal=",")
    out = folder / "f.nc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)  # short chains, by design
        warnings.simplefilter("ignore", UserWarning)  # the dropped row, asserted below
        code = main(["fit", "chinchilla", "--data", str(folder / "export.csv"), "--out", str(out),
                     "--columns", MAP, "--family", "arch", "--scale", "tokens=1e9",
                     "--loss-unit", "bits", "--drop-missing", "--no-extrapolation",
                     "--draws", "200", "--tune", "300", "--chains", "2", "--quiet"])
    return code, out, wide, truth


@pytest.mark.slow
def test_cli_round_trip_with_mapped_names(cli_fit, capsys):
    code, path, wide, truth = cli_fit
    assert code == 0
    fit = bl.load(path)
    assert fit.config["columns"] == {"params": "model_size", "tokens": "n_tokens",
                                     "loss": "eval/loss"}
    assert fit.config["family_column"] == "arch" and fit.config["loss_unit"] == "bits"
    assert fit.config["scale"] == {"tokens": 1e9}
    assert len(fit.data) == len(wide) - 1  # the empty eval/loss row was dropped
    np.testing.assert_allclose(fit.data["loss"], truth["loss"].drop(index=5), rtol=1e-12)
    # a new file of the same export, in another format: the fit's names and units apply
    new = wide.drop(columns=["eval/loss"]).iloc[[0, 14, 29]]
    new.to_json("new.jsonl", orient="records", lines=True, double_precision=15)
    code, _, err = cli(["predict", path, "--data", "new.jsonl", "--out", "pred.csv"], capsys)
    assert code == 0, err
    assert any("nats per token" in line for line in err)
    pred = pd.read_csv("pred.csv")
    assert list(pred.columns) == list(new.columns) + ["loss_mean", "loss_median", "loss_lower",
                                                      "loss_upper", "extrapolation",
                                                      "compute_multiple", "family_source"]
    assert set(pred["family_source"]) == {"fitted"}  # the fit's family column 'arch' is used
    np.testing.assert_allclose(pred["n_tokens"], new["n_tokens"])  # as given
    want = truth["loss"].iloc[[0, 14, 29]].to_numpy()
    assert np.all(np.abs(np.log(pred["loss_median"].to_numpy() / want)) < 0.05)
    # Python: the same forecast from the loaded fit on the user's frame
    py = fit.predict(new, seed=0).interval(0.9)
    np.testing.assert_allclose(py["loss_median"], pred["loss_median"], rtol=1e-6)
    assert list(py.columns[:len(new.columns)]) == list(new.columns)


@pytest.mark.slow
def test_python_round_trip_with_mapped_names(cli_fit, tmp_path):
    _, _, wide, truth = cli_fit
    wide = wide.dropna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)  # short chains, by design
        fit = CHINCHILLA.fit(wide, columns={"params": "model_size", "tokens": "n_tokens",
                                            "loss": "eval/loss"}, family_column="arch",
                             scale={"tokens": 1e9}, loss_unit="bits", draws=200, tune=300,
                             chains=2, extrapolation=None)
    fit.save(tmp_path / "py.nc")
    back = bl.load(tmp_path / "py.nc")
    assert back.config["columns"] == fit.config["columns"] and back.families == fit.families
    new = wide.drop(columns=["eval/loss"]).iloc[[3, 20]]
    a = fit.predict(new).interval()
    b = back.predict(new).interval()
    np.testing.assert_allclose(a["loss_median"], b["loss_median"], rtol=1e-9)
    want = truth["loss"].iloc[[3, 20]].to_numpy()
    assert np.all(np.abs(np.log(b["loss_median"].to_numpy() / want)) < 0.05)
    # bayeslaws' own names on Fit.predict are raw units: the same forecast
    raw = pd.DataFrame({"params": new["model_size"], "tokens": new["n_tokens"] * 1e9,
                        "arch": new["arch"]})
    np.testing.assert_allclose(back.predict(raw).interval()["loss_median"], b["loss_median"],
                               rtol=1e-9)
    # a canonical-named column in the file's units is ambiguous: stopped, with the fix
    with pytest.raises(DataError, match="Fit.predict takes a column named 'tokens'"):
        back.predict(raw.assign(tokens=new["n_tokens"]))
