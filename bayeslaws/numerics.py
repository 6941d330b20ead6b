"""Small vectorised numerical routines shared by the laws and the derived quantities."""

from __future__ import annotations

import math

import numpy as np


def golden_section(f, lo: np.ndarray, hi: np.ndarray, iters: int = 80) -> np.ndarray:
    """Vectorised golden-section minimisation of ``f`` on ``[lo, hi]`` (elementwise)."""
    inv_phi = (math.sqrt(5) - 1) / 2
    a, b = np.array(lo, dtype=float), np.array(hi, dtype=float)
    c, d = b - inv_phi * (b - a), a + inv_phi * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        left = fc < fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c_new = b - inv_phi * (b - a)
        d_new = a + inv_phi * (b - a)
        c, d = c_new, d_new
        fc, fd = f(c), f(d)
    return (a + b) / 2

