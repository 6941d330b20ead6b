"""Model specs: one YAML file per published fit in ``models/`` (law, data, split, priors, the
paper's numbers), read by ``bayeslaws fit SPEC.yaml``.

Keys: ``name``, ``description``, ``law`` (registered name), ``law_options`` (``input``,
``priors``, ``pooling``, ``noise``), ``data`` (bundled dataset name or CSV path relative to the
spec), ``filter`` (pandas query of usable rows), ``train`` (pandas query of the fitted rows; the
other usable rows are the held-out check), ``sampler`` (``draws``, ``tune``, ``chains``, ``seed``,
``target_accept``, ``dense_mass``, ``float32``) and ``published`` (``{source: {param: value}}``).

A spec of one's own data says how its table maps to bayeslaws (:mod:`bayeslaws.mapping`):
``columns`` (``{params: model_size, loss: eval/loss}``; ``family`` may be one of them),
``family`` (the family column), ``loss_unit`` (nats, bits or perplexity), ``scale``
(``{tokens: 1e9}``) and ``drop_missing``; ``filter`` and ``train`` query the table's own column
names. ``data`` may be any format :func:`bayeslaws.data.read_table` reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd
import yaml

from . import laws
from .data import read_table
from .errors import SpecError
from .sampling import SETTINGS

#: Settings a spec's ``sampler`` mapping may give (keyword arguments of ``Law.fit``).
SAMPLER_KEYS = set(SETTINGS)
KEYS = {"name", "description", "law", "law_options", "data", "filter", "train", "sampler",
        "published", "notes", "columns", "family", "loss_unit", "scale", "drop_missing"}
#: Keys that map the data's columns and units (:func:`bayeslaws.mapping.source`).
SOURCE_KEYS = ("columns", "family", "loss_unit", "scale", "drop_missing")


@dataclass
class ModelSpec:
    """A parsed ``models/*.yaml`` spec."""

    name: str
    law_name: str
    data: str
    path: str = ""
    description: str = ""
    law_options: dict = field(default_factory=dict)
    filter: str = ""
    train: str = ""
    sampler: dict = field(default_factory=dict)
    published: dict = field(default_factory=dict)
    source_options: dict = field(default_factory=dict)

    def source(self):
        """The column mapping and units of the spec's data (a :class:`bayeslaws.mapping.Source`)."""
        from .mapping import source

        try:
            return source(**self.source_options)
        except SpecError as exc:
            raise SpecError(f"{self.path or self.name}: {exc}") from None

    def law(self):
        """The law with the spec's options."""
        return laws.get(self.law_name, **self.law_options)

    def usable_data(self, sep: str | None = None) -> pd.DataFrame:
        """All rows the spec uses (after ``filter``), in the table's own columns and units."""
        source = self.data
        if self.path and not os.path.isabs(source):
            candidate = os.path.join(os.path.dirname(self.path), source)
            source = candidate if os.path.exists(candidate) else source
        frame = read_table(source, sep=sep)
        return self._query(frame, self.filter, "filter")

    def train_data(self, sep: str | None = None) -> pd.DataFrame:
        """The rows to fit."""
        return self._query(self.usable_data(sep), self.train, "train")

    def holdout_data(self) -> pd.DataFrame:
        """The usable rows not fitted (empty without a ``train`` split)."""
        usable = self.usable_data()
        if not self.train:
            return usable.iloc[:0]
        keep = usable.index.difference(usable.query(self.train).index)
        return usable.loc[keep].reset_index(drop=True)

    def _query(self, frame, query, key):
        if not query:
            return frame.reset_index(drop=True)
        try:
            return frame.query(query).reset_index(drop=True)
        except Exception as exc:
            raise SpecError(f"{self.path or self.name}: `{key}: {query}` is not a valid pandas "
                            f"query on the data ({type(exc).__name__}: {exc})") from None


def load_spec(path: str) -> ModelSpec:
    """Read and check a model spec.

    Raises
    ------
    SpecError
        For a missing file, invalid YAML, unknown keys or a missing ``law``/``data``.
    """
    if not os.path.exists(path):
        raise SpecError(f"no such spec file: {path}")
    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a spec is a YAML mapping with keys law, data, ...")
    unknown = set(raw) - KEYS
    if unknown:
        raise SpecError(f"{path}: unknown keys {sorted(unknown)}; allowed: {sorted(KEYS)}")
    for key in ("law", "data"):
        if key not in raw:
            raise SpecError(f"{path}: missing required key {key!r}")
    bad = set(raw.get("sampler") or {}) - SAMPLER_KEYS
    if bad:
        raise SpecError(f"{path}: unknown sampler settings {sorted(bad)}; allowed: "
                        f"{sorted(SAMPLER_KEYS)}")
    spec = ModelSpec(name=raw.get("name") or os.path.splitext(os.path.basename(path))[0],
                     law_name=raw["law"], data=str(raw["data"]), path=path,
                     description=raw.get("description", ""),
                     law_options=raw.get("law_options") or {}, filter=raw.get("filter") or "",
                     train=raw.get("train") or "", sampler=raw.get("sampler") or {},
                     published=raw.get("published") or {},
                     source_options={k: raw[k] for k in SOURCE_KEYS if raw.get(k) is not None})
    spec.law()  # validate the law name and options early
    spec.source()  # and the column mapping
    return spec
