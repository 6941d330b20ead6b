r"""Map a user's run table onto bayeslaws' columns and units: column names, the family column,
the loss unit and size scales, and the unit checks that stop a fit of nonsense.

bayeslaws works in raw units: ``params`` and ``tokens`` are counts, ``flops`` FLOPs and ``loss``
(or ``task_loss``) nats per token. A :class:`Source` says how a table differs:

* ``columns``: ``{canonical: user column}``, e.g. ``{"params": "model_size", "loss":
  "eval/loss"}``; ``family``: the column that groups runs into families;
* ``loss_unit``: ``"nats"`` (default), ``"bits"`` (:math:`L_{nats} = L_{bits} \ln 2`) or
  ``"perplexity"`` (:math:`L_{nats} = \ln \mathrm{PPL}`);
* ``scale``: ``{canonical: factor}``, e.g. ``{"tokens": 1e9}`` for tokens in billions (raw =
  value x factor); a factor of 1 declares raw counts (and silences the unit checks).

:func:`to_canonical` renames, converts and checks a table; the Source is stored in the fit's
config (``columns``, ``family_column``, ``loss_unit``, ``scale``), so new rows with the same user
names predict the same way. Unit checks (sizes that look like millions or billions, losses that
look like perplexity or bits) raise :class:`bayeslaws.DataError` naming the flag that fixes it;
their thresholds sit far below real data, so they never fire on a bundled dataset.
"""

from __future__ import annotations

import difflib
import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import DataError, SpecError, format_rows

LOSS_UNITS = ("nats", "bits", "perplexity")
#: Loss columns (nats per token) that ``loss_unit`` converts.
LOSS_COLUMNS = ("loss", "task_loss")
#: Size columns checked for units that look like millions or billions.
SIZE_COLUMNS = ("params", "tokens")
#: A median loss above this many nats per token is implausible: guessing uniformly over a 50k
#: vocabulary gives ln(50257) = 10.8. Real tables reach 20 nats in a few rows (early Pythia
#: checkpoints on LAMBADA) but their median stays below 5.
MAX_MEDIAN_NATS = 12.0
#: Marker in ``DataFrame.attrs`` of tables already in bayeslaws' columns and units (a fit's data).
CANONICAL = "bayeslaws_canonical"
_BITS_NAME = re.compile(r"(^|[^a-z])(bits?|bpb|bpc|bpt)([^a-z]|$)", re.IGNORECASE)
_PPL_NAME = re.compile(r"(^|[^a-z])(ppl|perplexity)([^a-z]|$)", re.IGNORECASE)


@dataclass
class Source:
    """How a user's table maps to bayeslaws' columns and units (see the module docstring)."""

    columns: dict[str, str] = field(default_factory=dict)
    family: str = "family"
    loss_unit: str | None = None
    scale: dict[str, float] = field(default_factory=dict)
    drop_missing: bool = False

    def to_config(self) -> dict:
        """The entries stored in a fit's config (JSON-serialisable)."""
        return {"columns": dict(self.columns), "family_column": self.family,
                "loss_unit": self.loss_unit, "scale": dict(self.scale)}

    @classmethod
    def from_config(cls, config: dict) -> Source:
        """The Source a fit was made with (older fits: none)."""
        return cls(columns=dict(config.get("columns") or {}),
                   family=config.get("family_column") or "family",
                   loss_unit=config.get("loss_unit"), scale=dict(config.get("scale") or {}))

    def merged(self, other: Source | None) -> Source:
        """This Source updated by the options given in ``other`` (CLI flags over a fit's)."""
        if other is None:
            return self
        return Source(columns=self.columns | other.columns,
                      family=other.family if other.family != "family" else self.family,
                      loss_unit=other.loss_unit or self.loss_unit,
                      scale=self.scale | other.scale, drop_missing=other.drop_missing)

    @property
    def given(self) -> bool:
        """Whether any option differs from bayeslaws' own names and units."""
        return bool(self.columns or self.scale or self.loss_unit or self.family != "family")


