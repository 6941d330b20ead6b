"""The scaling laws: ``bayeslaws.laws.get("chinchilla")`` or ``bayeslaws.laws.Chinchilla()``.

The laws layer: pure specifications (formula, parameters, priors, pooling) and, per law module,
the quantities a fit of that law derives (functions that take the fit). Nothing here samples or
imports the layers above; the registry itself lives in :mod:`bayeslaws.laws.registry`.
"""

from __future__ import annotations

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
from .registry import _REGISTRY, available, from_spec, get, register, registered

_REGISTRY.update({cls.name: cls for cls in (
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
)})


__all__ = ["POOLING", "BatchSize", "Chinchilla", "DataConstrained", "Densing", "Downstream",
           "DownstreamSigmoid", "Kaplan", "Law", "Overtraining", "Param", "PowerLaw",
           "TaskAccuracy", "TaskLoss", "Vocab", "available", "from_spec", "get", "register",
           "registered"]
__all__ += ["CapacityGap", "Knowledge"]  # catalogue c
__all__ += ["BNSL", "M4", "define"]
__all__ += ["Mixture"]
__all__ += ["TaskDirect"]  # task scaling without a task loss (Pythia)
