r"""Proper scores of probabilistic forecasts given as samples: coverage, CRPS, error, width.

Every function takes ``samples`` of shape ``(n_samples, n_rows)`` (draws of the predictive) and
the observed ``y`` of shape ``(n_rows,)``, both on the target's natural scale; positive targets
are scored on the log scale where a relative measure is meant (CRPS of log loss is, to first
order, a relative error, so datasets of different losses can be averaged).

References
----------
Gneiting & Raftery 2007, "Strictly proper scoring rules, prediction, and estimation", JASA 102.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Interval probabilities scored by :func:`score_table`.
PROBS = (0.5, 0.8, 0.9)


def _bounds(samples: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.quantile(samples, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    return lo, hi


def coverage(samples: np.ndarray, y: np.ndarray, prob: float) -> np.ndarray:
    """Per row: 1 when ``y`` lies in the equal-tailed ``prob`` interval of the samples."""
    lo, hi = _bounds(samples, prob)
    return ((y >= lo) & (y <= hi)).astype(float)


def crps(samples: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Continuous ranked probability score per row, from samples (lower is better).

    .. math:: \mathrm{CRPS}(F, y) = E|X - y| - \tfrac12 E|X - X'|,

    with :math:`E|X-X'| = \frac{2}{m^2}\sum_i (2i - m - 1)\, x_{(i)}` over the sorted samples.
    A point forecast (one sample) scores its absolute error.
    """
    x = np.sort(np.asarray(samples, dtype=float), axis=0)
    m = x.shape[0]
    term1 = np.mean(np.abs(x - y[None, :]), axis=0)
    weights = (2 * np.arange(1, m + 1) - m - 1)[:, None]
    term2 = np.sum(weights * x, axis=0) / m**2
    return term1 - term2


def score_table(samples: np.ndarray, y: np.ndarray, probs=PROBS) -> dict[str, float]:
    """Summary scores of a forecast over its rows.

    Returns
    -------
    dict
        ``coverage_50`` ... (share of rows inside each interval), ``crps_log`` (mean CRPS of
        log target, x100: about percent), ``abs_rel_err`` (median over rows of
        ``|median / y - 1|``), ``width_90`` (median relative width of the 90% interval), ``rows``.
    """
    samples = np.asarray(samples, dtype=float)
    y = np.asarray(y, dtype=float)
    out: dict[str, float] = {"rows": int(len(y))}
    for prob in probs:
        out[f"coverage_{round(prob * 100)}"] = float(np.mean(coverage(samples, y, prob)))
    med = np.median(samples, axis=0)
    with np.errstate(divide="ignore"):
        logs = np.log(samples)
    # A heavy-tailed (Student-t) predictive may have no finite mean; samples more than a factor
    # e from the median are scored as a factor e off, which keeps CRPS finite and changes
    # nothing for any forecast whose 99.9% mass is within that range.
    logs = np.clip(logs, np.log(med) - 1.0, np.log(med) + 1.0)
    out["crps_log"] = float(100 * np.mean(crps(logs, np.log(y))))
    out["abs_rel_err"] = float(np.median(np.abs(med / y - 1)))
    lo, hi = _bounds(samples, 0.9)
    out["width_90"] = float(np.median((hi - lo) / med))
    return out


def calibration_curve(samples: np.ndarray, y: np.ndarray,
                      nominal=np.round(np.arange(0.05, 1.0, 0.05), 2)) -> pd.DataFrame:
    """Observed coverage at each nominal level: columns ``nominal``, ``observed``."""
    return pd.DataFrame({"nominal": nominal,
                         "observed": [float(np.mean(coverage(samples, y, p))) for p in nominal]})


def group_pit(samples: np.ndarray, y: np.ndarray, groups) -> pd.Series:
    r"""Probability integral transform of each group's mean log target.

    Forecast errors of runs of one family beyond the data are strongly correlated (one drift
    path), so row-level coverage counts one systematic miss many times. Per group :math:`g`,

    .. math:: \mathrm{PIT}_g = P\Big(\tfrac{1}{n_g}\sum_{i \in g} \log \tilde y_i
              \le \tfrac{1}{n_g}\sum_{i \in g} \log y_i\Big),

    with :math:`\tilde y` the joint predictive draws (samples keep the correlation across rows).
    A calibrated forecast gives PITs uniform on (0, 1); a central ``p`` interval of the group
    mean covers it when :math:`|\mathrm{PIT} - 1/2| \le p/2`.

    Parameters
    ----------
    samples : numpy.ndarray
        Joint predictive draws, ``(n_samples, n_rows)``, positive.
    y : numpy.ndarray
        Observed values, ``(n_rows,)``, positive.
    groups : array-like
        Group label of each row (e.g. the family).

    Returns
    -------
    pandas.Series
        PIT per group (index: group label, in order of first appearance).
    """
    groups = np.asarray(groups)
    with np.errstate(divide="ignore", invalid="ignore"):  # a sample <= 0 counts as below y
        log_s, log_y = np.log(samples), np.log(y)
    out = {}
    for g in dict.fromkeys(groups.tolist()):
        sel = groups == g
        sim = log_s[:, sel].mean(axis=1)
        obs = log_y[sel].mean()
        # mid-rank for ties (a point forecast gives 0, 1/2 or 1)
        out[g] = float((np.sum(sim < obs) + 0.5 * np.sum(sim == obs)) / len(sim))
    return pd.Series(out, name="pit")
