"""Read run tables in the formats training stacks export: CSV/TSV (any common separator and
encoding), Parquet, Excel ``.xlsx`` and JSON lines.

The format is found from the file's first bytes, then its extension, so a spreadsheet saved as
``runs.csv`` is still read as a spreadsheet. Text is decoded from its byte-order mark (UTF-8,
UTF-16) or as UTF-8, falling back to Windows-1252/latin-1; the separator (``,`` ``;`` tab ``|``)
is sniffed from the header and the first lines, and a ``;``-separated file with decimal commas
(``2,31``) gives numbers. Every failure raises :class:`bayeslaws.DataError` naming the file,
what it looks like and the option or install that fixes it.

Optional readers: Parquet needs ``pyarrow`` (``pip install 'bayeslaws[parquet]'``), Excel needs
``openpyxl`` (``pip install 'bayeslaws[excel]'``).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zipfile

import pandas as pd

from .errors import DataError

#: Separators tried when sniffing delimited text, in order of preference on ties.
SEPARATORS = (",", ";", "\t", "|")
SEP_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
#: Lines of a text file used to sniff its separator.
SNIFF_LINES = 200

EXTENSIONS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv",
    ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "excel", ".xlsm": "excel", ".xls": "xls",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
    ".nc": "netcdf", ".h5": "hdf5", ".hdf5": "hdf5",
}

#: Magic bytes of formats that are not text: (prefix, format).
MAGIC = (
    (b"PAR1", "parquet"),
    (b"PK\x03\x04", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),
    (b"\x89HDF\r\n\x1a\n", "hdf5"),
    (b"CDF\x01", "netcdf"),
    (b"CDF\x02", "netcdf"),
    (b"\x1f\x8b", "gzip"),
    (b"\x89PNG", "png"),
    (b"%PDF", "pdf"),
    (b"SQLite format 3", "sqlite"),
    (b"\x93NUMPY", "npy"),
    (b"\x80\x04\x95", "pickle"),
)

NOT_TABLES = {
    "hdf5": "an HDF5/netCDF file (a saved bayeslaws fit?): give the table of runs the fit was "
            "made from (CSV, TSV, Parquet, Excel or JSON lines); `bayeslaws predict FIT.nc --data "
            "RUNS.csv` takes a fit as its first argument",
    "netcdf": "a netCDF file (a saved fit?): give the table of runs (CSV, TSV, Parquet, Excel or "
              "JSON lines)",
    "png": "a PNG image, not a table of runs",
    "pdf": "a PDF document, not a table of runs: export the table as CSV",
    "sqlite": "an SQLite database: export the runs table as CSV (sqlite3 -csv -header DB "
              "'select * from runs' > runs.csv)",
    "npy": "a NumPy array file: save the runs as a table (pandas.DataFrame.to_csv)",
    "pickle": "a Python pickle: bayeslaws does not unpickle files; save the runs with "
              "DataFrame.to_csv or to_parquet",
    "xls": "an old-format Excel workbook (.xls): save it as .xlsx or CSV from your spreadsheet "
           "program",
}


def sniff_format(path: str) -> str:
    """The format of ``path``: from its first bytes, else its extension (``csv`` by default)."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    for prefix, fmt in MAGIC:
        if head.startswith(prefix):
            if fmt == "zip":
                return _zip_kind(path)
            return fmt
    ext = os.path.splitext(path.removesuffix(".gz"))[1].lower()
    fmt = EXTENSIONS.get(ext, "csv")
    if fmt in ("parquet", "excel", "xls", "netcdf", "hdf5") and head:
        return "csv"  # a text file with a binary format's extension: read what it holds
    return fmt


def _zip_kind(path: str) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        return "zip"
    if any(n.startswith("xl/") for n in names):
        return "excel"
    if "content.xml" in names:
        return "ods"
    if len(names) == 1 and names[0].lower().endswith((".csv", ".tsv", ".txt")):
        return "zipped-csv"
    return "zip"


