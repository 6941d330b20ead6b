"""Random streams keyed by what they are for, so a draw depends on its row, never on the others.

A forecast's noise, a new family's parameters and a family's discrepancy path each come from a
generator seeded by the user's seed and a key of the thing drawn (a row's inputs and family, a
family's name), not from one generator consumed in row order. So predicting a row alone or among
others gives the same draws, and a population family is the same in a forecast and in an optimum.
"""

from __future__ import annotations

import numpy as np


def stable_key(*parts) -> int:
    """A 63-bit integer that depends only on ``parts`` (strings, numbers, byte strings), the same
    in every process and on every machine (unlike Python's salted ``hash``)."""
    import hashlib

    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
        h.update(b"\x1f")
    return int.from_bytes(h.digest(), "little") >> 1


def row_keys(columns: list[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """One key per row from its values and its label, so a row's random draws depend on the row
    alone, not on the other rows asked for.

    A row repeated within one request gets the key of its first copy plus its occurrence count, so
    copies of one row stay independent draws while the first copy's draws do not change.
    """
    cols = [np.ascontiguousarray(np.asarray(c, dtype=float)) for c in columns]
    labels = np.asarray(labels).astype(str)
    keys, seen = [], {}
    for i, label in enumerate(labels):
        base = stable_key(label, *(c[i].tobytes() for c in cols))
        count = seen.get(base, 0)
        seen[base] = count + 1
        keys.append(base if count == 0 else stable_key(base, count))
    return np.array(keys, dtype=np.uint64)


def keyed_rng(seed: int, *keys: int) -> np.random.Generator:
    """A generator determined by the user's ``seed`` and the stream's ``keys`` alone."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, *(int(k) for k in keys)])
