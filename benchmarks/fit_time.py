"""Time to a converged Chinchilla posterior vs. the point fit people run today.

Fits Epoch's 240 Chinchilla runs (a) with bayeslaws (numpyro NUTS, 4 chains x 1000 draws; the
first fit in a process includes JAX compilation, the second reuses it) and (b) with the
Hoffmann/Epoch estimator: Huber loss (delta 1e-3) on log loss, L-BFGS from a grid of starts
(alpha, beta in {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}: 4,500 starts).
Prints both times and their ratio (same machine, same run).

    python benchmarks/fit_time.py [--starts 4500]
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time


def huber_grid_fit(runs, n_starts: int):
    """Hoffmann/Epoch estimator; returns (best params, seconds)."""
    import numpy as np
    from scipy.optimize import minimize
    from scipy.special import huber, logsumexp

    log_n, log_d, log_l = (np.log(runs[c].to_numpy()) for c in ("params", "tokens", "loss"))

    def objective(theta):
        a, b, e, alpha, beta = theta
        pred = logsumexp([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)], axis=0)
        return huber(1e-3, pred - log_l).sum()

    grid = list(itertools.product(np.arange(0, 30, 5), np.arange(0, 30, 5), np.arange(-1, 1.5, 0.5),
                                  np.arange(0, 2.5, 0.5), np.arange(0, 2.5, 0.5)))[:n_starts]
    start = time.perf_counter()
    best = min((minimize(objective, x0, method="L-BFGS-B") for x0 in grid), key=lambda r: r.fun)
    return best.x, time.perf_counter() - start, len(grid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=4500)
    args = parser.parse_args()
    t0 = time.perf_counter()
    import bayeslaws as bl

    t_import = time.perf_counter() - t0
    runs = bl.datasets.load("chinchilla_epoch", fit_rows=True)
    law = bl.laws.get("chinchilla")
    times = []
    for seed in (0, 1):
        t = time.perf_counter()
        fit = law.fit(runs, seed=seed)
        times.append(time.perf_counter() - t)
        rep = fit.diagnostics()
        print(f"bayeslaws fit seed={seed}: {times[-1]:.1f} s  (max R-hat "
              f"{max(rep['rhat'].values()):.3f}, min bulk ESS {min(rep['ess_bulk'].values()):.0f}, "
              f"divergences {rep['divergences']})")
    x, t_grid, n = huber_grid_fit(runs, args.starts)
    a, b, e, alpha, beta = x
    print(f"Huber + L-BFGS grid ({n} starts): {t_grid:.1f} s; E={np.exp(e):.4f} A={np.exp(a):.1f} "
          f"B={np.exp(b):.1f} alpha={alpha:.4f} beta={beta:.4f}")
    print(f"import bayeslaws: {t_import:.1f} s")
    print(f"ratio grid / bayeslaws cold fit: {t_grid / times[0]:.1f}x; grid / warm fit: "
          f"{t_grid / times[1]:.1f}x")
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python "
          f"{platform.python_version()}")


if __name__ == "__main__":
    import numpy as np

    main()