def source(columns=None, *, family: str | None = None, family_column: str | None = None,
           loss_unit: str | None = None, scale=None, drop_missing: bool = False) -> Source:
    """Check the column and unit options of ``Law.fit`` and return a :class:`Source`.

    Parameters
    ----------
    columns : dict or str, optional
        ``{canonical: user column}`` or the CLI text ``"params=model_size,loss=val_loss"``; a
        ``family`` entry names the family column.
    family, family_column : str, optional
        The family column (``family_column`` is the older name of ``family``).
    loss_unit : {"nats", "bits", "perplexity"}, optional
    scale : dict or str, optional
        ``{canonical: factor}`` or ``"tokens=1e9,params=1e6"``.
    drop_missing : bool
        Drop (with a warning naming how many) the rows whose used columns are empty, as in wide
        exports where each metric is logged at other steps.

    Raises
    ------
    SpecError
        For a malformed mapping, an unknown loss unit or a non-positive scale.
    """
    cols = parse_pairs(columns, "columns") if columns is not None else {}
    for canon, user in cols.items():
        if not isinstance(user, str) or not user:
            raise SpecError(f"columns: {canon!r} must map to a column name, not {user!r}")
    fam = cols.pop("family", None)
    given = [v for v in (fam, family, family_column) if v is not None]
    if len(set(given)) > 1:
        raise SpecError(f"the family column is given as {', '.join(map(repr, given))}; give it "
                        "once (family=, or family in columns)")
    factors = {}
    for canon, value in (parse_pairs(scale, "scale") if scale is not None else {}).items():
        try:
            factor = float(value)
        except (TypeError, ValueError):
            raise SpecError(f"scale: {canon}={value!r} is not a number; e.g. tokens=1e9 for "
                            "tokens in billions") from None
        if not (math.isfinite(factor) and factor > 0):
            raise SpecError(f"scale: {canon}={value!r} must be a positive finite factor (raw = "
                            "value x factor)")
        factors[canon] = factor
    if loss_unit is not None and loss_unit not in LOSS_UNITS:
        raise SpecError(f"loss unit {loss_unit!r} is not one of {', '.join(LOSS_UNITS)} "
                        "(--loss-unit / loss_unit=)")
    return Source(columns=cols, family=given[0] if given else "family", loss_unit=loss_unit,
                  scale=factors, drop_missing=bool(drop_missing))


def parse_pairs(value, what: str) -> dict:
    """``"a=b,c=d"`` (or a mapping) as a dict; SpecError naming the malformed entry."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if not isinstance(value, str):
        raise SpecError(f"{what} must be a mapping or 'name=value,...', not "
                        f"{type(value).__name__}")
    out = {}
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        key, sep, val = part.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise SpecError(f"--{what} {value!r}: {part!r} is not name=value (e.g. --columns "
                            "params=model_size,loss=val_loss or --scale tokens=1e9)")
        out[key.strip()] = val.strip()
    return out


def is_canonical(frame) -> bool:
    """Whether ``frame`` is marked as already in bayeslaws' columns and units (a fit's data)."""
    return isinstance(frame, pd.DataFrame) and bool(frame.attrs.get(CANONICAL))


def mark_canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Mark ``frame`` (in place) as in bayeslaws' columns and units; return it."""
    frame.attrs[CANONICAL] = True
    return frame


def used_columns(law) -> list[str]:
    """The columns ``law`` reads: its inputs (``params`` and ``tokens`` for a computed
    ``flops``) and its target."""
    cols = list(law.required_columns())
    if "flops" in cols:
        cols += ["params", "tokens"]
    return list(dict.fromkeys(cols + [law.target]))


