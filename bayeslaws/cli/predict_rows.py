"""Rows given on the command line: ``predict --params/--tokens/--flops`` and ``--frontier``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import BayeslawsError
from ..optimal import frontier_inputs


def _families(fit, args) -> list[str] | None:
    """The families asked for (default: every fitted one; None for a one-family fit)."""
    if args.family_name:
        return list(dict.fromkeys(args.family_name))
    return list(fit.families) if len(fit.families) > 1 else None


def _broadcast(values: dict[str, list[float]]) -> dict[str, np.ndarray]:
    """Flag values of one or n entries each, as columns of n rows."""
    n = max(len(v) for v in values.values())
    for name, v in values.items():
        if len(v) not in (1, n):
            raise BayeslawsError(f"--{name} was given {len(v)} times and another flag {n} times: "
                                 "give each once (used for every row) or once per row")
    return {name: np.resize(np.asarray(v, dtype=float), n) for name, v in values.items()}


def inline_rows(fit, args) -> pd.DataFrame:
    """The rows of ``--params``, ``--tokens`` and ``--flops`` (raw counts and FLOPs), one per
    value (or per family asked for), with the third of N, D and C = 6ND derived from two."""
    given = {k: getattr(args, k) for k in ("params", "tokens", "flops") if getattr(args, k)}
    if not given:
        raise BayeslawsError("give the rows' inputs: --params and --tokens (or one of them with "
                             "--flops), or --flops with --frontier")
    if len(given) == 3:
        raise BayeslawsError("give two of --params, --tokens and --flops; the third is 6ND")
    cols = _broadcast(given)
    for name, v in cols.items():
        if not (np.isfinite(v).all() and (v > 0).all()):
            raise BayeslawsError(f"--{name} must be positive numbers")
    if "flops" in cols and "params" in cols:
        cols["tokens"] = cols["flops"] / (6.0 * cols["params"])
    elif "flops" in cols and "tokens" in cols:
        cols["params"] = cols["flops"] / (6.0 * cols["tokens"])
    elif "flops" in cols and "flops" not in fit.law.inputs:
        raise BayeslawsError(f"law {fit.law.name!r} takes {', '.join(fit.law.inputs)}: with "
                             "--flops give --params or --tokens too, or --frontier for the "
                             "compute-optimal allocation")
    frame = pd.DataFrame(cols)
    families = _families(fit, args)
    if families is None:
        return frame
    column = fit.config["family_column"]
    return pd.concat([frame.assign(**{column: f}) for f in families],
                     ignore_index=True)[[column, *frame.columns]]


def frontier_table(fit, args, prob: float) -> pd.DataFrame:
    """The forecast at the compute-optimal allocation of each ``--flops`` budget: each posterior
    draw is evaluated at its own N*, D* (:func:`bayeslaws.optimal.optimal`), so the interval
    holds the uncertainty of the optimum as well as of the loss there; the extrapolation
    discrepancy and observation noise are added as for any row."""
    if not args.flops:
        raise BayeslawsError("--frontier needs --flops C (one or more budgets)")
    if args.params or args.tokens:
        raise BayeslawsError("--frontier chooses params and tokens itself: drop --params/--tokens")
    column = fit.config["family_column"]
    families = _families(fit, args) or list(fit.families)
    budgets = [float(c) for c in args.flops]
    if not all(np.isfinite(c) and c > 0 for c in budgets):
        raise BayeslawsError("--flops must be positive numbers of FLOPs")
    parts = []
    for fam in families:
        draws = frontier_inputs(fit, budgets, fam, seed=args.seed)
        n, d = draws["params"], draws["tokens"]
        rows = pd.DataFrame({column: fam, "flops": budgets, "params": np.median(n, axis=(0, 1)),
                             "tokens": np.median(d, axis=(0, 1))})
        pred = fit.predict(rows, seed=args.seed, input_draws=draws, new_families=args.new_family)
        table = pred.summary(prob)
        ratio = np.median(d / n, axis=(0, 1))
        table.insert(table.columns.get_loc("tokens") + 1, "tokens_per_param", ratio)
        parts.append(table.rename(columns={"params": "params_opt", "tokens": "tokens_opt"}))
    out = pd.concat(parts, ignore_index=True)
    return out if len(fit.families) > 1 or args.family_name else out.drop(columns=column)

