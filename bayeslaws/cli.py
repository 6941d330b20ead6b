"""The ``bayeslaws`` command line (the contract of DESIGN.md).

Exit codes: 0 success (warnings go to stderr); 2 bad input or arguments, with a one-line reason on
stderr; 1 an internal error, with a one-line message suggesting ``--debug`` for the traceback;
130 interrupted (Ctrl-C), with a one-line message and no partial output file.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings

from .progress import PROGRESS

BAD_INPUT = 2
INTERNAL = 1
INTERRUPTED = 130
INTERRUPT_MESSAGE = "interrupted; nothing was written"


class UsageError(Exception):
    """Bad command-line arguments (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a seed (an integer from 0 to 2**32 - 1), got "
                                         f"{text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to 2**32 - 1, got {value}")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = _Parser(prog="bayeslaws", description="Hierarchical Bayesian scaling laws with honest "
                "uncertainty.")
    p.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("datasets", help="list bundled datasets")
    sub.add_parser("laws", help="list registered laws")

    f = sub.add_parser("fit", help="fit a law (by name) or a models/ spec (YAML)")
    f.add_argument("law", help="law name (chinchilla, kaplan, power-law) or SPEC.yaml")
    f.add_argument("--data", help="CSV path or bundled dataset name")
    f.add_argument("--out", help="output fit file (.nc)")
    f.add_argument("--draws", type=_positive_int)
    f.add_argument("--tune", type=_positive_int)
    f.add_argument("--chains", type=_positive_int)
    f.add_argument("--seed", type=_seed)
    f.add_argument("--sampler", choices=["numpyro", "nutpie", "pymc"])
    f.add_argument("--target-accept", type=_float)
    f.add_argument("--dense-mass", action="store_true", default=None,
                   help="adapt a dense mass matrix in NUTS (parameters that trade off linearly)")
    f.add_argument("--float32", action="store_true", default=None,
                   help="single precision (numpyro only; faster on a GPU)")
    f.add_argument("--input", help="input column of power-law, bnsl or m4 (flops, params, tokens or "
                   "seen_examples)")
    f.add_argument("--pooling", choices=["partial", "centred", "shared", "independent"],
                   help="how parameters are shared across families (default partial: "
                   "non-centred partial pooling; centred: the same, for many runs per family)")
    f.add_argument("--all-rows", action="store_true",
                   help="use every row of a bundled dataset (no default selection)")
    f.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    f.add_argument("--no-extrapolation", action="store_true",
                   help="skip learning the extrapolation discrepancy (forecasts beyond the data "
                        "then use the plain posterior predictive, which is too narrow there)")

    pr = sub.add_parser("predict", help="forecast new rows with a fitted law")
    pr.add_argument("fit")
    pr.add_argument("--data", required=True, help="CSV of rows to predict (law inputs, optional family)")
    pr.add_argument("--out", required=True, help="output CSV")
    pr.add_argument("--prob", type=_float, default=0.9)
    pr.add_argument("--seed", type=_seed, default=0)
    pr.add_argument("--chain", metavar="FIRST.nc",
                    help="a fit whose forecasts feed FIT's input of the same name (e.g. a loss "
                         "fit into a downstream-error fit); draws are paired")

    o = sub.add_parser("optimal", help="the law's optimum: compute-optimal N*, D* at a FLOP "
                       "budget; vocab: optimal vocabulary; batch-size: optimal learning rate and "
                       "batch size at (N, D), and the critical batch size; capacity-gap: optimal "
                       "teacher for student --params; knowledge: bits per parameter at "
                       "--exposures; densing: effective size, density and the densing trend")
    o.add_argument("fit")
    o.add_argument("--flops", type=_float,
                   help="training budget C (FLOPs); required except for batch-size fits; vocab: "
                        "default the budget for which --params is compute-optimal")
    o.add_argument("--params", type=_float, action="append",
                   help="vocab: non-vocabulary parameters N_nv (default 0.0834 C^0.5, the "
                        "paper's compute-optimal size at --flops); batch-size: parameters N "
                        "(repeat for several rows); capacity-gap: student parameters N_S "
                        "(repeat for several)")
    o.add_argument("--tokens", type=_float, action="append",
                   help="batch-size: training tokens D (one, or one per --params)")
    o.add_argument("--embed-dim", type=_float,
                   help="vocab: embedding width d (default: the paper's table for N_nv)")
    o.add_argument("--exposures", type=_float, action="append",
                   help="knowledge: exposures per fact (repeat for several; default 100 and "
                        "1000, the paper's)")
    o.add_argument("--bits", type=_float,
                   help="knowledge: a knowledge base size in bits; adds the parameters needed")
    o.add_argument("--family")
    o.add_argument("--unique-tokens", type=_float,
                   help="unique-token budget U of a data-constrained fit (tokens beyond U repeat)")
    o.add_argument("--prob", type=_float, default=0.9)
    o.add_argument("--out", help="also write the table as CSV")

    c = sub.add_parser("compare", help="compare fits of the same rows by PSIS-LOO (with fallbacks)")
    c.add_argument("fits", nargs="+", help="two or more FIT.nc files of the same rows and target")
    c.add_argument("--fallback", choices=["auto", "refit", "kfold", "none"], default="auto",
                   help="for rows with high Pareto k: exact refits, grouped K-fold, or nothing "
                        "(default auto: refits when few, else K-fold)")
    c.add_argument("--max-refits", type=_positive_int, default=10)
    c.add_argument("--folds", type=_positive_int, default=10)
    c.add_argument("--refit-draws", type=_positive_int,
                   help="draws (and tune) of each refit; default: those of the fit")
    c.add_argument("--no-extrapolation", action="store_true",
                   help="skip the leave-largest-out scores (one refit per fit on all but the "
                        "largest 15%% of runs, scored on those)")
    c.add_argument("--holdout", help="held-out rows fixed in advance (CSV, or a bundled dataset "
                   "name: its rows outside the fit selection): each fit forecasts them and is "
                   "scored there (ho_* columns: held-out elpd, RMSE of log, coverage, CRPS)")
    c.add_argument("--out", help="also write the table as CSV")

    pl = sub.add_parser("plot", help="plot a fitted law with credible bands")
    pl.add_argument("fit")
    pl.add_argument("--out", required=True, help="output PNG")
    pl.add_argument("--kind", choices=["fit", "forecast", "isoflop", "frontier", "forest",
                                       "design"],
                    default="fit", help="which figure (default: fit)")
    pl.add_argument("--flops", type=_float,
                    help="forecast: target compute; isoflop: one budget (default: from the data)")
    pl.add_argument("--family", help="isoflop: the family (default: the first)")
    pl.add_argument("--holdout", help="fit/forecast: CSV of held-out runs to mark")
    pl.add_argument("--target-flops", type=_float, help="design: target compute (FLOPs)")
    pl.add_argument("--budget", type=_float, help="design: FLOPs for new runs")

    dg = sub.add_parser("design", help="plan the next runs: candidates ranked by expected "
                        "variance reduction of a forecast per FLOP, and a proposed set")
    dg.add_argument("fit")
    dg.add_argument("--target-flops", type=_float, required=True,
                    help="target compute C (FLOPs) of the forecast")
    dg.add_argument("--budget", type=_float, required=True, help="FLOPs for new runs (6ND each)")
    dg.add_argument("--candidates", help="CSV of candidate runs: params, tokens, optional family "
                    "(default: a grid from the data toward the target)")
    dg.add_argument("--quantity", choices=["loss", "n_opt", "d_opt"], default="loss")
    dg.add_argument("--family", help="whose forecast (a fitted family or a new name); required "
                    "for fits of several families")
    dg.add_argument("--out", help="write the ranked candidates as CSV")
    dg.add_argument("--seed", type=_seed, default=0)

    r = sub.add_parser("report", help="one self-contained HTML page: law, data, posterior, "
                       "diagnostics, forecasts, figures")
    r.add_argument("fit")
    r.add_argument("--out", required=True, help="output HTML file")
    r.add_argument("--flops", type=_float, help="forecast target compute (default: from the data)")
    r.add_argument("--holdout", help="CSV of held-out runs to forecast and mark")

    d = sub.add_parser("demo", help="the main job on bundled data, figure included")
    d.add_argument("--out", default="bayeslaws-demo")
    d.add_argument("--draws", type=_positive_int, default=1000)
    d.add_argument("--tune", type=_positive_int, default=1000)
    d.add_argument("--chains", type=_positive_int, default=4)
    d.add_argument("--seed", type=_seed, default=0)
    d.add_argument("--quiet", action="store_true")
    return p


