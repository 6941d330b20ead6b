"""Draw the documentation's figures from real bundled data (small draws, so it runs in minutes).

``python docs/figures.py [OUT]`` writes PNGs into ``docs/_generated`` (the default), caching the
fits there as ``.nc`` so a rebuild only redraws. Pages include them as
``../_generated/<name>.png``. To add a figure for a new law, add a line to :data:`FITS` (if it
needs a new fit) and to :data:`FIGURES`.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import bayeslaws as bl  # noqa: E402
from bayeslaws import plots  # noqa: E402

#: Sampler settings of the documentation fits: small, the figures are illustrations.
SETTINGS = {"draws": 300, "tune": 400, "chains": 2, "seed": 0}

#: name: (law, law options, dataset, pandas query of the fitted rows or "" for the default rows)
FITS = {
    "chinchilla_epoch": ("chinchilla", {}, "chinchilla_epoch", ""),
    "kaplan_epoch": ("kaplan", {}, "chinchilla_epoch", ""),
    "chinchilla_gadre": ("chinchilla", {}, "gadre_overtraining", "params <= 4.2e8"),
    "power_law_gadre": ("power-law", {}, "gadre_overtraining", "params <= 4.2e8"),
}

#: file name: (fit name, plot kind, keyword arguments; "HELDOUT" is replaced by the held-out rows)
FIGURES = {
    "chinchilla_fit": ("chinchilla_epoch", "fit", {}),
    "chinchilla_isoflop": ("chinchilla_epoch", "isoflop", {}),
    "chinchilla_frontier": ("chinchilla_epoch", "frontier", {}),
    "kaplan_fit": ("kaplan_epoch", "fit", {}),
    "gadre_fit": ("chinchilla_gadre", "fit", {"holdout": "HELDOUT"}),
    "gadre_forecast": ("chinchilla_gadre", "forecast", {"target": 1e24, "holdout": "HELDOUT"}),
    "gadre_forest": ("chinchilla_gadre", "forest", {}),
    "power_law_fit": ("power_law_gadre", "fit", {"holdout": "HELDOUT"}),
}


def _fit(name: str, out: str):
    path = os.path.join(out, f"{name}.nc")
    if os.path.exists(path):
        return bl.load(path), _heldout(name)
    law, options, dataset, query = FITS[name]
    runs = bl.datasets.load(dataset, fit_rows=not query)
    rows = runs.query(query) if query else runs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bl.ConvergenceWarning)  # short chains, by design
        fit = bl.laws.get(law, **options).fit(rows, **SETTINGS)
    fit.save(path)
    return fit, _heldout(name)


def _heldout(name: str):
    _, _, dataset, query = FITS[name]
    if not query:
        return None
    runs = bl.datasets.load(dataset)
    return runs.drop(runs.query(query).index)


def main(out: str = os.path.join(HERE, "_generated")) -> None:
    """Fit (or load) what the figures need and draw every figure into ``out``."""
    import matplotlib.pyplot as plt

    os.makedirs(out, exist_ok=True)
    fits = {}
    for fig_name, (fit_name, kind, kwargs) in FIGURES.items():
        start = time.perf_counter()
        if fit_name not in fits:
            fits[fit_name] = _fit(fit_name, out)
        fit, held = fits[fit_name]
        kwargs = {k: (held if v == "HELDOUT" else v) for k, v in kwargs.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            plots.plot(fit, kind, os.path.join(out, f"{fig_name}.png"), **kwargs)
        plt.close("all")
        print(f"{fig_name}.png ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main(*sys.argv[1:])
