"""Compare fitted laws by PSIS-LOO (ArviZ), with the Pareto-k diagnostics kept visible.

Scaling-law tables are small, so the ``diag_*`` columns (Pareto k above 0.7, N < 100) are part of
the answer, not noise. Leave-largest-out extrapolation scores join this table with the
calibrated-extrapolation work.
"""

from __future__ import annotations

import warnings

import pandas as pd

from .errors import BayeslawsError


def compare(fits: dict) -> pd.DataFrame:
    """elpd-LOO of each fit, ranked, as ArviZ's ``compare`` table.

    Parameters
    ----------
    fits : dict
        ``{name: Fit}``; all fitted to the same rows and target.

    Raises
    ------
    BayeslawsError
        With fewer than two fits, or fits of different targets or row counts.
    """
    import arviz as az

    if len(fits) < 2:
        raise BayeslawsError("compare needs at least two fits")
    targets = {f.law.target for f in fits.values()}
    rows = {len(f.data) for f in fits.values()}
    if len(targets) > 1 or len(rows) > 1:
        raise BayeslawsError("fits must share the target and the data rows to be compared by LOO "
                             f"(targets {sorted(targets)}, row counts {sorted(rows)})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.compare({name: fit.idata for name, fit in fits.items()})
