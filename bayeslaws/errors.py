"""Exceptions and warnings raised by bayeslaws.

Every error a user can cause (bad data, a bad argument, a file that is not a fit) derives from
:class:`BayeslawsError`; the CLI turns these into exit code 2 with a one-line reason.
"""

from __future__ import annotations


class BayeslawsError(Exception):
    """Base class of errors caused by user input (the CLI maps them to exit code 2)."""


class DataError(BayeslawsError, ValueError):
    """A run table that cannot be used as it is.

    Parameters
    ----------
    message : str
        What is wrong and how to fix it.
    column : str, optional
        The offending column.
    rows : list of int, optional
        The offending rows (0-based positions in the table as given).
    """

    def __init__(self, message: str, *, column: str | None = None, rows=None):
        super().__init__(message)
        self.column = column
        self.rows = [int(r) for r in rows] if rows is not None else []


class SpecError(BayeslawsError, ValueError):
    """An unknown law, dataset, option or a malformed model spec."""


class FitFileError(BayeslawsError, OSError):
    """A file that cannot be read back as a bayeslaws fit."""


class ClusterError(BayeslawsError, ConnectionError):
    """A Dask cluster given to :func:`bayeslaws.batch.fit_many` that cannot be used (no scheduler
    answers at the address, or it has no workers)."""


class ConvergenceWarning(UserWarning):
    """The sampler did not converge well enough to trust the posterior."""


class ExtrapolationWarning(UserWarning):
    """A prediction lies far outside the range of the fitted data."""


def format_rows(rows, limit: int = 8) -> str:
    """Render 0-based row positions for a message as the user counts rows in a file: from 1, the
    first row under the header, e.g. ``rows 4, 8, 10 (and 12 more; counted from 1 under the
    header)``."""
    rows = [int(r) + 1 for r in rows]
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f"and {len(rows) - limit} more; " if len(rows) > limit else ""
    return f"row{'s' if len(rows) != 1 else ''} {shown} ({more}counted from 1 under the header)"
