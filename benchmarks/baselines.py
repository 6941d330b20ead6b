"""The Chinchilla-law fits people run today, as baselines for the benchmarks.

* Hoffmann et al. / Epoch (Besiroglu et al. 2024): Huber loss (delta 1e-3) on
  ``log L - LSE(a - alpha log N, b - beta log D, e)``, L-BFGS from a grid of 4,500 starts
  (alpha, beta in {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}).
* Epoch-style bootstrap of it: rows resampled with replacement, refitted from the full-data
  optimum; the predictive adds a resampled residual of the full fit, so the intervals include
  noise as well as parameter spread (the generous version of the baseline).
* ``scipy.optimize.curve_fit`` on log loss with its covariance: parameter draws from
  N(theta_hat, pcov) plus Normal residual noise at the fitted residual sd.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import curve_fit, minimize
from scipy.special import logsumexp

HUBER_DELTA = 1e-3


def _logs(frame):
    return (np.log(frame["params"].to_numpy(float)), np.log(frame["tokens"].to_numpy(float)))


def log_law(theta, log_n, log_d):
    """log L = LSE(a - alpha log N, b - beta log D, e) (Hoffmann et al. 2022, Eq. 10 in logs)."""
    a, b, e, alpha, beta = theta
    return logsumexp([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)], axis=0)


def _huber_objective(theta, log_n, log_d, log_l):
    """Huber loss and its gradient (analytic, so L-BFGS is fast)."""
    a, b, e, alpha, beta = theta
    terms = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
    pred = logsumexp(terms, axis=0)
    r = pred - log_l
    small = np.abs(r) <= HUBER_DELTA
    loss = np.where(small, 0.5 * r**2, HUBER_DELTA * (np.abs(r) - 0.5 * HUBER_DELTA)).sum()
    dr = np.where(small, r, HUBER_DELTA * np.sign(r))
    w = np.exp(terms - pred)  # softmax weights of the three terms
    grad = np.array([np.sum(dr * w[0]), np.sum(dr * w[1]), np.sum(dr * w[2]),
                     -np.sum(dr * w[0] * log_n), -np.sum(dr * w[1] * log_d)])
    return loss, grad


def hoffmann_grid():
    """The 4,500 starting points of Hoffmann et al. (as replicated by Epoch)."""
    return np.array(list(itertools.product(np.arange(0, 30, 5), np.arange(0, 30, 5),
                                           np.arange(-1, 1.5, 0.5), np.arange(0, 2.5, 0.5),
                                           np.arange(0, 2.5, 0.5))), dtype=float)


def huber_fit(frame, starts=None, *, screen: int | None = 100):
    """Best Huber/L-BFGS fit over ``starts`` (default: the full grid). Returns theta.

    With ``screen``, the objective is evaluated at every start and L-BFGS runs from the
    ``screen`` best only (on the bundled data the full 4,500-start search and the screened one
    reach the same optimum; the full search costs minutes per fit on 2 cores).
    """
    log_n, log_d = _logs(frame)
    log_l = np.log(frame["loss"].to_numpy(float))
    starts = hoffmann_grid() if starts is None else np.atleast_2d(starts)
    if screen and len(starts) > screen:
        values = np.array([_huber_objective(x0, log_n, log_d, log_l)[0] for x0 in starts])
        starts = starts[np.argsort(values)[:screen]]
    best = None
    for x0 in starts:
        res = minimize(_huber_objective, x0, args=(log_n, log_d, log_l), jac=True,
                       method="L-BFGS-B")
        if best is None or res.fun < best.fun:
            best = res
    return best.x


def bootstrap_samples(frame, theta, new, *, reps: int = 200, seed: int = 0) -> np.ndarray:
    """Predictive samples (reps, rows) at ``new`` from a row bootstrap of the Huber fit."""
    rng = np.random.default_rng(seed)
    log_n, log_d = _logs(frame)
    resid = np.log(frame["loss"].to_numpy(float)) - log_law(theta, log_n, log_d)
    new_n, new_d = _logs(new)
    out = np.empty((reps, len(new)))
    for i in range(reps):
        idx = rng.integers(0, len(frame), len(frame))
        th = huber_fit(frame.iloc[idx], starts=theta)
        out[i] = log_law(th, new_n, new_d) + rng.choice(resid, len(new))
    return np.exp(out)


def curve_fit_samples(frame, theta0, new, *, size: int = 4000, seed: int = 0) -> np.ndarray:
    """Predictive samples (size, rows) from least squares on log loss with its covariance."""
    log_n, log_d = _logs(frame)
    log_l = np.log(frame["loss"].to_numpy(float))

    def f(xy, a, b, e, alpha, beta):
        return log_law((a, b, e, alpha, beta), xy[0], xy[1])

    theta, pcov = curve_fit(f, np.vstack([log_n, log_d]), log_l, p0=theta0, maxfev=20000)
    sd = np.std(log_l - f(np.vstack([log_n, log_d]), *theta), ddof=len(theta))
    rng = np.random.default_rng(seed)
    if not np.all(np.isfinite(pcov)):  # singular Jacobian: no parameter spread to report
        pcov = np.zeros_like(pcov)
    draws = rng.multivariate_normal(theta, pcov, size=size, method="eigh")
    new_n, new_d = _logs(new)
    out = np.stack([log_law(th, new_n, new_d) for th in draws])
    return np.exp(out + rng.normal(0, sd, out.shape))