def _print_table(frame, out=None) -> None:
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 50,
                           "display.max_colwidth", 80):
        print(frame.to_string(float_format=lambda v: f"{v:.4g}"), file=out or sys.stdout)


def _write_csv(frame, path, **kwargs) -> None:
    from .io import atomic_write

    atomic_write(path, lambda tmp: frame.to_csv(tmp, **kwargs))


def _check_folder(out: str) -> None:
    from .errors import BayeslawsError

    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise BayeslawsError(f"cannot write {out}: folder {folder} does not exist")


def cmd_datasets(args) -> None:
    from . import datasets

    _print_table(datasets.table().set_index("name"))


def cmd_laws(args) -> None:
    import pandas as pd

    from . import laws

    rows = [{"name": n, "formula": laws.get(n).formula_text, "inputs": ", ".join(laws.get(n).inputs),
             "target": laws.get(n).target} for n in laws.available()]
    _print_table(pd.DataFrame(rows).set_index("name"))


def cmd_fit(args) -> None:
    from . import datasets, laws
    from .data import read_table
    from .errors import BayeslawsError
    from .sampling import SETTINGS

    sampler = {}
    if args.law.endswith((".yaml", ".yml")) or os.path.isfile(args.law):
        from .spec import load_spec

        try:
            spec = load_spec(args.law)
        except (UnicodeDecodeError, OSError) as exc:  # a fit file or another non-text file
            raise BayeslawsError(f"{args.law} is neither a law name nor a model spec (YAML): "
                                 f"{type(exc).__name__}; give a law ({', '.join(laws.available())}) "
                                 "with --data, or a models/*.yaml spec") from None
        law = spec.law()
        if args.data:
            raise BayeslawsError("a spec names its own data; drop --data or fit the law by name")
        data = spec.train_data()
        sampler = dict(spec.sampler)
        out = args.out or f"{spec.name}.nc"
        _check_folder(out)
    else:
        options = {}
        if args.input:
            options["input"] = args.input
        if args.pooling:
            options["pooling"] = args.pooling
        law = laws.get(args.law, **options)
        if not args.data:
            raise BayeslawsError("--data is required: a CSV path or a bundled dataset name "
                                 f"({', '.join(datasets.names())})")
        if not args.out:
            raise BayeslawsError("--out is required: the fit file to write, e.g. --out fit.nc")
        out = args.out
        _check_folder(out)
        if args.data in datasets.names() and not os.path.exists(args.data):
            meta = datasets.CATALOGUE[args.data]
            data = datasets.load(args.data, fit_rows=not args.all_rows)
            if meta.fit_query and not args.all_rows:
                print(f"note: {meta.fit_query_reason} (--all-rows to use all)", file=sys.stderr)
        else:
            data = read_table(args.data)
    for key in SETTINGS:
        if getattr(args, key) is not None:
            sampler[key] = getattr(args, key)
    if args.no_extrapolation:
        sampler["extrapolation"] = None
    fit = law.fit(data, progress=not args.quiet, **sampler)
    if fit.config.get("extrapolation"):
        # Learn the discrepancy now, so the saved fit forecasts beyond its data honestly.
        if not args.quiet:
            print("note: learning the extrapolation discrepancy from backtests on the smaller "
                  "runs (--no-extrapolation skips it)", file=sys.stderr)
        found = fit.discrepancy
        if not args.quiet:
            s = found.summary()
            unit = "fitted-range width" if found.relative else "decade"
            print(f"note: extrapolation discrepancy tau {s['median']:.4f} per {unit} beyond the "
                  f"data [{s['lower']:.4f}, {s['upper']:.4f}], from {found.folds} backtests",
                  file=sys.stderr)
    fit.save(out)
    if not args.quiet:
        _print_table(fit.summary())
        if law.name == "densing" and "date" in fit.data:
            _print_densing(fit, 0.9)
    print(f"wrote {out}", file=sys.stderr)