def read(path: str, *, sep: str | None = None, sheet: str | int | None = None) -> pd.DataFrame:
    """Read the run table in ``path``, whatever its format.

    Parameters
    ----------
    path : str
        CSV/TSV (``.gz`` or ``.zip`` too), Parquet, Excel ``.xlsx`` or JSON lines. An Excel sheet
        other than the first is chosen as ``runs.xlsx#SHEET`` or with ``sheet``.
    sep : str, optional
        The separator of delimited text (default: sniffed from ``,`` ``;`` tab ``|``).
    sheet : str or int, optional
        The Excel sheet (name or 0-based position; default the first).

    Raises
    ------
    DataError
        Naming the file, what it looks like and the fix.
    """
    path = os.fspath(path)
    if sheet is None and "#" in path and not os.path.exists(path):
        path, sheet = path.rsplit("#", 1)
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    fmt = sniff_format(path)
    if fmt in NOT_TABLES:
        raise DataError(f"{path} is {NOT_TABLES[fmt]}")
    if fmt == "parquet":
        frame = _read_parquet(path)
    elif fmt == "excel":
        frame = _read_excel(path, sheet)
    elif fmt == "ods":
        raise DataError(f"{path} is an OpenDocument spreadsheet (.ods): save it as .xlsx or CSV")
    elif fmt == "zip":
        raise DataError(f"{path} is a zip archive but not an Excel workbook nor one zipped CSV: "
                        "unpack it and give the table of runs")
    elif fmt in ("jsonl", "json"):
        frame = _read_json(path, lines=fmt == "jsonl")
    else:
        raw = _raw_bytes(path, fmt)
        frame = read_text(raw, path, sep="\t" if fmt == "tsv" and sep is None else sep)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _raw_bytes(path: str, fmt: str) -> bytes:
    try:
        if fmt == "gzip":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        if fmt == "zipped-csv":
            with zipfile.ZipFile(path) as zf:
                return zf.read(zf.namelist()[0])
        with open(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable CSV ({type(exc).__name__}: {exc}); "
                        "give the uncompressed table") from None


def decode(raw: bytes, path: str) -> str:
    """Text of ``raw``: from its byte-order mark, else UTF-8, else Windows-1252/latin-1.

    Raises
    ------
    DataError
        For binary content (NUL bytes outside UTF-16, or control characters).
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        encodings = ["utf-8-sig"]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ["utf-16"]
    elif len(raw) >= 4 and raw[1:4:2] == b"\x00\x00" and raw[0:4:2] != b"\x00\x00":
        encodings = ["utf-16-le"]
    elif len(raw) >= 4 and raw[0:4:2] == b"\x00\x00" and raw[1:4:2] != b"\x00\x00":
        encodings = ["utf-16-be"]
    else:
        encodings = ["utf-8", "cp1252", "latin-1"]
    last = None
    for enc in encodings:
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError as exc:
            last = exc
    else:
        raise DataError(f"{path}: not a readable CSV (cannot decode it as {encodings[0]}: "
                        f"{last.reason} at byte {last.start}); save it as UTF-8 text") from None
    control = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\t\r\n\x0c")
    if control > max(2, len(text[:4096]) // 100):
        raise DataError(f"{path}: not a readable CSV (binary content, not text); give a CSV, "
                        "TSV, Parquet, Excel .xlsx or JSON lines file")
    return text


def sniff_separator(text: str) -> str | None:
    """The separator of delimited ``text``: the candidate that splits the header into most
    fields and every sampled line into as many; None when none splits the header."""
    lines = [ln for ln in text.splitlines()[:SNIFF_LINES] if ln.strip()]
    if not lines:
        return None
    best, best_fields = None, 1
    for cand in SEPARATORS:
        try:
            rows = list(csv.reader(lines, delimiter=cand))
        except csv.Error:
            continue
        header = len(rows[0])
        if header < 2:
            continue
        same = sum(len(r) == header for r in rows[1:])
        if rows[1:] and same < 0.9 * len(rows[1:]):
            continue
        if header > best_fields:
            best, best_fields = cand, header
    return best


def read_text(raw: bytes, path: str, *, sep: str | None = None) -> pd.DataFrame:
    """Parse delimited text (see :func:`read`)."""
    text = decode(raw, path)
    if not text.strip():
        raise DataError(f"{path}: not a readable CSV (the file is empty); give a table with a "
                        "header row and one row per run")
    chosen = sep if sep is not None else (sniff_separator(text) or ",")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=chosen, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a readable CSV ({first}); "
                        + _separator_hint(text, chosen)) from None
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        found = [s for s in SEPARATORS if s != chosen and s in header]
        if found:
            s = found[0]
            raise DataError(f"{path} was read as a single column {header[:60]!r}: its header is "
                            f"separated by {SEP_NAMES[s]}s ({s!r}) but the rows do not split "
                            f"evenly on them ({_uneven(text, s)}), so the separator could not be "
                            f"sniffed; fix those lines, or give the separator: --sep "
                            f"{_shell(s)} (Python: read_table(path, sep={s!r}))")
    if chosen != ",":
        frame = _decimal_commas(frame)
    return frame


def _shell(sep: str) -> str:
    return {"\t": "tab", ";": "';'", "|": "'|'", ",": "','"}[sep]


def _uneven(text: str, sep: str) -> str:
    rows = list(csv.reader([ln for ln in text.splitlines()[:SNIFF_LINES] if ln.strip()],
                           delimiter=sep))
    header = len(rows[0])
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != header:
            return f"line {i} has {len(r)} fields, the header {header}"
    return f"the header has {header} fields"


def _separator_hint(text: str, chosen: str) -> str:
    header = text.splitlines()[0] if text else ""
    found = [s for s in SEPARATORS if s != chosen and s in header]
    if found:
        return (f"its header contains {SEP_NAMES[found[0]]}s: give --sep {_shell(found[0])} "
                f"(Python: read_table(path, sep={found[0]!r})), or fix the uneven rows")
    return ("every row needs as many fields as the header; give a delimited file (, ; tab |) "
            "with a header row")


_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+(,\d+)?([eE][-+]?\d+)?\s*$")


def _decimal_commas(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of a non-comma file written with decimal commas (``2,31``) as numbers."""
    for col in frame.columns:
        values = frame[col]
        if values.dtype.kind in "biuf":
            continue
        text = values.dropna().astype(str)
        if len(text) and text.str.contains(",").any() and text.str.match(_DECIMAL_COMMA).all():
            frame[col] = pd.to_numeric(values.astype(str).str.replace(",", ".", regex=False)
                                       .where(values.notna()), errors="coerce")
    return frame


