r"""Published compute-optimal frontiers, drawn beside ours for reference.

Numbers from the papers (see ``shared/reference/LAWS.md`` sections 1 and 2):

* Hoffmann et al. 2022 (arXiv:2203.15556), Approach 3, Eq. 10 (printed values):
  :math:`L = 1.69 + 406.4/N^{0.34} + 410.7/D^{0.28}`, whose optimum under :math:`C = 6ND` is
  :math:`N^* = G (C/6)^{a}`, :math:`D^* = G^{-1} (C/6)^{b}`,
  :math:`G = (\alpha A / \beta B)^{1/(\alpha+\beta)}`, :math:`a = \beta/(\alpha+\beta)`,
  :math:`b = \alpha/(\alpha+\beta)` (Eq. 4).
* Hoffmann et al. 2022, Table 3 (Approach 1 projections): model sizes, FLOPs and tokens.
* Kaplan et al. 2020 (arXiv:2001.08361), Table 6 / Eq. 6.1: :math:`N^* = 1.3\times10^9\,
  C_{\min}^{0.73}` and :math:`D^* = 2\times10^{10}\, C_{\min}^{0.27}` with :math:`C_{\min}` in
  PF-days (:math:`8.64\times10^{19}` FLOPs). Kaplan counts compute differently, so
  :math:`6 N^* D^*` is not exactly :math:`C` on this frontier.
"""

from __future__ import annotations

import numpy as np

#: One PF-day in FLOPs.
PF_DAY = 8.64e19

#: Hoffmann et al. 2022, Approach 3, Eq. 10 (printed, rounded values).
HOFFMANN_EQ10 = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}

#: Hoffmann et al. 2022, Table 3 (Approach 1): (parameters, FLOPs, tokens).
HOFFMANN_TABLE3 = (
    (400e6, 1.92e19, 8.0e9),
    (1e9, 1.21e20, 20.2e9),
    (10e9, 1.23e22, 205.1e9),
    (67e9, 5.76e23, 1.5e12),
    (175e9, 3.85e24, 3.7e12),
    (280e9, 9.90e24, 5.9e12),
)

#: Kaplan et al. 2020, Table 6: N* = N_e C^0.73, D* = D_e C^0.27, C in PF-days.
KAPLAN_TABLE6 = {"N_e": 1.3e9, "N_exp": 0.73, "D_e": 2e10, "D_exp": 0.27}


def hoffmann_frontier(flops) -> tuple[np.ndarray, np.ndarray]:
    """``(N*, D*)`` of Hoffmann et al.'s Eq. 10 fit at budgets ``flops`` (C = 6ND)."""
    p = HOFFMANN_EQ10
    c6 = np.asarray(flops, dtype=float) / 6.0
    total = p["alpha"] + p["beta"]
    g = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1.0 / total)
    return g * c6 ** (p["beta"] / total), c6 ** (p["alpha"] / total) / g


def kaplan_frontier(flops) -> tuple[np.ndarray, np.ndarray]:
    """``(N*, D*)`` of Kaplan et al.'s compute-efficient allocation at budgets ``flops``."""
    k = KAPLAN_TABLE6
    pf = np.asarray(flops, dtype=float) / PF_DAY
    return k["N_e"] * pf ** k["N_exp"], k["D_e"] * pf ** k["D_exp"]