def cmd_predict(args) -> None:
    from . import load
    from .data import read_table
    from .intervals import check_prob

    prob = check_prob(args.prob)
    fit = load(args.fit)
    rows = read_table(args.data)
    if args.chain:
        from .chain import chain

        pred = chain(load(args.chain), fit).predict(rows, seed=args.seed)
    else:
        pred = fit.predict(rows, seed=args.seed)
    table = pred.interval(prob)
    distance = getattr(pred, "distance", None)
    if distance is not None and (distance > 0).any():
        from .extrapolation import describe_distance

        print(f"note: {(distance > 0).sum()} of {len(distance)} rows lie beyond the fitted range "
              f"(farthest: {describe_distance(distance.max())}); their intervals include the "
              "extrapolation discrepancy", file=sys.stderr)
    _write_csv(table, args.out, index=False)
    print(f"wrote {args.out} ({len(table)} rows)", file=sys.stderr)


def cmd_optimal(args) -> None:
    from . import load
    from .errors import BayeslawsError
    from .intervals import check_prob

    prob = check_prob(args.prob)
    fit = load(args.fit)
    name = fit.law.name
    if name == "vocab":
        table = _optimal_vocab(fit, args, prob)
    elif name == "batch-size":
        table = _optimal_batch_size(fit, args, prob)
    elif name == "capacity-gap":
        table = _optimal_teacher(fit, args, prob)
    elif name == "knowledge":
        table = _bits_per_param(fit, args, prob)
    elif name == "densing":
        _no_flags(args, "densing", ("flops", "params", "tokens", "embed_dim", "unique_tokens",
                                     "exposures", "bits"))
        table = fit.density(prob=prob)
        if args.family is not None:
            table = table[table["family"] == args.family]
        _print_table(table.set_index("model") if "model" in table else table)
        print()
        if "date" in fit.data:
            _print_densing(fit, prob)
        if args.out:
            _write_csv(table, args.out, index=False)
        return
    else:
        for flag in ("params", "tokens", "embed_dim", "exposures", "bits"):
            if getattr(args, flag) is not None:
                raise BayeslawsError(f"--{flag.replace('_', '-')} applies to vocab and batch-size "
                                     f"fits, not {name!r} (give --flops)")
        if args.flops is None:
            raise BayeslawsError(f"--flops is required: the training budget in FLOPs of the "
                                 f"{name!r} fit's compute-optimal allocation")
        inputs = {"unique_tokens": args.unique_tokens} if args.unique_tokens is not None else None
        table = fit.optimal(args.flops, family=args.family, inputs=inputs).table(prob)
    _print_table(table)
    if args.out:
        _write_csv(table, args.out, index=name not in ("vocab", "batch-size", "capacity-gap",
                                                       "knowledge"))


