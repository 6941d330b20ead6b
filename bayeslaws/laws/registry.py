"""The registry of law classes by kebab-case name: ``get``, ``register``, ``from_spec``.

Filled with the built-in laws by :mod:`bayeslaws.laws` and with a user's laws by
:func:`register` or :func:`bayeslaws.laws.define`; it imports no law module, so every law module
(and :mod:`bayeslaws.laws.base`) can use it.
"""

from __future__ import annotations

import difflib

from ..errors import SpecError

#: Law classes by name (the built-in ones are added by ``bayeslaws.laws``).
_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    """Register a user's law class under ``cls.name`` (usable as a decorator)."""
    if not cls.name:
        raise SpecError("a law class needs a non-empty `name`")
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Names of the registered laws."""
    return sorted(_REGISTRY)


def registered(name: str) -> type | None:
    """The law class registered under ``name`` (any case, ``_`` or ``-``), or None."""
    return _REGISTRY.get(_key(name))


def _key(name: str) -> str:
    return str(name).strip().lower().replace("_", "-")


def get(name: str, **kwargs):
    """Return a law by its kebab-case name, with options (``input=``, ``priors=``, ``pooling=``)."""
    key = _key(name)
    if key not in _REGISTRY:
        from ..plugins import load_entry_point  # an installed package's law, loaded lazily

        load_entry_point(key)
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, _REGISTRY, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SpecError(f"unknown law {name!r}{hint} Known laws: {', '.join(available())}")
    try:
        return _REGISTRY[key](**kwargs)
    except TypeError as exc:
        raise SpecError(f"law {key!r}: {exc}") from None


def from_spec(spec: dict):
    """Rebuild a law from :meth:`Law.spec`."""
    return get(spec["law"], **spec.get("options", {}), priors=spec.get("priors") or None,
               pooling=spec.get("pooling"), noise=spec.get("noise"))