def to_canonical(law, data, src: Source | None = None, *, fitting: bool = True,
                 source_form: bool = True) -> pd.DataFrame:
    """Rename, convert and check a user's table for ``law``; return a new, marked frame.

    Parameters
    ----------
    law : bayeslaws.laws.Law
    data : pandas.DataFrame
        The table as read (other types are left to :func:`bayeslaws.data.prepare` to reject).
    src : Source, optional
        The mapping and units (default: bayeslaws' own names and units).
    fitting : bool
        A table to fit: every mapped column must be present, and ``drop_missing`` applies.
    source_form : bool
        The whole table is in the user's units (a file, or data to fit). False for
        :meth:`bayeslaws.fit.Fit.predict`, where only the columns given under the user's names
        are converted: a column under its canonical name is taken in raw units.

    Raises
    ------
    DataError
        A mapped column that is absent, a table read with the wrong separator, sizes that look
        like millions or billions, losses that look like perplexity or bits: each naming the
        flag (and the Python argument) that fixes it.
    """
    src = src or Source()
    if not isinstance(data, pd.DataFrame):
        return data
    if is_canonical(data) and not src.given:
        return data
    frame = data.reset_index(drop=True).copy()
    frame.columns = [str(c) for c in frame.columns]
    _check_one_column(frame)
    used = used_columns(law)
    if fitting:
        unknown = [c for c in src.columns if c not in used]
        if unknown:
            raise SpecError(f"--columns {unknown[0]}={src.columns[unknown[0]]}: law {law.name!r} "
                            f"has no column {unknown[0]!r}; it reads {', '.join(used)} (and a "
                            "family column: --family COLUMN)")
        unknown = [c for c in src.scale if c not in used]
        if unknown:
            raise SpecError(f"--scale {unknown[0]}=...: law {law.name!r} has no column "
                            f"{unknown[0]!r}; it reads {', '.join(used)}")
    renamed = set()
    original = list(frame.columns)
    for canon, user in src.columns.items():
        if user == canon:
            continue
        if user in frame:
            if canon in frame:  # e.g. an export's train 'loss' beside the mapped 'eval/loss'
                frame = frame.rename(columns={canon: f"{canon} (unmapped)"})
            frame = frame.rename(columns={user: canon})
            renamed.add(canon)
        elif fitting or (canon != law.target and canon not in frame):
            raise DataError(f"--columns {canon}={user}: the data has no column {user!r}."
                            f"{_did_you_mean(user, original)} Columns: "
                            f"{_listing(original)}", column=user)
    if fitting and src.family != "family" and src.family not in frame:
        raise DataError(f"--family {src.family}: the data has no column {src.family!r}."
                        f"{_did_you_mean(src.family, frame.columns)} Columns: "
                        f"{_listing(frame.columns)}", column=src.family)

    def converts(col):  # whether col holds the user's units here
        return col in frame and (source_form or col in renamed)

    if fitting and src.drop_missing:
        present = [c for c in used + [src.family] if c in frame]
        empty = frame[present].isna().any(axis=1).to_numpy()
        if empty.all():
            raise DataError(f"every row has an empty value in {', '.join(present)}; "
                            "--drop-missing would drop them all")
        if empty.any():
            warnings.warn(f"dropped {int(empty.sum())} of {len(frame)} rows with an empty value "
                          f"in {', '.join(present)} (--drop-missing)", UserWarning, stacklevel=4)
            frame = frame.loc[~empty].reset_index(drop=True)
    for canon, factor in src.scale.items():
        if converts(canon) and factor != 1.0:
            frame[canon] = _numbers(frame[canon]) * factor
    for canon in LOSS_COLUMNS:
        if canon in used and converts(canon) and src.loss_unit in ("bits", "perplexity"):
            values = _numbers(frame[canon])
            frame[canon] = values * math.log(2) if src.loss_unit == "bits" else np.log(values)
    if not is_canonical(data):
        _check_units(law, frame, src, used, renamed, source_form=source_form)
    return mark_canonical(frame)


def _numbers(values: pd.Series) -> pd.Series:
    """Numeric values (non-numbers stay as they are, for prepare to name)."""
    num = pd.to_numeric(values, errors="coerce")
    return num if num.notna().sum() == values.notna().sum() else values


def _listing(columns, n: int = 12) -> str:
    cols = [str(c) for c in columns]
    return ", ".join(cols[:n]) + (f", ... ({len(cols)} in all)" if len(cols) > n else "")


