"""Registry of scaling laws: ``bayeslaws.laws.get("chinchilla")`` or ``bayeslaws.laws.Chinchilla()``."""

from __future__ import annotations

import difflib

from ..errors import SpecError
from .base import POOLING, Law, Param
from .chinchilla import Chinchilla
from .data_constrained import DataConstrained
from .downstream import Downstream, DownstreamSigmoid
from .kaplan import Kaplan
from .overtraining import Overtraining
from .power_law import PowerLaw
# catalogue I, part b (vocab, batch size, task ladder)
from .vocab import Vocab
from .batch_size import BatchSize
from .task import TaskAccuracy, TaskDirect, TaskLoss
# catalogue c (distillation capacity gap, knowledge capacity)
from .capacity_gap import CapacityGap
from .knowledge import Knowledge
from .densing import Densing
# competing learning-curve forms (Caballero et al. 2022; Alabdulmohsin et al. 2022)
from .bnsl import BNSL
from .m4 import M4
from .custom import define
# data mixtures (RegMix, Liu et al. 2024; Ye et al. 2024)
from .mixture import Mixture

_REGISTRY: dict[str, type[Law]] = {cls.name: cls for cls in (
    Chinchilla, Kaplan, PowerLaw,
    # catalogue I (Gadre et al. 2024, Muennighoff et al. 2023)
    Overtraining, Downstream, DownstreamSigmoid, DataConstrained,
    # catalogue I, part b
    Vocab, BatchSize, TaskLoss, TaskAccuracy, TaskDirect,
    # catalogue c
    CapacityGap, Knowledge,
    Densing,
    # competing learning-curve forms
    BNSL, M4,
    Mixture,
)}


def register(cls: type[Law]) -> type[Law]:
    """Register a user's law class under ``cls.name`` (usable as a decorator)."""
    if not cls.name:
        raise SpecError("a law class needs a non-empty `name`")
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Names of the registered laws."""
    return sorted(_REGISTRY)


def registered(name: str) -> type[Law] | None:
    """The law class registered under ``name`` (any case, ``_`` or ``-``), or None."""
    return _REGISTRY.get(_key(name))


def _key(name: str) -> str:
    return str(name).strip().lower().replace("_", "-")


def get(name: str, **kwargs) -> Law:
    """Return a law by its kebab-case name, with options (``input=``, ``priors=``, ``pooling=``)."""
    key = _key(name)
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, _REGISTRY, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SpecError(f"unknown law {name!r}{hint} Known laws: {', '.join(available())}")
    try:
        return _REGISTRY[key](**kwargs)
    except TypeError as exc:
        raise SpecError(f"law {key!r}: {exc}") from None


def from_spec(spec: dict) -> Law:
    """Rebuild a law from :meth:`Law.spec`."""
    return get(spec["law"], **spec.get("options", {}), priors=spec.get("priors") or None,
               pooling=spec.get("pooling"), noise=spec.get("noise"))


__all__ = ["POOLING", "BatchSize", "Chinchilla", "DataConstrained", "Densing", "Downstream",
           "DownstreamSigmoid", "Kaplan", "Law", "Overtraining", "Param", "PowerLaw",
           "TaskAccuracy", "TaskLoss", "Vocab", "available", "from_spec", "get", "register"]
__all__ += ["CapacityGap", "Knowledge"]  # catalogue c
__all__ += ["BNSL", "M4", "define"]
__all__ += ["Mixture"]
__all__ += ["TaskDirect"]  # task scaling without a task loss (Pythia)
