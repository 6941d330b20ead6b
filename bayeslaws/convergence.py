r"""R-hat and effective sample sizes in NumPy: ArviZ's numbers without importing ArviZ.

Every fit checks its convergence (:mod:`bayeslaws.diagnostics`) and every summary reports R-hat
and ESS (:meth:`bayeslaws.fit.Fit.summary`). ArviZ computes them, but importing it
(``arviz_stats``, ``arviz_plots``, matplotlib) costs seconds on the command line, more than the
diagnostics themselves; this module computes the same quantities with NumPy alone, vectorised
over every element of every variable at once.

The estimators are those of Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), as ArviZ 1
(``arviz_stats.base.diagnostics``) implements them, step for step:

* **split chains**: each chain's first and last ``draws // 2`` draws become two chains
  (an odd middle draw is dropped);
* **rank normalisation**: the pooled draws :math:`\theta` of all split chains are replaced by
  :math:`z = \Phi^{-1}((r - 3/8) / (S - 3/4 + 1))`, :math:`r` their average rank among the
  :math:`S` pooled draws (Blom 1958);
* **R-hat** (:func:`rhat`, ArviZ's default method ``"rank"``): the larger of the split R-hat of
  the rank-normalised draws (bulk) and of the rank-normalised *folded* draws
  :math:`|\theta - \operatorname{median}\theta|` (tails), where for :math:`M` chains of
  :math:`N` draws, chain means :math:`\bar\theta_m` and variances :math:`s_m^2`,

  .. math:: B = N \operatorname{var}(\bar\theta_m), \quad W = \overline{s_m^2}, \quad
            \hat R = \sqrt{\frac{B / W + N - 1}{N}};

* **ESS** (:func:`ess`): :math:`MN / \hat\tau` with :math:`\hat\tau = -1 + 2 \sum_t
  \hat\rho_t`, the autocorrelations :math:`\hat\rho_t = 1 - (W - \bar\gamma_t) / \widehat{var}^+`
  combined across chains (:math:`\gamma_t` each chain's autocovariance, by FFT), truncated by
  Geyer's initial positive sequence and made monotone (Geyer's initial monotone sequence), and
  :math:`\hat\tau \ge 1/\log_{10}(MN)`. ``"bulk"``: of the rank-normalised split chains;
  ``"tail"``: the smaller of the ESS of the indicators :math:`I(\theta \le q_p)` at the
  quantiles :math:`p` and :math:`1 - p` (``prob``; ArviZ's default ``stats.ci_prob`` is 0.89,
  so the 0.11 and 0.89 quantiles).

Degenerate inputs give what ArviZ gives: NaN for R-hat with fewer than 2 chains, for either
with fewer than 4 draws, or with any NaN draw; a constant variable has R-hat NaN (0/0) and ESS
equal to the number of (split) draws.

Layer: a foundation (NumPy only; xarray only for Datasets passed in).

References
----------
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B., & Bürkner, P.-C. (2021). Rank-normalization,
folding, and localization: An improved R-hat for assessing convergence of MCMC. *Bayesian
Analysis*, 16(2), 667-718. https://doi.org/10.1214/20-BA1221

Geyer, C. J. (1992). Practical Markov chain Monte Carlo. *Statistical Science*, 7(4), 473-483.
"""

from __future__ import annotations

import numpy as np

#: ArviZ's default ``rcParams["stats.ci_prob"]``: the tail ESS uses the 0.11 and 0.89 quantiles.
TAIL_PROB = 0.89
#: Sample dimensions of a posterior Dataset.
SAMPLE_DIMS = ("chain", "draw")

__all__ = ["TAIL_PROB", "ess", "rhat"]


# ---------------------------------------------------------------------------------- helpers
def _flat(ary) -> tuple[np.ndarray, tuple]:
    """``(chain, draw, ...)`` as float ``(chain, draw, K)`` and the trailing shape."""
    a = np.asarray(ary, dtype=float)
    if a.ndim < 2:
        raise ValueError(f"draws must have dims (chain, draw, ...), got shape {a.shape}")
    return a.reshape(a.shape[0], a.shape[1], -1), a.shape[2:]


def _invalid(a: np.ndarray, min_chains: int) -> np.ndarray:
    """Elements ArviZ returns NaN for (``arviz_stats.base.stats_utils.not_valid``): any NaN
    draw, fewer than ``min_chains`` chains or fewer than 4 draws."""
    bad = np.isnan(a).any(axis=(0, 1))
    if a.shape[0] < min_chains or a.shape[1] < 4:
        bad[:] = True
    return bad