def _print_densing(fit, prob) -> None:
    """The densing trend of a densing fit: doubling time and ln(rho_max) per release."""
    trend = fit.densing_trend()
    print(f"densing law ln(rho_max) = A t + B over {len(trend.points)} releases since "
          f"{trend.settings['since']} (t in years), {prob:.0%} bounds; published doubling time: "
          "3.3 months (arXiv:2412.04315), 3.5 (Nature MI 2025):")
    _print_table(trend.table(prob))
    print()


def _no_flags(args, name: str, flags) -> None:
    from .errors import BayeslawsError

    for flag in flags:
        if getattr(args, flag) is not None:
            raise BayeslawsError(f"--{flag.replace('_', '-')} does not apply to a {name} fit")


def _optimal_vocab(fit, args, prob):
    """Tao et al.'s compute-optimal vocabulary (``bayeslaws.laws.vocab.optimal_vocab_table``)."""
    import math

    from .errors import BayeslawsError
    from .laws.vocab import APPROACH1_LOG_K, optimal_vocab_table

    _no_flags(args, "vocab", ("tokens", "unique_tokens"))
    if args.params is None and args.flops is None:
        raise BayeslawsError("a vocab fit needs --flops (the budget) and/or --params (the "
                             "non-vocabulary parameters N_nv)")
    if args.flops is not None and not (math.isfinite(args.flops) and args.flops > 0):
        raise BayeslawsError(f"--flops must be a positive finite number of FLOPs, not "
                             f"{args.flops:g}")
    if args.params is not None and len(args.params) > 1:
        raise BayeslawsError("a vocab fit takes one --params (N_nv) per call")
    # without --params: the non-vocabulary size that is compute-optimal at the budget
    # (the paper's Approach 1, N_nv = 0.0834 C^0.5)
    nnv = (args.params[0] if args.params is not None
           else math.exp(APPROACH1_LOG_K) * math.sqrt(args.flops))
    table = optimal_vocab_table(fit, nnv, flops=args.flops, embed_dim=args.embed_dim,
                                family=args.family, prob=prob)
    return table.rename(columns={"V_opt_median": "vocab_median", "V_opt_lower": "vocab_lower",
                                 "V_opt_upper": "vocab_upper"})


