"""A user's own law with :func:`bayeslaws.laws.define`: the solid-exoplanet mass-radius relation.

Seager, Kuchner, Hier-Majumder & Militzer 2007 (ApJ 669:1279, arXiv:0707.2895) fit the radius of
cold solid planets of one material by

    log10 Rs = k1 + (1/3) log10 Ms - k2 Ms^k3,    Ms = M / m1,  Rs = R / r1,

with the constants of their Table 4 per material. Here data are simulated from that relation for
four compositions (the families), the law is defined in a dozen lines, fitted with partial pooling,
and the constants are recovered with intervals. ``docs/custom-law.md`` shows this module and
``tests/test_competing_forms.py`` runs it.

    PYTHONPATH=. python -m bayeslaws.examples.exoplanets
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import bayeslaws as bl
from bayeslaws.examples import markdown
from bayeslaws.examples import markdown

#: Seager et al. 2007, Table 4, as transcribed in LAWS.md section 13 (tagged there as recalled,
#: not verified against the PDF): scale mass m1 (Earth masses), scale radius r1 (Earth radii),
#: and k1, k2, k3. Here they are the truth of a simulation, not a claim about the paper.
TABLE4 = {
    "Fe": {"m1": 5.80, "r1": 2.52, "k1": -0.20945, "k2": 0.0804, "k3": 0.394},
    "MgSiO3": {"m1": 10.55, "r1": 3.90, "k1": -0.209594, "k2": 0.0799, "k3": 0.413},
    "H2O": {"m1": 5.52, "r1": 4.43, "k1": -0.209396, "k2": 0.0807, "k3": 0.375},
    "SiC": {"m1": 7.38, "r1": 3.58, "k1": -0.209224, "k2": 0.0808, "k3": 0.356},
}
LN10 = math.log(10.0)


def seager_law():
    """Define (and register) the law ``seager``: radius in scaled mass, per composition."""
    return bl.laws.define(
        "seager",
        target="radius",            # Rs = R / r1 > 0, modelled on the log scale
        inputs=("mass",),           # Ms = M / m1; the formula gets x["mass"] = ln Ms
        params={
            "k1": dict(loc=-0.2, scale=0.1, family_scale=0.02, doc="log10 Rs offset"),
            "k2": dict(loc=math.log(0.1), scale=0.7, log=True, family_scale=0.1,
                       doc="size of the compression term"),
            "k3": dict(loc=math.log(0.5), scale=0.5, log=True, family_scale=0.1,
                       doc="exponent of the compression term"),
        },
        # ln Rs = ln10 * log10 Rs: the law on its link scale, written once for numpy and pytensor
        formula=lambda x, p, xp: (LN10 * p["k1"] + x["mass"] / 3.0
                                  - LN10 * p["k2"] * xp.exp(p["k3"] * x["mass"])),
        formula_text="log10 Rs = k1 + (1/3) log10 Ms - k2 Ms^k3",
        reference="Seager et al. 2007, ApJ 669:1279, arXiv:0707.2895",
        derived={"M_max": lambda p, xp: (1.0 / (3.0 * p["k2"] * p["k3"] * LN10)) ** (1.0 / p["k3"])},
    )


def simulate(seed: int = 0, runs: int = 25, noise: float = 0.004,
             mass_range=(0.01, 20.0)) -> pd.DataFrame:
    """Planets of each composition with masses log-uniform in ``mass_range`` (Earth masses).

    Columns: ``family`` (composition), ``mass`` = M/m1 and ``radius`` = R/r1 (the law's scaled
    variables), ``mass_earth`` and ``radius_earth``. Radii carry a relative (log-normal) error
    of sd ``noise``.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for fam, t in TABLE4.items():
        m = np.exp(rng.uniform(*np.log(mass_range), runs))
        ms = m / t["m1"]
        log10_rs = t["k1"] + np.log10(ms) / 3.0 - t["k2"] * ms ** t["k3"]
        rs = 10.0 ** log10_rs * np.exp(rng.normal(0.0, noise, runs))
        rows.append(pd.DataFrame({"family": fam, "mass": ms, "radius": rs, "mass_earth": m,
                                  "radius_earth": rs * t["r1"]}))
    return pd.concat(rows, ignore_index=True)


def radius_at(fit, mass_earth: float, prob: float = 0.9) -> pd.DataFrame:
    """Posterior radius (Earth radii) of a planet of ``mass_earth`` of each composition."""
    fams = list(TABLE4)
    rows = pd.DataFrame({"family": fams, "mass": [mass_earth / TABLE4[f]["m1"] for f in fams]})
    out = fit.predict(rows).interval(prob)
    scale = np.array([TABLE4[f]["r1"] for f in fams])
    table = pd.DataFrame({"family": fams, "mass_earth": mass_earth})
    for col in ("median", "lower", "upper"):
        table[f"radius_earth_{col}"] = out[f"radius_{col}"].to_numpy() * scale
    return table


def recovery(fit, prob: float = 0.9) -> pd.DataFrame:
    """k1, k2, k3 per composition: truth (Table 4), posterior median and interval."""
    summ = fit.summary(prob)
    rows = []
    for fam, t in TABLE4.items():
        for k in ("k1", "k2", "k3"):
            s = summ.loc[f"{k}[{fam}]"]
            rows.append({"family": fam, "param": k, "truth": t[k], "median": s["median"],
                         "lower": s["lower"], "upper": s["upper"]})
    return pd.DataFrame(rows)


def main(seed: int = 0, draws: int = 500, chains: int = 2, figure: str | None = None):
    """Simulate, fit, print the recovery table and a forecast; optionally write the figure."""
    law = seager_law()()
    planets = simulate(seed)
    fit = law.fit(planets, seed=seed, draws=draws, tune=draws, chains=chains, extrapolation=None)
    print(markdown(recovery(fit), ".4g", index=False))
    print(markdown(radius_at(fit, 5.0), index=False))
    if figure:
        fit.plot.fit(figure)
    return fit


if __name__ == "__main__":
    import sys

    main(figure=sys.argv[1] if len(sys.argv) > 1 else None)
