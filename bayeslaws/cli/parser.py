"""The argument parser of ``bayeslaws``: subcommands, flags and their types."""

from __future__ import annotations

import argparse


class _LawHelp(str):
    """The help of ``fit``'s law argument, naming the registered laws only when the help is shown
    (argparse expands a help string with ``%``), so that building the parser does not import
    :mod:`bayeslaws.laws` and ``bayeslaws --help`` stays fast."""

    def __mod__(self, params):
        from ..laws import available

        return (f"law name ({', '.join(available())}; `bayeslaws laws` shows their formulas) or "
                "SPEC.yaml")


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


def _sep(text: str) -> str:
    names = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = names.get(text, text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"expected one character (, ; | or tab), got {text!r}")
    return value


def _add_data_options(parser, *, what: str, family: bool = True, drop: bool = False) -> None:
    """Options that say how a user's table maps to bayeslaws' columns and units
    (:mod:`bayeslaws.mapping`), for every command that reads runs."""
    g = parser.add_argument_group(f"your columns and units ({what})")
    g.add_argument("--columns", metavar="NAME=COLUMN,...",
                   help="read bayeslaws' columns from yours, e.g. params=model_size,"
                        "tokens=n_tokens,loss=eval/loss (names of wide exports too)")
    flags = ["--family-column"] + (["--family"] if family else [])
    g.add_argument(*reversed(flags), dest="family_column", metavar="COLUMN",
                   help="the column that groups runs into families (default: family)")
    g.add_argument("--loss-unit", choices=["nats", "bits", "perplexity"],
                   help="unit of the loss column: bits (x ln 2) and perplexity (ln) are "
                        "converted to nats per token; nats accepts losses that look like neither")
    g.add_argument("--scale", metavar="NAME=FACTOR,...",
                   help="sizes not in raw counts, e.g. tokens=1e9 (billions),params=1e6 "
                        "(millions); NAME=1 accepts raw counts that look small")
    g.add_argument("--sep", type=_sep, metavar="SEP",
                   help="separator of a delimited text file: , ; | or tab (default: sniffed)")
    if drop:
        g.add_argument("--drop-missing", action="store_true",
                       help="drop rows with an empty value in a used column (wide exports "
                            "that log each metric at other steps); says how many")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = _Parser(prog="bayeslaws", description="Hierarchical Bayesian scaling laws with honest "
                "uncertainty.")
    p.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("datasets", help="list bundled datasets")
    sub.add_parser("laws", help="list registered laws")

    f = sub.add_parser("fit", help="fit a law (by name) or a models/ spec (YAML)")
    f.add_argument("law", help=_LawHelp("law name (`bayeslaws laws` lists them) or SPEC.yaml"))
    f.add_argument("--data", help="runs: CSV/TSV, Parquet, Excel .xlsx (FILE.xlsx#SHEET), JSON "
                   "lines, or a bundled dataset name (`bayeslaws datasets`)")
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
    f.add_argument("--quick", action="store_true",
                   help="approximate fit in about a second: a Gaussian at the posterior mode "
                        "(Laplace), not NUTS; labelled approximate everywhere; for exploring")
    f.add_argument("--input", help="input column of power-law, bnsl or m4 (flops, params, tokens or "
                   "seen_examples)")
    f.add_argument("--sources", help="mixture: the source columns (proportions), comma-separated")
    f.add_argument("--form", choices=["exponential", "regression"],
                   help="mixture: the law's form (default exponential)")
    f.add_argument("--pooling", choices=["partial", "centred", "shared", "independent"],
                   help="how parameters are shared across families (default partial: "
                   "non-centred partial pooling; centred: the same, for many runs per family)")
    f.add_argument("--all-rows", action="store_true",
                   help="use every row of a bundled dataset (no default selection)")
    f.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    f.add_argument("--no-extrapolation", action="store_true",
                   help="skip learning the extrapolation discrepancy (forecasts beyond the data "
                        "then use the plain posterior predictive, which is too narrow there)")
    _add_data_options(f, what="the --data table", drop=True)

    pr = sub.add_parser("predict", help="forecast new rows with a fitted law: from a file "
                        "(--data) or given inline (--params/--tokens, --flops [--frontier])")
    pr.add_argument("fit")
    pr.add_argument("--data", help="rows to predict (law inputs, optional family): any format "
                    "fit --data reads; the fit's --columns and units apply")
    rows = pr.add_argument_group("rows given inline (instead of --data; printed, or --out CSV)")
    rows.add_argument("--params", type=_float, action="append",
                      help="parameters N (repeat for several rows)")
    rows.add_argument("--tokens", type=_float, action="append",
                      help="training tokens D (one, or one per --params)")
    rows.add_argument("--flops", type=_float, action="append",
                      help="compute C = 6ND: with --params or --tokens the other follows; with "
                           "--frontier the compute-optimal N*, D* of each posterior draw")
    rows.add_argument("--frontier", action="store_true",
                      help="forecast at the fitted compute-optimal allocation of --flops")
    rows.add_argument("--family", dest="family_name", action="append", metavar="NAME",
                      help="the family to forecast (repeat for several; default: every fitted "
                           "family; 'population' for a new one). With --data, use "
                           "--family-column for the column's name")
    pr.add_argument("--new-family", action="append", metavar="NAME",
                    help="a family name meant to be new although it is close to a fitted one "
                         "(otherwise such a name is taken for a typo: an error)")
    pr.add_argument("--out", help="output CSV (default with inline rows: print the table)")
    pr.add_argument("--prob", type=_float, default=0.9)
    pr.add_argument("--seed", type=_seed, default=0)
    pr.add_argument("--chain", metavar="FIRST.nc",
                    help="a fit whose forecasts feed FIT's input of the same name (e.g. a loss "
                         "fit into a downstream-error fit); draws are paired")
    _add_data_options(pr, what="default: those the fit was made with", family=False)

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
    o.add_argument("--mixture", action="store_true",
                   help="mixture: the posterior of the best data mixture (probability that each "
                        "candidate is best, its expected loss, the optimum's shares)")
    o.add_argument("--candidates", help="mixture: CSV of candidate mixtures (one column per "
                   "source; default random Dirichlet mixtures plus the fitted ones)")
    o.add_argument("--prob", type=_float, default=0.9)
    o.add_argument("--long", action="store_true",
                   help="compute-optimal allocation: today's full numeric table (median, lower, "
                        "upper of each quantity; every family and the population) instead of "
                        "the compact one")
    o.add_argument("--out", help="also write the table as CSV (always the full numeric table)")

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
    c.add_argument("--long", action="store_true",
                   help="print the full table (every column: p_worse, p_loo, Pareto k, ArviZ's "
                        "diagnostics, all scores) instead of the compact one")
    c.add_argument("--out", help="also write the table as CSV (always the full table)")
    c.add_argument("--quiet", action="store_true", help="no progress lines for the refits")
    _add_data_options(c, what="of --holdout; default: the first fit's")

    pl = sub.add_parser("plot", help="plot a fitted law with credible bands")
    pl.add_argument("fit")
    pl.add_argument("--out", required=True, help="output PNG")
    pl.add_argument("--kind", choices=["fit", "forecast", "isoflop", "frontier", "forest",
                                       "mixture", "design"],
                    default="fit", help="which figure (default: fit)")
    pl.add_argument("--flops", type=_float,
                    help="forecast: target compute; isoflop: one budget (default: from the data)")
    pl.add_argument("--family", help="isoflop: the family (default: the first)")
    pl.add_argument("--tokens-per-param", type=_float, metavar="D/N",
                    help="forecast: follow models of this D/N (default: the fitted "
                         "compute-optimal frontier)")
    pl.add_argument("--holdout", help="fit/forecast: CSV of held-out runs to mark")
    _add_data_options(pl, what="of --holdout; default: the fit's", family=False)
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
    r.add_argument("--quiet", action="store_true", help="no progress line")
    _add_data_options(r, what="of --holdout; default: the fit's")

    d = sub.add_parser("demo", help="the main job on bundled data, figure included")
    d.add_argument("--out", default="bayeslaws-demo")
    d.add_argument("--draws", type=_positive_int, default=1000)
    d.add_argument("--tune", type=_positive_int, default=1000)
    d.add_argument("--chains", type=_positive_int, default=4)
    d.add_argument("--seed", type=_seed, default=0)
    d.add_argument("--quiet", action="store_true")
    _add_plugin_option(p, sub)
    return p


_PLUGIN_HELP = ("import a module that defines and registers your own law before the command "
                "runs: a .py file or an importable module name (repeatable)")


def _add_plugin_option(top, sub) -> None:
    """``--plugin`` on the program and on every subcommand, before or after its name; the two
    land in ``plugins`` and ``sub_plugins`` (a subcommand's namespace would replace the top's)."""
    top.add_argument("--plugin", dest="plugins", action="append", metavar="MODULE.py",
                     help=_PLUGIN_HELP)
    for parser in sub.choices.values():
        parser.add_argument("--plugin", dest="sub_plugins", action="append",
                            metavar="MODULE.py", default=argparse.SUPPRESS, help=_PLUGIN_HELP)