def _optimal_batch_size(fit, args, prob):
    """Optimal learning rate and batch size at (N, D), then the critical batch size."""
    import pandas as pd

    from .errors import BayeslawsError
    from .intervals import describe
    from .laws.batch_size import critical_batch, optimal_hyperparameters_table

    _no_flags(args, "batch-size", ("flops", "embed_dim", "unique_tokens"))
    if args.params is None or args.tokens is None:
        raise BayeslawsError("a batch-size fit needs --params N and --tokens D (the model and "
                             "its training tokens)")
    if len(args.tokens) not in (1, len(args.params)) and len(args.params) != 1:
        raise BayeslawsError(f"give one --tokens or one per --params, not {len(args.tokens)} "
                             f"for {len(args.params)}")
    table = optimal_hyperparameters_table(fit, args.params, args.tokens, family=args.family,
                                          prob=prob)
    if len(fit.families) >= 3:
        draws = critical_batch(fit)
        rows = []
        for q in ("B_star", "alpha_B"):
            d = describe(draws[q], prob)
            rows.append({"quantity": q, "median": float(d["median"]),
                         "lower": float(d["lower"]), "upper": float(d["upper"])})
        print(f"critical batch size B_crit(L) = B_star / L^(1/alpha_B) (Kaplan et al. 2020), "
              f"{prob:.0%} bounds:")
        _print_table(pd.DataFrame(rows).set_index("quantity"))
        print()
    return table


def _optimal_teacher(fit, args, prob):
    """Zhang et al.'s optimal teacher N_T* = r N_S for each student --params, and the ratio r."""
    from .errors import BayeslawsError
    from .laws.capacity_gap import optimal_teacher_table

    _no_flags(args, "capacity-gap", ("flops", "tokens", "embed_dim", "unique_tokens",
                                      "exposures", "bits"))
    if args.params is None:
        raise BayeslawsError("a capacity-gap fit needs --params N_S (the student's parameters; "
                             "repeat for several students)")
    return optimal_teacher_table(fit, args.params, family=args.family, prob=prob)