def _read_parquet(path: str) -> pd.DataFrame:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        try:
            import fastparquet  # noqa: F401
        except ImportError:
            raise DataError(f"{path} is a Parquet file; reading it needs pyarrow: pip install "
                            "'bayeslaws[parquet]' (or save the table as CSV)") from None
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001  the engines raise many types
        raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})") from None


def _read_excel(path: str, sheet) -> pd.DataFrame:
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise DataError(f"{path} is an Excel workbook (.xlsx); reading it needs openpyxl: pip "
                        "install 'bayeslaws[excel]' (or save the sheet as CSV)") from None
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{path}: not a readable Excel workbook ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    with book:
        names = book.sheet_names
        if sheet is None:
            chosen = names[0]
        elif isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit()
                                          and sheet not in names):
            pos = int(sheet)
            if not 0 <= pos < len(names):
                raise DataError(f"{path}: no sheet at position {pos}; sheets: {', '.join(names)}")
            chosen = names[pos]
        elif sheet not in names:
            raise DataError(f"{path}: no sheet named {sheet!r}; sheets: {', '.join(names)} "
                            f"(choose one as {os.path.basename(path)}#SHEET)")
        else:
            chosen = sheet
        frame = book.parse(chosen)
    frame = frame.dropna(how="all").dropna(axis=1, how="all")
    if frame.empty:
        others = [n for n in names if n != chosen]
        raise DataError(f"{path}: sheet {chosen!r} of this Excel workbook (read with openpyxl) "
                        "has no rows under a header row"
                        + (f"; other sheets: {', '.join(others)} (choose one as "
                           f"{os.path.basename(path)}#SHEET)" if others else
                           "; put the runs on it, one row per run under a header row"))
    return frame.reset_index(drop=True)


def _read_json(path: str, *, lines: bool) -> pd.DataFrame:
    attempts = [True, False] if lines else [False, True]
    last = None
    for as_lines in attempts:
        try:
            frame = pd.read_json(path, lines=as_lines, orient=None if as_lines else "records")
            if isinstance(frame, pd.DataFrame) and len(frame.columns):
                return frame
        except ValueError as exc:
            last = exc
    what = "JSON lines (one JSON object per line)" if lines else "JSON records"
    raise DataError(f"{path}: not readable as {what} ({str(last).splitlines()[0] if last else 'no columns'}); "
                    "write one object per run, e.g. {\"params\": 1e9, \"tokens\": 2e10, "
                    "\"loss\": 2.3}")