def _split(a: np.ndarray) -> np.ndarray:
    """Split chains: ``(M, N, K)`` -> ``(2M, N // 2, K)`` (first and last halves)."""
    half = a.shape[1] // 2
    return np.concatenate([a[:, :half], a[:, a.shape[1] - half:]], axis=0)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n along axis 0, ties given their average rank (``scipy.stats.rankdata``'s
    ``"average"``), for every column at once."""
    n = x.shape[0]
    order = np.argsort(x, axis=0, kind="stable")
    s = np.take_along_axis(x, order, axis=0)
    pos = np.broadcast_to(np.arange(n)[:, None], s.shape)
    first = np.ones(s.shape, dtype=bool)
    first[1:] = s[1:] != s[:-1]
    last = np.ones(s.shape, dtype=bool)
    last[:-1] = first[1:]
    start = np.maximum.accumulate(np.where(first, pos, 0), axis=0)
    end = np.minimum.accumulate(np.where(last, pos, n - 1)[::-1], axis=0)[::-1]
    ranks = np.empty(s.shape)
    np.put_along_axis(ranks, order, (start + end) / 2.0 + 1.0, axis=0)
    return ranks


def _z_scale(a: np.ndarray) -> np.ndarray:
    r"""Rank normalisation of ``(M, N, K)`` over the pooled ``M N`` draws of each element:
    :math:`\Phi^{-1}((r - 3/8)/(MN - 3/4 + 1))`."""
    from scipy.special import ndtri

    m, n, k = a.shape
    ranks = _average_ranks(a.reshape(m * n, k))
    return ndtri((ranks - 0.375) / (m * n - 0.75 + 1.0)).reshape(m, n, k)


def _fold(a: np.ndarray) -> np.ndarray:
    """:math:`|\\theta - \\operatorname{median}\\theta|` over the pooled draws of each element."""
    return np.abs(a - np.median(a, axis=(0, 1), keepdims=True))


def _rhat_core(a: np.ndarray) -> np.ndarray:
    """Gelman-Rubin R-hat of ``(M, N, K)`` (chains already split / normalised)."""
    n = a.shape[1]
    between = n * np.var(a.mean(axis=1), axis=0, ddof=1)
    within = np.mean(np.var(a, axis=1, ddof=1), axis=0)
    return np.sqrt((between / within + n - 1) / n)


def _fast_len(target: int) -> int:
    """Smallest :math:`2^a 3^b 5^c \\ge` ``target`` (``scipy.fftpack.next_fast_len``)."""
    best = 1 << max(0, int(target) - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            q = -(-target // p35)  # smallest power of two with p35 * 2^a >= target
            cand = p35 * (1 << max(0, q - 1).bit_length())
            best = min(best, cand)
            p35 *= 3
        p5 *= 5
    return best


def _autocov(a: np.ndarray) -> np.ndarray:
    """Autocovariance of each chain at every lag along axis 1 (by FFT, biased: divided by N)."""
    n = a.shape[1]
    m = _fast_len(2 * n)
    c = a - a.mean(axis=1, keepdims=True)
    f = np.fft.rfft(c, n=m, axis=1)
    f *= np.conjugate(f)
    return np.fft.irfft(f, n=m, axis=1)[:, :n] / n


def _ess_core(a: np.ndarray) -> np.ndarray:
    """ESS of ``(M, N, K)`` (chains already split / transformed): ArviZ's ``_ess``, with Geyer's
    initial positive and monotone sequences computed for all elements at once."""
    m, n, k = a.shape
    total = m * n
    with np.errstate(all="ignore"):
        acov = _autocov(a)                                   # (M, N, K)
        mean_var = acov[:, 0].mean(axis=0) * n / (n - 1.0)   # (K,)
        var_plus = mean_var * (n - 1.0) / n
        if m > 1:
            var_plus = var_plus + np.var(a.mean(axis=1), axis=0, ddof=1)
        rho = 1.0 - (mean_var - acov.mean(axis=0)) / var_plus   # (N, K), lag 0 unused
    # pair sums P_0 = 1 + rho_1, P_j = rho_2j + rho_2j+1; ArviZ's loop computes pairs
    # j = 1..J, continuing while the previous pair sum is > 0 and 2j - 1 < N - 3
    j_max = max(0, (n - 3) // 2)
    pairs = np.empty((j_max + 1, k))
    pairs[0] = 1.0 + rho[1] if n > 1 else np.nan
    if j_max:
        pairs[1:] = rho[2:2 * j_max + 2:2] + rho[3:2 * j_max + 2:2]
    with np.errstate(invalid="ignore"):
        positive = pairs[:j_max] > 0
    n_pairs = np.cumprod(positive, axis=0).sum(axis=0) if j_max else np.zeros(k, dtype=int)
    # Geyer's initial monotone sequence: each kept pair sum is at most the one before
    mono = np.minimum.accumulate(pairs, axis=0)
    kept = np.arange(j_max + 1)[:, None] < n_pairs[None, :]
    head = np.where(kept, mono, 0.0).sum(axis=0)
    # the element after the last kept pair: the last computed pair's even term where positive
    # (or where that pair was kept, sum >= 0), else 0; with no pair computed, rho_0 = 1
    last = np.take_along_axis(pairs, n_pairs[None, :], axis=0)[0]
    even = np.where(n_pairs > 0, rho[np.minimum(2 * n_pairs, n - 1), np.arange(k)], 1.0)
    with np.errstate(invalid="ignore"):
        extra = np.where((even > 0) | ((n_pairs > 0) & (last >= 0)), even, 0.0)
    tau = -1.0 + 2.0 * head + extra
    tau = np.maximum(tau, 1.0 / np.log10(total))
    out = total / tau
    if n > 1:
        out = np.where(np.isnan(rho[1]), np.nan, out)
    constant = (a.max(axis=(0, 1)) - a.min(axis=(0, 1))) < np.finfo(float).resolution
    return np.where(constant, float(total), out)


# ---------------------------------------------------------------------------------- arrays
def rhat_array(ary) -> np.ndarray:
    """Rank-normalised split R-hat (ArviZ's ``rhat``, method ``"rank"``) of draws with dims
    ``(chain, draw, ...)``; returns the trailing shape."""
    a, shape = _flat(ary)
    bad = _invalid(a, min_chains=2)
    out = np.full(a.shape[2], np.nan)
    ok = np.flatnonzero(~bad)
    if ok.size:
        s = _split(a[:, :, ok])
        with np.errstate(all="ignore"):
            bulk = _rhat_core(_z_scale(s))
            tail = _rhat_core(_z_scale(_fold(s)))
        out[ok] = np.where(tail > bulk, tail, bulk)  # Python's max(bulk, tail), NaN included
    return out.reshape(shape)


def ess_array(ary, method: str = "bulk", prob: float = TAIL_PROB) -> np.ndarray:
    """Bulk or tail effective sample size (ArviZ's ``ess``, ``relative=False``) of draws with dims
    ``(chain, draw, ...)``; returns the trailing shape.

    ``prob`` (tail only): the quantiles ``prob`` and ``1 - prob`` whose indicators are used.
    """
    if method not in ("bulk", "tail"):
        raise ValueError(f"method must be 'bulk' or 'tail', not {method!r}")
    a, shape = _flat(ary)
    bad = _invalid(a, min_chains=1)
    out = np.full(a.shape[2], np.nan)
    ok = np.flatnonzero(~bad)
    if ok.size:
        sub = a[:, :, ok]
        if method == "bulk":
            out[ok] = _ess_core(_z_scale(_split(sub)))
        else:
            lo, hi = sorted((prob, 1.0 - prob))
            flat = sub.reshape(-1, ok.size)
            q = np.quantile(flat, [lo, hi], axis=0)
            e_lo = _ess_core(_split((sub <= q[0]).astype(float)))
            e_hi = _ess_core(_split((sub <= q[1]).astype(float)))
            out[ok] = np.where(e_hi < e_lo, e_hi, e_lo)  # Python's min(lo, hi)
    return out.reshape(shape)


# ---------------------------------------------------------------------------------- xarray
def _apply(func, data, **kwargs):
    """``func`` over the ``(chain, draw)`` dims of a Dataset / DataArray, or of an array."""
    import xarray as xr

    if isinstance(data, xr.Dataset):
        return xr.Dataset({name: _apply(func, da, **kwargs) for name, da in data.data_vars.items()})
    if isinstance(data, xr.DataArray):
        other = [d for d in data.dims if d not in SAMPLE_DIMS]
        da = data.transpose(*SAMPLE_DIMS, *other)
        coords = {c: v for c, v in da.coords.items() if not set(v.dims) & set(SAMPLE_DIMS)}
        return xr.DataArray(func(da.values, **kwargs), dims=other, coords=coords, name=data.name)
    return func(data, **kwargs)


def rhat(data):
    """Rank-normalised split R-hat of every element: ``az.rhat(data)`` without ArviZ.

    Parameters
    ----------
    data : xarray.Dataset, xarray.DataArray or array-like
        Draws with dims ``chain`` and ``draw`` (an array: axes ``(chain, draw, ...)``).

    Returns
    -------
    Same kind as ``data`` without the sample dims: the larger of the bulk and tail (folded)
    rank-normalised split R-hat (Vehtari et al. 2021, ArviZ's method ``"rank"``).
    """
    return _apply(rhat_array, data)


def ess(data, method: str = "bulk", prob: float = TAIL_PROB):
    """Bulk or tail effective sample size of every element: ``az.ess(data, method=method)``
    without ArviZ.

    Parameters
    ----------
    data : xarray.Dataset, xarray.DataArray or array-like
        Draws with dims ``chain`` and ``draw`` (an array: axes ``(chain, draw, ...)``).
    method : {"bulk", "tail"}
        Bulk: ESS of the rank-normalised split chains. Tail: the smaller ESS of the indicators
        of the ``1 - prob`` and ``prob`` quantiles (Vehtari et al. 2021).
    prob : float
        Tail quantile level; ArviZ's default (``rcParams["stats.ci_prob"]``) is 0.89.
    """
    return _apply(ess_array, data, method=method, prob=prob)