def _bits_per_param(fit, args, prob):
    """Allen-Zhu & Li's capacity ratio (bits per parameter) at --exposures, and with --bits the
    parameters needed to store a knowledge base of that size."""
    from .laws.knowledge import HEADLINE_EXPOSURES, bits_per_param_table

    _no_flags(args, "knowledge", ("flops", "params", "tokens", "embed_dim", "unique_tokens"))
    exposures = args.exposures or list(HEADLINE_EXPOSURES)
    return bits_per_param_table(fit, exposures, bits=args.bits, family=args.family, prob=prob)


def cmd_compare(args) -> None:
    from . import load
    from .compare import compare

    from .errors import BayeslawsError

    if len(args.fits) < 2:
        raise BayeslawsError("compare needs at least two FIT.nc files")
    fits = {}
    for path in args.fits:
        name = os.path.splitext(os.path.basename(path))[0]
        fits[name if name not in fits else path] = load(path)
    if args.out:
        _check_folder(args.out)
    refit = {"draws": args.refit_draws, "tune": args.refit_draws} if args.refit_draws else None
    holdout = None
    if args.holdout:
        from . import datasets
        from .data import read_table

        holdout = read_table(args.holdout)
        if (args.holdout in datasets.names() and not os.path.exists(args.holdout)
                and datasets.CATALOGUE[args.holdout].fit_query):
            fitted = holdout.query(datasets.CATALOGUE[args.holdout].fit_query).index
            holdout = holdout.drop(index=fitted).reset_index(drop=True)
    table = compare(fits, fallback=args.fallback, max_refits=args.max_refits, folds=args.folds,
                    refit=refit, extrapolation=not args.no_extrapolation, holdout=holdout)
    _print_table(table)
    for note in table.attrs["notes"]:
        print(f"note: {note}")
    print(f"verdict: {table.attrs['verdict']}")
    if args.out:
        _write_csv(table, args.out)


def cmd_plot(args) -> None:
    from . import load

    from .data import read_table
    from .errors import BayeslawsError
    from .plots import plot

    _check_folder(args.out)
    fit = load(args.fit)
    if args.flops is not None and not args.flops > 0:
        raise BayeslawsError(f"--flops must be a positive number of FLOPs, not {args.flops:g}")
    kwargs = {}
    if args.holdout:
        if args.kind not in ("fit", "forecast"):
            raise BayeslawsError("--holdout applies to --kind fit and forecast")
        kwargs["holdout"] = read_table(args.holdout)
    if args.kind == "forecast":
        kwargs["target"] = args.flops
    elif args.kind == "isoflop":
        kwargs["budgets"] = [args.flops] if args.flops else None
        kwargs["family"] = args.family
    elif args.kind == "design":
        kwargs.update(target=args.target_flops, budget=args.budget, family=args.family)
    elif args.flops is not None or args.family is not None:
        raise BayeslawsError("--flops and --family apply to --kind forecast and isoflop")
    if args.kind != "design" and (args.target_flops is not None or args.budget is not None):
        raise BayeslawsError("--target-flops and --budget apply to --kind design")
    plot(fit, args.kind, args.out, **kwargs)
    print(f"wrote {args.out}", file=sys.stderr)


def cmd_design(args) -> None:
    from . import load
    from .data import read_table

    if args.out:
        _check_folder(args.out)
    fit = load(args.fit)
    candidates = read_table(args.candidates) if args.candidates else None
    result = fit.design(target=args.target_flops, budget=args.budget, candidates=candidates,
                        quantity=args.quantity, family=args.family, seed=args.seed)
    print(f"{args.quantity} at {args.target_flops:.3g} FLOPs: 90% width {result.width90_now:.4f}"
          f" (log scale) now; proposed {len(result.proposal)} runs, {result.spent:.3g} of "
          f"{result.budget:.3g} FLOPs, expected width {result.width90_now * result.sd_after / result.sd_now:.4f}")
    _print_table(result.proposal.set_index("order"))
    if args.out:
        _write_csv(result.table(), args.out, index=False)
        print(f"wrote {args.out} ({len(result.candidates)} candidates)", file=sys.stderr)