def _did_you_mean(name: str, columns) -> str:
    close = difflib.get_close_matches(name, [str(c) for c in columns], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _check_one_column(frame: pd.DataFrame) -> None:
    """A one-column table whose header holds a separator was read with the wrong one."""
    if frame.shape[1] != 1:
        return
    header = str(frame.columns[0])
    for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")):
        if sep in header:
            shown = {"\t": "'\\t'"}.get(sep, repr(sep))
            raise DataError(f"the table has a single column {header[:60]!r}: it was read with "
                            f"the wrong separator, its header is {name}-separated; read it with "
                            f"bayeslaws.data.read_table(path) (sniffs the separator) or "
                            f"pandas.read_csv(path, sep={shown}); on the command line give "
                            f"--sep {'tab' if sep == chr(9) else repr(sep)}", column=header)


#: Sizes beyond any model trained so far by 50x or more: a training table with such a value has a
#: unit slip (checked when runs are read; a forecast may go anywhere).
MAX_SIZE = {"params": 1e14, "tokens": 1e16}
MAX_SIZE_REASON = {"params": "the largest LLMs have ~2e12 parameters",
                   "tokens": "the largest training runs see ~4e13 tokens"}


def _check_units(law, frame, src: Source, used, renamed, *, source_form: bool) -> None:
    """Stop on sizes that look like millions/billions and losses that look like perplexity or
    bits, unless the unit was declared (``scale`` / ``loss_unit``)."""
    for col in SIZE_COLUMNS:
        if col not in used or col not in frame:
            continue
        if col in src.scale and (source_form or col in renamed):
            continue  # declared
        if not source_form and col not in renamed and col not in src.scale:
            continue  # Fit.predict on bayeslaws' own names: raw counts (plots' grids too)
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        values = values[np.isfinite(values) & (values > 0)]
        if not values.size:
            continue  # prepare names empty or bad columns
        what = {"params": "parameter", "tokens": "token"}[col]
        if col in src.scale and not source_form:
            if values.max() < 1e5 and src.scale[col] > 1:
                raise DataError(
                    f"column {col!r} has values up to {values.max():g} only; this fit reads "
                    f"{col} in units of {_fmt(src.scale[col])} (scale {col}={_fmt(src.scale[col])}) from "
                    f"files, but Fit.predict takes a column named {col!r} in raw {what} counts: "
                    "pass fit.predict(bayeslaws.mapping.for_fit(fit, rows)) or multiply it",
                    column=col)
            continue
        flag = _fmt(_size_flag(col, values.max()))
        if values.max() < 1e5:
            raise DataError(
                f"column {col!r} has values up to {values.max():g} only: are they in millions or "
                f"billions? bayeslaws expects raw {what} counts (1.3e9, not 1.3). Give the unit: "
                f"--scale {col}={flag} (Python: scale={{{col!r}: {flag}}}); if they really "
                f"are raw counts, --scale {col}=1", column=col)
        if values.max() > MAX_SIZE[col]:
            rows = np.flatnonzero(pd.to_numeric(frame[col], errors="coerce").to_numpy()
                                  > MAX_SIZE[col])
            raise DataError(
                f"column {col!r} has values up to {values.max():.3g} in {format_rows(rows)}, "
                f"beyond any trained model ({MAX_SIZE_REASON[col]}): a unit slip (counts already "
                f"multiplied, or another column)? Fix those rows; if they really are raw "
                f"{what} counts, --scale {col}=1 (Python: scale={{{col!r}: 1}})",
                column=col, rows=rows)
        if values.min() < 100 and values.max() > 1e6:
            rows = np.flatnonzero(pd.to_numeric(frame[col], errors="coerce").to_numpy() < 100)
            raise DataError(
                f"column {col!r} mixes values below 100 in {format_rows(rows)} with values up to "
                f"{values.max():.3g}: those rows look like millions or billions; give raw {what} "
                f"counts throughout (fix those rows), or --scale {col}=1 (Python: "
                f"scale={{{col!r}: 1}}) if they really are raw counts", column=col, rows=rows)
    if src.loss_unit is not None:
        return
    for col in LOSS_COLUMNS:
        if col not in used or col not in frame or not (source_form or col in renamed):
            continue
        name = src.columns.get(col, col)
        if _PPL_NAME.search(name):
            raise DataError(f"the loss column {name!r} is named like a perplexity; bayeslaws fits "
                            "nats per token: give --loss-unit perplexity (Python: "
                            "loss_unit='perplexity') to convert (ln PPL), or --loss-unit nats",
                            column=name)
        if _BITS_NAME.search(name):
            raise DataError(f"the loss column {name!r} is named like bits; bayeslaws fits nats per "
                            "token: give --loss-unit bits (Python: loss_unit='bits') to convert "
                            "(x ln 2), or --loss-unit nats. Bits per byte are not per token: "
                            "multiply by your tokenizer's bytes per token first", column=name)
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if values.size and np.median(values) > MAX_MEDIAN_NATS:
            raise DataError(f"column {col!r} has a median of {np.median(values):.4g}, implausible "
                            "as nats per token (guessing uniformly over a 50k vocabulary gives "
                            "10.8): is it a perplexity? Give --loss-unit perplexity (Python: "
                            "loss_unit='perplexity'), or --loss-unit nats if they are nats",
                            column=col)


def _fmt(factor: float) -> str:
    """A factor as typed on a command line: 1e9, 1e6, 1000, 2.5e9."""
    text = f"{factor:g}"
    return re.sub(r"e\+?0*(\d)", r"e\1", text)


def _size_flag(col: str, top: float) -> float:
    """The scale that puts ``top`` among real sizes: 1e9 for tokens and for params up to 1000,
    else 1e6."""
    if col == "tokens":
        return 1e9 if top < 1e4 else 1e6
    return 1e9 if top <= 1000 else 1e6


def for_fit(fit, data, *, source_form: bool = True, overrides: Source | None = None):
    """``data`` (a user's table, e.g. a new file of the same export) in ``fit``'s columns and
    units: the mapping and units stored in the fit, updated by ``overrides``."""
    src = Source.from_config(fit.config).merged(overrides)
    return to_canonical(fit.law, data, src, fitting=False, source_form=source_form)
