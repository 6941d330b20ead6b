"""What the commands share: printing tables, writing CSVs whole, reading a user's runs."""

from __future__ import annotations

import os
import sys

def _print_table(frame, out=None) -> None:
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 50,
                           "display.max_colwidth", 80):
        print(frame.to_string(float_format=lambda v: f"{v:.4g}"), file=out or sys.stdout)


def _write_csv(frame, path, **kwargs) -> None:
    from ..files import atomic_write

    atomic_write(path, lambda tmp: frame.to_csv(tmp, **kwargs))


def _check_folder(out: str) -> None:
    from ..errors import BayeslawsError

    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise BayeslawsError(f"cannot write {out}: folder {folder} does not exist")


def _source(args):
    """The --columns/--family/--loss-unit/--scale/--drop-missing flags as a mapping.Source."""
    from ..mapping import source

    return source(args.columns, family=args.family_column, loss_unit=args.loss_unit,
                  scale=args.scale, drop_missing=getattr(args, "drop_missing", False))


def _fit_options(src) -> dict:
    """The keyword arguments of Law.fit for the flags given (none when none were)."""
    kw = {"columns": src.columns or None, "family": None if src.family == "family" else src.family,
          "loss_unit": src.loss_unit, "scale": src.scale or None,
          "drop_missing": src.drop_missing or None}
    return {k: v for k, v in kw.items() if v is not None}


def _read_runs(args, fit, path, *, fit_query: bool = False):
    """A user's table of runs for ``fit`` (predict, --holdout): read in any format, then mapped
    to bayeslaws' columns and units as the fit was (and as the flags say)."""
    from .. import datasets
    from ..data import read_table
    from ..mapping import for_fit

    rows = read_table(path, sep=args.sep)
    if (fit_query and path in datasets.names() and not os.path.exists(path)
            and datasets.CATALOGUE[path].fit_query):
        fitted = rows.query(datasets.CATALOGUE[path].fit_query).index
        rows = rows.drop(index=fitted).reset_index(drop=True)
    return rows, for_fit(fit, rows, overrides=_source(args))


def _print_densing(fit, prob) -> None:
    """The densing trend of a densing fit: doubling time and ln(rho_max) per release."""
    trend = fit.densing_trend()
    print(f"densing law ln(rho_max) = A t + B over {len(trend.points)} releases since "
          f"{trend.settings['since']} (t in years), {prob:.0%} bounds; published doubling time: "
          "3.3 months (arXiv:2412.04315), 3.5 (Nature MI 2025):")
    _print_table(trend.table(prob))
    print()


def _note_approximate(fit) -> None:
    """One stderr line when ``fit`` is a quick (Laplace) fit: its numbers are approximate."""
    from ..fit import approximate_note

    note = approximate_note(fit)
    if note:
        print(f"note: {note}", file=sys.stderr)