def cmd_report(args) -> None:
    from . import load
    from .data import read_table
    from .errors import BayeslawsError
    from .report import write_report

    _check_folder(args.out)
    if args.flops is not None and not args.flops > 0:
        raise BayeslawsError(f"--flops must be a positive number of FLOPs, not {args.flops:g}")
    holdout = read_table(args.holdout) if args.holdout else None
    write_report(load(args.fit), args.out, target=args.flops, holdout=holdout)
    print(f"wrote {args.out}", file=sys.stderr)


def cmd_demo(args) -> None:
    from .demo import run

    run(args.out, draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed,
        progress=not args.quiet)


COMMANDS = {"datasets": cmd_datasets, "laws": cmd_laws, "fit": cmd_fit, "predict": cmd_predict,
            "optimal": cmd_optimal, "design": cmd_design, "compare": cmd_compare,
            "plot": cmd_plot, "report": cmd_report,
            "demo": cmd_demo}


class _InterruptGuard:
    """Make Ctrl-C end a command promptly, even inside compiled sampler code.

    Python raises ``KeyboardInterrupt`` only between bytecodes, so a Ctrl-C during a long JAX
    computation would wait for the sampler to finish. A watchdog thread woken through
    :func:`signal.set_wakeup_fd` gives the normal path ``grace`` seconds (``KeyboardInterrupt`` is
    caught, unfinished saves remove their temporary files, exit code 130). When the main thread
    is still stuck after that, the watchdog removes the temporary files itself, prints the
    one-line message and ends the process with exit code 130. Earlier results are never touched:
    saves replace their target only once complete. Outside the main thread it does nothing.
    """

    def __init__(self, grace: float = 1.0):
        self.grace = grace
        self.handled = threading.Event()
        self._pipe = None
        self._old = None

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        r, w = os.pipe()
        os.set_blocking(w, False)
        try:
            self._old = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        except ValueError:  # not the main interpreter
            os.close(r)
            os.close(w)
            return self
        self._pipe = (r, w)
        threading.Thread(target=self._watch, args=(r,), daemon=True,
                         name="bayeslaws-interrupt").start()
        return self

    def _watch(self, r: int) -> None:
        try:
            while True:
                byte = os.read(r, 1)
                if not byte:  # the guard was closed
                    return
                if byte[0] == signal.SIGINT:
                    break
            if self.handled.wait(self.grace):
                return
            from .io import remove_pending

            remove_pending()
            PROGRESS.abandon()
            print(f"error: {INTERRUPT_MESSAGE}", file=sys.stderr, flush=True)
            os._exit(INTERRUPTED)
        finally:
            os.close(r)

    def __exit__(self, *exc):
        if self._pipe is not None:
            signal.set_wakeup_fd(self._old if self._old is not None else -1)
            os.close(self._pipe[1])  # wakes the watchdog with end-of-file
            self._pipe = None
        return False


def _showwarning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {category.__name__}: {message}", file=sys.stderr)


def main(argv=None) -> int:
    """Run the CLI; return the exit code (also used as the console-script entry point)."""
    from .errors import BayeslawsError

    program = argv is None  # run as the `bayeslaws` program, not called from Python
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    warnings.showwarning = _showwarning
    guard = _InterruptGuard()
    try:
        with guard:
            COMMANDS[args.command](args)
    except (BayeslawsError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        guard.handled.set()
        PROGRESS.abandon()
        print(f"error: {INTERRUPT_MESSAGE}", file=sys.stderr, flush=True)
        if program:
            # a sampler interrupted mid-computation may keep running in JAX's threads and hold
            # up interpreter shutdown; saves have already removed their temporary files
            sys.stdout.flush()
            os._exit(INTERRUPTED)
        return INTERRUPTED
    except Exception as exc:  # noqa: BLE001  the contract: never a bare traceback
        if debug:
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"internal error: {type(exc).__name__}: {first} (rerun with --debug for the "
              "traceback)", file=sys.stderr)
        return INTERNAL
    return 0


if __name__ == "__main__":
    sys.exit(main())
