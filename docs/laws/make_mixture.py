"""Regenerate docs/laws/mixture.png: the exponential data-mixing law fitted to RegMix's 512
1M-parameter proxies (Pile-CC loss), its loss along each source's share with credible bands.

    PYTHONPATH=. python docs/laws/make_mixture.py
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import bayeslaws as bl
from bayeslaws.plots import plot_mixture

HERE = os.path.dirname(os.path.abspath(__file__))

if __name__ == "__main__":
    runs = bl.datasets.load("regmix_liu2024", fit_rows=True)
    fit = bl.laws.get("mixture", pooling="shared").fit(runs, draws=500, tune=500, chains=2, seed=0)
    plot_mixture(fit, os.path.join(HERE, "mixture.png"))
    print(fit.optimal_mixture(bl.datasets.load("regmix_liu2024").query("scale == '1B'")).top(3))
