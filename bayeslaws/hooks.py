"""Slots that a lower layer declares and a higher layer fills: the one way up.

The package's layers import downward only (``docs/architecture.md``, checked by the
import-linter contract in ``pyproject.toml``). A few conveniences of the public API point the
other way: ``law.fit(data)`` (the laws layer) returns a :class:`~bayeslaws.fit.Fit` made by the
inference layer, and ``fit.predict(...)``, ``fit.optimal(...)``, ``fit.discrepancy``,
``fit.plot`` and ``fit.save(...)`` (the result layer) run code of the layers above it. Those
modules register their function here when they are imported (``import bayeslaws`` imports them
all), and the lower layer looks the function up when it is called. This is dependency inversion,
not a hidden import: the lower layer names a slot, never a module.

A slot resolves to the provider's module attribute at call time, so a test that monkeypatches
``bayeslaws.inference.fit_law`` changes what ``law.fit`` runs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

#: The slots and the modules that fill them (for the error message when one is empty).
SLOTS = {
    "fit_law": "bayeslaws.inference",
    "discrepancy": "bayeslaws.extrapolation",
    "predict": "bayeslaws.predict",
    "optimal": "bayeslaws.optimal",
    "design": "bayeslaws.design",
    "plots": "bayeslaws.plots",
    "save": "bayeslaws.io",
}

_PROVIDERS: dict[str, tuple[str, str]] = {}


def provide(slot: str) -> Callable:
    """Decorator: the decorated module-level function fills ``slot``."""
    if slot not in SLOTS:
        raise KeyError(f"unknown slot {slot!r}; known: {', '.join(SLOTS)}")

    def register(fn: Callable) -> Callable:
        _PROVIDERS[slot] = (fn.__module__, fn.__name__)
        return fn

    return register


def require(slot: str) -> Callable:
    """The function that fills ``slot`` (looked up now, so monkeypatching the module works).

    When nothing has registered for ``slot`` yet, its module of :data:`SLOTS` is imported first
    (the provider registers itself on import).
    """
    if slot not in _PROVIDERS and slot in SLOTS:
        importlib.import_module(SLOTS[slot])
    try:
        module, name = _PROVIDERS[slot]
    except KeyError:
        raise RuntimeError(f"nothing provides {slot!r}: import {SLOTS.get(slot, slot)} did "
                           "not register it") from None
    return getattr(sys.modules[module], name)
